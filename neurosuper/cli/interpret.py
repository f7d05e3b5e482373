"""``neurosuper interpret FILE``: the interpretability index of every unit of a saved ResponseSet.

Also the ``interpret`` step of ``neurosuper demo``: II (with its random-stimulus null), 2AFC accuracy and
selectivity of the demo brain and network units, one figure with both systems' II, and MEI grids.
The numbers come from :func:`neurosuper.interpret.summary`; this module only parses, checks outputs and prints.
"""

from __future__ import annotations

import argparse
import json

from ._common import add_outputs, check_outputs, integer

GROUPBY_CHOICES = ("auto", "layer", "area", "none")


def _none(value: str | None) -> str | None:
    return None if value in (None, "none") else value


def run(args: argparse.Namespace) -> int:
    from .._atomic import save_figure
    from ..interpret import interpretability_index, summary
    from ..storage import load, save_result

    groupby = _none(args.groupby)
    check_outputs(args, inputs=[args.file])
    ds = load(args.file)
    result = interpretability_index(
        ds,
        similarity=args.similarity,
        k=args.k,
        which=args.which,
        null=args.null,
        seed=args.seed,
        duplicates=_none(args.duplicates),
        progress=not args.json,
    )
    out = summary(result, groupby=groupby)
    if args.out:
        out["result"] = str(save_result(result, args.out, overwrite=args.overwrite, full_paths=args.full_paths))
    if args.figure:
        from ..plot.interpret import plot_ii

        fig = plot_ii(result, groupby=groupby)
        out["figure"] = str(save_figure(fig, args.figure, overwrite=args.overwrite, dpi=120))
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"{args.file}: II of {out['n_units']} units, similarity {out['similarity']}"
        f"{' (auto)' if out['similarity_auto'] else ''}, k={out['k']}, {out['which']}"
    )
    print(
        f"  mean II {out['mean_ii']}, median {out['median_ii']}"
        + (f"; {out['n_dead_units']} dead units (II NaN)" if out["n_dead_units"] else "")
    )
    if "mean_ii_z" in out:
        print(
            f"  mean z vs {out['null']} null {out['mean_ii_z']}"
            + (
                f"; {out['n_units_significant']} units above chance at FDR {out['fdr']} (Benjamini–Hochberg)"
                if "n_units_significant" in out
                else ""
            )
            + (
                f"; population's mean II vs {out['n_permutations']} random relabellings of the stimuli: "
                f"one-sided p = {out['p_population']}"
                if "p_population" in out
                else ""
            )
        )
    if out.get("n_units_with_duplicate_meis"):
        print(f"  {out['n_units_with_duplicate_meis']} units have near-duplicate MEIs ({out['duplicates_check']})")
    for key, groups in out.items():
        if key.startswith("by_"):
            for g, v in groups.items():
                print(f"  {key[3:]} {g}: mean {out['grouped_variable']} {v['mean']} (n={v['n']})")
    for key in ("result", "figure"):
        if key in out:
            print(f"  {key}: {out[key]}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..interpret import NULLS, SIMILARITIES

    p = sub.add_parser("interpret", help="interpretability index of the units of a saved ResponseSet")
    p.add_argument("file", help="a .nc or .zarr ResponseSet")
    p.add_argument(
        "--similarity",
        default="auto",
        choices=["auto", *SIMILARITIES],
        help="similarity backend (default: auto, recorded in the result)",
    )
    p.add_argument("--k", type=integer(1), default=5, help="number of most exciting stimuli (default 5)")
    p.add_argument("--which", default="top", choices=["top", "bottom", "both"])
    p.add_argument(
        "--null",
        default="random_stimuli",
        choices=["none", *NULLS],
        help="null for z-scores/percentiles (default random_stimuli, as in Python)",
    )
    p.add_argument(
        "--groupby",
        default="auto",
        choices=GROUPBY_CHOICES,
        help="summarise (and draw) per layer or area (default auto: layer, else area; none: all units)",
    )
    p.add_argument(
        "--duplicates",
        default="auto",
        choices=["auto", "coords", "pixels", "none"],
        help="look for near-duplicate MEIs by the stimuli's source coords or pixels (default auto)",
    )
    p.add_argument("--seed", type=integer(0), default=0)
    add_outputs(
        p,
        out="write the result here (.nc or .zarr)",
        figure="write the II-distribution figure here",
        full_paths=True,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
