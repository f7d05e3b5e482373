"""The ``spectrum`` step: covariance eigenspectra of every analysed set (cvPCA when it has two repeats), the
power-law exponent α with a bootstrap CI (and, for a simulation, the generating spectrum's α over the same ranks),
α per layer/area, a spectrum figure and — in the demo — the random-projection illustration of α.

The numbers come from :func:`neurosuper.spectral.summary` (Stringer et al. 2019; Marshall & Kirchner 2024).

Minimum data: a spectrum with fewer than :data:`~neurosuper.spectral.fit.MIN_FIT_RANKS` = 10 ranks to fit is still
computed, saved and drawn, but its α is not: the set's entry records ``alpha: None`` and ``not_enough_data`` (what,
how many, how many are needed), and the headline says so. Per layer/area, a group without enough ranks gets
``None`` with its reason under ``alpha_per_<group>_not_fittable`` (every group: ``alpha_per_<group>_not_enough_data``).
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from .core import Context, Limit, Step


def _group_of(ds: Any) -> str | None:
    """The unit coord to draw one curve per group for: ``layer``/``area`` with more than one value."""
    from ..prep import group_coord

    g = group_coord(ds, "auto")
    return g if g is not None and len(set(ds[g].values.tolist())) > 1 else None


def _simulated(ctx: Context, name: str, ds: Any) -> Any:
    """The simulated set an analysed set was made from (the demo brain before its NWB round trip), when it holds
    the generating spectrum and the same stimuli; else None."""
    sim = ctx.data.get(f"{name}_simulated")
    if sim is None or "true_spectrum" not in sim or sim.sizes.get("stimulus") != ds.sizes.get("stimulus"):
        return None
    return sim


#: The step's reduced settings (``ctx.settings["spectrum"]`` overrides them).
SETTINGS: dict[str, Any] = {"n_boot": 20}


def run(ctx: Context) -> None:
    """Spectra of every analysed set: results, one figure, and ``ctx.summary["spectrum"]``."""
    import numpy as np
    from matplotlib.figure import Figure

    from .. import spectral
    from ..errors import AnalysisError, NotEnoughData, recorded_warnings
    from ..plot.spectral import plot_spectrum, plot_trajectory

    n_boot = int(ctx.settings_of()["n_boot"])
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
                spec = spectral.eigenspectrum(ds, n_boot=n_boot, groupby=None, progress=ctx.progress)
                ctx.save(spec, f"spectrum_{name}.nc")
                entry = spectral.summary(spec)
                entry["files"] = [f"spectrum_{name}.nc"]
                results[name] = {"spectrum": spec}
                reference = None
                fit: xr.Dataset | None = None
                try:
                    fitted = spectral.powerlaw(spec)
                except NotEnoughData as err:  # the spectrum is shown, α is not: too few ranks to fit
                    entry.update(alpha=None, alpha_ci=None, ranks=None, r2=None, not_enough_data=err.as_entry())
                else:
                    fit = fitted
                    ctx.save(fitted, f"powerlaw_{name}.nc")
                    entry.update(spectral.summary(fitted))
                    entry["files"].append(f"powerlaw_{name}.nc")
                    results[name]["powerlaw"] = fitted
                    source = ds if "true_spectrum" in ds else _simulated(ctx, name, ds)
                    if source is not None:  # a simulation: its generating spectrum, fitted over the same ranks
                        ds_attrs = source.attrs
                        true = source["true_spectrum"]
                        entry["alpha_true"] = spectral.summary(
                            spectral.powerlaw(true, ranks=tuple(fitted.attrs["ranks"]))
                        )["alpha"]
                        entry["alpha_true_ranks"] = list(fitted.attrs["ranks"])
                        if "alpha_true" in ds_attrs:
                            entry["alpha_true_as_generated"] = {
                                "alpha": float(ds_attrs["alpha_true"]),
                                "ranks": list(ds_attrs.get("alpha_ranks", [])),
                            }
                        reference = true
                if group is not None:
                    per = spectral.eigenspectrum(ds, groupby=group, progress=ctx.progress)
                    key = f"alpha_per_{group}"
                    per_fit: xr.Dataset | None = None
                    try:
                        per_fitted = spectral.powerlaw(per)
                    except NotEnoughData as err:  # no group has the ranks a fit needs
                        entry[key] = {str(g): None for g in per[group].values.tolist()}
                        entry[f"{key}_not_enough_data"] = err.as_entry()
                    else:
                        per_fit = per_fitted
                        per_summary = spectral.summary(per_fitted)
                        entry[key] = per_summary["alpha"]
                        if "alpha_not_fittable" in per_summary:
                            entry[f"{key}_not_fittable"] = per_summary["alpha_not_fittable"]
                        ctx.save(per_fitted, f"powerlaw_{name}_per_{group}.nc")
                        entry["files"].append(f"powerlaw_{name}_per_{group}.nc")
                        results[name][f"powerlaw_per_{group}"] = per_fitted
                    plot_spectrum(per, per_fit, ax=ax, title=f"{name}: one curve per {group} ({per.attrs['method']})")
                else:
                    plot_spectrum(
                        spec,
                        fit,
                        ax=ax,
                        reference=reference,
                        title=f"{name} ({spec.attrs['method']}, n_boot = {n_boot})"
                        + ("" if fit is not None else ": α not fittable, too few ranks"),
                    )
            except AnalysisError as err:
                entry = {"error": str(err)}
                ax.set_axis_off()
                ax.set_title(f"{name}: {err}"[:80], fontsize=8)
        if notes:
            entry["warnings"] = notes
        summary[name] = entry
        ctx.log(f"  {name}: alpha = {entry.get('alpha', 'n/a')}")
    methods = {r["spectrum"].attrs.get("method") for r in results.values()}
    how = {
        "cvpca": "cvPCA: the variance that replicates across the two repeats",
        "pca": "PCA: with a single repeat, noise variance is included",
    }
    if results:  # a figure of error messages only would say nothing the notes do not
        ctx.figure(
            "spectrum.png",
            fig,
            "Variance of each principal dimension against its rank, log–log ("
            + "; ".join(how.get(str(m), str(m)) for m in sorted(methods, key=str))
            + "). The dashed line is the power law fitted over the shaded ranks, slope −α; the dotted line marks "
            "α = 1 + 2/d: a smooth code of a d-dimensional stimulus space needs a spectrum decaying faster than that "
            "(Stringer et al. 2019). A set with layers or areas is drawn one curve per layer or area.",
            dpi=150,
        )
    if ctx.demo:  # an illustration of what α means, for the demo only (it uses no data)
        circles = {
            f"circle, α = {a:g}": spectral.random_projection(
                spectral.circle_population(a, 400, 200), order="angle", seed=0
            )
            for a in (2.0, 4.0)
        }
        ctx.figure(
            "trajectory.png",
            plot_trajectory(circles),
            "Illustration (simulated, not the demo data): 400 neurons coding the angle of a circle with spectra "
            "decaying as α = 2 and α = 4, projected at random into 3-D and drawn in stimulus order. With α ≤ 1 + 2/d "
            "(= 3 here) the code is rough — nearby angles land far apart; with α = 4 it is smooth. E, in each title, "
            "is the trajectory's energy (squared step lengths relative to its spread): for α ≤ 3 it grows without "
            "bound as neurons are added.",
            dpi=150,
        )
    ctx.results["spectrum"] = results
    ctx.summary["spectrum"] = summary


STEP = Step(
    "spectrum",
    run,
    title="Spectra",
    description="covariance eigenspectra (cvPCA when the set has two repeats), power-law exponent α with a "
    "bootstrap CI, participation ratio; per layer/area when the set has them",
    settings=SETTINGS,
    limits={"n_boot": Limit(low=0)},
    reduced="the bootstrap CI of α uses 20 resamples of the stimuli (the `neurosuper spectrum` command's default "
    "is 50)",
)
