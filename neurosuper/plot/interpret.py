"""Figures for the interpretability index: II distributions per layer/area, and MEI image grids.

Both return a :class:`matplotlib.figure.Figure` built without pyplot (no global state, any backend); save it with
``fig.savefig(path)``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import AnalysisError
from ..prep import group_coord
from ._jitter import seeded
from ._labels import short_label
from ._text import plain_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_ii", "plot_mei_grid"]


def _group_labels(result: xr.Dataset, groupby: str | None) -> tuple[str, np.ndarray]:
    coord = group_coord(result, groupby)
    if coord is None:
        return "all units", np.full(result.sizes["unit"], "all")
    return coord, np.array([short_label(g) for g in np.asarray(result[coord].values).astype(str)], dtype=object)


def _frame(result: xr.Dataset, var: str, groupby: str | None, system: str | None) -> tuple[str, pd.DataFrame]:
    if var not in result or "unit" not in result[var].dims:
        raise AnalysisError(
            f"plot_ii: found no per-unit variable {var!r}; expected 'ii' or 'ii_z' from "
            "interpretability_index. Fix: pass the index result."
        )
    values = result[var]
    label, groups = _group_labels(result, groupby)
    if system is not None:
        system = short_label(system)
        groups = np.array([system if label == "all units" else f"{system}\n{g}" for g in groups])
    frames = []
    for which in values["which"].values if "which" in values.dims else [None]:
        v = values.sel(which=which) if which is not None else values
        frames.append(
            pd.DataFrame({"group": groups, var: v.values, "which": which or result.attrs.get("which", "top")})
        )
    df = pd.concat(frames, ignore_index=True).dropna(subset=[var])
    if var == "ii" and "ii_null" in result:
        name = "null" if system is None else f"{system}\nnull"
        df = pd.concat(
            [df, pd.DataFrame({"group": name, var: result["ii_null"].values, "which": "null"})], ignore_index=True
        )
    return label, df


def _settings(results: dict[str | None, xr.Dataset]) -> str:
    """``"gabor, k=5"``, or one such text per system when they differ."""
    texts = {name: f"{r.attrs.get('similarity', '?')}, k={r.attrs.get('k', '?')}" for name, r in results.items()}
    if len(set(texts.values())) == 1:
        return next(iter(texts.values()))
    return "; ".join(f"{short_label(name)}: {t}" for name, t in texts.items())


@plain_text
def plot_ii(
    result: xr.Dataset | Mapping[str, xr.Dataset],
    *,
    groupby: str | None = "auto",
    var: str | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Figure:
    """Violin + strip plot of ``result[var]`` per ``layer``/``area`` (the II distributions), with the null.

    ``result``: one :func:`~neurosuper.interpret.interpretability_index` result, or a mapping ``{name: result}``
    (e.g. ``{"brain": ..., "network": ...}``) drawn side by side on one axis, groups labelled ``name`` /
    ``name + group``. ``groupby``: ``"auto"`` (``layer``, else ``area``), a unit coord, or ``None``. ``var``
    defaults to ``ii_z`` when every result has a null (reference lines at 0 and ±1.96), else ``ii`` (then a null
    sample ``ii_null``, if present, is drawn as a grey violin labelled "null"). The title names the similarity and
    k.
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    results: dict[str | None, xr.Dataset] = (
        {None: result} if isinstance(result, xr.Dataset) else {k: v for k, v in result.items()}
    )
    if not results:
        raise AnalysisError(
            "plot_ii: found an empty mapping; expected {name: interpretability_index result}. "
            "Fix: pass at least one result."
        )
    var = var or ("ii_z" if all("ii_z" in r for r in results.values()) else "ii")
    label, frames = "all units", []
    for name, res in results.items():
        label, df = _frame(res, var, groupby, name)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    if len(results) > 1:
        label = "system and group"
    if ax is None:
        fig = Figure(figsize=(max(4.0, 1.6 + 1.3 * df["group"].nunique()), 3.6), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    hue = "which" if df["which"].nunique() > 1 else None
    shade = {"color": "0.85"} if hue is None else {"palette": ["0.85", "0.65", "0.95"][: df["which"].nunique()]}
    sns.violinplot(data=df, x="group", y=var, hue=hue, ax=ax, inner=None, cut=0, linewidth=0.8, **shade)
    with seeded():  # the same result, the same figure
        sns.stripplot(
            data=df[df["which"] != "null"],
            x="group",
            y=var,
            hue=hue,
            ax=ax,
            size=2.5,
            alpha=0.6,
            dodge=hue is not None,
            legend=False,
            jitter=0.25,
        )
    if var == "ii_z":
        for y, style in ((0, "-"), (1.96, ":"), (-1.96, ":")):
            ax.axhline(y, color="0.4", lw=0.8, ls=style, zorder=0)
    ax.set_xlabel(label)
    ax.set_ylabel({"ii": "interpretability index", "ii_z": "II z-score vs null"}.get(var, var))
    nulls = {r.attrs.get("null") for r in results.values()}
    null_text = f" vs {nulls.pop()} null" if var == "ii_z" and len(nulls) == 1 else ""
    what = "II z" if var == "ii_z" else "II"
    text = short_label(title, 300) if title else f"{what}{null_text} per {short_label(label)} ({_settings(results)})"
    width = int(fig.get_figwidth() * 11)  # characters that fit at fontsize 10: long titles wrap, never clip
    ax.set_title(textwrap.fill(text, width) if len(text) > width else text, fontsize=10)
    return fig


def _pick_units(result: xr.Dataset, n_units: int) -> np.ndarray:
    ii = result["ii"].values if result["ii"].ndim == 1 else result["ii"].sel(which="top").values
    order = np.argsort(-np.where(np.isnan(ii), -np.inf, ii), kind="stable")
    order = order[~np.isnan(ii[order])]
    if len(order) <= n_units:
        return order
    return order[np.unique(np.linspace(0, len(order) - 1, n_units).round().astype(int))]


@plain_text
def plot_mei_grid(
    ds: xr.Dataset, result: xr.Dataset, *, units: Sequence[Any] | None = None, n_units: int = 6, cmap: str = "gray"
) -> Figure:
    """Grid of the MEIs (columns, best first) of chosen units (rows, titled with unit id and II).

    ``units``: unit ids to show; default ``n_units`` units spread evenly from the highest to the lowest II.
    Needs image stimuli (stimulus, y, x[, channel]) in ``ds``. When the stimuli carry ``source_image``,
    ``image_y``, ``image_x`` coords, each image is labelled with its source and position, so overlapping crops
    of one photograph are visible at a glance.
    """
    from matplotlib.figure import Figure

    if "stimuli" not in ds or ds["stimuli"].ndim not in (3, 4):
        found = "no 'stimuli'" if "stimuli" not in ds else f"stimuli with dims {ds['stimuli'].dims}"
        raise AnalysisError(
            f"plot_mei_grid: found {found}; expected images (stimulus, y, x[, channel]). "
            "Fix: plot the II distribution (plot_ii) for feature stimuli instead."
        )
    mei = result["mei"] if result["mei"].ndim == 2 else result["mei"].sel(which="top")
    ii = result["ii"] if result["ii"].ndim == 1 else result["ii"].sel(which="top")
    rows = (
        np.asarray([int(np.flatnonzero(result["unit"].values == u)[0]) for u in units])
        if units is not None
        else _pick_units(result, n_units)
    )
    k = mei.sizes["mei"]
    fig = Figure(figsize=(1.2 * k + 0.6, 1.25 * max(len(rows), 1) + 0.3), layout="constrained")
    axes = np.atleast_2d(fig.subplots(max(len(rows), 1), k, squeeze=False))
    stim = ds["stimuli"]
    lo, hi = float(stim.min()), float(stim.max())
    sources = (
        tuple(np.asarray(ds[c].values) for c in ("source_image", "image_y", "image_x"))
        if all(c in ds.coords for c in ("source_image", "image_y", "image_x"))
        else None
    )
    for r, row in enumerate(rows):
        for c in range(k):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            sid = mei.values[row, c]
            if sid in ds["stimulus"].values:
                img = np.asarray(stim.sel(stimulus=sid).values, dtype=float)
                img = (img - lo) / (hi - lo or 1.0) if img.ndim == 3 else img
                ax.imshow(
                    img,
                    cmap=cmap if img.ndim == 2 else None,
                    vmin=lo if img.ndim == 2 else None,
                    vmax=hi if img.ndim == 2 else None,
                )
                if sources is not None:
                    pos = int(np.flatnonzero(ds["stimulus"].values == sid)[0])
                    name = short_label(str(sources[0][pos]).rsplit("/", 1)[-1].split(".")[0], 20)
                    ax.set_xlabel(f"{name} y{int(sources[1][pos])} x{int(sources[2][pos])}", fontsize=5, labelpad=1)
            if c == 0:
                ax.set_ylabel(f"{short_label(result['unit'].values[row])}\nII {float(ii.values[row]):.3g}", fontsize=7)
    fig.suptitle(f"{k} most exciting stimuli per unit ({result.attrs.get('similarity', '?')}, k={k})", fontsize=9)
    return fig
