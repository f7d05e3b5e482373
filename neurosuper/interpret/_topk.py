"""Exact top-k / bottom-k stimuli per unit, ties to the lowest stimulus index, never a stimulus × stimulus matrix.

The selection is the cost floor of the interpretability index, so it is done with one ``np.partition`` (values
only, cheaper than ``np.argpartition``) to find each unit's k-th best value ``t``, then one comparison pass to
collect the stimuli at least as good as ``t``. Everything strictly better than ``t`` is kept; among the stimuli
equal to ``t`` the lowest indices are kept (``np.nonzero`` returns them in index order), so the result is
deterministic however many responses tie (spike counts tie constantly). The k chosen stimuli are finally ordered
best first with a stable sort, which again sends ties to the lowest index.

In-memory responses are processed a block of units at a time (unit-contiguous rows); dask-backed responses a
block of stimuli at a time, keeping a running (unit, k) candidate list, so a set larger than memory is read once.
NaN responses (a stimulus a unit never got a valid repeat for) are never selected; a unit with fewer than k valid
stimuli gets index -1 in the missing places.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .._progress import progress_bar

__all__ = ["topk_rows", "topk_units"]

#: Elements per block of units processed at once (bounds the temporary memory to a few hundred MB).
BLOCK_ELEMENTS = 2**23


def topk_rows(X: np.ndarray, k: int, *, largest: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest (or smallest) entries of each row of ``X``, best first.

    Parameters
    ----------
    X
        (row, column) float array; NaN entries are never chosen.
    k
        How many per row (``1 <= k <= X.shape[1]``).
    largest
        ``True`` for the largest values, ``False`` for the smallest.

    Returns
    -------
    idx, vals
        (row, k) column indices (``-1`` where a row has fewer than k non-NaN entries) and their values
        (``∓inf`` there). Ties go to the lowest column index.
    """
    X = np.asarray(X)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    n_rows, n = X.shape
    fill = -np.inf if largest else np.inf
    sums = X.sum(axis=1)
    bad = ~np.isfinite(sums)
    if bad.any():
        X = X.copy()
        sub = X[bad]
        sub[np.isnan(sub)] = fill
        X[bad] = sub
    kth = n - k if largest else k - 1
    t = np.partition(X, kth, axis=1)[:, kth]
    mask = X >= t[:, None] if largest else X <= t[:, None]
    rows, cols = np.nonzero(mask)
    vals = X[rows, cols]
    better = vals > t[rows] if largest else vals < t[rows]
    n_better = np.bincount(rows[better], minlength=n_rows)
    eq = ~better
    eq_cum = np.cumsum(eq)
    row_start = np.searchsorted(rows, np.arange(n_rows))
    eq_before = np.concatenate([[0], eq_cum])[row_start]
    eq_rank = eq_cum - 1 - eq_before[rows]
    keep = better | (eq & (eq_rank < (k - n_better)[rows]))
    cols = cols[keep].reshape(n_rows, k)
    vals = vals[keep].reshape(n_rows, k)
    order = np.argsort(-vals if largest else vals, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    cols[vals == fill] = -1
    return cols.astype(np.int64), vals


def _merge(
    i1: np.ndarray, v1: np.ndarray, i2: np.ndarray, v2: np.ndarray, k: int, largest: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two candidate lists (global indices, values), keeping ties at the lowest global index."""
    idx = np.concatenate([i1, i2], axis=1)
    val = np.concatenate([v1, v2], axis=1)
    key = np.where(idx < 0, np.iinfo(np.int64).max, idx)
    order = np.argsort(key, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    val = np.take_along_axis(val, order, axis=1).astype(np.float64)
    val[idx < 0] = np.nan
    cols, best = topk_rows(val, k, largest=largest)
    out = np.take_along_axis(idx, np.maximum(cols, 0), axis=1)
    out[cols < 0] = -1
    return out, best


def _unit_blocks(R: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """(u0, u1, block) with block = R[:, u0:u1].T as a C-contiguous (unit, stimulus) array."""
    n_stim, n_unit = R.shape
    step = max(1, BLOCK_ELEMENTS // max(n_stim, 1))
    Rt = R.T
    for u0 in range(0, n_unit, step):
        u1 = min(n_unit, u0 + step)
        yield u0, u1, np.ascontiguousarray(Rt[u0:u1])


def topk_units(R: Any, k: int, *, largest: bool = True, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (or bottom-k) stimulus indices of every unit of a (stimulus, unit) numpy or dask array.

    Returns (unit, k) indices (best first, ties to the lowest index, -1 where fewer than k valid) and values.
    """
    n_stim, n_unit = R.shape
    if hasattr(R, "dask"):
        chunks = np.cumsum((0,) + tuple(R.chunks[0]))
        idx = np.full((n_unit, 0), -1, dtype=np.int64)
        val = np.zeros((n_unit, 0))
        for s0, s1 in progress_bar(
            list(zip(chunks[:-1], chunks[1:], strict=True)), progress=progress, desc="top-k", unit="block"
        ):
            block = np.asarray(R[s0:s1].compute()).T
            kk = min(k, s1 - s0)
            bi, bv = topk_rows(np.ascontiguousarray(block), kk, largest=largest)
            bi = np.where(bi < 0, -1, bi + s0)
            idx, val = _merge(idx, val, bi, bv, min(k, idx.shape[1] + kk), largest)
        return idx, val
    R = np.asarray(R)
    idx = np.empty((n_unit, k), dtype=np.int64)
    val = np.empty((n_unit, k), dtype=np.float64)
    blocks = _unit_blocks(R)
    n_blocks = -(-n_unit // max(1, BLOCK_ELEMENTS // max(n_stim, 1)))
    for u0, u1, block in progress_bar(blocks, total=n_blocks, progress=progress, desc="top-k", unit="block"):
        idx[u0:u1], val[u0:u1] = topk_rows(block, k, largest=largest)
    return idx, val
