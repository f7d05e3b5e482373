"""``neurosuper capacity FILE`` and the capacity step of the main job (:mod:`neurosuper.pipeline.capacity`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import pipeline
from neurosuper.cli import main
from neurosuper.pipeline import Context, run_steps


def _set(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 6))
    ds = ns.from_array(x, system="network", measure="activation", layer=("unit", ["a"] * 3 + ["b"] * 3))
    return ns.save(ds, tmp_path / "set.nc")


def test_cli_json_out_and_figure(tmp_path, capsys):
    path = _set(tmp_path)
    code = main(
        [
            "capacity",
            str(path),
            "--method",
            "pca",
            "--json",
            "--out",
            str(tmp_path / "res.nc"),
            "--figure",
            str(tmp_path / "cap.png"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "pca" and set(out["groups"]) == {"a", "b"}
    assert out["groups"]["a"]["capacity_sum"] == 3.0 and out["groups"]["b"]["n_monosemantic"] == 3
    assert (tmp_path / "res.nc").exists() and (tmp_path / "cap.png").stat().st_size > 1000
    back = ns.load(tmp_path / "res.nc", validate_set=False)
    assert back.attrs["analysis"] == "capacity.feature_capacity"


def test_cli_text_and_bad_input(tmp_path, capsys):
    path = _set(tmp_path)
    assert main(["capacity", str(path), "--method", "units", "--groupby", "none"]) == 0
    text = capsys.readouterr().out
    assert "6 features in 6 dims" in text and "6 monosemantic" in text
    assert main(["capacity", str(path), "--tol", "0"]) == 2
    assert "tol" in capsys.readouterr().err
    assert main(["capacity", str(tmp_path / "missing.nc")]) == 2


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--figure", "cap.nope"], "suffix '.nope'"),  # a figure suffix matplotlib cannot write
        (["--out", "res.txt"], "res.txt"),  # a result suffix storage cannot write
        (["--out", "old.nc"], "add --overwrite"),  # an existing output, no --overwrite
        (["--figure", "old.png"], "add --overwrite"),
        (["--out", "set.nc", "--overwrite"], "input"),  # the input itself, whatever --overwrite says
    ],
)
def test_cli_checks_outputs_before_computing(tmp_path, capsys, monkeypatch, flags, reason):
    """Outputs are checked before the analysis runs (they used to be checked only after it): a bad --out/--figure
    fails at once, with exit 2, and nothing is computed or written."""
    import neurosuper.capacity

    path = _set(tmp_path)
    (tmp_path / "old.nc").write_bytes(b"old result")
    (tmp_path / "old.png").write_bytes(b"old figure")
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir()}
    calls = []

    def computing(*args, **kwargs):
        calls.append(args)
        raise AssertionError("feature_capacity ran before the outputs were checked")

    monkeypatch.setattr(neurosuper.capacity, "feature_capacity", computing)
    flags = [str(tmp_path / f) if f.startswith(("cap.", "res.", "old.", "set.")) else f for f in flags]
    assert main(["capacity", str(path), "--method", "pca", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and reason in err, err
    assert calls == []
    assert {f.name: f.read_bytes() for f in tmp_path.iterdir()} == before  # nothing written, nothing replaced


def test_demo_step(tmp_path):
    rng = np.random.default_rng(1)
    brain = ns.from_array(rng.poisson(2.0, (2, 120, 20)).astype(float), system="brain", measure="spike_count")
    network = ns.from_array(  # 8 units per layer: capacity's minimum (MIN_UNITS_PER_GROUP)
        rng.standard_normal((120, 16)), system="network", measure="activation", layer=("unit", ["l1"] * 8 + ["l2"] * 8)
    )
    ctx = Context(out=tmp_path, data={"brain": brain, "network": network}, progress=False)
    (result,) = run_steps(ctx, [pipeline.capacity.STEP])
    assert result.status == "ran", result.reason
    s = ctx.summary["capacity"]
    assert result.summary == s
    json.dumps(s)
    assert s["brain"]["n_directions"] == 40 and s["brain"]["n_dims"] == 20
    assert set(s["network"]["groups"]) == {"l1", "l2"}
    assert "pentagon" not in s  # the toy model is the toy step's
    for name in ("capacity_brain.nc", "capacity_brain.png", "capacity_network.png"):
        assert (tmp_path / name).exists()
    assert [f.name for f in result.figures] == ["capacity_brain.png", "capacity_network.png"]
    assert all(f.caption and f.path == tmp_path / f.name for f in result.figures)
    assert set(result.results) == {"brain", "network"}


def test_demo_step_reads_settings_and_records_warnings(tmp_path):
    """The report's reduced settings come from ctx.settings; the analysis' warnings are kept, not silenced."""
    rng = np.random.default_rng(2)
    brain = ns.from_array(rng.poisson(20.0, (2, 150, 24)).astype(float), system="brain", measure="spike_count")
    ctx = Context(out=tmp_path, data={"brain": brain}, set_names=("brain",), progress=False)
    ctx.settings["capacity"] = {"max_units": 10, "center": False}
    (result,) = run_steps(ctx, [pipeline.capacity.STEP])
    assert result.status == "ran" and result.settings["center"] is False
    entry = ctx.summary["capacity"]["brain"]
    assert entry["n_units_used"] == 10 and entry["n_dims"] == 10 and entry["n_directions"] == 20
    assert ctx.summary["capacity"]["settings"]["center"] is False
    assert any("mean response holds" in w for w in entry["warnings"])  # uncentred counts: the mean dominates
    assert any("mean response holds" in w for w in result.warnings)


def test_demo_step_refuses_an_unknown_setting(tmp_path):
    """A misspelt setting raises instead of being ignored."""
    brain = ns.from_array(np.ones((20, 4)), system="brain", measure="spike_count")
    ctx = Context(out=tmp_path, data={"brain": brain}, set_names=("brain",), progress=False)
    ctx.settings["capacity"] = {"max_unit": 10}
    with pytest.raises(ns.errors.AnalysisError, match="max_unit"):
        run_steps(ctx, [pipeline.capacity.STEP])
