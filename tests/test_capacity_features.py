"""feature_capacity: the capacity of discovered dictionaries, against planted truth."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import capacity as cap
from neurosuper.errors import AnalysisError


@pytest.fixture(scope="module")
def planted():
    """24 sparse features (5 % active, amplitude U[0, 1]) on random unit atoms in 12 units, noise σ = 0.01."""
    rng = np.random.default_rng(0)
    n, d, k = 2000, 12, 24
    atoms = rng.standard_normal((k, d))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    codes = rng.random((n, k)) * (rng.random((n, k)) < 0.05)
    x = codes @ atoms + 0.01 * rng.standard_normal((n, d))
    true_w = atoms * np.sqrt((codes**2).mean(0))[:, None]
    return ns.from_array(x, system="network", measure="activation"), atoms, true_w


def test_overcomplete_dictionary_capacity_matches_planted_truth(planted):
    ds, atoms, true_w = planted
    res = cap.feature_capacity(ds, "sparse_coding", 24, progress=False)
    truth = cap.capacity(true_w).values
    w = res["W"].values
    cos = np.abs((w / np.linalg.norm(w, axis=1, keepdims=True)) @ atoms.T)
    assert (cos.max(1) > 0.9).mean() >= 0.9  # the finder recovers the atoms
    assert float(res["capacity_sum"]) == pytest.approx(truth.sum(), rel=0.06)
    assert np.median(np.abs(res["capacity"].values - truth[cos.argmax(1)])) < 0.08
    assert float(res["capacity_sum"]) <= 12 + 1e-9
    assert int(res["n_polysemantic"]) == 24 and int(res["n_dims"]) == 12
    # the atoms' scaling is the RMS of their codes: the same estimator refitted gives the same W
    x = ns.prep.trial_average(ds).values
    est = ns.directions.fit_directions(ns.from_array(x, system="network", measure="activation"), "sparse_coding", 24)
    rms = np.sqrt((est.transform(x) ** 2).mean(0))
    np.testing.assert_allclose(w, est.components_ * rms[:, None], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res["capacity"].values, cap.capacity(w).values, atol=1e-12)
    s = cap.summary(res)
    json.dumps(s)
    assert s["method"] == "sparse_coding" and s["n_directions"] == 24


def test_grouped_orthogonal_finders_and_an_ignored_unit():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 8))
    x[:, 7] = 0.0  # a silent unit in area B
    ds = ns.from_array(x, system="brain", measure="dff", area=("unit", ["A"] * 3 + ["B"] * 5))
    res = cap.feature_capacity(ds, "units", progress=False)
    assert res["group"].values.tolist() == ["A", "B"]
    assert res["capacity_sum"].values.tolist() == pytest.approx([3.0, 4.0], abs=1e-12)
    assert res["n_ignored"].values.tolist() == [0, 1] and res["n_monosemantic"].values.tolist() == [3, 4]
    assert res["n_dims"].values.tolist() == [3, 5]
    assert res["area"].values.tolist() == ["A"] * 3 + ["B"] * 5
    np.testing.assert_allclose(res["W"].values[:3, 3:], 0)  # area A's atoms live in area A's units
    pca = cap.feature_capacity(ds.isel(unit=slice(0, 7)), "pca", progress=False)
    np.testing.assert_allclose(pca["capacity"].values, 1.0, atol=1e-9)  # orthogonal atoms: no superposition
    summ = cap.summary(res)
    json.dumps(summ)
    assert summ["groups"]["B"]["n_ignored"] == 1
    path = ns.save_result(res, __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "fc.nc")
    back = ns.load(path, validate_set=False)
    assert back["kind"].values.tolist() == res["kind"].values.tolist()


def test_centering_and_the_mean_warning():
    rng = np.random.default_rng(2)
    x = rng.poisson(5.0, (400, 6)).astype(float)  # the mean holds ~5/6 of the energy
    ds = ns.from_array(x, system="brain", measure="spike_count")
    with pytest.warns(ns.NeurosuperWarning, match="center=True"):
        raw = cap.feature_capacity(ds, "units", progress=False)
    np.testing.assert_allclose(raw["norm"].values, np.sqrt((x**2).mean(0)))  # RMS of the uncentred responses
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cen = cap.feature_capacity(ds, "units", center=True, progress=False)
    np.testing.assert_allclose(cen["norm"].values, x.std(0))
    assert cen.attrs["centered"] == 1 and raw.attrs["centered"] == 0
    with pytest.warns(ns.NeurosuperWarning):
        nmf = cap.feature_capacity(ds, "nmf", 4, progress=False)  # NMF fits the raw, non-negative responses
    assert nmf.sizes["direction"] == 4


def test_bad_input():
    ds = ns.from_array(np.random.default_rng(0).standard_normal((50, 4)), system="brain", measure="dff")
    for kwargs, match in [
        ({"tol": 0}, "tol"),
        ({"n_directions": 0}, "n_directions"),
        ({"groupby": "layer"}, "layer"),
        ({"seed": -1}, "seed"),
    ]:
        with pytest.raises(AnalysisError, match=match) as info:
            cap.feature_capacity(ds, "pca", progress=False, **kwargs)
        assert "Fix:" in str(info.value)
    with pytest.raises(ns.NeurosuperError):
        cap.feature_capacity(ds, "no_such_method", progress=False)
    with pytest.raises(AnalysisError, match="ResponseSet"):
        cap.feature_capacity(ds["responses"].values, progress=False)
