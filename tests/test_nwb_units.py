"""The units table (io.nwb.units) and NaN spike times: dropped with a warning that counts them, never counted,
never fooling the sortedness check; counts equal a plain numpy brute force for any windows (overlapping, unsorted,
binned), sorted or unsorted trains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _nwb_helpers import add_units, grid_windows, new_nwbfile, np_count, trials_file, write
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosuper as ns
from neurosuper.io.nwb import load_nwb
from neurosuper.io.nwb.counting import count_in_windows
from neurosuper.io.nwb.units import UnitsTable

grid = st.integers(0, 400).map(lambda k: k * 0.025)  # spikes and onsets on a grid, so edges are hit exactly
train = st.lists(st.one_of(grid, st.just(float("nan"))), max_size=40)


def _brute(trains: list[np.ndarray], edges: np.ndarray) -> np.ndarray:
    """(unit, presentation, bin) counts: spikes t with edges[p, k] <= t < edges[p, k + 1], by numpy comparison."""
    return np.asarray(
        [[[np_count(t, row[k], row[k + 1]) for k in range(row.size - 1)] for row in edges] for t in trains]
    )


def _table(trains: list[np.ndarray]) -> UnitsTable:
    flat = np.concatenate([np.asarray(t, dtype=np.float64) for t in trains] + [np.empty(0)])
    ends = np.cumsum([len(t) for t in trains]).astype(np.int64)
    ids = np.arange(len(trains))
    meta = pd.DataFrame({"n_spikes": np.diff(np.concatenate([[0], ends]))}, index=pd.Index(ids, name="unit"))
    return UnitsTable(ids=ids, meta=meta, ends=ends, spikes=flat)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    trains=st.lists(train, min_size=1, max_size=4),
    sort=st.lists(st.booleans(), min_size=4, max_size=4),
    onsets=st.lists(grid, min_size=1, max_size=10),
    w0=st.integers(-8, 4).map(lambda k: k * 0.025),
    n_bins=st.integers(1, 3),
    width=st.integers(1, 80),
    block=st.sampled_from([1, 3, 2**22]),
)
def test_counts_equal_brute_force_for_any_windows_with_nan_spikes(trains, sort, onsets, w0, n_bins, width, block):
    """Sorted trains with NaNs inside (np.sort puts them last; here they stay where they are, as in a file),
    unsorted ones, overlapping windows (width up to 2 s on onsets 25 ms apart), unsorted onsets, time bins."""
    trains = [np.asarray(t, dtype=np.float64) for t in trains]
    for i, t in enumerate(trains):
        if sort[i]:  # sort the finite spikes in place, keeping the NaNs at their positions
            finite = ~np.isnan(t)
            t[finite] = np.sort(t[finite])
    win = grid_windows(onsets, w0, n_bins, width)
    table = _table(trains)
    got = np.stack([count_in_windows(times, win) for _, times, _ in table.spike_times(range(len(trains)), block=block)])
    np.testing.assert_array_equal(got, _brute(trains, win.edges))
    assert table.nan_dropped == {i: int(np.isnan(t).sum()) for i, t in enumerate(trains) if np.isnan(t).any()}


def test_nan_inside_a_sorted_train_does_not_fool_the_sortedness_check():
    # sorted apart from a NaN: every "times[1:] < times[:-1]" comparison with the NaN is False
    table = _table([np.array([5.0, 1.0, np.nan, 3.0]), np.array([1.0, 2.0, np.nan, 3.0]), np.array([np.nan])])
    out = [(row, times.copy(), unsorted) for row, times, unsorted in table.spike_times([0, 1, 2])]
    np.testing.assert_array_equal(out[0][1], [1.0, 3.0, 5.0])
    assert out[0][2] is True and out[1][2] is False
    np.testing.assert_array_equal(out[1][1], [1.0, 2.0, 3.0])
    assert out[2][1].size == 0 and table.nan_dropped == {0: 1, 1: 1, 2: 1}


@pytest.fixture(scope="module")
def nan_file(tmp_path_factory):
    """Trials 1 s apart (0.5 s long) and five units: clean sorted, sorted with NaNs inside, unsorted with NaNs,
    all NaN, and NaNs at the ends of a sorted train."""
    rng = np.random.default_rng(21)
    n = 60
    start = 1.0 + np.arange(n) * 1.0
    trials = pd.DataFrame({"start_time": start, "stop_time": start + 0.5, "kind": rng.choice(["a", "b", "c"], n)})
    clean = np.sort(rng.uniform(0, n + 4, 1500))
    inside = clean.copy()
    inside[rng.choice(clean.size, 40, replace=False)] = np.nan
    unsorted = rng.permutation(inside)
    ends = np.concatenate([[np.nan, np.nan], np.sort(rng.uniform(0, n + 4, 500)), [np.nan]])
    trains = [clean, inside, unsorted, np.full(5, np.nan), ends]
    path = trials_file(tmp_path_factory.mktemp("nan") / "nan.nwb", trains, trials)
    return path, trains, trials


@pytest.mark.parametrize(
    "window,bin_size", [((0.0, 3.0), None), ((-0.25, 2.75), 0.25), ((0.0, 0.5), None), (None, None)]
)
def test_load_nwb_equals_brute_force_with_nan_spikes_and_overlapping_windows(nan_file, window, bin_size):
    path, trains, trials = nan_file
    with pytest.warns(ns.NeurosuperWarning, match=r"dropped 88 NaN spike times of 4 of 5 units") as record:
        ds = load_nwb(path, stimulus=("trials", "id"), window=window, bin_size=bin_size, progress=False)
    assert "unit ids 101, 102, 103, 104" in str(record[0].message)
    start = trials.start_time.to_numpy()
    if window is None:
        edges = np.stack([start, trials.stop_time.to_numpy()], axis=1)
    else:
        k = int(round((window[1] - window[0]) / (bin_size or window[1] - window[0])))
        rel = window[0] + np.arange(k + 1) * (bin_size or window[1] - window[0])
        edges = start[:, None] + rel[None, :]
    expected = _brute(trains, edges)  # (unit, trial, bin)
    got = ds["responses"].values
    got = got.transpose(2, 0, 1) if bin_size else got.T[:, :, None]  # (trial, time?, unit) -> (unit, trial, bin)
    np.testing.assert_array_equal(got, expected)
    # the case: windows (0, 3) on trials 1 s apart overlap, so each spike is counted up to 3 times
    if window == (0.0, 3.0):
        assert expected[1].sum() > np.isfinite(trains[1]).sum() * 2
    # n_spikes counts the finite spikes only; the dropped NaNs are recorded
    np.testing.assert_array_equal(ds["n_spikes"].values, [int(np.isfinite(t).sum()) for t in trains])
    assert ds.attrs["n_spike_times_nan"] == 88 and ds.attrs["n_units_resorted"] == 1


def test_bins_over_the_recording_ignore_nan_spikes(nan_file):
    path, trains, _ = nan_file
    with pytest.warns(ns.NeurosuperWarning, match="dropped 88 NaN spike times"):
        ds = load_nwb(path, stimulus="bins", bin_size=1.0, progress=False)
    finite = [t[np.isfinite(t)] for t in trains]
    first, last = min(t.min() for t in finite if t.size), max(t.max() for t in finite if t.size)
    edges = np.arange(np.floor(first), np.floor(last) + 2)
    np.testing.assert_allclose(ds["start_time"].values, edges[:-1])
    expected = np.stack([np.histogram(t, edges)[0] for t in finite], axis=1)
    np.testing.assert_array_equal(ds["responses"].values, expected)
    assert float(ds["responses"].sum()) == sum(t.size for t in finite)


def test_no_warning_and_zero_recorded_without_nan(tmp_path):
    import warnings

    nwbfile = new_nwbfile()
    add_units(nwbfile, [np.array([0.5, 1.5, 2.5])])
    nwbfile.add_trial(start_time=0.0, stop_time=2.0)
    nwbfile.add_trial(start_time=2.0, stop_time=3.0)
    path = write(nwbfile, tmp_path / "clean.nwb")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.NeurosuperWarning)
        ds = load_nwb(path, stimulus=("trials", "id"), progress=False)
    assert ds.attrs["n_spike_times_nan"] == 0 and ds["responses"].values.tolist() == [[2.0], [1.0]]
