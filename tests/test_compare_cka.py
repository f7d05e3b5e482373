"""Linear CKA (biased and debiased) against the formulas computed directly, Kornblith et al.'s known bias,
dask-backed sets in bounded memory, and the Procrustes shape distance against scipy's orthogonal_procrustes."""

from __future__ import annotations

import contextlib
import tracemalloc

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from _format_helpers import make_set
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

from neurosuper import compare as cmp
from neurosuper.errors import AnalysisError, NeurosuperWarning


def _direct_cka(x, y, debiased):
    """The formulas of ../shared/PAPERS.md §4 with explicit n × n matrices (Kornblith 2019; Song 2012)."""
    n = x.shape[0]
    k, l = x @ x.T, y @ y.T
    if not debiased:
        h = np.eye(n) - np.ones((n, n)) / n
        kc, lc = h @ k @ h, h @ l @ h
        return np.sum(kc * lc) / (np.linalg.norm(kc) * np.linalg.norm(lc))

    def hsic(k, l):
        kt, lt = k - np.diag(np.diag(k)), l - np.diag(np.diag(l))
        one = np.ones(n)
        return (
            np.trace(kt @ lt)
            + one @ kt @ one * (one @ lt @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ kt @ lt @ one
        ) / (n * (n - 3))

    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("shape", [(120, 20, 30), (40, 60, 50)])  # feature form, Gram form
def test_cka_equals_direct_formulas(rng, shape, debiased):
    n, p, q = shape
    x = rng.normal(size=(n, p)) + 5
    y = np.tanh(x[:, : min(p, q)] @ rng.normal(size=(min(p, q), q))) + 0.5 * rng.normal(size=(n, q))
    inflated = not debiased and n < p + q  # 40 stimuli against 60 and 50 units: biased CKA's chance level is high
    expect = (
        pytest.warns(NeurosuperWarning, match="biased linear CKA is inflated") if inflated else contextlib.nullcontext()
    )
    with expect:
        out = cmp.cka(make_set(x), make_set(y, system="brain", measure="dff"), debiased=debiased)
    assert isinstance(out, xr.Dataset)  # one kind of result per family: cka and procrustes return Datasets
    assert float(out["cka"]) == pytest.approx(_direct_cka(x, y, debiased), abs=1e-10)
    assert out.attrs["form"] == ("feature" if p + q <= n else "gram") and out.attrs["debiased"] == debiased


def test_debiased_cka_of_independent_sets_is_near_zero(rng):
    """Kornblith et al. 2019: independent Gaussian sets of 64 stimuli × 200 units have biased CKA ≈ 0.8."""
    biased, deb = [], []
    for _ in range(8):
        a, b = make_set(rng.normal(size=(64, 200))), make_set(rng.normal(size=(64, 200)))
        with pytest.warns(NeurosuperWarning, match="biased linear CKA is inflated"):  # the bias this test shows
            biased.append(float(cmp.cka(a, b)["cka"]))
        deb.append(float(cmp.cka(a, b, debiased=True)["cka"]))
    assert 0.7 < np.mean(biased) < 0.85
    assert abs(np.mean(deb)) < 0.03


def test_cka_invariances_and_order_independence(rng):
    x = rng.normal(size=(80, 10))
    q = ortho_group.rvs(10, random_state=1)
    a = make_set(x)
    assert float(cmp.cka(a, make_set(3 * x @ q + 7))["cka"]) == pytest.approx(1.0, abs=1e-12)  # rotation, scale, shift
    y = x @ rng.normal(size=(10, 6)) + rng.normal(size=(80, 6))
    perm = rng.permutation(80)
    ids = np.array([f"s{i}" for i in range(80)])
    one = cmp.cka(make_set(x, stimulus=ids), make_set(y, stimulus=ids), debiased=True)
    two = cmp.cka(make_set(x, stimulus=ids), make_set(y[perm], stimulus=ids[perm]), debiased=True)
    assert float(one["cka"]) == float(two["cka"])


def test_cka_per_group_pairs(rng):
    x = rng.normal(size=(100, 12))
    y = rng.normal(size=(100, 8))
    net = make_set(x, layer=("unit", np.repeat(["l1", "l2", "l3"], 4)))
    brain = make_set(y, system="brain", measure="dff", area=("unit", np.repeat(["V1", "V4"], 4)))
    out = cmp.cka(net, brain, groupby="auto", debiased=True)["cka"]
    assert out.dims == ("layer", "area") and list(out["layer"].values) == ["l1", "l2", "l3"]
    for i, lay in enumerate(["l1", "l2", "l3"]):
        for j, ar in enumerate(["V1", "V4"]):
            ref = _direct_cka(x[:, 4 * i : 4 * i + 4], y[:, 4 * j : 4 * j + 4], True)
            assert float(out.sel(layer=lay, area=ar)) == pytest.approx(ref, abs=1e-10)
    assert float(out["cka_whole"]) == pytest.approx(_direct_cka(x, y, True), abs=1e-10)
    same = cmp.cka(net, net, groupby="layer")["cka"]
    assert same.dims == ("layer_a", "layer_b") and np.allclose(np.diag(same.values), 1.0)


def _dask_pair(n, p=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, p))
    y = np.tanh(x[:, ::-1] + rng.normal(size=(n, p)))
    return da.from_array(x, chunks=(4_000, p)), da.from_array(y, chunks=(4_000, p))


def _peak_cka(xa, xb):
    tracemalloc.start()  # counts what is allocated from here on: the working memory, not the stored data
    value = float(cmp.cka(make_set(xa), make_set(xb), debiased=True)["cka"])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return value, peak


def test_cka_on_dask_sets_equals_numpy_in_bounded_memory():
    """Dask-backed layers are reduced chunk by chunk: six times the stimuli (120,000 × 64 × 2 float64, 123 MB)
    leave the working memory about where it was, a small fraction of the data."""
    _peak_cka(*_dask_pair(8_000))  # warm-up: first-use imports and caches are not working memory
    _, peak_small = _peak_cka(*_dask_pair(20_000))
    xa, xb = _dask_pair(120_000)
    big, peak_big = _peak_cka(xa, xb)
    assert peak_big < 1.5 * peak_small + 4e6 and peak_big < 0.2 * 2 * 120_000 * 64 * 8, (peak_small, peak_big)
    from neurosuper.compare.linear import cka_feature

    assert big == pytest.approx(cka_feature(xa.compute(), xb.compute(), debiased=True), abs=1e-10)


def test_dask_shift_far_from_the_mean_is_corrected_exactly(rng):
    """A dask array is shifted by the mean of its first 4,096 rows; when those rows sit far from the overall mean
    the one-pass correction (Gram and debiased row norms) still gives the exact values."""
    from neurosuper.compare.linear import cka_feature

    x = rng.normal(size=(6000, 40))
    x[:4096] += 3.0
    y = np.tanh(x[:, :30]) + rng.normal(size=(6000, 30))
    y[2000:] -= 2.0
    lazy = cmp.cka(
        make_set(da.from_array(x, chunks=(1000, 40))), make_set(da.from_array(y, chunks=(700, 30))), debiased=True
    )
    assert float(lazy["cka"]) == pytest.approx(cka_feature(x, y, debiased=True), abs=1e-10)


def _scipy_procrustes(x, y, scale=True):
    x = x - x.mean(0)
    y = y - y.mean(0)
    if scale:
        x, y = x / np.linalg.norm(x), y / np.linalg.norm(y)
    w = max(x.shape[1], y.shape[1])
    xp = np.pad(x, ((0, 0), (0, w - x.shape[1])))
    yp = np.pad(y, ((0, 0), (0, w - y.shape[1])))
    q, _ = orthogonal_procrustes(yp, xp)  # argmin ||yp q - xp||
    if scale:
        return np.arccos(np.clip(np.sum(xp * (yp @ q)) / (np.linalg.norm(xp) * np.linalg.norm(yp)), -1, 1))
    return np.linalg.norm(xp - yp @ q)


@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("shape", [(100, 12, 7), (30, 8, 40)])
def test_procrustes_equals_scipy_orthogonal_procrustes(rng, shape, scale):
    n, p, q = shape
    x = rng.normal(size=(n, p))
    y = x[:, : min(p, q)] @ rng.normal(size=(min(p, q), q)) + rng.normal(size=(n, q))
    with pytest.warns(NeurosuperWarning, match="units as stimuli") if q >= n - 1 else _nothing():
        out = cmp.procrustes(make_set(x), make_set(y), scale=scale)
    assert float(out["distance"]) == pytest.approx(_scipy_procrustes(x, y, scale), abs=1e-9)
    assert out.attrs["degenerate"] == (q >= n - 1)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("form", ["feature", "gram"])
def test_both_forms_give_the_same_pairs(rng, form):
    """The feature form (units × units products) and the Gram form (stimulus Grams, eigh square roots) agree
    with the direct formulas for every group pair: CKA, debiased CKA and the nuclear norm ‖YᵀX‖_*."""
    from neurosuper.compare.linear import linear_pairs

    x = rng.normal(size=(50, 30))
    y = x[:, :20] @ rng.normal(size=(20, 24)) + rng.normal(size=(50, 24))
    ga = [(None, np.arange(30)), ("g1", np.arange(10)), ("g2", np.arange(10, 30))]
    gb = [(None, np.arange(24)), ("h1", np.arange(12)), ("h2", np.arange(12, 24))]
    stats = linear_pairs(x, y, ga, gb, form=form)
    assert stats.form == form
    xc, yc = x - x.mean(0), y - y.mean(0)
    for s, (_, i) in enumerate(ga):
        for t, (_, j) in enumerate(gb):
            assert stats.cka[s, t] == pytest.approx(_direct_cka(x[:, i], y[:, j], False), abs=1e-10)
            assert stats.cka_debiased[s, t] == pytest.approx(_direct_cka(x[:, i], y[:, j], True), abs=1e-10)
            nuc = np.linalg.svd(xc[:, i].T @ yc[:, j], compute_uv=False).sum()
            assert stats.nuclear[s, t] == pytest.approx(nuc, rel=1e-10)
    cross = linear_pairs(x, y, ga, gb, cka=False, form="feature")  # Procrustes alone: only XᵀY is formed
    np.testing.assert_allclose(cross.nuclear, stats.nuclear, rtol=1e-10)
    np.testing.assert_allclose(cross.norm2_a, stats.norm2_a, rtol=1e-12)


def test_procrustes_known_truth_and_degeneracy(rng):
    x = rng.normal(size=(200, 10))
    q = ortho_group.rvs(10, random_state=2)
    assert float(cmp.procrustes(make_set(x), make_set(4 * x @ q + 1))["distance"]) == pytest.approx(0, abs=1e-6)
    # unrelated narrow sets are far apart; unrelated wide sets (units >> stimuli) look nearly identical
    narrow = float(cmp.procrustes(make_set(x), make_set(rng.normal(size=(200, 10))))["distance"])
    with pytest.warns(NeurosuperWarning, match="at least as many units as stimuli"):
        wide = float(
            cmp.procrustes(make_set(rng.normal(size=(20, 2000))), make_set(rng.normal(size=(20, 2000))))["distance"]
        )
    # the numbers docs/compare.md quotes: 1.38 rad and 0.07 rad (0.068-0.081 over 10 seeds; it said 0.2)
    assert narrow > 1.0 and 0.06 < wide < 0.09


def test_cka_bad_input(rng):
    a = make_set(rng.normal(size=(10, 3)), stimulus=[f"a{i}" for i in range(10)])
    b = make_set(rng.normal(size=(10, 3)), stimulus=[f"b{i}" for i in range(10)])
    with pytest.raises(AnalysisError, match="0 shared.*Fix:"):
        cmp.cka(a, b)
    with pytest.raises(AnalysisError, match="groupby='nope'.*Fix:"):
        cmp.cka(a, a, groupby="nope")
