"""The ResponseSet: the one format brains and networks share (see ``docs/format.md``).

A ResponseSet is a plain :class:`xarray.Dataset` with a float ``responses`` variable of dims
(``repeat``?, ``stimulus``, ``time``?, ``unit``), unique ``stimulus`` and ``unit`` ids, optional ``stimuli``
(images or features along ``stimulus``) and JSON-safe attrs (``system``, ``measure``, ``format_version``, ...).
NaN means one thing only: a repeat a stimulus did not get.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._attrs import JSON_ATTR, to_jsonable
from ._version import __version__
from .errors import NeurosuperWarning, fail, preview

__all__ = [
    "FORMAT_VERSION",
    "CANONICAL_DIMS",
    "SYSTEMS",
    "MEASURES",
    "validate",
    "from_array",
    "check_coords",
    "check_response_values",
    "is_lazy",
]

#: Version of the on-disk/in-memory format; bumped on incompatible changes.
FORMAT_VERSION = 1

#: Stimulus or unit ids as the constructors take them: a sequence of strings/integers or a 1-D array.
IdsLike = Sequence[Hashable] | np.ndarray
#: The dims ``responses`` may have, in canonical order; ``stimulus`` and ``unit`` are required.
CANONICAL_DIMS = ("repeat", "stimulus", "time", "unit")
SYSTEMS = ("brain", "network")
#: Usual measures; others (e.g. "bold") are accepted.
MEASURES = ("spike_count", "spike_rate", "dff", "activation")

_DEFAULT_DIMS = {2: ("stimulus", "unit"), 3: ("repeat", "stimulus", "unit"), 4: ("repeat", "stimulus", "time", "unit")}
_STIMULI_DIMS = {2: ("stimulus", "feature"), 3: ("stimulus", "y", "x"), 4: ("stimulus", "y", "x", "channel")}
_DIM_SYNONYMS = {
    "neuron": "unit",
    "neurons": "unit",
    "cell": "unit",
    "cells": "unit",
    "roi": "unit",
    "channel": "unit",
    "units": "unit",
    "feature": "unit",
    "voxel": "unit",
    "image": "stimulus",
    "images": "stimulus",
    "condition": "stimulus",
    "stimuli": "stimulus",
    "sample": "stimulus",
    "trial": "repeat",
    "trials": "repeat",
    "rep": "repeat",
    "repeats": "repeat",
    "bin": "time",
    "times": "time",
}


def is_lazy(obj: xr.DataArray | xr.Dataset) -> bool:
    """True when ``obj`` (or its ``responses``) is backed by a dask array."""
    da = obj["responses"] if isinstance(obj, xr.Dataset) else obj
    return hasattr(da.data, "dask")


# --------------------------------------------------------------------------------------------- validation
def _check_responses(ds: xr.Dataset) -> xr.DataArray:
    if "responses" not in ds.variables:
        names = list(map(str, ds.data_vars))
        candidates = [n for n in names if n != "stimuli"]
        guess = (
            f"ds = ds.rename({{{candidates[0]!r}: 'responses'}})"
            if candidates
            else "build the set with neurosuper.from_array(...)"
        )
        raise fail("variable 'responses'", f"data variables {names}", "a data variable 'responses'", guess)
    if "responses" not in ds.data_vars:
        raise fail("variable 'responses'", "a coordinate", "a data variable", "ds = ds.reset_coords('responses')")
    return ds["responses"]


def _check_dims(resp: xr.DataArray) -> tuple[str, ...]:
    dims = tuple(map(str, resp.dims))
    unknown = [d for d in dims if d not in CANONICAL_DIMS]
    if unknown:
        renames = {d: _DIM_SYNONYMS[d.lower()] for d in unknown if d.lower() in _DIM_SYNONYMS}
        fix = f"ds = ds.rename({renames})" if renames else f"rename or remove dims {unknown}"
        raise fail("'responses' dims", f"unknown dims {unknown} in {dims}", f"only {CANONICAL_DIMS}", fix)
    missing = [d for d in ("stimulus", "unit") if d not in dims]
    if missing:
        raise fail(
            "'responses' dims",
            f"{dims} without {missing}",
            "at least ('stimulus', 'unit')",
            "add the missing dim (e.g. responses.expand_dims('unit')) or rename an existing one",
        )
    return tuple(d for d in CANONICAL_DIMS if d in dims)


def _check_dtype(resp: xr.DataArray) -> None:
    dtype = resp.dtype
    if dtype in (np.float32, np.float64):
        return
    if dtype.kind == "f":
        raise fail(
            "'responses' dtype",
            f"{dtype} ({dtype.itemsize * 8}-bit float)",
            "float32 or float64 (the dtypes netCDF and zarr store)",
            "ds['responses'] = ds['responses'].astype('float32')",
        )
    if dtype.kind == "c":
        raise fail(
            "'responses' dtype",
            f"complex {dtype}",
            "a real float dtype (float32 or float64)",
            "store magnitudes (abs) or real and imaginary parts as separate units",
        )
    if dtype.kind in "biu":
        kind = "boolean" if dtype.kind == "b" else "integer"
        raise fail(
            "'responses' dtype",
            f"{kind} {dtype}",
            "float32 or float64 (NaN marks missing repeats)",
            "ds['responses'] = ds['responses'].astype('float64'), or build the set with from_array",
        )
    raise fail("'responses' dtype", f"non-numeric {dtype}", "float32 or float64", "convert the values to numbers")


def _check_sizes(resp: xr.DataArray) -> None:
    empty = [d for d in resp.dims if resp.sizes[d] == 0]
    if empty:
        raise fail(
            "'responses' sizes",
            f"empty dims {empty} ({dict(resp.sizes)})",
            "every dim non-empty",
            "check the selection that produced this set",
        )
    if resp.sizes["stimulus"] < 2:
        raise fail(
            "'stimulus' dim",
            f"{resp.sizes['stimulus']} stimulus",
            "at least 2 stimuli",
            "no population analysis runs on one stimulus; load more presentations or time bins",
        )


def _check_index(ds: xr.Dataset, dim: str) -> None:
    """The coord along a dim of ``responses``: flat, unique, of a usable dtype (required for stimulus/unit)."""
    if dim not in ds.coords or ds[dim].dims != (dim,):
        if dim in ("stimulus", "unit"):
            raise fail(
                f"coordinate '{dim}'",
                "none",
                f"one id per {dim}",
                f"ds = ds.assign_coords({dim}=ids) with unique strings or integers",
            )
        return
    if isinstance(ds.indexes.get(dim), pd.MultiIndex):
        raise fail(
            f"coordinate '{dim}'",
            "a pandas MultiIndex",
            "a flat index",
            f"ds = ds.reset_index('{dim}') and keep the levels as coords",
        )
    values = ds[dim].values
    if dim in ("stimulus", "unit"):
        if values.dtype.kind == "O":
            bad = [v for v in values.tolist() if not isinstance(v, str | int)]
            if bad:
                raise fail(
                    f"coordinate '{dim}'",
                    f"ids of type {type(bad[0]).__name__}",
                    "strings or integers",
                    f"ds = ds.assign_coords({dim}=ds['{dim}'].astype(str))",
                )
        elif values.dtype.kind not in "iuUS":
            raise fail(
                f"coordinate '{dim}'",
                f"{values.dtype} ids",
                "strings or integers",
                f"ds = ds.assign_coords({dim}=ds['{dim}'].astype(str))",
            )
    elif dim == "time" and values.dtype.kind not in "iuf":
        raise fail(
            "coordinate 'time'",
            f"dtype {values.dtype}",
            "seconds relative to onset (numbers)",
            "convert the time coord to float seconds",
        )
    index = pd.Index(values)
    if not index.is_unique:
        dup = index[index.duplicated()].unique()
        raise fail(
            f"coordinate '{dim}'",
            f"duplicate ids {preview(dup)}",
            f"unique {dim} ids",
            "make ids unique, e.g. prefix them with the session or layer, or drop the repeats",
        )


def _bad_text(values: np.ndarray) -> bool:
    """Whether a string array holds a NUL character or a lone surrogate (text HDF5 and zarr cannot store)."""
    if values.dtype.kind == "O":
        values = np.asarray([v for v in values.ravel().tolist() if isinstance(v, str)] or [""])
        if any("\x00" in v for v in values.tolist()):  # numpy would strip trailing NULs
            return True
    if values.dtype.kind != "U" or values.size == 0 or values.dtype.itemsize == 0:
        return False
    codes = np.ascontiguousarray(values).reshape(-1).view(np.uint32).reshape(values.size, -1)
    before_end = np.maximum.accumulate((codes != 0)[:, ::-1], axis=1)[:, ::-1]  # numpy pads with NULs
    return bool(np.any((codes == 0) & before_end) or np.any((codes >= 0xD800) & (codes <= 0xDFFF)))


def check_coords(ds: xr.Dataset) -> None:
    """No MultiIndex, and string coords that files can hold (no NUL, no lone surrogate)."""
    multi = [str(k) for k, idx in ds.indexes.items() if isinstance(idx, pd.MultiIndex)]
    if multi:
        raise fail(
            f"index {multi[0]!r}",
            "a pandas MultiIndex",
            "flat indexes only (netCDF and zarr cannot store a MultiIndex)",
            f"ds = ds.reset_index({multi[0]!r})",
        )
    for name, coord in ds.coords.items():
        if coord.chunks is None and _bad_text(coord.values):  # lazy coords are not read
            raise fail(
                f"coordinate {str(name)!r}",
                "strings containing NUL characters or lone surrogates",
                "valid UTF-8 text without NUL",
                f"clean the strings of ds[{str(name)!r}]",
            )


def _check_attrs(ds: xr.Dataset) -> None:
    attrs = ds.attrs
    system = attrs.get("system")
    if system not in SYSTEMS:
        found = "no 'system' attr" if system is None else f"system={system!r}"
        raise fail("attr 'system'", found, f"one of {SYSTEMS}", "ds.attrs['system'] = 'brain' (or 'network')")
    measure = attrs.get("measure")
    if not isinstance(measure, str) or not measure:
        raise fail(
            "attr 'measure'",
            f"measure={measure!r}",
            f"a non-empty string such as {MEASURES}",
            "ds.attrs['measure'] = 'spike_count' (or 'spike_rate', 'dff', 'activation', ...)",
        )
    version = attrs.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int | np.integer) or isinstance(version, bool):
        raise fail("attr 'format_version'", repr(version), "an integer", "remove the attr; validate() sets it")
    if version > FORMAT_VERSION:
        raise fail(
            "attr 'format_version'",
            str(version),
            f"at most {FORMAT_VERSION} (this is neurosuper {__version__})",
            "upgrade neurosuper to read this set",
        )
    owners = [("the set", attrs)] + [(f"variable {k!r}", v.attrs) for k, v in ds.variables.items()]
    for owner, owner_attrs in owners:
        for key, value in owner_attrs.items():
            if not isinstance(key, str):
                raise fail(f"attrs of {owner}", f"non-string key {key!r}", "string keys", "rename the attr")
            if key == JSON_ATTR:
                raise fail(
                    f"attr {key!r} of {owner}",
                    "neurosuper's reserved storage attr (file opened with plain xarray?)",
                    "decoded attrs",
                    "open the file with neurosuper.load(path)",
                )
            try:
                to_jsonable(value)
            except TypeError as err:
                raise fail(
                    f"attr {key!r} of {owner}",
                    str(err),
                    "JSON-safe values (str, numbers, bool, None, lists, tuples, dicts, numeric numpy scalars/arrays)",
                    "convert it, e.g. str(value), or drop the attr",
                ) from None


def _check_stimuli(ds: xr.Dataset) -> None:
    if "stimuli" not in ds.variables:
        return
    stim = ds["stimuli"]
    if "stimuli" not in ds.data_vars:
        raise fail("variable 'stimuli'", "a coordinate", "a data variable", "ds = ds.reset_coords('stimuli')")
    if not stim.dims or stim.dims[0] != "stimulus":
        raise fail(
            "variable 'stimuli'",
            f"dims {stim.dims}",
            "'stimulus' as first dim, e.g. (stimulus, y, x[, channel]) or (stimulus, feature)",
            "rename its stimulus dim to 'stimulus' and transpose it first",
        )
    clash = [d for d in stim.dims[1:] if d in CANONICAL_DIMS]
    if clash or stim.ndim not in (2, 3, 4):
        raise fail(
            "variable 'stimuli'",
            f"dims {stim.dims}",
            "(stimulus, feature), (stimulus, y, x) or (stimulus, y, x, channel)",
            "rename the dims of 'stimuli'",
        )
    if stim.dtype.kind not in "biuf":
        raise fail(
            "variable 'stimuli'",
            f"dtype {stim.dtype}",
            "numbers (images or features)",
            "convert the stimuli to numbers",
        )


def _reduce_in_memory(data: np.ndarray) -> tuple[int, list[np.ndarray]]:
    """(number of ±inf, per axis: has each index a non-NaN value) in three reductions and no temporary of the
    data's size: fmax/fmin along the contiguous axis (NaN marks an all-NaN row), fmax across the others."""
    inner = int(np.argmin(np.abs(data.strides)))
    outer = tuple(i for i in range(data.ndim) if i != inner)
    with np.errstate(invalid="ignore"):
        hi, lo = np.fmax.reduce(data, axis=inner), np.fmin.reduce(data, axis=inner)
        across = np.fmax.reduce(data, axis=outer)
    n_inf = int(np.count_nonzero(np.isinf(data))) if np.isinf(hi).any() or np.isinf(lo).any() else 0
    rows = ~np.isnan(hi)
    per_dim = [
        ~np.isnan(across)
        if axis == inner
        else rows.any(axis=tuple(i for i in range(rows.ndim) if i != axis - (axis > inner)))
        for axis in range(data.ndim)
    ]
    return n_inf, per_dim


def check_response_values(resp: xr.DataArray) -> None:
    """Fast path: one summation (finite total = no NaN, no ±inf); otherwise locate ±inf and all-NaN slices."""
    data = resp.data
    if hasattr(data, "dask"):
        import dask.array as dsa

        total = data.sum(dtype=np.float64).compute()  # chunk sums in float64: no spurious overflow
        if np.isfinite(total):
            return
        valid = ~dsa.isnan(data)
        others = [tuple(i for i in range(data.ndim) if i != axis) for axis in range(data.ndim)]
        n_inf, *per_dim = dsa.compute(dsa.count_nonzero(dsa.isinf(data)), *(valid.any(axis=o) for o in others))
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow only sends us down the slow path
            total = data.sum()  # pairwise summation in the data's dtype, no copy
        if np.isfinite(total):
            return
        n_inf, per_dim = _reduce_in_memory(data)
    if n_inf:
        raise fail(
            "'responses' values",
            f"{int(n_inf)} ±inf values",
            "finite numbers (NaN only for missing repeats)",
            "replace or drop the infinite entries (overflow in a rate? divide by a nonzero bin)",
        )
    for dim, has_value in zip(resp.dims, per_dim, strict=True):
        if not np.all(has_value):
            empty = ~np.asarray(has_value)
            ids = resp[dim].values[empty] if dim in resp.coords else np.flatnonzero(empty)
            raise fail(
                f"'{dim}' values",
                f"{dim} {preview(ids)} with no valid value (all NaN)",
                f"at least one valid value per {dim}",
                f"drop them: ds = ds.drop_sel({dim}=[...])",
            )
    if "repeat" not in resp.dims:
        n_nan = int(np.isnan(data).sum())  # reached only with NaN or an overflowing sum
        if n_nan:
            raise fail(
                "'responses' values",
                f"{n_nan} NaN values in a set without a 'repeat' dim",
                "NaN only where a repeat is missing",
                "impute or drop the affected units/stimuli",
            )
        return
    _check_whole_repeats(resp)


def _check_whole_repeats(resp: xr.DataArray) -> None:
    """NaN marks a missing repeat (of a unit: pooled sessions differ in repeats), so over ``time`` a
    (repeat, stimulus, unit) cell is all NaN or has none — a NaN time bin inside a valid repeat is refused."""
    if "time" not in resp.dims:
        return
    axis = resp.dims.index("time")
    data = resp.data
    if hasattr(data, "dask"):
        import dask.array as dsa

        nan = dsa.isnan(data)
        partial = (nan.any(axis=axis) & ~nan.all(axis=axis)).compute()
    else:
        nan = np.isnan(data)
        partial = nan.any(axis=axis) & ~nan.all(axis=axis)
    if partial.any():
        dims = [d for d in resp.dims if d != "time"]
        first = dict(zip(dims, (int(i[0]) for i in np.nonzero(partial)), strict=True))
        where = ", ".join(
            f"{d} {resp[d].values[i].item()!r}" if d in resp.coords else f"{d} {i}" for d, i in first.items()
        )
        raise fail(
            "'responses' values",
            f"{int(partial.sum())} presentations with NaN in some time bins only (first: {where})",
            "NaN only for a whole missing repeat (every time bin of it)",
            "set such a presentation to NaN in every time bin, or fill the missing bins",
        )


def validate(ds: xr.Dataset, *, check_values: bool | None = None) -> xr.Dataset:
    """Check that ``ds`` is a ResponseSet and return it with ``responses`` in canonical dim order.

    Parameters
    ----------
    ds
        The candidate set.
    check_values
        Check the values (no ±inf; no unit, stimulus, repeat or time bin that is all NaN; NaN only with a
        ``repeat`` dim). ``None`` (default) checks in-memory data and skips dask-backed data, so validating a
        lazy set reads metadata only; ``True`` forces the check (computing over a lazy set chunk by chunk).

    Returns
    -------
    xarray.Dataset
        A new set (the input is not modified): ``responses`` transposed to (``repeat``?, ``stimulus``,
        ``time``?, ``unit``), ``format_version`` set.

    Raises
    ------
    FormatError
        Naming the offending variable, dim, coord or attr, what was found, what was expected and the fix.
    """
    if type(ds) is not xr.Dataset:
        found = type(ds).__name__
        raise fail(
            "the set",
            f"a {found}",
            "a plain xarray.Dataset",
            "wrap arrays with neurosuper.from_array(...); convert a DataArray with "
            "from_array(da, system=..., measure=...)",
        )
    resp = _check_responses(ds)
    order = _check_dims(resp)
    _check_dtype(resp)
    _check_sizes(resp)
    for dim in order:
        _check_index(ds, dim)
    check_coords(ds)
    _check_attrs(ds)
    _check_stimuli(ds)
    if check_values if check_values is not None else not is_lazy(resp):
        check_response_values(resp)
    out = ds.copy(deep=False)
    if tuple(resp.dims) != order:
        out["responses"] = resp.transpose(*order)
    out.attrs.setdefault("format_version", FORMAT_VERSION)
    return out


# --------------------------------------------------------------------------------------------- building
def _as_array(data: Any) -> Any:
    if hasattr(data, "dask"):
        arr = data
    else:
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as err:
            raise fail(
                "data",
                f"an object numpy cannot convert ({err})",
                "a numeric array",
                "pass a rectangular numpy or dask array",
            ) from None
    kind = arr.dtype.kind
    if kind in "biu":
        arr = arr.astype(np.float64)
    elif kind == "f" and arr.dtype.itemsize < 4:
        arr = arr.astype(np.float32)
    return arr


def _coord_spec(name: str, value: Any, dims: tuple[str, ...]) -> Any:
    if isinstance(value, xr.DataArray | xr.Variable):
        return value
    if isinstance(value, tuple) and len(value) >= 2 and isinstance(value[0], str | tuple):
        return value
    if name in dims:
        return (name, value)
    raise fail(
        f"coord {name!r}",
        "values without a dim",
        f"{name}=(dim, values) with dim in {dims}",
        f"from_array(..., {name}=('unit', values))",
    )


def _stimuli_variable(stimuli: Any, ids: np.ndarray) -> xr.Variable:
    n = len(ids)
    if isinstance(stimuli, xr.DataArray):
        if "stimulus" not in stimuli.dims:
            raise fail(
                "stimuli",
                f"a DataArray with dims {stimuli.dims}",
                "a 'stimulus' dim",
                "rename its stimulus dim: stimuli.rename({'image': 'stimulus'})",
            )
        stim = stimuli.transpose("stimulus", ...)
        if stim.sizes["stimulus"] != n:
            raise fail(
                "stimuli",
                f"{stim.sizes['stimulus']} stimuli",
                f"{n}, one per stimulus of the responses",
                "pass the stimuli in the same order as the responses",
            )
        if "stimulus" in stim.coords:
            theirs = stim["stimulus"].values
            if not np.array_equal(np.sort(theirs.astype(str)), np.sort(np.asarray(ids).astype(str))):
                extra = sorted(set(theirs.tolist()) ^ set(np.asarray(ids).tolist()), key=str)
                raise fail(
                    "stimuli ids",
                    f"ids differing from the responses' ({preview(extra)})",
                    "the same stimulus ids",
                    "align the stimuli with the responses before building the set",
                )
            if not np.array_equal(theirs, ids):
                stim = stim.sel(stimulus=ids)
        return stim.drop_vars("stimulus", errors="ignore").variable.to_base_variable()
    arr = np.asarray(stimuli) if not hasattr(stimuli, "dask") else stimuli
    if arr.ndim not in _STIMULI_DIMS or arr.shape[0] != n:
        raise fail(
            "stimuli",
            f"an array of shape {arr.shape}",
            f"({n}, features), ({n}, y, x) or ({n}, y, x, channel)",
            "pass one row/image per stimulus, stimulus first",
        )
    return xr.Variable(_STIMULI_DIMS[arr.ndim], arr)


def from_array(
    data: Any,
    *,
    dims: Sequence[str] | None = None,
    stimulus: IdsLike | None = None,
    unit: IdsLike | None = None,
    system: str,
    measure: str,
    stimuli: Any = None,
    attrs: Mapping[str, Any] | None = None,
    **coords: Any,
) -> xr.Dataset:
    """Build a valid ResponseSet from a numpy or dask array (or a DataArray).

    Parameters
    ----------
    data
        2-D (stimulus, unit), 3-D (repeat, stimulus, unit) or 4-D (repeat, stimulus, time, unit) unless
        ``dims`` says otherwise (e.g. ``dims=("stimulus", "time", "unit")``). Integers become float64 (NaN
        marks missing repeats); float16 becomes float32. A DataArray brings its own dims and coords.
    stimulus, unit
        Ids (strings or integers); default ``0..n-1``.
    system
        ``"brain"`` or ``"network"``.
    measure
        ``"spike_count"``, ``"spike_rate"``, ``"dff"``, ``"activation"``, ...
    stimuli
        The stimuli themselves: a DataArray with a ``stimulus`` dim (ids, if present, must match) or an array
        whose first axis is the stimulus (2-D features, 3-D grey images, 4-D colour images).
    attrs
        Further JSON-safe attrs (``source``, ``window``, ...).
    **coords
        Per-dim coords, xarray style: ``area=("unit", values)``; ``time=values`` for the time dim.

    Examples
    --------
    >>> import numpy as np, neurosuper as ns
    >>> ds = ns.from_array(np.random.default_rng(0).poisson(2.0, (2, 50, 30)), system="brain",
    ...                    measure="spike_count", area=("unit", ["V1"] * 20 + ["V2"] * 10))
    >>> dict(ds.sizes)
    {'repeat': 2, 'stimulus': 50, 'unit': 30}
    """
    extra_coords: dict[str, Any] = {}
    if isinstance(data, xr.DataArray):
        dims = tuple(dims) if dims is not None else tuple(map(str, data.dims))
        extra_coords = {str(k): v.variable for k, v in data.coords.items()}
        data = data.data
    arr = _as_array(data)
    if dims is None:
        if arr.ndim not in _DEFAULT_DIMS:
            raise fail(
                "data",
                f"{arr.ndim}-D array of shape {arr.shape}",
                "2-D (stimulus, unit), 3-D (repeat, stimulus, unit) or 4-D (repeat, stimulus, time, unit)",
                "pass dims=(...) naming every axis",
            )
        dims = _DEFAULT_DIMS[arr.ndim]
    dims = tuple(dims)
    if len(dims) != arr.ndim:
        raise fail(
            "dims",
            f"{len(dims)} names {dims} for a {arr.ndim}-D array",
            "one name per axis",
            "make dims match the array's shape",
        )
    sizes = dict(zip(dims, arr.shape, strict=True))
    all_coords: dict[str, Any] = dict(extra_coords)
    for dim, ids in (("stimulus", stimulus), ("unit", unit)):
        if dim not in sizes:
            if ids is not None:
                raise fail(
                    f"{dim} ids",
                    f"ids but dims {dims} without {dim!r}",
                    f"a {dim!r} dim",
                    f"name the {dim} axis in dims=(...)",
                )
            continue
        if ids is None:
            if dim not in all_coords:
                all_coords[dim] = np.arange(sizes[dim])
            continue
        id_array = np.asarray(ids)
        if id_array.ndim != 1 or len(id_array) != sizes[dim]:
            raise fail(
                f"{dim} ids",
                f"{id_array.shape[0] if id_array.ndim else 'a scalar'} ids",
                f"{sizes[dim]}, one per {dim}",
                f"pass {dim}= with one id per {dim}",
            )
        all_coords[dim] = id_array
    if "repeat" in sizes and "repeat" not in all_coords:
        all_coords["repeat"] = np.arange(sizes["repeat"])
    for name, value in coords.items():
        all_coords[name] = _coord_spec(name, value, dims)
    base = {"system": system, "measure": measure, "format_version": FORMAT_VERSION, "neurosuper_version": __version__}
    try:
        ds = xr.Dataset({"responses": (dims, arr)}, coords=all_coords, attrs={**dict(attrs or {}), **base})
    except (ValueError, TypeError) as err:
        raise fail(
            "coords",
            f"a mismatch ({err})",
            "one value per element of the coord's dim",
            "check the lengths of the coords you passed",
        ) from None
    if stimuli is not None:
        if "stimulus" not in sizes:
            raise fail("stimuli", "stimuli but no 'stimulus' dim", "a 'stimulus' dim", "name one axis 'stimulus'")
        ds["stimuli"] = _stimuli_variable(stimuli, ds["stimulus"].values)
    _warn_if_transposed(sizes, system, dims_given=dims != _DEFAULT_DIMS.get(arr.ndim))
    return validate(ds)


#: A brain set with this many times more units than stimuli is most likely a units × bins matrix passed the
#: wrong way round (recordings have far fewer neurons than samples; networks may legitimately have more).
TRANSPOSED_RATIO = 20


def _warn_if_transposed(sizes: Mapping[str, int], system: str, *, dims_given: bool) -> None:
    n_stim, n_unit = sizes.get("stimulus", 0), sizes.get("unit", 0)
    if system == "brain" and n_stim and n_unit >= TRANSPOSED_RATIO * n_stim:
        how = "the dims you named" if dims_given else "the default dims (stimulus, unit) for a 2-D array"
        warnings.warn(
            f"from_array: a brain set of {n_stim} stimuli x {n_unit} units ({n_unit // n_stim}x more "
            f"units than stimuli) by {how}: was a neurons x samples matrix passed the wrong way round? "
            "Fix: pass data.T (stimuli/time bins first), or ignore this if the set really has more "
            "units than stimuli.",
            NeurosuperWarning,
            stacklevel=3,
        )
