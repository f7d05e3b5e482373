"""Result files name their inputs without revealing where they live (issue 23 §4): by their path relative to the
result's folder when below it, else by name, with their sha256; absolute paths only with ``full_paths=True`` /
``--full-paths``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _format_helpers import make_set

import neurosuper as ns
from neurosuper._provenance import file_sha256
from neurosuper.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "in.nc"
    ns.save(make_set(np.random.default_rng(0).normal(size=(60, 20))), path)
    return path, ns.load(path)


def _inputs(path) -> list[dict]:
    return ns.load(path, validate_set=False).attrs["inputs"]


def test_inputs_are_named_relative_to_the_result_or_by_name(tmp_path, loaded):
    source, ds = loaded
    spec = ns.spectral.eigenspectrum(ds, n_boot=0, progress=False)
    (tmp_path / "out").mkdir()
    ns.save_result(spec, tmp_path / "res.nc")
    ns.save_result(spec, tmp_path / "out" / "res.nc")
    ns.save_result(spec, tmp_path / "out" / "full.nc", full_paths=True)
    sha = file_sha256(source)
    assert _inputs(tmp_path / "res.nc") == [{"path": "data/in.nc", "size": source.stat().st_size, "sha256": sha}]
    assert _inputs(tmp_path / "out" / "res.nc")[0]["path"] == "in.nc"
    assert _inputs(tmp_path / "out" / "full.nc")[0]["path"] == str(source.resolve())
    assert spec.attrs["inputs"][0]["path"] == str(source.resolve())  # the object given is not changed


def test_absolute_attrs_of_a_result_become_names(tmp_path):
    res = ns.spectral.eigenspectrum(make_set(np.random.default_rng(1).normal(size=(40, 10))), progress=False)
    res.attrs["source"] = str(tmp_path / "private" / "model.pt")
    res["variance"].attrs["nwb_file"] = "/home/someone/session.nwb"
    out = ns.load(ns.save_result(res, tmp_path / "r.nc"), validate_set=False)
    assert out.attrs["source"] == "private/model.pt" and out["variance"].attrs["nwb_file"] == "session.nwb"


@pytest.mark.parametrize("full", [False, True])
def test_the_command_line_writes_no_absolute_path_unless_asked(tmp_path, loaded, full):
    source, _ = loaded
    out = tmp_path / "spec.nc"
    argv = ["spectrum", str(source), "--out", str(out), "--n-boot", "0"] + (["--full-paths"] if full else [])
    assert main(argv) == 0
    attrs = json.dumps({k: str(v) for k, v in ns.load(out, validate_set=False).attrs.items()})
    assert (str(tmp_path) in attrs) == full
    assert _inputs(out)[0]["path"] == (str(source.resolve()) if full else "data/in.nc")
