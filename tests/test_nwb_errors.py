"""Bad input to load_nwb: each a neurosuper exception whose message says what was found and the fix."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _nwb_helpers import add_units, new_nwbfile, trials_file, write

import neurosuper as ns
from neurosuper.io.nwb import load_nwb, simulate_session


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return simulate_session(n_units=3, n_stimuli=4, n_repeats=2, seed=1).write(
        tmp_path_factory.mktemp("bad") / "sim.nwb"
    )


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "notes.nwb"
    path.write_text("this is not an NWB file\n" * 10)
    with pytest.raises(ns.FormatError, match="not the HDF5 signature") as err:
        load_nwb(path)
    assert "b'this is '" in str(err.value) and "Fix:" in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ns.FormatError, match="no such file"):
        load_nwb(tmp_path / "absent.nwb")
    with pytest.raises(ns.FormatError, match="a folder"):
        load_nwb(tmp_path)


def test_truncated_file(sim_path, tmp_path):
    data = sim_path.read_bytes()
    path = tmp_path / "truncated.nwb"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ns.FormatError, match="truncated"):
        load_nwb(path)


def test_hdf5_that_is_not_nwb(tmp_path):
    import h5py

    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as fh:
        fh["counts"] = np.arange(3)
    with pytest.raises(ns.FormatError, match=r"without an 'nwb_version'.*\['counts'\]"):
        load_nwb(path)


def test_no_units_and_no_imaging(tmp_path):
    nwbfile = new_nwbfile()
    nwbfile.add_trial(start_time=1.0, stop_time=2.0)
    path = write(nwbfile, tmp_path / "empty.nwb")
    with pytest.raises(ns.NWBLayoutError, match="no units table.*measure='dff'"):
        load_nwb(path, stimulus=("trials", "id"))
    with pytest.raises(ns.NWBLayoutError, match="no DfOverF RoiResponseSeries"):
        load_nwb(path, stimulus=("trials", "id"), measure="dff")


def test_units_without_spike_times(tmp_path):
    nwbfile = new_nwbfile()
    nwbfile.add_unit_column(name="quality", description="q")
    nwbfile.add_unit(quality="good")
    nwbfile.add_unit(quality="mua")
    nwbfile.add_trial(start_time=1.0, stop_time=2.0)
    path = write(nwbfile, tmp_path / "nospikes.nwb")
    with pytest.raises(ns.NWBLayoutError, match=r"columns \['quality'\] but no 'spike_times'"):
        load_nwb(path, stimulus=("trials", "id"))


def test_unknown_table_and_column_list_what_exists(sim_path):
    with pytest.raises(ns.NWBLayoutError) as err:
        load_nwb(sim_path, stimulus="flashes")
    msg = str(err.value)
    assert "'flashes'" in msg and "stimulus='presentations_index'" in msg and "stimulus='presentations'" in msg
    with pytest.raises(ns.NWBLayoutError, match=r"column 'orientation' does not exist.*'stimulus', 'category'"):
        load_nwb(sim_path, stimulus=("presentations", "orientation"))
    with pytest.raises(ns.NWBLayoutError, match="align column 'cue'|column 'cue' does not exist"):
        load_nwb(sim_path, stimulus="presentations", align="cue", window=(0, 0.1))


@pytest.mark.parametrize("window", [(0.2, 0.2), (0.3, 0.1), (0.0, float("nan"))])
def test_window_with_stop_not_after_start(sim_path, window):
    with pytest.raises(ns.NWBLayoutError, match="stop <= start"):
        load_nwb(sim_path, window=window)


@pytest.mark.parametrize("bin_size", [0.0, -0.05, float("inf"), "wide"])
def test_bad_bin_size(sim_path, bin_size):
    with pytest.raises(ns.NWBLayoutError, match="bin_size"):
        load_nwb(sim_path, stimulus="bins", bin_size=bin_size)


def test_window_not_a_whole_number_of_bins(sim_path):
    with pytest.raises(ns.NWBLayoutError, match="not a whole number of bins"):
        load_nwb(sim_path, window=(0.0, 0.25), bin_size=0.1)


def test_missing_window_without_stop_times(sim_path, tmp_path):
    with pytest.raises(ns.NWBLayoutError, match=r"without a stop time .*window=\(start, stop\)"):
        load_nwb(sim_path)  # the IndexSeries has onsets only
    rng = np.random.default_rng(0)
    trials = pd.DataFrame({"start_time": [1.0, 3.0, 5.0], "stop_time": [np.nan] * 3, "kind": ["a", "b", "a"]})
    path = trials_file(tmp_path / "t.nwb", [np.sort(rng.uniform(0, 8, 50))], trials)
    with pytest.raises(ns.NWBLayoutError, match="3 of 3 presentations without a stop time"):
        load_nwb(path, stimulus=("trials", "kind"))


def test_stimulus_column_with_missing_values(tmp_path):
    trials = pd.DataFrame(
        {"start_time": [1.0, 2.0, 3.0, 4.0], "stop_time": [1.5, 2.5, 3.5, 4.5], "orientation": [0.0, np.nan, 90.0, 0.0]}
    )
    path = trials_file(tmp_path / "t.nwb", [np.linspace(0, 5, 40)], trials)
    with pytest.raises(ns.NWBLayoutError, match=r"1 rows with missing values in stimulus column 'orientation'.*rows="):
        load_nwb(path, stimulus=("trials", "orientation"))
    ds = load_nwb(path, stimulus=("trials", "orientation"), rows=lambda t: t.orientation.notna(), progress=False)
    assert list(ds["stimulus"].values) == [0, 90] and ds.attrs["n_rows_dropped"] == 1


def test_ambiguous_tables_list_every_candidate_and_argument(tmp_path):
    from pynwb.epoch import TimeIntervals

    nwbfile = new_nwbfile()
    add_units(nwbfile, [np.linspace(0, 10, 30)])
    for name in ("gratings", "natural_scenes"):
        table = TimeIntervals(name=name, description=name)
        table.add_column(name="frame", description="f")
        for i in range(4):
            table.add_row(start_time=float(i), stop_time=i + 0.5, frame=i % 2)
        nwbfile.add_time_intervals(table)
    path = write(nwbfile, tmp_path / "two.nwb")
    with pytest.raises(ns.NWBLayoutError) as err:
        load_nwb(path)
    msg = str(err.value)
    assert "2 TimeIntervals candidates" in msg
    assert "stimulus='gratings'" in msg and "stimulus='natural_scenes'" in msg and "stimulus='bins'" in msg
    ds = load_nwb(path, stimulus="natural_scenes", progress=False)
    assert ds.attrs["stimulus_columns"] == ["frame"] and list(ds["stimulus"].values) == [0, 1]


def test_no_presentations_at_all_points_to_bins(tmp_path):
    nwbfile = new_nwbfile()
    add_units(nwbfile, [np.linspace(0, 10, 30)])
    path = write(nwbfile, tmp_path / "spont.nwb")
    with pytest.raises(ns.NWBLayoutError, match="found no presentations.*stimulus='bins', bin_size="):
        load_nwb(path)
    with pytest.raises(ns.NWBLayoutError, match="no bin_size"):
        load_nwb(path, stimulus="bins")
    with pytest.raises(ns.NWBLayoutError, match="epochs='nap'.*tables"):
        load_nwb(path, stimulus="bins", bin_size=1.0, epochs="nap")


def test_units_selection_that_selects_nothing_or_unknown_ids(sim_path):
    with pytest.raises(ns.NWBLayoutError, match="selected none of the 3 units.*quality"):
        load_nwb(sim_path, window=(0, 0.1), units=lambda df: df.quality == "excellent")
    with pytest.raises(ns.NWBLayoutError, match=r"unit ids 99 that are not in the file.*1, 2, 3"):
        load_nwb(sim_path, window=(0, 0.1), units=[1, 99])
    with pytest.raises(ns.NWBLayoutError, match=r"shape \(2,\); expected \(3,\)"):
        load_nwb(sim_path, window=(0, 0.1), units=[True, False])


def test_unknown_measure_and_misplaced_options(sim_path):
    with pytest.raises(ns.NWBLayoutError, match="measure='bold'"):
        load_nwb(sim_path, measure="bold")
    with pytest.raises(ns.NWBLayoutError, match="epochs="):
        load_nwb(sim_path, window=(0, 0.1), epochs="presentations")
    with pytest.raises(ns.NWBLayoutError, match="time bins only"):
        load_nwb(sim_path, stimulus="bins", bin_size=0.1, window=(0, 0.1))
    with pytest.raises(ns.NWBLayoutError, match="IndexSeries"):
        load_nwb(sim_path, stimulus="presentations_index", align="start_time", window=(0, 0.1))


def test_all_zero_counts_warn_but_return(sim_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_nwb(sim_path, window=(-1.0, -0.999), progress=False)
    assert float(ds["responses"].sum()) == 0.0
    assert any("every count is zero" in str(w.message) and issubclass(w.category, ns.NeurosuperWarning) for w in caught)


def test_url_with_an_unknown_protocol(sim_path):
    pytest.importorskip("fsspec")
    with pytest.raises(ns.NWBLayoutError, match="fsspec cannot serve protocol 'nosuchproto'"):
        load_nwb("nosuchproto://bucket/file.nwb")
    with pytest.raises(ns.FormatError, match="no such file"):
        load_nwb(f"file://{sim_path.parent}/absent.nwb")
