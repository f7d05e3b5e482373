"""Which presentations load_nwb reads when stimulus= is not given: the only source, never one of several; empty
sources; each listed argument (Python and CLI) picks its source."""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
import pytest
from _nwb_helpers import add_index_series, add_table, add_units, new_nwbfile, np_count, write

import neurosuper as ns
from neurosuper.cli import main
from neurosuper.io.nwb import load_nwb, nwb_sources, simulate_session

TRAIN = np.sort(np.random.default_rng(30).uniform(0, 40, 800))


@pytest.fixture(scope="module")
def several(tmp_path_factory):
    """An IndexSeries of flashes, a TimeIntervals table of gratings (other times) and a trials table with a
    stimulus column: three different sources of presentations."""
    nwbfile = new_nwbfile()
    add_units(nwbfile, [TRAIN, TRAIN[::2]])
    add_index_series(nwbfile, "flashes", onsets=np.arange(6) * 2.0 + 1.0, index=[0, 1, 2, 0, 1, 2], n_images=3)
    add_table(
        nwbfile,
        "gratings",
        pd.DataFrame(
            {"start_time": 20.0 + np.arange(4), "stop_time": 20.5 + np.arange(4), "orientation": [0.0, 90.0, 0.0, 90.0]}
        ),
    )
    nwbfile.add_trial_column(name="stimulus", description="s")
    for i in range(4):
        nwbfile.add_trial(start_time=30.0 + 2 * i, stop_time=31.0 + 2 * i, stimulus="ab"[i % 2])
    return write(nwbfile, tmp_path_factory.mktemp("sources") / "several.nwb")


def test_several_sources_are_never_picked_silently(several):
    with pytest.raises(ns.NWBLayoutError) as err:
        load_nwb(several, window=(0.0, 0.5), progress=False)  # used to read the IndexSeries silently
    msg = str(err.value)
    assert (
        "found 3 presentation sources (1 IndexSeries candidate, 1 TimeIntervals candidate, 1 trials candidate)" in msg
        and "no stimulus= choice" in msg
        and "expected" in msg
        and "Fix:" in msg
    )
    found = nwb_sources(several)
    assert [(c.kind, c.name) for c in found] == [
        ("IndexSeries", "flashes"),
        ("TimeIntervals", "gratings"),
        ("trials", "trials"),
    ]
    for cand in found:  # every source, with both its Python argument and its CLI flag
        assert cand.argument in msg and cand.cli in msg
    assert "stimulus='bins', bin_size=0.05" in msg and "--stimulus bins --bin-size 0.05" in msg


def test_each_listed_argument_picks_its_source(several, capsys):
    expected = {
        "flashes": ("IndexSeries", [0, 1, 2]),
        "gratings": ("TimeIntervals", [0, 90]),
        "trials": ("trials", ["a", "b"]),
    }
    for cand in nwb_sources(several):
        argument = cand.argument.split("  ")[0]  # "stimulus='gratings'  (column ...)" -> "stimulus='gratings'"
        kwargs = eval(f"dict({argument})")  # the exact text the error shows
        ds = load_nwb(several, window=(0.0, 0.5), progress=False, **kwargs)
        kind, ids = expected[cand.name]
        assert ds.attrs["stimulus_source"] == kind and ds["stimulus"].values.tolist() == ids
        onsets = np.sort(ds["onset"].values.ravel())
        np.testing.assert_array_equal(
            ds["responses"].sum(["stimulus"] + (["repeat"] if "repeat" in ds.dims else [])).values,
            [sum(np_count(t, o, o + 0.5) for o in onsets) for t in (TRAIN, TRAIN[::2])],
        )
        flags = shlex.split(cand.cli.split("  ")[0])  # "--stimulus gratings"
        assert main(["nwb", several, *flags, "--window", "0", "0.5", "--json"]) == 0
        assert f'"stimulus_source": "{kind}"' in capsys.readouterr().out


def test_cli_lists_the_sources_as_flags_and_its_error_says_flags(several, capsys):
    assert main(["nwb", several, "--sources"]) == 0
    out = capsys.readouterr().out
    assert "--stimulus flashes" in out and "--stimulus gratings" in out and "--stimulus trials" in out
    assert "stimulus=" not in out
    assert main(["nwb", several, "--window", "0", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosuper: error:") and "3 presentation sources" in err
    assert "--stimulus flashes" in err and "--stimulus gratings  (column" not in err  # no auto column there
    assert "--stimulus gratings:orientation" in err and "--stimulus trials" in err
    assert "--stimulus bins --bin-size 0.05" in err and "no --stimulus choice" in err and "stimulus=" not in err
    assert main(["nwb", several, "--stimulus", "nope", "--window", "0", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--stimulus nope" in err and "--stimulus flashes" in err and "stimulus='" not in err


def test_an_index_series_and_a_table_of_the_same_presentations_are_one_source(tmp_path):
    sim = simulate_session(n_units=3, n_stimuli=4, n_repeats=2, seed=31)
    path = sim.write(tmp_path / "same.nwb")  # an IndexSeries and the equivalent table
    ds = load_nwb(path, window=(0.0, sim.duration), progress=False)
    assert ds.attrs["stimulus_source"] == "IndexSeries" and ds.attrs["stimulus_same_as"] == ["presentations"]
    np.testing.assert_array_equal(ds["responses"].values, sim.counts)


def test_same_onsets_but_other_ids_are_two_sources(tmp_path):
    nwbfile = new_nwbfile()
    add_units(nwbfile, [TRAIN])
    onsets = np.arange(6) * 2.0 + 1.0
    add_index_series(nwbfile, "flashes", onsets=onsets, index=[0, 1, 2, 0, 1, 2], n_images=3)
    add_table(
        nwbfile,
        "flash_table",
        pd.DataFrame({"start_time": onsets, "stop_time": onsets + 0.5, "stimulus_id": [0, 1, 2, 2, 1, 0]}),
    )
    path = write(nwbfile, tmp_path / "two.nwb")
    with pytest.raises(ns.NWBLayoutError, match="2 presentation sources"):
        load_nwb(path, window=(0.0, 0.5))


def test_a_single_source_keeps_loading(tmp_path):
    nwbfile = new_nwbfile()
    add_units(nwbfile, [TRAIN])
    add_table(
        nwbfile,
        "gratings",
        pd.DataFrame(
            {"start_time": 2.0 + np.arange(6), "stop_time": 2.5 + np.arange(6), "stimulus_id": [0, 1, 2, 0, 1, 2]}
        ),
    )
    path = write(nwbfile, tmp_path / "one.nwb")
    ds = load_nwb(path, progress=False)
    assert ds.attrs["stimulus_table"] == "gratings" and "stimulus_same_as" not in ds.attrs
    starts = 2.0 + np.arange(6)
    expected = [[np_count(TRAIN, starts[s + 3 * r], starts[s + 3 * r] + 0.5) for s in range(3)] for r in range(2)]
    np.testing.assert_array_equal(ds["responses"].values[..., 0], expected)


def test_an_empty_table_or_series_is_a_layout_error_naming_the_other_sources(tmp_path, capsys):
    nwbfile = new_nwbfile()
    add_units(nwbfile, [TRAIN])
    add_table(
        nwbfile,
        "empty",
        pd.DataFrame({"start_time": np.empty(0), "stop_time": np.empty(0), "stimulus_id": np.empty(0, dtype=np.int64)}),
    )
    add_index_series(nwbfile, "nothing", onsets=np.empty(0), index=np.empty(0), n_images=2)
    path = write(nwbfile, tmp_path / "empty.nwb")
    for kwargs in ({"stimulus": "empty"}, {"stimulus": ("empty", "stimulus_id")}, {"stimulus": ("empty", "id")}):
        with pytest.raises(ns.NWBLayoutError) as err:  # was a bare ValueError from numpy
            load_nwb(path, window=(0.0, 0.5), **kwargs)
        msg = str(err.value)
        assert (
            "TimeIntervals table 'empty'" in msg
            and "found 0 presentations" in msg
            and "expected at least one" in msg
            and "Fix: pick another source" in msg
            and "stimulus='nothing'" in msg
        )
    with pytest.raises(ns.NWBLayoutError, match=r"(?s)IndexSeries 'nothing'.*found 0 presentations.*stimulus='empty'"):
        load_nwb(path, stimulus="nothing", window=(0.0, 0.5))
    assert main(["nwb", path, "--stimulus", "empty", "--window", "0", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "found 0 presentations" in err and "--stimulus nothing" in err and "stimulus='" not in err


def test_an_empty_trials_table_is_a_layout_error(tmp_path):
    from pynwb.epoch import TimeIntervals

    nwbfile = new_nwbfile()
    add_units(nwbfile, [TRAIN])
    nwbfile.trials = TimeIntervals(name="trials", description="no trials")
    path = write(nwbfile, tmp_path / "notrials.nwb")
    with pytest.raises(ns.NWBLayoutError, match=r"(?s)trials table 'trials'.*found 0 presentations.*stimulus='bins'"):
        load_nwb(path, stimulus=("trials", "id"), window=(0.0, 0.5))
