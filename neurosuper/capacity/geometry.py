"""Numerical kernels of feature capacity (plain numpy; the xarray adapters are in :mod:`.measures`).

Features are the ROWS of ``W`` here: ``W`` has shape (features, dim), ``W[i]`` is feature i's embedding vector
(the transpose of PAPERS' "columns of W").

* Capacity (Scherlis, Sachan, Jermyn, Benton & Shlegeris 2022, arXiv 2210.01892, eq. 3)::

      C_i = (W_i·W_i)² / Σ_j (W_i·W_j)²        (j runs over every feature, i included; C_i = 0 when W_i = 0)

  0 ≤ C_i ≤ 1 and Σ_i C_i ≤ dim (equality iff ``W`` is block-semi-orthogonal, see :func:`gram_blocks`).
* Dimensionality per feature (Elhage et al. 2022, *Toy Models of Superposition*, "Feature dimensionality")::

      D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²           (Ŵ_i = W_i / ‖W_i‖) — the same number as C_i

* Interference (Elhage et al.): ``Σ_{j≠i} (Ŵ_i·W_j)²``; ``D* = dim / ‖W‖²_F`` (dimensions per feature).

All functions work row-chunk by row-chunk, so ``W`` with 10⁵ features never builds the full Gram matrix.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .._validation import check_choice

__all__ = [
    "capacities",
    "dimensionalities",
    "interferences",
    "d_star",
    "gram_blocks",
    "block_eigenvalues",
    "polytope",
    "POLYTOPES",
]

#: Rows of the Gram matrix formed at once (CHUNK × features doubles).
_CHUNK_BYTES = 2**26


def _chunks(n_rows: int, n_cols: int) -> Iterator[slice]:
    step = max(1, _CHUNK_BYTES // (8 * max(n_cols, 1)))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _scaled(w: np.ndarray) -> np.ndarray:
    """``w`` divided by its largest row norm (capacity is invariant to one global scale; avoids under/overflow).

    The largest absolute entry is divided out first, so that no square under- or overflows at any scale
    (``1e-200 · W``: every W_i·W_i would be 0 in float64; ``1e300 · W``: inf)."""
    w = np.asarray(w, dtype=np.float64)
    big = float(np.abs(w).max(initial=0.0))
    if big == 0 or not np.isfinite(big):
        return w
    w = w / big
    top = np.sqrt((w * w).sum(axis=1)).max(initial=0.0)
    return w / top if top > 0 else w


def capacities(w: np.ndarray) -> np.ndarray:
    """C_i = (W_i·W_i)² / Σ_j (W_i·W_j)² for every row ``W_i`` of ``w`` (features, dim); 0 for zero rows."""
    w = _scaled(w)
    sq = (w * w).sum(axis=1)
    out = np.zeros(len(w))
    for rows in _chunks(len(w), len(w)):
        g = w[rows] @ w.T
        denom = np.einsum("ij,ij->i", g, g)
        num = sq[rows] ** 2
        out[rows] = np.divide(num, denom, out=np.zeros_like(num), where=sq[rows] > 0)
    return out


def _unit_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norms = np.sqrt((w * w).sum(axis=1))
    hat = np.divide(w, norms[:, None], out=np.zeros_like(w), where=norms[:, None] > 0)
    return hat, norms


def dimensionalities(w: np.ndarray) -> np.ndarray:
    """Elhage's D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)² (computed through the unit vectors Ŵ_i); 0 for zero rows."""
    w = _scaled(w)
    hat, norms = _unit_rows(w)
    out = np.zeros(len(w))
    for rows in _chunks(len(w), len(w)):
        proj = hat[rows] @ w.T  # (Ŵ_i·W_j)
        denom = np.einsum("ij,ij->i", proj, proj)
        num = norms[rows] ** 2
        out[rows] = np.divide(num, denom, out=np.zeros_like(num), where=norms[rows] > 0)
    return out


def interferences(w: np.ndarray) -> np.ndarray:
    """Σ_{j≠i} (Ŵ_i·W_j)² for every row, in the units of ``w`` (squared length); 0 for zero rows."""
    w = np.asarray(w, dtype=np.float64)
    hat, norms = _unit_rows(w)
    out = np.zeros(len(w))
    for rows in _chunks(len(w), len(w)):
        proj = hat[rows] @ w.T
        idx = np.arange(rows.start, rows.stop)
        proj[idx - rows.start, idx] = 0.0
        out[rows] = np.einsum("ij,ij->i", proj, proj)
    out[norms == 0] = 0.0
    return out


def d_star(w: np.ndarray) -> float:
    """Elhage's D* = dim / ‖W‖²_F (``inf`` for an all-zero ``w``)."""
    w = np.asarray(w, dtype=np.float64)
    fro = float((w * w).sum())
    return w.shape[1] / fro if fro > 0 else float("inf")


def gram_blocks(w: np.ndarray, tol: float, alive: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Blocks of features: connected components of the graph with an edge where ``|W_i·W_j| > tol ‖W_i‖ ‖W_j‖``
    (``|cos| > tol``: relative to each feature's own norm, so a small block next to a large one is still found).

    ``alive`` (bool per feature, default: the non-zero rows) says which features take part; the others are ignored.
    Returns ``(labels, n_blocks)``: ``labels[i]`` is feature i's block (0..n_blocks-1, ordered by their first
    feature), ``-1`` for the features that are not alive (ignored features belong to no block).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    hat, norms = _unit_rows(_scaled(w))
    n = len(hat)
    alive = norms > 0 if alive is None else (np.asarray(alive, dtype=bool) & (norms > 0))
    rows_all, cols_all = [], []
    for rows in _chunks(n, n):
        g = np.abs(hat[rows] @ hat.T)
        r, c = np.nonzero(g > tol)
        rows_all.append(r + rows.start)
        cols_all.append(c)
    r = np.concatenate(rows_all) if rows_all else np.zeros(0, int)
    c = np.concatenate(cols_all) if cols_all else np.zeros(0, int)
    keep = alive[r] & alive[c]
    graph = coo_matrix((np.ones(keep.sum()), (r[keep], c[keep])), shape=(n, n)).tocsr()
    _, comp = connected_components(graph, directed=False)
    labels = np.full(n, -1)
    order: dict[int, int] = {}
    for i in np.flatnonzero(alive):
        labels[i] = order.setdefault(int(comp[i]), len(order))
    return labels, len(order)


def block_eigenvalues(w: np.ndarray) -> np.ndarray:
    """Eigenvalues (descending) of the block's frame operator ``WᵀW`` = the non-zero spectrum of its Gram ``WWᵀ``."""
    w = np.asarray(w, dtype=np.float64)
    small = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    return np.sort(np.linalg.eigvalsh(small))[::-1]


# ------------------------------------------------------------------------------------------------ polytopes
#: Known geometries and the capacity of each of their (equal-norm) features (Scherlis et al. 2022, Fig. 2;
#: Elhage et al. 2022, "The geometry of superposition").
POLYTOPES: dict[str, float] = {
    "orthogonal": 1.0,
    "antipodal": 1 / 2,
    "triangle": 2 / 3,
    "square": 1 / 2,
    "pentagon": 2 / 5,
    "tetrahedron": 3 / 4,
    "square_antiprism": 3 / 8,
}


def _regular_polygon(k: int) -> np.ndarray:
    ang = 2 * np.pi * np.arange(k) / k
    return np.stack([np.cos(ang), np.sin(ang)], axis=1)


def polytope(name: str, *, dim: int | None = None, seed: int | None = None) -> np.ndarray:
    """Unit feature vectors (features, dim) of a known geometry, randomly rotated when ``seed`` is given.

    ``orthogonal``: the ``dim`` (default 3) basis vectors; ``antipodal``: ±e₁ in 1-D; ``triangle``, ``square``,
    ``pentagon``: regular polygons in 2-D; ``tetrahedron``: 4 vectors in 3-D; ``square_antiprism``: 8 unit vectors
    at heights ±1/√3, the two squares turned 45° apart (a tight frame: each capacity 3/8). ``dim`` larger than
    the geometry's own embeds it in the first coordinates. Capacities: :data:`POLYTOPES`.
    """
    check_choice("name", name, list(POLYTOPES), caller="polytope")
    if name == "orthogonal":
        base = np.eye(dim or 3)
    elif name == "antipodal":
        base = np.array([[1.0], [-1.0]])
    elif name in ("triangle", "square", "pentagon"):
        base = _regular_polygon({"triangle": 3, "square": 4, "pentagon": 5}[name])
    elif name == "tetrahedron":
        base = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float) / np.sqrt(3)
    else:  # square_antiprism
        h = 1 / np.sqrt(3)
        rho = np.sqrt(1 - h * h)
        ang = np.pi / 2 * np.arange(4)
        top = np.stack([rho * np.cos(ang), rho * np.sin(ang), np.full(4, h)], axis=1)
        bottom = np.stack([rho * np.cos(ang + np.pi / 4), rho * np.sin(ang + np.pi / 4), np.full(4, -h)], axis=1)
        base = np.concatenate([top, bottom])
    d = max(dim or base.shape[1], base.shape[1])
    out = np.zeros((len(base), d))
    out[:, : base.shape[1]] = base
    if seed is not None:
        q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
        out = out @ (q * np.sign(np.diag(r)))
    return out
