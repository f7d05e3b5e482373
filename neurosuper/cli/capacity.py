"""``neurosuper capacity FILE``: the capacity of the features a direction finder discovers in a saved ResponseSet.

Also the ``capacity`` step of ``neurosuper demo`` / ``neurosuper report``: the capacity of each analysed set's
discovered features (per layer or area), with documented reduced settings (:data:`DEMO_SETTINGS`). The pentagon
toy model is the ``toy`` step (:mod:`neurosuper.cli.toy`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _format(summary: dict[str, Any], path: str) -> str:
    def one(prefix: str, s: dict[str, Any]) -> str:
        return (
            f"  {prefix}{s.get('n_directions', s.get('n_features'))} features in {s.get('n_dims')} dims: "
            f"ΣC = {s.get('capacity_sum')} ({s.get('capacity_fraction')} of the dims), mean C = "
            f"{s.get('mean_capacity')}; {s.get('n_monosemantic')} monosemantic, {s.get('n_polysemantic')} "
            f"polysemantic, {s.get('n_ignored')} ignored (tol {summary.get('tol')})"
        )

    head = f"{path}: capacity of {summary.get('method')} features"
    if "groups" in summary:
        lines = [one(f"{summary.get('groupby')} {g}: ", s) for g, s in summary["groups"].items()]
    else:
        lines = [one("", summary)]
    return "\n".join([head, *lines])


def run(args: argparse.Namespace) -> int:
    from .._atomic import save_figure
    from ..capacity import feature_capacity, summary
    from ..errors import recorded_warnings
    from ..storage import load, save_result

    ds = load(args.file)
    groupby = None if args.groupby == "none" else args.groupby
    with recorded_warnings() as notes:
        result = feature_capacity(
            ds,
            method=args.method,
            n_directions=args.n_directions,
            groupby=groupby,
            tol=args.tol,
            center=args.center,
            seed=args.seed,
            progress=not args.json,
        )
    out = summary(result)
    for note in notes:
        print(f"neurosuper: warning: {note}", file=sys.stderr)
    if args.out:
        out["result"] = str(save_result(result, args.out, overwrite=args.overwrite))
    if args.figure:
        from ..plot.capacity import plot_capacity

        out["figure"] = str(
            save_figure(
                plot_capacity(result, title=f"{Path(args.file).name}: {args.method}"),
                args.figure,
                overwrite=True,
                dpi=130,
            )
        )
    print(json.dumps(out, indent=2) if args.json else _format(out, args.file))
    return 0


def register(sub) -> None:
    p = sub.add_parser("capacity", help="feature capacity (superposition) of the directions found in a ResponseSet")
    p.add_argument("file", help="a .nc or .zarr ResponseSet")
    p.add_argument(
        "--method", default="sparse_coding", help="direction finder (neurosuper.directions; default sparse_coding)"
    )
    p.add_argument("--n-directions", type=int, default=None, help="dictionary size (default: the finder's)")
    p.add_argument(
        "--groupby",
        default="auto",
        help="unit coord to group by: auto (layer, else area), none, or a coord name (default auto)",
    )
    p.add_argument("--tol", type=float, default=0.02, help="C >= 1 - tol monosemantic, C <= tol ignored (default 0.02)")
    p.add_argument(
        "--center",
        action="store_true",
        help="subtract each unit's mean first (advised for spike "
        "counts and rates; a warning says when the mean dominates)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the result here (.nc or .zarr)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--figure", help="write the capacity-vs-size figure here (.png/.pdf/.svg)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


# -------------------------------------------------------------------------------------------------- demo
#: The step's reduced settings (``ctx.settings["capacity"]`` overrides them): a fast finder on a subset of each
#: set's units and stimuli (a few seconds in all).
DEMO_SETTINGS: dict[str, Any] = {
    "method": "sparse_coding",
    "options": {"max_iter": 3},
    "max_units": 32,
    "max_stimuli": 500,
    "overcomplete": 2,
    "center": True,
    "seed": 0,
}


def _demo_subset(ds, max_units: int, max_stimuli: int):
    from ..prep import unit_groups

    ds = ds.isel(stimulus=slice(0, max_stimuli))
    groups = unit_groups(ds, "auto")
    per = max(2, max_units // len(groups))
    keep = sorted(int(i) for _, idx in groups for i in idx[:per])
    sub = ds.isel(unit=keep)
    sub.attrs["demo_units_per_group"] = min(per, min(len(idx) for _, idx in groups))
    return sub


def demo(ctx) -> None:
    """Demo/report step: the capacity of the features sparse coding discovers in each analysed set (a subset of
    its units and stimuli, ``DEMO_SETTINGS``), per layer or area."""
    from .. import capacity
    from .._atomic import save_figure
    from ..errors import NeurosuperError, recorded_warnings
    from ..pipeline import step_settings
    from ..plot.capacity import plot_capacity
    from ..storage import save_result

    cfg = step_settings(ctx, "capacity", DEMO_SETTINGS)
    out: dict[str, Any] = {"settings": dict(cfg), "captions": {}}
    results = {}
    for name, ds in ctx.sets.items():  # the demo's brain and network, or the set(s) a report was given
        with recorded_warnings() as notes:
            try:
                sub = _demo_subset(ds, int(cfg["max_units"]), int(cfg["max_stimuli"]))
                n_units, per_group = sub.sizes["unit"], sub.attrs["demo_units_per_group"]
                result = capacity.feature_capacity(
                    sub,
                    method=cfg["method"],
                    groupby="auto",
                    seed=int(cfg["seed"]),
                    n_directions=int(cfg["overcomplete"]) * per_group,
                    center=bool(cfg["center"]),
                    progress=False,
                    **dict(cfg.get("options") or {}),
                )
                entry = capacity.summary(result)
                entry["n_units_used"] = int(n_units)
                entry["n_stimuli_used"] = int(sub.sizes["stimulus"])
                entry["result"] = save_result(result, ctx.path(f"capacity_{name}.nc"), overwrite=True).name
                figure = f"capacity_{name}.png"
                entry["figure"] = save_figure(
                    plot_capacity(result, title=f"{ctx.noun(name)}: {cfg['method']} features"),
                    ctx.path(figure),
                    overwrite=True,
                    dpi=120,
                ).name
                out["captions"][figure] = (
                    f"Capacity C_i of each feature {cfg['method']} discovers in {ctx.noun(name)} against the size of "
                    "its atom: C_i = 1 a feature with a dimension of its own (monosemantic), 0 < C_i < 1 a feature "
                    "sharing dimensions with others (polysemantic), C_i ≈ 0 ignored (Scherlis et al. 2022, eq. 3)."
                )
                results[name] = result
            except NeurosuperError as err:
                entry = {"skipped": str(err)}
        if notes:
            entry["warnings"] = notes
        out[name] = entry
        ctx.log(f"  {name}: {entry.get('capacity_sum', entry.get('groups', entry.get('skipped')))}")
    ctx.results["capacity"] = results
    ctx.summary["capacity"] = out
