"""Figures for direction finding: II per method (seaborn), the MEIs of each method's best directions, and the
recovery of planted features.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state, any backend);
save it with ``fig.savefig(path)`` or :func:`neurosuper._atomic.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import AnalysisError, fail
from ._jitter import seeded
from ._text import plain_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_methods", "plot_direction_meis", "plot_recovery"]


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return ""
    if p < 1e-3:
        return "p<0.001"
    return f"p={p:.2g}"


@plain_text
def plot_methods(
    result: xr.Dataset | Mapping[str, xr.Dataset], *, var: str | None = None, ax: Any = None, title: str | None = None
) -> Figure:
    """II (or ``ii_z``) of every direction, per method: violin + strip plot, medians (red) and the test vs units
    (Holm-adjusted p of :func:`~neurosuper.directions.method_stats`).

    ``result``: :func:`neurosuper.directions.compare_methods`'s Dataset, or ``{name: result}`` (e.g. brain and
    network) drawn as panels side by side. ``var`` defaults to ``ii_z`` when present (reference lines at 0 and
    1.96), else ``ii``. Above each method: its median and its Holm-adjusted p against the units.
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    from ..directions import method_stats

    results = {None: result} if isinstance(result, xr.Dataset) else dict(result)
    if not results:
        raise fail("plot_methods", "an empty mapping", "{name: compare_methods result}", "pass a result", AnalysisError)
    for r in results.values():
        if "ii" not in r or "method" not in r.coords:
            raise fail(
                "plot_methods",
                f"a result with variables {list(r.data_vars)}",
                "compare_methods' result",
                "pass neurosuper.directions.compare_methods(ds)",
                AnalysisError,
            )
    var = var or ("ii_z" if all("ii_z" in r for r in results.values()) else "ii")
    if ax is None:
        n_methods = max(len(dict.fromkeys(r["method"].values.tolist())) for r in results.values())
        fig = Figure(figsize=(0.3 + (0.85 * n_methods + 0.9) * len(results), 4.0), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(results), squeeze=False)[0])
    else:
        fig, axes = ax.figure, np.atleast_1d(ax)
    for a, (name, res) in zip(axes, results.items(), strict=False):
        order = list(dict.fromkeys(res["method"].values.tolist()))
        df = pd.DataFrame({"method": res["method"].values, var: res[var].values}).dropna()
        palette = {
            m: ("0.6" if m in ("units", "random") else sns.color_palette("deep")[i % 10]) for i, m in enumerate(order)
        }
        sns.violinplot(
            data=df,
            x="method",
            y=var,
            hue="method",
            order=order,
            palette=palette,
            ax=a,
            inner=None,
            cut=0,
            linewidth=0.6,
            density_norm="width",
            legend=False,
        )
        with seeded():  # the same result, the same figure
            sns.stripplot(data=df, x="method", y=var, order=order, color="k", size=1.8, alpha=0.45, jitter=0.25, ax=a)
        meds = df.groupby("method")[var].median()
        a.scatter([order.index(m) for m in meds.index], meds.values, marker="_", s=260, color="C3", lw=2, zorder=5)
        if var == "ii_z":
            for y, style in ((0, "-"), (1.96, ":")):
                a.axhline(y, color="0.4", lw=0.8, ls=style, zorder=0)
        ms = method_stats(res)
        top = a.get_ylim()[1]
        for i, m in enumerate(order):
            med = float(ms["median_ii_z" if var == "ii_z" else "median_ii"].sel({"method": m}))
            p = float(ms["p_vs_units_holm"].sel({"method": m}))  # the decision: Holm across methods
            a.text(i, top, f"{med:.2g}\n{_p_text(p)}", ha="center", va="bottom", fontsize=6.5)
        a.set_xlabel("")
        a.set_ylabel({"ii": "interpretability index", "ii_z": "II z-score vs null"}.get(var, var))
        a.tick_params(axis="x", rotation=35, labelsize=8)
        n_score = res.attrs.get("n_score", "?")
        how = "in-sample" if res.attrs.get("in_sample") else f"scored on {n_score} held-out stimuli"
        head = f"{name}: " if name is not None else ""
        a.set_title(
            title or f"{head}{res.attrs.get('similarity', '?')}, k={res.attrs.get('k', '?')}, {how}",
            fontsize=8.5,
            pad=22,
        )
    return fig


def _stimulus_cell(ax: Any, ds: xr.Dataset, sid: Any, lims: tuple[float, float] | None, cmap: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ids = ds["stimulus"].values
    found = np.flatnonzero(ids == sid)
    if not found.size:
        return
    pos = int(found[0])
    label = next(
        (str(ds[c].values[pos]) for c in ("label", "category") if c in ds.coords and ds[c].dims == ("stimulus",)), None
    )
    if "stimuli" in ds and ds["stimuli"].ndim in (3, 4):
        img = np.asarray(ds["stimuli"].values[pos], dtype=float)
        lo, hi = lims or (float(img.min()), float(img.max()))
        if img.ndim == 3:
            ax.imshow(np.clip((img - lo) / (hi - lo or 1.0), 0, 1))
        else:
            ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi)
        if label is not None:
            ax.set_xlabel(label, fontsize=5.5, labelpad=1)
        return
    if "stimuli" in ds and ds["stimuli"].ndim == 2:
        v = np.asarray(ds["stimuli"].values[pos], dtype=float)
        if v.size == 2:  # a 2-D feature (e.g. movement direction): an arrow from the origin
            r = float(np.abs(ds["stimuli"].values).max()) or 1.0
            ax.annotate("", xy=(v[0], v[1]), xytext=(0, 0), arrowprops={"arrowstyle": "->", "lw": 1.2})
            ax.set_xlim(-r, r)
            ax.set_ylim(-r, r)
            ax.set_aspect("equal")
        else:
            ax.bar(np.arange(v.size), v, color="0.3", width=0.9)
        if label is not None:
            ax.set_xlabel(label, fontsize=5.5, labelpad=1)
        return
    ax.text(
        0.5, 0.5, label if label is not None else str(sid), ha="center", va="center", fontsize=7, transform=ax.transAxes
    )


@plain_text
def plot_direction_meis(
    ds: xr.Dataset,
    result: xr.Dataset,
    *,
    per_method: int = 1,
    methods: Sequence[str] | None = None,
    cmap: str = "gray",
    single_unit_r: float = 0.9,
) -> Figure:
    """The k most exciting stimuli (columns, best first) of each method's best directions (rows, highest II).

    ``ds`` is the set the comparison ran on (its ``stimuli`` are drawn: images; 2-D features as arrows, other
    features as bars; otherwise the stimulus's ``label``). ``result`` is :func:`compare_methods`' Dataset.

    Rows that show nothing new say so in their label: "≈ unit X (r 0.99)" when the direction's held-out
    activations correlate |r| ≥ ``single_unit_r`` with one unit (``nearest_unit_r``: e.g. PCA's first axis, an ICA
    component or an NMF atom that is a single high-variance unit), and "= <direction>" when its k stimuli are the
    same set as an earlier row's (then its II is the same number: the II depends on the set only).
    """
    from matplotlib.figure import Figure

    if "top_stimuli" not in result:
        raise fail(
            "plot_direction_meis",
            f"a result with variables {list(result.data_vars)}",
            "compare_methods' result (top_stimuli)",
            "pass neurosuper.directions.compare_methods(ds)",
            AnalysisError,
        )
    order = list(methods) if methods is not None else list(dict.fromkeys(result["method"].values.tolist()))
    rows = []
    for m in order:
        sel = np.flatnonzero(result["method"].values == m)
        ii = result["ii"].values[sel]
        good = sel[np.isfinite(ii)]
        best = good[np.argsort(-result["ii"].values[good], kind="stable")][:per_method]
        rows.extend(best.tolist())
    if not rows:
        raise fail(
            "plot_direction_meis", "no direction with a finite II", "at least one", "check the result", AnalysisError
        )
    k = result.sizes["rank"]
    fig = Figure(figsize=(1.05 * k + 1.3, 1.05 * len(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(rows), k, squeeze=False)
    lims = None
    if "stimuli" in ds and ds["stimuli"].ndim in (3, 4):
        lims = (float(ds["stimuli"].min()), float(ds["stimuli"].max()))
    notes = _row_notes(result, rows, single_unit_r)
    for r, row in enumerate(rows):
        for c in range(k):
            _stimulus_cell(axes[r, c], ds, result["top_stimuli"].values[row, c], lims, cmap)
        axes[r, 0].set_ylabel(
            f"{result['direction'].values[row]}\nII {float(result['ii'].values[row]):.3g}"
            + "".join(f"\n{n}" for n in notes[r]),
            fontsize=6.5,
        )
    title = f"Most exciting stimuli of each method's best direction ({result.attrs.get('similarity', '?')}, k={k})"
    if any(notes):
        title += (
            f"\n≈ unit: the direction's held-out activations correlate |r| ≥ {single_unit_r:g} with that one unit; "
            "= row: the same k stimuli (so the same II)"
        )
    fig.suptitle(title, fontsize=9 if not any(notes) else 7.5)
    return fig


def _row_notes(result: xr.Dataset, rows: Sequence[int], single_unit_r: float) -> list[list[str]]:
    """Per row: "≈ unit X (r)" when the direction is, on the scored stimuli, one unit, and "= row D" when its k
    stimuli are the same set as an earlier row's (the II depends on the set only, so it is the same too)."""
    notes: list[list[str]] = [[] for _ in rows]
    seen: dict[frozenset, str] = {}
    for r, row in enumerate(rows):
        method = str(result["method"].values[row])
        if method != "units" and "nearest_unit_r" in result:
            rho = float(result["nearest_unit_r"].values[row])
            if np.isfinite(rho) and abs(rho) >= single_unit_r:
                notes[r].append(f"≈ unit {result['nearest_unit'].values[row]} (r {rho:.2f})")
        key = frozenset(result["top_stimuli"].values[row].tolist())
        if key in seen:
            notes[r].append(f"= {seen[key]}")
        else:
            seen[key] = str(result["direction"].values[row])
    return notes


@plain_text
def plot_recovery(recovery: Mapping[str, xr.Dataset], *, ax: Any = None, title: str | None = None) -> Figure:
    """Planted-feature recovery per method: the best |cosine| of every true feature (strip) and the fraction
    above the threshold (bars), from ``{method: feature_recovery(...)}``."""
    import seaborn as sns
    from matplotlib.figure import Figure

    if not recovery:
        raise fail(
            "plot_recovery", "an empty mapping", "{method: feature_recovery result}", "pass some results", AnalysisError
        )
    if ax is None:
        fig = Figure(figsize=(1.0 + 0.8 * len(recovery), 3.4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    names = list(recovery)
    frac = [recovery[m].attrs["fraction_recovered"] for m in names]
    ax.bar(np.arange(len(names)), frac, color="0.85", width=0.7, zorder=0)
    df = pd.concat([pd.DataFrame({"method": m, "best |cos|": recovery[m]["best_cosine"].values}) for m in names])
    with seeded():  # the same result, the same figure
        sns.stripplot(
            data=df, x="method", y="best |cos|", order=names, color="k", size=2, alpha=0.6, jitter=0.25, ax=ax
        )
    thr = next(iter(recovery.values())).attrs.get("threshold", 0.9)
    ax.axhline(thr, color="C3", lw=0.8, ls=":")
    for i, f in enumerate(frac):
        ax.text(i, 1.02, f"{100 * f:.0f}%", ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("")
    ax.set_ylabel(f"best |cosine| per true feature (bars: share > {thr})")
    ax.tick_params(axis="x", rotation=35, labelsize=8)
    ax.set_title(title or "planted features recovered", fontsize=9)
    return fig
