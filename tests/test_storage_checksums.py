"""Values corrupted in a saved file never load silently, and valid large values always load (issue 23 §5).

Every numeric array :func:`neurosuper.save` writes carries a checksum per stored chunk (netCDF: HDF5's Fletcher-32
filter; zarr: numcodecs' CRC-32 filter), verified on every read: a byte flipped on disk is a FormatError naming the
file, eager or lazy. The lazy value guard sums each chunk in float64, so float32 values near 1e37 (whose float32 sum
overflows) are not refused as "0 NaN values"."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import neurosuper as ns
from neurosuper.errors import FormatError

SUFFIXES = (".nc", ".zarr")


def _set(values: np.ndarray):
    return ns.from_array(values, system="network", measure="activation")


def _flip(path: Path, at: float = 0.5) -> None:
    """XOR four bytes in the middle of the file (netCDF) or of the first chunk file of 'responses' (zarr)."""
    if path.suffix == ".zarr":
        folder = path / "responses"
        path = folder / sorted(n for n in os.listdir(folder) if not n.startswith("."))[0]
    offset = int(os.path.getsize(path) * at)
    with open(path, "r+b") as f:
        f.seek(offset)
        chunk = f.read(4)
        f.seek(offset)
        f.write(bytes(b ^ 0x5A for b in chunk))


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("lazy", [False, True])
def test_a_flipped_byte_is_an_error_naming_the_file(tmp_path, suffix, lazy):
    values = np.random.default_rng(0).standard_normal((400, 300)).astype(np.float32)  # 480 kB: the middle is data
    path = ns.save(_set(values), tmp_path / f"s{suffix}")
    np.testing.assert_array_equal(ns.load(path, lazy=lazy)["responses"].values, values)  # intact: reads back
    _flip(path)
    with pytest.raises(FormatError, match=rf"file '.*s{suffix}': found stored data that fail their checksum.*Fix:"):
        ns.load(path, lazy=lazy)["responses"].load()


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("repeat", [False, True])
def test_large_finite_float32_values_load_lazily(tmp_path, suffix, repeat):
    values = np.full((2, 6, 5) if repeat else (6, 5), 2e37, np.float32)  # float32 sum of a chunk: inf
    values.flat[7] = 3.4e38
    with np.errstate(over="ignore"):
        assert not np.isfinite(values.sum())
    path = ns.save(_set(values), tmp_path / f"s{suffix}")
    for lazy in (False, True):
        np.testing.assert_array_equal(ns.load(path, lazy=lazy)["responses"].values, values)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_lazy_guard_still_names_nan_and_inf_next_to_large_values(tmp_path, suffix):
    import h5py
    import zarr

    values = np.full((6, 5), 2e37, np.float32)
    path = ns.save(_set(values), tmp_path / f"s{suffix}")
    if suffix == ".nc":
        with h5py.File(path, "r+") as f:
            f["responses"][2, 3] = np.nan
    else:
        zarr.open_array(str(path / "responses"), mode="r+")[2, 3] = np.nan
    with pytest.raises(FormatError, match=r"found 1 NaN values in a set without a 'repeat' dim, in unit 3"):
        ns.load(path, lazy=True)["responses"].load()
