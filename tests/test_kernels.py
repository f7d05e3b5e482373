"""Kernels brought to their floor (issue 22 §2): the fast paths equal their references.

Spearman RSA: the integer-sort ranks equal ``scipy.stats.rankdata``, ρ equals ``scipy.stats.spearmanr`` and
rsatoolbox's ``compare`` to 1e-12 on random, tied, signed and nearly-equal data, and every bootstrap resample
equals rsatoolbox's ``subsample_pattern`` + ``compare`` on the same drawn stimuli.
"""

from __future__ import annotations

import numpy as np
import pytest
import rsatoolbox as rsa
from scipy.stats import rankdata, spearmanr

from neurosuper import compare as cmp
from neurosuper.compare import rsakernels as rk


def _vectors(kind: str, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=m)
    y = 0.4 * x + rng.normal(size=m)
    if kind == "random":
        return np.abs(x), np.abs(y)
    if kind == "signed":  # negative values and signed zeros (−0.0 ties with +0.0)
        x[:5] = 0.0
        x[5:10] = -0.0
        return x, y
    if kind == "tied":  # a categorical model (4 levels) against rounded data (many ties)
        return rng.integers(0, 4, m).astype(float), np.round(y, 1)
    if kind == "nearly_equal":  # values equal in their top bits: the packed keys collide, order by the full value
        base = 1.0 + rng.integers(0, 50, m) * 1e-9
        return base + rng.integers(0, 3, m) * 2.0**-50, y
    if kind == "wide":  # 600 decades, both signs, subnormals, and one outlier that squeezes the rest together
        x = np.sign(x) * 10.0 ** rng.uniform(-310, 300, m)
        x[:7] = 5e-324
        y[:3] = 1e308
        return x, y
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["random", "signed", "tied", "nearly_equal", "wide"])
def test_ranks_and_spearman_equal_scipy_and_rsatoolbox(rng, kind):
    x, y = _vectors(kind, 44_850, rng)  # the pairs of 300 stimuli
    for v in (x, y):
        order, starts = rk.sort_order(v)
        assert np.all(np.diff(v[order]) >= 0)
        assert np.array_equal(rk._rank(v), rankdata(v))
        n_groups = v.size if starts is None else starts.size
        assert n_groups == np.unique(v).size
    rho = rk.similarity(x, y, "spearman")
    assert abs(rho - spearmanr(x, y).statistic) < 1e-12
    ref = rsa.rdm.compare(rsa.rdm.RDMs(x[None]), rsa.rdm.RDMs(y[None]), "spearman")[0, 0]
    assert abs(rho - ref) < 1e-12


@pytest.mark.parametrize("kind", ["random", "signed", "tied", "nearly_equal"])
def test_spearman_sorted_in_threads_equals_one_thread_and_scipy(rng, kind, monkeypatch):
    """The side-by-side sorts (thread budget ≥ 2) leave the same ranks, ρ and bootstrap resamples as one thread."""
    import neurosuper as ns

    n = 150
    x, y0 = _vectors(kind, n * (n - 1) // 2, rng)
    ys = np.stack([y0, np.round(y0 + rng.normal(size=y0.size), 1)])  # a second y with many ties
    monkeypatch.setattr(rk, "PARALLEL_MIN", 16)
    counts = rk.bootstrap_counts(n, 4, 0)
    with ns.threads(1):
        assert rk._sort_workers(x.size, 3) == 1
        one = rk.SpearmanPlan(x, ys)
        v1, b1 = one.values(), one.boot(counts)
    with ns.threads(2):
        assert rk._sort_workers(x.size, 3) == 2 and rk._sort_workers(15, 3) == 1
        two = rk.SpearmanPlan(x, ys)
        v2, b2 = two.values(), two.boot(counts)
    ref = [spearmanr(x, y).statistic for y in ys]
    np.testing.assert_allclose(v2, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v2, v1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(b2, b1, rtol=0, atol=1e-14)
    assert np.array_equal(two.order_x, one.order_x)
    for k, (p1, p2) in enumerate(zip(one.in_x, two.in_x, strict=True)):  # both list y in sorted order
        y_sorted = np.sort(ys[k])
        assert np.array_equal(ys[k][one.order_x[p1]], y_sorted) and np.array_equal(ys[k][two.order_x[p2]], y_sorted)


def test_spearman_of_small_and_constant_vectors():
    assert np.isnan(rk.spearman(np.ones(10), np.arange(10.0)))
    assert rk.spearman(np.array([1.0, 2.0]), np.array([3.0, 5.0])) == pytest.approx(1.0, abs=1e-15)
    assert rk.spearman(np.array([2.0, 1.0, 3.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize("kind", ["random", "tied"])
def test_bootstrap_resamples_equal_rsatoolbox(rng, kind):
    n = 120
    x, y = _vectors(kind, n * (n - 1) // 2, rng)
    z = np.abs(rng.normal(size=x.size))
    stim = np.arange(n)
    from scipy.spatial.distance import squareform

    a = cmp.as_rdm(squareform(x), stimulus=stim, metric="correlation")
    bs = [cmp.as_rdm(squareform(v), stimulus=stim, metric="correlation") for v in (y, z)]
    res = cmp.compare_rdms(a, bs, method="spearman", n_boot=40, seed=3)
    counts = rk.bootstrap_counts(n, 40, 3)
    ra = rsa.rdm.RDMs(squareform(x)[None])
    rb = rsa.rdm.RDMs(np.stack([squareform(y), squareform(z)]))
    ref_value = rsa.rdm.compare(ra, rb, "spearman").mean()
    assert abs(float(res["value"]) - ref_value) < 1e-12
    for k in range(0, 40, 7):
        idx = np.repeat(stim, counts[k])
        ref = rsa.rdm.compare(ra.subsample_pattern("index", idx), rb.subsample_pattern("index", idx), "spearman")
        assert abs(float(res["value_boot"][k]) - ref.mean()) < 1e-12
    # the plan's bootstrap is the weighted-rank bootstrap of any batch split
    plan = rk.SpearmanPlan(x, np.stack([y, z]))
    np.testing.assert_allclose(plan.boot(counts), res["value_boot"].values, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------------------------------------- CKA
def _kornblith(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al. 2019's feature-space linear CKA (their reference code), float64."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    return float(np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def _set(x: np.ndarray):
    from neurosuper import from_array

    return from_array(x, system="network", measure="activation")


def _cka(x, y, **kw) -> float:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # chance-level warnings of the biased estimator
        return float(cmp.cka(_set(x), _set(y), progress=False, **kw)["cka"])


@pytest.mark.parametrize("kind", ["gaussian", "correlated", "offset", "heavy_tailed"])
def test_cka_float32_products_within_1e6_of_float64(rng, kind):
    n, p, q = 3000, 400, 100
    x = rng.normal(size=(n, p))
    y = rng.normal(size=(n, q))
    if kind == "correlated":
        y = np.tanh(x[:, :q] @ rng.normal(size=(q, q)) / 8) + 0.3 * y
    if kind == "offset":  # means of 10 SD: the blocks are centred in float64 before the float32 products
        x += 10
        y += 10 * rng.random(q)
    if kind == "heavy_tailed":
        x = rng.standard_t(3, size=(n, p))
        y = x[:, :q] ** 2 + rng.standard_t(3, size=(n, q))
    exact, fast = _cka(x, y), _cka(x, y, precision="float32")
    assert 0 < abs(fast - exact) < 1e-6, (fast, exact)  # float32 products ran, and moved it by less than 1e-6
    # debiased: the terms cancel (float32 moved it by up to 3.3e-6 on heavy-tailed data): float64 products
    res = cmp.cka(_set(x), _set(y), debiased=True, precision="float32", progress=False)
    assert res.attrs["precision"] == "float64"
    assert float(res["cka"]) == _cka(x, y, debiased=True)
    assert abs(_cka(x, y) - _kornblith(x, y)) < 1e-12
    assert abs(_cka(x, y, precision="float32") - _kornblith(x, y)) < 1e-6


def test_cka_float32_known_values(rng):
    n, p, q = 2000, 300, 200
    x = rng.normal(size=(n, p))
    qmat, _ = np.linalg.qr(rng.normal(size=(p, p)))
    for precision in ("float64", "float32"):  # invariant to an orthogonal transform: CKA(X, XQ) = 1
        assert _cka(x, x @ qmat, precision=precision) == pytest.approx(1.0, abs=1e-6)
        assert _cka(x, 3 * x @ qmat + 1, precision=precision) == pytest.approx(1.0, abs=1e-6)
    # independent isotropic sets: biased CKA ≈ 1 / √((1 + (n−1)/p)(1 + (n−1)/q)) (cka_chance), debiased ≈ 0
    y = rng.normal(size=(n, q))
    expect = 1 / np.sqrt((1 + (n - 1) / p) * (1 + (n - 1) / q))
    assert _cka(x, y, precision="float32") == pytest.approx(expect, rel=0.02)
    assert abs(_cka(x, y, debiased=True)) < 0.005


def test_cka_precision_is_checked(rng):
    from neurosuper.errors import NeurosuperError

    x = rng.normal(size=(50, 4))
    with pytest.raises(NeurosuperError, match="precision"):
        cmp.cka(_set(x), _set(x), precision="half")


# ---------------------------------------------------------------------------------------------------------- PCA
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pca_scores_equal_sklearn_transform(rng, dtype):
    from neurosuper.directions.estimators import PCADirections

    x = (rng.normal(size=(400, 30)) @ rng.normal(size=(30, 30)) + 5.0).astype(dtype)
    est = PCADirections(8).fit(x)
    ours = est.transform(x)
    ref = est.estimator_.transform(x)
    assert ours.dtype == ref.dtype
    np.testing.assert_allclose(ours, ref, rtol=0, atol=(1e-10 if dtype == np.float64 else 1e-5) * np.abs(ref).max())
