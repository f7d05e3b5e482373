"""powerlaw: Stringer's weighted fit against hand-computed least squares, the rank-range rules, and the
known-truth simulations of the issue (cvPCA vs the noiseless sample's own α)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _format_helpers import as_spectrum

import neurosuper as ns
from neurosuper import AnalysisError, NeurosuperWarning
from neurosuper import spectral as sp


def test_exact_power_law_recovered():
    n = np.arange(1, 801)
    fit = sp.powerlaw(as_spectrum(3.0 * n**-1.3), ranks=(11, 500))  # Stringer's range, given explicitly
    assert fit["alpha"].item() == pytest.approx(1.3, abs=1e-12)
    assert fit["intercept"].item() == pytest.approx(np.log(3.0), abs=1e-10)
    assert fit["r2"].item() == pytest.approx(1.0, abs=1e-12)
    assert fit.attrs["ranks"] == [11, 500] and fit.attrs["n_ranks"] == 490


def test_weighted_least_squares_matches_hand_computation(rng):
    n = np.arange(1, 301)
    v = n**-1.0 * np.exp(0.3 * rng.standard_normal(300)) * (1 + (n > 100))  # noisy, with a kink
    with pytest.warns(NeurosuperWarning, match="poor fit"):  # the kink at rank 100
        fit = sp.powerlaw(as_spectrum(v), ranks=(5, 250))
    r = n[4:250]
    # minimise Σ (1/r)(log v + α log r − b)²: numpy.polyfit weights multiply residuals, so w = 1/sqrt(r)
    slope, b = np.polyfit(np.log(r), np.log(v[4:250]), 1, w=1 / np.sqrt(r))
    assert fit["alpha"].item() == pytest.approx(-slope, abs=1e-10)
    assert fit["intercept"].item() == pytest.approx(b, abs=1e-10)
    resid = np.log(v[4:250]) - (slope * np.log(r) + b)
    y = np.log(v[4:250])
    ybar = np.sum(y / r) / np.sum(1 / r)
    assert fit["r2"].item() == pytest.approx(1 - np.sum(resid**2 / r) / np.sum((y - ybar) ** 2 / r), abs=1e-10)
    # unweighted would differ: the weights matter
    assert abs(-np.polyfit(np.log(r), y, 1)[0] - fit["alpha"].item()) > 1e-3


def test_range_capped_for_small_n_and_too_few_ranks_is_an_error():
    # an explicit range (Stringer's 11..500) is capped at N; the default range is tested below
    with pytest.warns(NeurosuperWarning, match="capped at N = 40"):
        fit = sp.powerlaw(as_spectrum(np.arange(1, 41) ** -1.0), ranks=(11, 500))
    assert fit.attrs["ranks"] == [11, 40]
    # 40..45 leaves 6 ranks: the fix names the leading ranks clear of the bend (1..N // 4), never 1..N
    with pytest.raises(AnalysisError, match=r"N=45 ranks.*ranks=\(1, 11\)"):
        sp.powerlaw(as_spectrum(np.arange(1, 46) ** -1.0), ranks=(40, 500))
    rng = np.random.default_rng(0)
    few = ns.from_array(rng.standard_normal((12, 30)), system="brain", measure="dff")  # N = 11
    with pytest.raises(AnalysisError, match="expected at least 10"):
        sp.powerlaw(sp.eigenspectrum(few, progress=False), ranks=(11, 500))


def test_noise_floor_stops_the_range_with_a_warning():
    v = np.arange(1, 201) ** -1.0
    v[60] = -1e-4  # rank 61 is below the noise floor
    with pytest.warns(NeurosuperWarning, match="stops at rank 60"):
        fit = sp.powerlaw(as_spectrum(v), ranks=(11, 500))  # the default (11..50 here) ends before the floor
    assert fit.attrs["ranks"] == [11, 60] and fit.attrs["stopped_at_noise_floor"]
    assert fit["alpha"].item() == pytest.approx(1.0, abs=1e-12)
    v[13] = 0.0
    with pytest.raises(AnalysisError, match="not positive at rank 14"):
        sp.powerlaw(as_spectrum(v), ranks=(11, 500))


def test_bootstrap_ci(rng):
    n, p = 2000, 120
    x = rng.standard_normal((n, p)) * np.arange(1, p + 1) ** -0.5
    ds = ns.from_array(x @ np.linalg.qr(rng.standard_normal((p, p)))[0], system="brain", measure="dff")
    spec = sp.eigenspectrum(ds, n_boot=40, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)  # ranks 11..120 reach the bend (capped): known here
        fit = sp.powerlaw(spec, ranks=(11, 500))  # the range this test was written for (N = 120)
    lo, hi = fit["alpha_ci"].sel(bound="lower").item(), fit["alpha_ci"].sel(bound="upper").item()
    assert lo < fit["alpha"].item() < hi and hi - lo < 0.3
    boots = fit["alpha_boot"].values
    bias = np.median(boots) - fit["alpha"].item()
    assert fit["alpha_boot_bias"].item() == pytest.approx(bias)
    assert bias > 0  # resampled stimuli repeat: spectra of resamples are steeper
    assert lo == pytest.approx(np.percentile(boots - bias, 2.5))
    assert hi == pytest.approx(np.percentile(boots - bias, 97.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        assert fit["alpha"].item() == pytest.approx(sp.powerlaw(spec["variance"], ranks=(11, 500)).alpha.item())


# ------------------------------------------------------------------------------- known-truth simulations
def _simulate(alpha: float, noise: float, seed: int, n: int = 1500, p: int = 3000, rank: int = 1500):
    """Signal with a power-law spectrum over ``rank`` random factors (float32) and two repeats with independent
    noise of std ``noise`` × the signal's."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, rank), dtype=np.float32) * (np.arange(1, rank + 1, dtype=np.float32) ** (-alpha / 2))
    signal = z @ (rng.standard_normal((rank, p), dtype=np.float32) / np.float32(np.sqrt(p)))
    sd = np.float32(noise * signal.std())
    reps = np.stack([signal + sd * rng.standard_normal((n, p), dtype=np.float32) for _ in range(2)])
    return (ns.from_array(signal, system="brain", measure="dff"), ns.from_array(reps, system="brain", measure="dff"))


def _alphas(alpha: float, noise: float, seed: int):
    clean, noisy = _simulate(alpha, noise, seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cv = sp.powerlaw(
            sp.eigenspectrum(noisy, method="cvpca", n_shuffles=1, seed=seed, progress=False), ranks=(11, 500)
        )  # Stringer's range (N = 1499 here; the default would stop at 374)
    ranks = tuple(cv.attrs["ranks"])
    target = sp.powerlaw(sp.eigenspectrum(clean, method="pca", progress=False), ranks=ranks)["alpha"].item()
    return target, cv, caught, noisy


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5])
def test_cvpca_recovers_alpha_of_noiseless_sample(alpha):
    target, cv, _, _ = _alphas(alpha, 0.3, seed=int(alpha * 10))
    assert cv.attrs["ranks"] == [11, 500]
    assert abs(cv["alpha"].item() - target) < 0.05, (cv["alpha"].item(), target)
    assert abs(target - alpha) < 0.25  # the sample's own α is near the generating one


@pytest.mark.slow
def test_cvpca_alpha_2_within_tolerance_or_stopped_at_noise_floor():
    target, cv, caught, _ = _alphas(2.0, 0.3, seed=20)
    stopped = cv.attrs["stopped_at_noise_floor"]
    if stopped:
        assert any(issubclass(w.category, NeurosuperWarning) and "noise floor" in str(w.message) for w in caught)
        assert cv.attrs["ranks"][1] < 500
    assert abs(cv["alpha"].item() - target) < 0.1, (cv["alpha"].item(), target, cv.attrs["ranks"])


@pytest.mark.slow
def test_with_noise_as_large_as_signal_pca_is_biased_and_cvpca_closer():
    target, cv, _, noisy = _alphas(1.0, 1.0, seed=11)
    pca = sp.powerlaw(sp.eigenspectrum(noisy, method="pca", progress=False), ranks=tuple(cv.attrs["ranks"]))
    err_pca = abs(pca["alpha"].item() - target)
    err_cv = abs(cv["alpha"].item() - target)
    assert err_pca > 0.1, (pca["alpha"].item(), target)
    assert err_cv < err_pca / 2, (cv["alpha"].item(), pca["alpha"].item(), target)
