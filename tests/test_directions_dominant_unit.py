"""A direction that is one unit says so: the demo brain's "best direction" of units, ICA, PCA and NMF showed the same
five patches with the same II (−0.6922) because one large, sparse, high-variance unit (n0323: SD 4.0 against a
median 0.8 over the 128 units compared) is PCA's first axis, an ICA component and an NMF atom. compare_methods
records each direction's nearest unit and the figure marks such rows and repeated stimulus sets."""

from __future__ import annotations

import numpy as np
import pytest

import neurosuper as ns
from neurosuper.directions import compare_methods

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def dominated():
    """30 untuned noisy units and one (u07) that fires strongly, and only, for class-A stimuli."""
    rng = np.random.default_rng(0)
    n, classes = 400, np.array(list("ABCDEF"))
    label = classes[rng.integers(0, 6, n)]
    R = rng.gamma(2.0, 0.5, (n, 31))
    R[:, 7] = np.where(label == "A", rng.uniform(5, 20, n), 0.0) + 0.1 * rng.random(n)
    return ns.from_array(
        R, system="brain", measure="spike_rate", unit=[f"u{i:02d}" for i in range(31)], label=("stimulus", label)
    )


def test_a_direction_that_is_one_unit_is_recorded_and_marked(dominated):
    from neurosuper.plot.directions import plot_direction_meis

    res = compare_methods(dominated, ("units", "pca", "nmf"), k=5, seed=0, null=None, progress=False)
    assert {"nearest_unit", "nearest_unit_r"} <= set(res.data_vars)
    pc0 = res.sel(direction="pca/0")
    assert str(pc0["nearest_unit"].values) == "u07" and float(pc0["nearest_unit_r"]) > 0.99
    unit = res.sel(direction="units/u07")
    assert str(unit["nearest_unit"].values) == "u07" and float(unit["nearest_unit_r"]) == pytest.approx(1.0)
    # the same k stimuli, so the same II: the number repeats because the direction is the unit
    assert set(pc0["top_stimuli"].values.tolist()) == set(unit["top_stimuli"].values.tolist())
    assert float(pc0["ii"]) == float(unit["ii"]) == 0.0
    r = res["nearest_unit_r"].values
    assert np.all((np.abs(r) <= 1 + 1e-12) | np.isnan(r))
    fig = plot_direction_meis(dominated, res)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    pca_row = next(t for t in labels if t.startswith("pca/0"))
    assert "≈ unit u07 (r 1.00)" in pca_row and "= units/u07" in pca_row
    unit_row = next(t for t in labels if t.startswith("units/u07"))
    assert "≈" not in unit_row and "=" not in unit_row  # the unit itself is not "like a unit"
    assert "≈ unit" in fig._suptitle.get_text()
