"""The same set with its stimuli stored in another order gives the same numbers with the same seed (issue 23, §5):
the spectrum's bootstrap, the interpretability nulls, the directions' fit/score split and the capacity of the
discovered features draw stimuli by id (:func:`neurosuper.prep.by_stimulus_id`), not by storage position."""

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
from neurosuper.prep import by_stimulus_id

ORDERS = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def brain():
    ds, _ = brain_and_network(48, n_brain=12, areas=(("V1", 12),), seed=3)
    return ds


def _analyses(ds: xr.Dataset) -> list[xr.Dataset]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        return [
            ns.spectral.eigenspectrum(ds, method="pca", n_boot=20, groupby=None, progress=False),
            ns.spectral.eigenspectrum(ds, method="cvpca", n_boot=20, groupby=None, progress=False),
            ns.interpret.interpretability_index(
                ds, similarity="pixels", null="random_stimuli", n_null=50, k=3, progress=False
            ),
            ns.directions.compare_methods(ds, ("units", "pca"), similarity="pixels", k=3, split=0.5, progress=False),
            ns.capacity.feature_capacity(ds, method="pca", n_directions=6, groupby=None, progress=False),
        ]


@given(perm_seed=st.integers(0, 2**32 - 1))
@ORDERS
def test_results_do_not_depend_on_the_order_the_stimuli_are_stored_in(brain, perm_seed):
    order = np.random.default_rng(perm_seed).permutation(brain.sizes["stimulus"])
    shuffled = brain.isel(stimulus=order)
    for a, b in zip(_analyses(brain), _analyses(shuffled), strict=True):
        assert_same_by_id(a, b)


def test_by_stimulus_id_sorts_only_when_needed(brain):
    assert by_stimulus_id(brain) is brain  # already in id order: no copy
    shuffled = brain.isel(stimulus=np.arange(brain.sizes["stimulus"])[::-1])
    xr.testing.assert_identical(by_stimulus_id(shuffled), brain)
    assert by_stimulus_id(brain["responses"].isel(stimulus=0)) is not None  # no stimulus dim: returned as is


def test_features_given_as_an_array_stay_aligned_with_their_stimuli(brain):
    """``Features(features=array)`` is in the set's storage order: it moves with its stimuli."""
    from neurosuper.interpret.similarity import Features

    order = np.random.default_rng(1).permutation(brain.sizes["stimulus"])
    feats = np.random.default_rng(2).normal(size=(brain.sizes["stimulus"], 4))
    a = ns.interpret.interpretability_index(brain, similarity=Features(features=feats), null="none", k=3)
    b = ns.interpret.interpretability_index(
        brain.isel(stimulus=order), similarity=Features(features=feats[order]), null="none", k=3
    )
    assert_same_by_id(a, b)
