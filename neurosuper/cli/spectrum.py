"""``neurosuper spectrum FILE``: eigenspectrum, power-law exponent α (with a bootstrap CI) and participation ratio.

The numbers come from :func:`neurosuper.spectral.summary`; this module parses, checks the outputs before
computing, and formats; the report's ``spectrum`` step is :mod:`neurosuper.pipeline.spectrum`. Error messages
name CLI flags (``--ranks 1 13``), not Python arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import add_outputs, check_outputs, cli_wording, integer, warn


def _format(summary: dict[str, Any], path: str) -> str:
    def num(x: Any, fmt: str = ".3f") -> str:
        return "n/a" if x is None else format(x, fmt)

    def one(label: str, alpha: Any, ci: Any, r2: Any, pr: Any, ranks: Any) -> str:
        ci_txt = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else ""
        rng = f"{ranks[0]}–{ranks[1]}" if ranks else "none"
        return (
            f"  {label}alpha = {num(alpha)}{ci_txt}  (ranks {rng}, r² = {num(r2)})  participation ratio = "
            f"{num(pr, '.1f')}"
        )

    head = f"{path}\n  method: {summary['method']}  stimuli: {summary['n_stimuli']}  units: {summary['n_units']}"
    if "alpha_status" in summary:
        lines = [f"  alpha: {summary['alpha_status']}"]
        pr = summary["participation_ratio"]
        spectra = summary.get("variance")
        if isinstance(pr, dict):
            for g, v in pr.items():
                lines.append(f"  {g}: participation ratio = {num(v, '.1f')}")
                lines.append(
                    f"  {g}: variance by rank: "
                    + "  ".join(f"{i}: {x:.4g}" for i, x in enumerate((spectra or {}).get(g, [])[:20], 1))
                )
        else:
            lines.append(f"  participation ratio = {num(pr, '.1f')}")
            lines.append(
                "  variance by rank: " + "  ".join(f"{i}: {x:.4g}" for i, x in enumerate((spectra or [])[:20], 1))
            )
    elif isinstance(summary["alpha"], dict):
        lines = [
            one(
                f"{g}: ",
                summary["alpha"][g],
                (summary["alpha_ci"] or {}).get(g),
                summary["r2"][g],
                summary["participation_ratio"][g],
                (summary["ranks"] or {}).get(g),
            )
            for g in summary["alpha"]
        ]
        for g, why in (summary.get("alpha_not_fittable") or {}).items():  # fewer than MIN_FIT_RANKS ranks
            lines.append(f"  {g}: alpha not fittable: {cli_wording(why)}")
    else:
        lines = [
            one(
                "",
                summary["alpha"],
                summary["alpha_ci"],
                summary["r2"],
                summary["participation_ratio"],
                summary["ranks"],
            )
        ]
    for key in ("result", "figure"):
        if key in summary:
            lines.append(f"  {key}: {summary[key]}")
    return "\n".join([head, *lines])


def _compute(args: argparse.Namespace, ds: Any) -> tuple[Any, Any, str | None, list[str]]:
    """(spectrum, fit or None, why α is not fittable or None, warnings)."""
    from .. import spectral
    from ..errors import AnalysisError, recorded_warnings

    ranks = tuple(args.ranks) if args.ranks else None
    groupby = None if args.groupby in (None, "none") else args.groupby
    with recorded_warnings() as notes:
        spec = spectral.eigenspectrum(
            ds,
            method=args.method,
            n_shuffles=args.n_shuffles,
            n_boot=args.n_boot,
            zscore=args.zscore,
            seed=args.seed,
            groupby=groupby,
            progress=not args.json and sys.stderr.isatty(),
        )
        fit, status = None, None
        try:
            fit = spectral.powerlaw(spec, ranks=ranks, negatives=args.negatives)
        except AnalysisError as err:
            if not getattr(err, "not_fittable", False):
                raise
            status = "not fittable: " + str(err).removeprefix("powerlaw: ")
    return spec, fit, status, notes


def run(args: argparse.Namespace) -> int:
    from .. import spectral
    from ..storage import load, save_result

    out_path, fig_path = check_outputs(args, inputs=[args.file])
    ds = load(args.file, lazy=True)
    spec, fit, status, notes = _compute(args, ds)
    warn(notes, flags=getattr(args, "cli_flags", None))
    if fit is not None:
        summary = spectral.summary(spec, fit)
    else:
        summary = {
            "alpha": None,
            "alpha_ci": None,
            "ranks": None,
            "r2": None,
            **spectral.summary(spec, include_spectrum=True),
            "alpha_status": cli_wording(str(status), getattr(args, "cli_flags", None)),
        }
    if out_path is not None:
        summary["result"] = str(
            save_result(spectral.combined(spec, fit), out_path, overwrite=args.overwrite, full_paths=args.full_paths)
        )
    if fig_path is not None:
        from .._atomic import save_figure
        from ..plot.spectral import plot_spectrum

        fig = plot_spectrum(spec, fit, title=Path(args.file).name)
        summary["figure"] = str(save_figure(fig, fig_path, overwrite=args.overwrite, dpi=150))
    print(json.dumps(summary) if args.json else _format(summary, args.file))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "spectrum",
        help="eigenspectrum, power-law alpha (with CI) and participation ratio of a set",
        description="Eigenspectrum (PCA, or cvPCA with two repeats), the power-law exponent alpha "
        "with a bootstrap CI, and the participation ratio (docs/spectral.md).",
    )
    p.add_argument("file", help="a .nc or .zarr ResponseSet written by neurosuper.save")
    p.add_argument(
        "--method",
        choices=["auto", "pca", "cvpca"],
        default="auto",
        help="auto: cvPCA when two valid repeats exist, else PCA (default)",
    )
    p.add_argument(
        "--n-boot",
        type=integer(0),
        default=50,
        help="bootstrap replicates over stimuli for the CI (default 50; 0: no CI)",
    )
    p.add_argument("--n-shuffles", type=integer(0), default=10, help="cvPCA repeat swaps averaged (default 10)")
    p.add_argument(
        "--groupby",
        default="auto",
        metavar="COORD",
        help="auto (layer, else area, else all units; the default), layer, area or any unit coord: one alpha per "
        "group; none: all units together",
    )
    p.add_argument(
        "--ranks",
        type=integer(1),
        nargs=2,
        metavar=("FIRST", "LAST"),
        default=None,
        help="fit ranks FIRST..LAST (1-based, inclusive); default 11..min(500, N // 4), N = the spectrum's ranks",
    )
    p.add_argument(
        "--negatives",
        choices=["stop", "abs"],
        default="stop",
        help="cvPCA values <= 0 (noise floor): stop the fit before them (default) or fit log|λ| (Stringer's code)",
    )
    p.add_argument("--zscore", action="store_true", help="z-score units first")
    p.add_argument("--seed", type=integer(0), default=0)
    add_outputs(p, out="save the spectrum and fit (.nc or .zarr)", figure="save the log-log figure", full_paths=True)
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (alpha, alpha_ci, ranks, r2, "
        "participation_ratio, method, n_stimuli, n_units; alpha_status and variance when alpha is not "
        "fittable (fewer than 10 ranks to fit); alpha_not_fittable per group when some groups are not; "
        "result/figure when written)",
    )
    p.set_defaults(func=run)
