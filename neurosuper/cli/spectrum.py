"""``neurosuper spectrum FILE``: eigenspectrum, power-law exponent α (with a bootstrap CI) and participation ratio.

Also the ``demo`` step: the spectra of the demo brain (cvPCA over its two repeats) and of the demo network (α per
layer), saved as results, a figure, and headline numbers in ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def summarize(spec, fit, pr) -> dict:
    """The JSON object of ``spectrum --json``: one value per key, or ``{group: value}`` when grouped."""
    group = next((d for d in fit["alpha"].dims), None)
    labels = [str(g) for g in fit[group].values] if group else [None]

    def per(fn):
        values = [fn(g) for g in (fit[group].values if group else [None])]
        return dict(zip(labels, values, strict=True)) if group else values[0]

    def sel(da, g):
        return da if g is None else da.sel({group: g})

    def ci(g):
        if "alpha_ci" not in fit:
            return None
        lo, hi = sel(fit["alpha_ci"], g).values
        return [_plain(lo), _plain(hi)]

    ranks = fit.attrs.get("ranks")

    def info(key):
        if key in spec.attrs:
            return _plain(spec.attrs[key])
        return {str(g): _plain(v) for g, v in zip(spec[group].values, spec[key].values, strict=True)}

    return {
        "alpha": per(lambda g: _plain(float(sel(fit["alpha"], g)))),
        "alpha_ci": per(ci),
        "ranks": ranks,
        "r2": per(lambda g: _plain(float(sel(fit["r2"], g)))),
        "participation_ratio": per(lambda g: _plain(float(sel(pr, g)))),
        "method": spec.attrs.get("method"),
        "n_stimuli": info("n_stimuli"),
        "n_units": info("n_units"),
    }


def _format(summary: dict, path: str) -> str:
    def one(label: str, alpha, ci, r2, pr, ranks) -> str:
        ci_txt = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else ""
        rng = f"{ranks[0]}–{ranks[1]}" if ranks else "none"
        a = f"{alpha:.3f}" if alpha is not None else "n/a"
        return f"  {label}alpha = {a}{ci_txt}  (ranks {rng}, r² = {r2:.3f})  participation ratio = {pr:.1f}"

    head = (f"{path}\n  method: {summary['method']}  stimuli: {summary['n_stimuli']}  units: {summary['n_units']}")
    if isinstance(summary["alpha"], dict):
        lines = [one(f"{g}: ", summary["alpha"][g], (summary["alpha_ci"] or {}).get(g), summary["r2"][g],
                     summary["participation_ratio"][g], (summary["ranks"] or {}).get(g)) for g in summary["alpha"]]
    else:
        lines = [one("", summary["alpha"], summary["alpha_ci"], summary["r2"], summary["participation_ratio"],
                     summary["ranks"])]
    return "\n".join([head, *lines])


def run(args: argparse.Namespace) -> int:
    import xarray as xr

    from .. import spectral
    from ..storage import load, save_result

    ds = load(args.file, lazy=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = spectral.eigenspectrum(ds, method=args.method, n_shuffles=args.n_shuffles, n_boot=args.n_boot,
                                      zscore=args.zscore, seed=args.seed, groupby=args.groupby,
                                      progress=not args.json and sys.stderr.isatty())
        fit = spectral.powerlaw(spec)
        pr = spectral.participation_ratio(spec)
    for w in caught:
        print(f"neurosuper: warning: {w.message}", file=sys.stderr)
    summary = summarize(spec, fit, pr)
    if args.out:
        result = xr.merge([spec, fit.drop_vars(["alpha_boot"], errors="ignore"), pr], combine_attrs="drop_conflicts")
        save_result(result, args.out, overwrite=True)
    if args.plot:
        from ..plot.spectral import plot_spectrum

        _save_figure(plot_spectrum(spec, fit, title=Path(args.file).name), Path(args.plot))
    print(json.dumps(summary) if args.json else _format(summary, args.file))
    return 0


def _save_figure(fig, path: Path) -> Path:
    """``fig.savefig`` to a temporary file in the target folder, then an atomic rename."""
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=150)
    os.replace(tmp, path)
    return path


def register(sub) -> None:
    p = sub.add_parser("spectrum", help="eigenspectrum, power-law alpha (with CI) and participation ratio of a set")
    p.add_argument("file", help="a .nc or .zarr ResponseSet written by neurosuper.save")
    p.add_argument("--method", choices=["auto", "pca", "cvpca"], default="auto",
                   help="auto: cvPCA when two valid repeats exist, else PCA (default)")
    p.add_argument("--n-boot", type=int, default=50, help="bootstrap replicates over stimuli for the CI (default 50; "
                   "0: no CI)")
    p.add_argument("--n-shuffles", type=int, default=10, help="cvPCA repeat swaps averaged (default 10)")
    p.add_argument("--groupby", default=None, help="a unit coord (layer, area): one alpha per group")
    p.add_argument("--zscore", action="store_true", help="z-score units first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="save the spectrum and fit (.nc or .zarr)")
    p.add_argument("--plot", help="save the log-log figure (.png, .pdf, .svg)")
    p.add_argument("--json", action="store_true", help="print one JSON object (alpha, alpha_ci, ranks, r2, "
                   "participation_ratio, method, n_stimuli, n_units)")
    p.set_defaults(func=run)


# -------------------------------------------------------------------------------------------------- demo
def demo(ctx) -> None:
    """Spectra of the demo brain and network: results, figures and ``ctx.summary["spectrum"]``."""
    from matplotlib.figure import Figure

    from .. import spectral
    from ..errors import AnalysisError
    from ..plot.spectral import plot_spectrum, plot_trajectory
    from ..storage import save_result

    summary: dict[str, Any] = {}
    fig = Figure(figsize=(10.4, 4.0), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (name, ds) in zip(axes, (("brain", ctx.brain), ("network", ctx.network)), strict=True):
        groupby = next((c for c in ("layer", "area") if c in ds.coords and ds[c].dims == ("unit",)), None)
        entry: dict[str, Any] = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                spec = spectral.eigenspectrum(ds, n_boot=20, progress=ctx.progress)
                fit = spectral.powerlaw(spec)
                pr = spectral.participation_ratio(spec)
                save_result(spec, ctx.path(f"spectrum_{name}.nc"), overwrite=True)
                save_result(fit, ctx.path(f"powerlaw_{name}.nc"), overwrite=True)
                entry = summarize(spec, fit, pr)
                entry["files"] = [f"spectrum_{name}.nc", f"powerlaw_{name}.nc"]
                if "alpha_true" in ds.attrs:
                    entry["alpha_true"] = _plain(ds.attrs["alpha_true"])
                plot_spectrum(spec, fit, ax=ax, title=f"demo {name} ({spec.attrs['method']})")
                if groupby is not None:
                    per = spectral.eigenspectrum(ds, groupby=groupby, progress=ctx.progress)
                    per_fit = spectral.powerlaw(per)
                    save_result(per_fit, ctx.path(f"powerlaw_{name}_per_{groupby}.nc"), overwrite=True)
                    entry[f"alpha_per_{groupby}"] = {str(g): _plain(float(a)) for g, a in
                                                     zip(per_fit[groupby].values, per_fit["alpha"].values, strict=True)}
                    entry["files"].append(f"powerlaw_{name}_per_{groupby}.nc")
            except AnalysisError as err:
                entry = {"error": str(err)}
        entry["warnings"] = [str(w.message) for w in caught if "neurosuper" in type(w.message).__module__]
        summary[name] = entry
        ctx.log(f"  {name}: alpha = {entry.get('alpha', 'n/a')}")
    _save_figure(fig, ctx.path("spectrum.png"))
    circles = {f"circle, α = {a:g}": spectral.random_projection(spectral.circle_population(a, 400, 200),
                                                                 order="angle", seed=0) for a in (2.0, 4.0)}
    _save_figure(plot_trajectory(circles), ctx.path("trajectory.png"))
    summary["figures"] = ["spectrum.png", "trajectory.png"]
    summary["circle_energy"] = {k: _plain(float(v["energy"])) for k, v in circles.items()}
    ctx.summary["spectrum"] = summary
