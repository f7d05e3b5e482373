"""The comparison step's advice names only values its settings accept (issue 23 §5): a constant stimulus pattern
makes correlation-distance RDMs undefined; the fix printed by `neurosuper report` is ``--set
compare.metric=euclidean`` (was ``metric='euclidean'``, which ``--set`` refused), and following it works."""

from __future__ import annotations

import numpy as np
import pytest
from _format_helpers import make_set

import neurosuper as ns
from neurosuper.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

SKIP = ["--skip", "spectrum", "interpret", "capacity", "directions", "--quiet"]


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    net = np.abs(rng.normal(size=(40, 12)))
    net[3] = 1.0  # one stimulus pattern constant across units: its correlation distance is 0/0
    a, b = tmp_path / "net.nc", tmp_path / "brain.nc"
    ns.save(make_set(net, layer=("unit", ["l1"] * 6 + ["l2"] * 6)), a)
    ns.save(make_set(np.abs(rng.normal(size=(40, 10))), system="brain", measure="spike_rate"), b)
    return str(a), str(b)


def test_the_fix_is_a_setting_the_report_accepts_and_it_works(pair, tmp_path, capsys):
    assert main(["report", *pair, "--out", str(tmp_path / "r"), *SKIP]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("failed compare"))
    assert "--set compare.metric=euclidean" in line and "use metric=" not in line
    assert main(["report", *pair, "--out", str(tmp_path / "r2"), *SKIP, "--set", "compare.metric=euclidean"]) == 0
    out = capsys.readouterr().out
    assert "failed compare" not in out and "RSA" in out
    summary = (tmp_path / "r2" / "summary.json").read_text()
    assert '"metric": "euclidean"' in summary


@pytest.mark.parametrize("value", ["crossnobis", "manhattan"])
def test_metrics_the_step_cannot_use_are_refused_before_computing(pair, tmp_path, capsys, value):
    assert main(["report", *pair, "--out", str(tmp_path / "r"), *SKIP, "--set", f"compare.metric={value}"]) == 2
    err = capsys.readouterr().err
    assert "--set compare.metric" in err and "euclidean" in err
