"""Numerical kernels of linear CKA and the Procrustes shape distance (plain numpy; dask through
:mod:`neurosuper._gram`), for every pair of unit groups of two sets in one pass over the data.

With column-centred ``X`` (n × p) and ``Y`` (n × q):

* **Linear CKA** (Kornblith et al. 2019, ICML, eq. for linear kernels):
  ``CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)`` — the feature form, used when ``p + q ≤ n``; otherwise the
  Gram form ``⟨K, L⟩ / (‖K‖_F ‖L‖_F)`` with ``K = XXᵀ``, ``L = YYᵀ`` (already double-centred).
* **Debiased CKA**: HSIC replaced by the unbiased U-statistic of Song et al. 2012 (JMLR 13:1393), with the
  Gram diagonals zeroed (``K̃``): ``HSIC_u = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3))``.
  In feature form this is Kornblith et al.'s identity (their ``_debiased_dot_product_similarity_helper``):
  ``‖YᵀX‖² − n/(n−2)·r_xᵀr_y + ‖X‖²‖Y‖²/((n−1)(n−2))`` (up to the factor n(n−3)), where ``r_x`` holds the
  squared norms of the rows of ``X`` — computed in a second pass once the means are known.
* **Procrustes** (Williams et al. 2021, NeurIPS, "Generalized shape metrics"): with both centred (and scaled
  to unit Frobenius norm), ``max_Q ⟨X, YQ⟩`` over orthogonal Q (after zero-padding to equal width) is the
  nuclear norm ``‖YᵀX‖_*``, so the angular shape distance is ``arccos(‖YᵀX‖_* / (‖X‖_F ‖Y‖_F))`` and the
  size-and-shape (unscaled) distance ``√(‖X‖² + ‖Y‖² − 2‖YᵀX‖_*)`` — no rotation is formed. In Gram form
  ``‖YᵀX‖_* = ‖F_Kᵀ F_L‖_*`` with ``K = F_K F_Kᵀ`` (symmetric square roots from ``eigh``).

Feature form: one pass accumulates the centred Gram of ``[X | Y]`` (units × units, float64) block by block of
stimuli — shifted (by the mean, or for dask the mean of the first rows) and corrected exactly (``S − n δδᵀ``),
and for the debiased estimator the products of the per-group squared row norms in the same pass — so a
dask-backed set of any number of stimuli is read once, in memory bounded by the Gram and one block.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .._gram import is_dask, reduce_blocks, stimulus_grams

__all__ = ["PairStats", "linear_pairs", "choose_form", "cka_feature", "cka_gram", "hsic_u"]

#: Rows × units of float64 handled at once inside one block (bounds the temporaries).
_SUB_BYTES = 32 * 2**20


def _shift(x: Any, rows: int = 4096) -> np.ndarray:
    """The per-unit shift subtracted before the products: the exact mean of an in-memory array (one cheap
    pass), the mean of the first rows of a dask array (read once); the exact correction follows either way."""
    if not is_dask(x):
        return np.asarray(x).mean(axis=0, dtype=np.float64)
    return np.asarray(x[: min(rows, x.shape[0])].compute()).mean(axis=0, dtype=np.float64)


def _as64(block: Any, shift: np.ndarray | None) -> np.ndarray:
    """The block in float64, minus ``shift`` (no copy for float64 data without a shift)."""
    if shift is None:
        return np.asarray(block, dtype=np.float64)
    return np.subtract(block, shift, dtype=np.float64)


def _gram_block(
    blocks: list,
    start: int,
    stop: int,
    *,
    shifts: list | None,
    member: np.ndarray | None,
    sums: bool = True,
    dtype: type = np.float64,
) -> dict:
    """Products of the shifted block: ``aa = xaᵀxa``, ``bb = xbᵀxb`` (syrk) and ``ab = xaᵀxb``, column sums ``s``;
    with ``member`` (units × groups) also, for the debiased estimator, ``RᵀR`` and ``RᵀZ`` of the per-group
    squared row norms ``R``. ``shifts`` ``None``: the raw data (no copy). ``dtype`` float32: the products of each
    sub-block in float32 (the block shifted in float64 first), accumulated over sub-blocks in float64."""
    p, q = blocks[0].shape[1], blocks[1].shape[1]
    out: dict[str, Any] = {}
    rows = stop - start
    # the whole block at once — float32 products (the block's copies are bounded by the caller's block size) and
    # unshifted float64 data (no copy at all) — for fewer, larger products and fewer float64 accumulations of the
    # unit × unit results; shifted float64 copies go in sub-blocks of _SUB_BYTES
    copies = shifts is not None or any(np.asarray(b).dtype != np.float64 for b in blocks)
    sub = rows if dtype is not np.float64 or not copies else max(16, int(_SUB_BYTES // max(1, (p + q) * 8)))
    for r0 in range(0, rows, sub):
        r1 = min(rows, r0 + sub)
        if dtype is not np.float64 and member is None and shifts is not None:
            # shifted in float64, written straight to float32 (no float64 copy of the block)
            za = np.empty((r1 - r0, p), dtype=dtype)
            zb = np.empty((r1 - r0, q), dtype=dtype)
            np.subtract(blocks[0][r0:r1], shifts[0], out=za, dtype=np.float64, casting="same_kind")
            np.subtract(blocks[1][r0:r1], shifts[1], out=zb, dtype=np.float64, casting="same_kind")
            part = {"aa": za.T @ za, "bb": zb.T @ zb, "ab": za.T @ zb}  # syrk, syrk, gemm (float32)
            if sums:
                part["s"] = np.concatenate([za.sum(axis=0, dtype=np.float64), zb.sum(axis=0, dtype=np.float64)])
            for key, value in part.items():
                if key in out:
                    out[key] += value
                else:
                    out[key] = np.asarray(value, dtype=np.float64)
            continue
        za = _as64(blocks[0][r0:r1], None if shifts is None else shifts[0])
        zb = _as64(blocks[1][r0:r1], None if shifts is None else shifts[1])
        part = {}
        if sums:
            part["s"] = np.concatenate([za.sum(axis=0), zb.sum(axis=0)])
        if member is not None:  # float64 even for float32 products: the debiased terms cancel
            r = _row_norms(za, zb, member)
            part["rr"] = r.T @ r
            part["rz"] = np.concatenate([r.T @ za, r.T @ zb], axis=1)
        if dtype is not np.float64:
            za, zb = za.astype(dtype), zb.astype(dtype)
        part.update({"aa": za.T @ za, "bb": zb.T @ zb, "ab": za.T @ zb})  # syrk, syrk, gemm
        for key, value in part.items():
            if key in out:
                out[key] += value
            else:
                out[key] = np.asarray(value, dtype=np.float64)
    return out


def _full(acc: dict) -> np.ndarray:
    """The whole (p + q)² Gram from its blocks."""
    return np.block([[acc["aa"], acc["ab"]], [acc["ab"].T, acc["bb"]]])


def _row_norms(za: np.ndarray, zb: np.ndarray, member: np.ndarray) -> np.ndarray:
    """(rows, groups) squared row norms per group (a group's columns lie in ``za`` or in ``zb``); groups of
    contiguous columns (layers are) are summed on their slices, without a squared copy."""
    p = za.shape[1]
    out = np.empty((za.shape[0], member.shape[1]))
    for k in range(member.shape[1]):
        cols = np.flatnonzero(member[:, k])
        z, cols = (za, cols) if cols[0] < p else (zb, cols - p)
        zk = z[:, cols[0] : cols[-1] + 1] if cols[-1] - cols[0] + 1 == len(cols) else z[:, cols]
        out[:, k] = np.einsum("ij,ij->i", zk, zk)
    return out


def _cross_block(blocks: list, start: int, stop: int, *, shifts: list) -> dict:
    """Procrustes only: the cross product ``XᵀY`` (shifted), column sums and sums of squares."""
    rows = stop - start
    p, q = blocks[0].shape[1], blocks[1].shape[1]
    c = np.zeros((p, q))
    out = {"s": np.zeros(p + q), "sq": np.zeros(p + q)}
    sub = max(16, int(_SUB_BYTES // max(1, (p + q) * 8)))
    for r0 in range(0, rows, sub):
        r1 = min(rows, r0 + sub)
        za = np.asarray(blocks[0][r0:r1], dtype=np.float64) - shifts[0]
        zb = np.asarray(blocks[1][r0:r1], dtype=np.float64) - shifts[1]
        c += za.T @ zb
        out["s"] += np.concatenate([za.sum(axis=0), zb.sum(axis=0)])
        out["sq"] += np.concatenate([np.einsum("ij,ij->j", za, za), np.einsum("ij,ij->j", zb, zb)])
    out["c"] = c
    return out


def hsic_u(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. 2012's unbiased HSIC of two (n × n) Gram matrices (diagonals ignored)."""
    n = k.shape[0]
    kt = k - np.diag(np.diag(k))
    lt = l - np.diag(np.diag(l))
    k1, l1 = kt.sum(axis=1), lt.sum(axis=1)
    return float(
        (np.einsum("ij,ij->", kt, lt) + k1.sum() * l1.sum() / ((n - 1) * (n - 2)) - 2 / (n - 2) * k1 @ l1)
        / (n * (n - 3))
    )


def cka_gram(k: np.ndarray, l: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA from double-centred Gram matrices (debiased: HSIC_u of Song et al. 2012)."""
    if debiased:
        return hsic_u(k, l) / np.sqrt(hsic_u(k, k) * hsic_u(l, l))
    return float(np.einsum("ij,ij->", k, l) / (np.linalg.norm(k) * np.linalg.norm(l)))


def cka_feature(x: np.ndarray, y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA in feature form for in-memory (n × p), (n × q) arrays (Kornblith et al. 2019)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    xy = np.linalg.norm(y.T @ x) ** 2
    xx = np.linalg.norm(x.T @ x)
    yy = np.linalg.norm(y.T @ y)
    if not debiased:
        return float(xy / (xx * yy))
    n = x.shape[0]
    rx, ry = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    sx, sy = rx.sum(), ry.sum()

    def helper(dot: np.floating, ra: np.ndarray, rb: np.ndarray, sa: np.floating, sb: np.floating) -> np.floating:
        return dot - n / (n - 2) * ra @ rb + sa * sb / ((n - 1) * (n - 2))

    return float(helper(xy, rx, ry, sx, sy) / np.sqrt(helper(xx**2, rx, rx, sx, sx) * helper(yy**2, ry, ry, sy, sy)))


@dataclass
class PairStats:
    """What every (group of a, group of b) pair needs: CKA (biased, debiased) and the Procrustes inner products."""

    cka: np.ndarray  # (groups_a, groups_b)
    cka_debiased: np.ndarray | None
    nuclear: np.ndarray  # ‖YᵀX‖_* of the centred data
    norm2_a: np.ndarray  # ‖X‖²_F per group of a
    norm2_b: np.ndarray
    form: str
    n: int
    gram_norm_a: np.ndarray | None = None  # ‖XᵀX‖_F = ‖K‖_F per group of a (CKA only)
    gram_norm_b: np.ndarray | None = None


def choose_form(n: int, groups_a: Sequence, groups_b: Sequence, *, cka: bool, procrustes: bool) -> str:
    """``"feature"`` or ``"gram"``, whichever needs fewer flops (a rough LAPACK count) for what is asked."""
    p = sum(len(ix) for _, ix in groups_a[:1])
    q = sum(len(ix) for _, ix in groups_b[:1])
    feature = n * (p + q) ** 2 if cka else 2 * n * p * q
    gram = n * n * (sum(len(ix) for _, ix in groups_a) + sum(len(ix) for _, ix in groups_b))
    if procrustes:
        for _, ia in groups_a:
            for _, ib in groups_b:
                lo, hi = sorted((len(ia), len(ib)))
                feature += 4 * lo * lo * hi
                gram += 5 * n**3
        gram += 9 * n**3 * (len(groups_a) + len(groups_b))
    return "feature" if feature <= gram else "gram"


def linear_pairs(
    xa: Any,
    xb: Any,
    groups_a: Sequence[tuple[Hashable, np.ndarray]],
    groups_b: Sequence[tuple[Hashable, np.ndarray]],
    *,
    cka: bool = True,
    debiased: bool = True,
    procrustes: bool = True,
    form: str = "auto",
    progress: bool = False,
    precision: str = "float64",
) -> PairStats:
    """CKA (and the Procrustes nuclear norms) of every group of ``xa`` with every group of ``xb``.

    ``xa`` (n × p), ``xb`` (n × q): numpy or dask, rows matched. Groups are ``(label, column indices)``; the
    first group of each is the whole set. ``form``: ``"feature"`` (units × units products accumulated over
    blocks of stimuli in one pass — the Gram of ``[xa | xb]`` for CKA, only ``xaᵀ xb`` for Procrustes
    alone), ``"gram"`` (stimulus × stimulus Grams per group, ``eigh`` square roots for
    Procrustes) or ``"auto"`` (:func:`choose_form`: the one with fewer flops). ``precision="float32"``: the
    feature form's products in float32, accumulated in float64 (``cka`` documents where that holds); the Gram
    form and Procrustes alone stay float64.
    """
    n = xa.shape[0]
    if form == "auto":
        form = choose_form(n, groups_a, groups_b, cka=cka, procrustes=procrustes)
    if form == "feature":
        if not cka:
            return _cross_pairs(xa, xb, groups_a, groups_b, progress=progress)
        dtype = np.float32 if precision == "float32" else np.float64
        return _feature_pairs(
            xa, xb, groups_a, groups_b, debiased=debiased, procrustes=procrustes, progress=progress, dtype=dtype
        )
    return _gram_pairs(xa, xb, groups_a, groups_b, cka=cka, debiased=debiased, procrustes=procrustes, progress=progress)


def _cross_pairs(xa: Any, xb: Any, groups_a: Sequence, groups_b: Sequence, *, progress: bool) -> PairStats:
    n, p = xa.shape
    shifts = [_shift(xa), _shift(xb)]
    acc = reduce_blocks(
        partial(_cross_block, shifts=shifts), [xa, xb], axis=0, progress=progress, desc="Procrustes cross product"
    )
    delta = acc["s"] / n
    c = acc["c"] - n * np.outer(delta[:p], delta[p:])
    sq = acc["sq"] - n * delta**2
    ia = [np.asarray(ix) for _, ix in groups_a]
    ib = [np.asarray(ix) for _, ix in groups_b]
    nuc = np.array([[np.linalg.svd(c[np.ix_(i, j)], compute_uv=False).sum() for j in ib] for i in ia])
    nan = np.full(nuc.shape, np.nan)
    return PairStats(
        cka=nan,
        cka_debiased=None,
        nuclear=nuc,
        norm2_a=np.array([sq[i].sum() for i in ia]),
        norm2_b=np.array([sq[p + j].sum() for j in ib]),
        form="feature",
        n=n,
    )


#: The raw (unshifted) products of an in-memory set are corrected by its means when that loses at most this
#: factor of precision, ``max (σ² + μ²) / σ²`` over units (1e4: ~4 of 16 digits); otherwise the centred data
#: are multiplied. The debiased row-norm products square the loss, hence the tighter bound.
_RAW_LOSS = 1e4
_RAW_LOSS_DEBIASED = 1e2


def _no_copy(xa: Any, xb: Any) -> bool:
    """In-memory float64 arrays: :func:`_gram_block` multiplies their unshifted blocks as they are."""
    return all(isinstance(x, np.ndarray) and x.dtype == np.float64 for x in (xa, xb))


def _rows(xa: Any, xb: Any, itemsize: int) -> int:
    """Stimuli per block whose shifted copies in ``itemsize`` bytes take at most ``BLOCK_BYTES`` (float32 copies:
    twice the rows of float64 ones)."""
    from .._gram import BLOCK_BYTES

    return max(64, int(BLOCK_BYTES // max(1, (xa.shape[1] + xb.shape[1]) * itemsize)))


def _accumulate(
    xa: Any, xb: Any, member: np.ndarray | None, *, tolerance: float, progress: bool, dtype: type = np.float64
) -> dict:
    """One pass of :func:`_gram_block` over both arrays. In memory: the raw products (no centred copy) when the
    means cost little precision, else the products of the exactly centred data; dask: shifted by the first
    rows' mean (one read). float32 products: always of the centred (dask: shifted) data."""
    n = xa.shape[0]
    if is_dask(xa) or is_dask(xb) or dtype is not np.float64:
        lazy = is_dask(xa) or is_dask(xb)
        shifts = [_shift(xa), _shift(xb)]
        acc = reduce_blocks(
            partial(_gram_block, shifts=shifts, member=member, dtype=dtype, sums=lazy),
            [xa, xb],
            axis=0,
            progress=progress,
            desc="CKA Gram",
            rows=None if lazy else _rows(xa, xb, np.dtype(dtype).itemsize),
        )
        if not lazy:
            # in memory the shifts are the exact means, so the shifted values sum to zero; rounding each to float32
            # leaves a mean δ ~ 2^-24 σ/√n per unit, whose correction n δδᵀ ~ 2^-48 σ² is far below the float32
            # products' own error (~1e-7 relative): no column sums, no rank-one corrections
            acc["s"] = np.zeros(xa.shape[1] + xb.shape[1])
        return acc
    means = [_shift(xa), _shift(xb)]
    mu = np.concatenate(means)
    acc = reduce_blocks(
        partial(_gram_block, shifts=None, member=member, sums=False),
        [xa, xb],
        axis=0,
        progress=progress,
        desc="CKA Gram",
        rows=n if _no_copy(xa, xb) else None,  # the raw float64 products copy nothing: one block, fewer adds
    )
    second = np.concatenate([np.diag(acc["aa"]), np.diag(acc["bb"])]) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = second / (second - mu**2)
    if np.all(np.isfinite(loss)) and np.all(loss > 0) and loss.max() <= tolerance:
        acc["s"] = n * mu
        return acc
    return reduce_blocks(
        partial(_gram_block, shifts=means, member=member), [xa, xb], axis=0, progress=progress, desc="CKA Gram"
    )


def _feature_pairs(
    xa: Any,
    xb: Any,
    groups_a: Sequence,
    groups_b: Sequence,
    *,
    debiased: bool,
    procrustes: bool,
    progress: bool,
    dtype: type = np.float64,
) -> PairStats:
    n, p = xa.shape
    ia = [np.asarray(ix) for _, ix in groups_a]
    ib = [np.asarray(ix) + p for _, ix in groups_b]
    na, nb = len(ia), len(ib)
    member = None
    if debiased:
        member = np.zeros((p + xb.shape[1], na + nb))
        for k, ix in enumerate(ia + ib):
            member[ix, k] = 1.0
    acc = _accumulate(
        xa, xb, member, tolerance=_RAW_LOSS_DEBIASED if debiased else _RAW_LOSS, progress=progress, dtype=dtype
    )
    delta = acc["s"] / n
    da, db = delta[:p], delta[p:]
    aa, bb, ab = acc["aa"], acc["bb"], acc["ab"]
    if np.any(delta):  # the exact correction of the shifted products (S − n δδᵀ)
        aa = aa - n * np.outer(da, da)
        bb = bb - n * np.outer(db, db)
        ab = ab - n * np.outer(da, db)
    sa = [_index(ix) for ix in ia]
    sb = [_index(ix - p) for ix in ib]
    cka = np.empty((na, nb))
    nuc = np.full((na, nb), np.nan)
    xx = [np.linalg.norm(_take(aa, i, i)) for i in sa]
    yy = [np.linalg.norm(_take(bb, j, j)) for j in sb]
    tr_a = np.array([np.trace(_take(aa, i, i)) for i in sa])
    tr_b = np.array([np.trace(_take(bb, j, j)) for j in sb])
    xy = np.empty((na, nb))
    for s, i in enumerate(sa):
        for t, j in enumerate(sb):
            c = _take(ab, i, j)
            xy[s, t] = np.einsum("ij,ij->", c, c)
            with np.errstate(invalid="ignore", divide="ignore"):
                cka[s, t] = xy[s, t] / (xx[s] * yy[t])
            if procrustes:
                nuc[s, t] = np.linalg.svd(c, compute_uv=False).sum()
    deb = None
    if member is not None:  # debiased: the group memberships were accumulated
        rr = _centred_row_norm_products(acc, member, delta, n)
        sums = np.concatenate([tr_a, tr_b])

        def helper(dot: np.floating, u: int, v: int) -> np.floating:
            return dot - n / (n - 2) * rr[u, v] + sums[u] * sums[v] / ((n - 1) * (n - 2))

        deb = np.empty((na, nb))
        for s in range(na):
            for t in range(nb):
                den = helper(xx[s] ** 2, s, s) * helper(yy[t] ** 2, na + t, na + t)
                with np.errstate(invalid="ignore", divide="ignore"):
                    deb[s, t] = helper(xy[s, t], s, na + t) / np.sqrt(den)
    return PairStats(
        cka=cka,
        cka_debiased=deb,
        nuclear=nuc,
        norm2_a=tr_a,
        norm2_b=tr_b,
        form="feature",
        n=n,
        gram_norm_a=np.array(xx),
        gram_norm_b=np.array(yy),
    )


def _index(ix: np.ndarray) -> slice | np.ndarray:
    """A slice for contiguous indices (a view, no copy), else the indices."""
    ix = np.asarray(ix)
    if len(ix) and ix[-1] - ix[0] + 1 == len(ix) and np.all(np.diff(ix) == 1):
        return slice(int(ix[0]), int(ix[-1]) + 1)
    return ix


def _take(m: np.ndarray, i: slice | np.ndarray, j: slice | np.ndarray) -> np.ndarray:
    if isinstance(i, slice) and isinstance(j, slice):
        return m[i, j]
    return m[np.ix_(np.arange(m.shape[0])[i], np.arange(m.shape[1])[j])]


def _centred_row_norm_products(acc: dict, member: np.ndarray, delta: np.ndarray, n: int) -> np.ndarray:
    """``Σ_s r_u(s) r_v(s)`` for the squared row norms ``r_u`` of the *centred* data per group, from the
    shifted accumulators: ``r_u = A_u − 2 e_u + D_u`` with ``A_u`` the shifted row norms, ``e_u = Z δ_u`` and
    ``D_u = ‖δ_u‖²`` (``δ`` = mean of the shifted data)."""
    dm = member * delta[:, None]  # (units, groups): δ restricted to each group
    d = (member * delta[:, None] ** 2).sum(axis=0)  # D_u
    g = _full(acc)  # raw (shifted) Gram: its own small (units × units) copy
    a_sum = member.T @ np.diag(g)  # Σ_s A_u(s)
    e_sum = dm.T @ acc["s"]  # Σ_s e_u(s)
    ae = acc["rz"] @ dm  # Σ_s A_u(s) e_v(s)
    ee = dm.T @ g @ dm  # Σ_s e_u(s) e_v(s)
    return (
        acc["rr"]
        - 2 * ae
        - 2 * ae.T
        + 4 * ee
        + np.outer(a_sum, d)
        + np.outer(d, a_sum)
        - 2 * np.outer(e_sum, d)
        - 2 * np.outer(d, e_sum)
        + n * np.outer(d, d)
    )


def _centred_gram(x: Any, ix: np.ndarray, progress: bool) -> np.ndarray:
    cols = x[:, ix]
    cols = cols.astype(np.float64) if is_dask(cols) else np.asarray(cols, dtype=np.float64)
    return stimulus_grams([cols], [(0, 0)], progress=progress)["gram"][0]


def _root(k: np.ndarray) -> np.ndarray:
    """``F`` with ``F Fᵀ = k`` (eigh); eigenvalues at rounding level (the Gram's null space) are set to 0."""
    vals, vecs = np.linalg.eigh(k)
    tol = k.shape[0] * np.finfo(np.float64).eps * max(vals[-1], 0.0)
    return vecs * np.sqrt(np.where(vals > tol, vals, 0.0))


def _gram_pairs(
    xa: Any,
    xb: Any,
    groups_a: Sequence,
    groups_b: Sequence,
    *,
    cka: bool,
    debiased: bool,
    procrustes: bool,
    progress: bool,
) -> PairStats:
    n = xa.shape[0]
    ka = [_centred_gram(xa, np.asarray(ix), progress) for _, ix in groups_a]
    kb = [_centred_gram(xb, np.asarray(ix), progress) for _, ix in groups_b]
    na, nb = len(ka), len(kb)
    values = np.array([[cka_gram(k, l) for l in kb] for k in ka]) if cka else np.full((na, nb), np.nan)
    deb = np.array([[cka_gram(k, l, debiased=True) for l in kb] for k in ka]) if cka and debiased else None
    nuc = np.full((na, nb), np.nan)
    if procrustes:
        fa = [_root(k) for k in ka]
        fb = [_root(l) for l in kb]
        for s in range(na):
            for t in range(nb):
                nuc[s, t] = np.linalg.svd(fa[s].T @ fb[t], compute_uv=False).sum()
    return PairStats(
        cka=values,
        cka_debiased=deb,
        nuclear=nuc,
        norm2_a=np.array([np.trace(k) for k in ka]),
        norm2_b=np.array([np.trace(l) for l in kb]),
        form="gram",
        n=n,
        gram_norm_a=np.array([np.linalg.norm(k) for k in ka]),
        gram_norm_b=np.array([np.linalg.norm(l) for l in kb]),
    )
