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
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["random", "signed", "tied", "nearly_equal"])
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
