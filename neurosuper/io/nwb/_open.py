"""Opening NWB files read-only — local paths and URLs (through fsspec) — with errors that say what was found.

pynwb/h5py are imported inside the functions: ``import neurosuper`` stays fast (``import pynwb`` takes ~1 s).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._validation import check_regular_file
from ...errors import FormatError, NWBLayoutError

__all__ = ["OpenedNWB", "open_nwb", "is_url"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_url(path: str | os.PathLike) -> bool:
    """True for ``scheme://...`` paths (``https://``, ``s3://``, ``file://``); these are opened through fsspec."""
    return isinstance(path, str) and "://" in path[:16]


@dataclass
class OpenedNWB:
    """An open NWB file: the ``NWBFile`` tree, its source string and schema version."""

    nwbfile: Any
    source: str
    nwb_version: str


def _not_hdf5(source: str, head: bytes) -> FormatError:
    return FormatError(
        f"file {source!r}: found a file starting with {head[:8]!r}, not the HDF5 signature; expected "
        "an NWB 2 file (HDF5). Fix: pass the .nwb file itself (NWB 1 and zarr-backed NWB are not read)."
    )


def _check_local(path: Path) -> None:
    if not path.exists():
        raise FormatError(f"path {str(path)!r}: found no such file; expected an NWB file. Fix: check the path.")
    if path.is_dir():
        raise FormatError(f"path {str(path)!r}: found a folder; expected an NWB (HDF5) file. Fix: pass the file.")
    check_regular_file(path, expected="an NWB (HDF5) file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    # HDF5 files may carry a user block (512, 1024, ... bytes) before the signature; h5py decides then.
    if head != _HDF5_SIGNATURE:
        import h5py

        if not h5py.is_hdf5(str(path)):
            raise _not_hdf5(str(path), head)


def _open_url(url: str, stack: contextlib.ExitStack) -> Any:
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is installed with xarray/dask here
        raise NWBLayoutError(
            f"path {url!r}: found a URL but fsspec is not installed; expected a local path or "
            "fsspec for remote reading. Fix: pip install fsspec aiohttp (or download the file)."
        ) from None
    protocol = url.split("://", 1)[0]
    try:
        fs = fsspec.filesystem(protocol)
    except (ImportError, ValueError) as err:
        raise NWBLayoutError(
            f"path {url!r}: fsspec cannot serve protocol {protocol!r} ({err}); expected an "
            "installed fsspec backend. Fix: install it (https needs aiohttp, s3 needs s3fs)."
        ) from None
    try:
        kwargs = {"cache_type": "blockcache"} if protocol in ("http", "https") else {}
        fobj = stack.enter_context(fs.open(url, "rb", **kwargs))
    except FileNotFoundError:
        raise FormatError(f"path {url!r}: found no such file; expected an NWB file. Fix: check the URL.") from None
    head = fobj.read(8)
    try:
        fobj.seek(0)
    except ValueError as err:  # fsspec's HTTPStreamFile: the server gave no size (or no range requests)
        raise FormatError(
            f"path {url!r}: found a server that only streams the file ({err}: it gives no size or no range "
            "requests, and HDF5 must seek; reading such URLs comes in a future version); expected a URL that "
            f"allows random access. Fix: download it first (e.g. curl -LO {url!r}) and pass the local path."
        ) from None
    if head != _HDF5_SIGNATURE:
        raise _not_hdf5(url, head)
    return fobj


@contextmanager
def open_nwb(path: str | os.PathLike) -> Iterator[OpenedNWB]:
    """Open ``path`` read-only and yield an :class:`OpenedNWB`; the file (and any fsspec handle) is always closed.

    Raises
    ------
    FormatError
        Missing file, a folder, not HDF5, truncated or corrupted HDF5, an HDF5 file that is not NWB.
    NWBLayoutError
        A URL whose fsspec backend is not installed.
    """
    import h5py

    source = str(path)
    with contextlib.ExitStack() as stack:
        if is_url(source):
            h5_source: Any = _open_url(source, stack)
        else:
            local = Path(path)
            _check_local(local)
            h5_source = str(local)
        try:
            h5 = stack.enter_context(h5py.File(h5_source, "r"))
        except OSError as err:
            raise FormatError(
                f"file {source!r}: could not be opened as HDF5 ({err}); expected a complete NWB file. "
                "Fix: the file is probably truncated or corrupted — download or write it again."
            ) from None
        version = h5.attrs.get("nwb_version")
        if version is None:
            top = sorted(h5.keys())[:8]
            raise FormatError(
                f"file {source!r}: found an HDF5 file without an 'nwb_version' attribute (top-level "
                f"groups {top}); expected an NWB 2 file. Fix: pass an NWB file (neurosuper.load "
                "reads netCDF/zarr ResponseSets)."
            )
        version = version.decode() if isinstance(version, bytes) else str(version)
        import pynwb

        io = stack.enter_context(pynwb.NWBHDF5IO(file=h5, mode="r", load_namespaces=True))
        try:
            with warnings.catch_warnings():
                # cached-namespace and deprecated-field notices from older files say nothing about the data
                warnings.simplefilter("ignore")
                nwbfile = io.read()
        except Exception as err:  # hdmf raises many types for broken or truncated files
            raise FormatError(
                f"file {source!r}: pynwb could not read the NWB tree ({type(err).__name__}: {err}); "
                "expected a complete NWB 2 file. Fix: the file is probably truncated or was written "
                "by a tool with a broken extension — validate it with nwbinspector."
            ) from err
        yield OpenedNWB(nwbfile=nwbfile, source=source, nwb_version=version)
