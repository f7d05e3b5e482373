"""eigenspectrum: exact against dense references, fast cvPCA algebra against the direct computation,
sides, bootstrap, grouping, NaN repeats, preprocessing, dask (local and distributed) and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper import AnalysisError, NeurosuperWarning
from neurosuper import spectral as sp


def _population(rng, n=40, p=60, reps=2, noise=0.5, alpha=1.0):
    signal = rng.standard_normal((n, p)) * np.arange(1, p + 1) ** (-alpha / 2)
    signal = signal @ np.linalg.qr(rng.standard_normal((p, p)))[0]
    return signal[None] + noise * rng.standard_normal((reps, n, p)) + rng.normal(3.0, 1.0, (reps, 1, p))


def _pca_reference(x):
    xc = x - x.mean(axis=0)
    n, p = xc.shape
    return np.linalg.eigh(xc.T @ xc / n)[0][::-1][: min(n - 1, p)]


def _cv_reference(x, swap):
    """Direct cvPCA: centre each repeat, swap rows, re-centre, SVD of repeat 1, project both repeats."""
    r1, r2 = x[0] - x[0].mean(0), x[1] - x[1].mean(0)
    y1, y2 = np.where(swap[:, None], r2, r1), np.where(swap[:, None], r1, r2)
    y1, y2 = y1 - y1.mean(0), y2 - y2.mean(0)
    n, p = y1.shape
    k = min(n - 1, p)
    v = np.linalg.svd(y1, full_matrices=False)[2][:k].T
    a, b = y1 @ v, y2 @ v
    return (a * b).sum(0) / n, 0.5 * ((a - b) ** 2).mean(0)


@pytest.mark.parametrize("shape", [(40, 60), (60, 40)])
@pytest.mark.parametrize("side", ["stimulus", "unit"])
def test_pca_equals_dense_eigh(rng, shape, side):
    x = _population(rng, *shape, reps=3)
    ds = ns.from_array(x, system="brain", measure="dff")
    spec = sp.eigenspectrum(ds, method="pca", side=side, progress=False)
    ref = _pca_reference(x.mean(axis=0))
    assert spec.sizes["rank"] == min(shape[0] - 1, shape[1]) == spec.attrs["N"]
    np.testing.assert_allclose(spec["variance"].values, ref, rtol=0, atol=1e-8 * ref[0])
    assert spec.attrs["side"] == side and spec.attrs["method"] == "pca"
    np.testing.assert_array_equal(spec["rank"].values, np.arange(1, len(ref) + 1))


@pytest.mark.parametrize("shape", [(40, 60), (60, 40)])
@pytest.mark.parametrize("n_shuffles", [0, 4])
def test_cvpca_fast_algebra_equals_direct(rng, shape, n_shuffles):
    x = _population(rng, *shape)
    ds = ns.from_array(x, system="brain", measure="dff")
    gen = np.random.default_rng(7)
    swaps = [gen.random(shape[0]) < 0.5 for _ in range(n_shuffles)] or [np.zeros(shape[0], bool)]
    refs = [_cv_reference(x, s) for s in swaps]
    cv, noise = np.mean([r[0] for r in refs], 0), np.mean([r[1] for r in refs], 0)
    for side in ("stimulus", "unit"):
        spec = sp.eigenspectrum(ds, method="cvpca", n_shuffles=n_shuffles, seed=7, side=side, progress=False)
        tol = 1e-8 * abs(cv[0])
        np.testing.assert_allclose(spec["variance"].values, cv, rtol=0, atol=tol)
        np.testing.assert_allclose(spec["noise"].values, noise, rtol=0, atol=tol)
        assert spec.attrs["n_shuffles"] == n_shuffles


def test_cvpca_seed_reproducible_and_shuffles_matter(rng):
    ds = ns.from_array(_population(rng), system="brain", measure="dff")
    a = sp.eigenspectrum(ds, method="cvpca", seed=3, progress=False)
    b = sp.eigenspectrum(ds, method="cvpca", seed=3, progress=False)
    c = sp.eigenspectrum(ds, method="cvpca", seed=4, progress=False)
    np.testing.assert_array_equal(a["variance"].values, b["variance"].values)
    assert not np.allclose(a["variance"].values, c["variance"].values)


def test_bootstrap_sides_agree_and_replicates_are_resamples(rng):
    x = _population(rng, 30, 45)
    ds = ns.from_array(x, system="brain", measure="dff")
    for method in ("pca", "cvpca"):
        s = sp.eigenspectrum(ds, method=method, n_boot=4, n_shuffles=2, seed=1, side="stimulus", progress=False)
        u = sp.eigenspectrum(ds, method=method, n_boot=4, n_shuffles=2, seed=1, side="unit", progress=False)
        assert s["variance_boot"].dims == ("boot", "rank") and s["variance"].dims == ("rank",)
        np.testing.assert_allclose(s["variance_boot"].values, u["variance_boot"].values, atol=1e-10, equal_nan=True)
        full = sp.eigenspectrum(ds, method=method, n_shuffles=2, seed=1, progress=False)
        np.testing.assert_allclose(s["variance"].values, full["variance"].values, atol=1e-12)
    # replicate 0 of PCA equals the dense spectrum of the resampled stimuli
    gen = np.random.default_rng(1)
    idx = gen.integers(0, 30, 30)
    ref = _pca_reference(x.mean(0)[idx])
    n_unique = len(np.unique(idx))
    got = sp.eigenspectrum(ds, method="pca", n_boot=1, seed=1, progress=False)["variance_boot"].values[0]
    np.testing.assert_allclose(got[: n_unique - 1], ref[: n_unique - 1], atol=1e-10 * ref[0])
    assert np.isnan(got[n_unique - 1 :]).all()


def test_more_repeats_use_odd_even_halves_and_nan_repeats(rng):
    x = _population(rng, 30, 20, reps=4)
    x[3, :5] = np.nan  # stimuli 0-4 lack their 4th repeat
    x[1:, 5:7] = np.nan  # stimuli 5, 6 have one repeat only: left out
    ds = ns.from_array(x, system="brain", measure="dff")
    with pytest.warns(NeurosuperWarning, match="left out 2 of 30 stimuli"):
        spec = sp.eigenspectrum(ds, method="cvpca", n_shuffles=0, progress=False)
    keep = np.ones(30, bool)
    keep[5:7] = False
    h1 = (x[0] + x[2]) / 2
    h2 = np.where(np.arange(30)[:, None] < 5, x[1], (x[1] + x[3]) / 2)
    ref, _ = _cv_reference(np.stack([h1[keep], h2[keep]]), np.zeros(28, bool))
    np.testing.assert_allclose(spec["variance"].values, ref, atol=1e-10 * abs(ref[0]))
    assert spec.attrs["n_stimuli_dropped"] == 2 and spec.attrs["n_stimuli"] == 28
    assert "odd vs even" in spec.attrs["repeat_split"]
    # PCA averages the valid repeats
    pca = sp.eigenspectrum(ds, method="pca", progress=False)
    np.testing.assert_allclose(pca["variance"].values, _pca_reference(np.nanmean(x, 0)), atol=1e-10)


def test_auto_method_and_time_window(rng):
    x = rng.standard_normal((2, 25, 4, 15))
    ds = ns.from_array(x, system="brain", measure="spike_rate", time=np.arange(4) * 0.1)
    assert sp.eigenspectrum(ds, progress=False).attrs["method"] == "cvpca"
    one = ns.from_array(
        x[0], dims=("stimulus", "time", "unit"), system="brain", measure="spike_rate", time=np.arange(4) * 0.1
    )
    spec = sp.eigenspectrum(one, progress=False)
    assert spec.attrs["method"] == "pca" and spec.attrs["method_requested"] == "auto"
    np.testing.assert_allclose(spec["variance"].values, _pca_reference(x[0].mean(1)), atol=1e-12)
    win = sp.eigenspectrum(one, time=slice(0.15, 0.35), progress=False)
    np.testing.assert_allclose(win["variance"].values, _pca_reference(x[0][:, 2:].mean(1)), atol=1e-12)


def test_groupby_layer_equals_per_group_calls(rng):
    x = _population(rng, 50, 30)
    layers = np.array(["conv1"] * 18 + ["fc"] * 12)
    ds = ns.from_array(x, system="network", measure="activation", layer=("unit", layers))
    g = sp.eigenspectrum(ds, groupby="layer", n_shuffles=2, progress=False)
    assert g["variance"].dims == ("layer", "rank") and list(g["layer"].values) == ["conv1", "fc"]
    for name, n_units in (("conv1", 18), ("fc", 12)):
        alone = sp.eigenspectrum(
            ds.isel(unit=np.flatnonzero(layers == name)), n_shuffles=2, groupby=None, progress=False
        )
        got = g["variance"].sel(layer=name).values
        np.testing.assert_allclose(got[:n_units], alone["variance"].values, atol=1e-12)
        assert np.isnan(got[n_units:]).all() and int(g["n_units"].sel(layer=name)) == n_units
    with pytest.warns(NeurosuperWarning, match="poor fit"):  # ranks 1..10 of a small random population
        fit = sp.powerlaw(g, ranks=(1, 10))
    assert fit["alpha"].dims == ("layer",) and set(fit.attrs["ranks"]) == {"conv1", "fc"}


def test_zscore_and_spontaneous_pcs_removed(rng):
    n, p = 60, 25
    x = _population(rng, n, p) * rng.uniform(0.5, 5, p)
    spont_dirs = np.linalg.qr(rng.standard_normal((p, 3)))[0]
    spont = ns.from_array(
        rng.standard_normal((200, 3)) @ spont_dirs.T * 4 + rng.standard_normal((200, p)) * 0.01,
        system="brain",
        measure="dff",
    )
    ds = ns.from_array(x, system="brain", measure="dff")
    z = sp.eigenspectrum(ds, method="pca", zscore=True, progress=False)
    xm = x.mean(0)
    np.testing.assert_allclose(z["variance"].values, _pca_reference(xm / xm.std(0)), atol=1e-10)
    for side in ("stimulus", "unit"):
        got = sp.eigenspectrum(ds, method="pca", remove_pcs_of=spont, n_pcs=3, side=side, progress=False)
        sx = spont["responses"].values - spont["responses"].values.mean(0)
        u = np.linalg.svd(sx, full_matrices=False)[2][:3].T
        xc = xm - xm.mean(0)
        ref = _pca_reference(xc - xc @ u @ u.T)[: p - 3]
        np.testing.assert_allclose(got["variance"].values, ref, atol=1e-10 * ref[0])
        assert got.sizes["rank"] == p - 3 and got.attrs["n_pcs_removed"] == 3
        zs = sp.eigenspectrum(
            ds, method="cvpca", n_shuffles=0, zscore=True, remove_pcs_of=spont, n_pcs=3, side=side, progress=False
        )
        scale = np.sqrt(((x - x.mean(1, keepdims=True)) ** 2).mean(axis=(0, 1)))
        uz = np.linalg.svd(sx / scale, full_matrices=False)[2][:3].T
        xz = x / scale
        xz = np.stack([(r - r.mean(0)) - (r - r.mean(0)) @ uz @ uz.T for r in xz])
        ref_cv, _ = _cv_reference(xz, np.zeros(n, bool))
        np.testing.assert_allclose(zs["variance"].values, ref_cv[: p - 3], atol=1e-9 * abs(ref_cv[0]))


def test_dask_chunks_equal_in_memory(rng):
    x = _population(rng, 45, 70).astype(np.float32)
    ds = ns.from_array(x, system="brain", measure="dff")
    lazy = ds.copy()
    lazy["responses"] = ds["responses"].chunk({"stimulus": 10, "unit": 25})
    for method in ("pca", "cvpca"):
        for side in ("stimulus", "unit"):
            a = sp.eigenspectrum(lazy, method=method, side=side, n_shuffles=2, progress=False)
            b = sp.eigenspectrum(ds, method=method, side=side, n_shuffles=2, progress=False)
            np.testing.assert_allclose(
                a["variance"].values, b["variance"].values, rtol=1e-5, atol=1e-5 * float(b["variance"][0])
            )


def test_dask_distributed_cluster_gives_same_spectrum(rng):
    distributed = pytest.importorskip("distributed")
    x = _population(rng, 80, 50)
    ds = ns.from_array(x, system="brain", measure="dff")
    lazy = ds.copy()
    lazy["responses"] = ds["responses"].chunk({"stimulus": 20})
    expected = sp.eigenspectrum(ds, method="pca", progress=False)
    expected_cv = sp.eigenspectrum(ds, method="cvpca", n_shuffles=2, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own port/resource notices
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster),
        ):
            got = sp.eigenspectrum(lazy, method="pca", progress=False)
            got_cv = sp.eigenspectrum(lazy, method="cvpca", n_shuffles=2, progress=False)
    np.testing.assert_allclose(got["variance"].values, expected["variance"].values, atol=1e-10)
    np.testing.assert_allclose(got_cv["variance"].values, expected_cv["variance"].values, atol=1e-10)


def test_n_components_truncates(rng):
    ds = ns.from_array(_population(rng, 40, 60), system="brain", measure="dff")
    full = sp.eigenspectrum(ds, method="cvpca", n_shuffles=1, progress=False)
    top = sp.eigenspectrum(ds, method="cvpca", n_shuffles=1, n_components=5, progress=False)
    assert top.sizes["rank"] == 5
    np.testing.assert_allclose(top["variance"].values, full["variance"].values[:5], atol=1e-10)


# --------------------------------------------------------------------------------------------- bad input
def test_cvpca_needs_two_repeats(rng):
    one = ns.from_array(rng.standard_normal((20, 10)), system="brain", measure="dff")
    with pytest.raises(AnalysisError, match="at least two valid repeats.*method='pca'"):
        sp.eigenspectrum(one, method="cvpca")
    x = rng.standard_normal((2, 20, 10))
    x[1, 2:] = np.nan
    with pytest.raises(AnalysisError, match="found 2 stimuli with two valid repeats"):
        sp.eigenspectrum(ns.from_array(x, system="brain", measure="dff"), method="cvpca")


def test_constant_units_dropped_with_count(rng):
    x = _population(rng, 30, 12)
    x[:, :, [2, 7]] = 1.5
    ds = ns.from_array(x, system="brain", measure="dff")
    for method in ("pca", "cvpca"):
        for side in ("stimulus", "unit"):
            with pytest.warns(NeurosuperWarning, match="dropped 2 of 12 units"):
                spec = sp.eigenspectrum(ds, method=method, side=side, n_shuffles=0, progress=False)
            assert spec.attrs["n_units"] == 10 and spec.attrs["n_constant_units"] == 2
            assert spec.sizes["rank"] == 10
    with pytest.warns(NeurosuperWarning):
        pca = sp.eigenspectrum(ds, method="pca", progress=False)
    np.testing.assert_allclose(pca["variance"].values, _pca_reference(np.delete(x.mean(0), [2, 7], axis=1)), atol=1e-12)


def test_all_zero_data_is_an_error():
    ds = ns.from_array(np.zeros((2, 20, 8)), system="brain", measure="dff")
    for method in ("pca", "cvpca"):
        with pytest.raises(AnalysisError, match="all 8 units constant"):
            sp.eigenspectrum(ds, method=method, progress=False)


def test_bad_arguments(rng):
    ds = ns.from_array(rng.standard_normal((20, 10)), system="brain", measure="dff")
    with pytest.raises(AnalysisError, match="method="):
        sp.eigenspectrum(ds, method="svd")
    with pytest.raises(AnalysisError, match="n_boot"):
        sp.eigenspectrum(ds, n_boot=-1)
    with pytest.raises(AnalysisError, match="groupby='layer'"):
        sp.eigenspectrum(ds, groupby="layer")
    with pytest.raises(AnalysisError, match="no 'time' dim"):
        sp.eigenspectrum(ds, time=slice(0, 1))


def test_result_saves_and_reloads(tmp_path, rng):
    ds = ns.from_array(_population(rng, 30, 20), system="brain", measure="dff")
    spec = sp.eigenspectrum(ds, n_boot=2, progress=False)
    path = ns.save_result(spec, tmp_path / "spec.nc")
    back = xr.open_dataset(path, engine="h5netcdf").load()
    np.testing.assert_allclose(back["variance"].values, spec["variance"].values, equal_nan=True)


def test_constant_units_with_spontaneous_projection_agree_on_both_sides(rng):
    n, p = 50, 20
    x = _population(rng, n, p)
    x[:, :, 4] = 2.0
    spont = ns.from_array(rng.standard_normal((100, p)), system="brain", measure="dff")
    ds = ns.from_array(x, system="brain", measure="dff")
    xm = x.mean(0)
    xc = xm - xm.mean(0)
    sx = spont["responses"].values - spont["responses"].values.mean(0)
    u = np.linalg.svd(sx, full_matrices=False)[2][:2].T
    ref = _pca_reference(xc - xc @ u @ u.T)[: p - 1 - 2]
    for side in ("stimulus", "unit"):
        with pytest.warns(NeurosuperWarning, match="dropped 1 of 20"):
            got = sp.eigenspectrum(ds, method="pca", remove_pcs_of=spont, n_pcs=2, side=side, progress=False)
        np.testing.assert_allclose(got["variance"].values, ref, atol=1e-10 * ref[0])


def test_parallel_tasks_give_the_same_result(rng, monkeypatch):
    from neurosuper import _gram

    ds = ns.from_array(_population(rng, 40, 60), system="brain", measure="dff")
    idle = sp.eigenspectrum(ds, method="cvpca", n_shuffles=3, n_boot=2, progress=False)
    monkeypatch.setattr(_gram, "PARALLEL_TASKS", True)
    busy = sp.eigenspectrum(ds, method="cvpca", n_shuffles=3, n_boot=2, progress=False)
    np.testing.assert_allclose(busy["variance_boot"].values, idle["variance_boot"].values, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(busy["variance"].values, idle["variance"].values, atol=1e-12)
