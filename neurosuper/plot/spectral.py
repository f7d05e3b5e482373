"""Figures for the spectral analyses: the log–log eigenspectrum with its power-law fit, and 3-D random-projection
trajectories.

Both return a :class:`matplotlib.figure.Figure` built without pyplot (no global state, any backend); save it with
``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError
from ._text import plain_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_spectrum", "plot_trajectory"]


def _point_and_boot(spectrum: xr.Dataset | xr.DataArray) -> tuple[xr.DataArray, xr.DataArray | None]:
    from ..spectral.fit import point_spectrum

    if isinstance(spectrum, xr.Dataset) and "variance" not in spectrum:
        raise AnalysisError(
            "plot_spectrum: found no 'variance'; expected the result of "
            "neurosuper.spectral.eigenspectrum. Fix: plot_spectrum(eigenspectrum(ds))."
        )
    if isinstance(spectrum, xr.DataArray) and "boot" in spectrum.dims:
        return spectrum.median("boot"), spectrum
    return point_spectrum(spectrum)


def _group_dim(point: xr.DataArray) -> Hashable | None:
    other = [d for d in point.dims if d != "rank"]
    if len(other) > 1:
        raise AnalysisError(
            f"plot_spectrum: found dims {point.dims}; expected 'rank' and at most one group dim "
            "(e.g. 'layer'). Fix: select one value of the other dims first."
        )
    return other[0] if other else None


@plain_text
def plot_spectrum(
    spectrum: xr.Dataset | xr.DataArray,
    fit: xr.Dataset | None = None,
    *,
    d: float | None = None,
    ax: Any = None,
    title: str | None = None,
    reference: xr.DataArray | None = None,
    reference_label: str = "generating spectrum",
) -> Figure:
    """Log–log eigenspectrum (seaborn) with the fitted power law, the fit range shaded and the 1 + 2/d bound.

    Parameters
    ----------
    spectrum
        :func:`neurosuper.spectral.eigenspectrum` result (a ``layer``/``area`` dim draws one line per group;
        bootstrap replicates, ``variance_boot``, add a 95 % band). Non-positive cross-validated values cannot
        sit on a log axis: with a fit made with ``negatives="abs"`` their magnitudes are drawn as open circles.
    fit
        :func:`neurosuper.spectral.powerlaw` result: the dashed line ``e^b n^(−α)`` over exactly the ranks
        fitted (one per group), shaded when every line shares one range (else the legend gives each range).
    d
        Intrinsic dimension of the stimuli: draws the smoothness bound, a line of slope −(1 + 2/d) through
        the fit at its first rank; without ``d`` the d → ∞ limit (slope −1) is drawn.
    reference, reference_label
        A known spectrum (``rank`` dim; e.g. a simulation's noiseless ``true_spectrum``) drawn as a thin red line.
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    point, boot = _point_and_boot(spectrum)
    group = _group_dim(point)
    df = point.to_dataframe(name="variance").reset_index()
    df = df[np.isfinite(df["variance"]) & (df["variance"] > 0)]
    if df.empty:
        raise AnalysisError("plot_spectrum: found no positive variance to draw on log axes.")
    if ax is None:
        fig = Figure(figsize=(5.2, 4.0), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    hue = group if group is not None else None
    sns.lineplot(data=df, x="rank", y="variance", hue=hue, ax=ax, lw=1.4, legend=hue is not None)
    groups = [None] if group is None else list(point[group].values)
    palette = sns.color_palette(n_colors=max(1, len(groups)))
    if boot is not None:
        for g, colour in zip(groups, palette, strict=True):
            b = boot if g is None else boot.sel({group: g})
            lo, hi = b.quantile([0.025, 0.975], dim="boot").values
            ranks = b["rank"].values
            ok = np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
            ax.fill_between(ranks[ok], lo[ok], hi[ok], color=colour, alpha=0.2, lw=0)
    if fit is not None and fit.attrs.get("negatives") == "abs":
        neg = point.to_dataframe(name="variance").reset_index()
        neg = neg[np.isfinite(neg["variance"]) & (neg["variance"] < 0)]
        if not neg.empty:
            ax.scatter(
                neg["rank"],
                -neg["variance"],
                s=10,
                facecolors="none",
                edgecolors="0.4",
                lw=0.7,
                label="|variance| of values < 0",
            )
    if reference is not None:
        ref = np.asarray(reference.values, dtype=np.float64)
        ranks = np.asarray(reference["rank"].values)
        ok = np.isfinite(ref) & (ref > 0)
        ax.plot(ranks[ok], ref[ok], ls="-", color="tab:red", lw=1.0, alpha=0.8, label=reference_label)
    if fit is not None:
        _draw_fit(ax, fit, group, groups, palette, d)
    ax.set(xscale="log", yscale="log", xlabel="rank", ylabel="variance")
    # the axis follows the point estimate: near-zero tails of bootstrap replicates would squash it
    ax.set_ylim(float(df["variance"].min()) / 2, float(df["variance"].max()) * 2)
    method = spectrum.attrs.get("method", "") if isinstance(spectrum, xr.Dataset) else ""
    ax.set_title(title or f"eigenspectrum{f' ({method})' if method else ''}", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    return fig


def _draw_fit(ax: Any, fit: xr.Dataset, group: Hashable | None, groups: list, palette: list, d: float | None) -> None:
    ranks = fit.attrs.get("ranks")
    spans = [ranks if g is None else (ranks or {}).get(str(g)) for g in groups]
    shared = len({tuple(sp) for sp in spans if sp}) == 1  # one range for every line: shade it
    drawn_bound = False
    for g, colour, span in zip(groups, palette, spans, strict=True):
        sel = fit if g is None else fit.sel({group: g})
        if not span or not np.isfinite(float(sel["alpha"])):
            continue
        alpha, b = float(sel["alpha"]), float(sel["intercept"])
        n = np.geomspace(span[0], span[1], 50)
        label = f"α = {alpha:.2f}"
        if "alpha_ci" in sel:
            lo, hi = sel["alpha_ci"].values
            label += f" [{lo:.2f}, {hi:.2f}]"
        if g is not None:
            label = f"{g}: {label}" + ("" if shared else f", ranks {span[0]}–{span[1]}")
        ax.plot(n, np.exp(b) * n**-alpha, ls="--", color="k" if g is None else colour, lw=1.2, label=label)
        if not drawn_bound:
            if shared:
                ax.axvspan(span[0], span[1], color="0.5", alpha=0.12, lw=0, label=f"fit ranks {span[0]}–{span[1]}")
            slope = 1 + 2 / d if d else 1.0
            start = np.exp(b) * span[0] ** -alpha
            bound_label = f"1 + 2/d = {slope:.2f} (d = {d:g})" if d else "1 + 2/d → 1 (d → ∞)"
            ax.plot(n, start * (n / span[0]) ** -slope, ls=":", color="0.3", lw=1.2, label=bound_label)
            drawn_bound = True


@plain_text
def plot_trajectory(projection: xr.Dataset | Mapping[str, xr.Dataset], *, title: str | None = None) -> Figure:
    """3-D random-projection trajectories (:func:`neurosuper.spectral.random_projection`), coloured along the
    stimulus sequence, with the trajectory energy E in each title. A mapping draws one panel per entry."""
    from matplotlib.figure import Figure

    # a Dataset is itself a Mapping (of its variables): test for it first
    items = {title or "random projection": projection} if isinstance(projection, xr.Dataset) else dict(projection)
    fig = Figure(figsize=(3.6 * len(items), 3.6), layout="constrained")
    for i, (name, res) in enumerate(items.items()):
        if "projection" not in res or res.sizes.get("component", 0) < 3:
            raise AnalysisError(
                "plot_trajectory: found no 3-component 'projection'; expected "
                "random_projection(ds, n_dims=3). Fix: pass that result."
            )
        y = res["projection"]
        if y.ndim != 2:
            raise AnalysisError(
                f"plot_trajectory: found dims {y.dims}; expected (stimulus, component). "
                "Fix: select one group first, e.g. res.sel(layer='fc')."
            )
        v = y.values[:, :3]
        ax = fig.add_subplot(1, len(items), i + 1, projection="3d")
        t = np.linspace(0, 1, len(v))
        ax.plot(v[:, 0], v[:, 1], v[:, 2], color="0.6", lw=0.6)
        ax.scatter(v[:, 0], v[:, 1], v[:, 2], c=t, cmap="viridis", s=4, depthshade=False)
        ax.set_title(f"{name}\nE = {float(res['energy']):.3g}", fontsize=9)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.set_zticklabels([])
    return fig
