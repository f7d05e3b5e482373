"""Saving and loading ResponseSets (and analysis results): netCDF (``.nc``) or zarr (``.zarr``), atomically.

Round trips are exact for values, dtypes, coords and attrs, with two documented normalisations: string ids
come back as numpy unicode (``<U``, as wide as the longest id), and attrs netCDF cannot hold (bool, None,
dict, lists, tuples, numpy values, reserved CF names such as ``units``) are JSON-encoded under one reserved
attr and restored on load (:mod:`neurosuper._attrs`). See ``docs/format.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import format as _format
from ._atomic import atomic_path, check_free_space, interrupted_replace
from ._attrs import JSON_ATTR, decode_attrs, encode_attrs
from ._provenance import INPUTS_KEY
from ._validation import check_not_url, check_regular_file
from .errors import FormatError, fail, preview
from .format import FORMAT_VERSION, check_coords, is_lazy, validate

__all__ = ["save", "load", "save_result", "file_format", "rdm_variable"]

_SUFFIXES = {".nc": "netcdf", ".nc4": "netcdf", ".h5": "netcdf", ".zarr": "zarr"}
#: Root attr of a zarr store written by :func:`save`: every chunk was written (``write_empty_chunks=True``),
#: so a missing chunk file means a damaged store, not "all fill value".
_ZARR_COMPLETE = "neurosuper_all_chunks_written"
#: Root attr of a file written by :func:`save` from an in-memory set whose values were checked during the
#: write: a fingerprint of the ``responses`` values as written (:func:`values_fingerprint`). :func:`load`
#: skips the value check only when the values it read have the same fingerprint, so a file edited after
#: ``save`` (an inf, an all-NaN unit) is checked again.
_VALUES_CHECKED = "neurosuper_values_checked"
#: Root attr of every file or store :func:`save` / :func:`save_result` wrote ("set" or "result"): marks what
#: ``overwrite=True`` may replace.
_SAVED_BY = "neurosuper_saved"
_STORAGE_ATTRS = (_ZARR_COMPLETE, _VALUES_CHECKED, _SAVED_BY)
#: Root attrs that mark a file or store as neurosuper's (any one suffices; a ``responses`` variable does too).
_OWN_ATTRS = (*_STORAGE_ATTRS, "format_version", "neurosuper_version", JSON_ATTR)
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def file_format(path: str | os.PathLike) -> str:
    """``"netcdf"`` or ``"zarr"`` from the path's suffix; :class:`FormatError` for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise fail(
            f"path {str(path)!r}",
            f"suffix {suffix or '(none)'!r}",
            f"one of {sorted(_SUFFIXES)}",
            "name the file e.g. 'set.nc' (netCDF4/HDF5) or 'set.zarr' (zarr directory)",
        )
    return _SUFFIXES[suffix]


def _uniform_chunks(var: xr.Variable) -> xr.Variable:
    """Zarr needs equal dask chunks (the last may be smaller); rechunk a variable that has others."""
    chunks = getattr(var.data, "chunks", None)
    if chunks is None:
        return var
    bad = {d: max(c) for d, c in zip(var.dims, chunks, strict=True) if any(x != c[0] for x in c[:-1]) or c[-1] > c[0]}
    return var.chunk(bad) if bad else var


def encode_for_write(ds: xr.Dataset, fmt: str) -> xr.Dataset:
    """A shallow copy ready for writing (no data copied): attrs encoded, encodings reset, strings ``<U``.

    For neurosuper's own writers (:func:`save`, the streaming zarr writer of ``from_torch``).
    """
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
            raise fail(f"attr of variable {name!r}", str(err), "JSON-safe attrs", "convert or drop the attr") from None
        var.encoding = _checksum_encoding(var, fmt)
        variables[name] = var
    try:
        attrs = encode_attrs(ds.attrs)
    except TypeError as err:
        raise fail("attr of the set", str(err), "JSON-safe attrs", "convert or drop the attr") from None
    out = xr.Dataset({k: variables[k] for k in ds.data_vars}, coords={k: variables[k] for k in ds.coords}, attrs=attrs)
    return out


def _checksum_encoding(var: xr.Variable, fmt: str) -> dict[str, Any]:
    """A checksum on every stored chunk of a numeric array, verified by the reader on every read, eager or lazy:
    netCDF/HDF5's Fletcher-32 filter (``fletcher32``; HDF5 then refuses a chunk whose bytes changed), zarr's
    CRC-32 filter (numcodecs ``CRC32`` before the compressor: a chunk that decompresses to other bytes fails).
    So a byte flipped on disk is a :class:`FormatError` naming the file, never silently other values. Scalars
    (not chunked) and text have none."""
    if var.ndim == 0 or var.dtype.kind not in "biuf":
        return {}
    if fmt == "netcdf":
        return {"fletcher32": True}
    from numcodecs import CRC32  # type: ignore[import-untyped]  # numcodecs ships no type information

    return {"filters": [CRC32()]}


def _decoded(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`encode_for_write` on a freshly opened dataset (in place: nobody else holds it)."""
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


# ------------------------------------------------------------------------------------------- fingerprints
def bit_sum(data: np.ndarray) -> int:
    """Sum of the values' bit patterns (as unsigned ints of the same width) mod 2**64: one pass, no copy.

    Independent of memory order and chunking (addition mod 2**64 commutes), so the sum of a transposed
    view, of the array read back from a file, or of its batches added up, is the same.
    """
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"no bit sum for dtype {arr.dtype}")
    order = arr.dtype.str[0] if arr.itemsize > 1 else "|"
    return int(arr.view(np.dtype(f"{order}u{arr.itemsize}")).sum(dtype=np.uint64))


def fingerprint(dtype: np.dtype | str, size: int, total: int) -> str:
    """The fingerprint stored under the values-checked attr: dtype, number of values, :func:`bit_sum`."""
    return f"v1:{np.dtype(dtype).str}:{int(size)}:{int(total) % 2**64:016x}"


def values_fingerprint(data: np.ndarray) -> str | None:
    """:func:`fingerprint` of an in-memory numeric array (None for other dtypes)."""
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        return None
    return fingerprint(arr.dtype, arr.size, bit_sum(arr))


def record_values_checked(path: str | os.PathLike, fmt: str, value: str) -> None:
    """Add the values-checked fingerprint to a file or store just written (still under its temporary name)."""
    if fmt == "netcdf":
        import h5py

        with h5py.File(path, "r+") as f:
            f.attrs[_VALUES_CHECKED] = value
        return
    import zarr

    group = zarr.open_group(str(path), mode="r+", zarr_format=2)
    group.attrs[_VALUES_CHECKED] = value
    zarr.consolidate_metadata(str(path), zarr_format=2)


def storage_attrs(fmt: str, *, kind: str) -> dict[str, int | str]:
    """Root attrs of every file or store neurosuper writes: whose it is (``kind``: "set" or "result"), and for
    zarr that every chunk file was written (the writer must pass ``write_empty_chunks=True``)."""
    return {_SAVED_BY: kind, **({_ZARR_COMPLETE: 1} if fmt == "zarr" else {})}


def _check_and_fingerprint(resp: xr.DataArray) -> str | None:
    _format.check_response_values(resp)  # looked up on the module at call time (tests count the calls)
    return values_fingerprint(resp.data)


# ------------------------------------------------------------------------------------------------ writing
def _zarr_root(path: Path) -> tuple[dict, set[str]] | None:
    """(root attrs, array names) of a zarr v2/v3 store from its metadata files; None for a plain folder."""
    import json

    meta = path / ".zmetadata"
    if meta.is_file():
        entries = json.loads(meta.read_text())["metadata"]
        return dict(entries.get(".zattrs", {})), {k.split("/")[0] for k in entries if k.endswith("/.zarray")}
    if (path / ".zgroup").is_file():
        attrs = json.loads((path / ".zattrs").read_text()) if (path / ".zattrs").is_file() else {}
        return attrs, {p.name for p in path.iterdir() if (p / ".zarray").is_file()}
    if (path / "zarr.json").is_file():
        root = json.loads((path / "zarr.json").read_text())
        return dict(root.get("attributes", {})), {p.name for p in path.iterdir() if (p / "zarr.json").is_file()}
    return None


def _not_replaceable(path: Path) -> str | None:
    """None if ``path`` is a file or store neurosuper (or xarray, holding a ResponseSet) wrote, or an empty
    folder; otherwise what it is, for the error message."""
    if path.is_symlink() and not path.exists():
        return None  # a dangling link: replacing it loses nothing
    try:
        if path.is_dir():
            entries = sorted(os.listdir(path))
            if not entries:
                return None
            root = _zarr_root(path)
            if root is None:
                return f"a folder that is not a zarr store (it holds {preview(entries, 3)})"
            attrs, names = root
            kind = "a zarr store"
        else:
            with open(path, "rb") as f:
                head = f.read(8)
            if head != _HDF5_SIGNATURE:
                return "a file that is not a netCDF4/HDF5 file"
            import h5py

            with h5py.File(path, "r") as f:
                attrs, names = dict.fromkeys(f.attrs), set(f.keys())
            kind = "an HDF5 file"
    except PermissionError:
        return "a file or folder that cannot be read (permission denied)"
    except Exception as err:  # unreadable metadata: not recognisably ours
        return f"a file or folder that cannot be read as netCDF or zarr ({type(err).__name__})"
    if "responses" in names or any(k in attrs for k in _OWN_ATTRS):
        return None
    return f"{kind} neurosuper did not write (no 'responses' variable, no neurosuper attrs)"


def _write_atomic(
    ds: xr.Dataset, path: Path, fmt: str, overwrite: bool, *, kind: str, check: Callable[[], str | None] | None = None
) -> Path:
    """Write through :func:`neurosuper._atomic.atomic_path` (temporary name in the folder, fsync, rename).

    ``check`` (the value check of an in-memory set, returning the values' fingerprint) runs in a thread while
    the file is written (numpy releases the GIL), so it costs no wall time; if it raises, nothing is written.
    """
    path = Path(os.path.abspath(path))
    if not path.parent.is_dir():
        raise fail(
            f"path {str(path)!r}", f"no folder {str(path.parent)!r}", "an existing folder", "create the folder first"
        )
    exists = path.exists() or path.is_symlink()
    if exists and not overwrite:
        raise fail(
            f"path {str(path)!r}",
            "an existing file" + (" (a zarr store)" if path.is_dir() else ""),
            "a new path",
            "pass overwrite=True (CLI: --overwrite) to replace it, or choose another name",
        )
    if exists:
        what = _not_replaceable(path)
        if what is not None:
            raise fail(
                f"path {str(path)!r}",
                what,
                "a ResponseSet or result file/store written by neurosuper (overwrite=True replaces nothing else)",
                "choose another path, or move or delete it yourself if it is not needed",
            )
    out = encode_for_write(ds, fmt)
    out.attrs.update(storage_attrs(fmt, kind=kind))  # zarr: written with write_empty_chunks=True below
    if fmt == "netcdf":  # the HDF5 library can crash (not fail) on a full disk: start only when the file fits
        check_free_space(path, int(out.nbytes))
    with atomic_path(path, overwrite=overwrite) as tmp:
        with ThreadPoolExecutor(max_workers=1) as pool:
            checked = pool.submit(check) if check is not None else None
            if fmt == "netcdf":
                out.to_netcdf(tmp, engine="h5netcdf")
            else:
                out.to_zarr(tmp, mode="w-", zarr_format=2, consolidated=True, write_empty_chunks=True)
            value = checked.result() if checked is not None else None
        if value is not None:
            record_values_checked(tmp, fmt, value)
    return path


def save(ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a ResponseSet to ``path`` (``.nc`` netCDF4 via h5netcdf, or ``.zarr``), atomically.

    The set is validated first; the values of an in-memory set (one summation) are checked in a thread
    while the file is written, and a fingerprint of them is recorded so :func:`load` need not check them
    again (unless they changed); dask-backed data is written chunk by chunk, never loaded whole, and its
    values are not checked (``validate(ds, check_values=True)`` does). The file is written to a hidden
    temporary name in the same folder, flushed to disk and renamed once complete, so a crash never leaves a
    half file under ``path``; temporary files of a killed earlier save of the same path are removed.

    An existing ``path`` is refused unless ``overwrite=True``, also when it appears while the file is being
    written (two concurrent saves to a new path: one wins, the other raises). With ``overwrite=True`` only a
    file or store neurosuper wrote (or one holding a ``responses`` variable, or an empty folder) is replaced,
    and only once the new one is complete; anything else (a folder of other files, an unrelated file) is
    refused.

    Returns
    -------
    pathlib.Path
        The absolute path written.

    Raises
    ------
    FormatError
        Invalid set, unknown suffix, existing path without ``overwrite``, a path holding something neurosuper
        did not write, missing folder.
    """
    fmt = file_format(path)
    ds = validate(ds, check_values=False)
    check = None if is_lazy(ds) else partial(_check_and_fingerprint, ds["responses"])
    return _write_atomic(ds, Path(path), fmt, overwrite, kind="set", check=check)


def save_result(
    result: xr.Dataset | xr.DataArray, path: str | os.PathLike, *, overwrite: bool = False, full_paths: bool = False
) -> Path:
    """Write an analysis result (any Dataset/DataArray with JSON-safe attrs) atomically, like :func:`save`.

    A DataArray is stored as a one-variable Dataset named after it (``"result"`` if unnamed); read it back
    with ``load(path, validate_set=False)``.

    A result file is made to be shared: its provenance names the input files (the ``inputs`` attr, see
    :mod:`neurosuper._provenance`) by their path relative to the result's folder when they are below it, else
    by their name, each with its sha256 and size; other attrs that are absolute paths (e.g. ``source``) become
    names too. ``full_paths=True`` (CLI: ``--full-paths``) keeps the absolute paths. The object given is not
    changed.
    """
    fmt = file_format(path)
    if isinstance(result, xr.DataArray):
        result = result.to_dataset(name=result.name if isinstance(result.name, str) else "result")
    if not isinstance(result, xr.Dataset):
        raise fail(
            "result",
            f"a {type(result).__name__}",
            "an xarray Dataset or DataArray",
            "wrap the values in xarray.DataArray(values, dims=...)",
        )
    check_coords(result)
    if not full_paths:
        result = _without_absolute_paths(result, Path(os.path.abspath(path)).parent)
    return _write_atomic(result, Path(path), fmt, overwrite, kind="result")


def _shareable(attrs: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``attrs`` with the input records' paths, and any attr that is an absolute path, shown relative to
    ``folder`` when below it, else by name (:func:`neurosuper._provenance.shown_path`). New dicts only."""
    from ._provenance import shown_path

    out = dict(attrs)
    for key, value in attrs.items():
        if key == "inputs" and isinstance(value, list | tuple):
            out[key] = [
                {**v, "path": shown_path(v["path"], out=folder)} if isinstance(v, dict) and v.get("path") else v
                for v in value
            ]
        elif isinstance(value, str) and os.path.isabs(value) and "\n" not in value and len(value) < 4096:
            out[key] = shown_path(value, out=folder)
    return out


def _without_absolute_paths(result: xr.Dataset, folder: Path) -> xr.Dataset:
    """A shallow copy of ``result`` (no data copied) whose attrs and variables' attrs name files by
    :func:`_shareable`."""
    out = result.copy(deep=False)
    out.attrs = _shareable(result.attrs, folder)
    for name, var in out.variables.items():
        if var.attrs:
            var.attrs = _shareable(result.variables[name].attrs, folder)
    return out


# ------------------------------------------------------------------------------------------------ reading
def _check_zarr_chunks(path: Path) -> None:
    """Raise if a store written by :func:`save` lacks chunk files (zarr would read them as fill value)."""
    import zarr

    group = zarr.open_group(str(path), mode="r")
    if not group.attrs.get(_ZARR_COMPLETE):
        return
    for name, arr in group.arrays():
        if arr.nchunks_initialized != arr.nchunks:
            raise RuntimeError(f"array {name!r} has {arr.nchunks_initialized} of its {arr.nchunks} chunk files")


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
    return _read_guarded(ds, path, fmt)


class _ReadGuard:
    """A lazily read variable whose reads raise :class:`FormatError` naming the file when the bytes on disk are
    damaged (a garbled zarr chunk raises ``RuntimeError: blosc`` inside dask, an HDF5 one ``OSError``), so a lazy
    load fails like an eager one instead of with a third-party traceback in the middle of an analysis."""

    def __init__(self, source: object, shape: tuple[int, ...], dtype: np.dtype, path: Path, fmt: str) -> None:
        self.source, self.shape, self.dtype, self.ndim = source, shape, dtype, len(shape)
        self.path, self.fmt = path, fmt

    def __getitem__(self, key: object) -> np.ndarray:
        try:
            return np.asarray(self.source[key])  # type: ignore[index]
        except FormatError:
            raise
        except Exception as err:  # numcodecs, zarr and h5py raise many types for damaged chunks
            raise _unreadable(self.path, self.fmt, err) from err


def _read_guarded(ds: xr.Dataset, path: Path, fmt: str) -> xr.Dataset:
    """``ds`` (opened lazily) with each dask-backed variable read through a :class:`_ReadGuard`, same chunks."""
    try:
        import dask.array as da
        from xarray.core.indexing import ImplicitToExplicitIndexingAdapter
    except ImportError:  # pragma: no cover - xarray internals moved: keep the unguarded reads
        return ds
    names = [n for n, v in ds.variables.items() if hasattr(v.data, "dask") and n not in ds.indexes]
    if not names:
        return ds
    engine = "h5netcdf" if fmt == "netcdf" else "zarr"
    raw = xr.open_dataset(path, engine=engine, chunks=None)  # the same variables, lazily indexed, without dask
    out = {}
    for name in names:
        var = ds.variables[name]
        source = ImplicitToExplicitIndexingAdapter(raw.variables[name]._data)
        guard = _ReadGuard(source, tuple(var.shape), var.dtype, path, fmt)
        meta = np.empty((0,) * var.ndim, dtype=var.dtype)
        data = da.from_array(guard, chunks=var.data.chunks, name=f"read-{var.data.name}", meta=meta)
        out[name] = var.copy(data=data)
    return ds.assign({n: v for n, v in out.items() if n in ds.data_vars}).assign_coords(
        {n: v for n, v in out.items() if n in ds.coords}
    )


def _is_hdf5(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8) == _HDF5_SIGNATURE
    except OSError:
        return False


def _permission_error(path: Path) -> FormatError:
    kind = "folder" if path.is_dir() else "file"
    return fail(
        f"file {str(path)!r}",
        f"a {kind} that cannot be read (permission denied)",
        "a file this user may read",
        f"give yourself read access (chmod -R u+rX {str(path)!r}) or ask its owner",
    )


def _check_openable(path: Path, fmt: str) -> None:
    """Errors that need no reading: missing path (or one a killed replace left aside), wrong kind, permissions."""
    if not path.exists():
        old = interrupted_replace(path)
        if old is not None:
            raise fail(
                f"path {str(path)!r}",
                f"no such file, but its previous version at {str(old)!r} (a replace of it was interrupted)",
                f"a {fmt} file written by neurosuper.save",
                f"move it back: mv {str(old)!r} {str(path)!r} (the next neurosuper.save to this path does that too)",
            )
        raise fail(f"path {str(path)!r}", "no such file", f"a {fmt} file written by neurosuper.save", "check the path")
    # a FIFO or a device would block the first read below for ever
    check_regular_file(
        path, expected=f"a {fmt} {'folder' if fmt == 'zarr' else 'file'} written by neurosuper.save", folder_ok=True
    )
    if fmt == "netcdf" and path.is_dir():
        zarrish = _zarr_root(path) is not None
        raise fail(
            f"file {str(path)!r}",
            "a folder, which cannot be read as netcdf (a netCDF file is a single file)"
            + ("; it holds a zarr store" if zarrish else ""),
            "a .nc file written by neurosuper.save",
            "rename the folder to end in .zarr" if zarrish else "pass the path of a .nc file",
        )
    if fmt == "zarr" and not path.is_dir():
        hdf5 = _is_hdf5(path)
        raise fail(
            f"file {str(path)!r}",
            "a file, which cannot be read as zarr (a zarr store is a folder)"
            + ("; it is a netCDF4/HDF5 file" if hdf5 else ""),
            "a .zarr folder written by neurosuper.save",
            "rename the file to end in .nc" if hdf5 else "pass the path of a .zarr folder",
        )
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        raise _permission_error(path)
    if fmt == "zarr":
        try:
            root = _zarr_root(path)
        except PermissionError:
            raise _permission_error(path) from None
        except Exception:  # garbled metadata: reported by the reader below
            return
        if root is None:
            raise fail(
                f"file {str(path)!r}",
                "a folder without zarr metadata (.zgroup, .zmetadata or zarr.json), which cannot be read as zarr",
                "a .zarr folder written by neurosuper.save",
                f"pass the path of a zarr store; this folder holds {preview(sorted(os.listdir(path)), 3)}",
            )


def _unreadable(path: Path, fmt: str, err: BaseException) -> FormatError:
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, PermissionError):
            return _permission_error(path)
        cause = cause.__cause__ or cause.__context__
    detail = f"{type(err).__name__}: {err}"
    detail = detail if len(detail) <= 300 else detail[:297] + "..."
    if "checksum" in detail or "filter returned failure" in detail:  # see _checksum_encoding
        return fail(
            f"file {str(path)!r}",
            f"stored data that fail their checksum ({detail}): bytes of the "
            + ("store" if fmt == "zarr" else "file")
            + " changed on disk after it was written",
            "data whose checksums match (written by neurosuper.save, unchanged since)",
            "the file is corrupted (disk, copy or transfer error): restore it from a backup or write it again",
        )
    if fmt == "zarr":
        return fail(
            f"file {str(path)!r}",
            f"a store that cannot be read as zarr ({detail})",
            "a complete store written by neurosuper.save",
            "a chunk or metadata file of the store is damaged or missing; write it again",
        )
    return fail(
        f"file {str(path)!r}",
        f"a file that cannot be read as {fmt} ({detail})",
        "a complete file written by neurosuper.save",
        "the file is probably truncated or corrupted; write it again",
    )


class _ValueGuard:
    """Checks each chunk of a lazily loaded ``responses`` as it is read (no ±inf; NaN only as a whole missing
    repeat), so an analysis never computes on values edited after ``save`` without an error naming them.

    Fast path: one summation per chunk, accumulated in float64 (a finite total = no NaN, no inf; float32 values
    near their maximum, 3.4e38, cannot overflow it). A total that overflows anyway (float64 values near 1e308)
    is not taken as a NaN: the chunk is searched for ±inf and NaN, and returned when it holds neither.
    """

    def __init__(self, path: str, dims: tuple[str, ...], coords: dict[str, np.ndarray]) -> None:
        self.path, self.dims, self.coords = path, dims, coords

    def _ids(self, axis: int, start: int, index: np.ndarray) -> str:
        dim = self.dims[axis]
        values = self.coords[dim][index + start] if dim in self.coords else index + start
        return f"{dim} {preview(values, 3)}"

    def __call__(self, block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            total = block.sum(dtype=np.float64)
        if np.isfinite(total):
            return block
        nan_any = np.isnan(block).any()
        if not nan_any and not np.isinf(block).any():
            return block  # large finite values whose sum overflowed: valid
        starts = [lo for lo, _ in block_info[0]["array-location"]] if block_info else [0] * block.ndim
        what = f"file {self.path!r}: 'responses' values"
        fix = "the file was changed after it was saved: fix the values (or drop the units) and save it again"
        inf = np.isinf(block)
        if inf.any():
            first = np.argwhere(inf)[0]
            at = ", ".join(self._ids(a, starts[a], np.array([i])) for a, i in enumerate(first))
            raise fail(
                what,
                f"{int(inf.sum())} ±inf values in the chunk read, e.g. at ({at})",
                "finite numbers (NaN only for a whole missing repeat)",
                fix,
            )
        nan = np.isnan(block)
        unit = self.dims.index("unit")
        if "repeat" not in self.dims:
            units = np.flatnonzero(nan.any(axis=tuple(a for a in range(block.ndim) if a != unit)))
            raise fail(
                what,
                f"{int(nan.sum())} NaN values in a set without a 'repeat' dim, in "
                f"{self._ids(unit, starts[unit], units)}",
                "NaN only where a repeat is missing",
                fix,
            )
        cell = tuple(a for a, d in enumerate(self.dims) if d in ("repeat", "stimulus"))
        inner = tuple(a for a in range(block.ndim) if a not in cell)
        whole = nan.all(axis=inner, keepdims=True)
        off = nan != whole  # NaN where the presentation has values, or a value in a missing one
        if not off.any():
            return block
        units = np.flatnonzero(off.any(axis=tuple(a for a in range(block.ndim) if a != unit)))
        all_nan = nan.all(axis=tuple(a for a in range(block.ndim) if a != unit))[units].all()
        raise fail(
            what,
            f"NaN outside whole missing repeats in {self._ids(unit, starts[unit], units)}"
            + (" (all NaN in the chunk read: a dead unit?)" if all_nan else ""),
            "NaN only for a whole missing repeat (every unit and time bin of that presentation)",
            fix,
        )


def _guarded(ds: xr.Dataset, path: Path) -> xr.Dataset:
    resp = ds["responses"]
    if resp.dtype.kind != "f" or not hasattr(resp.data, "dask"):
        return ds
    guard = _ValueGuard(
        str(path), tuple(map(str, resp.dims)), {str(d): resp[d].values for d in resp.dims if d in resp.coords}
    )
    data = resp.data.map_blocks(guard, dtype=resp.dtype, meta=np.empty((0,) * resp.ndim, resp.dtype))
    return ds.assign(responses=resp.copy(data=data))


def rdm_variable(ds: xr.Dataset) -> str | None:
    """The name of the RDM variable of ``ds`` — a data variable whose last two dims are (``stimulus_a``,
    ``stimulus_b``), one RDM or a stack of them, ``"rdm"`` first — or None when it has none (or holds a
    ResponseSet's ``responses``). :func:`neurosuper.load_rdms` reads such files."""
    if "responses" in ds.data_vars:
        return None
    dims = ("stimulus_a", "stimulus_b")
    names = [str(n) for n, v in ds.data_vars.items() if tuple(v.dims[-2:]) == dims and v.ndim in (2, 3)]
    return "rdm" if "rdm" in names else (names[0] if names else None)


def load(path: str | os.PathLike, *, lazy: bool = False, validate_set: bool = True) -> xr.Dataset:
    """Read a set written by :func:`save` (or any netCDF/zarr file holding a ResponseSet).

    Parameters
    ----------
    path
        ``.nc`` (also ``.nc4``, ``.h5``) or ``.zarr``.
    lazy
        Return dask-backed variables without reading the data (netCDF: ~128 MB chunks; zarr: the stored
        chunks). The values are then checked chunk by chunk as they are read (one summation per chunk): an
        analysis computing on a ±inf, or on NaN outside a whole missing repeat (e.g. an all-NaN unit), raises
        :class:`FormatError` naming the file and the units. ``validate(ds, check_values=True)`` checks all
        values at once.
    validate_set
        Check that the contents are a ResponseSet; the set's ``encoding`` then records the file, so every
        result computed on it names it with its sha256 (the ``inputs`` attr, see :mod:`neurosuper._provenance`).
        When not lazy, the values are checked unless the file records that :func:`save` checked them while
        writing it *and* the values read have the fingerprint it recorded (a file edited since is checked
        again). ``False`` returns any dataset, e.g. an analysis result written by :func:`save_result`.

    Raises
    ------
    FormatError
        Unknown suffix; missing file (naming where a killed replace left the previous version, if it did);
        a folder where a netCDF file is expected or a file where a zarr store is; unreadable (permissions);
        truncated or corrupted file; damaged zarr store (garbled metadata or chunk, missing chunk file); a set
        written by a newer neurosuper (``format_version``); contents that are not a valid ResponseSet (the
        message names the file).
    """
    check_not_url(path, expected="a local .nc file or .zarr store")
    fmt = file_format(path)
    path = Path(path)
    _check_openable(path, fmt)
    try:
        ds = _open(path, fmt, lazy)
    except Exception as err:  # h5py, zarr, numcodecs and xarray raise many types for broken files
        raise _unreadable(path, fmt, err) from err
    flag = ds.attrs.get(_VALUES_CHECKED)
    ds = _decoded(ds)
    version = ds.attrs.get("format_version", FORMAT_VERSION)
    if isinstance(version, int | np.integer) and version > FORMAT_VERSION:
        raise fail(
            f"file {str(path)!r}",
            f"format_version {version}",
            f"at most {FORMAT_VERSION}",
            "upgrade neurosuper (pip install -U neurosuper) to read it",
        )
    if not validate_set:
        return ds
    values_checked = (
        not lazy
        and isinstance(flag, str)
        and "responses" in ds.variables
        and flag == values_fingerprint(ds["responses"].values)
    )
    try:
        ds = validate(ds, check_values=False if values_checked else None)
    except FormatError as err:
        rdm = rdm_variable(ds)
        if rdm is not None:  # a (published) RDM file, not a set: say so, not "rename it to 'responses'"
            raise fail(
                f"file {str(path)!r}",
                f"RDMs (variable {rdm!r}, dims {tuple(map(str, ds[rdm].dims))}), not a ResponseSet",
                "a ResponseSet with a 'responses' variable",
                "read RDM files with neurosuper.load_rdms(path); `neurosuper compare SET RDM_FILE` scores a set "
                "against them",
            ) from None
        raise FormatError(f"file {str(path)!r} does not hold a valid ResponseSet: {err}") from None
    ds.encoding[INPUTS_KEY] = [str(path.resolve())]  # provenance: results computed on this set name the file
    return _guarded(ds, path) if lazy else ds
