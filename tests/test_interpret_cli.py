"""`neurosuper interpret`, the demo step and the interpretability figures."""

from __future__ import annotations

import argparse
import json

import matplotlib
import numpy as np
import pytest

import neurosuper as ns
from neurosuper.cli import interpret as cli_interpret
from neurosuper.cli.demo import DemoContext
from neurosuper.interpret import interpretability_index
from neurosuper.plot.interpret import plot_ii, plot_mei_grid

matplotlib.use("Agg")


def _patches(seed: int = 0, n: int = 120, units: int = 12):
    """Grey patches (stimulus, y, x); unit 0 prefers bright-left / dark-right patches."""
    rng = np.random.default_rng(seed)
    imgs = rng.standard_normal((n, 10, 10))
    contrast = imgs[:, :, :5].mean(axis=(1, 2)) - imgs[:, :, 5:].mean(axis=(1, 2))
    R = np.abs(rng.standard_normal((n, units)))
    R[:, 0] = np.exp(3 * contrast)
    return ns.from_array(R, system="brain", measure="spike_rate", stimuli=imgs,
                         area=("unit", ["V1"] * 8 + ["V4"] * (units - 8)))


def _run(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_interpret.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_interpret_json_result_and_figure(tmp_path, capsys):
    ds = _patches()
    ns.save(ds, tmp_path / "set.nc")
    code = _run(["interpret", str(tmp_path / "set.nc"), "--similarity", "pixels", "--json",
                 "--out", str(tmp_path / "ii.nc"), "--figure", str(tmp_path / "ii.png")])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    expected = interpretability_index(ds, similarity="pixels", null="random_stimuli", progress=False)
    assert summary["similarity"] == "pixels" and summary["n_units"] == 12
    assert summary["mean_ii"] == pytest.approx(float(expected["ii"].mean()), abs=1e-4)
    assert summary["by_area"]["V4"]["n"] == 4
    assert summary["by_area"]["V1"]["mean"] == pytest.approx(float(expected["ii_z"][:8].mean()), abs=1e-4)
    saved = ns.load(tmp_path / "ii.nc", validate_set=False)
    np.testing.assert_array_equal(saved["mei"].values, expected["mei"].values)
    assert (tmp_path / "ii.png").stat().st_size > 1000
    _run(["interpret", str(tmp_path / "set.nc"), "--null", "none", "--k", "3"])
    text = capsys.readouterr().out
    assert "similarity gabor (auto), k=3" in text or "similarity lpips (auto), k=3" in text


def test_demo_step_writes_results_and_summary(tmp_path):
    brain = _patches(1)
    network = ns.from_array(np.random.default_rng(2).random((30, 5)), system="network", measure="activation")
    ctx = DemoContext(out=tmp_path, brain=brain, network=network, progress=False)
    cli_interpret.demo(ctx)
    s = ctx.summary["interpret"]
    saved = ns.load(tmp_path / s["brain"]["result"], validate_set=False)
    assert s["brain"]["mean_ii"] == pytest.approx(float(saved["ii"].mean()), abs=1e-4)
    assert saved.attrs["similarity"] in ("gabor", "lpips") and saved.attrs["similarity_auto"] is True
    for key in ("figure", "mei_grid"):
        assert (tmp_path / s["brain"][key]).stat().st_size > 1000
    assert 0.0 <= s["brain"]["mean_2afc_accuracy"] <= 1.0
    assert "no 'stimuli' variable" in s["network"]["skipped"]
    json.dumps(ctx.summary)


def test_plot_ii_draws_every_unit_per_group():
    res = interpretability_index(_patches(), similarity="pixels", null="random_stimuli", progress=False)
    fig = plot_ii(res)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["V1", "V4"]
    points = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets()) and
                             c.get_offsets().shape[0] in (8, 4)])
    np.testing.assert_allclose(np.sort(points), np.sort(res["ii_z"].values))
    assert ax.get_ylabel() == "II z-score vs null"
    raw = plot_ii(res, var="ii", by=None)
    assert [t.get_text() for t in raw.axes[0].get_xticklabels()] == ["all", "null"]


def test_mei_grid_shows_each_units_meis():
    ds = _patches()
    res = interpretability_index(ds, similarity="pixels", k=4, progress=False)
    fig = plot_mei_grid(ds, res, units=[0, 3])
    assert len(fig.axes) == 8
    for r, unit in enumerate([0, 3]):
        for c in range(4):
            shown = fig.axes[r * 4 + c].images[0].get_array()
            expected = ds["stimuli"].sel(stimulus=res["mei"].values[unit, c]).values
            np.testing.assert_allclose(np.asarray(shown), expected)
    default = plot_mei_grid(ds, res, n_units=3)
    assert len(default.axes) == 12
    assert default.axes[0].get_ylabel().startswith(f"{int(np.nanargmax(res['ii'].values))}\n")
