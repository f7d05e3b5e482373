"""``neurosuper directions FILE``: are directions more interpretable than units? (Klindt et al. 2023)

Runs :func:`neurosuper.directions.compare_methods` on a saved ResponseSet — every method's directions fitted on
half the stimuli and their interpretability index scored on the other half — and prints, per method, the median
II, the share of directions above the null and the test against the units (the gain in mean II on the held-out
stimuli, a jackknife t-test over groups of them, Holm-adjusted across methods). The report's ``directions`` step
is :mod:`neurosuper.pipeline.directions`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import add_outputs, check_outputs, fraction_or_none, integer


def _format(out: dict[str, Any], path: str) -> str:
    lines = [
        f"{path}: {out.get('similarity')} similarity, k={out.get('k')}, directions fitted on "
        f"{out.get('n_fit')} stimuli, II scored on {out.get('n_score')}"
        + (" (in-sample)" if out.get("in_sample") else "")
    ]
    lines.append(f"  {'method':<14}{'n':>5}{'median II':>11}{'> null':>8}{'p vs units':>12}{'Holm':>8}")
    for m, v in out["methods"].items():
        frac = v.get("frac_above_null")
        p, holm = v.get("p_vs_units"), v.get("p_vs_units_holm")
        lines.append(
            f"  {m:<14}{v['n_directions']:>5}{v['median_ii'] if v['median_ii'] is not None else 'n/a':>11}"
            f"{f'{100 * frac:.0f}%' if frac is not None else 'n/a':>8}"
            f"{(f'{p:.3g}' if p is not None else '-'):>12}{(f'{holm:.3g}' if holm is not None else '-'):>8}"
        )
    best = out.get("best_method")
    if out.get("best_method_significant"):
        lines.append(f"  best: {best} (significantly more interpretable than the units, Holm p < 0.05)")
    else:
        above = out.get("methods_above_units") or []
        lines.append(
            f"  highest median II: {best}, not significantly above the units"
            + (f"; significantly above them: {', '.join(above)}" if above else "")
            + ("" if out.get("n_groups") else " (no test: in-sample or too few held-out stimuli)")
        )
    for name, reason in out.get("skipped", {}).items():
        lines.append(f"  skipped {name}: {reason}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from .._atomic import save_figure
    from ..directions import compare_methods, summary
    from ..errors import recorded_warnings
    from ..storage import load, save_result

    check_outputs(args, inputs=[args.file], extra_figures=("mei_figure",))
    ds = load(args.file)
    if args.max_units:
        from ..prep import unit_subset

        ds = unit_subset(ds, args.max_units)
    split = args.split  # a fraction, or None (--split none), checked by the parser
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
        out["result"] = str(save_result(result, args.out, overwrite=args.overwrite, full_paths=args.full_paths))
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    p.add_argument("--k", type=integer(2), default=5, help="number of most exciting stimuli (default 5)")
    p.add_argument(
        "--split",
        type=fraction_or_none(),
        default="0.5",
        help="fraction of stimuli the directions are fitted on, the rest "
        "scored (default 0.5); 'none' fits and scores on all stimuli, as the paper did",
    )
    p.add_argument(
        "--n-directions", type=integer(1), default=None, help="directions per method (default: each method's)"
    )
    p.add_argument("--max-units", type=integer(1), default=None, help="use at most this many units, evenly spaced")
    p.add_argument("--sae-steps", type=integer(1), default=None, help="Adam steps of the SAE (default 3000)")
    p.add_argument("--seed", type=integer(0), default=0)
    add_outputs(
        p,
        out="write the per-direction result here (.nc or .zarr)",
        figure="write the II-per-method figure here",
        full_paths=True,
    )
    p.add_argument("--mei-figure", help="write the MEI grid of each method's best direction here")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
