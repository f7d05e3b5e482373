"""Opening NWB files read-only — local paths and URLs (streamed through fsspec, :mod:`neurosuper.io.remote`) —
with errors that say what was found.

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
from ...errors import FormatError
from ..remote import RemoteReadError, is_url, open_url

__all__ = ["OpenedNWB", "open_nwb", "is_url"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


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
    """A random-access file object streaming ``url`` (:func:`neurosuper.io.remote.open_url`), HDF5-checked."""
    fobj = open_url(url, stack)
    head = fobj.read(8)
    fobj.seek(0)
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
    RemoteReadError
        A URL whose connection failed while reading (also when it fails inside the ``with`` block).
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
            _reraise_remote(h5_source, err)
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
            _reraise_remote(h5_source, err)
            raise FormatError(
                f"file {source!r}: pynwb could not read the NWB tree ({type(err).__name__}: {err}); "
                "expected a complete NWB 2 file. Fix: the file is probably truncated or was written "
                "by a tool with a broken extension — validate it with nwbinspector."
            ) from err
        try:
            yield OpenedNWB(nwbfile=nwbfile, source=source, nwb_version=version)
        except Exception as err:  # a read inside the caller's block hit a dropped connection: say so
            _reraise_remote(h5_source, err)
            raise


def _reraise_remote(h5_source: Any, err: BaseException) -> None:
    """Raise the transport failure a streamed file recorded (h5py reports it as a bare OSError), if any."""
    failure = getattr(h5_source, "failure", None)
    if failure is None:
        return
    if failure is err or isinstance(err, RemoteReadError):
        raise err
    raise failure from err
