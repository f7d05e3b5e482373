"""`neurosuper interpret`, the interpret step of the main job (:mod:`neurosuper.pipeline.interpret`) and the
interpretability figures."""

from __future__ import annotations

import argparse
import json

import matplotlib
import numpy as np
import pytest

import neurosuper as ns
from neurosuper import pipeline
from neurosuper._numbers import rounded
from neurosuper.cli import interpret as cli_interpret
from neurosuper.interpret import interpretability_index
from neurosuper.pipeline import Context, run_steps
from neurosuper.plot.interpret import plot_ii, plot_mei_grid

matplotlib.use("Agg")


def _patches(seed: int = 0, n: int = 120, units: int = 12):
    """Grey 32 x 32 patches (stimulus, y, x) — large enough for gabor; unit 0 prefers bright-left / dark-right."""
    rng = np.random.default_rng(seed)
    imgs = rng.standard_normal((n, 32, 32))
    contrast = imgs[:, :, :16].mean(axis=(1, 2)) - imgs[:, :, 16:].mean(axis=(1, 2))
    R = np.abs(rng.standard_normal((n, units)))
    R[:, 0] = np.exp(3 * contrast)
    return ns.from_array(
        R, system="brain", measure="spike_rate", stimuli=imgs, area=("unit", ["V1"] * 8 + ["V4"] * (units - 8))
    )


def _run(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_interpret.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_interpret_json_result_and_figure(tmp_path, capsys):
    ds = _patches()
    ns.save(ds, tmp_path / "set.nc")
    code = _run(
        [
            "interpret",
            str(tmp_path / "set.nc"),
            "--similarity",
            "pixels",
            "--json",
            "--out",
            str(tmp_path / "ii.nc"),
            "--figure",
            str(tmp_path / "ii.png"),
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    expected = interpretability_index(ds, similarity="pixels", null="random_stimuli", progress=False)
    assert summary["similarity"] == "pixels" and summary["n_units"] == 12
    assert summary["mean_ii"] == rounded(float(expected["ii"].mean()))  # the one rounding rule of summaries
    assert summary["by_area"]["V4"]["n"] == 4
    assert summary["by_area"]["V1"]["mean"] == rounded(float(expected["ii_z"][:8].mean()))
    saved = ns.load(tmp_path / "ii.nc", validate_set=False)
    np.testing.assert_array_equal(saved["mei"].values, expected["mei"].values)
    assert (tmp_path / "ii.png").stat().st_size > 1000
    _run(["interpret", str(tmp_path / "set.nc"), "--null", "none", "--k", "3"])
    text = capsys.readouterr().out
    assert "similarity gabor (auto), k=3" in text or "similarity lpips (auto), k=3" in text


def test_demo_step_writes_results_and_summary(tmp_path):
    brain = _patches(1)
    network = ns.from_array(np.random.default_rng(2).random((40, 5)), system="network", measure="activation")
    ctx = Context(out=tmp_path, data={"brain": brain, "network": network}, progress=False)
    (result,) = run_steps(ctx, [pipeline.interpret.STEP])
    assert result.status == "ran", result.reason
    s = ctx.summary["interpret"]
    assert result.summary == s and set(result.results) == {"brain"}  # the network has no stimuli: skipped
    saved = ns.load(tmp_path / s["brain"]["result"], validate_set=False)
    assert s["brain"]["mean_ii"] == rounded(float(saved["ii"].mean()))
    assert saved.attrs["similarity"] in ("gabor", "lpips") and saved.attrs["similarity_auto"] is True
    for key in ("figure", "mei_grid"):
        assert (tmp_path / s["brain"][key]).stat().st_size > 1000
    assert 0.0 <= s["brain"]["mean_2afc_accuracy"] <= 1.0
    assert "no 'stimuli' variable" in s["network"]["skipped"]
    assert any(w.startswith("network: ") and "no 'stimuli' variable" in w for w in result.warnings)
    assert [f.name for f in result.figures] == ["interpret_brain_meis.png", "interpret_ii.png"]
    assert all(f.caption and f.path.stat().st_size > 1000 for f in result.figures)
    json.dumps(ctx.summary)


def test_plot_ii_draws_every_unit_per_group():
    res = interpretability_index(_patches(), similarity="pixels", null="random_stimuli", progress=False)
    fig = plot_ii(res)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["V1", "V4"]
    points = np.concatenate(
        [c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets()) and c.get_offsets().shape[0] in (8, 4)]
    )
    np.testing.assert_allclose(np.sort(points), np.sort(res["ii_z"].values))
    assert ax.get_ylabel() == "II z-score vs null"
    raw = plot_ii(res, var="ii", groupby=None)
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


# --------------------------------------------------------------------------------------------- issue 9 names
def test_python_and_cli_defaults_agree():
    import inspect

    parser = argparse.ArgumentParser()
    cli_interpret.register(parser.add_subparsers())
    args = parser.parse_args(["interpret", "x.nc"])
    params = inspect.signature(interpretability_index).parameters
    assert params["null"].default == args.null == "random_stimuli"
    assert params["k"].default == args.k and params["similarity"].default == args.similarity
    assert params["which"].default == args.which and params["duplicates"].default == args.duplicates
    assert args.groupby == inspect.signature(ns.interpret.summary).parameters["groupby"].default == "auto"


def test_cli_checks_out_and_figure_before_computing(tmp_path, monkeypatch, capsys):
    from neurosuper.cli import main

    ds = _patches()
    ns.save(ds, tmp_path / "set.nc")
    (tmp_path / "ii.nc").write_text("old")

    def boom(*args, **kwargs):
        raise AssertionError("computed before checking the outputs")

    monkeypatch.setattr(ns.interpret, "interpretability_index", boom)
    assert main(["interpret", str(tmp_path / "set.nc"), "--out", str(tmp_path / "ii.nc")]) == 2
    assert "ii.nc" in capsys.readouterr().err and (tmp_path / "ii.nc").read_text() == "old"
    assert main(["interpret", str(tmp_path / "set.nc"), "--figure", str(tmp_path / "ii.xyz")]) == 2
    err = capsys.readouterr().err
    assert "suffix '.xyz'" in err and "Fix: --figure" in err and "Traceback" not in err
    assert main(["interpret", str(tmp_path / "set.nc"), "--out", str(tmp_path / "nofolder" / "ii.nc")]) == 2
    assert not list(tmp_path.glob(".*"))  # nothing half-written
    monkeypatch.undo()
    assert (
        main(
            [
                "interpret",
                str(tmp_path / "set.nc"),
                "--out",
                str(tmp_path / "ii2.nc"),
                "--similarity",
                "pixels",
                "--json",
                "--groupby",
                "none",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert "by_area" not in out and out["result"].endswith("ii2.nc")
    assert ns.load(tmp_path / "ii2.nc", validate_set=False).attrs["analysis"] == "interpretability_index"
    assert (
        main(
            [
                "interpret",
                str(tmp_path / "set.nc"),
                "--out",
                str(tmp_path / "ii2.nc"),
                "--overwrite",
                "--similarity",
                "pixels",
                "--groupby",
                "area",
            ]
        )
        == 0
    )
    assert "area V4: mean ii_z" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--out", "--figure"])
def test_cli_output_equal_to_the_input_is_refused(tmp_path, monkeypatch, capsys, flag):
    """--out/--figure naming the input file is refused (exit 2) before computing, --overwrite or not; the input is
    left byte for byte."""
    from neurosuper.cli import main

    path = ns.save(_patches(), tmp_path / "set.nc")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise AssertionError("computed before checking the outputs")

    monkeypatch.setattr(ns.interpret, "interpretability_index", boom)
    for overwrite in ([], ["--overwrite"]):
        assert main(["interpret", str(path), flag, str(path), *overwrite]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and flag in err and "input" in err and "Traceback" not in err, err
        assert path.read_bytes() == before


def test_summary_is_json_safe_rounded_and_stamped():
    ds = _patches()
    res = interpretability_index(ds, similarity="pixels", progress=False)
    assert res.attrs["neurosuper_version"] == ns.__version__ and res.attrs["analysis"] == "interpretability_index"
    options = json.loads(res.attrs["options"])
    assert options["null"] == "random_stimuli" and options["k"] == 5 and options["similarity"] == "pixels"
    s = ns.interpret.summary(res)
    json.dumps(s, allow_nan=False)
    assert s["mean_ii"] == rounded(float(res["ii"].mean()))
    assert s["n_units_significant"] == int(res["ii_significant"].sum())
    assert s["p_population"] == rounded(float(res["p_population"])) and "p_above_chance" not in s
    assert set(s["by_area"]) == {"V1", "V4"} and s["grouped_variable"] == "ii_z"
    assert "by_area" not in ns.interpret.summary(res, groupby=None)
    for other in (
        ns.interpret.psychophysics_2afc(ds, similarity="pixels", n_references=3, progress=False),
        ns.interpret.selectivity(ds),
    ):
        assert other.attrs["neurosuper_version"] == ns.__version__ and "options" in other.attrs
        json.dumps(ns.interpret.summary(other), allow_nan=False)


def test_groupby_is_the_one_name_for_grouping():
    res = interpretability_index(_patches(), similarity="pixels", progress=False)
    with pytest.raises(TypeError):
        ns.interpret.group_stats(res, by=None)  # no alias: groupby= is the name
    assert list(ns.interpret.group_stats(res, groupby=None)["group"].values) == ["all"]
    assert list(ns.interpret.group_stats(res, groupby="area")["group"].values) == ["V1", "V4"]
    with pytest.raises(TypeError):
        plot_ii(res, by=None)
    fig = plot_ii(res, groupby=None)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["all"]


def test_demo_figure_puts_brain_and_network_on_one_axis(tmp_path):
    brain = _patches(1)
    network = _patches(2).assign_coords(layer=("unit", ["h1"] * 6 + ["h2"] * 6)).drop_vars("area")
    network.attrs["system"] = "network"
    ctx = Context(out=tmp_path, data={"brain": brain, "network": network}, progress=False)
    (result,) = run_steps(ctx, [pipeline.interpret.STEP])
    s = ctx.summary["interpret"]
    assert result.status == "ran" and [f.name for f in result.figures].count("interpret_ii.png") == 1
    assert s["brain"]["figure"] == s["network"]["figure"] == "interpret_ii.png"
    rb = ns.load(tmp_path / s["brain"]["result"], validate_set=False)
    rn = ns.load(tmp_path / s["network"]["result"], validate_set=False)
    fig = plot_ii({"brain": rb, "network": rn})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["brain\nV1", "brain\nV4", "network\nh1", "network\nh2"]
    sim = rb.attrs["similarity"]
    assert ax.get_title() == f"II z vs random_stimuli null per system and group ({sim}, k=5)"
    assert len(fig.axes) == 1
    grid = plot_mei_grid(brain, rb, n_units=2)
    assert f"({sim}, k=5)" in grid._suptitle.get_text()
