"""No headline from too little data (issue 19 §3): below each analysis's documented minimum the report's steps
record "not enough data" — what was counted, how many, how many are needed — instead of a number that reads like a
finding; a run in which nothing was found says so first; the docs' table of minimums equals the constants."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import pipeline
from neurosuper.capacity import MIN_STIMULI_PER_UNIT, MIN_UNITS_PER_GROUP
from neurosuper.errors import NotEnoughData
from neurosuper.interpret.minimum import MIN_STIMULI_PER_K, too_few_stimuli
from neurosuper.pipeline import Context, run_steps
from neurosuper.pipeline.headline import headline
from neurosuper.spectral.fit import MIN_FIT_RANKS

ROOT = Path(__file__).resolve().parents[1]


def _run(step, data, tmp_path, **settings):
    tmp_path.mkdir(parents=True, exist_ok=True)
    ctx = Context(out=tmp_path, data=data, set_names=tuple(data), progress=False)
    ctx.settings.update(settings)
    (result,) = run_steps(ctx, [step], errors="record")
    return result, ctx


def _layers(n_stimuli: int, sizes: dict[str, int], seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = [name for name, k in sizes.items() for _ in range(k)]
    return ns.from_array(
        rng.standard_normal((n_stimuli, len(labels))),
        system="network",
        measure="activation",
        layer=("unit", labels),
        stimuli=rng.random((n_stimuli, 2)),
    )


# ------------------------------------------------------------------------------------------------ spectrum
def test_spectrum_step_too_few_ranks_shows_the_spectrum_and_says_not_enough_data(tmp_path):
    """White noise of 150 stimuli × 30 units was "α = 0.12 (95% CI 0.06–0.23) … over ranks 1–7": now the spectrum
    is drawn, α is None with the reason, and the headline says what is missing."""
    white = ns.from_array(np.random.default_rng(0).standard_normal((150, 30)), system="brain", measure="spike_rate")
    result, ctx = _run(pipeline.spectrum.STEP, {"brain": white}, tmp_path)
    assert result.status == "ran"  # the spectrum itself is a result to look at
    entry = result.summary["brain"]
    assert entry["alpha"] is None and entry["ranks"] is None and entry["participation_ratio"] is not None
    short = entry["not_enough_data"]
    assert (short["found"], short["needed"]) == (7, MIN_FIT_RANKS) and "N = 30" in short["what"]
    assert (tmp_path / "spectrum.png").exists() and (tmp_path / "spectrum_brain.nc").exists()
    assert not (tmp_path / "powerlaw_brain.nc").exists()
    (line,) = result.headline
    assert line.startswith("The brain: not enough data for the power-law exponent α — 7 ranks to fit")
    assert "at least 10 needed" in line and "N ≥ 40" in line and "α =" not in line
    assert not result.found
    json.dumps(result.summary)


def test_spectrum_step_per_layer_group_without_enough_ranks(tmp_path):
    """A layer too small for α gets None and the reason; the set's α and the other layer's stay."""
    ds = _layers(300, {"big": 160, "tiny": 20})
    result, _ = _run(pipeline.spectrum.STEP, {"network": ds}, tmp_path)
    entry = result.summary["network"]
    assert any("layer='tiny'" in note and "expected at least 10" in note for note in entry["warnings"])
    assert entry["alpha"] is not None and entry["alpha_per_layer"]["big"] is not None
    assert entry["alpha_per_layer"]["tiny"] is None and list(entry["alpha_per_layer_not_fittable"]) == ["tiny"]
    assert result.found and any("not enough data for α in layer tiny" in s for s in result.headline)
    # every layer too small (32 units over 11 layers): said once for the layers, never "α = …" from 2 ranks
    ds = _layers(200, {f"L{i}": 3 for i in range(11)})
    result, _ = _run(pipeline.spectrum.STEP, {"network": ds}, tmp_path / "all")
    entry = result.summary["network"]
    assert entry["alpha"] is None and set(entry["alpha_per_layer"].values()) == {None}
    assert len(result.headline) == 1 and "not enough data for the power-law exponent α" in result.headline[0]


def test_spectrum_command_says_which_group_has_no_alpha(tmp_path, capsys):
    from neurosuper.cli import main

    path = ns.save(_layers(300, {"big": 160, "tiny": 20}), tmp_path / "set.nc")
    assert main(["spectrum", str(path), "--n-boot", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["alpha"]["tiny"] is None and out["alpha"]["big"] is not None
    assert "expected at least 10" in out["alpha_not_fittable"]["tiny"]
    assert main(["spectrum", str(path), "--n-boot", "0"]) == 0
    text = capsys.readouterr().out
    assert "tiny: alpha not fittable: " in text and "ranks=(" not in text


# ------------------------------------------------------------------------------------------------ capacity
def test_capacity_step_skips_layers_of_a_few_units(tmp_path):
    """32 units over 11 layers gave "Σ C = 1.90 of 2 dimensions (2 of the 3 units)" eleven times over."""
    ds = _layers(200, {f"L{i}": 3 for i in range(10)} | {"L10": 2})
    result, _ = _run(pipeline.capacity.STEP, {"network": ds}, tmp_path)
    assert result.status == "failed" and not result.found
    entry = result.summary["network"]
    assert "capacity_sum" not in entry and "groups" not in entry
    short = entry["not_enough_data"]
    assert (short["found"], short["needed"]) == (3, MIN_UNITS_PER_GROUP) and "every layer" in short["reason"]
    (line,) = result.headline
    assert "not enough data for feature capacity — 3 units" in line and "Σ C" not in line.split("—")[0]
    # a set with one layer large enough: that layer is analysed (at least 8 units), the small one is named
    ds = _layers(200, {"big": 40, "small": 5})
    result, _ = _run(pipeline.capacity.STEP, {"network": ds}, tmp_path / "mixed")
    groups = result.summary["network"]["groups"]
    assert groups["big"]["n_dims"] >= MIN_UNITS_PER_GROUP and groups["small"]["not_enough_data"]["found"] == 5
    assert result.found and any("not enough data for feature capacity in layer small" in s for s in result.headline)
    assert any(s.startswith("Capacity of the features discovered") and "big:" in s for s in result.headline)


def test_capacity_step_few_stimuli(tmp_path):
    """Capacity of 4 stimuli (after every other analysis had failed) was a headline; so was 8 stimuli."""
    rng = np.random.default_rng(1)
    for n in (4, 8):
        ds = ns.from_array(rng.random((n, 32)), system="network", measure="activation")
        result, _ = _run(pipeline.capacity.STEP, {"network": ds}, tmp_path / str(n))
        short = result.summary["network"]["not_enough_data"]
        assert result.status == "failed" and short["found"] == n
        assert short["needed"] == MIN_STIMULI_PER_UNIT * MIN_UNITS_PER_GROUP
    # with stimuli for 10 units only, the step analyses 10 units (not 32): 4 stimuli per unit
    ds = ns.from_array(rng.standard_normal((40, 32)), system="network", measure="activation")
    result, _ = _run(pipeline.capacity.STEP, {"network": ds}, tmp_path / "40")
    assert result.summary["network"]["n_dims"] == 40 // MIN_STIMULI_PER_UNIT


def test_feature_capacity_marks_a_group_below_the_minimum():
    rng = np.random.default_rng(2)
    ds = ns.from_array(
        rng.standard_normal((100, 12)), system="network", measure="activation", layer=("unit", ["a"] * 9 + ["b"] * 3)
    )
    res = ns.capacity.feature_capacity(ds, "pca", progress=False)
    assert res["enough_data"].values.tolist() == [True, False]
    assert res.attrs["min_units_per_group"] == MIN_UNITS_PER_GROUP and res.attrs["n_stimuli"] == 100
    out = ns.capacity.summary(res)
    assert "not_enough_data" not in out["groups"]["a"] and out["groups"]["b"]["not_enough_data"]["found"] == 3
    assert ns.capacity.too_little_data(8, 31).needed == 32 and ns.capacity.too_little_data(8, 32) is None


# --------------------------------------------------------------------------------------------- interpret
def test_interpret_step_refuses_a_handful_of_stimuli(tmp_path):
    """ "Mean II −880" on 8 stimuli was a headline: now not enough data, and what would be needed."""
    rng = np.random.default_rng(3)
    ds = ns.from_array(rng.random((8, 20)), system="brain", measure="spike_rate", stimuli=rng.random((8, 2)))
    result, _ = _run(pipeline.interpret.STEP, {"brain": ds}, tmp_path)
    assert result.status == "failed" and not result.found
    short = result.summary["brain"]["not_enough_data"]
    assert (short["found"], short["needed"]) == (8, MIN_STIMULI_PER_K * 5)
    (line,) = result.headline
    assert line.startswith("The brain: not enough data for the interpretability index — 8 stimuli")
    assert "at least 40 needed" in line and "mean II" not in line
    assert too_few_stimuli(40, 5) is None and too_few_stimuli(39, 5).needed == 40
    assert "or pass k=2 (fewer most exciting stimuli per unit" in str(too_few_stimuli(20, 5))


def test_directions_step_needs_the_minimum_of_held_out_stimuli(tmp_path):
    """The directions step scores the II on held-out stimuli: half of 30 is below the 40 an II with k = 5 needs, so
    no method's median II is reported (it was, and read like a finding)."""
    rng = np.random.default_rng(4)
    ds = ns.from_array(rng.random((30, 12)), system="brain", measure="spike_rate", stimuli=rng.random((30, 2)))
    result, _ = _run(pipeline.directions.STEP, {"brain": ds}, tmp_path)
    assert result.status == "failed" and not result.results and not result.found
    short = result.summary["brain"]["not_enough_data"]
    assert (short["found"], short["needed"]) == (15, MIN_STIMULI_PER_K * 5)
    (line,) = result.headline
    assert line.startswith("The brain: not enough data for the interpretability index — 15 stimuli")
    assert "median II" not in line


# ---------------------------------------------------------------------------------------- the whole run
def test_a_run_where_nothing_was_found_says_so_first(tmp_path):
    """Every analysis failed or had too little data (the demo's toy model does not count): the headline's first
    sentence, summary.md and the page's "What it found" say so instead of an empty list or stray numbers."""
    rng = np.random.default_rng(4)
    ds = ns.from_array(rng.random((8, 6)), system="brain", measure="spike_rate", stimuli=rng.random((8, 2)))
    steps = [pipeline.spectrum.STEP, pipeline.interpret.STEP, pipeline.capacity.STEP]
    run = pipeline.run({"brain": ds}, out=tmp_path / "r", steps=steps, progress=False)
    assert run.nothing_found and run.headline[0] == run.nothing_found
    assert "spectrum: not enough data; interpret: not enough data; capacity: not enough data" in run.nothing_found
    assert all("not enough data" in line for line in run.headline[1:]) and len(run.headline) == 4
    run.write_summary()
    assert "No analysis produced a result" in (tmp_path / "r" / "summary.md").read_text()
    from neurosuper.report import write_report

    html = write_report(run).read_text(encoding="utf-8")
    summary = html[html.index("<section id='summary'>") : html.index("<section id='inputs'>")]
    assert "<p class='fail'>No analysis produced a result" in summary


def test_the_toy_model_alone_is_not_a_finding(tmp_path):
    def toy(ctx):
        ctx.summary["toy"] = {"n_features": 5, "n_hidden": 2, "capacity": [0.4] * 5, "capacity_sum": 2.0}

    def broken(ctx):
        raise ns.AnalysisError("too few stimuli")

    steps = [pipeline.Step("spectrum", broken), pipeline.Step("toy", toy, reads=(), demo_only=True)]
    run = pipeline.run({"brain": 1}, out=tmp_path, steps=steps, progress=False)
    assert run["toy"].headline and not run["toy"].found
    assert run.headline[0].startswith("No analysis produced a result on these data")
    assert "spectrum: failed; toy: the demo's illustration, not of these data" in run.headline[0]


def test_a_run_with_a_finding_has_no_such_sentence():
    summary = {"spectrum": {"brain": {"alpha": 1.0, "ranks": [11, 50]}}}
    assert headline(summary, labels=["brain"])[0].startswith("The brain: the covariance spectrum decays")


# ------------------------------------------------------------------------------------------- the docs table
CONSTANT = re.compile(r"`(neurosuper(?:\.\w+)+) = (\d+)`")


def _table_constants(path: Path, heading: str) -> list[tuple[str, int]]:
    text = path.read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return [(name, int(value)) for name, value in CONSTANT.findall(text[start : end if end > 0 else None])]


@pytest.mark.parametrize(
    ("doc", "heading"),
    [("docs/getting-started.md", "## Minimum data"), ("benchmarks/RESULTS.md", "## Minimum data")],
)
def test_the_docs_table_of_minimums_equals_the_constants(doc, heading):
    found = _table_constants(ROOT / doc, heading)
    names = {name for name, _ in found}
    for required in (
        "neurosuper.spectral.fit.MIN_FIT_RANKS",
        "neurosuper.interpret.minimum.MIN_STIMULI_PER_K",
        "neurosuper.capacity.MIN_UNITS_PER_GROUP",
        "neurosuper.capacity.MIN_STIMULI_PER_UNIT",
    ):
        assert required in names, (doc, required)
    for name, value in found:
        module, _, attr = name.rpartition(".")
        assert getattr(importlib.import_module(module), attr) == value, (doc, name)


def test_not_enough_data_survives_the_cli_rewording():
    """The CLI rewrites messages with type(err)(text): NotEnoughData keeps working with a message alone."""
    err = NotEnoughData("x", analysis="a", what="ranks", found=1, needed=10)
    again = type(err)("y")
    assert again.not_fittable and again.as_entry()["reason"] == "y" and err.as_entry()["needed"] == 10
