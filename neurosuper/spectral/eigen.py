"""``eigenspectrum``: the covariance eigenspectrum of a population, plain (PCA) or cross-validated (cvPCA).

References: Stringer, Pachitariu, Steinmetz, Carandini & Harris 2019, Nature 571:361 (cvPCA, Methods);
Marshall & Kirchner 2024, arXiv 2401.17975 (eigenspectrum of a code). Conventions in ``docs/spectral.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from .._gram import (
    BLOCK_BYTES,
    SUB_BYTES,
    centre_gram,
    constant_units,
    is_dask,
    map_tasks,
    stimulus_grams,
    top_eigvalsh,
    unit_grams,
    unit_stats,
)
from .._memory import check_memory, largest_fitting
from .._provenance import stamp
from ..errors import AnalysisError, NeurosuperWarning, preview
from ..prep import by_stimulus_id, group_coord, repeat_mean, responses, split_repeats, unit_groups, valid_repeats
from ._prep import spont_axes, spont_scale
from .cvpca import cv_from_stimulus_grams, cv_from_unit_grams, cv_unit_streamed, shuffled_unit_grams

__all__ = ["eigenspectrum"]

METHODS = ("auto", "pca", "cvpca")
SIDES = ("auto", "stimulus", "unit")
#: Bytes of bootstrap unit Grams computed in one pass over the data and held at once (the replicates are
#: streamed: each batch is reduced to its eigenvalues before the next is computed).
_BOOT_BATCH_BYTES = 2**27
REFERENCE = "Stringer et al. 2019 Nature 571:361; Marshall & Kirchner 2024 arXiv:2401.17975"


@dataclass
class _Result:
    variance: np.ndarray  # (n_boot + 1, K): row 0 is the full set
    noise: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)


def eigenspectrum(
    ds: xr.Dataset,
    *,
    method: str = "auto",
    n_shuffles: int = 10,
    n_boot: int = 0,
    n_components: int | None = None,
    zscore: bool | str = False,
    seed: int = 0,
    time: Any = None,
    remove_pcs_of: xr.Dataset | None = None,
    n_pcs: int = 32,
    groupby: str | None = "auto",
    side: str = "auto",
    progress: bool = True,
) -> xr.Dataset:
    """Eigenspectrum of the unit covariance across stimuli: ``variance(rank)``, descending, ranks 1-based.

    Parameters
    ----------
    ds
        A ResponseSet. ``time`` is averaged (after ``time=`` selects a window); every unit is centred
        across stimuli (each repeat separately).
    method
        ``"pca"``: eigenvalues of the covariance of the repeat-averaged responses (NaN repeats skipped).
        ``"cvpca"``: Stringer et al.'s cross-validated spectrum from two repeat halves (axes from half 1,
        ``cv_k`` = covariance across stimuli of both halves' projections; :mod:`neurosuper.spectral.cvpca`),
        averaged over ``n_shuffles`` random swaps of the halves for a random half of the stimuli; also the
        noise spectrum ``noise(rank)`` = ½·mean over stimuli of ``(R¹u_k − R²u_k)²``. Stimuli with fewer than
        two valid repeats are left out; with more than two repeats each half averages alternate valid
        repeats (odd vs even). ``"auto"``: cvPCA when at least 3 stimuli have two valid repeats, else PCA.
    n_shuffles
        Random swaps averaged by cvPCA; 0 uses the repeats as given.
    n_boot
        Bootstrap replicates over stimuli (resampled with replacement; for cvPCA each replicate uses one
        fresh random swap, so its shuffle variability enters the replicates, while the full set averages all
        ``n_shuffles``: cost n_shuffles + n_boot eigendecompositions). The replicates are returned in
        ``variance_boot(boot, rank)`` (and ``noise_boot``); ``variance`` stays the full-set estimate. Ranks
        beyond a replicate's own rank (its number of distinct stimuli − 1) are NaN.
    n_components
        Number of ranks returned (default all N = min(n_stimuli − 1, n_units)).
    zscore
        ``True``: divide every unit by its standard deviation across stimuli of the responses themselves
        (pooled over repeats). ``"spont"``: divide every unit (responses and spontaneous set alike) by the
        standard deviation of its *spontaneous* activity in ``remove_pcs_of`` (over its time bins, ddof 0) —
        what Stringer et al. 2019 do (``loadProc2800.m``: ``(resp − μ_spont) / σ_spont`` before the
        spontaneous PCs are removed; centring makes μ irrelevant). ``False``: no scaling.
    seed
        Seeds the shuffles and the bootstrap (``numpy.random.default_rng``). The stimuli are put in the order of
        their ids first (:func:`neurosuper.prep.by_stimulus_id`): the same numbers whatever their storage order.
    time
        A time window for ``DataArray.sel(time=...)``, e.g. ``slice(0.05, 0.25)``.
    remove_pcs_of, n_pcs
        A spontaneous-activity ResponseSet of the same units: its top ``n_pcs`` principal axes (after the
        same z-scoring) are projected out of the responses (Stringer et al. 2019 use 32). ``n_pcs=0`` removes
        none (the set then only supplies ``zscore="spont"``'s SDs).
    groupby
        ``"auto"`` (default): ``layer``, else ``area``, else no grouping; ``"layer"``, ``"area"`` (or any 1-D
        coord on ``unit``): one spectrum per group along a dim of that name, ranks beyond a group's N are NaN;
        ``None``: all units together.
    side
        ``"stimulus"`` (stimulus Gram), ``"unit"`` (unit covariance) or ``"auto"`` (the smaller one).
    progress
        Show a tqdm progress bar for shuffles/bootstrap and chunked passes.

    Returns
    -------
    xarray.Dataset
        ``variance`` ((group,) rank) — the point estimate, eigenvalues divided by the number of stimuli,
        whatever ``n_boot`` is — and for cvPCA ``noise``; with ``n_boot > 0`` also the replicates
        ``variance_boot(boot, (group,) rank)`` (``noise_boot``). attrs ``method``, ``side``, ``n_stimuli``,
        ``n_units``, ``n_constant_units``, ``n_stimuli_dropped``, ``n_shuffles``, ``n_boot``, ``seed``, ...
        (per-group values become coords along the group dim) and the provenance attrs (``analysis``,
        ``reference``, ``options``, ``inputs``, ``neurosuper_version``).

    Raises
    ------
    AnalysisError
        cvPCA without two valid repeats; every unit constant (e.g. all-zero data); non-finite values (±inf,
        or NaN inside a valid repeat — e.g. a file edited after saving), naming the units; bad arguments.

    Notes
    -----
    Dask: works chunk by chunk. A dask-backed set (``load(path, lazy=True)``) is reduced to Gram matrices in
    one pass per Gram (one per chunk, summed in float64), on the local threads or a ``dask.distributed``
    cluster; only the Grams (n_stimuli² or n_units²) are held in memory. ``remove_pcs_of`` loads the
    spontaneous set.

    Memory: the bootstrap's replicates are streamed, so memory does not grow with ``n_boot``. On the unit side
    cvPCA forms a replicate's three units x units Grams one at a time when they exceed ``_BOOT_BATCH_BYTES``
    together (:func:`neurosuper.spectral.cvpca.cv_unit_streamed`; measured 0.67 GB above a 5,000 x 4,000 float32
    set with two repeats); :func:`replicate_bytes` is the estimate checked against the memory available.

    Examples
    --------
    >>> import neurosuper as ns
    >>> spec = ns.spectral.eigenspectrum(ds, method="cvpca", n_boot=100)     # doctest: +SKIP
    >>> ns.spectral.powerlaw(spec)["alpha"]                                   # doctest: +SKIP
    """
    if method not in METHODS:
        raise AnalysisError(f"eigenspectrum: method={method!r}; expected one of {METHODS}. Fix: method='cvpca'.")
    if side not in SIDES:
        raise AnalysisError(f"eigenspectrum: side={side!r}; expected one of {SIDES}. Fix: side='auto'.")
    for name, value, low in (("n_shuffles", n_shuffles, 0), ("n_boot", n_boot, 0), ("n_pcs", n_pcs, 0)):
        if not isinstance(value, int | np.integer) or value < low:
            raise AnalysisError(f"eigenspectrum: {name}={value!r}; expected an integer >= {low}.")
    if n_components is not None and (not isinstance(n_components, int | np.integer) or n_components < 1):
        raise AnalysisError(f"eigenspectrum: n_components={n_components!r}; expected None or an integer >= 1.")
    if zscore not in (False, True, "spont"):
        raise AnalysisError(
            f"eigenspectrum: zscore={zscore!r}; expected False, True (each unit's SD across "
            "stimuli) or 'spont' (the SD of its spontaneous activity, as Stringer et al.). "
            "Fix: zscore=True."
        )
    if zscore == "spont" and remove_pcs_of is None:
        raise AnalysisError(
            "eigenspectrum: zscore='spont' without a spontaneous set; expected remove_pcs_of= "
            "(the spontaneous activity whose SD divides each unit). Fix: pass "
            "remove_pcs_of=spont_ds (n_pcs=0 to only z-score), or zscore=True."
        )
    # stimuli in the order of their ids: the bootstrap and shuffles draw stimuli by id, whatever the storage order
    resp = by_stimulus_id(responses(ds, time=time, caller="eigenspectrum"))
    groupby_requested = groupby
    groupby = group_coord(resp, groupby)
    has_repeats = "repeat" in resp.dims and resp.sizes["repeat"] >= 2
    valid = valid_repeats(resp) if has_repeats and method != "pca" else None
    used = method
    if method == "auto":
        used = "cvpca" if valid is not None and int((valid.sum(axis=0) >= 2).sum()) >= 3 else "pca"
    _check_replicate_memory(resp, method=used, side=side, n_boot=n_boot, n_shuffles=n_shuffles, k=n_components)
    groups = unit_groups(resp, groupby)
    results: list[tuple[Hashable, _Result]] = []
    for label, idx in groups:
        sub = _units(resp, idx)
        if groupby is not None and valid is not None:
            valid = valid_repeats(sub)
        opts: dict[str, Any] = dict(
            n_shuffles=n_shuffles,
            n_boot=n_boot,
            n_components=n_components,
            zscore=zscore,
            seed=seed,
            spont=remove_pcs_of,
            n_pcs=n_pcs,
            side=side,
            progress=progress,
            label=label,
        )
        try:
            res = _cvpca(sub, valid=valid, **opts) if used == "cvpca" else _pca(sub, **opts)
        except AnalysisError as err:
            if groupby is None:
                raise
            raise AnalysisError(f"{groupby}={label!r}: {err}") from None
        results.append((label, res))
    attrs = {
        "method": used,
        "method_requested": method,
        "n_shuffles": int(n_shuffles) if used == "cvpca" else 0,
        "n_boot": int(n_boot),
        "seed": int(seed),
        "zscore": zscore if isinstance(zscore, str) else bool(zscore),
        "n_pcs_removed": int(n_pcs) if remove_pcs_of is not None else 0,
        "normalisation": "eigenvalue / n_stimuli",
    }
    for key in ("system", "measure", "source"):
        if key in ds.attrs and isinstance(ds.attrs[key], str | int | float):
            attrs[key] = ds.attrs[key]
    if time is not None:
        attrs["time"] = str(time)
    out = _assemble(results, groupby=groupby, n_boot=n_boot, attrs=attrs)
    options = {
        "method": method,
        "n_shuffles": n_shuffles,
        "n_boot": n_boot,
        "n_components": n_components,
        "zscore": zscore,
        "seed": seed,
        "time": None if time is None else str(time),
        "remove_pcs_of": None if remove_pcs_of is None else str(remove_pcs_of.attrs.get("source", "a set")),
        "n_pcs": n_pcs,
        "groupby": groupby_requested,
        "side": side,
    }
    return stamp(out, analysis="eigenspectrum", reference=REFERENCE, options=options, inputs_from=ds)


# ------------------------------------------------------------------------------------------------- helpers
def _n_rank(n: int, p_eff: int, n_removed: int, n_components: int | None, label: Hashable) -> tuple[int, int]:
    big_n = min(n - 1, p_eff - n_removed)
    if big_n < 1:
        raise AnalysisError(
            f"eigenspectrum: {n} stimuli and {p_eff} non-constant units (minus {n_removed} "
            "removed PCs) leave no rank; expected at least 2 stimuli and 1 varying unit. "
            "Fix: check the data (e.g. all zeros?) or the unit selection."
        )
    return big_n, big_n if n_components is None else min(n_components, big_n)


def _warn_constant(n_const: int, p: int) -> None:
    if n_const == p:
        raise AnalysisError(
            f"eigenspectrum: found all {p} units constant across stimuli (e.g. all-zero data); "
            "expected units whose response varies. Fix: check the data and the time window."
        )
    if n_const:
        warnings.warn(
            f"eigenspectrum: dropped {n_const} of {p} units that are constant across stimuli.",
            NeurosuperWarning,
            stacklevel=4,
        )


def _check_finite(grams: Any, arrays: list[Any], unit_ids: np.ndarray) -> None:
    """Raise when a Gram (or a statistic) computed from ``arrays`` is not finite, naming the units at fault.

    The check costs nothing on clean data (the Grams are small); the offending units are located with one more
    pass only when it fails. NaN can only reach here from inside a valid repeat (missing repeats are skipped)
    or from a unit that is NaN everywhere — both invalid (see :func:`neurosuper.validate`).
    """
    if all(np.isfinite(np.asarray(g)).all() for g in grams):
        return
    bad = np.zeros(len(unit_ids), dtype=bool)
    for a in arrays:
        if is_dask(a):
            import dask.array as dsa

            bad |= np.asarray((~dsa.isfinite(a)).any(axis=0).compute())
        else:
            bad |= ~np.isfinite(np.asarray(a)).all(axis=0)
    found = (
        f"non-finite values (±inf, or NaN inside a valid repeat) in {int(bad.sum())} of {len(bad)} units: "
        f"{preview(unit_ids[bad])}"
        if bad.any()
        else "non-finite values (overflow in the Gram matrices)"
    )
    raise AnalysisError(
        f"eigenspectrum: found {found}; expected finite responses (NaN only for a whole missing "
        "repeat). Fix: replace or drop those units (e.g. ds.drop_sel(unit=[...])) — a file edited "
        "after saving is re-checked by neurosuper.validate(ds, check_values=True)."
    )


def _check_nan_units(resp: xr.DataArray) -> None:
    """Raise naming the units that are NaN everywhere (they invalidate every repeat of every stimulus)."""
    data = resp.transpose(..., "unit").data
    axes = tuple(range(data.ndim - 1))
    if is_dask(data):
        import dask.array as dsa

        dead = np.asarray(dsa.isnan(data).all(axis=axes).compute())
    else:
        dead = np.isnan(data).all(axis=axes)
    if dead.any():
        ids = resp["unit"].values
        raise AnalysisError(
            f"eigenspectrum: found {int(dead.sum())} of {len(dead)} units that are NaN for every "
            f"stimulus and repeat ({preview(ids[dead])}); expected NaN only for whole missing "
            "repeats. Fix: drop those units (e.g. ds.drop_sel(unit=[...]))."
        )


def _units(resp: xr.DataArray, idx: np.ndarray) -> xr.DataArray:
    """The units ``idx`` of ``resp``: a view when they are a contiguous run (all units, or a layer stored in one
    piece: no copy of the data), else a copy."""
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return resp.isel(unit=slice(int(idx[0]), int(idx[0]) + len(idx)))
    return resp.isel(unit=idx)


def _dtype(x: Any) -> Any:
    return np.float32 if np.dtype(x.dtype) == np.float32 else np.float64


#: bytes a numpy array costs besides its data (the object and its header)
_ARRAY_OVERHEAD = 112


def replicate_bytes(
    n: int,
    p: int,
    *,
    method: str,
    side: str,
    n_boot: int,
    n_shuffles: int,
    k: int | None,
    itemsize: int = 8,
) -> float:
    """Bytes the replicates of a spectrum hold at once — the estimate the memory check refuses on.

    Counted: per bootstrap replicate its stimulus indices and counts (and, for cvPCA, its repeat swap), its
    spectrum rows (cvPCA: also the noise) before and after they are padded and stacked; cvPCA's shuffles likewise.
    On the unit side the units x units Grams are streamed, whatever ``n_boot`` is: PCA holds one batch of at most
    ``_BOOT_BATCH_BYTES`` of Grams (at least one replicate's), its accumulators and the eigensolver's copy; cvPCA
    holds the peak of one replicate (:func:`_cv_unit_peak`: a block of each shuffled repeat, the Gram being formed
    with the block copies and accumulators of :func:`neurosuper._gram.unit_grams`, the eigenvectors, the
    eigensolver's workspace), or of one batch of replicates when a replicate's three Grams fit in
    ``_BOOT_BATCH_BYTES``.
    ``itemsize`` is the data's (4 for float32: the shuffled repeats, block products and eigendecompositions are in
    the data's precision; 8, the default, is the larger bound). Not counted: the one-off passes before the
    replicates (unit means and variances) and the data themselves."""
    cv = method == "cvpca"
    reps = n_boot + (n_shuffles if cv else 0)
    k_eff = min(n, p) if k is None else min(int(k), n, p)
    per = 8 * n + _ARRAY_OVERHEAD + 2 * (1 + cv) * (8 * k_eff + _ARRAY_OVERHEAD)
    if cv:
        per += n + _ARRAY_OVERHEAD + 64  # the swap and the (indices, swap) pair
    total = float(per) * reps
    if _choose_side(side, n, p) == "unit" and reps:
        if cv:
            total += _cv_unit_peak(n, p, itemsize=itemsize, weighted=n_boot > 0, reps=reps)
        else:
            held = 8 * p * p
            # the batch in float64, its per-block accumulators in the data's dtype, and the eigensolver's copy
            total += 8.0 * n * reps + 3.0 * held * min(reps, max(1, _BOOT_BATCH_BYTES // held))
    return total


def _unit_grams_peak(n: int, p: int, *, itemsize: int, arrays: int, pairs: int, weighted: bool) -> float:
    """Peak bytes of :func:`neurosuper._gram.unit_grams` of ``arrays`` (stimulus, unit) numpy arrays for ``pairs``
    Grams: per block of rows (``BLOCK_BYTES`` of one array) its shifted copies (and, with bootstrap weights, their
    weighted copies), the block's products in the data's dtype and their stacked copy, on top of the float64
    sums of the previous blocks; then the float64 combination and the mean correction."""
    g, e = 8.0 * p * p, float(itemsize) * p * p
    rows = min(n, max(64, BLOCK_BYTES // max(1, p * itemsize)), max(16, SUB_BYTES // max(1, p * itemsize)))
    n_blocks = -(-n // rows)
    copies = arrays * (1 + weighted) * float(rows) * p * itemsize
    before = 0.0 if n_blocks == 1 else (pairs * e if n_blocks == 2 else pairs * g)
    combine = pairs * (2 * g if itemsize == 8 else g + 2 * e)
    return max(before + 2 * pairs * e + copies, combine, (pairs + 1) * g)


def _cv_unit_peak(n: int, p: int, *, itemsize: int, weighted: bool, reps: int) -> float:
    """Peak bytes of cvPCA's unit-side replicates (:func:`replicate_bytes`). One Gram at a time
    (:func:`neurosuper.spectral.cvpca.cv_unit_streamed`): the largest of forming ``S₁₁`` beside ``R¹'``; its cast
    (Fortran order) and the eigendecomposition (``syevd``'s workspace, 2p² of the data's dtype); forming ``S₁₂``
    beside a block of both shuffled repeats and the eigenvectors, then its cast and product; ``S₂₂`` beside a block
    of ``R²'``. Each Gram may be projected through one float64 temporary. A batch of replicates' three Grams (when
    they fit in ``_BOOT_BATCH_BYTES``): the batch held, the next replicate's one-pass Grams, the
    eigendecompositions."""
    # a shuffled repeat is formed one block of rows at a time as its Gram reads it (cvpca.ShuffledRows, or the
    # computed dask chunk): one block of BLOCK_BYTES per repeat, whether the data are in memory or lazy
    y = float(min(n, max(64, BLOCK_BYTES // max(1, p * itemsize)))) * p * itemsize
    g, e = 8.0 * p * p, float(itemsize) * p * p
    per_batch = int(_BOOT_BATCH_BYTES // (3 * g))
    vectors = 64.0 * (n + p)  # weights, their square roots, unit sums and means, the eigenvalues
    if not per_batch:
        form = max(_unit_grams_peak(n, p, itemsize=itemsize, arrays=1, pairs=1, weighted=weighted), 2 * g)
        form2 = max(_unit_grams_peak(n, p, itemsize=itemsize, arrays=2, pairs=1, weighted=weighted), 2 * g)
        return vectors + max(
            y + form,  # S11
            y + max(g + e, 3 * e),  # its cast, then the eigendecomposition
            e + 2 * y + form2,  # S12 (and its cast and product: smaller)
            e + y + form,  # S22
        )
    held = 3 * g * max(0, min(reps, per_batch) - 1)
    form3 = max(_unit_grams_peak(n, p, itemsize=itemsize, arrays=2, pairs=3, weighted=weighted), 4 * g)
    return vectors + held + max(2 * y + form3, 3 * g + 4 * e)


def _check_replicate_memory(
    resp: xr.DataArray, *, method: str, side: str, n_boot: int, n_shuffles: int, k: int | None
) -> None:
    """Refuse (:class:`AnalysisError`) before drawing a replicate when :func:`replicate_bytes` exceed the memory
    available, with a ``n_boot`` that fits in half of it."""
    n, p = int(resp.sizes["stimulus"]), int(resp.sizes["unit"])
    itemsize = np.dtype(_dtype(resp)).itemsize

    def need(b: int) -> float:
        return replicate_bytes(n, p, method=method, side=side, n_boot=b, n_shuffles=n_shuffles, k=k, itemsize=itemsize)

    def fix(avail: int) -> str:
        fits = largest_fitting(need, n_boot, avail / 2, low=0)
        more = ", or fewer shuffles (n_shuffles=...)" if method == "cvpca" and n_shuffles else ""
        return f"pass fewer bootstrap replicates (n_boot={fits}; 0 for no interval){more}"

    check_memory(
        need(n_boot),
        what="eigenspectrum: n_boot",
        detail=f"{n_boot:,} bootstrap replicates of {n:,} stimuli x {p:,} units",
        fix=fix,
    )


def _boot_indices(rng: np.random.Generator, n: int, n_boot: int) -> list[np.ndarray]:
    return [np.arange(n)] + [rng.integers(0, n, n) for _ in range(n_boot)]


def _choose_side(side: str, n: int, p: int) -> str:
    return side if side != "auto" else ("stimulus" if n <= p else "unit")


def _scale(zscore: bool | str, spont: xr.Dataset | None, unit_ids: np.ndarray, own: Any) -> np.ndarray | None:
    """Per-unit divisors: the spontaneous SD (``zscore="spont"``), the responses' own SD (``own()``), or None."""
    if zscore == "spont":
        assert spont is not None  # eigenspectrum refuses zscore="spont" without remove_pcs_of
        return spont_scale(spont, unit_ids)
    return own() if zscore else None


def _projector(axes: np.ndarray | None, keep: np.ndarray) -> np.ndarray | None:
    if axes is None:
        return None
    return np.eye(len(keep)) - axes @ axes.T


#: Rows of a units x units Gram scaled at once by :func:`_unit_post` (its temporary outer product stays small).
_POST_ROWS = 256


def _unit_post(g: np.ndarray, scale: np.ndarray | None, proj: np.ndarray | None, keep: np.ndarray) -> np.ndarray:
    """z-score and project out spontaneous axes (``(I − UUᵀ) G (I − UUᵀ)``, exactly the covariance of the
    projected data, as on the stimulus side) or, without a projection, drop the constant units' zero rows.
    ``g`` is a fresh Gram of the caller's, worked on in place: scaled by blocks of rows (``g_ij / (s_i s_j)``, no
    units x units temporary), projected through one temporary with the result written back into ``g``, and
    returned itself unless units are dropped (then the smaller copy). Same numbers as ``proj @ (g / outer(s, s))
    @ proj``, bit for bit."""
    if scale is not None:
        for r0 in range(0, len(scale), _POST_ROWS):
            g[r0 : r0 + _POST_ROWS] /= np.outer(scale[r0 : r0 + _POST_ROWS], scale)
    if proj is not None:
        half = proj @ g
        return np.matmul(half, proj, out=g)
    return g if keep.all() else g[np.ix_(keep, keep)]


def _bar(items: list, progress: bool, desc: str) -> Any:  # a tqdm bar over items
    from .._progress import progress_bar

    return progress_bar(items, desc=desc, progress=progress and len(items) >= 2, leave=False)


# ------------------------------------------------------------------------------------------------------ PCA
def _pca(
    resp: xr.DataArray,
    *,
    n_shuffles: int,
    n_boot: int,
    n_components: int | None,
    zscore: bool | str,
    seed: int,
    spont: xr.Dataset | None,
    n_pcs: int,
    side: str,
    progress: bool,
    label: Hashable,
) -> _Result:
    x = repeat_mean(resp)
    n, p = x.shape
    dtype = _dtype(x)
    rng = np.random.default_rng(seed)
    boots = _boot_indices(rng, n, n_boot)
    side = _choose_side(side, n, p)
    unit_ids = resp["unit"].values
    n_removed = n_pcs if spont is not None else 0
    if side == "unit":
        counts = np.stack([np.bincount(b, minlength=n) for b in boots]).astype(np.float64)
        batch = max(1, int(_BOOT_BATCH_BYTES // (8 * p * p)))
        first = unit_grams([x], [(0, 0)], progress=progress)
        _check_finite([first["gram"], first["mean"]], [x], unit_ids)
        var = np.diag(first["gram"][0, 0]) / n
        keep = ~constant_units(var, first["mean"][0, 0], dtype)
        _warn_constant(int((~keep).sum()), p)
        scale = _scale(zscore, spont, unit_ids, lambda: np.sqrt(np.where(keep, var, 1.0)))
        axes = spont_axes(spont, unit_ids, n_pcs=n_pcs, scale=scale) if spont is not None and n_pcs else None
        proj = _projector(axes, keep)
        big_n, k = _n_rank(n, int(keep.sum()), n_removed, n_components, label)
        # streamed: a batch of replicates' Grams at a time (at most _BOOT_BATCH_BYTES), reduced to their
        # eigenvalues before the next batch is computed — memory stays bounded whatever n_boot is
        out = map_tasks(_eigvals_task, [_unit_post(first["gram"][0, 0], scale, proj, keep)], shared=(k, dtype, n))
        del first
        for start in _bar(list(range(1, len(boots), batch)), progress, "bootstrap"):
            more = unit_grams([x], [(0, 0)], weights=counts[start : start + batch], progress=False)["gram"][:, 0]
            grams = [_unit_post(g, scale, proj, keep) for g in more]
            del more
            out.extend(map_tasks(_eigvals_task, grams, shared=(k, dtype, n)))
            del grams
        n_const = int((~keep).sum())
    else:
        scale = None
        if zscore == "spont":
            assert spont is not None  # eigenspectrum refuses zscore="spont" without remove_pcs_of
            scale = spont_scale(spont, unit_ids)
        elif zscore and spont is not None:
            stats = unit_stats([x], progress=progress)
            _check_finite([stats["var"]], [x], unit_ids)
            scale = np.sqrt(stats["var"][0])
        axes = (
            spont_axes(spont, unit_ids, n_pcs=n_pcs, scale=scale if zscore else None)
            if spont is not None and n_pcs
            else None
        )
        res = stimulus_grams([x], [(0, 0)], zscore=bool(zscore), scale=scale, axes=axes, progress=progress)
        _check_finite([res["gram"]], [x], unit_ids)
        n_const = res["n_constant"]
        _warn_constant(n_const, p)
        big_n, k = _n_rank(n, p - n_const, n_removed, n_components, label)
        out = map_tasks(
            _boot_eigvals_task, boots, shared=(res["gram"][0], k, dtype), progress=progress, desc="bootstrap"
        )
    info = {
        "side": side,
        "n_stimuli": n,
        "n_units": p - n_const,
        "n_constant_units": n_const,
        "n_stimuli_dropped": 0,
        "N": big_n,
        "n_repeats": int(resp.sizes.get("repeat", 1)),
    }
    return _Result(variance=_mask_boot(_pad(out, k), boots), noise=None, info=info)


def _eigvals_task(k: int, dtype: Any, n: int, g: np.ndarray) -> np.ndarray:
    return top_eigvalsh(g, k, dtype=dtype) / n


def _boot_eigvals_task(g: np.ndarray, k: int, dtype: Any, idx: np.ndarray) -> np.ndarray:
    gb = g if np.array_equal(idx, np.arange(len(idx))) else centre_gram(g[np.ix_(idx, idx)])
    return top_eigvalsh(gb, k, dtype=dtype) / len(idx)


def _cv_stimulus_task(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, k: int, dtype: Any, item: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    idx, swap = item
    return cv_from_stimulus_grams(a, b, c, idx=idx, swap=swap, k=k, dtype=dtype)


def _cv_unit_task(n: int, k: int, dtype: Any, grams: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    return cv_from_unit_grams(*grams, n=n, k=k, dtype=dtype)


def _mask_boot(values: np.ndarray, boots: list[np.ndarray]) -> np.ndarray:
    """NaN beyond each replicate's own rank (n_unique − 1): a resample with duplicates spans fewer axes."""
    for row, idx in zip(values[1:], boots[1:], strict=True):
        row[len(np.unique(idx)) - 1 :] = np.nan
    return values


def _pad(rows: list[np.ndarray], k: int) -> np.ndarray:
    out = np.full((len(rows), k), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


# ---------------------------------------------------------------------------------------------------- cvPCA
def _cvpca(
    resp: xr.DataArray,
    *,
    valid: np.ndarray | None,
    n_shuffles: int,
    n_boot: int,
    n_components: int | None,
    zscore: bool | str,
    seed: int,
    spont: xr.Dataset | None,
    n_pcs: int,
    side: str,
    progress: bool,
    label: Hashable,
) -> _Result:
    if valid is not None and int((valid.sum(axis=0) >= 2).sum()) < 3:
        _check_nan_units(resp)
    halves = split_repeats(resp, caller="eigenspectrum(method='cvpca')", valid=valid)
    r1, r2 = halves.r1, halves.r2
    n, p = r1.shape
    dtype = _dtype(r1)
    rng = np.random.default_rng(seed)
    swaps = [rng.random(n) < 0.5 for _ in range(n_shuffles)] or [np.zeros(n, bool)]
    boots = _boot_indices(rng, n, n_boot)
    # each bootstrap replicate gets one fresh swap (its variability joins the replicate's), the full set all
    boot_swaps = [rng.random(n) < 0.5 if n_shuffles else np.zeros(n, bool) for _ in range(n_boot)]
    items = [(boots[0], swap) for swap in swaps] + list(zip(boots[1:], boot_swaps, strict=True))
    side = _choose_side(side, n, p)
    unit_ids = resp["unit"].values
    n_removed = n_pcs if spont is not None else 0
    if side == "stimulus":
        scale = None
        if zscore == "spont":
            assert spont is not None  # eigenspectrum refuses zscore="spont" without remove_pcs_of
            scale = spont_scale(spont, unit_ids)
        elif zscore and spont is not None:
            stats = unit_stats([r1, r2], progress=progress)
            _check_finite([stats["var"]], [r1, r2], unit_ids)
            scale = np.sqrt(stats["var"].mean(axis=0))
        axes = (
            spont_axes(spont, unit_ids, n_pcs=n_pcs, scale=scale if zscore else None)
            if spont is not None and n_pcs
            else None
        )
        sg = stimulus_grams(
            [r1, r2], [(0, 0), (1, 1), (0, 1)], zscore=bool(zscore), scale=scale, axes=axes, progress=progress
        )
        _check_finite([sg["gram"]], [r1, r2], unit_ids)
        n_const = sg["n_constant"]
        _warn_constant(n_const, p)
        big_n, k = _n_rank(n, p - n_const, n_removed, n_components, label)
        a, b, c = sg["gram"].astype(dtype, copy=False)
        res = map_tasks(_cv_stimulus_task, items, shared=(a, b, c, k, dtype), progress=progress, desc="cvPCA shuffles")
    else:
        stats = unit_stats([r1, r2], progress=progress)
        _check_finite([stats["var"], stats["mean"]], [r1, r2], unit_ids)
        keep = ~np.all(constant_units(stats["var"], stats["mean"], dtype), axis=0)
        n_const = int((~keep).sum())
        _warn_constant(n_const, p)
        scale = _scale(zscore, spont, unit_ids, lambda: np.sqrt(np.where(keep, stats["var"].mean(axis=0), 1.0)))
        axes = spont_axes(spont, unit_ids, n_pcs=n_pcs, scale=scale) if spont is not None and n_pcs else None
        proj = _projector(axes, keep)
        big_n, k = _n_rank(n, int(keep.sum()), n_removed, n_components, label)
        means = stats["mean"]

        def post(g: np.ndarray) -> np.ndarray:
            return _unit_post(g, scale, proj, keep)

        # streamed: the shuffles/replicates one batch at a time, reduced to their spectra before the next — memory
        # stays bounded whatever n_boot is. When one replicate's three Grams fit in _BOOT_BATCH_BYTES, a batch of
        # replicates' Grams (each replicate's three from one pass over the data) is held and eigendecomposed as
        # tasks (map_tasks: side by side on a cluster); else one Gram at a time (cv_unit_streamed, same numbers)
        per_batch = int(_BOOT_BATCH_BYTES // (3 * 8 * p * p))
        res, grams = [], []
        for i, (idx, swap) in enumerate(_bar(items, progress, "cvPCA shuffles")):
            weights = None if i < len(swaps) else np.bincount(idx, minlength=n)[None].astype(np.float64)
            if not per_batch:
                res.append(cv_unit_streamed(r1, r2, means, swap, weights=weights, post=post, n=n, k=k, dtype=dtype))
                continue
            g = shuffled_unit_grams(r1, r2, means, swap, weights=weights, dtype=dtype)["gram"][0]
            grams.append(tuple(post(g[j]) for j in range(3)))
            del g
            if len(grams) == per_batch or i == len(items) - 1:
                res.extend(map_tasks(_cv_unit_task, grams, shared=(n, k, dtype)))
                grams = []
    full_cv = np.mean([r[0] for r in res[: len(swaps)]], axis=0)
    full_noise = np.mean([r[1] for r in res[: len(swaps)]], axis=0)
    cv = np.stack([full_cv] + [r[0] for r in res[len(swaps) :]])
    noise = np.stack([full_noise] + [r[1] for r in res[len(swaps) :]])
    info = {
        "side": side,
        "n_stimuli": n,
        "n_units": p - n_const,
        "n_constant_units": n_const,
        "n_stimuli_dropped": halves.n_dropped,
        "N": big_n,
        "n_repeats": halves.n_repeats,
        "repeat_split": halves.split,
    }
    return _Result(variance=_mask_boot(cv, boots), noise=_mask_boot(noise, boots), info=info)


# ------------------------------------------------------------------------------------------------- assembly
def _assemble(results: list[tuple[Hashable, _Result]], *, groupby: str | None, n_boot: int, attrs: dict) -> xr.Dataset:
    k = max(r.variance.shape[1] for _, r in results)
    has_noise = results[0][1].noise is not None

    def stack(name: str) -> np.ndarray:
        arrs = [_pad(list(getattr(r, name)), k) for _, r in results]
        return np.stack(arrs, axis=1)  # (boot+1, group, rank)

    variance = stack("variance")
    noise = stack("noise") if has_noise else None
    coords: dict[str, Any] = {"rank": np.arange(1, k + 1)}
    group_dims: tuple[str, ...] = ()
    info_keys = ["side", "n_stimuli", "n_units", "n_constant_units", "n_stimuli_dropped", "N", "n_repeats"]
    if groupby is not None:
        group_dims = (groupby,)
        coords[groupby] = [lab for lab, _ in results]
        for key in info_keys:
            coords[f"{key}"] = (groupby, [r.info[key] for _, r in results])
    else:
        attrs.update({key: results[0][1].info[key] for key in info_keys})
    if "repeat_split" in results[0][1].info:
        attrs["repeat_split"] = results[0][1].info["repeat_split"]
    if groupby is not None:
        attrs["groupby"] = groupby

    def squeeze(a: np.ndarray) -> np.ndarray:
        return a if groupby is not None else a[:, 0]

    data: dict[str, Any] = {"variance": (group_dims + ("rank",), squeeze(variance)[0])}
    if noise is not None:
        data["noise"] = (group_dims + ("rank",), squeeze(noise)[0])
    if n_boot:
        coords["boot"] = np.arange(n_boot)
        data["variance_boot"] = (("boot",) + group_dims + ("rank",), squeeze(variance)[1:])
        if noise is not None:
            data["noise_boot"] = (("boot",) + group_dims + ("rank",), squeeze(noise)[1:])
    out = xr.Dataset(data, coords=coords, attrs=attrs)
    out["variance"].attrs["long_name"] = "variance along principal axis (eigenvalue / n_stimuli)"
    if "noise" in out:
        out["noise"].attrs["long_name"] = "noise variance along cvPCA axis: ½·mean_s (R¹u − R²u)²"
    for name in ("variance", "noise"):
        if f"{name}_boot" in out:
            out[f"{name}_boot"].attrs["long_name"] = f"{name} of bootstrap replicates (stimuli resampled)"
    return out
