"""Alignment on stimulus ids — the one place where two sets (or RDMs) are matched.

Two inputs are compared on the stimulus ids they share, whatever order each holds them in: the shared ids are
put in one canonical order (sorted; ids of mixed types by type name, then value), so shuffling either input's
stimulus order gives bit-identical numbers, bootstrap resamples included. Fewer than
:data:`MIN_SHARED_STIMULI` shared ids is an error listing the mismatch; ids left out are counted in a
:class:`~neurosuper.errors.NeurosuperWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError, NeurosuperWarning, fail, preview

__all__ = ["MIN_SHARED_STIMULI", "stimulus_ids", "shared_ids", "align"]

#: The fewest shared stimuli two inputs may be compared on (an RDM of 5 stimuli has 10 pairs).
MIN_SHARED_STIMULI = 5


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
