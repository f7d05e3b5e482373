"""Numerical kernels of RDM comparison (plain numpy): similarity of condensed RDM vectors, weighted by
bootstrap counts, permutation nulls, and rsatoolbox's pooling rule for noise ceilings.

A bootstrap resample over stimuli (rsatoolbox's ``bootstrap_sample_pattern``) draws n stimuli with replacement;
stimulus ``i`` drawn ``c_i`` times makes the pair ``(i, j)`` appear ``c_i c_j`` times in the resampled RDM, and
the pairs of a stimulus with its own copy are dropped (rsatoolbox sets them to NaN). So a resample is the
original vector of pairs with weights ``w_ij = c_i c_j``, and every similarity is computed in weighted form
without building the resampled matrix:

* Pearson / cosine: weighted moments ``Σ w x``, ``Σ w x y``, ... (matrix products over all resamples at once);
* Spearman: ranks of a vector with repeated entries are average ranks over weighted tie groups,
  ``rank = C_g − (W_g − 1)/2`` with ``W_g`` the group's total weight and ``C_g`` the cumulative weight up to
  and including it (``scipy.stats.rankdata``'s "average"), then weighted Pearson;
* Kendall τ_a (Nili et al. 2014): ``τ_a = Σ_{u<v} w_u w_v sgn(x_u − x_v) sgn(y_u − y_v) / (N(N − 1)/2)``
  with ``N = Σ w`` (copies of one entry are tied in both and count neither way). When one RDM has few distinct
  values (a categorical model) the sum goes level by level of it with prefix sums (:data:`TAU_LEVELS_MAX`);
  otherwise the discordant weight is the weighted inversion count of a merge sort whose structure is fixed
  (only the weights change between resamples), O(pairs × log pairs) per resample, vectorised over resamples.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "METHODS",
    "RSATOOLBOX_METHOD",
    "similarity",
    "spearman",
    "SpearmanPlan",
    "sort_order",
    "weighted_similarity",
    "bootstrap_counts",
    "recentred_interval",
    "pair_weights",
    "permutation_index",
    "pool",
    "tau_a",
    "TAU_LEVELS_MAX",
]

#: RDM comparison methods, and the names rsatoolbox's ``compare``/``pool_rdm`` use for them.
METHODS = ("spearman", "kendall_tau_a", "pearson", "cosine")
RSATOOLBOX_METHOD = {"spearman": "spearman", "kendall_tau_a": "tau-a", "pearson": "corr", "cosine": "cosine"}
#: Weighted τ_a goes level by level when one RDM has at most this many distinct values (categorical models).
TAU_LEVELS_MAX = 32
#: Elements of one (pairs × resamples) temporary: small enough to stay in cache (the rank and prefix-sum
#: passes are memory-bound).
_BATCH_ELEMENTS = 2**18


#: Elements per chunk of the rank kernels' streaming passes (no full-length temporaries).
_CHUNK = 2**16


def _chunks(m: int) -> range:
    return range(0, m, _CHUNK)


def _ordered_bits(v: np.ndarray) -> np.ndarray:
    """The float64 values' IEEE-754 bits as uint64 whose unsigned order is the numeric order: negatives all bits
    flipped, the others the sign bit set; −0.0 as +0.0 (a new array)."""
    sign = np.uint64(1 << 63)
    k = np.add(v, 0.0).view(np.uint64)  # -0.0 + 0.0 = +0.0
    if k.size and k.max() >= sign:  # negatives: all their bits flipped, the others' sign bit set
        flip = k >> np.uint64(63)
        flip *= np.uint64(0x7FFFFFFFFFFFFFFF)
        flip |= sign
        k ^= flip
    else:
        k |= sign
    return k


def _pack_sort(v: np.ndarray, buf: np.ndarray, lookup: np.ndarray | None) -> np.ndarray | None:
    """Sort the entries of ``v`` by value, in place in ``buf``; return the first sorted position of each tie
    group (``None``: no ties).

    ``buf`` (uint64, one entry per element of ``v``) holds a payload below ``2^b`` (``b = ⌈log₂ M⌉``) — the
    element's index (``lookup`` None) or any code with ``lookup[code]`` = the index. The value's
    order-preserving bits (:func:`_ordered_bits`) minus those of the smallest value, shifted right just enough to
    fit in ``64 − b`` bits, fill the top bits — so the kept bits cover the vector's own range (an RDM's distances
    spanning a few binades keep ~37 of their 52 mantissa bits, not 28) — one in-place ``np.sort`` of the
    integers orders them (numpy's integer sort is 2–4× faster than its argsort; ``scipy.stats.rankdata`` uses a
    stable argsort), and ``buf`` is left holding the payloads in sorted order. Entries whose kept bits coincide
    (equal values, or values too close for the kept bits) end up next to each other; only those are compared by
    their full value (and re-sorted if they differ), and the equal ones form the tie groups — the order and the
    ties are exact, whatever the values."""
    m = v.size
    bits = max(1, (m - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    lo_key, hi_key = (int(k) for k in _ordered_bits(np.array([v.min(), v.max()])))
    shift = np.uint64(max(0, (hi_key - lo_key).bit_length() - (64 - bits)))
    lo, up = np.uint64(lo_key), np.uint64(bits)
    for c0 in _chunks(m):
        k = _ordered_bits(v[c0 : c0 + _CHUNK])
        k -= lo
        k >>= shift
        k <<= up
        buf[c0 : c0 + _CHUNK] |= k
    buf.sort()
    found = []  # sorted positions k such that k and k + 1 share their kept bits
    for c0 in _chunks(m - 1):
        a = buf[c0 : min(c0 + _CHUNK, m - 1)]
        hit = np.flatnonzero((a ^ buf[c0 + 1 : c0 + 1 + a.size]) <= low)
        if hit.size:
            found.append(hit + c0)
        a &= low  # the next chunk's scan reads only its own first entry's kept bits
    buf[m - 1 :] &= low
    if not found:
        return None
    pos = np.concatenate(found)

    def values(k: np.ndarray) -> np.ndarray:
        code = buf[k].astype(np.intp)
        return v[code if lookup is None else lookup[code]]

    eq = values(pos) == values(pos + 1)
    if not eq.all():  # values differing only below the kept bits: sort the runs they are in by value
        mark = np.zeros(m, dtype=bool)  # runs of consecutive positions; different runs are already in order
        mark[pos] = True
        mark[pos + 1] = True
        members = np.flatnonzero(mark)
        del mark
        buf[members] = buf[members][np.argsort(values(members), kind="stable")]
        eq = values(pos) == values(pos + 1)
    if not eq.any():
        return None
    new = np.ones(m, dtype=bool)
    new[pos[eq] + 1] = False
    return np.flatnonzero(new)


def _as_index(buf: np.ndarray) -> np.ndarray:
    """The uint64 payloads (all below 2^63) as intp, without a copy where intp is 64-bit."""
    return buf.view(np.intp) if np.dtype(np.intp).itemsize == 8 else buf.astype(np.intp)


def sort_order(v: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(order, starts)``: a permutation sorting the float64 vector ``v`` (no NaN; RDMs hold none) and the first
    sorted position of each of its tie groups (``None``: no ties) — one integer sort (:func:`_pack_sort`)."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    if v.size < 2:
        return np.arange(v.size), None
    buf = np.arange(v.size, dtype=np.uint64)
    starts = _pack_sort(v, buf, None)
    return _as_index(buf), starts


def _sorted_ranks(m: int, starts: np.ndarray | None, centre: float = 0.0) -> np.ndarray:
    """Average ranks (1-based, ``scipy.stats.rankdata``'s "average") of the sorted positions, minus ``centre``."""
    if starts is None:
        return np.arange(1 - centre, m + 1 - centre, dtype=np.float64)
    ends = np.r_[starts[1:], m]
    return np.repeat((starts + ends + 1) / 2 - centre, ends - starts)


def _scatter_ranks(order: np.ndarray, starts: np.ndarray | None, centre: float) -> np.ndarray:
    """Average ranks minus ``centre`` in the original order (chunked: no full-length rank temporary)."""
    m = order.size
    out = np.empty(m)
    if starts is not None:
        out[order] = _sorted_ranks(m, starts, centre)
        return out
    ramp = np.arange(1 - centre, min(_CHUNK, m) + 1 - centre, dtype=np.float64)
    for c0 in _chunks(m):
        ix = order[c0 : c0 + _CHUNK]
        out[ix] = ramp[: ix.size]
        ramp += _CHUNK
    return out


def _rank(v: np.ndarray, centre: bool = False) -> np.ndarray:
    """``scipy.stats.rankdata(v)`` (average ranks, float64), minus their mean ``(M + 1)/2`` with ``centre``."""
    order, starts = sort_order(v)
    return _scatter_ranks(order, starts, (v.size + 1) / 2 if centre else 0.0)


def _centred_ranks_sq(m: int, starts: np.ndarray | None) -> float:
    """Σ (rank − (M + 1)/2)² of average ranks: M(M² − 1)/12 − Σ_groups (t³ − t)/12 (t: tie group sizes)."""
    total = m * (m * m - 1) / 12
    if starts is None:
        return float(total)
    t = np.diff(np.r_[starts, m]).astype(np.float64)
    return float(total - np.sum(t**3 - t) / 12)


#: Vectors at least this long are sorted side by side in threads when the thread budget allows more than one
#: (:func:`neurosuper._threads.parallel_tasks`); shorter ones are sorted one after the other (thread start-up
#: would cost more than it saves).
PARALLEL_MIN = 2**20


def _sort_workers(m: int, n_vectors: int) -> int:
    """Threads for sorting ``n_vectors`` vectors of length ``m``: 1 below :data:`PARALLEL_MIN`, else as many as
    the thread budget allows (never more than the vectors)."""
    if m < PARALLEL_MIN or n_vectors < 2:
        return 1
    from .._threads import parallel_tasks

    return parallel_tasks(n_vectors)


def _index_dtype(limit: int) -> type:
    return np.int16 if limit <= np.iinfo(np.int16).max else np.int32 if limit <= np.iinfo(np.int32).max else np.intp


class SpearmanPlan:
    """Spearman's ρ of ``x`` with each row of ``ys``, and its weighted (bootstrap) form, from one integer sort per
    vector (:func:`_pack_sort`) — equal to ``scipy.stats.spearmanr`` / rsatoolbox's ``compare(method="spearman")``.

    With centred ranks ``r̃ = rank − (M + 1)/2`` (exact half-integers), ``ρ = Σ r̃_x r̃_y / √(Σ r̃_x² Σ r̃_y²)``.
    ``x`` is sorted carrying each element's index; each ``y`` is sorted carrying each element's *position in x's
    sorted order* (one scatter), so after the sort the x-rank of every y-sorted entry is at hand: the cross sum
    is a sequential pass, and the sums of squares are ``M(M² − 1)/12`` minus the tie corrections ``Σ (t³ − t)/12``.

    Bootstrap resamples (:meth:`boot`): weights ``w = c_i c_j`` per pair, average ranks over weighted tie groups
    ``C − w/2 + 1/2`` (``C``: cumulative weight in sorted order, so no resample is re-sorted: a resampled RDM's
    duplicated pairs are ties of equal weight), centred by the weighted mean ``(N + 1)/2``; the pair endpoints
    are stored in each vector's sorted order and the x-ranks gathered by the stored x-positions — O(M) per
    resample, no resampled matrix."""

    def __init__(self, x: np.ndarray, ys: np.ndarray):
        x = np.ascontiguousarray(x, dtype=np.float64)
        ys = np.atleast_2d(np.asarray(ys, dtype=np.float64))
        m = self.m = x.size
        self.ends_x: tuple[np.ndarray, np.ndarray] | None = None
        workers = _sort_workers(m, 1 + len(ys))
        if workers > 1:
            self._sort_side_by_side(x, ys, workers)
            return
        buf = np.arange(m, dtype=np.uint64)
        self.starts_x = _pack_sort(x, buf, None) if m > 1 else None
        self.order_x = _as_index(buf)
        where = np.empty(m, dtype=np.uint64)  # where[i]: the position of element i in x's sorted order
        ramp = np.arange(min(_CHUNK, m), dtype=np.uint64)
        for c0 in _chunks(m):
            ix = self.order_x[c0 : c0 + _CHUNK]
            where[ix] = ramp[: ix.size]
            ramp += np.uint64(_CHUNK)
        self.in_x: list[np.ndarray] = []  # per y: the x-sorted position of each y-sorted entry
        self.starts_y: list[np.ndarray | None] = []
        for k, y in enumerate(ys):
            b = where.copy() if k < len(ys) - 1 else where
            self.starts_y.append(_pack_sort(np.ascontiguousarray(y), b, self.order_x) if m > 1 else None)
            self.in_x.append(_as_index(b))

    def _sort_side_by_side(self, x: np.ndarray, ys: np.ndarray, workers: int) -> None:
        """The same state as the one-thread path, with every vector sorted at once in ``workers`` threads (numpy's
        sort and the packing passes release the GIL): each vector carries its own indices, and each y's
        x-positions are gathered after the sorts through x's inverse permutation (one scatter, one gather per y,
        both split over the threads). Ties within a y tie group may come out in another order than on the
        one-thread path, which moves sums over them in the last bits only."""
        from concurrent.futures import ThreadPoolExecutor

        m = self.m

        def sort(v: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            buf = np.arange(m, dtype=np.uint64)
            starts = _pack_sort(np.ascontiguousarray(v), buf, None)
            return _as_index(buf), starts

        with ThreadPoolExecutor(workers) as pool:
            jobs = [pool.submit(sort, v) for v in (x, *ys)]
            self.order_x, self.starts_x = jobs[0].result()
            where: np.ndarray = np.empty(m, dtype=_index_dtype(m))  # element i sits at where[i] in x's order
            where[self.order_x] = np.arange(m, dtype=where.dtype)
            self.in_x, self.starts_y = [], []
            for job in jobs[1:]:
                order_y, starts = job.result()
                pos = np.empty(m, dtype=where.dtype)
                cuts = np.linspace(0, m, workers + 1).astype(int)
                parts = [
                    pool.submit(np.take, where, order_y[a:b], None, pos[a:b])
                    for a, b in zip(cuts[:-1], cuts[1:], strict=True)
                ]
                for part in parts:
                    part.result()
                del order_y
                self.in_x.append(pos)
                self.starts_y.append(starts)

    def values(self) -> np.ndarray:
        """(k,) ρ of x with each y."""
        m = self.m
        centre = (m + 1) / 2
        rx = _sorted_ranks(m, self.starts_x, centre) if self.starts_x is not None else None
        out = np.empty(len(self.in_x))
        for k, (pos, sy) in enumerate(zip(self.in_x, self.starts_y, strict=True)):
            ry = _sorted_ranks(m, sy, centre) if sy is not None else None
            sxy = 0.0
            ramp = np.arange(1 - centre, min(_CHUNK, m) + 1 - centre, dtype=np.float64)
            for c0 in _chunks(m):
                px = pos[c0 : c0 + _CHUNK]
                gx = rx[px] if rx is not None else px + (1 - centre)
                sxy += float(gx @ (ry[c0 : c0 + px.size] if ry is not None else ramp[: px.size]))
                ramp += _CHUNK
            den = np.sqrt(_centred_ranks_sq(m, self.starts_x) * _centred_ranks_sq(m, sy))
            out[k] = sxy / den if den > 0 else np.nan
        return out

    def _ends(self, n_stim: int) -> tuple[np.ndarray, np.ndarray]:
        """The stimuli (i, j) of each pair in x's and in each y's sorted order (the smallest integer type);
        the x-positions are narrowed to the smallest integer type too (they are kept per resample batch)."""
        if self.ends_x is not None:
            return self.ends_x
        iu, ju = np.triu_indices(n_stim, 1)
        code = _index_dtype(n_stim)
        iu, ju = iu.astype(code), ju.astype(code)
        self.ends_x = (iu[self.order_x], ju[self.order_x])
        self.ends_y = []
        for pos in self.in_x:
            order_y = self.order_x[pos]
            self.ends_y.append((iu[order_y], ju[order_y]))
        self.in_x = [pos.astype(_index_dtype(self.m)) for pos in self.in_x]
        return self.ends_x

    def boot(self, counts: np.ndarray) -> np.ndarray:
        """(B,) ρ averaged over the ys in each resample given by ``counts`` (B, n) (:func:`bootstrap_counts`)."""
        ends_x = self._ends(counts.shape[1])
        out = np.zeros(counts.shape[0])
        step = max(1, _BATCH_ELEMENTS // max(1, self.m))
        for b0 in range(0, counts.shape[0], step):
            ct = np.ascontiguousarray(counts[b0 : b0 + step].T, dtype=np.float64)  # (n, b)
            wx = _gather_weights(ct, *ends_x)
            rx = _wranks(wx, self.starts_x)
            sxx = np.einsum("ij,ij->j", wx * rx, rx)
            part = out[b0 : b0 + step]
            for (a, b), pos, sy in zip(self.ends_y, self.in_x, self.starts_y, strict=True):
                wy = _gather_weights(ct, a, b)
                ry = _wranks(wy, sy)
                wy *= ry
                syy = np.einsum("ij,ij->j", wy, ry)
                del ry
                sxy = np.zeros(ct.shape[1])
                for c0 in _chunks(self.m):
                    sxy += np.einsum("ij,ij->j", wy[c0 : c0 + _CHUNK], rx[pos[c0 : c0 + _CHUNK]])
                with np.errstate(invalid="ignore", divide="ignore"):
                    part += sxy / np.sqrt(sxx * syy)
        return out / len(self.in_x)


def _gather_weights(ct: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, b) pair weights ``c_a c_b`` of a batch of resamples ``ct`` (n, b), chunk by chunk (the small index
    types are widened one chunk at a time)."""
    out = np.empty((a.size, ct.shape[1]))
    for c0 in _chunks(a.size):
        sl = slice(c0, c0 + _CHUNK)
        np.multiply(ct[a[sl]], ct[b[sl]], out=out[sl])
    return out


def _wranks(w: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
    """(M, b) centred average ranks of sorted entries with weights ``w`` (M, b): ``C − W/2 − N/2`` per tie group
    (``C``: cumulative weight up to and including the group, ``W``: its weight, ``N``: the total), i.e. rank
    ``C − (W − 1)/2`` minus the weighted mean rank ``(N + 1)/2``."""
    if starts is None:
        r = np.cumsum(w, axis=0)
        half_n = r[-1] / 2
        r -= w / 2
        r -= half_n
        return r
    g = np.add.reduceat(w, starts, axis=0)
    rg = np.cumsum(g, axis=0)
    half_n = rg[-1] / 2
    rg -= g / 2
    rg -= half_n
    return np.repeat(rg, np.diff(np.r_[starts, w.shape[0]]), axis=0)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ of two vectors (:class:`SpearmanPlan`): ``scipy.stats.spearmanr``, rsatoolbox's
    ``compare(method="spearman")``."""
    if np.size(x) < 2:
        return float("nan")
    return float(SpearmanPlan(x, np.asarray(y)[None]).values()[0])


def _cos(x: np.ndarray, y: np.ndarray) -> float:
    nx, ny = np.sqrt(x @ x), np.sqrt(y @ y)
    return float(x @ y / (nx * ny)) if nx > 0 and ny > 0 else float("nan")


def tau_a(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's τ_a = (concordant − discordant) / (n(n − 1)/2): ties count neither way but stay in the
    denominator. From scipy's τ_b (O(n log n)): ``con − dis = τ_b √((n₀ − n₁)(n₀ − n₂))``."""
    from scipy.stats import kendalltau

    n = x.size
    n0 = n * (n - 1) / 2

    def ties(v: np.ndarray) -> float:
        _, c = np.unique(v, return_counts=True)
        return float((c * (c - 1) / 2).sum())

    n1, n2 = ties(x), ties(y)
    if n1 == n0 or n2 == n0:
        return 0.0
    tb = kendalltau(x, y).statistic
    return float(np.clip(tb * np.sqrt((n0 - n1) * (n0 - n2)) / n0, -1.0, 1.0))


def similarity(x: np.ndarray, y: np.ndarray, method: str) -> float:
    """One comparison of two condensed RDM vectors (rsatoolbox's ``compare`` for the same method)."""
    if method == "cosine":
        return _cos(x, y)
    if method == "pearson":
        return _cos(x - x.mean(), y - y.mean())
    if method == "spearman":
        return spearman(x, y)
    if method == "kendall_tau_a":
        return tau_a(x, y)
    raise ValueError(method)


# ------------------------------------------------------------------------------------------------ bootstrap
def bootstrap_counts(n: int, n_boot: int, seed: int | np.random.Generator | None) -> np.ndarray:
    """(n_boot, n) int64: how often each of ``n`` stimuli is drawn in each resample with replacement
    (``rng.integers(0, n, (n_boot, n))`` counted per row)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    flat = idx + n * np.arange(n_boot)[:, None]
    return np.bincount(flat.ravel(), minlength=n_boot * n).reshape(n_boot, n)


def recentred_interval(
    estimate: float, boot: np.ndarray, ci: float, *, bounds: tuple[float, float] = (-1.0, 1.0)
) -> tuple[float, float, float]:
    """``(lower, upper, shift)``: the ``ci`` percentile interval of the resamples ``boot``, moved by ``shift`` =
    estimate − median(boot) so that the resamples' median sits on the estimate, and clipped to the statistic's
    range ``bounds``.

    Resampling stimuli with replacement duplicates some of them (pairs of a stimulus with its own copy are
    dropped; a test fold holds repeats), which pulls the resampled statistic away from the estimate: the plain
    percentile interval then need not contain the estimate. The median lies between any two quantiles at levels
    ``(1 ∓ ci) / 2``, so the recentred interval always contains a finite estimate, and clipping to ``bounds``
    (where the estimate lies) keeps it so. NaN resamples are ignored; all NaN (or a NaN estimate) gives NaN."""
    boot = np.asarray(boot, dtype=np.float64)
    ok = boot[np.isfinite(boot)]
    if not np.isfinite(estimate) or ok.size == 0:
        return np.nan, np.nan, np.nan
    shift = float(estimate - np.median(ok))
    lo, hi = np.quantile(ok, [(1 - ci) / 2, (1 + ci) / 2]) + shift
    lo = float(np.clip(min(lo, estimate), *bounds))  # min/max: rounding of the shift never moves a bound past it
    hi = float(np.clip(max(hi, estimate), *bounds))
    return lo, hi, shift


def pair_weights(counts: np.ndarray) -> np.ndarray:
    """(n_boot, n_pairs) float64 weights ``c_i c_j`` of the pairs i < j (squareform order)."""
    n = counts.shape[1]
    iu, ju = np.triu_indices(n, 1)
    c = counts.astype(np.float64)
    return c[:, iu] * c[:, ju]


def _pair_weights_t(counts: np.ndarray, iu: np.ndarray, ju: np.ndarray) -> np.ndarray:
    """(n_pairs, b) weights of a batch of resamples, pairs along rows (row gathers are contiguous)."""
    ct = np.ascontiguousarray(counts.T, dtype=np.float64)
    return ct[iu] * ct[ju]


def _wmoments(x: np.ndarray, y: np.ndarray, wt: np.ndarray, centred: bool) -> np.ndarray:
    """Weighted Pearson (``centred``) or cosine of fixed vectors x, y (M,) under each column of wt (M, b)."""
    if centred:
        x = x - x.mean()
        y = y - y.mean()
    stacked = np.stack([x * y, x * x, y * y, x, y, np.ones_like(x)])
    sxy, sxx, syy, sx, sy, sw = stacked @ wt  # (6, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        if centred:
            return (sxy - sx * sy / sw) / np.sqrt((sxx - sx * sx / sw) * (syy - sy * sy / sw))
        return sxy / np.sqrt(sxx * syy)


class _MergePlan:
    """Everything of a bottom-up merge sort of ``y`` in (x, y) order that does not depend on the weights: per
    level, the within-block y order and, for each right-half element, where the larger-y part of its left
    partner block starts and ends in that order."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        m = x.size
        self.order = np.lexsort((y, x))
        ys = y[self.order]
        _, yrank = np.unique(ys, return_inverse=True)
        pos = np.arange(m)
        self.levels = []
        w = 1
        while w < m:
            block = pos // w
            within = np.lexsort((yrank, block))  # positions sorted by (w-block, y)
            right = np.flatnonzero(block % 2 == 1)
            left_block = block[right] - 1
            keys = block[within] * (m + 1) + yrank[within]
            start = np.searchsorted(keys, left_block * (m + 1) + yrank[right], side="right")
            end = np.minimum((left_block + 1) * w, m)
            # suffix sums of the sorted weights from a forward cumsum G of the reversed order (G[0] = 0):
            # Σ_{j >= k} = G[m - k]
            self.levels.append((within[::-1].copy(), right, m - start, m - end))
            w *= 2
        self.y_order = np.argsort(ys, kind="stable")  # y ties are contiguous in this order
        joint = np.r_[True, (np.diff(x[self.order]) != 0) | (np.diff(ys) != 0)]
        groups = [_tie_starts(x[self.order]), _tie_starts(ys[self.y_order]), np.flatnonzero(joint)]
        self.groups = [g if len(g) < m else None for g in groups]  # None: no ties


def _tie_starts(v: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, v[1:] != v[:-1]])


def _wtau_merge(plan: _MergePlan, wt: np.ndarray) -> np.ndarray:
    """Weighted τ_a in O(pairs × log(pairs)) additions per resample, vectorised over resamples.

    In the sequence sorted by (x, y), the weighted discordant count is the weighted number of inversions of y,
    ``Q = Σ_{v before u} w_u w_v [y_v > y_u]``, counted level by level of a merge sort (each right-half element
    against the suffix sums of its left partner block, sorted by y). Then concordant − discordant
    ``= (N² − Σ_x W² − Σ_y W² + Σ_xy W²)/2 − 2Q`` with ``W`` the total weight of each tie group of x, of y and of
    (x, y) and ``N = Σ w`` (pairs tied in x or y count neither way)."""
    ws = wt[plan.order]
    b = ws.shape[1]
    q = np.zeros(b)
    g = np.zeros((ws.shape[0] + 1, b))
    for rev, right, start, end in plan.levels:
        g[1:] = np.cumsum(ws[rev], axis=0)  # (cumsum's out= on a row slice is ~20× slower)
        q += np.einsum("ij,ij->j", ws[right], g[start] - g[end])
    n = ws.sum(axis=0)
    w2 = np.einsum("ij,ij->j", ws, ws)

    def tied(k: int) -> np.ndarray:  # Σ over tie groups of (group weight)²
        starts = plan.groups[k]
        if starts is None:
            return w2
        return (np.add.reduceat(ws if k != 1 else ws[plan.y_order], starts, axis=0) ** 2).sum(axis=0)

    num = (n * n - tied(0) - tied(1) + tied(2)) / 2 - 2 * q
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / (n * (n - 1) / 2)


def _wtau_levels(x: np.ndarray, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """Weighted τ_a when ``x`` takes few distinct values (a categorical model RDM): for each level ℓ of x,
    ``Σ_{v at ℓ} w_v [W_{<ℓ}(y < y_v) − W_{<ℓ}(y > y_v)]`` from prefix sums along the y order of the weights of
    the lower levels — O(levels × pairs × resamples) additions, no sign matrix."""
    m = x.size
    _, level = np.unique(x, return_inverse=True)
    oy = np.argsort(y, kind="stable")
    ys, lev = y[oy], level[oy]
    ws = wt[oy]
    new = np.r_[True, ys[1:] != ys[:-1]]
    starts = np.flatnonzero(new)
    gid = np.cumsum(new) - 1
    lo = starts[gid]  # first position of each entry's y-tie group
    hi = np.r_[starts[1:], m][gid]  # one past its last
    lower = np.zeros_like(ws)
    prefix = np.zeros((m + 1, ws.shape[1]))
    num = np.zeros(wt.shape[1])
    for k in range(1, level.max() + 1):
        below = lev == k - 1
        lower[below] = ws[below]
        prefix[1:] = np.cumsum(lower, axis=0)
        at = np.flatnonzero(lev == k)
        less = prefix[lo[at]]
        greater = prefix[m] - prefix[hi[at]]
        num += np.einsum("ij,ij->j", ws[at], less - greater)
    n = wt.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / (n * (n - 1) / 2)


def _wtau_loop(x: np.ndarray, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
    out = np.empty(wt.shape[1])
    wi = np.rint(wt).astype(np.int64)
    for b in range(wt.shape[1]):
        out[b] = tau_a(np.repeat(x, wi[:, b]), np.repeat(y, wi[:, b]))
    return out


def _tau_route(x: np.ndarray, y: np.ndarray) -> str:
    """``levels`` when one vector has at most :data:`TAU_LEVELS_MAX` distinct values (τ is symmetric), else
    ``merge``."""
    return "levels" if min(len(np.unique(x)), len(np.unique(y))) <= TAU_LEVELS_MAX else "merge"


def _wtau(x: np.ndarray, y: np.ndarray, wt: np.ndarray, route: str, plan: _MergePlan | None = None) -> np.ndarray:
    if route == "levels":
        return _wtau_levels(x, y, wt) if len(np.unique(x)) <= len(np.unique(y)) else _wtau_levels(y, x, wt)
    if route == "merge":
        return _wtau_merge(plan if plan is not None else _MergePlan(x, y), wt)
    return _wtau_loop(x, y, wt)


def weighted_similarity(x: np.ndarray, ys: np.ndarray, counts: np.ndarray, method: str) -> np.ndarray:
    """(B,) similarity of ``x`` (M,) with each row of ``ys`` (k, M), averaged over the k rows, in each
    bootstrap resample given by ``counts`` (B, n) (:func:`bootstrap_counts`; pair weights ``c_i c_j``)."""
    ys = np.atleast_2d(ys)
    if method == "spearman":
        return SpearmanPlan(x, ys).boot(counts)
    n_stim = counts.shape[1]
    iu, ju = np.triu_indices(n_stim, 1)
    out = np.zeros(counts.shape[0])
    routes = [_tau_route(x, y) for y in ys] if method == "kendall_tau_a" else []
    plans = [_MergePlan(x, y) if r == "merge" else None for y, r in zip(ys, routes, strict=False)]
    batch = _BATCH_ELEMENTS
    step = max(1, batch // max(1, x.size))
    for b0 in range(0, counts.shape[0], step):
        wt = _pair_weights_t(counts[b0 : b0 + step], iu, ju)
        part = out[b0 : b0 + step]
        if method in ("pearson", "cosine"):
            for y in ys:
                part += _wmoments(x, y, wt, centred=method == "pearson")
        elif method == "kendall_tau_a":
            for y, route, plan in zip(ys, routes, plans, strict=True):
                part += _wtau(x, y, wt, route, plan)
        else:
            raise ValueError(method)
    return out / len(ys)


# ---------------------------------------------------------------------------------------------- permutations
def permutation_index(n: int, n_perm: int, seed: int | np.random.Generator | None) -> np.ndarray:
    """(n_perm, n_pairs) indices into a condensed vector that relabel its stimuli by random permutations."""
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_perm, n)), axis=1)
    iu, ju = np.triu_indices(n, 1)
    pi, pj = perms[:, iu], perms[:, ju]
    lo, hi = np.minimum(pi, pj), np.maximum(pi, pj)
    return lo * n - lo * (lo + 1) // 2 + (hi - lo - 1)


def permutation_null(x: np.ndarray, ys: np.ndarray, index: np.ndarray, method: str) -> np.ndarray:
    """(n_perm,) similarity of ``x`` with each row of ``ys`` relabelled by ``index``, averaged over rows."""
    ys = np.atleast_2d(ys)
    out = np.zeros(index.shape[0])
    if method == "kendall_tau_a":
        for y in ys:
            out += np.array([tau_a(x, y[ix]) for ix in index])
        return out / len(ys)
    if method == "spearman":
        x = _rank(x)
        ys = np.array([_rank(y) for y in ys])
    if method in ("pearson", "spearman"):
        x = x - x.mean()
        ys = ys - ys.mean(axis=1, keepdims=True)
    nx = np.sqrt(x @ x)
    step = max(1, _BATCH_ELEMENTS // max(1, x.size))
    for y in ys:
        ny = np.sqrt(y @ y)
        for p0 in range(0, index.shape[0], step):
            out[p0 : p0 + step] += (y[index[p0 : p0 + step]] @ x) / (nx * ny)
    return out / len(ys)


# ----------------------------------------------------------------------------------------------- pooling
def pool(vectors: np.ndarray, method: str) -> np.ndarray:
    """The mean RDM that the noise ceiling compares with: rsatoolbox's ``pool_rdm`` for ``method``.

    ``cosine``: each vector divided by its root mean square, then averaged; ``pearson``: each z-scored
    (population SD), averaged, shifted to a minimum of 0.01; ``spearman`` and ``kendall_tau_a``: each
    rank-transformed, averaged.
    """
    v = np.asarray(vectors, dtype=np.float64)
    if method == "cosine":
        v = v / np.sqrt(np.mean(v**2, axis=1, keepdims=True))
        return v.mean(axis=0)
    if method == "pearson":
        v = v - v.mean(axis=1, keepdims=True)
        v = v / v.std(axis=1, keepdims=True)
        m = v.mean(axis=0)
        return m - m.min() + 0.01
    if method in ("spearman", "kendall_tau_a"):
        return np.array([_rank(r) for r in v]).mean(axis=0)
    raise ValueError(method)
