"""Fixes found by benchmarks/bench_scaling.py (issue 22 §3): the same numbers, less time or memory."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper import interpret
from neurosuper.interpret import similarity as sim


@pytest.mark.parametrize(
    "x",
    [
        np.array([3, 1, 3, 0, 7, 1], dtype=np.int64),
        np.array([5], dtype=np.int32),
        np.array([], dtype=np.int64),
        np.random.default_rng(0).integers(0, 1000, 50_000),  # dense: the mask path
        np.array([2, 10**9, 2]),  # sparse: np.unique
        np.array([-1, 4, 4, 0]),  # negative: np.unique
        np.array([0.5, 0.25, 0.5]),  # not integers: np.unique
    ],
)
def test_unique_positions_equals_numpy_unique(x):
    used, inv = sim.unique_positions(x)
    ref_used, ref_inv = np.unique(x, return_inverse=True)
    assert used.dtype == ref_used.dtype
    np.testing.assert_array_equal(used, ref_used)
    np.testing.assert_array_equal(inv, ref_inv.ravel())
    np.testing.assert_array_equal(used[inv], x)


def _ii_set(n: int, p: int) -> xr.Dataset:
    rng = np.random.default_rng(1)
    feats = rng.standard_normal((n, 8))
    x = np.maximum(feats @ rng.standard_normal((8, p)) + rng.standard_normal((n, p)), 0)
    return ns.from_array(
        x, system="network", measure="activation", stimuli=xr.DataArray(feats, dims=("stimulus", "feature"))
    )


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_interpretability_index_unchanged_by_unique_positions(monkeypatch, metric):
    """Above 4,096 stimuli the population test calls EmbeddingSpace.distances on millions of pairs; with the
    sort-free unique the whole result is identical (to 1e-12) to the np.unique path it replaced."""
    ds = _ii_set(5000, 40)
    backend = interpret.Features(metric=metric)
    kw = dict(similarity=backend, n_null=2000, n_permutations=50, progress=False)
    new = interpret.interpretability_index(ds, **kw)
    monkeypatch.setattr(sim, "unique_positions", lambda x: np.unique(np.asarray(x).ravel(), return_inverse=True))
    old = interpret.interpretability_index(ds, **kw)
    for name in ("ii", "ii_null", "ii_p", "ii_population_null", "p_population"):
        np.testing.assert_allclose(new[name].values, old[name].values, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(new["mei"].values, old["mei"].values)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [3, 4, 57])
def test_condensed_equals_triu_indices(n, dtype):
    from scipy.spatial.distance import squareform

    from neurosuper import compare as cmp
    from neurosuper.compare.rdm import condensed

    x = np.random.default_rng(n).standard_normal((n, 6)).astype(dtype)
    d = cmp.rdm(ns.from_array(x, system="network", measure="activation"), progress=False)
    d = d.astype(dtype)
    v = condensed(d)
    ref = np.asarray(d.values, dtype=np.float64)[np.triu_indices(n, 1)]
    assert v.dtype == np.float64
    np.testing.assert_array_equal(v, ref)  # bitwise: the same elements, the same order
    np.testing.assert_array_equal(v, squareform(np.asarray(d.values, dtype=np.float64), checks=False))
