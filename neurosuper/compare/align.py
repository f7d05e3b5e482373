"""Alignment on stimulus ids — the one place where two sets (or RDMs) are matched.

Two inputs are compared on the stimulus ids they share, whatever order each holds them in: the shared ids are
put in one canonical order (sorted; ids of mixed types by type name, then value), so shuffling either input's
stimulus order gives bit-identical numbers, bootstrap resamples included. Fewer than
:data:`MIN_SHARED_STIMULI` shared ids is an error listing the mismatch; ids left out are counted in a
:class:`~neurosuper.errors.NeurosuperWarning`.

The minimum data of the comparison are stated here, once: :data:`MIN_SHARED_STIMULI` (any comparison),
:data:`MIN_STIMULI_CI` (a bootstrap interval over stimuli) and :data:`MAX_COMPARE_STIMULI` (above it,
:func:`choose_stimuli` draws a seeded subsample of the shared ids).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError, NeurosuperWarning, fail, preview

__all__ = [
    "MIN_SHARED_STIMULI",
    "MIN_STIMULI_CI",
    "MAX_COMPARE_STIMULI",
    "stimulus_ids",
    "shared_ids",
    "align",
    "choose_stimuli",
    "ci_allowed",
]

#: The fewest shared stimuli two inputs may be compared on (an RDM of 5 stimuli has 10 pairs).
MIN_SHARED_STIMULI = 5

#: The fewest stimuli a bootstrap interval over stimuli is given from (RSA, predictivity, layer profiles); below
#: it the interval is NaN and a warning says so. A resample of n stimuli holds about 0.63 n distinct ones: below
#: 20 (≤ 12 distinct, a dozen pairs per RDM, test folds of 2–3 stimuli) the resamples are so few and so coarse
#: that the percentile interval is a few discrete values — simulated predictivity intervals on 10 and 14
#: stimuli reached past r = 1 in 40 % and 12 % of the runs, none from 20 on.
MIN_STIMULI_CI = 20

#: Above this many shared stimuli :func:`choose_stimuli` draws a seeded subsample of that size (by id). The
#: cost of the RSA bootstrap grows as stimuli² × resamples: 500 stimuli × 1,000 resamples take ≈ 20 s per
#: layer on one core (Spearman), 1,000 stimuli ≈ 45 s.
MAX_COMPARE_STIMULI = 500


def _dim_of(obj: xr.Dataset | xr.DataArray) -> tuple[str, ...]:
    """The stimulus dims of ``obj``: ``("stimulus",)`` for a set/responses, ``("stimulus_a", "stimulus_b")``
    for an RDM."""
    if "stimulus_a" in obj.dims and "stimulus_b" in obj.dims:
        return ("stimulus_a", "stimulus_b")
    if "stimulus" in obj.dims:
        return ("stimulus",)
    raise fail(
        "compare: input",
        f"dims {tuple(map(str, obj.dims))}",
        "a ResponseSet or responses with a 'stimulus' dim, or an RDM with dims (stimulus_a, stimulus_b)",
        "pass a set made by neurosuper.from_array, or an RDM from neurosuper.compare.rdm / as_rdm",
        AnalysisError,
    )


def stimulus_ids(obj: xr.Dataset | xr.DataArray) -> np.ndarray:
    """The stimulus ids of a set, responses or RDM (an RDM's ``stimulus_a`` ids)."""
    dim = _dim_of(obj)[0]
    return np.asarray(obj[dim].values)


def _sort_key(v: Any) -> tuple[str, Any]:
    return (type(v).__name__, v)


def _canonical(ids: list) -> list:
    try:
        return sorted(ids)
    except TypeError:  # mixed types (e.g. 3 and "3"): by type name, then value
        return sorted(ids, key=_sort_key)


def shared_ids(
    *id_lists: Sequence[Any] | np.ndarray,
    names: Sequence[str] | None = None,
    caller: str = "compare",
    min_shared: int = MIN_SHARED_STIMULI,
    warn: bool = True,
) -> np.ndarray:
    """The ids every list holds, in canonical (sorted) order.

    Raises :class:`AnalysisError` listing the ids only some inputs hold when fewer than ``min_shared`` are
    shared; warns (counting them) when ids are left out.
    """
    names = list(names) if names is not None else [f"input {i + 1}" for i in range(len(id_lists))]
    arrays = [np.asarray(ids) for ids in id_lists]
    kinds = {a.dtype.kind for a in arrays}
    if len(kinds) == 1 and kinds <= set("iuU"):  # one plain dtype: numpy set operations (sorted, lean)
        shared = arrays[0]
        for a in arrays[1:]:
            shared = np.intersect1d(shared, a)
        shared = np.unique(shared)
        only = [(name, a[~np.isin(a, shared)].tolist()) for name, a in zip(names, arrays, strict=True)]
    else:
        lists = [a.tolist() for a in arrays]
        common = set(lists[0])
        for ids in lists[1:]:
            common &= set(ids)
        canon = _canonical(list(common))
        shared = np.empty(len(canon), dtype=object)
        shared[:] = canon
        if len({type(v) for v in canon}) == 1:
            shared = np.asarray(canon)
        only = [(name, [v for v in ids if v not in common]) for name, ids in zip(names, lists, strict=True)]
    if len(shared) < min_shared:
        found = "; ".join(f"only in {name}: {preview(o) if o else 'none'}" for name, o in only)
        raise fail(
            f"{caller}: stimulus ids",
            f"{len(shared)} shared ({found})",
            f"at least {min_shared} stimulus ids in common (inputs are matched on ids, not positions)",
            "compute both sets on the same stimuli, or rename the ids so that they match, e.g. "
            "ds = ds.assign_coords(stimulus=ids)",
            AnalysisError,
        )
    dropped = [(name, o) for name, o in only if o]
    if warn and dropped:
        what = ", ".join(f"{len(o)} only in {name} ({preview(o, 3)})" for name, o in dropped)
        warnings.warn(
            f"{caller}: compared on the {len(shared)} stimuli all inputs share; left out {what}.",
            NeurosuperWarning,
            stacklevel=3,
        )
    return shared


def _select(obj: xr.Dataset | xr.DataArray, ids: np.ndarray) -> xr.Dataset | xr.DataArray:
    dims = _dim_of(obj)
    have = np.asarray(obj[dims[0]].values)
    if len(have) == len(ids) and np.array_equal(have, ids):
        return obj  # already the shared ids in canonical order: no copy
    index = {d: _positions(obj[d].values, ids) for d in dims}
    return obj.isel(index)


def _positions(have: np.ndarray, want: np.ndarray) -> np.ndarray:
    have, want = np.asarray(have), np.asarray(want)
    if have.dtype.kind in "iuU" and have.dtype.kind == want.dtype.kind:
        order = np.argsort(have, kind="stable")
        return order[np.searchsorted(have, want, sorter=order)]
    lookup = {v: i for i, v in enumerate(have.tolist())}
    return np.array([lookup[v] for v in want.tolist()], dtype=np.intp)


def align(
    *objs: xr.Dataset | xr.DataArray,
    names: Sequence[str] | None = None,
    caller: str = "align",
    min_shared: int = MIN_SHARED_STIMULI,
    warn: bool = True,
) -> tuple:
    """The inputs restricted to the stimulus ids they all share, in one canonical (sorted) order.

    Parameters
    ----------
    *objs
        ResponseSets, ``responses`` DataArrays (dim ``stimulus``) or RDMs (dims ``stimulus_a``, ``stimulus_b``),
        in any mix.
    names
        How error messages and warnings name the inputs (default "input 1", "input 2", ...).
    min_shared
        Fewest shared ids accepted (default :data:`MIN_SHARED_STIMULI`).

    Returns
    -------
    tuple
        The inputs, each selected on the shared ids (both dims of an RDM), in sorted id order.

    Raises
    ------
    AnalysisError
        When fewer than ``min_shared`` ids are shared: the message lists the ids only one input holds.
    """
    ids = shared_ids(*[stimulus_ids(o) for o in objs], names=names, caller=caller, min_shared=min_shared, warn=warn)
    return tuple(_select(o, ids) for o in objs)


def ci_allowed(n: int, *, caller: str, what: str = "bootstrap interval", stacklevel: int = 3) -> bool:
    """Whether ``n`` stimuli are enough for a bootstrap interval (:data:`MIN_STIMULI_CI`); if not, warns saying
    how many there are and how many are needed, and the caller gives a NaN interval."""
    if n >= MIN_STIMULI_CI:
        return True
    warnings.warn(
        f"{caller}: no {what} from {n} stimuli; a bootstrap over stimuli needs at least MIN_STIMULI_CI = "
        f"{MIN_STIMULI_CI} (the interval is NaN). Compare on more shared stimuli.",
        NeurosuperWarning,
        stacklevel=stacklevel,
    )
    return False


def choose_stimuli(
    *objs: xr.Dataset | xr.DataArray,
    max_stimuli: int | None = MAX_COMPARE_STIMULI,
    seed: int = 0,
    names: Sequence[str] | None = None,
    caller: str = "choose_stimuli",
) -> tuple[np.ndarray, str]:
    """The stimulus ids a comparison uses, and a sentence saying which.

    All the ids the inputs share by default. Above ``max_stimuli`` (default :data:`MAX_COMPARE_STIMULI`;
    ``None``: no limit) a seeded random subsample of that many is drawn *among the shared ids* (in their
    canonical sorted order, never by position in either input), so two inputs that hold the same stimuli in
    different orders get the same ids, and the same seed gives the same ids.

    Parameters
    ----------
    *objs
        ResponseSets, ``responses`` or RDMs, as :func:`align`.
    max_stimuli
        The most stimuli used; ``None`` uses every shared id.
    seed
        Seeds the subsample.
    names
        How the sentence and messages name the inputs.

    Returns
    -------
    (numpy.ndarray, str)
        The chosen ids in canonical (sorted) order — select them with ``ds.sel(stimulus=ids)`` or pass the
        inputs to :func:`align` after selecting — and a sentence for a headline, e.g. ``"all 92 shared
        stimuli"`` or ``"a random subsample (seed 0) of 500 of the 2,000 shared stimuli"``.

    Raises
    ------
    AnalysisError
        Fewer than :data:`MIN_SHARED_STIMULI` shared ids (the message lists the mismatch).
    """
    if max_stimuli is not None and (
        isinstance(max_stimuli, bool)
        or not isinstance(max_stimuli, (int, np.integer))
        or max_stimuli < MIN_SHARED_STIMULI
    ):
        raise fail(
            f"{caller}: max_stimuli",
            repr(max_stimuli),
            f"None or an integer ≥ MIN_SHARED_STIMULI = {MIN_SHARED_STIMULI}",
            f"pass max_stimuli={MAX_COMPARE_STIMULI} (the default) or None",
            AnalysisError,
        )
    ids = shared_ids(*[stimulus_ids(o) for o in objs], names=names, caller=caller, warn=False)
    n_in = [len(stimulus_ids(o)) for o in objs]
    left_out = "" if all(k == len(ids) for k in n_in) else f" (of {', '.join(f'{k:,}' for k in n_in)} in the inputs)"
    if max_stimuli is None or len(ids) <= max_stimuli:
        return ids, f"all {len(ids):,} shared stimuli{left_out}"
    pick = np.sort(np.random.default_rng(seed).choice(len(ids), size=int(max_stimuli), replace=False))
    sentence = (
        f"a random subsample (seed {seed}) of {int(max_stimuli):,} of the {len(ids):,} shared stimuli"
        f"{left_out}, drawn by id (at most MAX_COMPARE_STIMULI = {MAX_COMPARE_STIMULI:,} are compared)"
        if max_stimuli == MAX_COMPARE_STIMULI
        else f"a random subsample (seed {seed}) of {int(max_stimuli):,} of the {len(ids):,} shared stimuli{left_out}, "
        "drawn by id"
    )
    return ids[pick], sentence
