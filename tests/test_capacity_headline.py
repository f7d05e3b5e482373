"""The capacity headline says when its dimensions are a subsample: "Σ C = 19.7 of 32 dimensions" of the demo brain
was read as 32 of the brain's dimensions, while the step analyses 32 of its 1,000 units (and 500 of its 2,000
stimuli)."""

from __future__ import annotations

from neurosuper.pipeline.headline import headline_by_step

GROUP = {"capacity_sum": 19.73, "n_dims": 32, "n_directions": 64, "n_monosemantic": 1, "n_polysemantic": 63}


def _line(entry):
    (line,) = headline_by_step({"capacity": {"brain": entry}}, labels=["brain"], demo=True)["capacity"]
    return line


def test_the_headline_says_the_dimensions_are_a_subsample_of_the_units():
    entry = {"method": "sparse_coding", **GROUP, "n_units_used": 32, "n_units_total": 1000}
    entry.update(n_stimuli_used=500, n_stimuli_total=2000)
    line = _line(entry)
    assert "Σ C = 19.73 of 32 dimensions" in line
    assert "of 32 dimensions (32 of the 1,000 units)" in line and ", on 500 of the 2,000 stimuli" in line
    assert line.count("1,000 units") == 1  # said once
    # per group: each group says its own units (and the entry only the stimuli)
    grouped = {
        "method": "sparse_coding",
        "groupby": "layer",
        "groups": {"h1": {**GROUP, "n_dims": 10, "n_units_total": 64}, "h2": {**GROUP, "n_dims": 10}},
        "n_units_used": 20,
        "n_units_total": 128,
        "n_stimuli_used": 500,
        "n_stimuli_total": 500,
    }
    line = _line(grouped)
    assert "h1: 64 features share Σ C = 19.73 of 10 dimensions (10 of the 64 units)" in line
    assert "h2: 64 features share Σ C = 19.73 of 10 dimensions (1 monosemantic" in line
    assert "subsample" not in line and "stimuli" not in line  # all 500 stimuli; units said per group


def test_no_subsample_no_note():
    line = _line({"method": "pca", **GROUP, "n_units_used": 32, "n_units_total": 32})
    assert "subsample" not in line and "units" not in line
    assert "of 32 dimensions" in _line({**GROUP})  # a summary without the counts still reads
