"""``neurosuper spectrum``, the spectrum step of the main job (:mod:`neurosuper.pipeline.spectrum`) and the
spectral figures."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper import cli, pipeline
from neurosuper import spectral as sp
from neurosuper._numbers import rounded
from neurosuper.pipeline import Context, run_steps


def _main(argv):
    """Run the command through the real entry point: exit 2 and a one-line reason, in command-line wording
    (flags, not Python arguments), on stderr."""
    return cli.main(argv)


@pytest.fixture
def saved(tmp_path, rng):
    n, p = 200, 160  # 80 units per layer: the default ranks 11..20 in each (MIN_FIT_RANKS = 10 ranks)
    signal = rng.standard_normal((n, p)) * np.arange(1, p + 1) ** -0.5
    x = signal[None] + 0.3 * rng.standard_normal((2, n, p))
    ds = ns.from_array(x, system="brain", measure="dff", layer=("unit", ["a"] * 80 + ["b"] * 80))
    path = ns.save(ds, tmp_path / "set.nc")
    return ds, path


def test_spectrum_json_keys_and_values(saved, capsys):
    ds, path = saved
    argv = ["spectrum", str(path), "--method", "cvpca", "--json", "--n-boot", "10", "--groupby", "none"]
    assert _main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"alpha", "alpha_ci", "ranks", "r2", "participation_ratio", "method", "n_stimuli", "n_units"}
    spec = sp.eigenspectrum(ds, method="cvpca", n_boot=10, groupby=None, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.NeurosuperWarning)  # a good fit over the default ranks 11..40: no warning
        fit = sp.powerlaw(spec)
    assert fit.attrs["ranks"] == [11, 40]
    assert out["alpha"] == pytest.approx(fit["alpha"].item(), rel=1e-3)  # 4 significant digits
    assert out["alpha_ci"] == pytest.approx(fit["alpha_ci"].values.tolist(), rel=1e-3)
    assert out["ranks"] == fit.attrs["ranks"] and out["method"] == "cvpca"
    assert out["participation_ratio"] == pytest.approx(sp.participation_ratio(spec).item(), rel=1e-3)
    assert out["n_stimuli"] == 200 and out["n_units"] == 160


def test_spectrum_text_groups_out_and_figure(saved, tmp_path, capsys):
    _, path = saved
    out_file, png = tmp_path / "res.nc", tmp_path / "fig.png"
    code = _main(
        [
            "spectrum",
            str(path),
            "--method",
            "pca",
            "--n-boot",
            "0",
            "--groupby",
            "layer",
            "--out",
            str(out_file),
            "--figure",
            str(png),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "a: alpha =" in text and "b: alpha =" in text and "participation ratio" in text
    res = xr.open_dataset(out_file, engine="h5netcdf").load()
    assert res["alpha"].dims == ("layer",) and "variance" in res
    assert png.stat().st_size > 1000 and not list(tmp_path.glob(".*tmp*"))


def test_spectrum_bad_input_exits_2(tmp_path, rng, capsys):
    path = ns.save(ns.from_array(rng.standard_normal((50, 20)), system="brain", measure="dff"), tmp_path / "x.nc")
    assert _main(["spectrum", str(path), "--method", "cvpca", "--json"]) == 2
    captured = capsys.readouterr()
    assert "at least two valid repeats" in captured.err and captured.out == ""


def test_cli_module_registered_in_main_parser(saved, capsys):
    """``neurosuper spectrum`` through the real entry point."""
    assert "spectrum" in cli.COMMANDS
    _, path = saved
    assert cli.main(["spectrum", str(path), "--json", "--n-boot", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "cvpca"


def test_demo_step_writes_results_and_summary(tmp_path, rng):
    signal = rng.standard_normal((150, 80)) * np.arange(1, 81) ** -0.5
    brain = ns.from_array(signal + 0.1 * rng.standard_normal((2, 150, 80)), system="brain", measure="spike_count")
    net = ns.from_array(  # 60 units per layer: too few for ranks 11.. (N // 4 = 15), the leading ranks 1..15
        rng.standard_normal((150, 120)) * np.arange(1, 121) ** -0.7,
        system="network",
        measure="activation",
        layer=("unit", ["l1"] * 60 + ["l2"] * 60),
    )
    ctx = Context(out=tmp_path, data={"brain": brain, "network": net}, progress=False)
    (result,) = run_steps(ctx, [pipeline.spectrum.STEP])
    assert result.status == "ran", result.reason
    s = ctx.summary["spectrum"]
    assert result.summary == s and result.settings == {"n_boot": 20}  # the step's reduced default
    assert s["brain"]["method"] == "cvpca" and np.isfinite(s["brain"]["alpha"])
    assert set(s["network"]["alpha_per_layer"]) == {"l1", "l2"}
    with pytest.warns(ns.NeurosuperWarning, match="fitted the leading ranks 1..15"):  # 60 units: too few for 11..
        direct = sp.powerlaw(sp.eigenspectrum(net, groupby="layer", progress=False))
    assert s["network"]["alpha_per_layer"]["l1"] == rounded(direct["alpha"].sel(layer="l1").item())  # 4 digits
    figures = [f.name for f in result.figures]
    assert figures == ["spectrum.png"] and result.figures[0].caption  # no trajectory: not the demo's own sets
    for name in s["brain"]["files"] + s["network"]["files"] + figures:
        assert (tmp_path / name).stat().st_size > 0
    assert result.files == s["brain"]["files"] + s["network"]["files"]
    assert set(result.results["network"]) == {"spectrum", "powerlaw", "powerlaw_per_layer"}
    json.dumps(s)  # JSON-safe


def test_plots_draw_fit_range_and_bound(rng):
    pytest.importorskip("matplotlib")
    from neurosuper.plot.spectral import plot_spectrum, plot_trajectory

    ds = ns.from_array(rng.standard_normal((300, 80)) * np.arange(1, 81) ** -0.5, system="brain", measure="dff")
    spec = sp.eigenspectrum(ds, n_boot=5, progress=False)
    fit = sp.powerlaw(spec, ranks=(11, 80))  # the range this test was written for (the default: 11..20)
    fig = plot_spectrum(spec, fit, d=4)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("α = ") for label in labels) and any("1 + 2/d = 1.50" in lab for lab in labels)
    assert any("fit ranks 11–80" in lab for lab in labels)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    # the dashed fit line is e^b n^-alpha
    line = next(li for li in ax.get_lines() if li.get_linestyle() == "--")
    n, y = line.get_data()
    np.testing.assert_allclose(y, np.exp(fit["intercept"].item()) * n ** -fit["alpha"].item())
    traj = plot_trajectory({"α = 4": sp.random_projection(sp.circle_population(4.0, 200, 40), order="angle")})
    assert len(traj.axes) == 1 and "E = " in traj.axes[0].get_title()


# ------------------------------------------------------------------------------------ issue 9/10 behaviour
def test_three_units_prints_spectrum_and_participation_ratio(tmp_path, rng, capsys):
    three = ns.from_array(rng.standard_normal((40, 3)) * [3.0, 1.5, 0.5], system="brain", measure="dff")
    path = ns.save(three, tmp_path / "three.nc")
    assert _main(["spectrum", str(path), "--n-boot", "0"]) == 0
    text = capsys.readouterr().out
    assert "alpha: not fittable" in text and "participation ratio = " in text and "variance by rank: 1: " in text
    assert "ranks=(" not in text and "--ranks 1 3" not in text  # no advice that fails again
    assert _main(["spectrum", str(path), "--n-boot", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    spec = sp.eigenspectrum(three, progress=False)
    assert out["alpha"] is None and out["alpha_status"].startswith("not fittable")
    assert out["variance"] == pytest.approx(spec["variance"].values.tolist(), rel=1e-3)
    assert out["participation_ratio"] == pytest.approx(sp.participation_ratio(spec).item(), rel=1e-3)


def test_ranks_flag_and_advice_in_flags(saved, tmp_path, rng, capsys):
    ds, path = saved
    argv = ["spectrum", str(path), "--method", "pca", "--n-boot", "0", "--ranks", "2", "12", "--groupby", "none"]
    assert _main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ranks"] == [2, 12]
    whole = sp.eigenspectrum(ds, method="pca", groupby=None, progress=False)
    assert out["alpha"] == pytest.approx(sp.powerlaw(whole, ranks=(2, 12))["alpha"].item(), rel=1e-3)
    assert _main([*argv[:-2], "--json"]) == 0  # the default is --groupby auto, as in Python: one alpha per layer
    assert set(json.loads(capsys.readouterr().out)["alpha"]) == {"a", "b"}
    small = ns.save(ns.from_array(rng.standard_normal((60, 40)), system="brain", measure="dff"), tmp_path / "s.nc")
    assert _main(["spectrum", str(small), "--n-boot", "0", "--ranks", "35", "500"]) == 0  # N = 40: 35..40, 6 ranks
    captured = capsys.readouterr()
    assert "not fittable" in captured.out and "expected at least 10" in captured.out
    assert "--ranks 1 10" in captured.out and "omit --ranks" in captured.out and "ranks=(" not in captured.out
    assert _main(["spectrum", str(small), "--n-boot", "0", "--ranks", "5", "3"]) == 2
    err = capsys.readouterr().err
    assert "--ranks 11 100" in err and "ranks=(" not in err


def test_cli_errors_name_flags(tmp_path, rng, capsys):
    path = ns.save(ns.from_array(rng.standard_normal((50, 20)), system="brain", measure="dff"), tmp_path / "x.nc")
    assert _main(["spectrum", str(path), "--method", "cvpca"]) == 2
    msg = capsys.readouterr().err
    assert "--method pca" in msg and "method='pca'" not in msg


def test_outputs_checked_before_computing(saved, tmp_path, capsys, monkeypatch):
    _, path = saved

    def boom(*a, **k):
        raise AssertionError("computed before checking the outputs")

    monkeypatch.setattr(sp, "eigenspectrum", boom)
    assert _main(["spectrum", str(path), "--figure", str(tmp_path / "f.xyz")]) == 2
    msg = capsys.readouterr().err
    assert "suffix '.xyz'" in msg and ".png" in msg and len(msg.strip().splitlines()) == 1
    taken = tmp_path / "taken.nc"
    taken.write_text("x")
    assert _main(["spectrum", str(path), "--out", str(taken)]) == 2
    assert "--overwrite" in capsys.readouterr().err and taken.read_text() == "x"
    assert _main(["spectrum", str(path), "--out", str(tmp_path / "r.txt")]) == 2
    assert "suffix '.txt'" in capsys.readouterr().err
    (tmp_path / "fig.png").write_text("x")
    assert _main(["spectrum", str(path), "--figure", str(tmp_path / "fig.png")]) == 2
    assert "--overwrite" in capsys.readouterr().err and (tmp_path / "fig.png").read_text() == "x"


@pytest.mark.parametrize("flag", ["--out", "--figure"])
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_output_equal_to_the_input_is_refused(saved, capsys, monkeypatch, flag, overwrite):
    """--out/--figure naming the input file is refused (exit 2) before computing, --overwrite or not; the input
    is left byte for byte."""
    _, path = saved
    before = path.read_bytes()

    def boom(*a, **k):
        raise AssertionError("computed before checking the outputs")

    monkeypatch.setattr(sp, "eigenspectrum", boom)
    assert _main(["spectrum", str(path), flag, str(path), *overwrite]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and "input" in err and "Traceback" not in err, err
    assert path.read_bytes() == before


def test_figure_overwrite_and_out(saved, tmp_path, capsys):
    _, path = saved
    png, res = tmp_path / "fig.png", tmp_path / "res.nc"
    assert _main(["spectrum", str(path), "--n-boot", "0", "--figure", str(png), "--out", str(res), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["figure"] == str(png) and out["result"] == str(res) and png.stat().st_size > 1000
    first = res.read_bytes()
    assert _main(["spectrum", str(path), "--n-boot", "0", "--figure", str(png), "--out", str(res)]) == 2
    assert "--overwrite" in capsys.readouterr().err and res.read_bytes() == first
    assert _main(["spectrum", str(path), "--n-boot", "0", "--figure", str(png), "--out", str(res), "--overwrite"]) == 0
    capsys.readouterr()
    old = tmp_path / "old.png"
    with pytest.raises(SystemExit) as exit_:  # --plot is gone: --figure, as in every command
        _main(["spectrum", str(path), "--n-boot", "0", "--plot", str(old)])
    assert exit_.value.code == 2 and "unrecognized arguments: --plot" in capsys.readouterr().err
    assert not old.exists()
    back = xr.open_dataset(res, engine="h5netcdf").load()
    assert {"variance", "alpha", "r2"} <= set(back.data_vars)


def test_inf_in_a_file_exits_2_with_one_line(tmp_path, rng, capsys):
    import h5py

    path = ns.save(ns.from_array(rng.standard_normal((2, 40, 12)), system="brain", measure="dff"), tmp_path / "i.nc")
    with h5py.File(path, "r+") as f:  # edited after saving
        f["responses"][0, 3, 5] = np.inf
    assert cli.main(["spectrum", str(path), "--n-boot", "0"]) == 2  # a LinAlgError would propagate here
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurosuper: error:") and "inf" in lines[0], err


def test_demo_step_records_generating_alpha_over_the_same_ranks(tmp_path, rng):
    n, p = 240, 80
    signal = rng.standard_normal((n, p)) * np.arange(1, p + 1) ** -0.5
    brain = ns.from_array(signal + 0.3 * rng.standard_normal((2, n, p)), system="brain", measure="dff")
    true = sp.eigenspectrum(ns.from_array(signal, system="brain", measure="dff"), method="pca", progress=False)
    brain["true_spectrum"] = true["variance"]
    brain.attrs.update(alpha_true=0.5, alpha_ranks=[11, 500])
    net = ns.from_array(signal[:, :30], system="network", measure="activation")
    ctx = Context(out=tmp_path, data={"brain": brain, "network": net}, progress=False)
    ctx.settings["spectrum"] = {"n_boot": 3}
    (result,) = run_steps(ctx, [pipeline.spectrum.STEP])
    assert ctx.summary["spectrum"]["settings"] == result.settings == {"n_boot": 3}
    assert set(ctx.results["spectrum"]) == set(result.results) == {"brain", "network"}
    entry = ctx.summary["spectrum"]["brain"]
    ranks = entry["ranks"]
    assert entry["alpha_true_ranks"] == ranks and entry["alpha_true_as_generated"]["alpha"] == 0.5
    expected = sp.powerlaw(true, ranks=tuple(ranks))["alpha"].item()
    assert entry["alpha_true"] == rounded(expected)  # the one rounding rule of summaries
    assert (tmp_path / "spectrum.png").stat().st_size > 1000


def test_demo_step_refuses_an_unknown_setting(tmp_path, saved):
    """A misspelt setting raises before anything is computed, naming it and the names the step reads."""
    ds, _ = saved
    ctx = Context(out=tmp_path, data={"brain": ds}, set_names=("brain",), progress=False)
    ctx.settings["spectrum"] = {"nboot": 5}
    with pytest.raises(ns.errors.AnalysisError, match="'nboot'.*n_boot"):
        run_steps(ctx, [pipeline.spectrum.STEP])
    assert "spectrum" not in ctx.summary and not (tmp_path / "spectrum.png").exists()
