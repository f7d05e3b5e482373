"""Chunked Gram matrices for numpy and dask arrays, and the eigensolvers the spectra use.

Every Gram matrix is a sum over blocks: per-block products are formed in the data's dtype (float32 stays
float32, at the BLAS peak) and accumulated in float64. In-memory arrays are walked block by block in a loop
(bounded temporaries); dask arrays are reduced with one delayed task per chunk and a tree of sums, so the same
call runs on the local threads or on a ``dask.distributed`` cluster and never holds the data whole.

Two orientations (``R`` is stimuli × units):

* unit side, ``Rᵀ H R`` (units × units): blocks are stimulus rows; per-unit centring uses a shift (the mean
  of the first block) and exact correction ``S − s sᵀ / W`` — one pass, and numerically safe because the
  shifted data are nearly centred (the "shifted data" algorithm);
* stimulus side, ``R Rᵀ`` (stimuli × stimuli): blocks are unit columns holding every stimulus, so each unit
  is centred (and z-scored) exactly inside its block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from ._progress import progress_bar

__all__ = [
    "is_dask",
    "reduce_blocks",
    "unit_grams",
    "stimulus_grams",
    "unit_stats",
    "top_eigh",
    "top_eigvalsh",
    "map_tasks",
    "constant_units",
]

#: Bytes of one block of one matrix held at a time (per thread).
BLOCK_BYTES = 64 * 2**20
#: Bytes of the shifted sub-block multiplied at once inside a unit-side block (large: BLAS efficiency).
SUB_BYTES = 128 * 2**20


def is_dask(x: Any) -> bool:
    return hasattr(x, "dask") and hasattr(x, "chunks")


def _combine(a: dict, b: dict) -> dict:
    """Combine two partial results into ``a``, in place (each partial is consumed exactly once); floating
    partials (per-chunk products in the data's dtype) are accumulated in float64."""
    for key, value in a.items():
        if value.dtype.kind == "f" and value.dtype != np.float64:
            value = a[key] = value.astype(np.float64)
        np.add(value, b[key], out=value)
    return a


def reduce_blocks(
    fn: Callable[..., dict],
    arrays: Sequence[Any],
    *,
    axis: int,
    progress: bool = False,
    desc: str = "gram",
    rows: int | None = None,
) -> dict:
    """Sum ``fn(blocks, start, stop)`` over blocks of the 2-D ``arrays`` along ``axis`` (0 rows, 1 columns).

    ``fn`` returns a dict of numpy arrays whose shapes do not depend on the block length; they are added
    (floating ones in float64). All arrays share the shape. For dask input the other
    axis is made one chunk and the arrays' chunks along ``axis`` are aligned; one delayed task per chunk runs
    ``fn`` and a tree of pairwise combinations sums the results (on the local threads or a distributed
    cluster, whichever is active). In-memory arrays go in blocks of ``rows`` (along ``axis``; default:
    :data:`BLOCK_BYTES` of the widest dtype — the bound on what ``fn`` copies of a block).
    """
    n = arrays[0].shape[axis]
    if any(is_dask(a) for a in arrays):
        return _dask_reduce(fn, arrays, axis=axis, progress=progress, desc=desc)
    other = arrays[0].shape[1 - axis]
    itemsize = max(np.dtype(a.dtype).itemsize for a in arrays)
    step = int(rows) if rows else max(64, int(BLOCK_BYTES // max(1, other * itemsize)))
    starts = range(0, n, step)
    if progress and len(starts) > 1:
        starts = progress_bar(starts, desc=desc, leave=False)
    acc: dict | None = None
    for start in starts:
        stop = min(n, start + step)
        sl = (slice(start, stop), slice(None)) if axis == 0 else (slice(None), slice(start, stop))
        part = fn([np.asarray(a[sl]) for a in arrays], start, stop)
        acc = part if acc is None else _combine(acc, part)
    assert acc is not None
    if len(starts) == 1:  # floating partials in float64, as _combine leaves them
        return {k: v.astype(np.float64, copy=False) if v.dtype.kind == "f" else v for k, v in acc.items()}
    return acc


def _tree(parts: list, combine: Callable) -> Any:
    while len(parts) > 1:
        nxt = [combine(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            nxt.append(parts[-1])
        parts = nxt
    return parts[0]


def _dask_reduce(fn: Callable[..., dict], arrays: Sequence[Any], *, axis: int, progress: bool, desc: str) -> dict:
    import dask
    import dask.array as da

    arrs = [da.asarray(a) for a in arrays]
    chunks = arrs[0].rechunk({1 - axis: -1}).chunks[axis]
    arrs = [a.rechunk({axis: chunks, 1 - axis: -1}) for a in arrs]
    bounds = np.concatenate([[0], np.cumsum(chunks)]).astype(int)
    blocks = [a.to_delayed().ravel() for a in arrs]
    call = dask.delayed(fn, pure=True)
    parts = [call(list(bs), int(bounds[i]), int(bounds[i + 1])) for i, bs in enumerate(zip(*blocks, strict=True))]
    total = _tree(parts, dask.delayed(_combine, pure=True))
    return _compute_local_split_blas(total, n_tasks=len(parts), progress=progress, desc=desc)[0]


# --------------------------------------------------------------------------------------------- unit side
def unit_stats(arrays: Sequence[Any], *, progress: bool = False) -> dict:
    """Per-unit means and variances (sums about a shift, one pass) of each array.

    Returns ``mean`` (k, units) and ``var`` (k, units; divided by the number of rows).
    """
    shifts = [_first_rows_mean(a) for a in arrays]
    fn = partial(_stats_block, shifts=shifts)

    acc = reduce_blocks(fn, arrays, axis=0, progress=progress, desc="unit stats")
    n = arrays[0].shape[0]
    k = len(arrays)
    mean = np.stack([shifts[i] + acc[f"s{i}"] / n for i in range(k)])
    var = np.stack([np.maximum(acc[f"q{i}"] / n - (acc[f"s{i}"] / n) ** 2, 0.0) for i in range(k)])
    return {"mean": mean, "var": var}


def _stats_block(blocks: list, start: int, stop: int, *, shifts: list) -> dict:
    out = {}
    for i, (b, k) in enumerate(zip(blocks, shifts, strict=True)):
        y = b.astype(np.float64) - k
        out[f"s{i}"] = y.sum(0)
        out[f"q{i}"] = (y * y).sum(0)
    return out


def constant_units(var: np.ndarray, mean: np.ndarray, dtype: Any) -> np.ndarray:
    """Units whose variation is below what ``dtype`` resolves around their mean: std ≤ 16·eps·|mean| (a
    constant unit has variance 0, or a few ulps² after centring in floating point)."""
    return np.asarray(var) <= (16 * np.finfo(dtype).eps * np.abs(mean)) ** 2


def _first_rows_mean(x: Any, rows: int = 4096) -> np.ndarray:
    head = x[: min(rows, x.shape[0])]
    head = head.compute() if is_dask(head) else np.asarray(head)
    return head.mean(axis=0, dtype=np.float64)


def _unit_block(
    blocks: list, start: int, stop: int, *, pairs: list, w_all: np.ndarray, weighted: bool, shifts: list, dtype: Any
) -> dict:
    nw, k, p = w_all.shape[0], len(blocks), blocks[0].shape[1]
    # per-block products accumulate in the data's dtype (numpy's matmul uses syrk for yᵀy) ...
    acc: list[list[Any]] = [[None] * len(pairs) for _ in range(nw)]
    sums = np.zeros((nw, k, p))
    w_blk = w_all[:, start:stop]
    sub = max(16, int(SUB_BYTES // max(1, p * np.dtype(dtype).itemsize)))
    for r0 in range(0, stop - start, sub):
        r1 = min(stop - start, r0 + sub)
        ys = [np.subtract(b[r0:r1], sh.astype(dtype), dtype=dtype) for b, sh in zip(blocks, shifts, strict=True)]
        ones = np.ones(r1 - r0, dtype=dtype)
        for iw in range(nw):
            w = w_blk[iw, r0:r1]
            sw = np.sqrt(w).astype(dtype)[:, None] if weighted else None
            scaled = ys if sw is None else [y * sw for y in ys]
            for ip, (i, j) in enumerate(pairs):
                prod = scaled[i].T @ scaled[j]
                if acc[iw][ip] is None:
                    acc[iw][ip] = prod
                else:
                    acc[iw][ip] += prod
            for i in range(k):
                sums[iw, i] += (ones @ ys[i]) if sw is None else (w.astype(dtype) @ ys[i])
    # ... and enter the float64 sum once per block
    return {"gram": np.array(acc), "sums": sums}


def unit_grams(
    arrays: Sequence[Any],
    pairs: Sequence[tuple[int, int]],
    *,
    weights: np.ndarray | None = None,
    shifts: Sequence[np.ndarray] | None = None,
    progress: bool = False,
) -> dict:
    """Weighted, centred unit-side Grams ``Σ_s w_s (x_i,s − μ_i)(x_j,s − μ_j)ᵀ`` for every pair ``(i, j)``.

    Parameters
    ----------
    arrays
        2-D (stimulus, unit) numpy or dask arrays of one shape.
    pairs
        Index pairs ``(i, j)``; ``i == j`` uses a symmetric rank-k update.
    weights
        (n_weights, stimulus) non-negative row weights (bootstrap counts); ``None`` = one vector of ones.
        Means ``μ`` are the weighted means, so each weight vector gives the Gram of the re-weighted set.
    shifts
        Per-array (unit,) shift subtracted before the products (default: the mean of the first rows).

    Returns
    -------
    dict
        ``gram`` (n_weights, n_pairs, unit, unit) float64, ``wsum`` (n_weights,), ``mean`` (n_weights, k, unit).
    """
    shifts = [_first_rows_mean(a) for a in arrays] if shifts is None else [np.asarray(s, np.float64) for s in shifts]
    n = arrays[0].shape[0]
    w_all = np.ones((1, n)) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    dtype = np.result_type(*[a.dtype for a in arrays])

    fn = partial(_unit_block, pairs=list(pairs), w_all=w_all, weighted=weights is not None, shifts=shifts, dtype=dtype)
    acc = reduce_blocks(fn, arrays, axis=0, progress=progress, desc="unit Gram")
    wsum = w_all.sum(axis=1)
    means = acc["sums"] / wsum[:, None, None]
    gram = acc["gram"]
    for ip, (i, j) in enumerate(pairs):
        gram[:, ip] -= wsum[:, None, None] * means[:, i, :, None] * means[:, j, None, :]
    return {"gram": gram, "wsum": wsum, "mean": means + np.stack(shifts)[None]}


# ----------------------------------------------------------------------------------------- stimulus side
def _stimulus_block(
    blocks: list,
    start: int,
    stop: int,
    *,
    pairs: list,
    n: int,
    zscore: bool,
    scale: np.ndarray | None,
    axes: np.ndarray | None,
    dtype: Any,
) -> dict:
    means = [b.mean(axis=0, dtype=np.float64) for b in blocks]
    xs = [(b - m.astype(dtype)).astype(dtype, copy=False) for b, m in zip(blocks, means, strict=True)]
    var = [np.einsum("ij,ij->j", x, x).astype(np.float64) / n for x in xs]
    const = np.logical_and.reduce([constant_units(v, m, dtype) for v, m in zip(var, means, strict=True)])
    if const.any():
        for x in xs:
            x[:, const] = 0
    if zscore:
        s = np.sqrt(sum(var) / len(xs)) if scale is None else np.asarray(scale[start:stop], dtype=np.float64)
        s = np.where(const | (s == 0), 1.0, s).astype(dtype)
        xs = [x / s for x in xs]
    gram = np.empty((len(pairs), n, n), dtype=dtype)
    for ip, (i, j) in enumerate(pairs):
        np.matmul(xs[i], xs[j].T, out=gram[ip])  # syrk when i == j
    out = {"gram": gram, "n_constant": np.array(int(const.sum()))}
    if axes is not None:
        u = np.asarray(axes[start:stop], dtype=dtype)
        out["proj"] = np.stack([x @ u for x in xs])
    return out


def stimulus_grams(
    arrays: Sequence[Any],
    pairs: Sequence[tuple[int, int]],
    *,
    zscore: bool = False,
    scale: np.ndarray | None = None,
    axes: np.ndarray | None = None,
    progress: bool = False,
) -> dict:
    """Stimulus-side Grams ``X_i X_jᵀ`` of the per-unit centred (optionally z-scored, projected) arrays.

    Each array is centred per unit (its own mean). With ``zscore`` every unit is divided by its standard
    deviation pooled over the arrays (or by ``scale`` when given). With ``axes`` (unit × k, orthonormal
    columns) the data are projected onto their complement, ``X (I − U Uᵀ)``, exactly:
    ``X_i (I − UUᵀ) X_jᵀ = X_i X_jᵀ − (X_i U)(X_j U)ᵀ``. Units constant in every array are counted.

    Returns ``gram`` (n_pairs, stimulus, stimulus) float64 and ``n_constant``.
    """
    n = arrays[0].shape[0]
    dtype = np.result_type(*[a.dtype for a in arrays])
    fn = partial(_stimulus_block, pairs=list(pairs), n=n, zscore=zscore, scale=scale, axes=axes, dtype=dtype)

    acc = reduce_blocks(fn, arrays, axis=1, progress=progress, desc="stimulus Gram")
    gram = acc["gram"]
    if axes is not None:
        proj = acc["proj"]
        for ip, (i, j) in enumerate(pairs):
            gram[ip] -= proj[i] @ proj[j].T
    return {"gram": gram, "n_constant": int(acc["n_constant"])}


# ------------------------------------------------------------------------------------------- eigensolvers
def centre_gram(g: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """``H G H`` with ``H = I − 11ᵀ/n`` (double centring); ``out=g`` works in place."""
    row = g.mean(axis=1, keepdims=True, dtype=np.float64)
    col = g.mean(axis=0, keepdims=True, dtype=np.float64)
    grand = row.mean()
    out = np.subtract(g, row.astype(g.dtype), out=out)
    out -= col.astype(g.dtype)
    out += g.dtype.type(grand)
    return out


def top_eigvalsh(g: np.ndarray, k: int, *, dtype: Any = np.float64) -> np.ndarray:
    """The ``k`` largest eigenvalues of the symmetric ``g``, descending (scipy.linalg.eigh, no vectors)."""
    from scipy.linalg import eigh

    m = g.shape[0]
    k = min(k, m)
    vals = eigh(np.asarray(g, dtype=dtype), eigvals_only=True, check_finite=False, overwrite_a=True, driver="evd")
    return vals[::-1][:k].astype(np.float64)


def top_eigh(g: np.ndarray, k: int, *, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenpairs of the symmetric ``g``: values descending (float64) and vectors (columns)."""
    from scipy.linalg import eigh

    m = g.shape[0]
    k = min(k, m)
    a = np.asarray(g, dtype=dtype)
    if k <= m // 4:  # MRRR on a subset pays off only for a small fraction of the spectrum
        vals, vecs = eigh(a, subset_by_index=[m - k, m - 1], check_finite=False, overwrite_a=True, driver="evr")
    else:
        vals, vecs = eigh(a, check_finite=False, overwrite_a=True, driver="evd")
        vals, vecs = vals[m - k :], vecs[:, m - k :]
    return vals[::-1].astype(np.float64), vecs[:, ::-1]


# ------------------------------------------------------------------------------------------------ tasks
def _local_scheduler() -> bool:
    import sys

    if "distributed" not in sys.modules:  # no client can exist (and importing distributed costs a second)
        return True
    from dask.base import get_scheduler

    owner = getattr(get_scheduler(), "__self__", None)
    return owner is None or type(owner).__name__ != "Client"


#: Run the independent eigendecompositions of :func:`map_tasks` as dask tasks side by side on the local
#: scheduler (each with its share of the thread budget, :mod:`neurosuper._threads`) instead of one after the
#: other with the budget's BLAS threads. Off by default: the choice is never taken from the machine's load (the
#: thread budget is — set ``NEUROSUPER_THREADS`` for the same bits on every run; results agree to 1e-12 anyway).
PARALLEL_TASKS = False


def map_tasks(
    fn: Callable, items: Sequence[Any], *, shared: Sequence[Any] = (), progress: bool = False, desc: str = "tasks"
) -> list:
    """``[fn(*shared, item) for item in items]`` — the independent eigendecompositions (shuffles, bootstrap).

    By default they run one after the other with the BLAS's own threads (LAPACK's tridiagonal reduction is
    memory-bound: two at once only share the bandwidth). With :data:`PARALLEL_TASKS` set they run as dask
    tasks side by side — as many as the thread budget allows, each with its share of BLAS threads
    (:mod:`neurosuper._threads`: tasks × BLAS threads ≤ the budget), which avoids oversubscription on a busy
    machine. With an active ``dask.distributed`` client they always run as tasks on the cluster;
    ``shared`` arrays then enter the graph once. Which path is taken never depends on the machine's load; the
    same seed gives the same numbers (to the bit with a fixed ``NEUROSUPER_THREADS``).
    """
    if len(items) <= 1 or (_local_scheduler() and not PARALLEL_TASKS):
        bar = progress_bar(items, desc=desc, progress=progress and len(items) >= 2, leave=False)
        return [fn(*shared, item) for item in bar]
    import uuid

    import dask

    keys = [dask.delayed(a, name=f"spectral-shared-{uuid.uuid4().hex}") for a in shared]
    call = dask.delayed(fn, pure=False)
    tasks = [call(*keys, item) for item in items]
    return list(_compute_local_split_blas(*tasks, n_tasks=len(items), progress=progress, desc=desc))


def _compute_local_split_blas(*collections: Any, n_tasks: int, progress: bool, desc: str) -> tuple:
    """``dask.compute``; on a local scheduler, ``_threads.parallel_tasks`` threads side by side, each with
    ``_threads.blas_threads`` of them (threads × BLAS threads ≤ the thread budget: no oversubscription)."""
    import dask

    if not _local_scheduler():
        return dask.compute(*collections)
    from ._threads import limits, parallel_tasks

    workers = parallel_tasks(n_tasks)
    with limits(tasks=workers):
        if progress:
            from tqdm.dask import TqdmCallback

            with TqdmCallback(desc=desc, leave=False):
                return dask.compute(*collections, num_workers=workers)
        return dask.compute(*collections, num_workers=workers)
