"""Provenance: every stamped result names its analysis, options, version and the files (with sha256) it came from."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import xarray as xr

import neurosuper as ns
from neurosuper._provenance import inputs_of, options_of, stamp


def test_a_result_on_a_loaded_set_names_the_file_and_its_sha256(tmp_path):
    ds = ns.from_array(np.random.default_rng(0).normal(size=(30, 8)), system="brain", measure="dff")
    path = ns.save(ds, tmp_path / "s.nc")
    loaded = ns.load(path)
    xr.testing.assert_identical(loaded, ds)  # the record lives in encoding: the set is unchanged
    result = stamp(
        xr.DataArray(np.zeros(3), dims="rank"),
        analysis="test",
        reference="ref",
        options={"k": 5, "ranks": (1, 3), "w": np.ones((2, 2)), "arr": np.ones((100, 2))},
        inputs_from=loaded.isel(unit=[0, 1]),
    )
    (record,) = result.attrs["inputs"]
    assert record["path"] == str(path.resolve())
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["size"] == path.stat().st_size
    assert result.attrs["neurosuper_version"] == ns.__version__ and result.attrs["analysis"] == "test"
    assert options_of(result) == {
        "arr": "<ndarray shape (100, 2)>",
        "k": 5,
        "ranks": [1, 3],
        "w": [[1.0, 1.0], [1.0, 1.0]],
    }
    json.loads(result.attrs["options"])
    back = ns.load(ns.save_result(result, tmp_path / "r.nc"), validate_set=False)
    assert inputs_of(back["result"])[0]["sha256"] == record["sha256"]  # survives a save of the result


def test_a_set_built_in_memory_has_no_inputs():
    ds = ns.from_array(np.ones((3, 2)) * np.arange(2), system="network", measure="activation")
    assert stamp(xr.Dataset(), analysis="a", reference="r", inputs_from=ds).attrs["inputs"] == []
