"""``neurosuper interpret FILE``: the interpretability index of every unit of a saved ResponseSet.

Also the ``interpret`` step of ``neurosuper demo``: II (with its random-stimulus null), 2AFC accuracy and
selectivity of the demo brain and network units, an II-distribution figure and an MEI grid.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def _finite(x: Any) -> float | None:
    x = float(x)
    return round(x, 4) if np.isfinite(x) else None


def summarize(result) -> dict[str, Any]:
    """JSON-safe headline numbers of an interpretability-index result (per layer/area when present)."""
    from ..interpret import group_summary

    top = result.sel(which="top") if "which" in result.dims else result
    out: dict[str, Any] = {"similarity": result.attrs["similarity"], "similarity_auto": result.attrs["similarity_auto"],
                           "k": result.attrs["k"], "which": result.attrs["which"], "null": result.attrs["null"],
                           "n_units": int(result.sizes["unit"]), "mean_ii": _finite(top["ii"].mean()),
                           "median_ii": _finite(top["ii"].median())}
    if "ii_z" in result:
        out["mean_ii_z"] = _finite(top["ii_z"].mean())
        out["fraction_above_95th_percentile"] = _finite((top["ii_percentile"] > 95).mean())
    groups = group_summary(top, var="ii_z" if "ii_z" in result else "ii")
    if groups.attrs["grouped_by"] != "none":
        out["by_" + groups.attrs["grouped_by"]] = {
            str(g): {"mean": _finite(groups["mean"].sel(group=g)), "n": int(groups["n"].sel(group=g))}
            for g in groups["group"].values}
        out["grouped_variable"] = groups.attrs["variable"]
    return out


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, dpi=120)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def run(args: argparse.Namespace) -> int:
    from ..interpret import interpretability_index
    from ..storage import load, save_result

    ds = load(args.file)
    null = None if args.null == "none" else args.null
    result = interpretability_index(ds, similarity=args.similarity, k=args.k, which=args.which, null=null,
                                    seed=args.seed, progress=not args.json)
    summary = summarize(result)
    if args.out:
        summary["result"] = str(save_result(result, args.out, overwrite=args.overwrite))
    if args.figure:
        from ..plot.interpret import plot_ii

        summary["figure"] = str(save_figure(plot_ii(result), Path(args.figure)))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{args.file}: II of {summary['n_units']} units, similarity {summary['similarity']}"
              f"{' (auto)' if summary['similarity_auto'] else ''}, k={summary['k']}, {summary['which']}")
        print(f"  mean II {summary['mean_ii']}, median {summary['median_ii']}")
        if "mean_ii_z" in summary:
            print(f"  mean z vs {summary['null']} null {summary['mean_ii_z']}, "
                  f"above the 95th percentile: {summary['fraction_above_95th_percentile']}")
        for key, groups in summary.items():
            if key.startswith("by_"):
                for g, v in groups.items():
                    print(f"  {key[3:]} {g}: mean {summary['grouped_variable']} {v['mean']} (n={v['n']})")
    return 0


def register(sub) -> None:
    from ..interpret import NULLS, SIMILARITIES

    p = sub.add_parser("interpret", help="interpretability index of the units of a saved ResponseSet")
    p.add_argument("file", help="a .nc or .zarr ResponseSet")
    p.add_argument("--similarity", default="auto", choices=["auto", *SIMILARITIES],
                   help="similarity backend (default: auto, recorded in the result)")
    p.add_argument("--k", type=int, default=5, help="number of most exciting stimuli (default 5)")
    p.add_argument("--which", default="top", choices=["top", "bottom", "both"])
    p.add_argument("--null", default="random_stimuli", choices=["none", *NULLS],
                   help="null for z-scores/percentiles (default random_stimuli)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the result here (.nc or .zarr)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--figure", help="write the II-distribution figure here (.png/.pdf/.svg)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _demo_one(ctx, name: str, ds) -> dict[str, Any]:
    from ..errors import NeurosuperError
    from ..interpret import interpretability_index, psychophysics_2afc, selectivity
    from ..plot.interpret import plot_ii, plot_mei_grid
    from ..storage import save_result

    try:
        result = interpretability_index(ds, null="random_stimuli", progress=False)
    except NeurosuperError as err:
        return {"skipped": str(err)}
    out = summarize(result)
    out["result"] = save_result(result, ctx.path(f"interpret_{name}.nc"), overwrite=True).name
    out["figure"] = save_figure(plot_ii(result, title=f"{name}: II per group"), ctx.path(f"interpret_{name}.png")).name
    if "stimuli" in ds and ds["stimuli"].ndim in (3, 4):
        out["mei_grid"] = save_figure(plot_mei_grid(ds, result), ctx.path(f"interpret_{name}_meis.png")).name
    try:
        acc = psychophysics_2afc(ds, similarity=result.attrs["similarity"], progress=False)
        out["mean_2afc_accuracy"] = _finite(acc["accuracy"].mean())
    except NeurosuperError as err:
        out["2afc_skipped"] = str(err)
    sel = selectivity(ds, rectify=True)
    out["mean_lifetime_sparseness"] = _finite(sel["lifetime_sparseness"].mean())
    return out


def demo(ctx) -> None:
    """Demo step: II, 2AFC accuracy and selectivity of ``ctx.brain`` and ``ctx.network``."""
    summary = {}
    for name in ("brain", "network"):
        ctx.log(f"  interpretability index: {name}")
        summary[name] = _demo_one(ctx, name, getattr(ctx, name))
    ctx.summary["interpret"] = summary
