"""The spectral package as a whole: the spectrum schema (``variance`` always the estimate, ``variance_boot`` the
replicates, no ``variance_full``), ``groupby="auto"``, provenance stamps, ``summary``,
``zscore="spont"``, non-finite input, the circle's Nyquist component, TwoNN's interval, and every analysis on a
dask-backed set."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper import AnalysisError, NeurosuperWarning
from neurosuper import spectral as sp


def _population(rng, n=60, p=30, reps=2, noise=0.5):
    signal = rng.standard_normal((n, p)) * np.arange(1, p + 1) ** -0.5
    return signal[None] + noise * rng.standard_normal((reps, n, p))


# ------------------------------------------------------------------------------------------------- schema
@pytest.mark.parametrize("method", ["pca", "cvpca"])
def test_variance_is_always_the_point_estimate(rng, method):
    ds = ns.from_array(_population(rng), system="brain", measure="dff")
    plain = sp.eigenspectrum(ds, method=method, n_shuffles=2, progress=False)
    boot = sp.eigenspectrum(ds, method=method, n_shuffles=2, n_boot=3, progress=False)
    assert plain["variance"].dims == boot["variance"].dims == ("rank",)
    np.testing.assert_allclose(boot["variance"].values, plain["variance"].values, atol=1e-12)
    assert boot["variance_boot"].dims == ("boot", "rank") and "variance_boot" not in plain
    assert "variance_full" not in boot and "noise_full" not in boot  # no alias: nothing is released
    if method == "cvpca":
        assert boot["noise"].dims == ("rank",) and boot["noise_boot"].dims == ("boot", "rank")


def test_replicates_in_variance_are_refused(rng):
    ds = ns.from_array(_population(rng, 300, 80, reps=1)[0], system="brain", measure="dff")
    new = sp.eigenspectrum(ds, n_boot=4, progress=False)
    wrong = xr.Dataset({"variance": new["variance_boot"]}, attrs=new.attrs)
    with pytest.raises(AnalysisError, match="variance_boot"):
        sp.powerlaw(wrong)
    with pytest.raises(AnalysisError, match="variance_boot"):
        sp.participation_ratio(wrong)


def test_groupby_auto_everywhere(rng):
    x = _population(rng, 80, 30)
    layered = ns.from_array(
        x, system="network", measure="activation", layer=("unit", ["a"] * 15 + ["b"] * 15), area=("unit", ["V1"] * 30)
    )
    areas = ns.from_array(x, system="brain", measure="dff", area=("unit", ["V1"] * 20 + ["LM"] * 10))
    plain = ns.from_array(x, system="brain", measure="dff")
    assert sp.eigenspectrum(layered, groupby="auto", progress=False)["variance"].dims == ("layer", "rank")
    assert sp.eigenspectrum(areas, groupby="auto", progress=False)["variance"].dims == ("area", "rank")
    assert sp.eigenspectrum(plain, groupby="auto", progress=False)["variance"].dims == ("rank",)
    auto = sp.eigenspectrum(layered, groupby="auto", n_shuffles=2, progress=False)
    explicit = sp.eigenspectrum(layered, groupby="layer", n_shuffles=2, progress=False)
    np.testing.assert_array_equal(auto["variance"].values, explicit["variance"].values)
    assert json.loads(auto.attrs["options"])["groupby"] == "auto" and auto.attrs["groupby"] == "layer"
    assert sp.reliability(areas, groupby="auto")["signal_fraction"].dims == ("area",)
    assert sp.random_projection(areas, groupby="auto")["energy"].dims == ("area",)
    assert sp.reliability(plain, groupby="auto")["signal_fraction"].dims == ()


# ---------------------------------------------------------------------------------------------- provenance
def test_every_result_is_stamped_with_its_inputs(tmp_path, rng):
    theta = rng.uniform(0, 2 * np.pi, 60)
    ds = ns.from_array(
        _population(rng), system="brain", measure="dff", stimuli=np.stack([np.cos(theta), np.sin(theta)], axis=1)
    )
    path = ns.save(ds, tmp_path / "set.nc")
    loaded = ns.load(path)
    if not ns._provenance.inputs_of(loaded):  # loaders record their files (storage's job): stand in for it here
        loaded.attrs["inputs"] = [ns._provenance.file_input(path)]
    assert ns._provenance.inputs_of(loaded)[0]["sha256"]
    spec = sp.eigenspectrum(loaded, n_boot=2, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        fit = sp.powerlaw(spec, ranks=(1, 10))
    results = {
        "eigenspectrum": spec,
        "powerlaw": fit,
        "participation_ratio": sp.participation_ratio(spec),
        "dimensionality": sp.dimensionality(spec),
        "reliability": sp.reliability(loaded),
        "random_projection": sp.random_projection(loaded),
        "smoothness": sp.smoothness(fit, stimuli=loaded),
        "intrinsic_dimension": sp.intrinsic_dimension(loaded),
    }
    for analysis, res in results.items():
        assert res.attrs["analysis"] == analysis, analysis
        assert res.attrs["neurosuper_version"] == ns.__version__ and res.attrs["reference"]
        json.loads(res.attrs["options"])
        got = res.attrs["inputs"]
        assert [i["path"] for i in got] == [i["path"] for i in ns._provenance.inputs_of(loaded)], analysis
    red = sp.redundancy(fit["alpha"], n_units=100)
    assert red.attrs["analysis"] == "redundancy" and json.loads(red.attrs["options"])["n_units"] == 100


# ------------------------------------------------------------------------------------------------- summary
def test_summary_is_json_safe_and_matches_the_results(rng):
    ds = ns.from_array(
        _population(rng, 300, 80), system="brain", measure="dff", layer=("unit", ["a"] * 40 + ["b"] * 40)
    )
    spec = sp.eigenspectrum(ds, n_boot=5, groupby=None, progress=False)
    with pytest.warns(NeurosuperWarning, match="poor fit"):
        fit = sp.powerlaw(spec)
    out = sp.summary(spec, fit)
    json.dumps(out, allow_nan=False)
    assert set(out) == {"alpha", "alpha_ci", "ranks", "r2", "participation_ratio", "method", "n_stimuli", "n_units"}
    assert out["alpha"] == pytest.approx(fit["alpha"].item(), rel=1e-3) and out["ranks"] == fit.attrs["ranks"]
    assert out["alpha_ci"] == pytest.approx(fit["alpha_ci"].values.tolist(), rel=1e-3)
    assert out["participation_ratio"] == pytest.approx(sp.participation_ratio(spec).item(), rel=1e-3)
    assert len(repr(out["alpha"]).split(".")[1]) <= 7  # rounded
    grouped = sp.eigenspectrum(ds, groupby="layer", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        g = sp.summary(grouped, sp.powerlaw(grouped))
    assert set(g["alpha"]) == {"a", "b"} and g["n_units"] == {"a": 40, "b": 40}
    with_spectrum = sp.summary(spec, include_spectrum=True)
    assert with_spectrum["variance"] == pytest.approx(spec["variance"].values.tolist(), rel=1e-3)
    rel = sp.summary(sp.reliability(ds))
    assert set(rel) >= {"signal_fraction", "median_reliability"}
    assert sp.summary(sp.dimensionality(spec))["effective_rank"] > 1
    with pytest.raises(AnalysisError, match="expected a result of neurosuper.spectral"):
        sp.summary(xr.Dataset({"x": 1.0}))


# -------------------------------------------------------------------------------------------- zscore="spont"
@pytest.mark.parametrize("side", ["stimulus", "unit"])
def test_zscore_spont_follows_stringers_procedure(rng, side):
    """loadProc2800.m: resp and spont divided by the spont SD (ddof 0), top spont PCs projected out."""
    n, p, k = 70, 25, 3
    x = _population(rng, n, p) * rng.uniform(0.5, 4, p)
    spont_x = rng.standard_normal((300, p)) * rng.uniform(0.2, 3, p) + rng.standard_normal((300, 1)) * 2
    ds = ns.from_array(x, system="brain", measure="dff")
    spont = ns.from_array(spont_x, system="brain", measure="dff")
    got = sp.eigenspectrum(
        ds, method="cvpca", n_shuffles=0, zscore="spont", remove_pcs_of=spont, n_pcs=k, side=side, progress=False
    )
    mu, sd = spont_x.mean(0), spont_x.std(0)
    fs = (spont_x - mu) / sd
    v = np.linalg.svd(fs, full_matrices=False)[2][:k].T
    reps = [(r - mu) / sd for r in x]
    reps = [r - (r @ v) @ v.T for r in reps]
    reps = [r - r.mean(0) for r in reps]
    u = np.linalg.svd(reps[0], full_matrices=False)[2][: p - k].T
    ref = ((reps[0] @ u) * (reps[1] @ u)).sum(0) / n
    np.testing.assert_allclose(got["variance"].values, ref, atol=1e-9 * abs(ref[0]))
    assert got.attrs["zscore"] == "spont"
    # only the z-scoring (no PC removed)
    only = sp.eigenspectrum(ds, method="pca", zscore="spont", remove_pcs_of=spont, n_pcs=0, progress=False)
    xm = x.mean(0) / sd
    ref = np.linalg.eigvalsh(np.cov(xm.T, bias=True))[::-1][: min(n - 1, p)]
    np.testing.assert_allclose(only["variance"].values, ref, atol=1e-10 * ref[0])


def test_zscore_spont_needs_the_spontaneous_set(rng):
    ds = ns.from_array(_population(rng), system="brain", measure="dff")
    with pytest.raises(AnalysisError, match="remove_pcs_of"):
        sp.eigenspectrum(ds, zscore="spont")
    with pytest.raises(AnalysisError, match="zscore="):
        sp.eigenspectrum(ds, zscore="yes")
    flat = np.ones((100, 30))
    flat[:, 1:] = rng.standard_normal((100, 29))
    with pytest.raises(AnalysisError, match="no spontaneous variance"):
        sp.eigenspectrum(
            ds,
            zscore="spont",
            remove_pcs_of=ns.from_array(flat, system="brain", measure="dff"),
            n_pcs=0,
            progress=False,
        )


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("method", ["pca", "cvpca"])
@pytest.mark.parametrize("side", ["stimulus", "unit"])
def test_inf_in_a_lazy_set_names_the_unit(rng, method, side):
    x = _population(rng)
    ds = ns.from_array(x, system="brain", measure="dff", unit=[f"u{i}" for i in range(30)])
    x[1, 4, 7] = np.inf  # as if edited after saving: a lazily loaded set is not value-checked
    lazy = ds.copy()
    lazy["responses"] = xr.DataArray(x, dims=ds["responses"].dims, coords=ds["responses"].coords).chunk(
        {"stimulus": 20}
    )
    with pytest.raises(AnalysisError, match=r"non-finite values .* 1 of 30 units: 'u7'"):
        sp.eigenspectrum(lazy, method=method, side=side, progress=False)


def test_all_nan_unit_is_named_not_blamed_on_repeats(rng):
    x = _population(rng)
    ds = ns.from_array(x, system="brain", measure="dff", unit=[f"u{i}" for i in range(30)])
    x[:, :, 3] = np.nan
    lazy = ds.copy()
    lazy["responses"] = xr.DataArray(x, dims=ds["responses"].dims, coords=ds["responses"].coords).chunk(
        {"stimulus": 20}
    )
    for method in ("cvpca", "pca", "auto"):
        with pytest.raises(AnalysisError, match="'u3'"):
            sp.eigenspectrum(lazy, method=method, progress=False)


def test_circle_population_has_no_nyquist_component():
    with pytest.raises(AnalysisError, match="Nyquist"):
        sp.circle_population(2.0, 10, 9)  # unit 8 would be cos(5θ) = (−1)^t: variance 5^-α, not 5^-α / 2
    ds = sp.circle_population(2.0, 11, 9)  # odd n_angles: k = 5 < 5.5 is below Nyquist
    spec = sp.eigenspectrum(ds, method="pca", progress=False)
    k = np.repeat(np.arange(1, 6), 2)[:9]
    np.testing.assert_allclose(np.sort(spec["variance"].values)[::-1], np.sort(0.5 * k**-2.0)[::-1], rtol=1e-9)


# ------------------------------------------------------------------------------------------------- TwoNN
def test_twonn_split_interval_is_wider_than_the_gamma_model(rng):
    a = np.random.default_rng(0).uniform(0, 2 * np.pi, (2000, 2))
    x = np.concatenate([np.cos(a), np.sin(a)], axis=1)
    split = sp.intrinsic_dimension(x)
    gamma = sp.intrinsic_dimension(x, ci_method="gamma")
    assert split.attrs["ci_method"] == "split" and gamma.attrs["ci_method"] == "gamma"
    assert split["d"].item() == gamma["d"].item()
    assert 1.05 < split["d_se"].item() / gamma["d_se"].item() < 1.6
    lo, hi = split["d_ci"].values
    assert lo < 2 < hi and hi - lo == pytest.approx(2 * 1.959964 * split["d_se"].item())
    again = sp.intrinsic_dimension(x)
    assert again["d_se"].item() == split["d_se"].item()  # seeded
    with pytest.warns(NeurosuperWarning, match="too few for the split-half"):
        small = sp.intrinsic_dimension(rng.standard_normal((12, 2)))
    assert small.attrs["ci_method"] == "gamma"


@pytest.mark.slow
def test_twonn_split_se_matches_the_spread_gamma_does_not():
    d_hat, split_se, gamma_se = [], [], []
    for r in range(40):
        a = np.random.default_rng([r, 77]).uniform(0, 2 * np.pi, (500, 2))
        x = np.concatenate([np.cos(a), np.sin(a)], axis=1)
        s = sp.intrinsic_dimension(x, seed=r)
        d_hat.append(s["d"].item())
        split_se.append(s["d_se"].item())
        gamma_se.append(sp.intrinsic_dimension(x, ci_method="gamma")["d_se"].item())
    spread = np.std(d_hat, ddof=1)
    assert 0.8 < np.mean(split_se) / spread < 1.25  # measured 1.01
    assert np.mean(gamma_se) / spread < 0.85  # measured 0.78: the Gamma model ignores shared neighbours


# -------------------------------------------------------------------------------------------------- dask
def test_every_analysis_on_a_dask_backed_set(rng):
    theta = rng.uniform(0, 2 * np.pi, 60)
    ds = ns.from_array(
        _population(rng),
        system="brain",
        measure="dff",
        layer=("unit", ["a"] * 15 + ["b"] * 15),
        stimuli=np.stack([np.cos(theta), np.sin(theta)], axis=1),
    )
    lazy = ds.copy()
    lazy["responses"] = ds["responses"].chunk({"stimulus": 16})
    lazy["stimuli"] = ds["stimuli"].chunk({"stimulus": 16})
    for kw in ({"method": "pca"}, {"method": "cvpca", "n_shuffles": 2}, {"groupby": "layer", "n_boot": 2}):
        a, b = sp.eigenspectrum(lazy, progress=False, **kw), sp.eigenspectrum(ds, progress=False, **kw)
        np.testing.assert_allclose(a["variance"].values, b["variance"].values, atol=1e-10, equal_nan=True)
    np.testing.assert_allclose(
        sp.reliability(lazy)["reliability"].values, sp.reliability(ds)["reliability"].values, atol=1e-10
    )
    np.testing.assert_allclose(
        sp.random_projection(lazy)["projection"].values, sp.random_projection(ds)["projection"].values, atol=1e-10
    )
    assert sp.intrinsic_dimension(lazy)["d"].item() == pytest.approx(sp.intrinsic_dimension(ds)["d"].item())


def test_plot_trajectory_takes_one_result_or_a_mapping():
    """A Dataset is itself a Mapping (of its variables): one result is drawn as one panel, not split up."""
    from neurosuper.plot.spectral import plot_trajectory

    res = sp.random_projection(sp.circle_population(4.0, 60, 20), order="angle")
    assert len(plot_trajectory(res, title="one").axes) == 1
    assert len(plot_trajectory({"a": res, "b": res}).axes) == 2
