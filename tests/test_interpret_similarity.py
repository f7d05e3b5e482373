"""Similarity backends against analytic distances, scipy, and the invariances they promise."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _format_helpers import make_set
from scipy.spatial.distance import pdist

import neurosuper as ns
from neurosuper.errors import AnalysisError, NeurosuperError, NeurosuperWarning
from neurosuper.interpret import LPIPS, Features, interpretability_index, resolve_similarity
from neurosuper.interpret._gabor import gabor_embedding


def _grating(theta: float, lam: float, phase: float, size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return np.cos(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / lam + phase)


def test_gabor_energy_is_phase_invariant_and_orientation_selective():
    thetas = np.pi * np.arange(4) / 4
    imgs = np.stack([_grating(t, 8, p) for t in thetas for p in (0.0, 1.0, 2.0, 3.0)])
    E = gabor_embedding(imgs)
    assert E.shape == (16, 3 * 4 * 16)
    D = np.linalg.norm(E[:, None] - E[None], axis=-1)
    same = D[np.equal.outer(np.arange(16) // 4, np.arange(16) // 4)]
    other = D[~np.equal.outer(np.arange(16) // 4, np.arange(16) // 4)]
    assert same.max() < 0.1 * other.min()
    # the strongest channel of the wavelength-8 scale (S/4 = 8) is the grating's own orientation
    energy = E.reshape(16, 3, 4, 16).mean(-1)[:, 0]
    np.testing.assert_array_equal(energy.argmax(axis=1), np.arange(16) // 4)
    # contrast and luminance do not matter; colour images are averaged to grey
    np.testing.assert_allclose(gabor_embedding(3 * imgs[:2] + 7), E[:2], atol=1e-9)
    np.testing.assert_allclose(gabor_embedding(np.repeat(imgs[:2, ..., None], 3, -1)), E[:2], atol=1e-9)


def test_orientation_tuned_unit_is_interpretable_with_gabor_not_pixels():
    rng = np.random.default_rng(0)
    thetas = rng.choice(np.pi * np.arange(8) / 8, 240)
    imgs = np.stack([_grating(t, 8, p) for t, p in zip(thetas, rng.uniform(0, 2 * np.pi, 240), strict=True)])
    R = rng.standard_normal((240, 30)) * 0.1
    R[:, 0] += np.cos(thetas) ** 8  # prefers horizontal-carrier gratings, any phase
    ds = make_set(R, imgs)
    # gratings of one orientation are shifted copies of each other: most units' MEIs are flagged as near-duplicates
    with pytest.warns(NeurosuperWarning, match="units have near-duplicate MEIs"):
        gab = interpretability_index(ds, null="random_stimuli", progress=False)
    assert gab.attrs["similarity"] == ("lpips" if not LPIPS.unavailable() else "gabor")
    with pytest.warns(NeurosuperWarning, match="units have near-duplicate MEIs"):
        pix = interpretability_index(ds, similarity="pixels", null="random_stimuli", progress=False)
    # a random set of 5 gratings of one orientation ties the tuned unit's II (gabor energy ignores phase)
    assert gab["ii_percentile"].values[0] >= 99.5 and gab["ii_p"].values[0] <= 0.01
    assert gab["ii_z"].values[0] > 3 and pix["ii_z"].values[0] < 2


def test_pixels_and_color_distances():
    rng = np.random.default_rng(1)
    colours = rng.random((12, 3))
    imgs = np.broadcast_to(colours[:, None, None, :], (12, 5, 6, 3)) + 0.0
    noise = rng.standard_normal((12, 5, 6, 3)) * 0.1
    imgs = imgs + noise - noise.mean(axis=(1, 2), keepdims=True)  # mean colour stays exactly `colours`
    ds = make_set(rng.random((12, 2)), imgs)
    a, b = np.triu_indices(12, 1)
    col, _, _ = resolve_similarity(ds, "color")
    np.testing.assert_allclose(col.distances(a, b), pdist(colours), rtol=1e-10)
    pix, _, _ = resolve_similarity(ds, "pixels")
    np.testing.assert_allclose(pix.distances(a, b), pdist(imgs.reshape(12, -1)), rtol=1e-10)

    def l2(x, y):
        return np.sqrt(((x - y) ** 2).reshape(len(x), -1).sum(1))

    via_callable = interpretability_index(ds, similarity=l2, k=4, progress=False)
    via_pixels = interpretability_index(ds, similarity="pixels", k=4, progress=False)
    np.testing.assert_allclose(via_callable["ii"], via_pixels["ii"])
    assert via_callable.attrs["similarity"] == "l2"
    with pytest.raises(AnalysisError, match="one distance per pair"):
        interpretability_index(ds, similarity=lambda x, y: np.zeros(3), k=4, progress=False)


def test_features_given_as_dataarray_are_aligned_by_stimulus_id():
    rng = np.random.default_rng(2)
    F = rng.standard_normal((40, 3))
    R = rng.standard_normal((40, 6))
    ds = make_set(R, F, stimulus=[f"s{i}" for i in range(40)])
    perm = rng.permutation(40)
    shuffled = xr.DataArray(F[perm], dims=("stimulus", "feature"), coords={"stimulus": ds["stimulus"].values[perm]})
    a = interpretability_index(ds, similarity=Features(features=shuffled), progress=False)
    b = interpretability_index(ds, similarity="features", progress=False)
    np.testing.assert_allclose(a["ii"], b["ii"])


def test_auto_choice_and_missing_lpips():
    rng = np.random.default_rng(3)
    imgs = rng.random((20, 32, 32))  # 32 px: large enough for gabor's wavelengths (8 px: see the test below)
    ds = make_set(rng.random((20, 3)), imgs, label=("stimulus", list("ab") * 10))
    assert resolve_similarity(ds, "auto")[1:] == ("gabor" if LPIPS.unavailable() else "lpips", True)
    assert resolve_similarity(make_set(rng.random((20, 3)), rng.random((20, 4))), "auto")[1] == "features"
    with pytest.raises(AnalysisError, match=r"'features' needs features stimuli \(stimulus, feature\)"):
        resolve_similarity(ds, "features")
    missing = LPIPS.unavailable()
    if not missing:
        pytest.skip("lpips, torchvision and the AlexNet weights are installed here")
    with pytest.raises(NeurosuperError, match="similarity 'lpips': found .*(lpips|weights).* missing"):
        resolve_similarity(ds, "lpips")


def test_auto_does_not_pick_gabor_for_images_too_small_for_its_wavelengths():
    """Gabor's wavelengths S/4, S/8, S/16 need S >= 32 px (all >= 2 px); smaller images get pixels."""
    rng = np.random.default_rng(4)
    for side, expected in ((8, "pixels"), (16, "pixels"), (31, "pixels"), (32, "gabor"), (48, "gabor")):
        ds = make_set(rng.random((20, 3)), rng.random((20, side, side)))
        if LPIPS.unavailable():
            assert resolve_similarity(ds, "auto")[1:] == (expected, True), side
        assert ("gabor" in ns.interpret.available_similarities(ds)) == (expected == "gabor")
    assert ns.interpret.Gabor.min_size(3) == 32 and ns.interpret.Gabor.min_size(2) == 16
    small = make_set(rng.random((20, 3)), rng.random((20, 16, 16, 3)))
    with pytest.raises(AnalysisError, match=r"at least 32 px a side.*found 16 px; Gabor\(n_scales=2\) fits them"):
        resolve_similarity(small, "gabor")
    assert resolve_similarity(small, ns.interpret.Gabor(n_scales=2))[1] == "gabor"  # an explicit fitting bank runs
    res = interpretability_index(small, k=3, null=None, progress=False)
    assert res.attrs["similarity"] == ("pixels" if LPIPS.unavailable() else "lpips")
