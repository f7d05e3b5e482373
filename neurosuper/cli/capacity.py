"""``neurosuper capacity FILE``: the capacity of the features a direction finder discovers in a saved ResponseSet.

The report's ``capacity`` step is :mod:`neurosuper.pipeline.capacity`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import add_outputs, check_outputs, integer, number, warn


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

    check_outputs(args, inputs=[args.file])  # before computing: a bad path fails at once
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
    warn(notes, flags=getattr(args, "cli_flags", None))
    if args.out:
        out["result"] = str(save_result(result, args.out, overwrite=args.overwrite, full_paths=args.full_paths))
    if args.figure:
        from ..plot.capacity import plot_capacity

        out["figure"] = str(
            save_figure(
                plot_capacity(result, title=f"{Path(args.file).name}: {args.method}"),
                args.figure,
                overwrite=args.overwrite,
                dpi=130,
            )
        )
    print(json.dumps(out, indent=2) if args.json else _format(out, args.file))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("capacity", help="feature capacity (superposition) of the directions found in a ResponseSet")
    p.add_argument("file", help="a .nc or .zarr ResponseSet")
    p.add_argument(
        "--method", default="sparse_coding", help="direction finder (neurosuper.directions; default sparse_coding)"
    )
    p.add_argument("--n-directions", type=integer(1), default=None, help="dictionary size (default: the finder's)")
    p.add_argument(
        "--groupby",
        default="auto",
        help="unit coord to group by: auto (layer, else area), none, or a coord name (default auto)",
    )
    p.add_argument(
        "--tol", type=number(0, 0.5), default=0.02, help="C >= 1 - tol monosemantic, C <= tol ignored (default 0.02)"
    )
    p.add_argument(
        "--center",
        action="store_true",
        help="subtract each unit's mean first (advised for spike "
        "counts and rates; a warning says when the mean dominates)",
    )
    p.add_argument("--seed", type=integer(0), default=0)
    add_outputs(
        p,
        out="write the result here (.nc or .zarr)",
        figure="write the capacity-vs-size figure here",
        full_paths=True,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
