"""Saved activations (.npy, .npz, HDF5) → ResponseSet, lazily where the format allows."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurosuper.errors import FormatError
from neurosuper.io.files import load_activations


@pytest.fixture
def acts(rng):
    return {
        "conv1": rng.standard_normal((30, 4, 5, 5)).astype(np.float32),
        "fc": rng.standard_normal((30, 7)).astype(np.float32),
    }


def test_npy_is_lazy_and_exact(tmp_path, acts):
    np.save(tmp_path / "fc.npy", acts["fc"])
    ds = load_activations(tmp_path / "fc.npy")
    assert hasattr(ds["responses"].data, "dask")
    np.testing.assert_array_equal(ds["responses"].values, acts["fc"])
    assert set(ds["layer"].values) == {"fc"} and ds.attrs["model"] == "fc.npy"


def test_npz_layers_and_spatial_mean(tmp_path, acts):
    np.savez(tmp_path / "a.npz", **acts)
    ds = load_activations(tmp_path / "a.npz", stimulus=[f"s{i}" for i in range(30)])
    conv = ds["responses"].sel(unit=ds["layer"] == "conv1").values
    np.testing.assert_allclose(conv, acts["conv1"].mean(axis=(2, 3)), rtol=1e-6)
    np.testing.assert_array_equal(ds["responses"].sel(unit=ds["layer"] == "fc").values, acts["fc"])
    only = load_activations(tmp_path / "a.npz", layers=["fc"])
    assert only.sizes["unit"] == 7


def test_hdf5_nested_datasets_are_lazy(tmp_path, acts):
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["block1/conv1"] = acts["conv1"]
        f["fc"] = acts["fc"]
    ds = load_activations(tmp_path / "a.h5", spatial="max")
    assert hasattr(ds["responses"].data, "dask")
    conv = ds["responses"].sel(unit=ds["layer"] == "block1/conv1").values
    np.testing.assert_allclose(conv, acts["conv1"].max(axis=(2, 3)))


def test_bad_files(tmp_path, acts):
    np.savez(tmp_path / "a.npz", **acts)
    with pytest.raises(FormatError, match=r"unknown names \['fc2'\].*\['conv1', 'fc'\]"):
        load_activations(tmp_path / "a.npz", layers=["fc2"])
    (tmp_path / "a.csv").write_text("1,2")
    with pytest.raises(FormatError, match="suffix '.csv'"):
        load_activations(tmp_path / "a.csv")
    with pytest.raises(FormatError, match="no such file"):
        load_activations(tmp_path / "none.npy")
    np.save(tmp_path / "cut.npy", acts["fc"])
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="truncated"):
        load_activations(tmp_path / "cut.npy")
    (tmp_path / "bad.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(FormatError, match="HDF5"):
        load_activations(tmp_path / "bad.h5")
