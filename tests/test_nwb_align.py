"""align= onsets: absolute or relative to the row start, decided by where the values lie (align_relative="auto"),
or stated with align_relative=True/False; counts against brute force, and the CLI's --align-relative."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from _nwb_helpers import np_count, trials_file

import neurosuper as ns
from neurosuper.cli import main
from neurosuper.io.nwb import load_nwb

WINDOW = (0.0, 0.4)


def _spikes(rng: np.random.Generator, end: float, n_units: int = 3) -> list[np.ndarray]:
    return [np.sort(rng.uniform(0, end, rng.poisson(40 * end))) for _ in range(n_units)]


def _counts(trains, onsets, window=WINDOW) -> np.ndarray:
    """(trial, unit) counts by brute force in [onset + window[0], onset + window[1])."""
    return np.asarray([[np_count(t, o + window[0], o + window[1]) for t in trains] for o in onsets])


@pytest.fixture(scope="module")
def relative_file(tmp_path_factory):
    """The issue's case: trials every 3 s from 0.5 s, 2.5 s long, cue offsets 1.0-1.2 s from the trial start.
    The first cue (~1.1 s) is not smaller than its trial start (0.5 s), so the old guess read them as absolute."""
    rng = np.random.default_rng(10)
    n = 12
    start = 0.5 + 3.0 * np.arange(n)
    trials = pd.DataFrame({"start_time": start, "stop_time": start + 2.5, "cue": rng.uniform(1.0, 1.2, n)})
    trains = _spikes(rng, start[-1] + 4)
    return trials_file(tmp_path_factory.mktemp("align") / "rel.nwb", trains, trials), trains, trials


def test_relative_offsets_are_read_as_relative_and_windows_land_right(relative_file):
    path, trains, trials = relative_file
    assert trials.cue[0] > trials.start_time[0]  # the case the old all(values < start) guess got wrong
    with pytest.warns(ns.NeurosuperWarning, match=r"relative to the row start.*align_relative=True"):
        ds = load_nwb(path, stimulus=("trials", "id"), align="cue", window=WINDOW, progress=False)
    assert ds.attrs["align_relative"] is True and ds.attrs["align_rule"] == "auto"
    onsets = trials.start_time.to_numpy() + trials.cue.to_numpy()
    np.testing.assert_allclose(ds["onset"].values, onsets)
    np.testing.assert_array_equal(ds["responses"].values, _counts(trains, onsets))
    assert ds["responses"].values.sum() > 0


def test_stating_the_convention_silences_the_warning_and_is_obeyed(relative_file):
    path, trains, trials = relative_file
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.NeurosuperWarning)
        rel = load_nwb(path, stimulus=("trials", "id"), align="cue", align_relative=True, window=WINDOW, progress=False)
        absolute = load_nwb(
            path, stimulus=("trials", "id"), align="cue", align_relative=False, window=WINDOW, progress=False
        )
    np.testing.assert_allclose(rel["onset"].values, trials.start_time + trials.cue)
    np.testing.assert_allclose(absolute["onset"].values, trials.cue)  # forced absolute: taken as they are
    np.testing.assert_array_equal(absolute["responses"].values, _counts(trains, trials.cue.to_numpy()))
    assert rel.attrs["align_rule"] == "align_relative argument" and absolute.attrs["align_relative"] is False


def test_absolute_times_inside_their_rows_are_absolute_without_warning(tmp_path):
    rng = np.random.default_rng(11)
    start = 0.5 + 3.0 * np.arange(10)
    trials = pd.DataFrame(
        {"start_time": start, "stop_time": start + 2.5, "cue": start + rng.uniform(1.0, 1.2, start.size)}
    )
    trains = _spikes(rng, 35.0)
    path = trials_file(tmp_path / "abs.nwb", trains, trials)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.NeurosuperWarning)
        ds = load_nwb(path, stimulus=("trials", "id"), align="cue", window=WINDOW, progress=False)
    assert ds.attrs["align_relative"] is False
    np.testing.assert_array_equal(ds["responses"].values, _counts(trains, trials.cue.to_numpy()))


def test_values_fitting_both_rules_are_absolute_with_a_warning_saying_how_to_choose(tmp_path):
    # two long, overlapping trials: 1.5 and 2.0 lie inside [0.5, 5] and [1, 6], and inside [0, 4.5] and [0, 5]
    trials = pd.DataFrame({"start_time": [0.5, 1.0], "stop_time": [5.0, 6.0], "cue": [1.5, 2.0]})
    trains = _spikes(np.random.default_rng(12), 8.0)
    path = trials_file(tmp_path / "both.nwb", trains, trials)
    with pytest.warns(ns.NeurosuperWarning) as record:
        ds = load_nwb(path, stimulus=("trials", "id"), align="cue", window=WINDOW, progress=False)
    [msg] = [str(w.message) for w in record if "fits both" in str(w.message)]
    assert "taken as absolute" in msg and "align_relative=True" in msg and "silences" in msg
    assert ds.attrs["align_relative"] is False
    np.testing.assert_allclose(ds["onset"].values, [1.5, 2.0])
    rel = load_nwb(path, stimulus=("trials", "id"), align="cue", align_relative=True, window=WINDOW, progress=False)
    np.testing.assert_allclose(rel["onset"].values, [2.0, 3.0])


def test_values_fitting_neither_rule_raise_with_found_expected_and_fix(tmp_path):
    # row 0: 9.0 is outside [0.5, 3.0] and outside [0, 2.5]
    trials = pd.DataFrame({"start_time": [0.5, 3.5], "stop_time": [3.0, 6.0], "cue": [9.0, 1.0]})
    path = trials_file(tmp_path / "neither.nwb", _spikes(np.random.default_rng(13), 10.0), trials)
    with pytest.raises(ns.NWBLayoutError) as err:
        load_nwb(path, stimulus=("trials", "id"), align="cue", window=WINDOW, progress=False)
    msg = str(err.value)
    assert "fit neither rule" in msg and "2 of 2 rows lie outside their own [start_time, stop_time]" in msg
    assert "1 outside [0, stop_time - start_time]" in msg and "9 not in [0, 2.5]" in msg
    assert "expected absolute when every value" in msg and "Fix:" in msg
    assert "align_relative=True" in msg and "align_relative=False" in msg and "--align-relative" not in msg
    # stating the convention is obeyed even then
    ds = load_nwb(path, stimulus=("trials", "id"), align="cue", align_relative=False, window=WINDOW, progress=False)
    np.testing.assert_allclose(ds["onset"].values, [9.0, 1.0])


def test_nan_stop_times_leave_rows_open_ended(tmp_path):
    """ALM-like: no stop times, offsets larger than the gap to the next trial: still relative (warned)."""
    rng = np.random.default_rng(14)
    start = 10.0 + 6.0 * np.arange(8)
    trials = pd.DataFrame({"start_time": start, "stop_time": np.full(8, np.nan), "cue": rng.uniform(6.5, 9.0, 8)})
    trains = _spikes(rng, 70.0)
    path = trials_file(tmp_path / "open.nwb", trains, trials)
    with pytest.warns(ns.NeurosuperWarning, match="relative to the row start"):
        ds = load_nwb(path, stimulus=("trials", "id"), align="cue", window=WINDOW, progress=False)
    onsets = start + trials.cue.to_numpy()
    np.testing.assert_array_equal(ds["responses"].values, _counts(trains, onsets))


@pytest.mark.parametrize("value", ["yes", 1.0, None])
def test_bad_align_relative_values(relative_file, value):
    path, _, _ = relative_file
    with pytest.raises(ns.NWBLayoutError, match="align_relative=.*expected True .* or 'auto'"):
        load_nwb(path, stimulus=("trials", "id"), align="cue", align_relative=value, window=WINDOW)


def test_align_relative_without_align(relative_file):
    path, _, _ = relative_file
    with pytest.raises(ns.NWBLayoutError, match="without align="):
        load_nwb(path, stimulus=("trials", "id"), align_relative=True, window=WINDOW)


def test_cli_align_relative_flag_and_messages_in_flags(relative_file, tmp_path, capsys):
    path, trains, trials = relative_file
    base = ["nwb", str(path), "--stimulus", "trials:id", "--align", "cue", "--window", "0", "0.4", "--json"]
    assert main(base) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert any("--align-relative true" in w for w in summary["warnings"])
    assert "neurosuper: warning:" in out.err and "align_relative=True" not in out.err
    assert summary["total"] == _counts(trains, trials.start_time.to_numpy() + trials.cue.to_numpy()).sum()
    assert main(base + ["--align-relative", "true"]) == 0
    out = capsys.readouterr()
    assert "warnings" not in json.loads(out.out) and out.err == ""
    assert main(base + ["--align-relative", "false"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == _counts(trains, trials.cue.to_numpy()).sum()
    # neither rule fits: the fix is written as the command's flags
    bad = pd.DataFrame({"start_time": [0.5, 3.5], "stop_time": [3.0, 6.0], "cue": [9.0, 1.0]})
    bad_path = trials_file(tmp_path / "neither.nwb", trains, bad)
    assert main(["nwb", bad_path, "--stimulus", "trials:id", "--align", "cue", "--window", "0", "0.4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosuper: error:") and "fit neither rule" in err
    assert "--align-relative true" in err and "--align-relative false" in err and "align_relative=" not in err
