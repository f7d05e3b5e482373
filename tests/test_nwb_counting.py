"""The counting kernels against brute force, on random spikes, windows and bins (edges hit exactly too)."""

from __future__ import annotations

import numpy as np
import pytest
from _nwb_helpers import brute_count, grid_windows
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosuper as ns
from neurosuper.io.nwb.counting import (
    EdgeLookup,
    count_binned,
    count_in_windows,
    count_searched,
    make_windows,
    mean_in_windows,
    repeat_index,
)

grid = st.integers(0, 400).map(lambda k: k * 0.025)  # spikes and onsets on a grid, so edges are hit exactly


@settings(max_examples=60, deadline=None)
@given(
    spikes=st.lists(grid, max_size=60),
    onsets=st.lists(grid, min_size=1, max_size=12),
    w0=st.integers(-8, 4).map(lambda k: k * 0.025),
    n_bins=st.integers(1, 4),
    width=st.integers(1, 6),
)
def test_kernels_equal_brute_force(spikes, onsets, w0, n_bins, width):
    times = np.sort(np.asarray(spikes, dtype=np.float64))
    win = grid_windows(onsets, w0, n_bins, width)
    expected = np.asarray([[brute_count(times, row[k], row[k + 1]) for k in range(row.size - 1)] for row in win.edges])
    np.testing.assert_array_equal(count_searched(times, win), expected)
    np.testing.assert_array_equal(count_in_windows(times, win), expected)
    if win.monotonic:
        np.testing.assert_array_equal(count_binned(times, win), expected)
        win.lookup = None  # the plain searchsorted binning
        np.testing.assert_array_equal(count_binned(times, win), expected)


@settings(max_examples=80, deadline=None)
@given(
    edges=st.lists(st.one_of(grid, st.floats(-5, 15)), min_size=2, max_size=80),
    queries=st.lists(st.one_of(grid, st.floats(-20, 30)), max_size=80),
)
def test_edge_lookup_equals_searchsorted(edges, queries):
    edges = np.sort(np.asarray(edges + edges[:3], dtype=np.float64))  # some duplicated edges
    t = np.asarray(queries + edges.tolist(), dtype=np.float64)  # every edge queried exactly too
    lookup = EdgeLookup.build(edges, max_depth=10**6)
    if lookup is None:  # all edges equal
        assert edges[0] == edges[-1]
        return
    np.testing.assert_array_equal(lookup.count_le(t), np.searchsorted(edges, t, side="right"))


def test_edge_lookup_is_used_for_regular_presentations():
    onset = 1.0 + np.arange(1000) * 0.5
    win = make_windows(onset, onset, onset + 0.25, window=None, bin_size=None, what="t")
    assert win.lookup is not None and win.lookup.depth <= 2
    far = np.array([0.0, 1e6])
    clustered = make_windows(far, far, far, window=(0.0, 0.01), bin_size=1e-5, what="t")
    assert clustered.lookup is None  # 2002 edges in 2 clusters 1e6 s apart: too deep for the grid
    times = np.sort(np.concatenate([np.random.default_rng(0).uniform(0, 0.01, 500), [1e6 + 0.005]]))
    counts = count_in_windows(times, clustered)  # falls back to np.searchsorted
    assert counts[0].sum() == 500 and counts[1].sum() == 1


def test_touching_windows_give_each_spike_to_exactly_one():
    onset = np.array([0.0, 1.0, 2.0])
    win = make_windows(onset, onset, onset + 1.0, window=None, bin_size=None, what="t")
    assert win.monotonic
    times = np.array([0.0, 0.5, 1.0, 1.0, 2.999, 3.0])
    np.testing.assert_array_equal(count_binned(times, win)[:, 0], [2, 2, 1])
    np.testing.assert_array_equal(count_searched(times, win)[:, 0], [2, 2, 1])


def test_overlapping_windows_use_search_and_count_spikes_twice():
    onset = np.array([0.0, 0.5])
    win = make_windows(onset, onset, onset, window=(0.0, 1.0), bin_size=None, what="t")
    assert not win.monotonic
    np.testing.assert_array_equal(count_in_windows(np.array([0.7]), win)[:, 0], [1, 1])


def test_unsorted_presentations_are_binned_in_file_order():
    onset = np.array([5.0, 1.0, 3.0])
    win = make_windows(onset, onset, onset, window=(0.0, 1.0), bin_size=None, what="t")
    times = np.array([1.5, 3.2, 3.4, 5.1, 5.2, 5.3])
    np.testing.assert_array_equal(count_binned(times, win)[:, 0], [3, 1, 2])


def test_repeat_index_is_chronological_per_stimulus():
    codes = np.array([1, 0, 1, 1, 0])
    onset = np.array([3.0, 9.0, 1.0, 2.0, 0.5])
    rep, n = repeat_index(codes, onset, 3)
    np.testing.assert_array_equal(rep, [2, 1, 0, 1, 0])
    np.testing.assert_array_equal(n, [2, 3, 0])


def test_mean_in_windows_equals_frame_means():
    t = np.arange(100) / 10.0
    data = np.random.default_rng(0).normal(size=(100, 3))
    onset = np.array([1.0, 4.05, 7.0])
    win = make_windows(onset, onset, onset, window=(0.0, 0.5), bin_size=0.25, what="t")
    got = mean_in_windows(t, data, win, "t")
    for i, a in enumerate(onset):
        for k in range(2):
            lo, hi = a + 0.25 * k, a + 0.25 * (k + 1)
            np.testing.assert_allclose(got[i, k], data[(t >= lo) & (t < hi)].mean(axis=0))
    with pytest.raises(ns.NWBLayoutError, match="without any imaging frame"):
        mean_in_windows(t, data, make_windows(onset, onset, onset, window=(0, 0.05), bin_size=None, what="t"), "t")
