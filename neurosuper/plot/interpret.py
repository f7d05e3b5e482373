"""Figures for the interpretability index: II distributions per layer/area, and MEI image grids.

Both return a :class:`matplotlib.figure.Figure` built without pyplot (no global state, any backend); save it with
``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import AnalysisError

__all__ = ["plot_ii", "plot_mei_grid"]


def _group_labels(result: xr.Dataset, by: str | None) -> tuple[str, np.ndarray]:
    if by == "auto":
        by = next((c for c in ("layer", "area") if c in result.coords and result[c].dims == ("unit",)), None)
    if by is None:
        return "all units", np.full(result.sizes["unit"], "all")
    if by not in result.coords:
        raise AnalysisError(f"plot_ii: found no unit coord {by!r}; expected one of {sorted(map(str, result.coords))}. "
                            "Fix: by='layer', by='area' or by=None.")
    return by, np.asarray(result[by].values).astype(str)


def plot_ii(result: xr.Dataset, *, by: str | None = "auto", var: str | None = None, ax: Any = None,
            title: str | None = None):
    """Violin + strip plot of ``result[var]`` per ``layer``/``area`` (the II distributions), with the null.

    ``var`` defaults to ``ii_z`` when the result has a null (reference lines at 0 and ±1.96), else ``ii`` (then the
    null sample ``ii_null``, if present, is drawn as a grey violin labelled "null").
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    var = var or ("ii_z" if "ii_z" in result else "ii")
    if var not in result or "unit" not in result[var].dims:
        raise AnalysisError(f"plot_ii: found no per-unit variable {var!r}; expected 'ii' or 'ii_z' from "
                            "interpretability_index. Fix: pass the index result.")
    values = result[var]
    label, groups = _group_labels(result, by)
    frames = []
    for which in (values["which"].values if "which" in values.dims else [None]):
        v = values.sel(which=which) if which is not None else values
        frames.append(pd.DataFrame({label: groups, var: v.values, "which": which or result.attrs.get("which", "top")}))
    df = pd.concat(frames, ignore_index=True).dropna(subset=[var])
    if var == "ii" and "ii_null" in result:
        df = pd.concat([df, pd.DataFrame({label: "null", var: result["ii_null"].values, "which": "null"})],
                       ignore_index=True)
    if ax is None:
        fig = Figure(figsize=(1.6 + 1.3 * df[label].nunique(), 3.6), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    hue = "which" if df["which"].nunique() > 1 else None
    shade = {"color": "0.85"} if hue is None else {"palette": ["0.85", "0.65", "0.95"][: df["which"].nunique()]}
    sns.violinplot(data=df, x=label, y=var, hue=hue, ax=ax, inner=None, cut=0, linewidth=0.8, **shade)
    sns.stripplot(data=df[df["which"] != "null"], x=label, y=var, hue=hue, ax=ax, size=2.5, alpha=0.6,
                  dodge=hue is not None, legend=False, jitter=0.25)
    if var == "ii_z":
        for y, style in ((0, "-"), (1.96, ":"), (-1.96, ":")):
            ax.axhline(y, color="0.4", lw=0.8, ls=style, zorder=0)
    sim = result.attrs.get("similarity", "?")
    ax.set_ylabel({"ii": "interpretability index", "ii_z": "II z-score vs null"}.get(var, var))
    ax.set_title(title or f"II per {label} ({sim}, k={result.attrs.get('k', '?')})", fontsize=10)
    return fig


def _pick_units(result: xr.Dataset, n_units: int) -> np.ndarray:
    ii = result["ii"].values if result["ii"].ndim == 1 else result["ii"].sel(which="top").values
    order = np.argsort(-np.where(np.isnan(ii), -np.inf, ii), kind="stable")
    order = order[~np.isnan(ii[order])]
    if len(order) <= n_units:
        return order
    return order[np.unique(np.linspace(0, len(order) - 1, n_units).round().astype(int))]


def plot_mei_grid(ds: xr.Dataset, result: xr.Dataset, *, units: Sequence[Any] | None = None, n_units: int = 6,
                  cmap: str = "gray"):
    """Grid of the MEIs (columns, best first) of chosen units (rows, titled with unit id and II).

    ``units``: unit ids to show; default ``n_units`` units spread evenly from the highest to the lowest II.
    Needs image stimuli (stimulus, y, x[, channel]) in ``ds``.
    """
    from matplotlib.figure import Figure

    if "stimuli" not in ds or ds["stimuli"].ndim not in (3, 4):
        found = "no 'stimuli'" if "stimuli" not in ds else f"stimuli with dims {ds['stimuli'].dims}"
        raise AnalysisError(f"plot_mei_grid: found {found}; expected images (stimulus, y, x[, channel]). "
                            "Fix: plot the II distribution (plot_ii) for feature stimuli instead.")
    mei = result["mei"] if result["mei"].ndim == 2 else result["mei"].sel(which="top")
    ii = result["ii"] if result["ii"].ndim == 1 else result["ii"].sel(which="top")
    rows = (np.asarray([int(np.flatnonzero(result["unit"].values == u)[0]) for u in units]) if units is not None
            else _pick_units(result, n_units))
    k = mei.sizes["mei"]
    fig = Figure(figsize=(1.2 * k + 0.6, 1.25 * max(len(rows), 1) + 0.3), layout="constrained")
    axes = np.atleast_2d(fig.subplots(max(len(rows), 1), k, squeeze=False))
    stim = ds["stimuli"]
    lo, hi = float(stim.min()), float(stim.max())
    for r, row in enumerate(rows):
        for c in range(k):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            sid = mei.values[row, c]
            if sid in ds["stimulus"].values:
                img = np.asarray(stim.sel(stimulus=sid).values, dtype=float)
                img = (img - lo) / (hi - lo or 1.0) if img.ndim == 3 else img
                ax.imshow(img, cmap=cmap if img.ndim == 2 else None, vmin=lo if img.ndim == 2 else None,
                          vmax=hi if img.ndim == 2 else None)
            if c == 0:
                ax.set_ylabel(f"{result['unit'].values[row]}\nII {float(ii.values[row]):.3g}", fontsize=7)
    fig.suptitle(f"most exciting stimuli ({result.attrs.get('similarity', '?')})", fontsize=9)
    return fig
