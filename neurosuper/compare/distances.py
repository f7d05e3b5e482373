"""Numerical kernels of the RDMs (plain numpy / dask through :mod:`neurosuper._gram`), all in float64.

For responses ``R`` (stimuli × units, ``p`` units):

* ``correlation``: ``1 − r(R_i, R_j)``, Pearson r between stimulus patterns across units — scipy's
  ``pdist(R, "correlation")``, rsatoolbox's ``calc_rdm(method="correlation")``;
* ``euclidean``: ``‖R_i − R_j‖₂`` — scipy's ``pdist(R, "euclidean")`` (not squared, not divided by ``p``);
* ``cosine``: ``1 − R_i·R_j / (‖R_i‖ ‖R_j‖)`` — scipy's ``pdist(R, "cosine")``;
* ``crossnobis`` (Walther et al. 2016, NeuroImage 137:188; rsatoolbox's ``calc_rdm_crossnobis``): with the
  repeats as leave-one-out folds, fold ``f`` tests on repeat ``f`` (``B``) and trains on the mean of the other
  valid repeats (``A``): ``d_f(i, j) = (A_i − A_j) Λ (B_i − B_j)ᵀ / p``, averaged over folds (a pair enters
  the folds where both stimuli have the held-out repeat and another one). ``Λ`` is the noise precision:
  the inverse of the covariance of the residuals (each valid repeat minus its stimulus's mean over repeats;
  ``n_obs − n_stimuli`` degrees of freedom), shrunk towards its diagonal (Schäfer & Strimmer 2005;
  rsatoolbox's ``cov_from_residuals(method="shrinkage_diag")``). Unbiased: zero in expectation for equal
  patterns, so it can be negative.

The Gram matrices are sums over blocks of unit columns (:func:`neurosuper._gram.reduce_blocks`), so numpy
and dask inputs alike are read block by block in bounded memory.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from .._gram import is_dask, reduce_blocks

__all__ = ["METRICS", "distance_matrix", "crossnobis_matrix", "noise_covariance", "noise_precision", "shrinkage_diag"]

#: The RDM metrics :func:`neurosuper.compare.rdm` computes.
METRICS = ("correlation", "euclidean", "cosine", "crossnobis")


def _row_means(x: Any) -> np.ndarray:
    if is_dask(x):
        return np.asarray(x.astype(np.float64).mean(axis=1).compute())
    return np.asarray(x, dtype=np.float64).mean(axis=1)


def _block(blocks: list, start: int, stop: int, *, metric: str, shift: np.ndarray | None) -> dict:
    x = np.asarray(blocks[0], dtype=np.float64)
    if shift is not None:  # correlation: the row means over all units
        x = x - shift[:, None]
    elif metric == "euclidean":
        x = x - x.mean(axis=0)  # translation invariant: centre each unit (a column lies in one block)
    return {"gram": x @ x.T, "sq": np.einsum("ij,ij->i", x, x)}


def distance_matrix(x: Any, metric: str, *, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Square (stimulus × stimulus) float64 distances of the rows of ``x`` (numpy or dask, stimulus × unit).

    Returns ``(D, norms)``: ``D`` with an exact zero diagonal, and the row norms used (centred rows for
    ``correlation``), so that the caller can name rows whose distance is undefined (zero norm).
    """
    shift = _row_means(x) if metric == "correlation" else None
    acc = reduce_blocks(
        partial(_block, metric=metric, shift=shift), [x], axis=1, progress=progress, desc=f"{metric} RDM"
    )
    d, sq = acc["gram"], acc["sq"]
    d += d.T  # exactly symmetric whatever the block products did (numpy copies the overlapping operand)
    d *= 0.5
    norms = np.sqrt(sq)
    if metric == "euclidean":
        d *= -2.0
        d += np.add.outer(sq, sq)  # sq_i + sq_j = sq_j + sq_i: symmetric
        np.maximum(d, 0, out=d)
        np.sqrt(d, out=d)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / norms
            d *= np.outer(inv, inv)  # s_i s_j = s_j s_i: the scaling keeps the symmetry
        np.subtract(1.0, d, out=d)
    np.fill_diagonal(d, 0.0)
    return d, norms


# ----------------------------------------------------------------------------------------------- crossnobis
def shrinkage_diag(residuals: np.ndarray, dof: int) -> np.ndarray:
    """Covariance of ``residuals`` (n × p, already centred) shrunk towards its diagonal.

    Schäfer & Strimmer 2005 (target D: the diagonal), with rsatoolbox's conventions
    (``rsatoolbox.data.noise._covariance_diag``): ``S = RᵀR / dof``; the shrinkage intensity
    ``λ = Σ_{i≠j} Var̂(r_ij) / Σ_{i≠j} r_ij²`` from the standardised cross-products, clipped to [0, 1];
    off-diagonal entries scaled by ``1 − λ``. Vectorised: ``Σ_m x_mi² x_mj² = (R∘R)ᵀ(R∘R)``.
    """
    r = np.asarray(residuals, dtype=np.float64)
    n = r.shape[0]
    s_sum = r.T @ r
    r2 = r * r
    s2_sum = r2.T @ r2
    s = s_sum / dof
    var = np.diag(s).copy()
    std = np.sqrt(var)
    s_mean = s_sum / std[None, :] / std[:, None] / (n - 1)
    s2_mean = s2_sum / var[None, :] / var[:, None] / (n - 1)
    var_hat = n / dof**2 * (s2_mean - s_mean**2)
    mask = ~np.eye(s.shape[0], dtype=bool)
    lamb = float(np.sum(var_hat[mask]) / np.sum(s_mean[mask] ** 2)) if mask.any() else 0.0
    lamb = max(min(lamb, 1.0), 0.0)
    out = s * (1 - lamb)
    np.fill_diagonal(out, var)
    return out


def residuals_of(data: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, int]:
    """Residuals (valid observations minus their stimulus's mean over valid repeats) and their dof.

    ``data`` is (repeat, stimulus, unit) float64; ``valid`` (repeat, stimulus) bool.
    """
    counts = valid.sum(axis=0)
    clean = np.where(valid[..., None], data, 0.0)
    mean = clean.sum(axis=0) / np.maximum(counts, 1)[:, None]
    res = (clean - mean[None])[valid]
    return res, int(valid.sum() - (counts > 0).sum())


def noise_covariance(data: np.ndarray, valid: np.ndarray, method: str = "shrinkage_diag") -> np.ndarray:
    """Noise covariance (unit × unit) from the residuals about each stimulus's mean over repeats.

    ``method``: ``"shrinkage_diag"`` (rsatoolbox's default), ``"diag"`` (variances only) or ``"full"``.
    """
    res, dof = residuals_of(data, valid)
    if method == "shrinkage_diag":
        return shrinkage_diag(res, dof)
    if method == "diag":
        return np.diag(np.einsum("ij,ij->j", res, res) / dof)
    return res.T @ res / dof


def noise_precision(data: np.ndarray, valid: np.ndarray, method: str = "shrinkage_diag") -> np.ndarray:
    """The inverse of :func:`noise_covariance` (``np.linalg.inv``, as rsatoolbox's ``prec_from_residuals``)."""
    return np.linalg.inv(noise_covariance(data, valid, method))


def crossnobis_matrix(data: np.ndarray, valid: np.ndarray, precision: np.ndarray | None) -> np.ndarray:
    """Crossnobis RDM (square, float64) of ``data`` (repeat, stimulus, unit), leave-one-repeat-out folds.

    ``precision`` (unit × unit) or ``None`` (identity: cross-validated squared Euclidean / p).
    """
    n_rep, n, p = data.shape
    clean = np.where(valid[..., None], data, 0.0)
    counts = valid.sum(axis=0)
    total = clean.sum(axis=0)
    acc = np.zeros((n, n))
    weight = np.zeros((n, n))
    for f in range(n_rep):
        test_ok = valid[f] & (counts - valid[f] >= 1)
        train = (total - clean[f]) / np.maximum(counts - valid[f], 1)[:, None]
        test = clean[f]
        a = train if precision is None else train @ precision
        k = a @ test.T
        dk = np.diag(k)
        d = dk[:, None] + dk[None, :] - k - k.T
        m = test_ok[:, None] & test_ok[None, :]
        acc += np.where(m, d, 0.0)
        weight += m
    with np.errstate(invalid="ignore", divide="ignore"):
        out = acc / weight / p
    out = (out + out.T) / 2
    np.fill_diagonal(out, 0.0)
    return out
