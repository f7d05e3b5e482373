"""The comparison (``compare.profile``, ``compare.overview``, ``compare.side_by_side`` and their ``summary``) and
``directions.synergy`` give the same numbers, with the same seed, whatever order the stimuli are stored in (issue
23 §5): they align the sets on their stimulus ids in sorted order (``compare.align``) and draw stimuli by id
(``prep.by_stimulus_id``). A property test over random permutations of either set, compared to 1e-12."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from _format_helpers import assert_same_by_id, brain_and_network
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosuper as ns
from neurosuper.errors import NeurosuperWarning

ORDERS = settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
N = 48


@pytest.fixture(scope="module")
def pair():
    brain, net = brain_and_network(N, seed=3)
    ids = np.array([f"img{i:03d}" for i in (np.arange(N) * 7) % 101])  # text ids, not in storage order
    return brain.assign_coords(stimulus=ids), net.assign_coords(stimulus=ids)


def _summary_numbers(obj, out: list) -> list:
    if isinstance(obj, dict):
        for k in sorted(obj, key=str):
            _summary_numbers(obj[k], out)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _summary_numbers(v, out)
    elif isinstance(obj, bool | int | float | str) or obj is None:
        out.append(obj)
    return out


def _analyses(brain: xr.Dataset, net: xr.Dataset) -> list[xr.Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        return [
            ns.compare.profile(net, brain, n_boot=40, progress=False),
            ns.compare.profile(net, brain, kind="predictivity", n_boot=40, n_splits=4, progress=False),
            ns.compare.overview(net, brain, n_boot=40, progress=False),
            ns.compare.side_by_side(net, brain, n_boot=10, progress=False),
            ns.directions.synergy(brain, similarity="pixels", k=3, n_pairs=8, progress=False),
        ]


@given(perm_seed=st.integers(0, 2**32 - 1), which=st.sampled_from(["brain", "network", "both"]))
@ORDERS
def test_comparison_and_synergy_do_not_depend_on_the_stored_order(pair, perm_seed, which):
    brain, net = pair
    rng = np.random.default_rng(perm_seed)
    b = brain.isel(stimulus=rng.permutation(N)) if which in ("brain", "both") else brain
    n = net.isel(stimulus=rng.permutation(N)) if which in ("network", "both") else net
    before, after = _analyses(brain, net), _analyses(b, n)
    for x, y in zip(before, after, strict=True):
        assert_same_by_id(x, y, atol=1e-12)
    for x, y in zip(before[:3], after[:3], strict=True):  # the summaries the CLI and the report print
        sx, sy = _summary_numbers(ns.compare.summary(x), []), _summary_numbers(ns.compare.summary(y), [])
        assert len(sx) == len(sy)
        for u, v in zip(sx, sy, strict=True):
            if isinstance(u, float) and isinstance(v, float):
                assert (np.isnan(u) and np.isnan(v)) or abs(u - v) <= 1e-12
            else:
                assert u == v
