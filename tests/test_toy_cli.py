"""``neurosuper toy`` and the ``toy`` step of ``neurosuper demo`` (:mod:`neurosuper.pipeline.toy`; demo only: a
report on a user's sets does not run it)."""

from __future__ import annotations

import functools
import json
import re
import warnings

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import pipeline, toy
from neurosuper.cli import main
from neurosuper.errors import AnalysisError, NeurosuperWarning
from neurosuper.pipeline import DEMO_STEPS, Context, report_steps, run_steps
from neurosuper.pipeline.headline import headline

#: The pentagon as the demo trains it, as command-line flags.
PENTAGON = [
    "--n-features",
    "5",
    "--n-hidden",
    "2",
    "--density",
    "0.05",
    "--steps",
    "1500",
    "--n-seeds",
    "4",
    "--batch-size",
    "256",
    "--lr",
    "1e-2",
    "--seed",
    "0",
]


def _decode_png(path):
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return im.size


def test_cli_text_gives_the_pentagon(capsys):
    assert main(["toy", *PENTAGON]) == 0
    text = capsys.readouterr().out
    caps = [float(c) for c in re.search(r"capacity per feature: (.*)", text).group(1).split(", ")]
    assert len(caps) == 5 and np.allclose(caps, 0.4, atol=0.03)
    assert "ΣC = 2.0 (of 2 dims); 0 monosemantic, 5 polysemantic, 0 ignored" in text
    assert "5 features in 2 hidden dims, density 0.05; 1500 steps, best of 4 seeds" in text
    assert "final loss:" in text


def test_cli_json_matches_train_out_figure_and_overwrite(tmp_path, capsys):
    out, fig = tmp_path / "pent.nc", tmp_path / "pent.png"
    assert main(["toy", *PENTAGON, "--json", "--out", str(out), "--figure", str(fig)]) == 0
    got = json.loads(capsys.readouterr().out)
    direct = toy.train(5, 2, density=0.05, steps=1500, n_seeds=4, batch_size=256, lr=1e-2, seed=0, progress=False)
    expected = toy.summary(direct)
    assert {k: got[k] for k in expected} == expected  # identical numbers, not merely close
    assert got["density"] == 0.05 and "warnings" not in got
    assert np.allclose(got["capacity"], 0.4, atol=0.03) and got["n_polysemantic"] == 5
    # the saved model is the one train returns
    back = ns.load(out, validate_set=False)
    assert back.attrs["analysis"] == "toy.train"
    np.testing.assert_array_equal(back["W"].values, direct["W"].values)
    assert got["result"] == str(out) and got["figure"] == str(fig)
    assert _decode_png(fig)[0] > 200
    # an existing --out is refused before training (exit 2, one line), and left as it was
    before = out.read_bytes()
    assert main(["toy", *PENTAGON, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and err.startswith("neurosuper: error:") and "--overwrite" in err
    assert out.read_bytes() == before
    assert main(["toy", "--steps", "50", "--out", str(out), "--overwrite", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 50
    assert ns.load(out, validate_set=False).attrs["steps"] == 50


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--n-features", "0"], "--n-features"),
        (["--density", "2"], "--density"),
        (["--n-hidden", "0"], "--n-hidden"),
        (["--n-seeds", "0"], "--n-seeds"),
        (["--steps", "0"], "--steps"),
        (["--lr", "0"], "--lr"),
        (["--model", "linear", "--kurtosis", "4"], "--kurtosis"),
        (["--model", "quadratic", "--density", "0.5", "--kurtosis", "3"], "density"),
        (["--figure", "geometry.txt"], ".png"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, flag, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["toy", "--steps", "20", *argv]) == 2  # a later --steps replaces the first
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and "\n" not in err and "Traceback" not in err
    assert err.startswith("neurosuper: error:") and flag in err and "Fix:" in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_cli_importance_ratio_gives_the_square(capsys):
    """Elhage's importance 0.9**i at density 0.2: two antipodal pairs (C ≈ ½) and the least important feature
    left out."""
    argv = [*PENTAGON, "--density", "0.2", "--importance-ratio", "0.9", "--json"]
    assert main(["toy", *argv]) == 0
    got = json.loads(capsys.readouterr().out)
    direct = toy.train(
        5,
        2,
        density=0.2,
        importance=0.9 ** np.arange(5),
        steps=1500,
        n_seeds=4,
        batch_size=256,
        lr=1e-2,
        seed=0,
        progress=False,
    )
    assert got["capacity"] == toy.summary(direct)["capacity"]
    assert np.allclose(got["capacity"][:4], 0.5, atol=0.03) and got["capacity"][4] < 0.02
    assert (got["n_polysemantic"], got["n_ignored"]) == (4, 1)
    assert main(["toy", "--importance-ratio", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--importance-ratio" in err


def test_cli_three_hidden_dims_writes_the_capacity_figure(tmp_path, capsys):
    fig = tmp_path / "cap.png"
    assert (
        main(
            [
                "toy",
                "--n-features",
                "6",
                "--n-hidden",
                "3",
                "--model",
                "quadratic",
                "--kurtosis",
                "5",
                "--steps",
                "300",
                "--lr",
                "1e-2",
                "--n-seeds",
                "1",
                "--figure",
                str(fig),
                "--json",
            ]
        )
        == 0
    )
    got = json.loads(capsys.readouterr().out)
    assert got["model"] == "quadratic" and got["kurtosis"] == 5.0 and got["density"] == 0.2
    assert got["n_features"] == 6 and got["n_hidden"] == 3
    assert _decode_png(fig)[0] > 200


@pytest.mark.parametrize("old", ["--features", "--hidden", "--seeds"])
def test_cli_old_flags_are_gone(old, capsys):
    """--features/--hidden/--seeds were renamed --n-features/--n-hidden/--n-seeds (the Python names)."""
    with pytest.raises(SystemExit) as exit_:
        main(["toy", old, "3"])
    assert exit_.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_cli_defaults_are_train_defaults(capsys, monkeypatch):
    """A flag left out means what the argument left out means in Python: one seed (the command used to train 4),
    dense inputs, 10,000 steps of batch 1,024 at lr 1e-3, every feature of importance 1."""
    import inspect

    defaults = {
        name: p.default
        for name, p in inspect.signature(toy.train).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    calls = []

    def recording(*args, **kwargs):
        calls.append(dict(zip(("n_features", "n_hidden"), args, strict=True), **kwargs))
        raise AnalysisError("toy.train: stopped by the test")

    monkeypatch.setattr(toy, "train", recording)
    assert main(["toy"]) == 2
    capsys.readouterr()
    (given,) = calls
    assert given.pop("n_features") == 5 and given.pop("n_hidden") == 2
    assert given.pop("progress") is True  # a progress bar unless --json
    assert given == {name: defaults[name] for name in given}  # every flag passed is Python's default
    assert given["n_seeds"] == 1 and given["steps"] == 10_000 and given["lr"] == 1e-3
    assert "density" not in given and defaults["density"] == 1.0  # left to train: dense (1/K for quadratic)
    assert "importance_ratio" not in given and defaults["importance"] == 1.0


@pytest.fixture
def noisy_train(monkeypatch):
    """toy.train that also issues a planted NeurosuperWarning."""
    real = toy.train

    @functools.wraps(real)
    def noisy(*args, **kwargs):
        warnings.warn("planted neurosuper warning", NeurosuperWarning, stacklevel=2)
        return real(*args, **kwargs)

    monkeypatch.setattr(toy, "train", noisy)


def test_cli_warnings_are_reported_not_silenced(noisy_train, capsys):
    assert main(["toy", "--steps", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == ["planted neurosuper warning"]
    assert main(["toy", "--steps", "20"]) == 0
    assert "neurosuper: warning: planted neurosuper warning" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ demo step
def test_demo_step_trains_the_pentagon(tmp_path):
    ctx = Context(out=tmp_path, data={}, progress=False)
    (result,) = run_steps(ctx, [pipeline.toy.STEP])
    assert result.status == "ran", result.reason
    entry = ctx.summary["toy"]
    assert result.summary == entry
    assert (
        entry["settings"]
        == result.settings
        == pipeline.toy.SETTINGS
        == {
            "n_features": 5,
            "n_hidden": 2,
            "density": 0.05,
            "n_seeds": 4,
            "steps": 1500,
            "batch_size": 256,
            "lr": 1e-2,
            "seed": 0,
        }
    )
    assert np.allclose(entry["capacity"], 0.4, atol=0.03) and abs(entry["capacity_sum"] - 2.0) < 0.01
    assert (entry["n_features"], entry["n_hidden"], entry["model"], entry["steps"]) == (5, 2, "relu", 1500)
    assert entry["n_polysemantic"] == 5 and entry["warnings"] == []
    assert entry["result"] == "toy_pentagon.nc" and entry["figure"] == "toy_pentagon.png"
    (figure,) = result.figures
    assert figure.name == "toy_pentagon.png" and figure.path == tmp_path / "toy_pentagon.png"
    caption = figure.caption
    assert "pentagon" in caption and "0.4" in caption and "Elhage" in caption
    assert _decode_png(tmp_path / "toy_pentagon.png")[0] > 200
    saved = ns.load(tmp_path / "toy_pentagon.nc", validate_set=False)
    np.testing.assert_array_equal(saved["W"].values, ctx.results["toy"]["pentagon"]["W"].values)
    assert result.results["pentagon"] is ctx.results["toy"]["pentagon"]
    # the same numbers as train called directly with the demo settings
    direct = toy.train(**pipeline.toy.SETTINGS, progress=False)
    assert entry["capacity"] == toy.summary(direct)["capacity"]
    json.dumps(entry)  # JSON-safe for summary.json
    for sentences in (headline(ctx.summary), result.headline):
        assert any(
            "pentagon" in s and "5 features in 2 dimensions" in s and "1500 training steps" in s for s in sentences
        )


def test_demo_step_settings_override_and_unknown_names(tmp_path):
    ctx = Context(out=tmp_path, data={}, progress=False, settings={"toy": {"steps": 100}})
    run_steps(ctx, [pipeline.toy.STEP])
    assert ctx.summary["toy"]["steps"] == 100 and ctx.summary["toy"]["settings"]["steps"] == 100
    assert ctx.summary["toy"]["settings"]["lr"] == 1e-2
    bad = Context(out=tmp_path, data={}, progress=False, settings={"toy": {"n_step": 100}})
    with pytest.raises(AnalysisError, match="n_step"):
        run_steps(bad, [pipeline.toy.STEP])
    (failed,) = run_steps(bad, [pipeline.toy.STEP], errors="record")  # as a report records it
    assert failed.status == "failed" and "n_step" in failed.reason


def test_demo_step_records_neurosuper_warnings(tmp_path, noisy_train):
    ctx = Context(out=tmp_path, data={}, progress=False, settings={"toy": {"steps": 20}})
    (result,) = run_steps(ctx, [pipeline.toy.STEP])
    assert ctx.summary["toy"]["warnings"] == result.warnings == ["planted neurosuper warning"]


def test_pipeline_runs_the_toy_step(tmp_path):
    step = next(s for s in DEMO_STEPS if s.name == "toy")
    assert step is pipeline.toy.STEP and step.unavailable() is None
    assert step.demo_only and step not in report_steps()  # a report on a user's sets trains no toy model
    brain = ns.from_array(np.random.default_rng(0).standard_normal((20, 4)), system="brain", measure="dff")
    ctx = Context(
        out=tmp_path, data={"brain": brain}, progress=False, settings={"toy": {"steps": 50}}, set_names=("brain",)
    )
    (result,) = run_steps(ctx, [step])
    assert result.status == "ran" and result.reason is None
    assert ctx.summary["toy"]["steps"] == 50 and (tmp_path / "toy_pentagon.png").exists()
