"""Saved activations → ResponseSet: ``.npy``, ``.npz`` (one array per layer), HDF5 (one dataset per layer).

``.npy`` files are memory-mapped and HDF5 datasets read through dask, so nothing is loaded until used;
``.npz`` members are read only for the layers asked for (a zip cannot be memory-mapped).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .._provenance import INPUTS_KEY
from .._validation import check_not_url, check_regular_file
from ..errors import FormatError
from .activations import from_activations

if TYPE_CHECKING:
    from ..format import IdsLike

__all__ = ["load_activations"]

_HDF5 = (".h5", ".hdf5", ".hdf")


def _lazy(array: Any) -> Any:
    import dask.array as da

    # about 64 MB per chunk along the stimulus axis, whole rows otherwise
    row = int(np.prod(array.shape[1:])) * array.dtype.itemsize or 1
    rows = max(1, min(array.shape[0], (64 << 20) // row))
    return da.from_array(array, chunks=(rows, *array.shape[1:]))


def _hdf5_datasets(path: Path) -> dict[str, Any]:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise FormatError(
            f"file {str(path)!r}: could not be read as HDF5 ({err}); expected an HDF5 file with one "
            "dataset per layer. Fix: the file may be truncated — write it again."
        ) from err
    found: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:  # returns None: a value would stop the visit at the first dataset
        if isinstance(obj, h5py.Dataset):
            found[name] = obj

    handle.visititems(visit)
    return found


def _pick(available: dict[str, Any], layers: Sequence[str] | None, path: Path) -> dict[str, Any]:
    if not available:
        raise FormatError(f"file {str(path)!r}: found no arrays; expected one array per layer.")
    if layers is None:
        return available
    missing = [name for name in layers if name not in available]
    if missing:
        raise FormatError(
            f"layers: found unknown names {missing} in {str(path)!r}; expected some of "
            f"{sorted(available)}. Fix: pass layers= with these names."
        )
    return {name: available[name] for name in layers}


def _check_all_layers(arrays: dict[str, Any], path: Path) -> None:
    """Raise when some arrays of a multi-array file are not activations (metadata saved beside the layers: labels,
    ids, image sizes) while others are: the fix is ``layers=[...]`` naming the layers, not converting anything."""
    if len(arrays) < 2:
        return

    def shape(a: Any) -> tuple[int, ...]:
        return tuple(int(d) for d in a.shape)

    numeric = {k: a for k, a in arrays.items() if np.dtype(a.dtype).kind in "biuf" and len(shape(a)) in (2, 4)}
    if not numeric:
        return
    rows = [shape(a)[0] for a in numeric.values()]
    n = max(set(rows), key=rows.count)
    good = [k for k, a in numeric.items() if shape(a)[0] == n]
    bad = {k: a for k, a in arrays.items() if k not in good}
    if not bad:
        return
    found = ", ".join(f"{k!r}: {np.dtype(a.dtype)} {shape(a)}" for k, a in bad.items())
    raise FormatError(
        f"file {str(path)!r}: found {len(bad)} array(s) that are not layer activations ({found}) beside "
        f"{len(good)} that are ({n} stimuli each); expected only layers, (stimulus, unit) or (stimulus, channel, "
        f"height, width) arrays with one row per stimulus. Fix: read just the layers: pass layers={good!r}."
    )


def _npz_error(path: Path, found: str) -> FormatError:
    return FormatError(
        f"file {str(path)!r}: found {found}; expected a complete .npz written by numpy (np.savez). "
        "Fix: the file is truncated or corrupt: copy or save it again (and check the copy's size)."
    )


def _read_npz(path: Path, layers: Sequence[str] | None) -> dict[str, Any]:
    """The arrays of an ``.npz`` asked for; a file that is not a whole zip, a member that is not a ``.npy``, or a
    member whose header promises more values than it holds (read before anything is allocated) raises
    :class:`FormatError` naming the file."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            members = {info.filename.removesuffix(".npy"): info for info in zf.infolist()}
            wanted = _pick(dict.fromkeys(members), layers, path)
            arrays: dict[str, Any] = {}
            for name in wanted:
                info = members[name]
                with zf.open(info) as f:  # the header first: its shape must fit in the member's bytes
                    major, _ = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(f)
                    header = f.tell()
                count = int(np.prod(shape, dtype=np.float64)) if shape else 1
                need = count * dtype.itemsize
                if not dtype.hasobject and header + need > info.file_size:
                    raise _npz_error(
                        path,
                        f"array {name!r} whose header claims shape {shape} ({count:,} values, "
                        f"{need / 2**30:.3g} GiB) in a member of {info.file_size:,} bytes",
                    )
                with zf.open(info) as f:
                    arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
    except FormatError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, zipfile.LargeZipFile) as err:
        raise _npz_error(path, f"a file numpy cannot read as .npz ({type(err).__name__}: {err})") from err
    return arrays


def load_activations(
    path: str | os.PathLike,
    *,
    layers: Sequence[str] | None = None,
    stimulus: IdsLike | None = None,
    spatial: str = "mean",
    stimuli: Any = None,
    model: str | None = None,
) -> xr.Dataset:
    """Read saved activations as one ResponseSet (``system="network"``), lazily where the format allows.

    Parameters
    ----------
    path
        ``.npy`` (one layer, named after the file), ``.npz`` (one array per layer, named by its key) or HDF5
        (``.h5``/``.hdf5``: one dataset per layer, named by its path inside the file).
    layers
        Which arrays to read (default: all). A file that also holds other arrays (labels, ids, image sizes saved
        beside the layers) needs them: reading all of it raises, naming the arrays that are layers.
    stimulus, spatial, stimuli, model
        As :func:`neurosuper.from_activations`; ``model`` defaults to the file name.
    """
    check_not_url(path, expected="saved activations in a local file")
    path = Path(path)
    if not path.exists():
        raise FormatError(f"path {str(path)!r}: found no such file; expected saved activations. Fix: check the path.")
    check_regular_file(path, expected="saved activations (a .npy, .npz or HDF5 file)")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arrays = {path.stem: _lazy(np.load(path, mmap_mode="r"))}
        except ValueError as err:
            raise FormatError(f"file {str(path)!r}: not a readable .npy ({err}); it may be truncated.") from err
        arrays = _pick(arrays, layers, path)
    elif suffix == ".npz":
        arrays = _read_npz(path, layers)
        if layers is None:
            _check_all_layers(arrays, path)
    elif suffix in _HDF5:
        found = _pick(_hdf5_datasets(path), layers, path)
        if layers is None:
            _check_all_layers(found, path)
        arrays = {name: _lazy(ds) for name, ds in found.items()}
    else:
        raise FormatError(
            f"path {str(path)!r}: found suffix {suffix!r}; expected .npy, .npz, .h5 or .hdf5. "
            "Fix: save activations with numpy (np.save/np.savez) or h5py."
        )
    ds = from_activations(arrays, stimulus=stimulus, spatial=spatial, stimuli=stimuli, model=model or path.name)
    ds.encoding[INPUTS_KEY] = [str(path.resolve())]  # provenance: results name the file (and its sha256)
    return ds
