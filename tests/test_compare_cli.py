"""``neurosuper compare A B``: the JSON, the text report, outputs (checked before computing, never an input, never
replaced without --overwrite), exit code 2 with one line on bad input, and the compare step of the main job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import compare as cmp
from neurosuper import pipeline
from neurosuper._numbers import rounded
from neurosuper.cli import main
from neurosuper.pipeline import Context, run_steps


def _sets(rng, n=60):
    latent = rng.normal(size=(n, 6))
    ids = [f"img{i:03d}" for i in range(n)]
    net = ns.from_array(
        np.concatenate([latent @ rng.normal(size=(6, 10)) + s * rng.normal(size=(n, 10)) for s in (2.0, 0.5)], axis=1),
        system="network",
        measure="activation",
        stimulus=ids,
        layer=("unit", np.repeat(["conv", "fc"], 10)),
        category=("stimulus", np.repeat(["a", "b", "c"], n // 3)),
    )
    brain = ns.from_array(
        latent @ rng.normal(size=(6, 12)) + rng.normal(size=(2, n, 12)),
        system="brain",
        measure="dff",
        stimulus=ids,
        area=("unit", np.repeat(["V4", "IT"], 6)),
    )
    return net, brain


@pytest.fixture
def files(rng, tmp_path):
    net, brain = _sets(rng)
    a, b = tmp_path / "net.nc", tmp_path / "brain.nc"
    ns.save(net, a)
    ns.save(brain, b)
    return a, b, net, brain


def test_compare_json_has_the_documented_keys(files, capsys, tmp_path):
    a, b, net, brain = files
    code = main(
        [
            "compare",
            str(a),
            str(b),
            "--json",
            "--n-boot",
            "50",
            "--out",
            str(tmp_path / "res.nc"),
            "--figure",
            str(tmp_path / "rdms.png"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"n_stimuli", "rsa", "cka", "cka_debiased", "procrustes", "pairs"} <= set(out)
    assert out["n_stimuli"] == 60 and out["rsa"]["method"] == "spearman" and len(out["rsa"]["ci"]) == 2
    pairs = {(p["a"], p["b"]) for p in out["pairs"]}
    assert pairs == {("conv", "V4"), ("conv", "IT"), ("fc", "V4"), ("fc", "IT")}
    assert out["cka"] == rounded(float(cmp.cka(net, brain, groupby=None)["cka"]))
    assert (tmp_path / "res.nc").exists() and (tmp_path / "rdms.png").stat().st_size > 1000
    saved = ns.load(tmp_path / "res.nc", validate_set=False)
    assert saved.attrs["analysis"] == "compare.overview"


def test_compare_text_and_options(files, capsys):
    a, b, *_ = files
    assert (
        main(
            [
                "compare",
                str(a),
                str(b),
                "--n-boot",
                "0",
                "--method",
                "kendall_tau_a",
                "--metric",
                "euclidean",
                "--groupby",
                "none",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "RSA (kendall_tau_a of euclidean RDMs)" in text and "CKA" in text and " vs " in text


def test_compare_bad_input_exits_2_with_one_line(files, tmp_path, capsys, rng):
    a, _, net, _ = files
    other = tmp_path / "other.nc"
    ns.save(net.assign_coords(stimulus=[f"x{i}" for i in range(60)]), other)
    assert main(["compare", str(a), str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurosuper: error:") and "shared" in err[0] and "Fix:" in err[0]
    assert main(["compare", str(a), str(tmp_path / "missing.nc")]) == 2
    assert main(["compare", str(a), str(a), "--figure", str(tmp_path / "x.nope")]) == 2
    assert not (tmp_path / "x.nope").exists()


@pytest.mark.parametrize("old", ["--plot", "--rdm", "--compare"])
def test_compare_old_flags_are_gone(files, old, capsys):
    """--rdm/--compare/--plot were renamed --metric/--method/--figure (the Python names); the old ones are refused."""
    a, b, *_ = files
    with pytest.raises(SystemExit) as exit_:
        main(["compare", str(a), str(b), old, "x"])
    assert exit_.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def _no_overview(monkeypatch):
    """Make compare.overview fail the test if it runs: the outputs must be refused before anything is computed."""
    calls = []

    def computing(*args, **kwargs):
        calls.append(args)
        raise AssertionError("compare.overview ran before the outputs were checked")

    monkeypatch.setattr(cmp, "overview", computing)
    return calls


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
@pytest.mark.parametrize("which", ["a", "b"])
def test_compare_out_equal_to_an_input_is_refused(files, capsys, monkeypatch, which, overwrite):
    """--out naming one of the two inputs is refused (exit 2), --overwrite or not; the input is left byte for byte."""
    a, b, *_ = files
    target = a if which == "a" else b
    before = target.read_bytes()
    calls = _no_overview(monkeypatch)
    assert main(["compare", str(a), str(b), "--n-boot", "0", "--out", str(target), *overwrite]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "input" in err, err
    assert target.read_bytes() == before and calls == []


def test_compare_figure_equal_to_an_input_is_refused(files, capsys, monkeypatch):
    a, b, *_ = files
    before = a.read_bytes()
    calls = _no_overview(monkeypatch)
    assert main(["compare", str(a), str(b), "--figure", str(a), "--overwrite"]) == 2
    assert "--figure" in capsys.readouterr().err
    assert a.read_bytes() == before and calls == []


def test_compare_existing_out_needs_overwrite(files, tmp_path, capsys, monkeypatch):
    """An existing --out was silently replaced before; now it is refused before computing unless --overwrite."""
    a, b, *_ = files
    out = tmp_path / "res.nc"
    assert main(["compare", str(a), str(b), "--n-boot", "0", "--groupby", "none", "--out", str(out)]) == 0
    earlier = out.read_bytes()
    capsys.readouterr()
    with monkeypatch.context() as m:
        calls = _no_overview(m)
        assert main(["compare", str(a), str(b), "--n-boot", "0", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--overwrite" in err and "--out" in err, err
        assert out.read_bytes() == earlier and calls == []
    assert main(["compare", str(a), str(b), "--n-boot", "0", "--out", str(out), "--overwrite"]) == 0
    replaced = ns.load(out, validate_set=False)
    assert replaced.attrs["analysis"] == "compare.overview" and "layer" in replaced.dims  # the new result (per pair)


def test_demo_step(rng, tmp_path):
    net, brain = _sets(rng, n=90)
    brain = brain.assign_coords(luminance=("stimulus", rng.uniform(size=90)))
    ctx = Context(out=Path(tmp_path), data={"brain": brain, "network": net}, progress=False)
    (result,) = run_steps(ctx, [pipeline.compare.STEP])  # every shared stimulus (90 < MAX_COMPARE_STIMULI)
    assert result.status == "ran", result.reason
    entry = ctx.summary["compare"]
    assert result.summary == entry
    assert "error" not in entry, entry.get("error")
    assert entry["model"] == "network" and entry["target"] == "brain"
    assert entry["profile"]["best"] in {"conv", "fc"} and len(entry["profile"]["ceiling"]) == 2
    assert entry["predictivity"]["kind"] == "predictivity" and entry["overview"]["n_stimuli"] == 90
    assert entry["stimuli"] == "all 90 shared stimuli" and entry["n_stimuli_used"] == 90
    assert result.headline[-1] == "The comparison used all 90 shared stimuli."
    figures = [f.name for f in result.figures]
    assert figures == ["compare_profile.png", "compare_predictivity.png", "compare_rdms.png"]
    assert all(f.caption for f in result.figures)
    for f in entry["files"] + figures:
        assert (tmp_path / f).exists()
    assert result.files == entry["files"]
    assert set(ctx.results["compare"]) == set(result.results) == {"profile", "predictivity", "overview"}
    json.dumps(entry)


def test_demo_step_chooses_stimuli_by_id_not_by_position(rng, tmp_path):
    """Two sets holding the same stimuli in different orders: a subsample is drawn among the shared ids, so both
    sets keep the same stimuli (taking every k-th by position kept 2 of 10 in common and the step failed)."""
    net, brain = _sets(rng, n=90)
    shuffled = brain.isel(stimulus=rng.permutation(90))
    ctx = Context(out=Path(tmp_path), data={"brain": shuffled, "network": net}, progress=False)
    ctx.settings["compare"] = {"max_stimuli": 30, "n_boot": 0}
    (result,) = run_steps(ctx, [pipeline.compare.STEP])
    assert result.status == "ran", result.reason
    entry = result.summary
    assert entry["n_stimuli_used"] == 30 and entry["overview"]["n_stimuli"] == 30
    assert entry["stimuli"].startswith("a random subsample (seed 0) of 30 of the 90 shared stimuli")
    chosen = ns.load(tmp_path / "compare_overview.nc", validate_set=False)
    assert chosen.attrs["n_stimuli"] == 30


def test_demo_step_is_skipped_with_one_set(rng, tmp_path):
    _, brain = _sets(rng)
    ctx = Context(out=tmp_path, data={"brain": brain}, set_names=("brain",), progress=False)
    (result,) = run_steps(ctx, [pipeline.compare.STEP])
    assert result.status == "skipped" and "2 sets" in result.reason
