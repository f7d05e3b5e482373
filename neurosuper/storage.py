"""Saving and loading ResponseSets (and analysis results): netCDF (``.nc``) or zarr (``.zarr``), atomically.

Round trips are exact for values, dtypes, coords and attrs, with two documented normalisations: string ids
come back as numpy unicode (``<U``, as wide as the longest id), and attrs netCDF cannot hold (bool, None,
dict, lists, tuples, numpy values, reserved CF names such as ``units``) are JSON-encoded under one reserved
attr and restored on load (:mod:`neurosuper._attrs`). See ``docs/format.md``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import xarray as xr

from . import format as _format
from ._attrs import decode_attrs, encode_attrs
from .errors import FormatError
from .format import FORMAT_VERSION, _check_coords, _fail, is_lazy, validate

__all__ = ["save", "load", "save_result", "file_format"]

_SUFFIXES = {".nc": "netcdf", ".nc4": "netcdf", ".h5": "netcdf", ".zarr": "zarr"}
#: Root attr of a zarr store written by :func:`save`: every chunk was written (``write_empty_chunks=True``),
#: so a missing chunk file means a damaged store, not "all fill value".
_ZARR_COMPLETE = "neurosuper_all_chunks_written"
#: Root attr of a file written by :func:`save` from an in-memory set whose values were checked during the
#: write (the file is deleted if they are bad): :func:`load` then checks its structure, not its values again.
_VALUES_CHECKED = "neurosuper_values_checked"
_STORAGE_ATTRS = (_ZARR_COMPLETE, _VALUES_CHECKED)


def file_format(path: str | os.PathLike) -> str:
    """``"netcdf"`` or ``"zarr"`` from the path's suffix; :class:`FormatError` for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise _fail(f"path {str(path)!r}", f"suffix {suffix or '(none)'!r}", f"one of {sorted(_SUFFIXES)}",
                    "name the file e.g. 'set.nc' (netCDF4/HDF5) or 'set.zarr' (zarr directory)")
    return _SUFFIXES[suffix]


def _uniform_chunks(var: xr.Variable) -> xr.Variable:
    """Zarr needs equal dask chunks (the last may be smaller); rechunk a variable that has others."""
    chunks = getattr(var.data, "chunks", None)
    if chunks is None:
        return var
    bad = {d: max(c) for d, c in zip(var.dims, chunks, strict=True)
           if any(x != c[0] for x in c[:-1]) or c[-1] > c[0]}
    return var.chunk(bad) if bad else var


def _encoded(ds: xr.Dataset, fmt: str) -> xr.Dataset:
    """A shallow copy ready for writing (no data copied): attrs encoded, encodings reset, strings ``<U``."""
    variables = {}
    for name, var in ds.variables.items():
        var = var.copy(deep=False)
        if var.dtype.kind == "O":  # object arrays of str: netCDF/zarr need a fixed dtype
            var = var.astype(str)
        if fmt == "zarr":
            var = _uniform_chunks(var)
        try:
            var.attrs = encode_attrs(var.attrs)
        except TypeError as err:
            raise _fail(f"attr of variable {name!r}", str(err), "JSON-safe attrs",
                        "convert or drop the attr") from None
        var.encoding = {}
        variables[name] = var
    try:
        attrs = encode_attrs(ds.attrs)
    except TypeError as err:
        raise _fail("attr of the set", str(err), "JSON-safe attrs", "convert or drop the attr") from None
    out = xr.Dataset({k: variables[k] for k in ds.data_vars}, coords={k: variables[k] for k in ds.coords},
                     attrs=attrs)
    return out


def _decoded(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`_encoded` on a freshly opened dataset (in place: nobody else holds it)."""
    ds.attrs = decode_attrs({k: v for k, v in ds.attrs.items() if k not in _STORAGE_ATTRS})
    for var in ds.variables.values():
        var.attrs = decode_attrs(var.attrs)
    strings = {name: ds[name].values.astype(str) for name in ds.coords if ds[name].dtype.kind == "O"}
    if strings:
        ds = ds.assign_coords({k: (ds[k].dims, v) for k, v in strings.items()})
    for name in ds.data_vars:
        if ds[name].dtype.kind == "O":
            ds[name] = ds[name].astype(str)
    return ds


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _write_atomic(ds: xr.Dataset, path: Path, fmt: str, overwrite: bool,
                  check: Callable[[], None] | None = None) -> Path:
    """Write to a hidden temporary name in the target folder, then rename; clean up on any failure.

    ``check`` (the value check of an in-memory set) runs in a thread while the file is written (numpy
    releases the GIL), so it costs no wall time; if it raises, the temporary file is deleted.
    """
    path = Path(os.path.abspath(path))
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise _fail(f"path {str(path)!r}", "an existing file", "a new path",
                    "pass overwrite=True to replace it, or choose another name")
    if not path.parent.is_dir():
        raise _fail(f"path {str(path)!r}", f"no folder {str(path.parent)!r}", "an existing folder",
                    "create the folder first")
    out = _encoded(ds, fmt)
    if fmt == "zarr":
        out.attrs[_ZARR_COMPLETE] = 1  # written with write_empty_chunks=True below
    if check is not None:
        out.attrs[_VALUES_CHECKED] = 1  # the file is deleted below if the check fails
    tag = uuid.uuid4().hex[:12]
    tmp = path.with_name(f".{path.name}.tmp-{tag}")
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            checked = pool.submit(check) if check is not None else None
            if fmt == "netcdf":
                out.to_netcdf(tmp, engine="h5netcdf")
            else:
                out.to_zarr(tmp, mode="w-", zarr_format=2, consolidated=True, write_empty_chunks=True)
            if checked is not None:
                checked.result()
        if path.exists() and (path.is_dir() or tmp.is_dir()):
            # a directory cannot replace (or be replaced by) a rename: move the old one aside, move the new
            # one in, then delete the old one
            old = path.with_name(f".{path.name}.old-{tag}")
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            _remove(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return path


def save(ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a ResponseSet to ``path`` (``.nc`` netCDF4 via h5netcdf, or ``.zarr``), atomically.

    The set is validated first; the values of an in-memory set (one summation) are checked in a thread
    while the file is written; dask-backed data is written chunk by chunk, never loaded whole, and its values
    are not checked (``validate(ds, check_values=True)`` does). The file is written to a hidden temporary name
    in the same folder and renamed once complete, so a crash never leaves a half file under ``path``. An
    existing ``path`` is refused unless ``overwrite=True``; it is then replaced only after the new file is
    complete.

    Returns
    -------
    pathlib.Path
        The absolute path written.

    Raises
    ------
    FormatError
        Invalid set, unknown suffix, existing path without ``overwrite``, missing folder.
    """
    fmt = file_format(path)
    ds = validate(ds, check_values=False)
    check = None if is_lazy(ds) else partial(_format._check_values, ds["responses"])
    return _write_atomic(ds, Path(path), fmt, overwrite, check)


def save_result(result: xr.Dataset | xr.DataArray, path: str | os.PathLike, *,
                overwrite: bool = False) -> Path:
    """Write an analysis result (any Dataset/DataArray with JSON-safe attrs) atomically, like :func:`save`.

    A DataArray is stored as a one-variable Dataset named after it (``"result"`` if unnamed); read it back
    with ``load(path, validate_set=False)``.
    """
    fmt = file_format(path)
    if isinstance(result, xr.DataArray):
        result = result.to_dataset(name=result.name if isinstance(result.name, str) else "result")
    if not isinstance(result, xr.Dataset):
        raise _fail("result", f"a {type(result).__name__}", "an xarray Dataset or DataArray",
                    "wrap the values in xarray.DataArray(values, dims=...)")
    _check_coords(result)
    return _write_atomic(result, Path(path), fmt, overwrite)


def _check_zarr_chunks(path: Path) -> None:
    """Raise if a store written by :func:`save` lacks chunk files (zarr would read them as fill value)."""
    import zarr

    group = zarr.open_group(str(path), mode="r")
    if not group.attrs.get(_ZARR_COMPLETE):
        return
    for name, arr in group.arrays():
        if arr.nchunks_initialized != arr.nchunks:
            raise RuntimeError(f"array {name!r} has {arr.nchunks_initialized} of its {arr.nchunks} "
                               "chunk files")


def _open(path: Path, fmt: str, lazy: bool) -> xr.Dataset:
    if fmt == "netcdf":
        ds = xr.open_dataset(path, engine="h5netcdf", chunks="auto" if lazy else None)
    else:
        _check_zarr_chunks(path)
        ds = xr.open_dataset(path, engine="zarr", chunks={} if lazy else None)
    if not lazy:
        with ds:
            ds = ds.load()
    return ds


def load(path: str | os.PathLike, *, lazy: bool = False, validate_set: bool = True) -> xr.Dataset:
    """Read a set written by :func:`save` (or any netCDF/zarr file holding a ResponseSet).

    Parameters
    ----------
    path
        ``.nc`` (also ``.nc4``, ``.h5``) or ``.zarr``.
    lazy
        Return dask-backed variables without reading the data (netCDF: ~128 MB chunks; zarr: the stored
        chunks). Value checks are then skipped (``validate(ds, check_values=True)`` runs them).
    validate_set
        Check that the contents are a ResponseSet. The values are checked once, when not lazy, unless the
        file records that :func:`save` checked them while writing it (an in-memory set: its values are then
        not read twice). ``False`` returns any dataset, e.g. an analysis result written by :func:`save_result`.

    Raises
    ------
    FormatError
        Unknown suffix; missing, truncated or corrupted file; a set written by a newer neurosuper
        (``format_version``); contents that are not a valid ResponseSet (the message names the file).
    """
    fmt = file_format(path)
    path = Path(path)
    if not path.exists():
        raise _fail(f"path {str(path)!r}", "no such file", f"a {fmt} file written by neurosuper.save",
                    "check the path")
    try:
        ds = _open(path, fmt, lazy)
    except Exception as err:  # h5py, zarr, numcodecs and xarray raise many types for broken files
        raise _fail(f"file {str(path)!r}",
                    f"a file that cannot be read as {fmt} ({type(err).__name__}: {err})",
                    "a complete file written by neurosuper.save",
                    "the file is probably truncated or corrupted; write it again") from err
    values_checked = bool(ds.attrs.get(_VALUES_CHECKED))
    ds = _decoded(ds)
    version = ds.attrs.get("format_version", FORMAT_VERSION)
    if isinstance(version, int | np.integer) and version > FORMAT_VERSION:
        raise _fail(f"file {str(path)!r}", f"format_version {version}", f"at most {FORMAT_VERSION}",
                    "upgrade neurosuper (pip install -U neurosuper) to read it")
    if not validate_set:
        return ds
    try:
        return validate(ds, check_values=False if values_checked else None)
    except FormatError as err:
        raise FormatError(f"file {str(path)!r} does not hold a valid ResponseSet: {err}") from None
