"""Figures for the spectral analyses: the log–log eigenspectrum with its power-law fit, and 3-D random-projection
trajectories.

Both return a :class:`matplotlib.figure.Figure` built without pyplot (no global state, any backend); save it with
``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError

__all__ = ["plot_spectrum", "plot_trajectory"]


def _point_and_boot(spectrum: xr.Dataset | xr.DataArray) -> tuple[xr.DataArray, xr.DataArray | None]:
    if isinstance(spectrum, xr.Dataset):
        if "variance" not in spectrum:
            raise AnalysisError("plot_spectrum: found no 'variance'; expected the result of "
                                "neurosuper.spectral.eigenspectrum. Fix: plot_spectrum(eigenspectrum(ds)).")
        v = spectrum["variance"]
        if "boot" in v.dims:
            return spectrum.get("variance_full", v.median("boot")), v
        return v, None
    if "boot" in spectrum.dims:
        return spectrum.median("boot"), spectrum
    return spectrum, None


def _group_dim(point: xr.DataArray) -> str | None:
    other = [d for d in point.dims if d != "rank"]
    if len(other) > 1:
        raise AnalysisError(f"plot_spectrum: found dims {point.dims}; expected 'rank' and at most one group dim "
                            "(e.g. 'layer'). Fix: select one value of the other dims first.")
    return other[0] if other else None


def plot_spectrum(spectrum: xr.Dataset | xr.DataArray, fit: xr.Dataset | None = None, *, d: float | None = None,
                  ax: Any = None, title: str | None = None):
    """Log–log eigenspectrum (seaborn) with the fitted power law, the fit range shaded and the 1 + 2/d bound.

    Parameters
    ----------
    spectrum
        :func:`neurosuper.spectral.eigenspectrum` result (a ``layer``/``area`` dim draws one line per group;
        a ``boot`` dim adds a 95 % band). Non-positive cross-validated values are not drawn (log axis).
    fit
        :func:`neurosuper.spectral.powerlaw` result: the dashed line ``e^b n^(−α)`` over the ranks used,
        which are shaded.
    d
        Intrinsic dimension of the stimuli: draws the smoothness bound, a line of slope −(1 + 2/d) through
        the fit at its first rank; without ``d`` the d → ∞ limit (slope −1) is drawn.
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
    if fit is not None:
        _draw_fit(ax, fit, group, groups, palette, d)
    ax.set(xscale="log", yscale="log", xlabel="rank", ylabel="variance")
    method = spectrum.attrs.get("method", "") if isinstance(spectrum, xr.Dataset) else ""
    ax.set_title(title or f"eigenspectrum{f' ({method})' if method else ''}", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def _draw_fit(ax: Any, fit: xr.Dataset, group: str | None, groups: list, palette: list, d: float | None) -> None:
    ranks = fit.attrs.get("ranks")
    shaded = False
    for g, colour in zip(groups, palette, strict=True):
        sel = fit if g is None else fit.sel({group: g})
        span = ranks if g is None else (ranks or {}).get(str(g))
        if not span or not np.isfinite(float(sel["alpha"])):
            continue
        alpha, b = float(sel["alpha"]), float(sel["intercept"])
        n = np.geomspace(span[0], span[1], 50)
        label = f"α = {alpha:.2f}"
        if "alpha_ci" in sel:
            lo, hi = sel["alpha_ci"].values
            label += f" [{lo:.2f}, {hi:.2f}]"
        if g is not None:
            label = f"{g}: {label}"
        ax.plot(n, np.exp(b) * n**-alpha, ls="--", color="k" if g is None else colour, lw=1.2, label=label)
        if not shaded:
            ax.axvspan(span[0], span[1], color="0.5", alpha=0.12, lw=0, label=f"fit ranks {span[0]}–{span[1]}")
            slope = 1 + 2 / d if d else 1.0
            start = np.exp(b) * span[0] ** -alpha
            bound_label = f"1 + 2/d = {slope:.2f} (d = {d:g})" if d else "1 + 2/d → 1 (d → ∞)"
            ax.plot(n, start * (n / span[0]) ** -slope, ls=":", color="0.3", lw=1.2, label=bound_label)
            shaded = True


def plot_trajectory(projection: xr.Dataset | Mapping[str, xr.Dataset], *, title: str | None = None):
    """3-D random-projection trajectories (:func:`neurosuper.spectral.random_projection`), coloured along the
    stimulus sequence, with the trajectory energy E in each title. A mapping draws one panel per entry."""
    from matplotlib.figure import Figure

    items = dict(projection) if isinstance(projection, Mapping) else {title or "random projection": projection}
    fig = Figure(figsize=(3.6 * len(items), 3.6), layout="constrained")
    for i, (name, res) in enumerate(items.items()):
        if "projection" not in res or res.sizes.get("component", 0) < 3:
            raise AnalysisError("plot_trajectory: found no 3-component 'projection'; expected "
                                "random_projection(ds, n_dims=3). Fix: pass that result.")
        y = res["projection"]
        if y.ndim != 2:
            raise AnalysisError(f"plot_trajectory: found dims {y.dims}; expected (stimulus, component). "
                                "Fix: select one group first, e.g. res.sel(layer='fc').")
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

