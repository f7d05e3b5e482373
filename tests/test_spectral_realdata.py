"""Real data: 171 macaque M1 neurons × 15,536 bins of 50 ms (Stevenson et al. 2011, datasets/real/m1)."""

from __future__ import annotations

import numpy as np
import pytest

import neurosuper as ns
from neurosuper import NeurosuperWarning
from neurosuper import spectral as sp


@pytest.fixture(scope="module")
def m1(real_data):
    from scipy.io import loadmat

    spikes = loadmat(real_data / "m1" / "m1_stevenson_2011.mat")["spikes"]  # (171, 15536) counts
    vel = loadmat(real_data / "m1" / "m1_stevenson_2011.mat")["handVel"]
    ds = ns.from_array(
        spikes.T.astype(np.float64),
        system="brain",
        measure="spike_count",
        stimuli=vel.T,
        attrs={"source": "m1_stevenson_2011.mat"},
    )
    return ds, spikes


def test_m1_spectrum_alpha_ci_and_participation_ratio(m1):
    ds, spikes = m1
    spec = sp.eigenspectrum(ds, n_boot=20, progress=False)
    assert spec.attrs["method"] == "pca" and spec.attrs["side"] == "unit" and spec.sizes["rank"] == 171
    # the same spectrum as scikit-learn's PCA on the same matrix (explained_variance_ uses n − 1)
    from sklearn.decomposition import PCA

    n = spikes.shape[1]
    ref = PCA().fit(spikes.T.astype(np.float64)).explained_variance_ * (n - 1) / n
    np.testing.assert_allclose(spec["variance"].values, ref, rtol=1e-8, atol=1e-10 * ref[0])
    with pytest.warns(NeurosuperWarning, match="capped at N = 171.*poor fit"):  # 11..171 reaches into the bend
        fit = sp.powerlaw(spec, ranks=(11, 500))  # Stringer's range; the default (11..42): test_spectral_fit
    alpha = fit["alpha"].item()
    lo, hi = fit["alpha_ci"].values
    assert fit.attrs["ranks"] == [11, 171]
    assert np.isfinite(alpha) and 0.2 < alpha < 3
    assert lo < alpha < hi and hi - lo < 0.5
    assert 0.3 < fit["r2"].item() <= 1  # ranks near N bend down: not a clean power law
    pr = sp.participation_ratio(spec).item()
    assert 1 < pr < 171
    p = ref / ref.sum()
    assert pr == pytest.approx(1 / np.sum(p**2), rel=1e-8)
    dims = sp.dimensionality(spec)
    assert 1 <= dims["n_components"].item() <= 171 and dims["effective_rank"].item() > pr


def test_m1_zscore_flattens_the_spectrum(m1):
    """Counts: high-rate neurons dominate the raw covariance; z-scoring equalises them (lower α, higher PR)."""
    ds, _ = m1
    raw = sp.eigenspectrum(ds, progress=False)
    z = sp.eigenspectrum(ds, zscore=True, progress=False)
    assert sp.participation_ratio(z).item() > sp.participation_ratio(raw).item()
    corr = np.corrcoef(ds["responses"].values.T)
    ref = np.linalg.eigvalsh(corr)[::-1]
    np.testing.assert_allclose(z["variance"].values, ref, atol=1e-10)
