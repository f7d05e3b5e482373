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
eigenvectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._gram import centre_gram, top_eigh, unit_grams

__all__ = ["cv_from_stimulus_grams", "cv_from_unit_grams", "shuffled_unit_grams"]


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


def cv_from_unit_grams(
    s11: np.ndarray, s22: np.ndarray, s12: np.ndarray, *, n: float, k: int, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """(cv variance, noise variance) from centred unit covariances ``R¹'ᵀHR¹'``, ``R²'ᵀHR²'``, ``R¹'ᵀHR²'``."""
    lam, u = top_eigh(s11, k, dtype=dtype)
    s12 = np.asarray(s12, dtype=dtype)
    s22 = np.asarray(s22, dtype=dtype)
    cross = np.einsum("ik,ik->k", u, s12 @ u).astype(np.float64)
    second = np.einsum("ik,ik->k", u, s22 @ u).astype(np.float64)
    return cross / n, (lam + second - 2 * cross) / (2 * n)


def shuffled_unit_grams(
    r1: Any, r2: Any, swap: np.ndarray, *, weights: np.ndarray | None, progress: bool = False
) -> dict:
    """Unit-side Grams of the shuffled repeats ``R¹' = where(swap, R², R¹)``, ``R²' = where(swap, R¹, R²)``.

    ``r1, r2`` are centred (and scaled) (stimulus, unit) numpy or dask arrays; ``weights`` (n_weights,
    stimulus) are bootstrap counts. Returns :func:`unit_grams`' dict with pairs (11, 22, 12).
    """
    from .._gram import is_dask

    if is_dask(r1) or is_dask(r2):
        import dask.array as da

        m = da.from_array(swap[:, None], chunks=(r1.chunks[0], 1)) if is_dask(r1) else swap[:, None]
        y1, y2 = da.where(m, r2, r1), da.where(m, r1, r2)
    elif swap.any():
        m = swap[:, None]
        y1, y2 = np.where(m, r2, r1), np.where(m, r1, r2)
    else:
        y1, y2 = r1, r2
    zero = np.zeros(r1.shape[1])
    return unit_grams([y1, y2], [(0, 0), (1, 1), (0, 1)], weights=weights, shifts=[zero, zero], progress=progress)
