"""Null distributions for the interpretability index, and z-scores / percentiles against them.

Raw II values depend on the similarity space (a distance in pixels is not a distance in labels), so Klindt et
al.'s index is made comparable by asking how far a unit's II lies above what chance gives in the same space:

* ``"random_stimuli"``: the II of ``n_null`` random sets of k distinct stimuli (uniform, without replacement) —
  what a unit with no tuning at all would score; the null does not depend on the unit, so it is drawn once.
* ``"random_directions"``: the II of ``n_null`` random directions in unit space — Gaussian weights,
  normalised, applied to the per-unit standardised responses (NaN → the unit's mean) — the baseline for
  directions (Klindt et al. 2023 §4 compare directions found by k-means, PCA, ICA, … against units).
  Since w and −w are equally likely, the top- and bottom-k nulls have the same distribution; the top one is used.

``z = (II − mean(null)) / sd(null)`` (sd with ddof=1) and ``percentile = 100 · (#{null < II} + ½ #{null = II}) / n``.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnalysisError
from ._topk import topk_units

if TYPE_CHECKING:
    from .similarity import Space

__all__ = ["NULLS", "random_stimuli_null", "random_directions_null", "z_and_percentile", "ii_from_mei"]

NULLS = ("random_stimuli", "random_directions")
#: Default number of null samples per kind.
#: 10,000 random stimulus sets: per-unit p-values down to 1e-4, which Benjamini–Hochberg over hundreds of units needs
#: (with 1,000, no unit of 500 can be a discovery unless ten are at p = 1/1001); a random set costs k(k−1)/2 distances.
N_NULL = {"random_stimuli": 10_000, "random_directions": 200}


def ii_from_mei(space: Space, mei: np.ndarray) -> np.ndarray:
    """II = − mean off-diagonal pairwise distance among each row's k stimuli (rows with a -1 give NaN).

    Klindt et al. 2023 (arXiv 2310.11431), eq. for the interpretability index; their code averaged the full
    k × k matrix including the zero diagonal, i.e. ``II_paper = II · (k − 1) / k``.
    """
    mei = np.asarray(mei)
    k = mei.shape[1]
    iu, ju = np.triu_indices(k, 1)
    ok = (mei >= 0).all(axis=1)
    out = np.full(mei.shape[0], np.nan)
    if ok.any():
        sub = mei[ok]
        out[ok] = -space.distances(sub[:, iu], sub[:, ju]).mean(axis=1)
    return out


def random_sets(n_stimuli: int, k: int, n_sets: int, rng: np.random.Generator) -> np.ndarray:
    """(n_sets, k) uniformly random sets of k distinct stimulus positions, vectorised.

    Few stimuli: the k smallest of uniform keys per row. Many: k positions with replacement, rows with a repeat drawn
    again (a row without repeats is uniform over ordered distinct k-tuples, so over k-sets).
    """
    if n_stimuli <= 8 * k * k:
        return np.argpartition(rng.random((n_sets, n_stimuli)), k - 1, axis=1)[:, :k]
    sets = rng.integers(0, n_stimuli, (n_sets, k))
    while True:
        s = np.sort(sets, axis=1)
        bad = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))
        if not bad.size:
            return sets
        sets[bad] = rng.integers(0, n_stimuli, (bad.size, k))


def random_stimuli_null(space: Space, n_stimuli: int, k: int, *, n_null: int, rng: np.random.Generator) -> np.ndarray:
    """II of ``n_null`` random sets of k distinct stimuli in ``space``."""
    return ii_from_mei(space, random_sets(n_stimuli, k, n_null, rng))


def random_directions_null(
    R: Any, space: Space, k: int, *, n_null: int, rng: np.random.Generator, progress: bool = False
) -> np.ndarray:
    """II of ``n_null`` random unit-norm directions applied to the standardised (stimulus, unit) responses ``R``."""
    lazy = hasattr(R, "dask")
    xp: types.ModuleType  # numpy, or dask.array for lazy responses
    if lazy:
        import dask.array as xp
    else:
        xp = np
        R = np.asarray(R, dtype=np.float64)
    mu = xp.nanmean(R, axis=0)
    sd = xp.nanstd(R, axis=0)
    Z = xp.nan_to_num((R - mu) / xp.where(sd > 0, sd, 1.0))
    W = rng.standard_normal((R.shape[1], n_null))
    W /= np.linalg.norm(W, axis=0, keepdims=True)
    P = Z @ W
    P = np.asarray(P.compute()) if lazy else P
    mei, _ = topk_units(P, k, largest=True, progress=progress)
    return ii_from_mei(space, mei)


def z_and_percentile(ii: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit z-score and percentile (0–100, mid-rank for ties) of ``ii`` against the ``null`` sample."""
    null = np.asarray(null, dtype=np.float64)
    null = null[np.isfinite(null)]
    if null.size < 2:
        raise AnalysisError(
            f"null: found {null.size} finite null values; expected at least 2. "
            "Fix: raise n_null or use a set with more stimuli."
        )
    sd = null.std(ddof=1)
    z = (ii - null.mean()) / sd if sd > 0 else np.where(ii == null.mean(), 0.0, np.sign(ii - null.mean()) * np.inf)
    s = np.sort(null)
    below = np.searchsorted(s, ii, side="left")
    upto = np.searchsorted(s, ii, side="right")
    pct = 100.0 * (below + 0.5 * (upto - below)) / s.size
    pct = np.where(np.isnan(ii), np.nan, pct)
    return z, pct
