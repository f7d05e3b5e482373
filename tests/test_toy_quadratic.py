"""Scherlis et al. 2022 (arXiv 2210.01892, §3): the quadratic model's closed-form loss and its capacity phases."""

from __future__ import annotations

import numpy as np
import pytest

from neurosuper import toy
from neurosuper.errors import AnalysisError
from neurosuper.toy import kernels


@pytest.mark.parametrize("kurtosis", [1.0, 2.0, 5.0, 10.0])
def test_monte_carlo_loss_matches_closed_form(kurtosis):
    rng = np.random.default_rng(0)
    w = 0.6 * rng.standard_normal((4, 2))
    v = np.array([1.0, 0.8, 0.6, 0.4])
    closed = toy.quadratic_loss(w, 0.3, v, kurtosis=kurtosis)
    mc = toy.monte_carlo_loss(w, 0.3, v, model="quadratic", kurtosis=kurtosis, n_samples=600_000, seed=1)
    assert mc == pytest.approx(closed, rel=0.01)
    # at the optimal bias the closed form is the paper's (K-1) Σ d² + 2 Σ_{i≠j} G_ij²
    g = w @ w.T
    d = v - np.diag(g)
    paper = (kurtosis - 1) * (d**2).sum() + 2 * ((g - np.diag(np.diag(g))) ** 2).sum()
    assert toy.quadratic_loss(w, d.sum(), v, kurtosis=kurtosis) == pytest.approx(paper, rel=1e-12)


def test_sampler_moments():
    x = kernels.sample_kurtotic(np.random.default_rng(0), np.array([4.0]), (1, 400_000, 1)).ravel()
    assert abs(x.mean()) < 0.01 and x.var() == pytest.approx(1.0, rel=0.01)
    assert (x**4).mean() == pytest.approx(4.0, rel=0.02)
    assert set(np.unique(np.round(x, 12))) == {-2.0, 0.0, 2.0}


def _finite_difference(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        out[idx] = (f(xp) - f(xm)) / (2 * eps)
    return out


def test_quadratic_gradient_against_finite_differences():
    rng = np.random.default_rng(2)
    w, b = rng.standard_normal((3, 5, 2)), rng.standard_normal(3)
    v, k = rng.random((3, 5)), np.array([1.5, 3.0, 12.0])
    _, gw, gb = kernels.quadratic_loss_grad(w, b, v, k)
    np.testing.assert_allclose(
        gw, _finite_difference(lambda a: kernels.quadratic_loss(a, b, v, k).sum(), w), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        gb, _finite_difference(lambda a: kernels.quadratic_loss(w, a, v, k).sum(), b), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("relu", [True, False])
def test_elhage_gradient_against_finite_differences(relu):
    rng = np.random.default_rng(3)
    w, b, imp = rng.standard_normal((3, 5, 2)), 0.1 * rng.standard_normal((3, 5)), rng.random((3, 5))
    x = kernels.sample_sparse(rng, np.array([0.3, 0.6, 1.0]), (3, 64, 5))
    _, gw, gb = kernels.elhage_loss_grad(w, b, x, imp, relu=relu)

    def loss(a, bb):
        return kernels.elhage_loss(a, bb, x, imp, relu=relu).sum()

    np.testing.assert_allclose(gw, _finite_difference(lambda a: loss(a, b), w), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, _finite_difference(lambda a: loss(w, a), b), rtol=1e-6, atol=1e-8)


V = np.linspace(1.0, 0.5, 6)


def test_low_kurtosis_is_all_or_nothing():
    for k in (1.5, 2.5):
        c = toy.train(
            6, 3, model="quadratic", kurtosis=k, importance=V, n_seeds=4, steps=4000, lr=1e-2, progress=False
        )["capacity"].values
        assert np.all((np.abs(c) < 0.02) | (np.abs(c - 1) < 0.02)), c
        np.testing.assert_allclose(c, [1, 1, 1, 0, 0, 0], atol=0.02)  # the most important features win


def test_high_kurtosis_fractional_and_proportional():
    r5 = toy.train(6, 3, model="quadratic", kurtosis=5.0, importance=V, n_seeds=2, steps=4000, lr=1e-2, progress=False)
    c5 = r5["capacity"].values
    assert ((c5 > 0.05) & (c5 < 0.95)).sum() >= 3
    assert c5.sum() == pytest.approx(3.0, abs=1e-3)  # block-semi-orthogonal: every dimension used
    c = toy.train(
        6, 3, model="quadratic", kurtosis=100.0, importance=V, n_seeds=2, steps=4000, lr=1e-2, progress=False
    )["capacity"].values
    ratio = (c / V) / (c / V).mean()
    np.testing.assert_allclose(ratio, 1.0, atol=0.03)  # C_i ∝ v_i
    assert r5.attrs["weight_decay"] == 0.0


def test_two_features_in_one_dimension_phase_boundary():
    ks = np.array([1.5, 2.5, 4.0, 6.0, 11.0, 21.0, 41.0])
    rs = np.linspace(0.05, 0.95, 10)
    ph = toy.phase_diagram(kurtosis=ks, importance_ratio=rs, steps=4000, n_seeds=8, progress=False)
    kk, rr = np.meshgrid(ks, rs, indexing="ij")
    theory = (kk > 3) & (rr > 2 / (kk - 1))
    np.testing.assert_array_equal(ph["represented_theory"].values, theory)
    far = np.abs(rr - 2 / np.maximum(kk - 1, 1e-9)) > 0.04  # convergence is slow right at the boundary
    trained = ph["represented"].values
    np.testing.assert_array_equal(trained[far], theory[far])
    c2 = ph["capacity"].sel(feature=1).values
    np.testing.assert_allclose(c2[far], ph["capacity_theory"].values[far], atol=0.02)
    np.testing.assert_allclose(ph["boundary"].values, np.where(ks > 3, 2 / (ks - 1), np.inf))
    assert toy.summary(ph)["agreement"] >= 0.95


def test_density_and_kurtosis_agree():
    a = toy.train(3, 2, model="quadratic", kurtosis=4.0, steps=50, progress=False)
    b = toy.train(3, 2, model="quadratic", density=0.25, steps=50, progress=False)
    c = toy.train(3, 2, model="quadratic", density=0.25, kurtosis=4.0, steps=50, progress=False)
    np.testing.assert_array_equal(a["W"].values, b["W"].values)
    np.testing.assert_array_equal(a["W"].values, c["W"].values)
    assert float(a["kurtosis"]) == 4.0 and float(a["density"]) == 0.25


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "quadratic", "density": 0.5, "kurtosis": 3.0}, "agree|density == 1 / kurtosis"),
        ({"model": "quadratic", "density": 1.0, "kurtosis": 3.0}, "density == 1 / kurtosis"),
        ({"model": "quadratic", "kurtosis": 0.5}, "kurtosis"),
        ({"model": "relu", "kurtosis": 3.0}, "kurtosis only"),
        ({"density": 0.0}, "density"),
        ({"density": 1.5}, "density"),
        ({"density": -0.1}, "density"),
        ({"density": float("nan")}, "density"),
        ({"model": "cubic"}, "model"),
        ({"importance": [1.0, 2.0]}, "importance"),
        ({"importance": -1.0}, "importance"),
        ({"steps": 0}, "steps"),
        ({"lr": 0.0}, "lr"),
        ({"backend": "jax"}, "backend"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(AnalysisError, match=match) as info:
        toy.train(3, 2, progress=False, steps=kwargs.pop("steps", 5), **kwargs)
    assert "Fix:" in str(info.value)


def test_sweep_bad_input():
    with pytest.raises(AnalysisError, match="density == 1 / kurtosis"):
        toy.sweep(2, 1, model="quadratic", density=[0.5, 0.25], kurtosis=[2.0, 3.0], steps=5, progress=False)
    with pytest.raises(AnalysisError, match="empty"):
        toy.sweep(2, 1, density=[], steps=5, progress=False)
    with pytest.raises(AnalysisError, match="kurtosis"):
        toy.phase_diagram(kurtosis=[0.5], steps=5, progress=False)
