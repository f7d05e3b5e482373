"""``toy.sweep`` says which cells diverged (issue 23 §5): a :class:`~neurosuper.errors.DivergedWarning` naming the
cells (their settings and how many seeds) and the fix (a lower lr); an error when every cell diverged."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper.errors import AnalysisError, DivergedWarning, NeurosuperWarning
from neurosuper.toy.sweep import _check_cells_diverged


def test_a_sweep_that_diverges_everywhere_is_an_error_with_a_lower_lr():
    with pytest.raises(AnalysisError, match=r"every cell of the sweep \(2 cell\(s\) x 2 seed\(s\)\).*Fix: lower"):
        ns.toy.sweep(20, 5, density=[1.0, 0.1], steps=100, lr=1e6, n_seeds=2, progress=False)


def test_cells_that_diverged_are_named_in_a_warning():
    bad = np.zeros((3, 2, 2), bool)
    bad[0, 1, 0] = True  # density 1, ratio 0.9: one seed of two
    bad[2, 0, :] = True  # density 0.01, ratio 0.5: both seeds
    ds = xr.Dataset(
        {"diverged": (("density", "importance_ratio", "seed"), bad)},
        coords={"density": [1.0, 0.1, 0.01], "importance_ratio": [0.5, 0.9]},
    )
    with pytest.warns(DivergedWarning) as record:
        _check_cells_diverged(ds, ["density", "importance_ratio"], lr=0.5, caller="toy.sweep")
    msg = str(record[0].message)
    assert issubclass(DivergedWarning, NeurosuperWarning)
    assert "in 2 of 6 cell(s)" in msg
    assert "density=1, importance_ratio=0.9 (1 of 2 seeds)" in msg
    assert "density=0.01, importance_ratio=0.5 (2 of 2 seeds)" in msg
    assert "density=0.1" not in msg and "lr=0.001" in msg
    assert ds.attrs["warning"] in msg


def test_a_healthy_sweep_warns_nothing():
    ds = ns.toy.sweep(20, 5, density=[1.0, 0.1], steps=100, lr=1e-3, n_seeds=2, progress=False)
    assert not ds["diverged"].any() and "warning" not in ds.attrs
