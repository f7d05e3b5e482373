"""``neurosuper capacity FILE`` and the capacity step of ``neurosuper demo``."""

from __future__ import annotations

import json

import numpy as np

import neurosuper as ns
from neurosuper.cli import main
from neurosuper.cli.demo import DemoContext


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


def test_demo_step(tmp_path):
    from neurosuper.cli import capacity as cli_capacity

    rng = np.random.default_rng(1)
    brain = ns.from_array(rng.poisson(2.0, (2, 120, 20)).astype(float), system="brain", measure="spike_count")
    network = ns.from_array(
        rng.standard_normal((120, 12)), system="network", measure="activation", layer=("unit", ["l1"] * 6 + ["l2"] * 6)
    )
    ctx = DemoContext(out=tmp_path, brain=brain, network=network, progress=False)
    cli_capacity.demo(ctx)
    s = ctx.summary["capacity"]
    json.dumps(s)
    assert s["brain"]["n_directions"] == 40 and s["brain"]["n_dims"] == 20
    assert set(s["network"]["groups"]) == {"l1", "l2"}
    assert "pentagon" not in s  # the toy model is the toy step's
    for name in ("capacity_brain.nc", "capacity_brain.png", "capacity_network.png"):
        assert (tmp_path / name).exists()
    assert set(s["captions"]) == {"capacity_brain.png", "capacity_network.png"}


def test_demo_step_reads_settings_and_records_warnings(tmp_path):
    """The report's reduced settings come from ctx.settings; the analysis' warnings are kept, not silenced."""
    from neurosuper.cli import capacity as cli_capacity

    rng = np.random.default_rng(2)
    brain = ns.from_array(rng.poisson(20.0, (2, 150, 24)).astype(float), system="brain", measure="spike_count")
    ctx = DemoContext(out=tmp_path, data={"brain": brain}, set_names=("brain",), progress=False)
    ctx.settings["capacity"] = {"max_units": 10, "center": False}
    cli_capacity.demo(ctx)
    entry = ctx.summary["capacity"]["brain"]
    assert entry["n_units_used"] == 10 and entry["n_dims"] == 10 and entry["n_directions"] == 20
    assert ctx.summary["capacity"]["settings"]["center"] is False
    assert any("mean response holds" in w for w in entry["warnings"])  # uncentred counts: the mean dominates
