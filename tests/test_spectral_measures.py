"""Dimensionality, reliability, smoothness/TwoNN, random projections and the circle population, redundancy —
each against analytic or hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _format_helpers import as_spectrum

import neurosuper as ns
from neurosuper import AnalysisError
from neurosuper import spectral as sp


# ------------------------------------------------------------------------------------------ dimensionality
def test_dimensionality_measures_hand_computed():
    flat = as_spectrum(np.ones(10))
    assert sp.participation_ratio(flat).item() == pytest.approx(10)
    assert sp.effective_rank(flat).item() == pytest.approx(10)
    v = as_spectrum([4.0, 2.0, 1.0, 1.0, -0.5])  # a cvPCA tail below zero counts as 0
    assert sp.participation_ratio(v).item() == pytest.approx(64 / 22)
    p = np.array([0.5, 0.25, 0.125, 0.125])
    assert sp.effective_rank(v).item() == pytest.approx(np.exp(-(p * np.log(p)).sum()))
    assert sp.n_components_for(v, fraction=0.75).item() == 2
    assert sp.n_components_for(v, fraction=0.76).item() == 3
    both = sp.dimensionality(v, fraction=0.75)
    assert set(both.data_vars) == {"participation_ratio", "effective_rank", "n_components"}
    grouped = xr.concat([flat.isel(rank=slice(0, 5)), v], dim=xr.DataArray(["a", "b"], dims="layer"))
    assert sp.participation_ratio(grouped).sel(layer="b").item() == pytest.approx(64 / 22)
    with pytest.raises(AnalysisError, match="no positive variance"):
        sp.participation_ratio(as_spectrum([0.0, -1.0]))


# --------------------------------------------------------------------------------------------- reliability
def test_split_half_reliability_matches_analytic(rng):
    n_stim, n_units, n_rep = 4000, 6, 4
    sig_sd = np.array([1.0, 1.0, 0.5, 2.0, 1.0, 0.3])
    noise_sd = np.array([1.0, 2.0, 1.0, 1.0, 0.5, 1.0])
    signal = rng.standard_normal((n_stim, n_units)) * sig_sd
    x = signal[None] + rng.standard_normal((n_rep, n_stim, n_units)) * noise_sd + 5.0
    ds = ns.from_array(x, system="brain", measure="dff", area=("unit", ["V1", "V1", "V1", "V2", "V2", "V2"]))
    rel = sp.reliability(ds, groupby="area")
    s2, n2 = sig_sd**2, noise_sd**2
    half = s2 / (s2 + n2 / (n_rep / 2))  # each half averages two repeats
    np.testing.assert_allclose(rel["split_half"].values, half, atol=0.03)
    np.testing.assert_allclose(rel["reliability"].values, s2 / (s2 + n2 / n_rep), atol=0.03)
    # the covariance of the halves estimates this sample's signal variance; its s.e. is √(var₁·var₂/n)
    halves_var = s2 + n2 / (n_rep / 2)
    assert np.all(np.abs(rel["signal_variance"].values - signal.var(0)) < 4 * halves_var / np.sqrt(n_stim))
    np.testing.assert_allclose(rel["total_variance"].values, s2 + n2, rtol=0.05)
    for area, units in (("V1", slice(0, 3)), ("V2", slice(3, 6))):
        expected = s2[units].sum() / (s2[units] + n2[units]).sum()
        assert rel["signal_fraction"].sel(area=area).item() == pytest.approx(expected, abs=0.02)
    lazy = ds.copy()
    lazy["responses"] = ds["responses"].chunk({"stimulus": 1000})
    np.testing.assert_allclose(sp.reliability(lazy)["reliability"].values, rel["reliability"].values, atol=1e-10)


def test_reliability_needs_repeats(rng):
    with pytest.raises(AnalysisError, match="at least two valid repeats"):
        sp.reliability(ns.from_array(rng.standard_normal((20, 5)), system="brain", measure="dff"))


# ---------------------------------------------------------------------------------------------- smoothness
def test_twonn_on_flat_tori(rng):
    for d in (1, 2, 3):
        angles = rng.uniform(0, 2 * np.pi, (3000, d))
        pts = np.concatenate([np.cos(angles), np.sin(angles)], axis=1)  # no boundary, uniform density
        est = sp.intrinsic_dimension(pts, ci_method="gamma")  # the model-based interval (see the coverage test)
        se = est["d_se"].item()
        assert se == pytest.approx(est["d"].item() / np.sqrt(3000 - 2))
        assert abs(est["d"].item() - d) < 4 * se
        lo, hi = est["d_ci"].values
        assert lo < est["d"].item() < hi and hi - lo == pytest.approx(2 * 1.96 * se, rel=0.05)


def test_smoothness_bound_and_verdict():
    res = sp.smoothness(1.5, d=2)
    assert res["alpha_bound"].item() == 2.0 and not res["smooth"].item() and res["decided"].item()
    assert res["margin"].item() == pytest.approx(-0.5)
    assert sp.smoothness(3.5, d=1)["smooth"].item()
    per_layer = sp.smoothness(xr.DataArray([0.9, 1.3], dims="layer", coords={"layer": ["a", "b"]}), d=10)
    np.testing.assert_array_equal(per_layer["smooth"].values, [False, True])
    fit = xr.Dataset({"alpha": 1.22, "alpha_ci": ("bound", [1.15, 1.3])}, coords={"bound": ["lower", "upper"]})
    assert not sp.smoothness(fit, d=10)["decided"].item()  # bound 1.2 inside the CI


def test_smoothness_estimates_d_from_stimuli(rng):
    theta = rng.uniform(0, 2 * np.pi, 800)
    ds = ns.from_array(
        rng.standard_normal((800, 5)),
        system="brain",
        measure="dff",
        stimuli=np.stack([np.cos(theta), np.sin(theta)], axis=1),
    )  # a 1-D manifold
    res = sp.smoothness(4.0, stimuli=ds)
    assert res["d"].item() == pytest.approx(1.0, rel=0.1)
    assert res["alpha_bound"].item() == pytest.approx(1 + 2 / res["d"].item())
    assert res["smooth"].item() and "d_ci" in res
    with pytest.raises(AnalysisError, match="found neither d nor stimuli"):
        sp.smoothness(1.0)
    with pytest.raises(AnalysisError, match="regular grid"):  # evenly spaced angles: TwoNN is undefined
        sp.smoothness(4.0, stimuli=sp.circle_population(4.0, 600, 40))


# ----------------------------------------------------------------------------- projections and the circle
@pytest.mark.parametrize("alpha", [2.0, 4.0])
def test_circle_population_spectrum_and_energy(alpha):
    n_angles, n_units = 1024, 64
    ds = sp.circle_population(alpha, n_angles, n_units)
    spec = sp.eigenspectrum(ds, method="pca", progress=False)
    k = np.repeat(np.arange(1, n_units // 2 + 1), 2)
    np.testing.assert_allclose(spec["variance"].values, 0.5 * k**-alpha, rtol=1e-9, atol=1e-14)
    res = sp.random_projection(ds, n_dims=3, order="angle", seed=1)
    kk = np.arange(1, n_units // 2 + 1)
    exact = (
        (n_angles - 1) ** 3
        * np.sum(kk**-alpha * 4 * np.sin(np.pi * kk / n_angles) ** 2)
        / (n_angles * np.sum(kk**-alpha))
    )
    assert res["energy_population"].item() == pytest.approx(exact, rel=1e-10)
    limit = (2 * np.pi) ** 2 * np.sum(kk ** (2 - alpha)) / np.sum(kk**-alpha)
    assert res["energy_population"].item() == pytest.approx(limit, rel=0.01)
    assert sp.circle_energy(alpha, n_units, n_angles) == pytest.approx(exact, rel=1e-12)
    assert res["projection"].dims == ("stimulus", "component") and res.sizes["component"] == 3
    # many random directions concentrate on the population energy (E[PPᵀ] = I/m)
    wide = sp.random_projection(ds, n_dims=4000, order="angle", seed=2)
    assert wide["energy"].item() == pytest.approx(exact, rel=0.05)


def test_energy_finite_only_for_smooth_codes():
    # frequencies up to T/4: the population refines with the sampling, as a fixed code sampled ever finer
    e = {
        (a, t): sp.random_projection(sp.circle_population(a, t, t // 2), order="angle")["energy_population"].item()
        for a in (2.0, 4.0)
        for t in (512, 2048)
    }
    assert e[(4.0, 2048)] == pytest.approx(e[(4.0, 512)], rel=0.01)  # α = 4 > 3: converged
    assert e[(2.0, 2048)] > 3 * e[(2.0, 512)]  # α = 2 < 3: grows ∝ T


def test_random_projection_order_and_groups(rng):
    x = rng.standard_normal((30, 20))
    ds = ns.from_array(
        x, system="brain", measure="dff", layer=("unit", ["a"] * 10 + ["b"] * 10), stimulus=[f"s{i}" for i in range(30)]
    )
    order = [f"s{i}" for i in range(29, -1, -1)]
    res = sp.random_projection(ds, order=order, seed=3, groupby="layer")
    assert list(res["stimulus"].values) == order and res["projection"].dims == ("layer", "stimulus", "component")
    p = np.random.default_rng(3).normal(0, 1 / np.sqrt(10), (10, 3))
    xa = x[::-1, :10]
    np.testing.assert_allclose(res["projection"].sel(layer="a").values, (xa - xa.mean(0)) @ p, atol=1e-12)
    with pytest.raises(AnalysisError, match="unknown stimulus ids"):
        sp.random_projection(ds, order=["nope"])
    with pytest.raises(AnalysisError, match="n_units < n_angles"):
        sp.circle_population(2.0, 10, 10)


# ---------------------------------------------------------------------------------------------- redundancy
def test_redundancy_formulas_hand_computed():
    # m = 100 units at 8 bits, alpha = 1: 800 - 100 log2(100/e) = 800 - 520.11611
    assert sp.entropy_bound(1.0, 100, 8) == pytest.approx(800 - 100 * 5.2011611, abs=1e-4)
    assert sp.entropy_bound(1.0, 100, 8, exact=True) == pytest.approx(800 - 524.76499, abs=1e-4)  # log2(100!)
    # S = 0.5, H_elem = 2 bits, n = 10 features: 10*1 + 10*0.5*2 = 20 bits; ratio 0.5 + 1/2 = 1
    assert sp.sparse_entropy(0.5, 10, 2.0) == pytest.approx(20.0)
    assert sp.optimal_ratio(0.5, 2.0) == pytest.approx(1.0)
    # S = 0.9, H_elem = 4: h2(0.9) = 0.4689956 bits; ratio 0.1 + 0.4689956/4
    assert sp.optimal_ratio(0.9, 4.0) == pytest.approx(0.1 + 0.4689956 / 4, abs=1e-7)
    assert sp.sparse_entropy(1.0, 5, 3.0) == 0.0
    # C = 1 bit, m = 10, D = 0.5: upper 5 bits, eps = -ln(1/2) = 0.693147
    lo, hi = sp.dropout_capacity(1.0, 10, 0.5)
    assert hi == pytest.approx(5.0) and lo == pytest.approx(5 * (1 - np.log(2)))
    res = sp.redundancy(
        xr.DataArray([0.5, 1.0], dims="layer"), n_units=100, precision=8, sparsity=0.5, h_elem=2.0, dropout=0.5
    )
    np.testing.assert_allclose(res["entropy_bound"].values, [800 - 50 * 5.2011611, 800 - 100 * 5.2011611], atol=1e-3)
    np.testing.assert_allclose(res["redundancy"].values, 1 - res["entropy_bound"].values / 800)
    assert res["optimal_ratio"].item() == pytest.approx(1.0)
    assert res["dropout_upper"].item() == pytest.approx(400.0)
    with pytest.raises(AnalysisError, match="sparsity"):
        sp.optimal_ratio(1.5, 2.0)
