"""feature_capacity on a real population: macaque M1 during reaching (Stevenson et al. 2011, datasets/real/m1)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import capacity as cap


@pytest.fixture(scope="module")
def m1(real_data):
    from scipy.io import loadmat

    spikes = loadmat(real_data / "m1" / "m1_stevenson_2011.mat")["spikes"].astype(np.float64)  # (171, 15536)
    n = spikes.shape[1] // 5 * 5
    counts = spikes[:, :n].reshape(171, -1, 5).sum(-1).T  # 250 ms bins (3107, 171)
    top = np.sort(np.argsort(-counts.mean(0))[:60])  # the 60 most active neurons, first 1,500 bins
    return ns.from_array(
        counts[:1500, top],
        unit=[f"n{i}" for i in top],
        system="brain",
        measure="spike_count",
        attrs={"source": "m1_stevenson_2011.mat"},
    )


def test_m1_orthogonal_finders_have_no_superposition(m1):
    units = cap.feature_capacity(m1, "units", center=True, progress=False)
    assert float(units["capacity_sum"]) == pytest.approx(60.0, abs=1e-9)
    assert int(units["n_monosemantic"]) == 60
    pca = cap.feature_capacity(m1, "pca", center=True, progress=False)
    np.testing.assert_allclose(pca["capacity"].values, 1.0, atol=1e-9)


def test_m1_uncentred_counts_warn(m1):
    with pytest.warns(ns.NeurosuperWarning, match="mean response holds"):
        cap.feature_capacity(m1, "units", progress=False)


def test_m1_overcomplete_sparse_coding_is_polysemantic(m1):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.NeurosuperWarning)
        res = cap.feature_capacity(m1, "sparse_coding", 120, center=True, progress=False)
    s = cap.summary(res)
    json.dumps(s)
    c = res["capacity"].values
    assert np.all((c >= 0) & (c <= 1)) and c.sum() <= 60 + 1e-9
    np.testing.assert_allclose(c, cap.capacity(res["W"].values).values, atol=1e-12)
    # 120 atoms in 60 units must share dimensions: most are polysemantic, and together they use a good part of
    # the population's dimensions (recorded in docs/capacity.md: Σ C ≈ 12 of 60, all 120 polysemantic)
    assert s["n_polysemantic"] >= 60
    assert 5 < s["capacity_sum"] < 60
    # the numbers docs/capacity.md quotes for this run, as it prints them
    assert round(s["capacity_sum"]) == 12 and s["n_polysemantic"] == 120
    text = " ".join((Path(__file__).resolve().parents[1] / "docs" / "capacity.md").read_text(encoding="utf-8").split())
    assert "(`tests/test_capacity_realdata.py`: Σ C ≈ 12 of 60 with 120 atoms, all polysemantic;" in text
    assert s["n_directions"] == 120 and s["n_dims"] == 60
    assert res.attrs["inputs"] == [] and res.attrs["system"] == "brain"
