"""``neurosuper spectrum FILE``: eigenspectrum, power-law exponent α (with a bootstrap CI) and participation ratio.

Also the ``spectrum`` step of ``neurosuper demo`` / ``neurosuper report``: the spectra of every analysed set (cvPCA
when it has two repeats), α with its CI (and, for the demo brain, the generating spectrum's α over the same ranks),
α per layer/area, a spectrum figure and the random-projection figure of the circle population.

The numbers come from :func:`neurosuper.spectral.summary`; this module parses, checks the outputs before
computing, and formats. Error messages name CLI flags (``--ranks 1 13``), not Python arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from pathlib import Path
from typing import Any

#: Python argument → CLI flag, for the "Fix:" advice of errors and warnings raised by the analyses.
_FLAGS = {
    "method": "--method",
    "n_boot": "--n-boot",
    "n_shuffles": "--n-shuffles",
    "negatives": "--negatives",
    "groupby": "--groupby",
    "seed": "--seed",
}


def cli_advice(message: str) -> str:
    """``message`` with Python spellings of this command's options rewritten as its flags."""
    message = re.sub(r"\bomit ranks=", "omit --ranks", message)
    message = re.sub(r"\branks=\((\d+), (\d+)\)", r"--ranks \1 \2", message)
    message = re.sub(r"\bzscore=True\b", "--zscore", message)
    message = re.sub(r"\bgroupby=None\b", "no --groupby", message)
    for name, flag in _FLAGS.items():
        message = re.sub(rf"\b{name}=(['\"]?)([\w.-]+)\1", rf"{flag} \2", message)
    return message


def summarize(spec, fit, pr=None) -> dict:
    """Deprecated: use :func:`neurosuper.spectral.summary` (``summary(spec, fit)``)."""
    from ..spectral import summary

    warnings.warn(
        "neurosuper.cli.spectrum.summarize is deprecated; use neurosuper.spectral.summary(spec, fit)",
        FutureWarning,
        stacklevel=2,
    )
    return summary(spec, fit)


def _format(summary: dict, path: str) -> str:
    def num(x, fmt=".3f") -> str:
        return "n/a" if x is None else format(x, fmt)

    def one(label: str, alpha, ci, r2, pr, ranks) -> str:
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


def check_figure_target(path: str | Path, *, overwrite: bool) -> Path:
    """Raise (before any computing) when ``path`` has an image suffix matplotlib cannot write, or exists."""
    from matplotlib.figure import Figure

    from .._atomic import check_target
    from ..errors import FormatError, fail

    path = Path(path)
    supported = sorted(Figure().canvas.get_supported_filetypes())
    if path.suffix.lower().lstrip(".") not in supported:
        raise fail(
            f"--figure {str(path)!r}",
            f"suffix {path.suffix or '(none)'!r}",
            f"one of {', '.join('.' + s for s in supported)}",
            f"--figure {path.with_suffix('.png')}",
            FormatError,
        )
    return _exists_as_flag(check_target, path, overwrite, "--figure")


def _exists_as_flag(check, path: Path, overwrite: bool, flag: str) -> Path:
    """``check(path, overwrite=...)``, its "exists" error phrased with this command's flags."""
    from ..errors import FormatError, fail

    if (path.exists() or path.is_symlink()) and not overwrite:
        kind = "folder" if path.is_dir() else "file"
        raise fail(
            f"{flag} {str(path)!r}",
            f"an existing {kind}",
            "a new path",
            f"add --overwrite to replace it, or choose another {flag} name",
            FormatError,
        )
    return check(path, overwrite=overwrite)


def _outputs(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """``--out`` and ``--figure`` (``--plot``) checked before anything is computed."""
    from .._atomic import check_target
    from ..errors import FormatError, fail
    from ..storage import file_format

    figure = args.figure
    if args.plot:
        if figure and figure != args.plot:
            raise fail(
                "--plot",
                f"--plot {args.plot!r} and --figure {figure!r}",
                "one figure path",
                f"--figure {args.plot} (--plot is the deprecated name of --figure)",
                FormatError,
            )
        print("neurosuper: warning: --plot is deprecated; use --figure (same meaning).", file=sys.stderr)
        figure = args.plot
    out = None
    if args.out:
        try:
            file_format(args.out)
        except FormatError as err:
            raise FormatError(str(err).replace("name the file e.g.", "--out e.g.")) from None
        out = _exists_as_flag(check_target, Path(args.out), args.overwrite, "--out")
    fig = check_figure_target(figure, overwrite=args.overwrite) if figure else None
    return out, fig


def _compute(args: argparse.Namespace, ds) -> tuple[Any, Any, str | None, list]:
    """(spectrum, fit or None, why α is not fittable or None, warnings)."""
    import numpy as np

    from .. import spectral
    from ..errors import AnalysisError, recorded_warnings

    ranks = tuple(args.ranks) if args.ranks else None
    groupby = None if args.groupby in (None, "none") else args.groupby
    with recorded_warnings() as notes:
        try:
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
        except np.linalg.LinAlgError as err:  # the analysis checks its input; this is a last safety net
            raise AnalysisError(
                f"eigenspectrum: found a matrix the eigensolver cannot handle ({err}); expected "
                "finite responses. Fix: check the file with neurosuper info."
            ) from None
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
    from ..errors import NeurosuperError
    from ..storage import load

    try:
        out_path, fig_path = _outputs(args)
        ds = load(args.file, lazy=True)
        spec, fit, status, notes = _compute(args, ds)
    except NeurosuperError as err:
        raise type(err)(cli_advice(str(err))) from None
    for note in notes:
        print(f"neurosuper: warning: {cli_advice(note)}", file=sys.stderr)
    if fit is not None:
        summary = spectral.summary(spec, fit)
    else:
        summary = {
            "alpha": None,
            "alpha_ci": None,
            "ranks": None,
            "r2": None,
            **spectral.summary(spec, include_spectrum=True),
            "alpha_status": cli_advice(status),
        }
    if out_path is not None:
        summary["result"] = str(_save_result(spec, fit, out_path, overwrite=args.overwrite))
    if fig_path is not None:
        from .._atomic import save_figure
        from ..plot.spectral import plot_spectrum

        fig = plot_spectrum(spec, fit, title=Path(args.file).name)
        summary["figure"] = str(save_figure(fig, fig_path, overwrite=args.overwrite, dpi=150))
    print(json.dumps(summary) if args.json else _format(summary, args.file))
    return 0


def _save_result(spec, fit, path: Path, *, overwrite: bool) -> Path:
    import xarray as xr

    from ..storage import save_result

    parts = [spec] if fit is None else [spec, fit.drop_vars(["alpha_boot"], errors="ignore")]
    result = xr.merge(parts, combine_attrs="drop_conflicts")
    result.attrs["analyses"] = ", ".join(p.attrs.get("analysis", "?") for p in parts)
    return save_result(result, path, overwrite=overwrite)


def register(sub) -> None:
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
        "--n-boot", type=int, default=50, help="bootstrap replicates over stimuli for the CI (default 50; 0: no CI)"
    )
    p.add_argument("--n-shuffles", type=int, default=10, help="cvPCA repeat swaps averaged (default 10)")
    p.add_argument(
        "--groupby",
        default=None,
        metavar="COORD",
        help="layer, area, auto (layer, else area) or any unit coord: one alpha per group "
        "(default: all units together)",
    )
    p.add_argument(
        "--ranks",
        type=int,
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="save the spectrum and fit (.nc or .zarr); checked before computing")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --figure if they exist")
    p.add_argument("--figure", help="save the log-log figure (.png, .pdf, .svg, ...); checked before computing")
    p.add_argument("--plot", help="deprecated name of --figure")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (alpha, alpha_ci, ranks, r2, "
        "participation_ratio, method, n_stimuli, n_units; alpha_status and variance when alpha is not "
        "fittable; result/figure when written)",
    )
    p.set_defaults(func=run)
