"""Saving and loading ResponseSets (and analysis results): netCDF (``.nc``) or zarr (``.zarr``), atomically.

Round trips are exact for values, dtypes, coords and attrs, with two documented normalisations: string ids come
back as numpy unicode (``<U``), and attrs netCDF cannot hold (bool, None, dict, lists, tuples, numpy values) are
JSON-encoded under one reserved attr and restored on load (:mod:`neurosuper._attrs`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import xarray as xr

from ._attrs import decode_attrs, encode_attrs
from .errors import FormatError
from .format import FORMAT_VERSION, validate

__all__ = ["save", "load", "save_result", "file_format"]

_SUFFIXES = {".nc": "netcdf", ".nc4": "netcdf", ".h5": "netcdf", ".zarr": "zarr"}


def file_format(path: str | os.PathLike) -> str:
    """``"netcdf"`` or ``"zarr"`` from the path's suffix; :class:`FormatError` for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise FormatError(f"path {str(path)!r}: found suffix {suffix or '(none)'!r}; expected one of "
                          f"{sorted(_SUFFIXES)}. Fix: name the file e.g. 'set.nc' (netCDF4) or 'set.zarr' (zarr).")
    return _SUFFIXES[suffix]


def _encoded(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy ready for writing: attrs encoded, encodings reset, object strings made ``<U``."""
    out = ds.copy(deep=False)
    out.attrs = encode_attrs(ds.attrs)
    for name in list(out.variables):
        var = out.variables[name]
        var.attrs = encode_attrs(var.attrs)
        var.encoding = {}
        if var.dtype.kind == "O" and name not in out.indexes:
            out[name] = var.astype(str)
    for name in list(out.indexes):
        if out[name].dtype.kind == "O":
            out = out.assign_coords({name: out[name].values.astype(str)})
    return out


def _decoded(ds: xr.Dataset) -> xr.Dataset:
    ds.attrs = decode_attrs(ds.attrs)
    for name, var in ds.variables.items():
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


def _write_atomic(ds: xr.Dataset, path: Path, fmt: str, overwrite: bool) -> Path:
    path = Path(os.path.abspath(path))
    if path.exists() and not overwrite:
        raise FormatError(f"path {str(path)!r}: found an existing file; expected a new path. "
                          "Fix: pass overwrite=True to replace it, or choose another name.")
    if not path.parent.is_dir():
        raise FormatError(f"path {str(path)!r}: found no folder {str(path.parent)!r}; expected an existing folder. "
                          "Fix: create the folder first.")
    tag = uuid.uuid4().hex[:8]
    tmp = path.with_name(f".{path.name}.tmp-{tag}")
    out = _encoded(ds)
    try:
        if fmt == "netcdf":
            out.to_netcdf(tmp, engine="h5netcdf")
        else:
            out.to_zarr(tmp, mode="w-", zarr_format=2, consolidated=True)
    except BaseException:
        _remove(tmp)
        raise
    if fmt == "zarr" and path.exists():
        old = path.with_name(f".{path.name}.old-{tag}")
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        if path.is_dir():
            _remove(path)
        os.replace(tmp, path)
    return path


def save(ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a ResponseSet to ``path`` (``.nc`` netCDF4 via h5netcdf, or ``.zarr``), atomically.

    The set is validated first (in-memory values included; dask-backed data is written chunk by chunk and
    never loaded whole). The file is written to a temporary name in the same folder and renamed once complete,
    so a crash never leaves a half file under ``path``. An existing ``path`` is refused unless
    ``overwrite=True``; it is then replaced only after the new file is complete. Returns the absolute path.
    """
    fmt = file_format(path)
    return _write_atomic(validate(ds), Path(path), fmt, overwrite)


def save_result(result: xr.Dataset | xr.DataArray, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write an analysis result (any Dataset/DataArray with JSON-safe attrs) atomically, like :func:`save`."""
    fmt = file_format(path)
    ds = result.to_dataset(name=result.name or "result") if isinstance(result, xr.DataArray) else result
    return _write_atomic(ds, Path(path), fmt, overwrite)


def _open(path: Path, fmt: str, lazy: bool) -> xr.Dataset:
    chunks = {} if lazy else None
    if fmt == "netcdf":
        ds = xr.open_dataset(path, engine="h5netcdf", chunks=chunks)
    else:
        ds = xr.open_dataset(path, engine="zarr", chunks=chunks)
    if not lazy:
        with ds:
            ds = ds.load()
    return ds


def load(path: str | os.PathLike, *, lazy: bool = False, validate_set: bool = True) -> xr.Dataset:
    """Read a set written by :func:`save` (or any netCDF/zarr file holding a ResponseSet).

    ``lazy=True`` returns dask-backed variables without reading the data (value checks are then skipped).
    Raises :class:`FormatError` for an unknown suffix, a missing, truncated or corrupted file, a set written
    by a newer neurosuper, or contents that are not a valid ResponseSet (``validate_set=False`` returns any
    dataset, e.g. an analysis result, without the ResponseSet checks).
    """
    fmt = file_format(path)
    path = Path(path)
    if not path.exists():
        raise FormatError(f"path {str(path)!r}: found no such file; expected a {fmt} file written by "
                          "neurosuper.save. Fix: check the path.")
    try:
        ds = _open(path, fmt, lazy)
    except Exception as err:  # h5py, zarr and xarray raise many types for broken files
        raise FormatError(f"file {str(path)!r}: could not be read as {fmt} ({type(err).__name__}: {err}); "
                          "expected a complete file written by neurosuper.save. Fix: the file is probably "
                          "truncated or corrupted — write it again.") from err
    ds = _decoded(ds)
    version = ds.attrs.get("format_version", FORMAT_VERSION)
    if isinstance(version, int | np.integer) and version > FORMAT_VERSION:
        raise FormatError(f"file {str(path)!r}: found format_version {version}; expected at most {FORMAT_VERSION}. "
                          "Fix: upgrade neurosuper (pip install -U neurosuper) to read it.")
    return validate(ds) if validate_set else ds
