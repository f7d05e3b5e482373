"""Figures for :mod:`neurosuper.compare`: RDM heatmaps ordered by a stimulus coord, the layer profile with the
noise-ceiling band, and the side-by-side summary table as bar panels.

All return a :class:`matplotlib.figure.Figure` built without pyplot (no global state, any backend); save it with
``fig.savefig(path)`` (or :func:`neurosuper._atomic.save_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError
from ._text import plain_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_rdm", "plot_rdms", "plot_rdm_pair", "plot_profile", "plot_side_by_side"]


def _new_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Figure, Any]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _check_rdm(rdm: Any) -> xr.DataArray:
    if not isinstance(rdm, xr.DataArray) or set(rdm.dims) != {"stimulus_a", "stimulus_b"}:
        raise AnalysisError(
            "plot_rdm: found no RDM; expected a DataArray with dims (stimulus_a, stimulus_b) from "
            "neurosuper.compare.rdm or as_rdm. Fix: plot_rdm(neurosuper.compare.rdm(ds))."
        )
    return rdm.transpose("stimulus_a", "stimulus_b")


#: Up to this many stimuli, the clustering order of :func:`plot_rdms` (``cluster_on``) is refined by the optimal leaf
#: ordering (O(n³): 1.5 s at 1,000 stimuli, 10 s at 2,000); above it, the dendrogram's own leaf order is used.
OPTIMAL_LEAF_MAX = 1000


def _cluster_positions(rdm: xr.DataArray) -> np.ndarray:
    """The stimuli's positions in the leaf order of an average-linkage (UPGMA) hierarchical clustering of the RDM
    (``scipy.cluster.hierarchy.linkage``), refined by the optimal leaf ordering of Bar-Joseph, Gifford & Jaakkola
    2001 (neighbouring leaves as similar as possible; ``optimal_leaf_ordering``) up to :data:`OPTIMAL_LEAF_MAX`
    stimuli — so stimuli that the RDM groups together sit in contiguous blocks."""
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import squareform

    d = np.asarray(rdm.values, dtype=np.float64)
    if len(d) < 3:
        return np.arange(len(d))
    condensed = squareform((d + d.T) / 2, checks=False)
    condensed = np.maximum(condensed, 0.0)  # e.g. crossnobis distances can be slightly negative
    tree = linkage(condensed, "average")
    if len(d) <= OPTIMAL_LEAF_MAX:
        tree = optimal_leaf_ordering(tree, condensed)
    return leaves_list(tree)


def _clustered(rdms: Mapping[str, xr.DataArray], cluster_on: str) -> tuple[dict[str, xr.DataArray], str]:
    """``rdms`` with a stimulus coord ``"clustering of <cluster_on>"``: each stimulus's place in the clustering order
    of that RDM (matched by stimulus id), and the coord's name."""
    if cluster_on not in rdms:
        raise AnalysisError(
            f"plot_rdms: cluster_on={cluster_on!r}: found no RDM of that title (titles: {list(rdms)}); expected "
            f"one of them. Fix: cluster_on={next(iter(rdms))!r}."
        )
    ref = _check_rdm(rdms[cluster_on])
    ids = ref["stimulus_a"].values[_cluster_positions(ref)].tolist()
    place = {sid: i for i, sid in enumerate(ids)}
    key = f"clustering of {cluster_on}"
    out = {}
    for name, r in rdms.items():
        r = _check_rdm(r)
        own = r["stimulus_a"].values.tolist()
        missing = [sid for sid in own if sid not in place]
        if missing:
            raise AnalysisError(
                f"plot_rdms: RDM {name!r} has {len(missing)} stimuli that {cluster_on!r} lacks (e.g. {missing[0]!r}); "
                "expected the same stimuli in every panel. Fix: align them first (neurosuper.compare.align)."
            )
        out[name] = r.assign_coords({key: ("stimulus_a", np.array([place[sid] for sid in own]))})
    return out, key


def _order(rdm: xr.DataArray, order_by: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    n = rdm.sizes["stimulus_a"]
    if order_by is None:
        return np.arange(n), None
    if order_by not in rdm.coords or rdm[order_by].dims != ("stimulus_a",):
        names = sorted(str(c) for c in rdm.coords if rdm[c].dims == ("stimulus_a",) and c != "stimulus_a")
        fix = names[0] if names else None
        raise AnalysisError(
            f"plot_rdm: order_by={order_by!r}: found no such stimulus coord (coords along "
            f"stimulus_a: {names}); expected one of them. Fix: order_by={fix!r}."
        )
    values = np.asarray(rdm[order_by].values)
    return np.argsort(values, kind="stable"), values


@plain_text
def plot_rdm(
    matrix: xr.DataArray,
    *,
    order_by: str | None = None,
    rank: bool = False,
    ax: Any = None,
    title: str | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
) -> Figure:
    """Heatmap of an RDM (``matrix``, e.g. from :func:`neurosuper.compare.rdm`), its stimuli ordered by the
    stimulus coord ``order_by`` (e.g. ``category``).

    A categorical coord (strings, or few distinct values) is marked by lines between its blocks and labels on
    the axes; a continuous one is sorted by value. ``rank=True`` shows the dissimilarities as percentiles of the
    off-diagonal entries (as in Kriegeskorte et al. 2008), so RDMs on different scales look comparable.
    """
    rdm = _check_rdm(matrix)
    fig, ax = _new_axes(ax, (5.0, 4.4))
    order, values = _order(rdm, order_by)
    d = np.asarray(rdm.values, dtype=np.float64)[np.ix_(order, order)]
    label = str(rdm.attrs.get("metric", "dissimilarity"))
    if rank:
        from scipy.stats import rankdata

        off = ~np.eye(len(d), dtype=bool)
        pct = np.zeros_like(d)
        pct[off] = 100 * (rankdata(d[off]) - 0.5) / off.sum()
        d, label = pct, f"{label} (percentile)"
    im = ax.imshow(d, cmap=cmap, interpolation="nearest")
    if colorbar:
        fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    n = len(d)
    if values is not None:
        sv = values[order]
        categorical = sv.dtype.kind in "OUSb" or len(np.unique(sv)) <= min(20, n // 2)
        if categorical:
            edges = np.flatnonzero(sv[1:] != sv[:-1]) + 0.5
            for e in edges:
                ax.axhline(e, color="white", lw=0.8)
                ax.axvline(e, color="white", lw=0.8)
            bounds = np.r_[-0.5, edges, n - 0.5]
            centres = (bounds[:-1] + bounds[1:]) / 2
            starts = np.r_[0, (edges + 0.5).astype(int)]
            names = [str(sv[s]) for s in starts]
            ax.set_xticks(centres, names, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(centres, names, fontsize=8)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_xlabel(f"stimulus (ordered by {order_by})")
        ax.set_ylabel(f"stimulus (ordered by {order_by})")
    else:
        ax.set_xlabel("stimulus")
        ax.set_ylabel("stimulus")
    ax.set_title(title or f"RDM ({label}, {n} stimuli)", fontsize=10)
    return fig


@plain_text
def plot_rdms(
    rdms: Mapping[str, xr.DataArray],
    *,
    order_by: str | None = None,
    rank: bool = True,
    ncols: int | None = None,
    cmap: str = "viridis",
    cluster_on: str | None = None,
) -> Figure:
    """Several RDMs side by side (e.g. the brain and each layer), same stimulus order, percentile colours.

    ``order_by``: a stimulus coord that orders every panel (e.g. ``category``). ``cluster_on``: instead, the title
    of one RDM whose hierarchical clustering orders every panel (:func:`_cluster_positions`, matched by stimulus id)
    — the stimulus groups that RDM separates become blocks, and a panel showing the same blocks separates the same
    groups (the clustering panel itself always shows some blocks: read the others against it)."""
    from matplotlib.figure import Figure

    if not rdms:
        raise AnalysisError("plot_rdms: found no RDM; expected a mapping {title: rdm}. Fix: pass at least one.")
    if cluster_on is not None:
        if order_by is not None:
            raise AnalysisError(
                f"plot_rdms: found order_by={order_by!r} and cluster_on={cluster_on!r}; expected one way to order "
                "the stimuli. Fix: pass only one of them."
            )
        rdms, order_by = _clustered(rdms, cluster_on)
    items = list(rdms.items())
    ncols = ncols or len(items)
    nrows = int(np.ceil(len(items) / ncols))
    fig = Figure(figsize=(3.3 * ncols + 0.8, 3.2 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, (name, r) in zip(axes, items, strict=False):
        plot_rdm(r, order_by=order_by, rank=rank, ax=ax, title=name, cmap=cmap, colorbar=False)
    for ax in axes[len(items) :]:
        ax.set_visible(False)
    mappable = axes[0].images[0]
    fig.colorbar(
        mappable,
        ax=list(axes[: len(items)]),
        shrink=0.8,
        label="dissimilarity (percentile)" if rank else "dissimilarity",
    )
    return fig


@plain_text
def plot_rdm_pair(
    a: xr.Dataset | xr.DataArray,
    b: xr.Dataset | xr.DataArray,
    *,
    metric: str = "correlation",
    order_by: str | None = "category",
    names: tuple[str, str] = ("a", "b"),
) -> Figure:
    """The RDMs of two sets side by side, on their shared stimuli in the same order (matched on stimulus ids);
    ``order_by`` a stimulus coord of either set that sorts both (ignored when neither has it). Either input may
    be an RDM instead of a set (:func:`neurosuper.load_rdms`), or several stacked along a first dim (their mean
    is drawn, e.g. the subjects' average)."""
    from .. import compare

    def as_rdm(obj: Any, name: str) -> xr.DataArray:
        if "stimulus_a" not in obj.dims:
            return compare.rdm(obj, metric=metric)
        extra = [d for d in obj.dims if d not in ("stimulus_a", "stimulus_b")]
        if not extra:
            return obj
        mean = obj.mean(extra[0], keep_attrs=True)
        return mean.assign_attrs(metric=f"mean of {obj.sizes[extra[0]]} {name} RDMs")

    ra, rb = compare.align(as_rdm(a, names[0]), as_rdm(b, names[1]), names=list(names), caller="plot_rdm_pair")
    key = order_by if order_by and (order_by in ra.coords or order_by in rb.coords) else None
    if key and key not in rb.coords:  # aligned: one set's stimulus coord orders both
        rb = rb.assign_coords({key: ("stimulus_a", ra[key].values)})
    elif key and key not in ra.coords:
        ra = ra.assign_coords({key: ("stimulus_a", rb[key].values)})
    return plot_rdms({names[0]: ra, names[1]: rb}, order_by=key)


@plain_text
def plot_profile(result: xr.Dataset, *, ax: Any = None, title: str | None = None) -> Figure:
    """The layer profile of :func:`neurosuper.compare.profile`: score per layer with its CI, the ceiling band
    (lower–upper bound, grey), the top layer marked with its margin over the next: a red star when it is
    significantly best (``best_significant``), else an open circle labelled "highest, not significant" (or
    "highest, not tested" without a bootstrap)."""
    if not isinstance(result, xr.Dataset) or "score" not in result or "ceiling" not in result:
        raise AnalysisError(
            "plot_profile: found no 'score'/'ceiling'; expected the result of "
            "neurosuper.compare.profile. Fix: plot_profile(neurosuper.compare.profile(net, brain))."
        )
    fig, ax = _new_axes(ax, (5.6, 3.8))
    dim = result["score"].dims[0]
    labels = [str(v) for v in result[dim].values]
    x = np.arange(len(labels))
    score = result["score"].values
    lo, hi = result["ci"].sel(bound="lower").values, result["ci"].sel(bound="upper").values
    c_lo, c_hi = result["ceiling"].sel(bound="lower").item(), result["ceiling"].sel(bound="upper").item()
    if np.isfinite(c_lo):
        top = c_hi if np.isfinite(c_hi) else c_lo
        ax.axhspan(c_lo, top, color="0.85", zorder=0, label=f"noise ceiling ({result.attrs.get('ceiling_kind', '')})")
        ax.axhline(c_lo, color="0.6", lw=0.8, zorder=0)
    err = np.vstack([score - lo, hi - score])  # a percentile CI need not contain the estimate: clip at 0
    ax.errorbar(
        x,
        score,
        yerr=np.clip(np.where(np.isfinite(err), err, 0), 0, None),
        fmt="o-",
        color="C0",
        capsize=3,
        label=f"score ({int(100 * result.attrs.get('ci_level', 0.95))}% CI)",
    )
    best = str(result["best"].item())
    if best in labels:
        b = labels.index(best)
        margin = result["margin"].item()
        p_best = result["p_best"].item()
        # a star only for a significantly best layer (profile's best_significant); else an open circle, named so
        significant = bool(result["best_significant"].item()) if "best_significant" in result else False
        status = str(result["best_status"].item()) if "best_status" in result else "highest, not tested"
        text = f"best: {best}" if significant else f"{status}: {best}"
        if np.isfinite(margin):
            text += f" (+{margin:.3g}"
            text += f", top in {100 * p_best:.0f}% of resamples)" if np.isfinite(p_best) else ")"
        if significant:
            ax.plot([x[b]], [score[b]], marker="*", ms=14, color="C3", zorder=5, label=text, ls="none")
        else:
            ax.plot([x[b]], [score[b]], marker="o", ms=11, mfc="none", mec="0.4", zorder=5, label=text, ls="none")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(x, labels, rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center")
    ax.set_xlabel(dim)
    kind = result.attrs.get("kind", "rsa")
    ylabel = (
        f"RSA ({result.attrs.get('method', '?')}, {result.attrs.get('metric', '?')} RDMs)"
        if kind == "rsa"
        else "median held-out r (ridge)"
    )
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="best")
    note = result.attrs.get("ceiling_note", "none")
    ax.set_title(
        title
        or f"layer profile ({kind}, {result.attrs.get('n_stimuli', '?')} stimuli)"
        + ("" if note == "none" else f"\n{note}"),
        fontsize=10,
    )
    return fig


_PANELS = (
    ("alpha", "power-law α"),
    ("participation_ratio", "participation ratio"),
    ("median_ii", "median II"),
    ("rsa", "RSA vs other set"),
    ("cka", "CKA vs other set"),
    ("predictivity", "predictivity (median r)"),
)


@plain_text
def plot_side_by_side(result: xr.Dataset, *, title: str | None = None) -> Figure:
    """The table of :func:`neurosuper.compare.side_by_side` as bar panels, one per quantity, one bar per
    layer/area (colour = set), α with its CI."""
    from matplotlib.figure import Figure

    if not isinstance(result, xr.Dataset) or "row" not in result.dims:
        raise AnalysisError(
            "plot_side_by_side: found no 'row' dim; expected the result of "
            "neurosuper.compare.side_by_side. Fix: plot_side_by_side(side_by_side(a, b))."
        )
    labels = [f"{s}:{g}" for s, g in zip(result["set"].values, result["group"].values, strict=True)]
    colours = ["C0" if s == "a" else "C1" for s in result["set"].values]
    fig = Figure(figsize=(11, 5.6), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    x = np.arange(len(labels))
    for ax, (var, name) in zip(axes, _PANELS, strict=True):
        v = result[var].values.astype(np.float64)
        ax.bar(x, np.nan_to_num(v), color=colours)
        if var == "alpha" and "alpha_ci" in result:
            ci = result["alpha_ci"].transpose("row", "bound").values
            err = np.vstack([v - ci[:, 0], ci[:, 1] - v])
            ok = np.isfinite(err).all(axis=0)
            ax.errorbar(x[ok], v[ok], yerr=err[:, ok], fmt="none", color="k", capsize=3)
        for xi, vi in zip(x, v, strict=True):
            if not np.isfinite(vi):
                ax.text(xi, 0, "n/a", ha="center", va="bottom", fontsize=8, color="0.4")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
        ax.set_title(name, fontsize=10)
    systems = dict(zip(result["set"].values, result["system"].values, strict=True))
    fig.suptitle(
        title
        or f"side by side: a = {systems.get('a', '?')} (blue), b = {systems.get('b', '?')} (orange); "
        f"{result.attrs.get('n_stimuli', '?')} stimuli",
        fontsize=11,
    )
    return fig
