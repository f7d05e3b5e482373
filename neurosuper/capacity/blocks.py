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
from .measures import REFERENCE, as_features

__all__ = ["block_structure", "DEFAULT_BLOCK_TOL"]

#: Default ``tol`` of :func:`block_structure` (relative to the largest ‖W_i‖²).
DEFAULT_BLOCK_TOL = 1e-3


def block_structure(W: Any, tol: float = DEFAULT_BLOCK_TOL) -> xr.Dataset:
    """Blocks of mutually non-orthogonal features, their rank, capacity and tightness.

    Parameters
    ----------
    W
        Feature vectors, features first: a DataArray (``feature`` or ``direction``, ``dim``) or an array
        (features, dim).
    tol
        Relative tolerance ε > 0, used three ways (all relative, so the result does not depend on W's scale):
        features i ≠ j are linked when ``|W_i·W_j| > tol · max_k ‖W_k‖²``; a feature with
        ``‖W_i‖² ≤ tol · max_k ‖W_k‖²`` is ignored and belongs to no block (``feature_block = -1``); an eigenvalue
        of a block's Gram counts toward its rank when ``λ > tol · λ_max``, and the block is ``tight`` when its
        non-zero eigenvalues agree within ``tol`` (``1 − λ_min/λ_max ≤ tol``).

    Returns
    -------
    xarray.Dataset
        Along ``block`` (ordered by each block's first feature): ``size`` (features), ``block_rank``,
        ``capacity_sum`` (Σ C over the block; equals the rank for a tight block orthogonal to the rest),
        ``tight`` (bool), ``spread`` (``1 − λ_min/λ_max`` of the non-zero eigenvalues). Along the feature dim:
        ``feature_block`` (block index, -1 for ignored) and ``capacity``. Scalars: ``capacity_sum`` over all
        features as ``total_capacity``, ``n_dims``, and ``block_semi_orthogonal`` (every block tight and
        Σ C = Σ ranks within ``tol · dim``; with ranks summing to ``n_dims`` this is Scherlis et al.'s Σ C = dim).
    """
    tol = check_float("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True, caller="block_structure")
    f = as_features(W, caller="block_structure")
    w = f.values
    labels, n_blocks = geometry.gram_blocks(w, tol)
    cap = geometry.capacities(w)
    size = np.zeros(n_blocks, dtype=int)
    rank = np.zeros(n_blocks, dtype=int)
    csum = np.zeros(n_blocks)
    spread = np.zeros(n_blocks)
    for b in range(n_blocks):
        members = np.flatnonzero(labels == b)
        lam = geometry.block_eigenvalues(w[members])
        nonzero = lam[lam > tol * lam[0]] if lam[0] > 0 else lam[:0]
        size[b] = len(members)
        rank[b] = len(nonzero)
        csum[b] = cap[members].sum()
        spread[b] = 1 - nonzero[-1] / nonzero[0] if len(nonzero) else 0.0
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
            "block_semi_orthogonal": ((), bool(tight.all() and abs(total - rank.sum()) <= tol * dim)),
        },
        coords={"block": np.arange(n_blocks), **f.coords},
    )
    out["capacity_sum"].attrs.update(long_name="Σ C over the block", units="dimensions")
    out["spread"].attrs.update(long_name="1 − λ_min/λ_max of the block's non-zero Gram eigenvalues")
    out.attrs.update(tol=tol, feature_dim=f.feature_dim, embed_dim=f.embed_dim)
    return stamp(
        out, analysis="capacity.block_structure", reference=REFERENCE, options={"tol": tol}, inputs_from=f.source
    )
