"""load_nwb on generated files: counts equal the planted truth and a brute-force reference for every source."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _nwb_helpers import alm_like, brute_count, brute_layout, trials_file

import neurosuper as ns
from neurosuper.io.nwb import load_nwb, nwb_sources, simulate_session


@pytest.fixture(scope="module")
def sim():
    return simulate_session(n_units=6, n_stimuli=5, n_repeats=4, drop=0.25, seed=3)


@pytest.fixture(scope="module")
def sim_path(sim, tmp_path_factory):
    return sim.write(tmp_path_factory.mktemp("nwb") / "sim.nwb")


def test_index_series_is_auto_detected_and_counts_equal_the_planted_truth(sim, sim_path):
    ds = load_nwb(sim_path, window=(0.0, sim.duration), progress=False)
    assert ds.attrs["stimulus_source"] == "IndexSeries" and ds.attrs["stimulus_table"] == "presentations_index"
    assert ds["responses"].dims == ("repeat", "stimulus", "unit")
    assert list(ds["stimulus"].values) == list(sim.stimulus_ids)
    np.testing.assert_array_equal(ds["responses"].values, sim.counts)
    # NaN exactly where a stimulus had fewer presentations; n_repeats counts them
    n_repeats = (~np.isnan(sim.counts[:, :, 0])).sum(axis=0)
    np.testing.assert_array_equal(ds["n_repeats"].values, n_repeats)
    assert np.isnan(sim.counts).any(), "the fixture should drop some presentations"
    # the Images template became the stimuli variable, in stimulus order
    np.testing.assert_array_equal(ds["stimuli"].values, sim.images)
    assert ds["stimuli"].dims == ("stimulus", "y", "x")
    # onset(repeat, stimulus): chronological within each stimulus, equal to the table's start times
    table = sim.presentations
    for s, sid in enumerate(sim.stimulus_ids):
        starts = np.sort(table.start_time[table.stimulus == sid].to_numpy())
        np.testing.assert_allclose(ds["onset"].values[: starts.size, s], starts)
        assert np.isnan(ds["onset"].values[starts.size :, s]).all()
    # unit metadata: columns, area from the electrodes' location, spikes per unit
    np.testing.assert_array_equal(ds["unit"].values, sim.unit_ids)
    assert list(ds["quality"].values) == list(sim.units.quality)
    assert list(ds["area"].values) == list(sim.units.area)
    np.testing.assert_array_equal(ds["n_spikes"].values, [t.size for t in sim.spike_times])
    assert ds.attrs["system"] == "brain" and ds.attrs["measure"] == "spike_count"
    assert ds.attrs["window"] == [0.0, sim.duration] and ds.attrs["subject_id"] == "sim"
    ns.validate(ds)


def test_table_source_uses_stop_times_and_keeps_constant_columns_as_coords(sim, sim_path):
    ds = load_nwb(sim_path, stimulus="presentations", progress=False)
    assert ds.attrs["stimulus_source"] == "TimeIntervals" and ds.attrs["stimulus_columns"] == ["stimulus"]
    assert ds.attrs["window"] is None
    np.testing.assert_array_equal(ds["responses"].values, sim.counts)
    expected_category = [f"cat{i % 3}" for i in range(5)]
    assert list(ds["category"].values) == expected_category
    assert ds["repeat"].dims == ("repeat",)  # the table's varying 'repeat' column did not become a coord
    np.testing.assert_array_equal(ds["stimuli"].values, sim.images)  # matched by image names
    same = load_nwb(sim_path, stimulus=("presentations", "stimulus"), progress=False)
    np.testing.assert_array_equal(same["responses"].values, ds["responses"].values)


def test_sources_list_every_candidate_with_its_argument(sim_path):
    found = nwb_sources(sim_path)
    assert [(c.kind, c.name) for c in found] == [
        ("IndexSeries", "presentations_index"),
        ("TimeIntervals", "presentations"),
    ]
    assert found[0].argument == "stimulus='presentations_index'" and not found[0].has_stop
    assert found[1].has_stop and found[1].columns == ["stimulus", "category", "repeat"]


@pytest.mark.parametrize("window", [(-0.3, 0.5), (0.05, 0.15), (-2.0, -1.5), (500.0, 501.0), (-5.0, 0.0)])
def test_shifted_overlapping_and_outside_windows_match_brute_force(sim, sim_path, window):
    table = sim.presentations
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_nwb(sim_path, window=window, progress=False)
    ref = brute_layout(
        sim.spike_times, table.start_time.to_numpy(), table.stimulus.to_numpy(), sim.stimulus_ids, list(window)
    )[:, :, 0, :]
    np.testing.assert_array_equal(ds["responses"].values, ref)
    silent = [
        w for w in caught if issubclass(w.category, ns.NeurosuperWarning) and "every count is zero" in str(w.message)
    ]
    assert bool(silent) == (np.nansum(ref) == 0)
    if window == (-0.3, 0.5):  # neighbouring windows overlap: spikes are counted in both
        assert np.nansum(ref) > sum(t.size for t in sim.spike_times) * 0.5


def test_time_bins_match_brute_force_and_sum_to_the_window(sim, sim_path):
    window, bin_size = (-0.1, 0.3), 0.05
    ds = load_nwb(sim_path, window=window, bin_size=bin_size, progress=False)
    assert ds["responses"].dims == ("repeat", "stimulus", "time", "unit")
    np.testing.assert_allclose(ds["time"].values, np.arange(-0.075, 0.3, 0.05))
    edges = list(np.linspace(-0.1, 0.3, 9))
    table = sim.presentations
    ref = brute_layout(sim.spike_times, table.start_time.to_numpy(), table.stimulus.to_numpy(), sim.stimulus_ids, edges)
    np.testing.assert_array_equal(ds["responses"].values, ref)
    whole = load_nwb(sim_path, window=window, progress=False)
    np.testing.assert_array_equal(ds["responses"].sum("time", skipna=False).values, whole["responses"].values)
    assert ds.attrs["bin_size"] == bin_size
    # default window with bins: the presentations' own (equal) duration
    own = load_nwb(sim_path, stimulus="presentations", bin_size=0.1, progress=False)
    np.testing.assert_array_equal(own["responses"].sum("time", skipna=False).values, sim.counts)


def test_spike_rate_is_count_over_window(sim, sim_path):
    counts = load_nwb(sim_path, window=(0.0, 0.2), progress=False)
    rates = load_nwb(sim_path, window=(0.0, 0.2), measure="spike_rate", progress=False)
    np.testing.assert_allclose(rates["responses"].values, counts["responses"].values / 0.2)
    assert rates.attrs["measure"] == "spike_rate"


def test_unsorted_spike_times_are_sorted_per_unit(tmp_path):
    sim = simulate_session(n_units=4, n_stimuli=3, n_repeats=3, unsorted=True, seed=5)
    assert not all(np.all(np.diff(t) >= 0) for t in sim.spike_times)
    path = sim.write(tmp_path / "unsorted.nwb", sort_spikes=False)
    ds = load_nwb(path, stimulus="presentations", progress=False)
    assert ds.attrs["n_units_resorted"] == 4
    np.testing.assert_array_equal(ds["responses"].values, sim.counts)


def test_units_selection_by_mask_ids_and_callable(sim, sim_path):
    full = load_nwb(sim_path, window=(0, 0.2), progress=False)
    good = load_nwb(sim_path, window=(0, 0.2), units=lambda df: df.quality == "good", progress=False)
    keep = sim.units.quality.to_numpy() == "good"
    np.testing.assert_array_equal(good["unit"].values, sim.unit_ids[keep])
    np.testing.assert_array_equal(good["responses"].values, full["responses"].values[..., keep])
    by_mask = load_nwb(sim_path, window=(0, 0.2), units=keep, progress=False)
    np.testing.assert_array_equal(by_mask["responses"].values, good["responses"].values)
    by_ids = load_nwb(sim_path, window=(0, 0.2), units=[6, 2], progress=False)
    np.testing.assert_array_equal(by_ids["unit"].values, [6, 2])
    np.testing.assert_array_equal(by_ids["responses"].values, full["responses"].sel(unit=[6, 2]).values)
    busy = load_nwb(
        sim_path, window=(0, 0.2), units=lambda df: df.index[df.n_spikes > df.n_spikes.median()], progress=False
    )
    assert busy.sizes["unit"] == 3


def test_rows_filter_keeps_some_presentations(sim, sim_path):
    ds = load_nwb(sim_path, stimulus="presentations", rows=lambda t: t.repeat < 2, progress=False)
    assert ds.sizes["repeat"] == 2 and ds.attrs["n_rows_dropped"] == int((sim.presentations.repeat >= 2).sum())
    np.testing.assert_array_equal(ds["responses"].values, sim.counts[:2])


def test_trials_with_several_columns_align_and_relative_times(tmp_path):
    rng = np.random.default_rng(11)
    trains, trials = alm_like(rng)
    path = trials_file(tmp_path / "trials.nwb", trains, trials, location="brain_region: ALM; hemisphere: left")
    with pytest.warns(ns.NeurosuperWarning, match="relative to the row start"):
        ds = load_nwb(
            path, stimulus=("trials", ["type", "response"]), window=(-0.5, 1.0), align="cue_start_time", progress=False
        )
    combos = sorted({f"{a}|{b}" for a, b in zip(trials.type, trials.response, strict=True)})
    assert list(ds["stimulus"].values) == combos
    assert [f"{a}|{b}" for a, b in zip(ds["type"].values, ds["response"].values, strict=True)] == combos
    assert ds.attrs["align"] == "cue_start_time" and ds.attrs["align_relative"] is True
    assert ds.attrs["stimulus_columns"] == ["type", "response"]
    assert ds.attrs["n_units_resorted"] == 3
    onsets = trials.start_time.to_numpy() + trials.cue_start_time.to_numpy()
    ids = np.asarray([f"{a}|{b}" for a, b in zip(trials.type, trials.response, strict=True)])
    ref = brute_layout(trains, onsets, ids, combos, [-0.5, 1.0])[:, :, 0, :]
    np.testing.assert_array_equal(ds["responses"].values, ref)
    np.testing.assert_allclose(ds["onset"].values[0, 0], onsets[ids == combos[0]].min())
    assert set(ds["area"].values) == {"ALM"}
    assert ds.attrs["species"] == "Mus musculus" and ds.attrs["session_start_time"].startswith("2021-05-04")
    # one stimulus per trial: the 'id' column, no repeat dim
    per_trial = load_nwb(path, stimulus=("trials", "id"), window=(0.0, 2.0), progress=False)
    assert per_trial["responses"].dims == ("stimulus", "unit") and per_trial.sizes["stimulus"] == len(trials)
    expected = [[brute_count(t, a, a + 2.0) for t in trains] for a in trials.start_time]
    np.testing.assert_array_equal(per_trial["responses"].values, expected)


def test_bins_over_the_recording_and_over_epochs(sim, sim_path):
    ds = load_nwb(sim_path, stimulus="bins", bin_size=0.5, progress=False)
    assert ds["responses"].dims == ("stimulus", "unit") and ds.attrs["stimulus_source"] == "bins"
    first = min(t.min() for t in sim.spike_times)
    last = max(t.max() for t in sim.spike_times)
    edges = np.arange(np.floor(first / 0.5), np.floor(last / 0.5) + 2) * 0.5
    np.testing.assert_allclose(ds["start_time"].values, edges[:-1])
    expected = np.stack([np.histogram(t, edges)[0] for t in sim.spike_times], axis=1)
    np.testing.assert_array_equal(ds["responses"].values, expected)
    assert ds["responses"].sum() == sim.n_spikes
    part = load_nwb(sim_path, stimulus="bins", bin_size=0.25, epochs=(2.0, 4.1), progress=False)
    assert part.sizes["stimulus"] == 8  # the trailing 0.1 s is not a whole bin
    exp = [[brute_count(t, 2.0 + 0.25 * k, 2.0 + 0.25 * (k + 1)) for t in sim.spike_times] for k in range(8)]
    np.testing.assert_array_equal(part["responses"].values, exp)
    table = load_nwb(sim_path, stimulus="bins", bin_size=0.1, epochs="presentations", progress=False)
    assert table.sizes["stimulus"] == 2 * len(sim.presentations)
    np.testing.assert_array_equal(table["responses"].values.reshape(-1, 2, 6).sum(axis=1), _chronological(sim))


def _chronological(sim) -> np.ndarray:
    table = sim.presentations
    codes = np.searchsorted(sim.stimulus_ids, table.stimulus.to_numpy())
    return sim.counts[table.repeat.to_numpy(), codes]


def test_file_url_through_fsspec_gives_the_same_counts(sim, sim_path):
    pytest.importorskip("fsspec")
    url = f"file://{sim_path}"
    ds = load_nwb(url, window=(0.0, 0.2), progress=False)
    np.testing.assert_array_equal(ds["responses"].values, sim.counts)
    np.testing.assert_array_equal(ds["stimuli"].values, sim.images)
    assert ds.attrs["source"] == url


def test_file_is_closed_and_unchanged_after_loading(sim_path, tmp_path):
    import hashlib

    import h5py

    before = hashlib.sha256(sim_path.read_bytes()).hexdigest()
    load_nwb(sim_path, window=(0.0, 0.2), progress=False)
    with pytest.raises(ns.NWBLayoutError):
        load_nwb(sim_path, stimulus=("presentations", "nope"), progress=False)
    assert hashlib.sha256(sim_path.read_bytes()).hexdigest() == before
    copy = tmp_path / "copy.nwb"
    copy.write_bytes(sim_path.read_bytes())
    load_nwb(copy, window=(0.0, 0.2), progress=False)
    with h5py.File(copy, "a") as fh:  # fails if any handle of ours were still open read-only
        fh.attrs["touched"] = 1


def test_import_neurosuper_does_not_import_pynwb():
    import subprocess
    import sys

    code = "import sys, neurosuper; print(int('pynwb' in sys.modules), int('h5py' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "0"


@pytest.mark.parametrize("block", [1, 7, 2**22])
def test_spike_times_read_in_blocks_equal_each_units_own_spikes(tmp_path, block):
    from neurosuper.io.nwb._open import open_nwb
    from neurosuper.io.nwb.units import read_units

    sim = simulate_session(n_units=5, n_stimuli=3, n_repeats=2, unsorted=True, seed=12)
    path = sim.write(tmp_path / "blocks.nwb", sort_spikes=False)
    rows = [3, 0, 1, 2, 4]  # a run of consecutive rows and two lone ones
    with open_nwb(path) as opened:
        table = read_units(opened.nwbfile, str(path))
        got = [(r, t.copy(), u) for r, t, u in table.spike_times(rows, block=block)]  # views of a reused buffer
    assert [r for r, _, _ in got] == rows
    for row, times, unsorted in got:
        np.testing.assert_array_equal(times, np.sort(sim.spike_times[row]))
        assert unsorted


def test_results_on_a_loaded_recording_name_the_nwb_file_and_its_sha256(tmp_path):
    import hashlib

    from neurosuper._provenance import stamp

    trials = pd.DataFrame(
        {"start_time": np.arange(6.0), "stop_time": np.arange(6.0) + 0.8, "stimulus_id": ["a", "b"] * 3}
    )
    path = Path(trials_file(tmp_path / "t.nwb", [np.sort(np.random.default_rng(0).uniform(0, 6, 50))], trials))
    ds = ns.load_nwb(path, stimulus=("trials", "stimulus_id"), window=(0.0, 0.5))
    (record,) = stamp(ds[["responses"]].copy(), analysis="x", reference="y", inputs_from=ds).attrs["inputs"]
    assert record["path"] == str(path.resolve())
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
