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


# -------------------------------------------------------------------------------------------------- demo
def _group_of(ds) -> str | None:
    """The unit coord to draw one curve per group for: ``layer``/``area`` with more than one value."""
    from ..prep import group_coord

    g = group_coord(ds, "auto")
    return g if g is not None and len(set(ds[g].values.tolist())) > 1 else None


def _simulated(ctx, name: str, ds):
    """The simulated set an analysed set was made from (the demo brain before its NWB round trip), when it holds
    the generating spectrum and the same stimuli; else None."""
    data = getattr(ctx, "data", {})
    sim = data.get(f"{name}_simulated") if hasattr(data, "get") else None
    if sim is None or "true_spectrum" not in sim or sim.sizes.get("stimulus") != ds.sizes.get("stimulus"):
        return None
    return sim


#: The step's reduced settings (``ctx.settings["spectrum"]`` overrides them).
DEMO_SETTINGS: dict[str, Any] = {"n_boot": 20}


def demo(ctx) -> None:
    """Spectra of every analysed set: results, one figure, and ``ctx.summary["spectrum"]``."""
    import numpy as np
    from matplotlib.figure import Figure

    from .. import spectral
    from .._atomic import save_figure
    from ..errors import AnalysisError, recorded_warnings
    from ..pipeline import step_settings
    from ..plot.spectral import plot_spectrum, plot_trajectory
    from ..storage import save_result

    n_boot = int(step_settings(ctx, "spectrum", DEMO_SETTINGS)["n_boot"])
    summary: dict[str, Any] = {"settings": {"n_boot": n_boot}}
    results: dict[str, Any] = {}
    sets = ctx.sets
    fig = Figure(figsize=(5.2 * max(1, len(sets)), 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(sets))))
    for ax, (name, ds) in zip(axes, sets.items(), strict=False):
        entry: dict[str, Any] = {}
        group = _group_of(ds)
        with recorded_warnings() as notes:
            try:
                spec = spectral.eigenspectrum(ds, n_boot=n_boot, progress=ctx.progress)
                fit = spectral.powerlaw(spec)
                save_result(spec, ctx.path(f"spectrum_{name}.nc"), overwrite=True)
                save_result(fit, ctx.path(f"powerlaw_{name}.nc"), overwrite=True)
                entry = spectral.summary(spec, fit)
                entry["files"] = [f"spectrum_{name}.nc", f"powerlaw_{name}.nc"]
                results[name] = {"spectrum": spec, "powerlaw": fit}
                reference = None
                source = ds if "true_spectrum" in ds else _simulated(ctx, name, ds)
                if source is not None:  # a simulation: its generating spectrum, fitted over the same ranks
                    ds_attrs = source.attrs
                    true = source["true_spectrum"]
                    entry["alpha_true"] = spectral.summary(spectral.powerlaw(true, ranks=tuple(fit.attrs["ranks"])))[
                        "alpha"
                    ]
                    entry["alpha_true_ranks"] = list(fit.attrs["ranks"])
                    if "alpha_true" in ds_attrs:
                        entry["alpha_true_as_generated"] = {
                            "alpha": float(ds_attrs["alpha_true"]),
                            "ranks": list(ds_attrs.get("alpha_ranks", [])),
                        }
                    reference = true
                if group is not None:
                    per = spectral.eigenspectrum(ds, groupby=group, progress=ctx.progress)
                    per_fit = spectral.powerlaw(per)
                    save_result(per_fit, ctx.path(f"powerlaw_{name}_per_{group}.nc"), overwrite=True)
                    entry[f"alpha_per_{group}"] = spectral.summary(per_fit)["alpha"]
                    entry["files"].append(f"powerlaw_{name}_per_{group}.nc")
                    results[name][f"powerlaw_per_{group}"] = per_fit
                    plot_spectrum(per, per_fit, ax=ax, title=f"{name}: one curve per {group} ({per.attrs['method']})")
                else:
                    plot_spectrum(
                        spec,
                        fit,
                        ax=ax,
                        reference=reference,
                        title=f"{name} ({spec.attrs['method']}, n_boot = {n_boot})",
                    )
            except AnalysisError as err:
                entry = {"error": str(err)}
                ax.set_axis_off()
                ax.set_title(f"{name}: {err}"[:80], fontsize=8)
        if notes:
            entry["warnings"] = notes
        summary[name] = entry
        ctx.log(f"  {name}: alpha = {entry.get('alpha', 'n/a')}")
    if results:  # a figure of error messages only would say nothing the notes do not
        save_figure(fig, ctx.path("spectrum.png"), overwrite=True, dpi=150)
    summary["figures"] = ["spectrum.png"] if results else []
    methods = {r["spectrum"].attrs.get("method") for r in results.values()}
    how = {
        "cvpca": "cvPCA: the variance that replicates across the two repeats",
        "pca": "PCA: with a single repeat, noise variance is included",
    }
    summary["captions"] = (
        {}
        if not results
        else {
            "spectrum.png": (
                "Variance of each principal dimension against its rank, log–log ("
                + "; ".join(how.get(str(m), str(m)) for m in sorted(methods, key=str))
                + "). The dashed line is the power law fitted over the shaded ranks, slope −α; the dotted line "
                "marks α = 1 + 2/d: a smooth code of a d-dimensional stimulus space needs a spectrum decaying faster "
                "than that "
                "(Stringer et al. 2019). A set with layers or areas is drawn one curve per layer or area."
            )
        }
    )
    if ctx.demo:  # an illustration of what α means, for the demo only (it uses no data)
        circles = {
            f"circle, α = {a:g}": spectral.random_projection(
                spectral.circle_population(a, 400, 200), order="angle", seed=0
            )
            for a in (2.0, 4.0)
        }
        save_figure(plot_trajectory(circles), ctx.path("trajectory.png"), overwrite=True, dpi=150)
        summary["figures"].append("trajectory.png")
        summary["captions"]["trajectory.png"] = (
            "Illustration (simulated, not the demo data): 400 neurons coding the angle of a circle with spectra "
            "decaying as α = 2 and α = 4, projected at random into 3-D and drawn in stimulus order. With α ≤ 1 + 2/d "
            "(= 3 here) the code is rough — nearby angles land far apart; with α = 4 it is smooth. E, in each title, "
            "is the trajectory's energy (squared step lengths relative to its spread): for α ≤ 3 it grows without "
            "bound as neurons are added."
        )

    if hasattr(ctx, "results"):
        ctx.results["spectrum"] = results
    ctx.summary["spectrum"] = summary
