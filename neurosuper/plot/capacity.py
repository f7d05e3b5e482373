"""Figures for feature capacity: capacity against importance, and dimensionality per feature against sparsity.

Both return a :class:`matplotlib.figure.Figure` built without pyplot (no global state, any backend); save it with
``neurosuper._atomic.save_figure(fig, path)`` or ``fig.savefig(path)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import AnalysisError, fail
from ._text import plain_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_capacity", "plot_dimensionality", "KIND_COLORS", "POLYTOPE_LEVELS"]

#: Colours of the three kinds of feature (Scherlis et al.'s monosemantic / polysemantic / ignored).
KIND_COLORS = {"monosemantic": "#1b9e77", "polysemantic": "#7570b3", "ignored": "#bbbbbb"}
#: Capacity levels of known geometries drawn as reference lines (Elhage et al., "The geometry of superposition").
POLYTOPE_LEVELS = {
    1.0: "orthogonal",
    3 / 4: "tetrahedron",
    2 / 3: "triangle",
    1 / 2: "antipodal / square",
    2 / 5: "pentagon",
    3 / 8: "square antiprism",
}


def _new_axes(ax: Any, size: tuple[float, float]) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def _log_x(ax: Any) -> None:
    """Log x axis labelled at 1, 2, 5 × 10^k in plain numbers (no crowded minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _frame(result: xr.Dataset, importance: Any, tol: float) -> tuple[pd.DataFrame, str]:
    from ..capacity.measures import classify

    if "capacity" not in result:
        raise fail(
            "plot_capacity: result",
            f"variables {sorted(map(str, result.data_vars))}",
            "a 'capacity' variable",
            "pass the result of toy.train, capacity.superposition or capacity.feature_capacity",
            AnalysisError,
        )
    cap = result["capacity"]
    fdim = cap.dims[-1]
    if cap.ndim != 1:
        raise fail(
            "plot_capacity: capacity",
            f"dims {cap.dims}",
            "one dim (the features)",
            "select one setting first, e.g. sweep.isel(density=0)",
            AnalysisError,
        )
    if importance is not None:
        x, label = np.asarray(importance, dtype=float), "importance"
    elif "importance" in result and result["importance"].dims == (fdim,):
        x, label = result["importance"].values, "importance I_i"
    elif "norm" in result:
        x, label = result["norm"].values, result["norm"].attrs.get("long_name", "‖W_i‖")
    else:
        x, label = np.ones(cap.size), "feature"
    if len(x) != cap.size:
        raise fail(
            "plot_capacity: importance",
            f"{len(x)} values",
            f"{cap.size}, one per feature",
            "pass one importance per feature",
            AnalysisError,
        )
    kind = result["kind"].values if "kind" in result and result["kind"].dims == (fdim,) else classify(cap.values, tol)
    df = pd.DataFrame({label: x, "capacity": cap.values, "kind": kind})
    group = result.attrs.get("groupby")
    if group and group in result.coords and result[group].dims == (fdim,):
        df[group] = result[group].values.astype(str)
    return df, label


@plain_text
def plot_capacity(
    result: xr.Dataset, *, importance: Any = None, tol: float | None = None, ax: Any = None, title: str | None = None
) -> Figure:
    """Capacity C_i of each feature against its importance, coloured monosemantic / polysemantic / ignored.

    ``result``: :func:`neurosuper.toy.train` (x = the features' importance), :func:`neurosuper.capacity.superposition`
    or :func:`~neurosuper.capacity.feature_capacity` (x = ``importance=`` if given, else ‖W_i‖ — for discovered
    features the RMS size of the atom's contribution; one marker per ``layer``/``area``). Dashed lines mark 1 − tol
    and tol. Log x when the values span more than a factor 3.
    """
    import seaborn as sns

    tol = float(result.attrs.get("tol", 0.02) if tol is None else tol)
    df, label = _frame(result, importance, tol)
    fig, ax = _new_axes(ax, (5.2, 3.6))
    group = next((c for c in df.columns if c not in (label, "capacity", "kind")), None)
    if group is not None and df[group].nunique() < 2:
        group = None
    sns.scatterplot(
        data=df,
        x=label,
        y="capacity",
        hue="kind",
        style=group,
        palette=KIND_COLORS,
        hue_order=[k for k in KIND_COLORS if k in set(df["kind"])],
        ax=ax,
        s=36,
        edgecolor="none",
        alpha=0.85,
    )
    pos = df[label][df[label] > 0]
    if len(pos) and pos.max() / pos.min() > 3:
        _log_x(ax)
    for y in (1 - tol, tol):
        ax.axhline(y, color="0.5", lw=0.7, ls="--", zorder=0)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("capacity C_i (dimensions)")
    n = {k: int((df["kind"] == k).sum()) for k in KIND_COLORS}
    ax.set_title(
        title
        or f"capacity vs {label.split(' ')[0]}: {n['monosemantic']} mono, {n['polysemantic']} poly, "
        f"{n['ignored']} ignored",
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))  # beside: never on a point
    return fig


@plain_text
def plot_dimensionality(
    result: xr.Dataset, *, ax: Any = None, title: str | None = None, min_norm: float = 0.3
) -> Figure:
    """Elhage et al.'s Fig. "feature dimensionality": D_i of every feature against 1/(1 − S) = 1/density.

    ``result``: a :func:`neurosuper.toy.sweep` over ``density`` (or over ``kurtosis``: x = K = 1/density). Dots:
    D_i of each feature with ‖W_i‖ ≥ ``min_norm`` · the largest (ignored features would sit at 0); line: D* = m/‖W‖²_F
    per setting; grey lines: the capacity of the known geometries (:data:`POLYTOPE_LEVELS`).
    """
    dim = next((d for d in ("density", "kurtosis") if d in result.dims), None)
    if dim is None or "capacity" not in result:
        raise fail(
            "plot_dimensionality: result",
            f"dims {tuple(map(str, result.dims))}",
            "a toy.sweep over density (or kurtosis)",
            "pass toy.sweep(..., density=[1, 0.3, 0.1, 0.03])",
            AnalysisError,
        )
    extra = [d for d in result["capacity"].dims if d not in (dim, "feature")]
    res = result.isel({d: 0 for d in extra}) if extra else result
    x = 1.0 / res["density"].values if dim == "density" else res["kurtosis"].values
    fig, ax = _new_axes(ax, (5.6, 3.8))
    for level, name in POLYTOPE_LEVELS.items():
        ax.axhline(level, color="0.8", lw=0.8, zorder=0)
        ax.text(x.max() * 1.08, level, name, fontsize=7, va="center", color="0.45")
    w = res["W"].transpose(dim, "feature", "hidden").values
    norms = np.sqrt((w * w).sum(-1))
    cap = res["capacity"].transpose(dim, "feature").values
    keep = norms >= min_norm * norms.max(axis=1, keepdims=True)
    xs = np.broadcast_to(x[:, None], cap.shape)
    ax.scatter(xs[keep], cap[keep], s=14, color="#7570b3", alpha=0.6, edgecolor="none", label="D_i (feature)")
    dstar = w.shape[-1] / (w * w).sum(axis=(1, 2))
    ax.plot(x, dstar, color="k", lw=1.4, label="D* = m / ‖W‖²_F")
    _log_x(ax)
    ax.set_xlim(x.min() / 1.2, x.max() * 3.5)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("1 / (1 − S) = 1 / density" if dim == "density" else "kurtosis K")
    ax.set_ylabel("dimensions per feature")
    sub = f" ({', '.join(f'{d}={res[d].item():g}' for d in extra)})" if extra else ""
    ax.set_title(
        title or f"dimensionality per feature, n={res.sizes['feature']}, m={res.sizes['hidden']}{sub}", fontsize=10
    )
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return fig
