"""RDM comparisons and noise ceilings against rsatoolbox on the same data (values, bootstrap resamples,
boot_noise_ceiling), permutation p-values, the split-half ceiling, order independence and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import rsatoolbox as rsa
import xarray as xr
from _format_helpers import make_set
from rsatoolbox.inference import boot_noise_ceiling

from neurosuper import compare as cmp
from neurosuper import prep
from neurosuper._numbers import rounded
from neurosuper.compare import rsakernels
from neurosuper.compare.rdm import condensed
from neurosuper.compare.rsakernels import RSATOOLBOX_METHOD, bootstrap_counts
from neurosuper.errors import AnalysisError

pytestmark = pytest.mark.filterwarnings("ignore:Noise ceiling for tau:UserWarning")


def _pair(rng, n=30, noise=1.5, tied=False):
    signal = rng.normal(size=(n, 20))
    a = cmp.rdm(make_set(signal))
    b = cmp.rdm(make_set(signal + noise * rng.normal(size=signal.shape), system="brain", measure="dff"))
    if tied:  # a categorical model RDM: 0 within, 1 between three categories
        cat = np.repeat([0, 1, 2], n // 3)
        a = cmp.as_rdm(
            (cat[:, None] != cat[None, :]).astype(float), stimulus=a["stimulus_a"].values, metric="categorical"
        )
    return a, b


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("method", cmp.METHODS)
def test_compare_and_bootstrap_equal_rsatoolbox(rng, method, tied):
    a, b = _pair(rng, tied=tied)
    res = cmp.compare_rdms(a, b, method=method, n_boot=12, seed=3)
    ra, rb = rsa.rdm.RDMs(a.values[None]), rsa.rdm.RDMs(b.values[None])
    m = RSATOOLBOX_METHOD[method]
    assert float(res["value"]) == pytest.approx(rsa.rdm.compare(ra, rb, m)[0, 0], abs=1e-12)
    counts = bootstrap_counts(a.sizes["stimulus_a"], 12, 3)
    for k in range(12):  # each resample = rsatoolbox's subsample_pattern on the same drawn stimuli
        idx = np.repeat(np.arange(a.sizes["stimulus_a"]), counts[k])
        ref = rsa.rdm.compare(ra.subsample_pattern("index", idx), rb.subsample_pattern("index", idx), m)[0, 0]
        assert res["value_boot"].values[k] == pytest.approx(ref, abs=1e-12)
    lo, hi = res["ci"].values
    assert lo <= hi and res.attrs["method"] == method and res.attrs["n_stimuli"] == 30


@pytest.mark.parametrize("ties", ["none", "model", "both"])
def test_tau_a_levels_merge_and_loop_routes_agree(rng, ties):
    """The three exact routes of weighted τ_a agree on every resample: level by level (few distinct values),
    merge-sort inversions (general) and one O(N log N) evaluation of the expanded resample (the reference)."""
    a, b = _pair(rng, n=18, tied=ties != "none")
    x, y = condensed(a), condensed(b)
    if ties == "both":
        y = np.round(y, 0)
    counts = bootstrap_counts(18, 6, 1)
    iu, ju = np.triu_indices(18, 1)
    wt = rsakernels._pair_weights_t(counts, iu, ju)
    loop = rsakernels._wtau(x, y, wt, "loop")
    np.testing.assert_allclose(rsakernels._wtau(x, y, wt, "merge"), loop, atol=1e-12)
    np.testing.assert_allclose(rsakernels._wtau(y, x, wt, "merge"), loop, atol=1e-12)
    if ties != "none":
        np.testing.assert_allclose(rsakernels._wtau(x, y, wt, "levels"), loop, atol=1e-12)
    ones = np.ones((x.size, 1))
    assert rsakernels._wtau(x, y, ones, "merge")[0] == pytest.approx(rsakernels.tau_a(x, y), abs=1e-12)


def test_several_subject_rdms_score_is_the_mean(rng):
    a, b = _pair(rng)
    _, c = _pair(rng)
    c = c.assign_coords(stimulus_a=b["stimulus_a"].values, stimulus_b=b["stimulus_b"].values)
    res = cmp.compare_rdms(a, [b, c], method="spearman", n_boot=0)
    ra = rsa.rdm.RDMs(a.values[None])
    ref = rsa.rdm.compare(ra, rsa.rdm.RDMs(np.stack([b.values, c.values])), "spearman").mean()
    assert float(res["value"]) == pytest.approx(ref, abs=1e-12) and res.attrs["n_rdms"] == 2
    stacked = xr.concat([b, c], dim="subject")
    assert float(cmp.compare_rdms(a, stacked, n_boot=0)["value"]) == pytest.approx(ref, abs=1e-12)


def test_shuffled_stimulus_order_gives_identical_numbers(rng):
    a, b = _pair(rng)
    perm = rng.permutation(a.sizes["stimulus_a"])
    b_shuffled = b.isel(stimulus_a=perm, stimulus_b=perm)
    for method in cmp.METHODS:
        one = cmp.compare_rdms(a, b, method=method, n_boot=50, n_perm=20, seed=5)
        two = cmp.compare_rdms(a, b_shuffled, method=method, n_boot=50, n_perm=20, seed=5)
        for var in ("value", "ci", "value_boot", "p_value"):
            np.testing.assert_array_equal(one[var].values, two[var].values)


def test_permutation_p_value(rng):
    a, b = _pair(rng, noise=0.3)
    same = cmp.compare_rdms(a, b, n_boot=0, n_perm=199, seed=0)
    assert float(same["p_value"]) == pytest.approx(1 / 200)  # no relabelling matches the true pairing
    x = rng.normal(size=(30, 20))
    unrelated = cmp.rdm(make_set(x, stimulus=a["stimulus_a"].values))
    p = float(cmp.compare_rdms(a, unrelated, n_boot=0, n_perm=199, seed=0)["p_value"])
    assert 0.05 < p <= 1  # seed fixed: deterministic
    tau = cmp.compare_rdms(a, b, method="kendall_tau_a", n_boot=0, n_perm=49, seed=0)
    assert float(tau["p_value"]) == pytest.approx(1 / 50)


def test_bootstrap_ci_covers_and_shrinks(rng):
    a, b = _pair(rng, n=60)
    res = cmp.compare_rdms(a, b, n_boot=400, seed=0)
    lo, hi = res["ci"].values
    assert lo < float(res["value"]) < hi
    a2, b2 = _pair(np.random.default_rng(9), n=120)
    lo2, hi2 = cmp.compare_rdms(a2, b2, n_boot=400, seed=0)["ci"].values
    assert hi2 - lo2 < hi - lo  # twice the stimuli, a narrower interval


def _subjects(rng, k=5, n=30, noise=1.5):
    signal = rng.normal(size=(n, 20))
    ids = [f"img{i:02d}" for i in range(n)]
    return [
        cmp.rdm(make_set(signal + noise * rng.normal(size=signal.shape), stimulus=ids, system="brain", measure="dff"))
        for _ in range(k)
    ]


@pytest.mark.parametrize("method", cmp.METHODS)
def test_noise_ceiling_equals_rsatoolbox_boot_noise_ceiling(rng, method):
    rdms = _subjects(rng)
    nc = cmp.noise_ceiling(rdms, method=method)
    ref = boot_noise_ceiling(rsa.rdm.RDMs(np.stack([r.values for r in rdms])), method=RSATOOLBOX_METHOD[method])
    assert float(nc["lower"]) == pytest.approx(ref[0], abs=1e-12)
    assert float(nc["upper"]) == pytest.approx(ref[1], abs=1e-12)
    assert nc.attrs["kind"] == "leave-one-out" and float(nc["lower"]) < float(nc["upper"])
    # order of stimuli in any subject does not matter
    perm = rng.permutation(30)
    rdms[2] = rdms[2].isel(stimulus_a=perm, stimulus_b=perm)
    assert float(cmp.noise_ceiling(rdms, method=method)["lower"]) == pytest.approx(ref[0], abs=1e-12)


def test_split_half_ceiling_definition_and_simulation(rng):
    """lower = Spearman–Brown of the half-RDM agreement (Brain-Score's ceiling), upper = its square root; in a
    simulation the lower bound predicts how well an independent replicate of the data agrees (CTT)."""
    n, p, k = 60, 50, 4
    signal = rng.normal(size=(n, p))
    data = signal[None] + rng.normal(size=(2 * k, n, p))
    ds = make_set(data[:k], system="brain", measure="dff")
    nc = cmp.noise_ceiling(ds, method="pearson")
    halves = prep.split_repeats(ds["responses"])
    h1, h2 = (cmp.rdm(make_set(h)) for h in (halves.r1, halves.r2))
    r_half = np.corrcoef(condensed(h1), condensed(h2))[0, 1]
    assert float(nc["r_half"]) == pytest.approx(r_half, abs=1e-12)
    assert float(nc["lower"]) == pytest.approx(2 * r_half / (1 + r_half), abs=1e-12)
    assert float(nc["upper"]) == pytest.approx(np.sqrt(float(nc["lower"])), abs=1e-12)
    assert nc.attrs["kind"] == "split-half"
    replicate = np.corrcoef(
        condensed(cmp.rdm(make_set(data[:k].mean(0)))), condensed(cmp.rdm(make_set(data[k:].mean(0))))
    )
    assert float(nc["lower"]) == pytest.approx(replicate[0, 1], abs=0.08)
    truth = float(cmp.compare_rdms(cmp.rdm(make_set(signal)), ds, method="pearson", n_boot=0)["value"])
    assert float(nc["lower"]) < truth < float(nc["upper"]) + 0.05


def test_bad_input_errors(rng):
    a, b = _pair(rng)
    other = b.assign_coords(stimulus_a=[f"x{i}" for i in range(30)], stimulus_b=[f"x{i}" for i in range(30)])
    with pytest.raises(AnalysisError, match="0 shared.*Fix:"):
        cmp.compare_rdms(a, other)
    with pytest.raises(AnalysisError, match="0 shared.*Fix:"):
        cmp.noise_ceiling([a, other])  # RDMs over different stimuli
    with pytest.raises(AnalysisError, match="square RDM.*Fix:"):
        cmp.compare_rdms(a, b.isel(stimulus_b=slice(0, 20)))  # wrong shape
    bad = b.copy()
    bad.values[3, 5] = bad.values[5, 3] = np.nan
    with pytest.raises(AnalysisError, match="NaN.*Fix:"):
        cmp.compare_rdms(a, bad)
    with pytest.raises(AnalysisError, match="method.*Fix:"):
        cmp.compare_rdms(a, b, method="kendall")
    with pytest.raises(AnalysisError, match="at least two RDMs"):
        cmp.noise_ceiling([a])
    with pytest.raises(AnalysisError, match="repeat"):
        cmp.noise_ceiling(make_set(rng.normal(size=(10, 4))))


def test_sets_are_turned_into_rdms(rng):
    x = rng.normal(size=(25, 12))
    y = x + rng.normal(size=x.shape)
    res = cmp.compare_rdms(make_set(x), make_set(y, system="brain", measure="dff"), n_boot=0)
    ref = cmp.compare_rdms(cmp.rdm(make_set(x)), cmp.rdm(make_set(y)), n_boot=0)
    assert float(res["value"]) == float(ref["value"])
    assert cmp.summary(res)["value"] == rounded(float(ref["value"]))
