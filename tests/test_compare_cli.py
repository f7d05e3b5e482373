"""``neurosuper compare A B``: the JSON, the text report, outputs, exit code 2 with one line on bad input, and
the demo step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import compare as cmp
from neurosuper._numbers import rounded
from neurosuper.cli import main


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
            "--plot",
            str(tmp_path / "rdms.png"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"n_stimuli", "rsa", "cka", "cka_debiased", "procrustes", "pairs"} <= set(out)
    assert out["n_stimuli"] == 60 and out["rsa"]["method"] == "spearman" and len(out["rsa"]["ci"]) == 2
    pairs = {(p["a"], p["b"]) for p in out["pairs"]}
    assert pairs == {("conv", "V4"), ("conv", "IT"), ("fc", "V4"), ("fc", "IT")}
    assert out["cka"] == rounded(float(cmp.cka(net, brain)))
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
                "--compare",
                "kendall_tau_a",
                "--rdm",
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
    assert main(["compare", str(a), str(a), "--plot", str(tmp_path / "x.nope")]) == 2


def test_demo_step(rng, tmp_path):
    from neurosuper.cli import compare as cli_compare
    from neurosuper.cli.demo import DemoContext

    net, brain = _sets(rng, n=90)
    brain = brain.assign_coords(luminance=("stimulus", rng.uniform(size=90)))
    ctx = DemoContext(out=Path(tmp_path), brain=brain, network=net, progress=False)
    ctx.settings["compare"] = {"stimulus_step": 1}  # every stimulus (the demo uses every 10th)
    cli_compare.demo(ctx)
    entry = ctx.summary["compare"]
    assert "error" not in entry, entry.get("error")
    assert entry["model"] == "network" and entry["target"] == "brain"
    assert entry["profile"]["best"] in {"conv", "fc"} and len(entry["profile"]["ceiling"]) == 2
    assert entry["predictivity"]["kind"] == "predictivity" and entry["overview"]["n_stimuli"] == 90
    for f in entry["files"] + entry["figures"]:
        assert (tmp_path / f).exists()
    assert set(ctx.results["compare"]) == {"profile", "predictivity", "overview"}
    json.dumps(entry)
