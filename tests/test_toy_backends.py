"""numpy (analytic gradients) and torch (autograd) give the same toy models from one seed; results are
reproducible, JSON-summarised, and a trained model is a ResponseSet the other analyses accept."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import toy

needs_torch = pytest.mark.skipif(not toy.torch_available(), reason="torch is not installed")


@needs_torch
@pytest.mark.parametrize("model", ["relu", "linear", "quadratic"])
def test_numpy_and_torch_agree(model):
    kw = dict(
        model=model,
        density=0.1,
        importance=0.9 ** np.arange(5),
        steps=300,
        batch_size=128,
        lr=1e-2,
        n_seeds=3,
        seed=7,
        progress=False,
    )
    a = toy.train(5, 2, backend="numpy", **kw)
    b = toy.train(5, 2, backend="torch", **kw)
    for var in ("W_seed", "b_seed", "loss_seed", "capacity_seed", "loss_history"):
        np.testing.assert_allclose(a[var].values, b[var].values, rtol=1e-9, atol=1e-12, err_msg=var)
    assert int(a["best_seed"]) == int(b["best_seed"])
    assert b.attrs["backend"] == "torch"


@needs_torch
def test_numpy_and_torch_agree_in_a_sweep():
    kw = dict(
        density=[1.0, 0.1], importance_ratio=[0.7, 0.9], steps=200, batch_size=64, n_seeds=2, seed=1, progress=False
    )
    a = toy.sweep(6, 3, **kw)
    b = toy.sweep(6, 3, backend="torch", **kw)
    np.testing.assert_allclose(a["W_seed"].values, b["W_seed"].values, rtol=1e-9, atol=1e-12)


def test_reproducible_and_seed_dependent():
    kw = dict(density=[0.5, 0.05], steps=200, batch_size=64, n_seeds=2, progress=False)
    a, b = toy.sweep(5, 2, seed=3, **kw), toy.sweep(5, 2, seed=3, **kw)
    for var in a.data_vars:
        np.testing.assert_array_equal(a[var].values, b[var].values)
    c = toy.sweep(5, 2, seed=4, **kw)
    assert not np.array_equal(a["W_seed"].values, c["W_seed"].values)
    assert a["capacity"].dims == ("density", "feature") and a["W_seed"].dims == ("density", "seed", "feature", "hidden")


def test_sweep_layout_matches_separate_settings():
    s = toy.sweep(
        4, 2, density=[1.0, 0.2], importance_ratio=[0.5, 0.9], steps=20, batch_size=16, n_seeds=3, progress=False
    )
    assert dict(s["W_seed"].sizes) == {"density": 2, "importance_ratio": 2, "seed": 3, "feature": 4, "hidden": 2}
    np.testing.assert_allclose(s["importance"].sel(importance_ratio=0.5).values[0], 0.5 ** np.arange(4))
    best = s["best_seed"].values
    np.testing.assert_array_equal(best, s["loss_seed"].argmin("seed").values)
    np.testing.assert_array_equal(s["W"].values[1, 0], s["W_seed"].values[1, 0, best[1, 0]])
    summ = toy.summary(s)
    json.dumps(summ)
    assert len(summ["settings"]) == 4 and summ["swept"] == ["density", "importance_ratio"]


def test_training_lowers_the_loss_and_summary_is_json():
    r = toy.train(5, 2, density=0.1, steps=500, batch_size=256, lr=1e-2, n_seeds=2, progress=False)
    hist = r["loss_history"].values
    assert (hist[:, -1] < hist[:, 0]).all()
    assert r["loss_history"].sizes["step"] == 100 and int(r["step"][-1]) == 500
    summ = toy.summary(r)
    json.dumps(summ)
    assert summ["n_features"] == 5 and summ["n_seeds"] == 2 and len(summ["capacity"]) == 5
    # saved and reopened like any result
    path = ns.save_result(r, __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "toy.nc")
    back = ns.load(path, validate_set=False)
    np.testing.assert_array_equal(back["W"].values, r["W"].values)


def test_monte_carlo_loss_of_a_trained_relu_model_matches_the_reported_loss():
    r = toy.train(5, 2, density=0.1, steps=300, batch_size=256, lr=1e-2, progress=False)
    mc = toy.monte_carlo_loss(r["W"], r["b"].values, 1.0, model="relu", density=0.1, n_samples=200_000)
    assert mc == pytest.approx(float(r["loss"]), rel=0.05)


def test_a_trained_model_is_a_response_set():
    r = toy.train(6, 3, density=0.2, steps=300, batch_size=256, lr=1e-2, progress=False)
    ds = toy.response_set(r, n_stimuli=500, layers=("hidden", "output"))
    ns.validate(ds)
    assert ds.attrs["system"] == "network" and ds.sizes["unit"] == 9
    assert ds["layer"].values.tolist() == ["hidden"] * 3 + ["output"] * 6
    x = ds["stimuli"].values
    np.testing.assert_allclose(ds["responses"].values[:, :3], x @ r["W"].values, atol=1e-12)
    assert ((x == 0).mean()) == pytest.approx(0.8, abs=0.03)
    spec = ns.spectral.eigenspectrum(ds, groupby="layer", progress=False)
    assert spec.sizes["layer"] == 2
    q = toy.train(3, 2, model="quadratic", kurtosis=4.0, steps=50, progress=False)
    qs = toy.response_set(q, n_stimuli=100, layers=("output",))
    assert qs.sizes["unit"] == 1 and set(np.unique(np.abs(qs["stimuli"].values))) <= {0.0, 2.0}


def test_response_set_bad_input():
    with pytest.raises(ns.AnalysisError, match="toy.train"):
        toy.response_set(ns.capacity.superposition(np.eye(2)))
    r = toy.train(3, 2, steps=5, progress=False)
    with pytest.raises(ns.AnalysisError, match="layers"):
        toy.response_set(r, layers=("middle",))
