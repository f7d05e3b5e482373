"""The embedded demo data: valid sets, deterministic and cached, and ground truth that analyses can be checked on."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sklearn.datasets import load_sample_image

import neurosuper as ns
from neurosuper import datasets
from neurosuper.errors import NeurosuperWarning

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache folder holding only a stale file of an older generator, used through $NEUROSUPER_CACHE."""
    path = tmp_path_factory.mktemp("cache")
    (path / "demo_brain-g0-0123456789abcdef.nc").write_bytes(b"an older generator's file")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(datasets.CACHE_ENV, str(path))
        yield path


@pytest.fixture(scope="module")
def brain(cache):
    return datasets.demo_brain()  # a fresh build (the cache folder is empty), written to the cache


@pytest.fixture(scope="module")
def network(cache):
    return datasets.demo_network()


# --------------------------------------------------------------------------------------------- both sets
def test_valid_sets_with_the_promised_layout(brain, network):
    for ds in (brain, network):
        ns.validate(ds, check_values=True)
        assert ds["stimuli"].dims == ("stimulus", "y", "x") and ds["stimuli"].dtype == np.uint8
        assert ds.sizes["stimulus"] >= 1000
    assert brain["responses"].dims == ("repeat", "stimulus", "unit")
    assert brain.sizes["repeat"] == 2 and brain.sizes["unit"] >= 500
    assert (brain.attrs["system"], brain.attrs["measure"]) == ("brain", "spike_count")
    assert set(brain["area"].values) == {"V1"}
    for coord in ("x_pos", "y_pos", "orientation", "sf", "source_image", "luminance"):
        assert coord in brain.coords
    assert (network.attrs["system"], network.attrs["measure"]) == ("network", "activation")
    assert list(network["layer"].to_index().unique()) == ["hidden_1", "hidden_2", "hidden_3"]
    assert network.sizes["unit"] == 128 + 64 + 128
    # the same stimuli, ids and stimulus coords in both
    np.testing.assert_array_equal(brain["stimulus"].values, network["stimulus"].values)
    np.testing.assert_array_equal(brain["stimuli"].values, network["stimuli"].values)
    np.testing.assert_array_equal(brain["source_image"].values, network["source_image"].values)


def test_cached_files_equal_fresh_builds(brain, network, cache):
    files = sorted(p.name for p in cache.iterdir())
    # one file per set; the stale file of an older generator was removed when the new one was written
    assert [f.split("-")[0] for f in files] == ["demo_brain", "demo_network"]
    assert all(f.split("-")[1] == f"g{datasets.GENERATOR_VERSION}" for f in files)
    # from the cache: identical to what the first (fresh) build returned
    xr.testing.assert_identical(datasets.demo_brain(), brain)
    xr.testing.assert_identical(datasets.demo_network(), network)
    # a second fresh build: the generator is deterministic
    xr.testing.assert_identical(datasets.demo_network(cache=False), network)
    # a broken cache file is rebuilt (with a warning) — again identical
    path = cache / next(f for f in files if f.startswith("demo_brain"))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.warns(NeurosuperWarning, match="could not be read"):
        rebuilt = datasets.demo_brain()
    xr.testing.assert_identical(rebuilt, brain)
    xr.testing.assert_identical(ns.load(path), brain)


def test_cache_key_follows_generator_and_parameters(monkeypatch, cache):
    brain_path = datasets._cache_path("demo_brain", {"patches": datasets.PATCHES, "brain": datasets.BRAIN})
    assert brain_path.parent == cache and brain_path.exists()
    monkeypatch.setattr(datasets, "GENERATOR_VERSION", datasets.GENERATOR_VERSION + 1)
    bumped = datasets._cache_path("demo_brain", {"patches": datasets.PATCHES, "brain": datasets.BRAIN})
    monkeypatch.undo()
    changed = datasets._cache_path("demo_brain", {"patches": datasets.PATCHES, "brain": {**datasets.BRAIN, "seed": 2}})
    assert len({brain_path, bumped, changed}) == 3


def test_cache_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv(datasets.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datasets.cache_dir() == tmp_path / "neurosuper"
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path / "mine"))
    assert datasets.cache_dir() == tmp_path / "mine"


def _photo(name: str) -> np.ndarray:
    """The source photograph, read independently of neurosuper: grey (BT.601) float."""
    lib, item = name.split("/")
    if lib == "sklearn":
        img = load_sample_image(item)
    else:
        import skimage.data

        img = getattr(skimage.data, item)()
        img = img[0] if isinstance(img, tuple) else img  # stereo_motorcycle: the left image
    img = np.asarray(img, dtype=float)
    return img @ [0.299, 0.587, 0.114] if img.ndim == 3 else img


def test_stimuli_are_patches_of_the_real_photographs(brain):
    k, size = brain.attrs["image_downsample"], brain.attrs["patch_size"]
    assert sorted(set(brain["source_image"].values)) == sorted(datasets.PATCHES["images"])
    assert len(datasets.PATCHES["images"]) >= 10  # many photographs, not two
    for i in (0, 1, 777, 1999):
        s = brain.isel(stimulus=i)
        grey = _photo(str(s["source_image"].values))
        h, w = grey.shape[0] // k * k, grey.shape[1] // k * k
        small = grey[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))
        y, x = int(s["image_y"]), int(s["image_x"])
        np.testing.assert_allclose(s["stimuli"].values, small[y : y + size, x : x + size], atol=0.5 + 1e-9)
    assert brain["stimuli"].values.std() > 20  # natural images, not a constant


def test_patches_overlap_at_most_the_stated_fraction_and_none_is_blank(brain):
    """Two patches of one photograph share at most 1 - step/size of their area (1/3); no blank patch."""
    size, step = brain.attrs["patch_size"], brain.attrs["patch_step"]
    assert brain.attrs["max_overlap"] == pytest.approx(1 - step / size) and brain.attrs["max_overlap"] <= 1 / 3 + 1e-12
    src = brain["source_image"].values
    y, x = brain["image_y"].values.astype(float), brain["image_x"].values.astype(float)
    same = np.equal.outer(src, src) & ~np.eye(len(src), dtype=bool)
    overlap = np.clip(1 - np.abs(np.subtract.outer(y, y)) / size, 0, None) * np.clip(
        1 - np.abs(np.subtract.outer(x, x)) / size, 0, None
    )
    assert overlap[same].max() <= brain.attrs["max_overlap"] + 1e-12
    assert np.array_equal(overlap[same].max(), 1 - step / size)  # neighbours on the grid exist
    assert len(set(zip(src, y, x, strict=True))) == brain.sizes["stimulus"]  # no position twice
    sd = brain["stimuli"].values.reshape(brain.sizes["stimulus"], -1).std(axis=1)
    assert sd.min() >= datasets.PATCHES["min_sd"] - 0.5
    counts = {name: int((src == name).sum()) for name in datasets.PATCHES["images"]}
    assert max(counts.values()) < 0.2 * brain.sizes["stimulus"]  # no photograph dominates


# --------------------------------------------------------------------------------------------- brain ground truth
def test_alpha_true_is_stringers_fit_and_close_to_one(brain):
    alpha = brain.attrs["alpha_true"]
    assert 0.9 <= alpha <= 1.15
    assert brain.attrs["alpha_ranks"] == [11, 500]
    # independent fit: numpy's weighted polyfit of log λ_n on log n, weights 1/n (polyfit's w multiplies residuals)
    n = np.arange(11, 501)
    lam = brain["true_spectrum"].sel(rank=n).values
    slope = np.polyfit(np.log(n), np.log(lam), 1, w=np.sqrt(1.0 / n))[0]
    assert alpha == pytest.approx(-slope, abs=1e-9)


def test_true_spectrum_is_the_eigenspectrum_of_the_stored_rates(brain):
    rates = brain["rates"].values.astype(np.float64)
    expected = np.linalg.eigvalsh(np.cov(rates, rowvar=False, bias=True))[::-1]  # Σ = R̃ᵀR̃ / n_stimuli
    spectrum = brain["true_spectrum"].values
    assert np.all(np.diff(spectrum) <= 0) and list(brain["rank"].values[:3]) == [1, 2, 3]
    np.testing.assert_allclose(spectrum[:900], expected[:900], rtol=1e-7)
    assert spectrum.sum() == pytest.approx(rates.var(axis=0).sum(), rel=1e-9)  # trace = total variance


def test_rates_follow_the_stated_ln_model(brain):
    a = brain.attrs
    x = (brain["stimuli"].values.reshape(brain.sizes["stimulus"], -1) - a["input_mean"]) / a["input_std"]
    drive = x @ brain["filters"].values.reshape(brain.sizes["unit"], -1).T.astype(np.float64)
    np.testing.assert_allclose(brain["threshold"].values, a["threshold_sd"] * drive.std(axis=0), rtol=1e-10)
    rates = a["baseline"] + a["gain"] * np.maximum(drive - brain["threshold"].values, 0)
    np.testing.assert_allclose(brain["rates"].values, rates, rtol=1e-6)
    assert brain["rates"].values.mean() == pytest.approx(a["mean_count"], rel=1e-5)
    assert brain["rates"].values.min() > 0


def test_spike_counts_are_poisson_around_the_rates(brain):
    counts = brain["responses"].values.astype(np.float64)
    rates = np.broadcast_to(brain["rates"].values.astype(np.float64), counts.shape)
    assert np.all(counts >= 0) and np.all(counts == np.round(counts))
    n = counts.size
    resid = counts - rates
    # mean: E[c - r] = 0, standard error sqrt(mean rate / n)
    assert abs(resid.mean()) < 5 * np.sqrt(rates.mean() / n)
    # variance equals the mean (Poisson), overall and for strongly driven entries
    assert (resid**2).mean() / rates.mean() == pytest.approx(1.0, abs=0.01)
    high = rates > 5
    assert high.sum() > 10_000
    assert (resid[high] ** 2).mean() / rates[high].mean() == pytest.approx(1.0, abs=0.05)
    # P(count = 0) = exp(-rate) at the baseline (most entries)
    base = np.isclose(rates, brain.attrs["baseline"], rtol=1e-6)
    assert (counts[base] == 0).mean() == pytest.approx(np.exp(-brain.attrs["baseline"]), abs=0.005)
    # the repeats are independent draws: E[(c1 - c2)^2] / 2 = E[r]
    half_sq = ((counts[0] - counts[1]) ** 2).mean() / 2
    assert half_sq / rates.mean() == pytest.approx(1.0, abs=0.01)


def test_filters_are_oriented_and_localised(brain):
    filt = brain["filters"].values.astype(np.float64)
    n, size, _ = filt.shape
    x0, y0 = brain["x_pos"].values[:, None, None], brain["y_pos"].values[:, None, None]
    radius = 2 * datasets.BRAIN["aspect"] * brain["sigma"].values[:, None, None]
    yy, xx = np.mgrid[0:size, 0:size]
    inside = (xx - x0) ** 2 + (yy - y0) ** 2 <= radius**2
    energy = filt**2
    frac = (energy * inside).sum(axis=(1, 2)) / energy.sum(axis=(1, 2))
    assert frac.min() > 0.95  # localised: ≥ 95 % of the energy within 2 envelope widths of the centre ...
    assert np.median(inside.mean(axis=(1, 2))) < 0.1  # ... a small part of the patch
    np.testing.assert_allclose(np.linalg.norm(filt.reshape(n, -1), axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(filt.sum(axis=(1, 2)), 0.0, atol=1e-5)  # no response to uniform light
    # oriented: the filter's Fourier energy at its own frequency sf peaks in direction `orientation` ...
    theta, sf = brain["orientation"].values, brain["sf"].values
    angles = np.linspace(0, np.pi, 36, endpoint=False)
    best = angles[_fourier_energy(filt, sf, np.broadcast_to(angles, (n, 36))).argmax(axis=1)]
    err = np.abs(np.angle(np.exp(2j * (best - theta)))) / 2  # orientation difference (mod π)
    assert np.median(err) < 0.05 and np.quantile(err, 0.95) < 0.1  # 5° grid: ≤ 0.044 from quantisation
    # ... is far stronger there than in the orthogonal direction (an unoriented filter: ratio 1) ...
    pref, orth = _fourier_energy(filt, sf, np.stack([theta, theta + np.pi / 2], axis=1)).T
    assert np.quantile(pref / orth, 0.01) > 10
    # ... and, along that direction, peaks at frequency sf (below Nyquist's reach of the envelope)
    scales = np.linspace(0.5, 1.5, 41)
    along = np.stack([_fourier_energy(filt, sf * k, theta[:, None])[:, 0] for k in scales], axis=1)
    sf_err = np.abs(scales[along.argmax(axis=1)] - 1)[sf < 0.4]
    assert np.quantile(sf_err, 0.95) <= 0.05


def _fourier_energy(filt: np.ndarray, freq: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """|Σ_yx filt·exp(−2πi f (x cos a + y sin a))|² per unit (rows of ``angle``: the directions a to probe)."""
    pos = np.arange(filt.shape[1])
    ex = np.exp(-2j * np.pi * freq[:, None, None] * pos[None, :, None] * np.cos(angle)[:, None, :])
    ey = np.exp(-2j * np.pi * freq[:, None, None] * pos[None, :, None] * np.sin(angle)[:, None, :])
    return np.abs(np.einsum("uyx,uxa,uya->ua", filt, ex, ey)) ** 2


def test_cross_validated_signal_beats_single_repeat_noise(brain):
    """The demo is a fair test of cvPCA: noise matters (SNR 0.5), and the repeats share the signal."""
    r = brain["rates"].values.astype(np.float64)
    signal = r.var(axis=0).sum()
    assert signal / r.mean(axis=0).sum() == pytest.approx(brain.attrs["snr"], rel=1e-5)
    c = brain["responses"].values.astype(np.float64)
    c1, c2 = c[0] - c[0].mean(axis=0), c[1] - c[1].mean(axis=0)
    cross = (c1 * c2).mean(axis=0).sum()  # covariance between repeats = signal variance
    assert cross == pytest.approx(signal, rel=0.05)


# --------------------------------------------------------------------------------------------- network ground truth
def test_network_activations_equal_a_manual_forward_pass(network):
    a = network.attrs
    X, _, _ = datasets.network_inputs(
        network["stimuli"].values, pool=a["input_pool"], mean=a["input_mean"], std=a["input_std"]
    )
    assert X.shape == (network.sizes["stimulus"], 256) and X.dtype == np.float32
    h = X
    for name in ("hidden_1", "hidden_2", "hidden_3"):
        h = np.maximum(h @ network[f"weights_{name}"].values + network[f"bias_{name}"].values, 0)
        got = network["responses"].sel(unit=network["layer"] == name).values
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, h, rtol=1e-5, atol=1e-6)
        dead = int((got.std(axis=0) == 0).sum())
        assert a["constant_units"][name] == dead
    recon = h @ network["weights_output"].values + network["bias_output"].values
    X, recon = X.astype(np.float64), recon.astype(np.float64)
    r2 = 1 - ((recon - X) ** 2).sum() / ((X - X.mean(axis=0)) ** 2).sum()
    assert r2 == pytest.approx(a["train_r2"], rel=1e-5)
    assert r2 > 0.9  # it learned to reconstruct the patches
    assert 0 < a["train_loss"] < 0.05 and a["n_iter"] > 10
