"""Selectivity (how peaked a unit's tuning is) and polysemanticity (how many different things excite it).

Selectivity, on the responses averaged over ``repeat``/``time`` (NaN entries skipped per unit / per stimulus):

* lifetime sparseness of a unit over its n stimuli, Vinje & Gallant 2000 (Science 287:1273; after Rolls &
  Tovee 1995): ``S = (1 − (Σr/n)² / (Σr²/n)) / (1 − 1/n)`` — 0 for a constant response, 1 for a response to
  a single stimulus; needs r ≥ 0;
* population sparseness of a stimulus over the m units, the same formula across units (Willmore & Tolhurst
  2001, Network 12:255; Willmore, Mazer & Gallant 2011);
* kurtosis: the excess (Fisher) kurtosis of a unit's responses, ``m4 / m2² − 3`` with biased moments
  (Field 1994; Lehky, Sejnowski & Desimone 2005) — ``scipy.stats.kurtosis(..., fisher=True, bias=True)``.

Polysemanticity of a unit, from its k most exciting stimuli:

* ``method="labels"``: the effective number of labels among them, ``exp(H)`` with H the Shannon entropy (nats)
  of the label frequencies (Hill 1973's diversity of order 1): 1 when all top stimuli share a label;
* ``method="clusters"``: the top stimuli are clustered by average linkage (UPGMA) in the similarity space, cut at
  ``threshold`` (default: half the median distance between random stimulus pairs in that space), and
  the score is the effective number of clusters ``exp(H)`` of the cluster sizes: 1 for one tight group of
  stimuli, ≈ c for c equally used groups (the issue's "number of clusters among the top stimuli"; cf. the
  polysemantic units of Olah et al. 2017/2020, which respond to several unrelated groups of inputs).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from ..errors import AnalysisError, NeurosuperWarning
from ..format import validate
from ..prep import trial_average, unit_coords
from ._topk import topk_units
from .similarity import label_coord, resolve_similarity

__all__ = ["selectivity", "polysemanticity", "sparseness"]


def sparseness(R: np.ndarray, axis: int) -> np.ndarray:
    """Vinje–Gallant sparseness of non-negative ``R`` along ``axis`` (NaN entries skipped)."""
    n = np.sum(~np.isnan(R), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (np.nansum(R, axis=axis) / n) ** 2 / (np.nansum(R**2, axis=axis) / n)
        s = (1 - a) / (1 - 1 / n)
    return np.where(n > 1, s, np.nan)


def _kurtosis(R: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        d = R - np.nanmean(R, axis=axis, keepdims=True)
        m2 = np.nanmean(d**2, axis=axis)
        m4 = np.nanmean(d**4, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return m4 / m2**2 - 3.0


def selectivity(ds: xr.Dataset, *, rectify: bool = False) -> xr.Dataset:
    """Lifetime sparseness and kurtosis per unit, population sparseness per stimulus.

    Parameters
    ----------
    ds
        ResponseSet; responses are averaged over ``repeat``/``time`` (dask-backed responses are loaded: the
        average is held in memory as one (stimulus, unit) float64 array).
    rectify
        Sparseness needs non-negative responses (rates, counts, ReLU activations). With negative values this
        raises :class:`AnalysisError` unless ``rectify=True``, which clips them at 0 (warned, counted).
        Kurtosis always uses the unclipped responses.

    Returns
    -------
    xarray.Dataset
        ``lifetime_sparseness(unit)``, ``kurtosis(unit)``, ``population_sparseness(stimulus)``.
    """
    ds = validate(ds)
    R = np.asarray(trial_average(ds["responses"]).data, dtype=np.float64)
    kurt = _kurtosis(R, axis=0)
    n_neg = int(np.sum(R < 0))
    if n_neg:
        if not rectify:
            raise AnalysisError(
                f"selectivity: found {n_neg} negative responses (min {np.nanmin(R):.3g}); expected "
                "non-negative responses for sparseness. Fix: pass rectify=True to clip them at 0, "
                "or shift the responses."
            )
        warnings.warn(
            f"selectivity: clipped {n_neg} negative responses at 0 for sparseness.", NeurosuperWarning, stacklevel=2
        )
        R = np.where(R < 0, 0.0, R)
    out = xr.Dataset(
        {
            "lifetime_sparseness": ("unit", sparseness(R, axis=0)),
            "kurtosis": ("unit", kurt),
            "population_sparseness": ("stimulus", sparseness(R, axis=1)),
        },
        coords={**unit_coords(ds), "stimulus": ds["stimulus"].values},
    )
    out.attrs = {"rectified": int(n_neg if rectify else 0)}
    return stamp(
        out,
        analysis="selectivity",
        options={"rectify": rectify},
        inputs_from=ds,
        reference="Vinje & Gallant 2000; Willmore & Tolhurst 2001; kurtosis: Field 1994",
    )


def _effective_number(labels: np.ndarray) -> tuple[float, float]:
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    h = float(-(p * np.log(p)).sum())
    return float(np.exp(h)), h / np.log(2)


def polysemanticity(
    ds: xr.Dataset,
    *,
    similarity: Any = "auto",
    k: int = 20,
    method: str = "auto",
    threshold: float | None = None,
    seed: int = 0,
) -> xr.Dataset:
    """Effective number of labels or of similarity clusters among each unit's k most exciting stimuli.

    Parameters
    ----------
    ds
        ResponseSet.
    similarity
        Space for ``method="clusters"`` (as in :func:`interpretability_index`).
    k
        Top stimuli per unit.
    method
        ``"labels"`` (needs a ``label``/``category`` coord), ``"clusters"``, or ``"auto"`` (labels if present).
    threshold
        Cluster cut distance (clusters only); default half the median of 2000 random-pair distances.
    seed
        Seeds the random pairs of the default threshold.

    Returns
    -------
    xarray.Dataset
        ``polysemanticity(unit)`` (effective number, ≥ 1), ``entropy_bits(unit)``, ``n_groups(unit)`` (distinct
        labels or clusters); attrs ``method`` (and ``threshold``, ``similarity`` for clusters).
    """
    ds = validate(ds)
    n = ds.sizes["stimulus"]
    if not 2 <= k <= n:
        raise AnalysisError(f"k: found {k}; expected 2 <= k <= {n} (the number of stimuli). Fix: k=20 or fewer.")
    if method == "auto":
        method = "labels" if label_coord(ds) else "clusters"
    if method not in ("labels", "clusters"):
        raise AnalysisError(f"method: found {method!r}; expected 'labels', 'clusters' or 'auto'. Fix: method='auto'.")
    top, _ = topk_units(trial_average(ds["responses"]).data, k, progress=False)
    attrs: dict[str, Any] = {"method": method, "k": int(k)}
    groups = []
    if method == "labels":
        name = label_coord(ds)
        if name is None:
            raise AnalysisError(
                "polysemanticity(method='labels'): found no 'label'/'category' stimulus coord; "
                "expected one. Fix: add the coord or use method='clusters'."
            )
        labels = np.asarray(ds[name].values).astype(str)
        groups = [labels[row[row >= 0]] for row in top]
    else:
        from scipy.cluster.hierarchy import fcluster, linkage

        space, sim_name, _ = resolve_similarity(ds, similarity)
        if threshold is None:
            rng = np.random.default_rng(seed)
            a, b = rng.integers(0, n, 2000), rng.integers(0, n, 2000)
            keep = a != b
            threshold = 0.5 * float(np.median(space.distances(a[keep], b[keep])))
        iu, ju = np.triu_indices(k, 1)
        ok = np.all(top >= 0, axis=1)
        D = np.full((len(top), len(iu)), np.nan)
        D[ok] = space.distances(top[ok][:, iu], top[ok][:, ju])
        for row, good in zip(D, ok, strict=True):
            if not good:
                groups.append(np.array([]))
                continue
            groups.append(fcluster(linkage(row, method="average"), t=threshold, criterion="distance"))
        attrs.update(threshold=threshold, similarity=sim_name)
    eff = np.full(len(top), np.nan)
    bits = np.full(len(top), np.nan)
    n_groups = np.zeros(len(top), dtype=np.int64)
    for i, g in enumerate(groups):
        if len(g) == k:
            eff[i], bits[i] = _effective_number(g)
            n_groups[i] = len(np.unique(g))
    out = xr.Dataset(
        {"polysemanticity": ("unit", eff), "entropy_bits": ("unit", bits), "n_groups": ("unit", n_groups)},
        coords=unit_coords(ds),
    )
    out.attrs = attrs
    options = {"similarity": attrs.get("similarity"), "k": k, "method": method, "threshold": threshold, "seed": seed}
    return stamp(
        out,
        analysis="polysemanticity",
        options=options,
        inputs_from=ds,
        reference="Hill 1973 (effective number exp(H)); average linkage (Sokal & Michener)",
    )
