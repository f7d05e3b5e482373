"""An SAE with 100,000 latents is refused before training, with the estimate and a fix (issue 23 §3): measured at
~5 s an Adam step (64 units, 128 rows a step, one busy core), its 2,000 default steps would take ~3 h. The bound is
the training's work (``SAEDirections.training_work``: its products and weight updates) against
``sae.MAX_TRAINING_WORK``; following the fix trains."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _format_helpers import make_set

import neurosuper as ns
from neurosuper.cli import main
from neurosuper.directions import sae
from neurosuper.directions.estimators import SAEDirections
from neurosuper.errors import AnalysisError

pytestmark = pytest.mark.usefixtures("one_thread")


def test_100000_latents_are_refused_with_the_estimate_and_a_fix():
    X = np.random.default_rng(0).standard_normal((500, 64))
    with pytest.raises(
        AnalysisError, match=r"about 1\.1e\+13 multiply-add equivalents \(100,000 latents x 64 units"
    ) as info:
        SAEDirections(n_directions=100_000, progress=False).fit(X)
    fits = int(re.search(r"n_directions=(\d+)", str(info.value)).group(1))
    steps = int(re.search(r"n_steps=(\d+)", str(info.value)).group(1))
    est = SAEDirections(n_directions=100_000, progress=False)
    assert est.training_work(500, 64, fits) <= sae.MAX_TRAINING_WORK < est.training_work(500, 64, fits + 1)
    assert SAEDirections(n_directions=100_000, n_steps=steps).training_work(500, 64, 100_000) <= sae.MAX_TRAINING_WORK


def test_the_fix_trains_and_none_lifts_the_bound(monkeypatch):
    X = np.random.default_rng(1).standard_normal((200, 16))
    monkeypatch.setattr(sae, "MAX_TRAINING_WORK", 5e7)
    with pytest.raises(AnalysisError, match=r"pass fewer latents \(n_directions=(\d+)\)") as info:
        SAEDirections(n_directions=64, n_steps=200, progress=False).fit(X)
    fits = int(re.search(r"n_directions=(\d+)", str(info.value)).group(1))
    assert SAEDirections(n_directions=fits, n_steps=200, progress=False).fit(X).components_.shape == (fits, 16)
    monkeypatch.setattr(sae, "MAX_TRAINING_WORK", None)
    assert SAEDirections(n_directions=64, n_steps=20, progress=False).fit(X).components_.shape == (64, 16)


def test_the_command_exits_2_naming_its_flag(tmp_path, capsys):
    path = tmp_path / "set.nc"
    rng = np.random.default_rng(2)
    ns.save(make_set(np.abs(rng.normal(size=(60, 64))), label=("stimulus", [f"c{i % 3}" for i in range(60)])), path)
    argv = ["directions", str(path), "--methods", "sae", "--n-directions", "100000", "--similarity", "label"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "100,000 latents" in err and "--n-directions" in err
