"""``block_structure``: the block-semi-orthogonal decomposition of a set of feature vectors.

Scherlis et al. 2022 (arXiv 2210.01892, §4 "Block-semi-orthogonal structure"): when ``Σ_i C_i = dim`` the features
split into mutually orthogonal blocks; inside a block the Gram ``W_B W_Bᵀ`` is a multiple of a projector (the
block is a *tight frame*: its non-zero eigenvalues are equal) and ``Σ_{i∈B} C_i = rank(B)``. Detection follows the
paper: connected components of the graph ``|W_i·W_j| > ε``, then a check of the eigenvalues of each block.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from .._validation import check_float
from . import geometry
from .measures import REFERENCE, as_features, is_ignored

__all__ = ["block_structure", "DEFAULT_BLOCK_TOL"]

#: Default ``tol`` of :func:`block_structure` (a capacity, a |cosine| and a ratio of eigenvalues: all relative).
DEFAULT_BLOCK_TOL = 1e-3


def block_structure(W: Any, *, tol: float = DEFAULT_BLOCK_TOL) -> xr.Dataset:
    """Blocks of mutually non-orthogonal features, their rank, capacity and tightness.

    Parameters
    ----------
    W
        Feature vectors, features first: a DataArray (``feature`` or ``direction``, ``dim``) or an array
        (features, dim).
    tol
        Relative tolerance ε > 0, used four ways (all relative, so the result depends neither on W's scale nor on
        how the blocks' scales compare): a feature with capacity ``C_i ≤ tol`` is **ignored** and belongs to no
        block (``feature_block = -1``) — the same rule as :func:`~neurosuper.capacity.superposition`'s "ignored";
        features i ≠ j are linked when ``|W_i·W_j| > tol · ‖W_i‖ ‖W_j‖`` (their |cosine| exceeds ``tol``); a
        block's rank counts the eigenvalues ``λ > tol · λ_max`` of the Gram of its **unit-normalised** features
        (the dimensions it spans, however small its members), and the block is ``tight`` when the top ``rank``
        eigenvalues of its own Gram agree within ``tol`` (``1 − λ_min/λ_max ≤ tol``).

    Returns
    -------
    xarray.Dataset
        Along ``block`` (ordered by each block's first feature): ``size`` (features), ``block_rank``,
        ``capacity_sum`` (Σ C over the block; equals the rank for a tight block orthogonal to the rest),
        ``tight`` (bool), ``spread`` (``1 − λ_min/λ_max`` over its top ``block_rank`` eigenvalues). Along the
        feature dim: ``feature_block`` (block index, -1 for ignored) and ``capacity``. Scalars: ``capacity_sum``
        over all features as ``total_capacity``, ``n_dims``, and ``block_semi_orthogonal`` (every block tight and the
        blocks' Σ C = Σ ranks within ``tol · dim``; with ranks summing to ``n_dims`` this is Scherlis et al.'s
        Σ C = dim).
    """
    tol = check_float("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True, caller="block_structure")
    f = as_features(W, caller="block_structure")
    w = geometry._scaled(f.values)  # one global scale: no eigenvalue under- or overflows
    cap = geometry.capacities(w)
    labels, n_blocks = geometry.gram_blocks(w, tol, alive=~is_ignored(cap, tol))
    size = np.zeros(n_blocks, dtype=int)
    rank = np.zeros(n_blocks, dtype=int)
    csum = np.zeros(n_blocks)
    spread = np.zeros(n_blocks)
    norms = np.sqrt((w * w).sum(axis=1))
    hat = np.divide(w, norms[:, None], out=np.zeros_like(w), where=norms[:, None] > 0)
    for b in range(n_blocks):
        members = np.flatnonzero(labels == b)
        # the span (rank) from the unit vectors: a small member spans its dimension as much as a large one
        lam_hat = geometry.block_eigenvalues(hat[members])
        size[b] = len(members)
        rank[b] = int(np.sum(lam_hat > tol * lam_hat[0])) if lam_hat[0] > 0 else 0
        csum[b] = cap[members].sum()
        lam = geometry.block_eigenvalues(w[members])[: rank[b]]  # tightness from the vectors as they are
        spread[b] = 1 - lam[-1] / lam[0] if rank[b] and lam[0] > 0 else 0.0
    tight = spread <= tol
    total = float(cap.sum())
    dim = w.shape[1]
    out = xr.Dataset(
        {
            "size": ("block", size),
            "block_rank": ("block", rank),
            "capacity_sum": ("block", csum),
            "tight": ("block", tight),
            "spread": ("block", spread),
            "feature_block": ((f.feature_dim,), labels),
            "capacity": ((f.feature_dim,), cap),
            "total_capacity": ((), total),
            "n_dims": ((), dim),
            "block_semi_orthogonal": ((), bool(tight.all() and abs(csum.sum() - rank.sum()) <= tol * dim)),
        },
        coords={"block": np.arange(n_blocks), **f.coords},
    )
    out["capacity_sum"].attrs.update(long_name="Σ C over the block", units="dimensions")
    out["spread"].attrs.update(long_name="1 − λ_min/λ_max of the block's non-zero Gram eigenvalues")
    out.attrs.update(tol=tol, feature_dim=f.feature_dim, embed_dim=f.embed_dim)
    return stamp(
        out, analysis="capacity.block_structure", reference=REFERENCE, options={"tol": tol}, inputs_from=f.source
    )
