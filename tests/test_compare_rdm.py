"""RDMs (neurosuper.compare.rdm / as_rdm): equal to scipy and rsatoolbox on the same input, crossnobis with
rsatoolbox's folds and precision, alignment on stimulus ids, and the errors for bad input."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import rsatoolbox as rsa
import xarray as xr
from _format_helpers import make_set
from scipy.spatial.distance import pdist, squareform

from neurosuper import compare as cmp
from neurosuper.compare.distances import noise_precision, residuals_of
from neurosuper.errors import AnalysisError, NeurosuperError, NeurosuperWarning


@pytest.mark.parametrize("metric", ["correlation", "euclidean", "cosine"])
def test_rdm_equals_scipy_pdist_in_float64(rng, metric):
    x = rng.normal(size=(40, 25)).astype(np.float32) + 3
    r = cmp.rdm(make_set(x), metric=metric)
    assert r.dims == ("stimulus_a", "stimulus_b") and r.dtype == np.float64 and r.shape == (40, 40)
    ref = squareform(pdist(x.astype(np.float64), metric))  # the same float32 values, in float64
    np.testing.assert_allclose(r.values, ref, rtol=1e-12, atol=1e-12)
    assert np.all(np.diag(r.values) == 0)
    np.testing.assert_array_equal(r["stimulus_a"].values, r["stimulus_b"].values)
    assert r.attrs["metric"] == metric and r.attrs["analysis"] == "compare.rdm" and r.attrs["n_units"] == 25


def test_correlation_rdm_equals_rsatoolbox_calc_rdm(rng):
    x = rng.normal(size=(30, 50))
    ours = cmp.rdm(make_set(x))
    ref = rsa.rdm.calc_rdm(rsa.data.Dataset(x), method="correlation")
    np.testing.assert_allclose(cmp.rdm(make_set(x)).values, ref.get_matrices()[0], atol=1e-12)
    np.testing.assert_allclose(ours.values[np.triu_indices(30, 1)], ref.get_vectors()[0], atol=1e-12)


def test_rdm_averages_repeats_and_dask_equals_numpy(rng):
    x = rng.normal(size=(3, 20, 64))
    ds = make_set(x, system="brain", measure="dff")
    r = cmp.rdm(ds)
    np.testing.assert_allclose(r.values, squareform(pdist(x.mean(0), "correlation")), atol=1e-12)
    lazy = make_set(da.from_array(x, chunks=(3, 20, 16)), system="brain", measure="dff")
    np.testing.assert_allclose(cmp.rdm(lazy).values, r.values, atol=1e-12)


def test_rdm_carries_stimulus_coords(rng):
    x = rng.normal(size=(12, 8))
    ds = make_set(x, category=("stimulus", np.repeat(["face", "body", "object"], 4)))
    r = cmp.rdm(ds)
    assert list(r["category"].values[:4]) == ["face"] * 4 and r["category"].dims == ("stimulus_a",)


def _crossnobis_data(rng, n=16, p=10, n_rep=4):
    signal = rng.normal(size=(n, p))
    data = signal[None] + rng.normal(size=(n_rep, n, p)) @ np.diag(rng.uniform(0.5, 2, p))
    return data


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # inside rsatoolbox
def test_crossnobis_equals_rsatoolbox_with_same_folds_and_precision(rng):
    data = _crossnobis_data(rng)
    n_rep, n, p = data.shape
    valid = np.ones((n_rep, n), bool)
    res, dof = residuals_of(data, valid)
    prec_ref = rsa.data.noise.prec_from_residuals(res, dof=dof, method="shrinkage_diag")
    np.testing.assert_allclose(noise_precision(data, valid), prec_ref, rtol=1e-12, atol=1e-12)
    obs = {"stim": np.tile(np.arange(n), n_rep), "rep": np.repeat(np.arange(n_rep), n)}
    dset = rsa.data.Dataset(data.reshape(n_rep * n, p), obs_descriptors=obs)
    ref = rsa.rdm.calc_rdm(dset, method="crossnobis", descriptor="stim", cv_descriptor="rep", noise=prec_ref)
    ds = make_set(data, system="brain", measure="dff")
    ours = cmp.rdm(ds, metric="crossnobis")
    np.testing.assert_allclose(ours.values, ref.get_matrices()[0], rtol=1e-10, atol=1e-12)
    # the precision passed explicitly gives the same; identity precision = rsatoolbox without noise
    np.testing.assert_allclose(cmp.rdm(ds, metric="crossnobis", noise=prec_ref).values, ours.values, atol=1e-12)
    ref_eye = rsa.rdm.calc_rdm(dset, method="crossnobis", descriptor="stim", cv_descriptor="rep")
    np.testing.assert_allclose(
        cmp.rdm(ds, metric="crossnobis", noise="identity").values, ref_eye.get_matrices()[0], atol=1e-12
    )
    assert ours.attrs["n_folds"] == n_rep and ours.attrs["folds"] == "leave one repeat out"


def test_crossnobis_is_unbiased_for_equal_patterns(rng):
    """Pure noise (all stimuli the same pattern): crossnobis averages ~0 and goes negative; the plain
    (squared) distance of the averaged patterns is biased upwards."""
    n, p = 100, 100
    data = np.ones((4, n, p)) + rng.normal(size=(4, n, p))
    r = cmp.rdm(make_set(data, system="brain", measure="dff"), metric="crossnobis", noise="identity")
    off = r.values[np.triu_indices(n, 1)]
    # E = 0; the pairs share stimuli, so the mean's SE is ~2 σ_train σ_test / sqrt(n p) = 2 (1/sqrt(3)) / 100
    assert abs(off.mean()) < 4 * 2 / np.sqrt(3) / 100 and 0.3 < (off < 0).mean() < 0.7
    eu = cmp.rdm(make_set(data, system="brain", measure="dff"), metric="euclidean").values[np.triu_indices(n, 1)]
    assert (eu**2 / p).mean() == pytest.approx(2 / 4, rel=0.05)  # 2σ²/n_rep per unit: the bias crossnobis removes


def test_crossnobis_needs_repeats_and_variable_units(rng):
    with pytest.raises(AnalysisError, match="repeat"):
        cmp.rdm(make_set(rng.normal(size=(10, 5))), metric="crossnobis")
    data = _crossnobis_data(rng)
    data[:, :, 0] = 1.0  # a unit without noise: no precision
    with pytest.raises(AnalysisError, match="no variability across repeats.*Fix:"):
        cmp.rdm(make_set(data, system="brain", measure="dff"), metric="crossnobis")
    with pytest.raises(AnalysisError, match="precision"):
        cmp.rdm(make_set(_crossnobis_data(rng), system="brain", measure="dff"), metric="crossnobis", noise=np.eye(3))


def test_as_rdm_square_and_condensed(rng):
    x = rng.normal(size=(9, 6))
    d = squareform(pdist(x))
    ids = [f"s{i}" for i in range(9)]
    a = cmp.as_rdm(d, stimulus=ids, metric="euclidean")
    b = cmp.as_rdm(pdist(x), stimulus=ids, metric="euclidean")
    np.testing.assert_array_equal(a.values, b.values)
    assert list(a["stimulus_a"].values) == ids and a.attrs["metric"] == "euclidean"
    np.testing.assert_allclose(a.values, cmp.rdm(make_set(x, stimulus=ids), metric="euclidean").values, atol=1e-12)


def test_as_rdm_bad_input():
    with pytest.raises(AnalysisError, match="length 10.*5 stimuli.*Fix:"):
        cmp.as_rdm(np.arange(10.0), stimulus=range(6))
    with pytest.raises(AnalysisError, match=r"shape \(4, 5\).*Fix:"):
        cmp.as_rdm(np.zeros((4, 5)), stimulus=range(4))
    m = np.ones((4, 4))
    m[1, 2] = m[2, 1] = np.nan
    with pytest.raises(AnalysisError, match="NaN.*Fix:"):
        cmp.as_rdm(m, stimulus=range(4))
    m = np.arange(16.0).reshape(4, 4)
    with pytest.raises(AnalysisError, match="asymmetric.*Fix:"):
        cmp.as_rdm(m, stimulus=range(4))
    with pytest.raises(AnalysisError, match="repeated ids"):
        cmp.as_rdm(np.ones((3, 3)), stimulus=[1, 1, 2])


def test_check_rdm_scans_large_rdms_block_by_block(rng, monkeypatch):
    """The blockwise scan finds what the whole-matrix check found: every NaN off the diagonal (counted), the first
    one, an asymmetry in the last block, and accepts NaN on the diagonal."""
    import sys

    monkeypatch.setattr(sys.modules["neurosuper.compare.rdm"], "_SCAN_ROWS", 7)
    n = 40
    d = squareform(pdist(rng.normal(size=(n, 3))))
    d[np.diag_indices(n)] = np.nan  # the diagonal may hold anything
    ids = list(range(n))
    assert cmp.as_rdm(d, stimulus=ids).shape == (n, n)
    bad = d.copy()
    for i, j in [(30, 3), (12, 38), (35, 36)]:
        bad[i, j] = bad[j, i] = np.inf if i == 30 else np.nan
    with pytest.raises(AnalysisError, match=r"3 NaN/inf entries off the diagonal \(first at 3, 30\)"):
        cmp.as_rdm(bad, stimulus=ids)
    skew = d.copy()
    skew[39, 37] += 1e-3  # below the diagonal in the last block only
    with pytest.raises(AnalysisError, match=r"asymmetric matrix \(largest \|D - Dᵀ\| = 0\.001\)"):
        cmp.as_rdm(skew, stimulus=ids)
    skew[39, 37] = d[39, 37] + 1e-12 * np.nanmax(d)  # within the tolerance
    assert cmp.as_rdm(skew, stimulus=ids).shape == (n, n)


def test_rdm_refuses_beyond_max_bytes_saying_what_it_would_allocate(rng):
    ds = make_set(rng.normal(size=(50, 4)))
    with pytest.raises(AnalysisError, match=r"would allocate 0\.00 GiB.*max_bytes.*Fix:"):
        cmp.rdm(ds, max_bytes=1000)
    lazy = make_set(da.zeros((200_000, 4096), chunks=(10_000, 4096), dtype=np.float32))
    with pytest.raises(AnalysisError, match=r"200000 stimuli.*would allocate 596\.05 GiB"):
        cmp.rdm(lazy)  # refused before anything is read


def test_rdm_constant_pattern_is_an_error(rng):
    x = rng.normal(size=(6, 5))
    x[2] = 1.0
    with pytest.raises(AnalysisError, match="constant across units.*Fix:"):
        cmp.rdm(make_set(x))


def test_align_is_order_independent_and_lists_mismatch(rng):
    x = rng.normal(size=(10, 4))
    a = make_set(x, stimulus=[f"s{i}" for i in range(10)])
    perm = rng.permutation(10)
    b = make_set(x[perm], stimulus=[f"s{i}" for i in perm])
    aa, bb = cmp.align(a, b)
    np.testing.assert_array_equal(aa["responses"].values, bb["responses"].values)
    c = make_set(x, stimulus=[f"t{i}" for i in range(10)])
    with pytest.raises(AnalysisError, match="0 shared.*only in input 1: 's0'.*only in input 2: 't0'.*Fix:"):
        cmp.align(a, c)
    d = make_set(x[:8], stimulus=[f"s{i}" for i in range(8)])
    with pytest.warns(NeurosuperWarning, match="8 stimuli all inputs share; left out 2 only in input 1"):
        aa, dd = cmp.align(a, d)
    assert aa.sizes["stimulus"] == 8
    r = cmp.rdm(a)
    ar, rr = cmp.align(a, r)  # sets and RDMs mix
    assert list(rr["stimulus_a"].values) == list(ar["stimulus"].values)


def test_check_rdm_rejects_non_rdms(rng):
    with pytest.raises(NeurosuperError, match="stimulus_a, stimulus_b"):
        cmp.check_rdm(xr.DataArray(np.zeros((3, 3)), dims=("x", "y")))
