"""Every analysis runs on a dask-backed set and gives the numbers it gives in memory.

Each analysis either works chunk by chunk or says in its docstring that it loads the data; either way the
result must equal the in-memory one, and the lazy input must not be modified.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper import interpret, spectral


def _population(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    n_stim, n_unit, n_feat = 80, 30, 6
    features = rng.normal(size=(n_stim, n_feat))
    weights = rng.normal(size=(n_feat, n_unit)) / np.arange(1, n_feat + 1)[:, None]
    signal = np.maximum(features @ weights, 0) + 0.2
    counts = rng.poisson(np.broadcast_to(3 * signal, (3, n_stim, n_unit))).astype(float)
    counts[2, :5] = np.nan  # five stimuli missed their third repeat
    return ns.from_array(
        counts, system="brain", measure="spike_count", stimuli=features, area=("unit", ["V1"] * 18 + ["V2"] * 12)
    )


def _lazy(ds: xr.Dataset) -> xr.Dataset:
    out = ds.copy()
    out["responses"] = ds["responses"].chunk({"stimulus": 25})
    assert ns.format.is_lazy(out)
    return out


ANALYSES = {
    "eigenspectrum pca": lambda ds: spectral.eigenspectrum(ds, method="pca", groupby=None, progress=False),
    "eigenspectrum cvpca": lambda ds: spectral.eigenspectrum(
        ds, method="cvpca", n_shuffles=2, groupby=None, progress=False
    ),
    "eigenspectrum per area": lambda ds: spectral.eigenspectrum(ds, method="pca", groupby="area", progress=False),
    "reliability": lambda ds: spectral.reliability(ds),
    "random_projection": lambda ds: spectral.random_projection(ds, seed=1),
    "interpretability_index": lambda ds: interpret.interpretability_index(ds, k=4, null=None, progress=False),
    "psychophysics_2afc": lambda ds: interpret.psychophysics_2afc(ds, n_trials=5, progress=False),
    "selectivity": lambda ds: interpret.selectivity(ds, rectify=True),
}


def _optional() -> dict:
    """The analyses of the directions, capacity and compare packages (present once their issues landed)."""
    out = {}
    try:
        from neurosuper import directions

        out["directions pca"] = lambda ds: directions.find(ds, "pca", 5, seed=0)
        out["directions kmeans"] = lambda ds: directions.find(ds, "kmeans", 4, seed=0)
    except ImportError:
        pass
    try:
        from neurosuper.capacity import feature_capacity

        out["feature_capacity"] = lambda ds: feature_capacity(ds, method="pca", n_directions=5, seed=0)
    except ImportError:
        pass
    try:
        from neurosuper import compare

        out["rdm"] = lambda ds: compare.rdm(ds, metric="correlation")
        out["cka"] = lambda ds: compare.cka(ds, ds.isel(unit=slice(0, 15)))
    except ImportError:
        pass
    return out


def _assert_same(a, b, name: str) -> None:
    if isinstance(a, xr.DataArray):
        a, b = a.to_dataset(name="v"), b.to_dataset(name="v")
    assert set(a.data_vars) == set(b.data_vars), name
    for var in a.data_vars:
        x, y = np.asarray(a[var].values), np.asarray(b[var].values)
        if x.dtype.kind in "fc":
            np.testing.assert_allclose(y, x, rtol=1e-6, atol=1e-9, equal_nan=True, err_msg=f"{name}: {var}")
        else:
            np.testing.assert_array_equal(y, x, err_msg=f"{name}: {var}")


@pytest.mark.parametrize("name", sorted(ANALYSES) + sorted(_optional()))
def test_every_analysis_gives_the_same_numbers_on_a_dask_backed_set(name):
    run = {**ANALYSES, **_optional()}[name]
    ds = _population()
    lazy = _lazy(ds)
    before = lazy.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eager_result = run(ds)
        lazy_result = run(lazy)
    _assert_same(eager_result, lazy_result, name)
    xr.testing.assert_identical(lazy, before)
