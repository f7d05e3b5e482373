"""Figures for toy models: the feature geometry of m = 2 models (polygons), and the quadratic model's phase diagram.

Both return a :class:`matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError, fail
from ._text import plain_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_geometry", "plot_phase_diagram", "model_title"]


def _panels(result: xr.Dataset, max_panels: int) -> list[tuple[str, xr.Dataset]]:
    dims = [d for d in result["W"].dims if d not in ("feature", "hidden")]
    if not dims:
        return [("", result)]
    out = []
    for idx in np.ndindex(*[result.sizes[d] for d in dims]):
        sel = dict(zip(dims, idx, strict=True))
        label = ", ".join(f"{d} {result[d].values[i]:.3g}" for d, i in sel.items())
        out.append((label, result.isel(sel)))
    if len(out) > max_panels:
        pick = np.unique(np.linspace(0, len(out) - 1, max_panels).round().astype(int))
        out = [out[i] for i in pick]
    return out


def _draw_one(ax: Any, w: np.ndarray, importance: np.ndarray, cap: np.ndarray, cmap: Any, label: str) -> None:
    from matplotlib.colors import Normalize

    norms = np.sqrt((w * w).sum(1))
    top = norms.max() if norms.max() > 0 else 1.0
    live = norms >= 0.1 * top
    ang = np.arctan2(w[:, 1], w[:, 0])
    order = np.flatnonzero(live)[np.argsort(ang[live])]
    if len(order) >= 3:
        ring = np.r_[order, order[:1]]
        ax.fill(w[ring, 0], w[ring, 1], color="0.92", zorder=0)
        ax.plot(w[ring, 0], w[ring, 1], color="0.6", lw=0.8, zorder=1)
    norm = Normalize(vmin=0.0, vmax=max(float(importance.max()), 1e-12))
    for i in np.argsort(importance):
        color = cmap(norm(importance[i]))
        ax.plot([0, w[i, 0]], [0, w[i, 1]], color=color, lw=2, zorder=2)
        ax.scatter([w[i, 0]], [w[i, 1]], color=color, s=18, zorder=3)
        if live[i]:
            ax.annotate(
                f"{cap[i]:.2f}",
                (w[i, 0], w[i, 1]),
                textcoords="offset points",
                xytext=(6 * np.cos(ang[i]), 6 * np.sin(ang[i])),
                fontsize=7,
                ha="center",
                va="center",
            )
    lim = 1.35 * top
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.axvline(0, color="0.85", lw=0.5, zorder=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{label}\nΣC = {cap.sum():.2f}" if label else f"ΣC = {cap.sum():.2f}", fontsize=9)


@plain_text
def plot_geometry(result: xr.Dataset, *, max_panels: int = 6, title: str | None = None) -> Figure:
    """The columns of W of an m = 2 toy model as vectors in the plane (Elhage et al.'s pentagon figures).

    ``result``: :func:`neurosuper.toy.train` (one panel) or :func:`neurosuper.toy.sweep` (one panel per setting, at
    most ``max_panels``). Each feature W_i is a segment from the origin coloured by its importance (viridis: dark =
    least important) and labelled with its capacity; the polygon joins the represented features (‖W_i‖ ≥ 0.1 · the
    largest) in angular order.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    if not isinstance(result, xr.Dataset) or "W" not in result:
        raise fail(
            "plot_geometry: result",
            f"a {type(result).__name__}",
            "a toy.train or toy.sweep Dataset",
            "pass r = neurosuper.toy.train(n, 2, ...)",
            AnalysisError,
        )
    if result.sizes["hidden"] != 2:
        raise fail(
            "plot_geometry: W",
            f"{result.sizes['hidden']} hidden dims",
            "m = 2 (a plane)",
            "train with n_hidden=2, or use plot.capacity.plot_capacity",
            AnalysisError,
        )
    panels = _panels(result, max_panels)
    fig = Figure(figsize=(2.3 * len(panels) + 0.8, 2.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    cmap = matplotlib.colormaps["viridis"]
    vmax = 0.0
    for ax, (label, one) in zip(axes, panels, strict=True):
        imp = one["importance"].values if "importance" in one else np.ones(one.sizes["feature"])
        vmax = max(vmax, float(imp.max()))
        _draw_one(ax, one["W"].transpose("feature", "hidden").values, imp, one["capacity"].values, cmap, label)
    fig.colorbar(ScalarMappable(norm=Normalize(0, vmax), cmap=cmap), ax=list(axes), shrink=0.8, label="importance")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


@plain_text
def plot_phase_diagram(result: xr.Dataset, *, ax: Any = None, title: str | None = None) -> Figure:
    """Scherlis et al.'s two-features-in-one-dimension phase diagram: trained capacity of feature 2 over
    (kurtosis K, importance ratio r), with the closed-form boundary r = 2/(K − 1) (K > 3) drawn over it.

    ``result``: :func:`neurosuper.toy.phase_diagram`. Colour: trained C_2; white dots: points where the trained model
    represents feature 2; red line: the closed-form boundary; dotted line: K = 3.
    """
    from matplotlib.figure import Figure

    need = ("capacity", "represented", "boundary")
    if not isinstance(result, xr.Dataset) or any(v not in result for v in need):
        raise fail(
            "plot_phase_diagram: result",
            f"a {type(result).__name__}",
            "the Dataset toy.phase_diagram returns",
            "pass neurosuper.toy.phase_diagram(...)",
            AnalysisError,
        )
    if ax is None:
        fig = Figure(figsize=(5.4, 3.9), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    k = result["kurtosis"].values
    r = result["importance_ratio"].values
    c2 = result["capacity"].sel(feature=1).transpose("importance_ratio", "kurtosis").values
    mesh = ax.pcolormesh(k, r, c2, shading="nearest", cmap="magma", vmin=0, vmax=0.5)
    fig.colorbar(mesh, ax=ax, label="capacity of feature 2 (trained)")
    rep = result["represented"].transpose("importance_ratio", "kurtosis").values
    kk, rr = np.meshgrid(k, r)
    ax.scatter(kk[rep], rr[rep], s=7, color="white", label="feature 2 represented (trained)")
    fine = np.geomspace(3.0001, k.max() * 1.05, 300)
    ax.plot(fine, 2 / (fine - 1), color="tab:red", lw=2, label="closed form: r = 2/(K − 1)")
    ax.axvline(3, color="tab:red", lw=1, ls=":")
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.set_xlim(k.min() / 1.1, k.max() * 1.1)
    ticks = [t for t in (1, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000) if k.min() / 1.1 <= t <= k.max() * 1.1]
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_ylim(r.min() - 0.03, r.max() + 0.03)
    ax.set_xlabel("kurtosis K (= 1 / density)")
    ax.set_ylabel("importance ratio r = v₂ / v₁")
    agree = float(result["agreement"]) if "agreement" in result else float("nan")
    ax.set_title(title or f"quadratic model, n=2, m=1: {100 * agree:.0f} % agree with the closed form", fontsize=10)
    ax.legend(fontsize=7, loc="lower left", framealpha=0.8)
    return fig


def model_title(result: xr.Dataset) -> str:
    """A trained toy model's title: ``toy model n=5, m=2, density 0.05`` (and the model when it is not relu)."""
    title = f"toy model n={result.sizes['feature']}, m={result.sizes['hidden']}, density {float(result['density']):g}"
    model = result.attrs.get("model", "relu")
    return title if model == "relu" else f"{title}, {model}"
