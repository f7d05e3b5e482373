"""Cross-validated PCA (Stringer et al. 2019, Nature 571:361, Methods "cross-validated PCA").

With two repeats ``R¹, R²`` (stimuli × units, each centred per unit), the axes ``u_k`` are the principal axes
of ``R¹``; the cross-validated variance of axis ``k`` is the covariance across stimuli of the two repeats'
projections, ``cv_k = (1/n) Σ_s (R¹u_k)_s (R²u_k)_s``, and the noise variance is
``½ (1/n) Σ_s (R¹u_k − R²u_k)_s²``. A shuffle swaps the two repeats for a random half of the stimuli (each
stimulus with probability ½, as in Stringer's ``shuff_cvPCA``) and re-centres both.

Fast shuffles. Let ``A = R¹R¹ᵀ``, ``B = R²R²ᵀ``, ``C = R¹R²ᵀ`` (stimulus side, computed once). For a swap mask
with kept stimuli ``u`` and swapped ``s``, the shuffled repeats are ``R¹' = [R¹_u; R²_s]``,
``R²' = [R²_u; R¹_s]`` (rows re-ordered; spectra do not depend on the stimulus order), so::

    R¹'R¹'ᵀ = [[A_uu, C_us], [C_usᵀ, B_ss]]      R¹'R²'ᵀ = [[C_uu, A_us], [B_su, C_ssᵀ]]

and re-centring is ``H G H`` (``H = I − 11ᵀ/n``). With ``H R¹'R¹'ᵀ H = V Λ Vᵀ`` the axes are
``u_k = R¹'ᵀ H v_k / √λ_k``, so ``R¹'u_k = √λ_k v_k`` and ``R²'u_k = G₁₂ᵀ v_k / √λ_k`` with
``G₁₂ = H R¹'R²'ᵀ H``; hence ``n·cv_k = v_kᵀ G₁₂ v_k`` and ``‖R²'u_k‖² = ‖G₁₂ᵀ v_k‖² / λ_k``. Each shuffle
costs one symmetric eigendecomposition of the stimulus Gram and one matrix product. On the unit side
(fewer units than stimuli) the shuffled unit covariances are formed directly and ``u_k`` are their
eigenvectors: ``n·cv_k = u_kᵀ S₁₂ u_k`` and ``‖R²'u_k‖² = u_kᵀ S₂₂ u_k`` with ``S_ij = R^i'ᵀ H R^j'``.

Memory on the unit side. Only ``S₁₁`` is eigendecomposed; ``S₁₂`` and ``S₂₂`` enter through ``u_kᵀ S u_k``
alone. :func:`cv_unit_streamed` therefore forms the three units x units Grams one after the other, each
consumed (reduced to ``λ, u``, then to two vectors) and freed before the next is formed, and casts ``S₁₁``
straight into the Fortran-ordered array LAPACK overwrites with the eigenvectors (no copy inside scipy). It
gives the numbers of :func:`cv_from_unit_grams` bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from .._gram import centre_gram, is_dask, top_eigh, unit_grams

__all__ = [
    "cv_from_stimulus_grams",
    "cv_from_unit_grams",
    "cv_unit_streamed",
    "ShuffledRows",
    "shuffled_repeat",
    "shuffled_unit_grams",
]


def _assemble(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, idx: np.ndarray, swap: np.ndarray, dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The centred shuffled Grams ``H R¹'R¹'ᵀ H`` and ``H R¹'R²'ᵀ H`` of the stimuli ``idx`` (rows re-ordered)."""
    sel = swap[idx]
    u, s = idx[~sel], idx[sel]
    nu = len(u)
    n = len(idx)
    g11 = np.empty((n, n), dtype=dtype)
    g12 = np.empty((n, n), dtype=dtype)
    g11[:nu, :nu] = a[np.ix_(u, u)]
    g11[:nu, nu:] = c[np.ix_(u, s)]
    g11[nu:, :nu] = g11[:nu, nu:].T
    g11[nu:, nu:] = b[np.ix_(s, s)]
    g12[:nu, :nu] = c[np.ix_(u, u)]
    g12[:nu, nu:] = a[np.ix_(u, s)]
    g12[nu:, :nu] = b[np.ix_(s, u)]
    g12[nu:, nu:] = c[np.ix_(s, s)].T
    return centre_gram(g11, out=g11), centre_gram(g12, out=g12)


def cv_from_stimulus_grams(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, *, idx: np.ndarray, swap: np.ndarray, k: int, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """(cv variance, noise variance) of the top ``k`` axes for the stimuli ``idx`` and the swap mask ``swap``.

    ``a, b, c`` are the stimulus-side Grams of the per-unit centred repeats (``R¹R¹ᵀ``, ``R²R²ᵀ``, ``R¹R²ᵀ``;
    pass them in ``dtype``: the shuffled Grams are assembled and eigendecomposed in that precision);
    ``idx`` selects (or resamples, for a bootstrap) stimuli; ``swap`` (bool, per original stimulus) says
    where the repeats trade places. Variances are divided by ``len(idx)``.
    """
    g11, g12 = _assemble(a, b, c, idx, swap, dtype)
    lam, vecs = top_eigh(g11, k, dtype=dtype)
    w = g12.T @ vecs
    cross = np.einsum("ik,ik->k", vecs, w).astype(np.float64)
    second = np.einsum("ik,ik->k", w, w).astype(np.float64) / np.where(lam > 0, lam, np.inf)
    n = len(idx)
    return cross / n, (lam + second - 2 * cross) / (2 * n)


def _top_eigh_consumed(take: Callable[[], np.ndarray], k: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neurosuper._gram.top_eigh` of the Gram ``take()`` returns, cast to ``dtype`` in Fortran order —
    the layout LAPACK works in, so that scipy makes no copy and ``overwrite_a`` puts the eigenvectors in that
    array (divide and conquer, ``syevd``: its workspace is 2p² of ``dtype``). The Gram itself is released as
    soon as it is cast (when the caller keeps no reference). Same numbers as ``top_eigh(take(), k, dtype)``."""
    g = take()
    a = np.asarray(g, dtype=dtype, order="F")
    del g
    return top_eigh(a, k, dtype=dtype)


def _quad_consumed(u: np.ndarray, take: Callable[[], np.ndarray], dtype: Any) -> np.ndarray:
    """``u_kᵀ S u_k`` for every column ``k`` of ``u`` (float64), with ``S = take()`` cast to ``dtype`` and
    released as soon as it is cast (as in :func:`cv_from_unit_grams`)."""
    g = take()
    s = np.asarray(g, dtype=dtype)
    del g
    w = s @ u
    del s
    return np.einsum("ik,ik->k", u, w).astype(np.float64)


def cv_from_unit_grams(
    s11: np.ndarray, s22: np.ndarray, s12: np.ndarray, *, n: float, k: int, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """(cv variance, noise variance) from centred unit covariances ``R¹'ᵀHR¹'``, ``R²'ᵀHR²'``, ``R¹'ᵀHR²'``."""
    lam, u = _top_eigh_consumed(lambda: s11, k, dtype)
    cross = _quad_consumed(u, lambda: s12, dtype)
    second = _quad_consumed(u, lambda: s22, dtype)
    return cross / n, (lam + second - 2 * cross) / (2 * n)


def cv_unit_streamed(
    r1: Any,
    r2: Any,
    means: np.ndarray,
    swap: np.ndarray,
    *,
    weights: np.ndarray | None,
    post: Callable[[np.ndarray], np.ndarray],
    n: float,
    k: int,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """(cv variance, noise variance) of one shuffle or bootstrap replicate on the unit side, holding one units x
    units Gram at a time: ``S₁₁`` is formed and eigendecomposed, then ``S₁₂`` and ``S₂₂`` are each formed and
    reduced to ``u_kᵀ S u_k`` — each freed before the next is formed (module docstring).

    ``r1, r2`` are the repeat halves (stimulus, unit; numpy or dask), ``means`` (2, unit) their unit means,
    ``swap`` the swap mask, ``weights`` (1, stimulus) bootstrap counts or None; ``post`` post-processes each fresh
    float64 Gram (scaling, projection, dropping constant units; it may work in place). Numbers identical, bit for
    bit, to :func:`cv_from_unit_grams` of the three Grams of :func:`shuffled_unit_grams` after ``post``.
    """
    zero = np.zeros(r1.shape[1])

    def gram(arrays: list, pair: tuple[int, int]) -> np.ndarray:
        return post(unit_grams(arrays, [pair], weights=weights, shifts=[zero] * len(arrays))["gram"][0, 0])

    y1 = shuffled_repeat(r1, r2, means, swap, 0, dtype)
    lam, u = _top_eigh_consumed(partial(gram, [y1], (0, 0)), k, dtype)
    y2 = shuffled_repeat(r1, r2, means, swap, 1, dtype)
    cross = _quad_consumed(u, partial(gram, [y1, y2], (0, 1)), dtype)
    del y1
    second = _quad_consumed(u, partial(gram, [y2], (0, 0)), dtype)
    return cross / n, (lam + second - 2 * cross) / (2 * n)


class ShuffledRows:
    """``where(swap, b − mb, a − ma)`` of two in-memory (stimulus, unit) arrays, formed only for the rows asked for:
    ``x[rows, cols]`` (how :func:`neurosuper._gram.reduce_blocks` reads a block) returns a fresh array in ``dtype``,
    so a Gram of the shuffled repeat holds one block of it at a time, never a copy of the data's size.
    ``np.asarray(x)`` forms the whole array."""

    ndim = 2

    def __init__(self, a: np.ndarray, b: np.ndarray, ma: np.ndarray, mb: np.ndarray, swap: np.ndarray, dtype: Any):
        self._a, self._b, self._ma, self._mb, self._swap = a, b, ma, mb, np.asarray(swap, dtype=bool)
        self.shape = tuple(a.shape)
        self.dtype = np.dtype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        out = np.asarray(np.subtract(self._a[rows, cols], self._ma[cols]), dtype=self.dtype)
        swap = self._swap[rows]
        if swap.any():
            np.subtract(self._b[rows, cols], self._mb[cols], out=out, where=swap[:, None])
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:, :]
        return out if dtype is None else out.astype(dtype, copy=False)


def shuffled_repeat(r1: Any, r2: Any, means: np.ndarray, swap: np.ndarray, which: int, dtype: Any) -> Any:
    """The centred shuffled repeat ``R¹' = where(swap, R² − μ², R¹ − μ¹)`` (``which=0``) or ``R²'`` (``which=1``),
    in ``dtype``: for in-memory halves a :class:`ShuffledRows` (formed block by block as a Gram reads it: no copy of
    the data's size), else a lazy dask array. ``means`` (2, unit) are the repeats' unit means."""
    a, b = (r1, r2) if which == 0 else (r2, r1)
    ma, mb = means[which].astype(dtype), means[1 - which].astype(dtype)
    if is_dask(a) or is_dask(b):
        import dask.array as da

        ya, yb = (a - ma).astype(dtype), (b - mb).astype(dtype)
        if not swap.any():
            return ya
        mask = da.from_array(swap[:, None], chunks=(ya.chunks[0], 1)) if is_dask(ya) else swap[:, None]
        return da.where(mask, yb, ya)
    return ShuffledRows(np.asarray(a), np.asarray(b), ma, mb, swap, dtype)


def shuffled_unit_grams(
    r1: Any,
    r2: Any,
    means: np.ndarray,
    swap: np.ndarray,
    *,
    weights: np.ndarray | None,
    dtype: Any = np.float64,
    progress: bool = False,
) -> dict:
    """Unit-side Grams of the centred shuffled repeats ``R¹'``, ``R²'`` (:func:`shuffled_repeat`), in one pass.

    ``r1, r2`` are the repeat halves (stimulus, unit; numpy or dask), ``means`` (2, unit) their unit means;
    ``weights`` (n_weights, stimulus) are bootstrap counts. Returns :func:`unit_grams`' dict with pairs (11, 22,
    12): three units x units Grams held at once — :func:`cv_unit_streamed` holds one.
    """
    y1 = shuffled_repeat(r1, r2, means, swap, 0, dtype)
    y2 = shuffled_repeat(r1, r2, means, swap, 1, dtype)
    zero = np.zeros(r1.shape[1])
    return unit_grams([y1, y2], [(0, 0), (1, 1), (0, 1)], weights=weights, shifts=[zero, zero], progress=progress)
