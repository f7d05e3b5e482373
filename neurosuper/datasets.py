"""The embedded demo data: a simulated V1 population and a trained network, on natural image patches.

Both are generated on this machine — deterministically, in seconds, from 13 photographs that scikit-learn and
scikit-image ship (:data:`PATCHES`, cut into patches that overlap by at most 1/3), never downloaded — and cached
as netCDF in a user cache folder (:func:`cache_dir`), under a name keyed by the generator (its version, its source
code and parameters, the numpy/scikit-learn/scikit-image versions), so a changed generator rebuilds. See
``docs/datasets.md``.

- :func:`demo_brain` — 1,000 simulated V1 neurons (a linear–nonlinear model with oriented, localised Gabor
  filters), Poisson spike counts to 2,000 image patches shown twice; ground truth included (filters,
  noiseless rates, their eigenspectrum and its power-law exponent ``alpha_true`` ≈ 1).
- :func:`demo_network` — the hidden layers of a scikit-learn MLP autoencoder trained here on the same patches.

scikit-learn, scikit-image and tqdm are imported inside the calls, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .errors import FormatError, NeurosuperWarning

__all__ = [
    "planted_brain",
    "planted_network",
    "demo_brain",
    "demo_brain_nwb",
    "demo_network",
    "cache_dir",
    "signal_spectrum",
    "network_inputs",
    "load_photo",
    "patch_grid",
    "GENERATOR_VERSION",
    "CACHE_ENV",
]

#: Bump when the generated data change in a way the parameters below do not express.
GENERATOR_VERSION = 2
#: Environment variable naming the cache folder (default: ``$XDG_CACHE_HOME/neurosuper`` or ``~/.cache/neurosuper``).
CACHE_ENV = "NEUROSUPER_CACHE"

#: The image patches both demo sets share.
#: 13 photographs of natural scenes and textures shipped with scikit-learn and scikit-image (``load_photo``), at
#: their own resolution (``downsample`` 1), cut on a grid ``step`` = 32 px apart: two 48-px patches of one photograph
#: share at most 1 − 32/48 = 1/3 of their area; blank patches (grey-level SD below ``min_sd``) are left out (the
#: grids hold 2,772 positions, 2,425 of them not blank; 2,000 are drawn).
PATCHES: dict[str, Any] = {
    "n_stimuli": 2000,
    "size": 48,
    "downsample": 1,
    "step": 32,
    "min_sd": 4.0,
    "seed": 0,
    "images": [
        "sklearn/china.jpg",
        "sklearn/flower.jpg",
        "skimage/astronaut",
        "skimage/camera",
        "skimage/chelsea",
        "skimage/coffee",
        "skimage/rocket",
        "skimage/stereo_motorcycle",
        "skimage/grass",
        "skimage/gravel",
        "skimage/brick",
        "skimage/moon",
        "skimage/coins",
    ],
}
#: The simulated V1 population (see :func:`demo_brain`).
BRAIN: dict[str, Any] = {
    "n_units": 1000,
    "sf_range": [0.04, 0.5],
    "sf_density": 1.0,
    "bandwidth": 0.5,
    "aspect": 1.5,
    "threshold": 2.0,
    "mean_count": 1.0,
    "snr": 0.5,
    "n_repeats": 2,
    "seed": 1,
    "alpha_ranks": [11, 500],
}
#: The network (see :func:`demo_network`).
NETWORK: dict[str, Any] = {
    "hidden_layer_sizes": [128, 64, 128],
    "activation": "relu",
    "input_pool": 3,
    "solver": "adam",
    "batch_size": 200,
    "learning_rate_init": 1e-3,
    "max_iter": 100,
    "tol": 1e-5,
    "random_state": 0,
}

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 grey from RGB


# --------------------------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    """Folder of the cached demo sets: ``$NEUROSUPER_CACHE``, else ``$XDG_CACHE_HOME/neurosuper``, else
    ``~/.cache/neurosuper``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neurosuper"


def _cache_key(name: str, params: dict[str, Any]) -> str:
    from importlib.metadata import version

    from .io import activations

    sources = b"".join(Path(m).read_bytes() for m in (__file__, activations.__file__))
    spec = {
        "name": name,
        "generator": GENERATOR_VERSION,
        "params": params,
        "source": hashlib.sha256(sources).hexdigest(),
        "numpy": ".".join(np.__version__.split(".")[:2]),
        "sklearn": ".".join(version("scikit-learn").split(".")[:2]),
        "skimage": ".".join(version("scikit-image").split(".")[:2]),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _cache_path(name: str, params: dict[str, Any]) -> Path:
    return cache_dir() / f"{name}-g{GENERATOR_VERSION}-{_cache_key(name, params)}.nc"


def _cached(
    name: str, params: dict[str, Any], build: Callable[[bool], xr.Dataset], *, cache: bool, progress: bool
) -> xr.Dataset:
    """Open the cached set if present and readable; else build it and write it atomically (neurosuper.save).

    A cache file that cannot be read is rebuilt, and a cache folder that cannot be written leaves the set
    uncached — each with a :class:`NeurosuperWarning`. Older files of the same set are removed.
    """
    from .storage import load, save

    if not cache:
        return build(progress)
    path = _cache_path(name, params)
    if path.exists():
        try:
            return load(path)
        except FormatError as err:
            warnings.warn(
                f"{name}: the cached file {str(path)!r} could not be read ({err}); rebuilding it.",
                NeurosuperWarning,
                stacklevel=3,
            )
            path.unlink(missing_ok=True)  # our own cache file, unreadable: save() would refuse to replace it
    ds = build(progress)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save(ds, path, overwrite=True)
    except (OSError, FormatError) as err:
        warnings.warn(
            f"{name}: could not cache the set in {str(path.parent)!r} ({err}); it is rebuilt on every "
            f"call. Fix: set {CACHE_ENV} to a writable folder.",
            NeurosuperWarning,
            stacklevel=3,
        )
        return ds
    for old in path.parent.glob(f"{name}-g*.nc"):
        if old != path:
            old.unlink(missing_ok=True)
    return ds


def _bar(progress: bool, desc: str, total: int) -> Any:  # a tqdm bar
    from ._progress import progress_bar

    return progress_bar(total=total, desc=desc, progress=progress, unit="step")


def _limit_threads() -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread: reproducible sums whatever the core count, and no oversubscription of a shared machine."""
    from ._threads import limits

    return limits(1)


# --------------------------------------------------------------------------------------------- stimuli
def load_photo(name: str) -> np.ndarray:
    """One of the demo's source photographs as a grey float64 image (BT.601 luma, 0–255), from local files.

    ``name`` is ``"sklearn/<file>"`` (``sklearn.datasets.load_sample_image``) or ``"skimage/<function>"``
    (``skimage.data.<function>()``; ``"skimage/stereo_motorcycle"`` is the left image of the stereo pair).
    Both libraries ship these files; nothing is downloaded.
    """
    lib, _, item = name.partition("/")
    if lib == "sklearn":
        from sklearn.datasets import load_sample_image

        img = load_sample_image(item)
    elif lib == "skimage":
        import skimage.data

        img = getattr(skimage.data, item)()
        img = img[0] if isinstance(img, tuple) else img
    else:
        raise FormatError(
            f"photo {name!r}: found library {lib!r}; expected 'sklearn/<file>' or "
            "'skimage/<function>'. Fix: use a name from neurosuper.datasets.PATCHES['images']."
        )
    img = np.asarray(img, dtype=np.float64)
    return img[..., :3] @ _LUMA if img.ndim == 3 else img


def patch_grid(shape: tuple[int, int], size: int, step: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (y, x) of a ``step``-spaced grid of ``size``-px patches inside an image of ``shape``.

    The grid's origin is placed at random within the slack the image leaves; any two corners differ by a multiple
    of ``step`` along each axis, so two patches share at most ``max(0, 1 - step / size)`` of their area.
    """
    out = []
    for n_px in shape:
        n = (n_px - size) // step + 1
        origin = int(rng.integers(0, n_px - size - (n - 1) * step + 1))
        out.append(origin + step * np.arange(n))
    ys, xs = np.meshgrid(out[0], out[1], indexing="ij")
    return ys.ravel(), xs.ravel()


_PATCH_MEMO: dict[str, Any] = {}


def _patches() -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
    """:func:`_cut_patches`, cut once per process for the current :data:`PATCHES` (the demo sets share them); the
    caller gets its own copies."""
    key = json.dumps(PATCHES, sort_keys=True)
    if key not in _PATCH_MEMO:
        _PATCH_MEMO.clear()
        _PATCH_MEMO[key] = _cut_patches()
    stimuli, coords, attrs = _PATCH_MEMO[key]
    copied = {k: (v[0], v[1].copy()) if isinstance(v, tuple) else v.copy() for k, v in coords.items()}
    return stimuli.copy(), copied, dict(attrs)


def _cut_patches() -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
    """Grey patches (stimulus, y, x) as uint8, their stimulus coords (``stimulus``: the ids; the others
    ``("stimulus", values)``), and attrs.

    Each photograph (:func:`load_photo`) is block-averaged ``downsample × downsample`` (1: kept as is) and laid
    with a grid of ``size × size`` patch positions ``step`` pixels apart (:func:`patch_grid`); blank positions
    (standard deviation of the rounded grey levels below ``min_sd``: sky, black background) are dropped; ``n_stimuli``
    positions are drawn without replacement from all photographs' grids together (so a photograph contributes in
    proportion to its area), in random order, and rounded to uint8. Two patches of one photograph overlap by at
    most ``1 − step / size`` of their area (``max_overlap``).
    """
    p = PATCHES
    rng = np.random.default_rng(p["seed"])
    k, size, step = p["downsample"], p["size"], p["step"]
    photos, source, rows, cols = [], [], [], []
    for i, name in enumerate(p["images"]):
        grey = load_photo(name)
        h, w = grey.shape[0] // k * k, grey.shape[1] // k * k
        small = grey[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))
        ys, xs = patch_grid(small.shape, size, step, rng)
        sd = np.array([np.rint(small[y : y + size, x : x + size]).std() for y, x in zip(ys, xs, strict=True)])
        ys, xs = ys[sd >= p["min_sd"]], xs[sd >= p["min_sd"]]
        photos.append(small)
        source.append(np.full(len(ys), i))
        rows.append(ys)
        cols.append(xs)
    source_i, ys, xs = np.concatenate(source), np.concatenate(rows), np.concatenate(cols)
    if len(ys) < p["n_stimuli"]:
        raise FormatError(
            f"demo patches: found {len(ys)} grid positions in {len(photos)} photographs; expected at "
            f"least n_stimuli={p['n_stimuli']}. Fix: add photographs or lower PATCHES['step']."
        )
    pick = rng.choice(len(ys), size=p["n_stimuli"], replace=False)
    source_i, ys, xs = source_i[pick], ys[pick], xs[pick]
    stimuli = np.stack([photos[s][y : y + size, x : x + size] for s, y, x in zip(source_i, ys, xs, strict=True)])
    stimuli = np.rint(stimuli).astype(np.uint8)
    grey = stimuli.reshape(len(stimuli), -1).astype(np.float64)
    coords = {
        "source_image": ("stimulus", np.array(p["images"])[source_i]),
        "image_y": ("stimulus", ys),
        "image_x": ("stimulus", xs),
        "luminance": ("stimulus", grey.mean(axis=1)),
        "contrast": ("stimulus", grey.std(axis=1) / np.maximum(grey.mean(axis=1), 1e-9)),
    }
    ids = np.array([f"patch{i:04d}" for i in range(len(stimuli))])
    max_overlap = max(0.0, 1.0 - step / size)
    attrs = {
        "images": list(p["images"]),
        "patch_size": size,
        "image_downsample": k,
        "patch_step": step,
        "max_overlap": max_overlap,
        "stimuli_note": f"{size}x{size} grey patches (uint8, BT.601 luma) of {len(p['images'])} photographs "
        f"shipped with scikit-learn and scikit-image (source_image), "
        f"{f'block-averaged {k}x{k}, ' if k > 1 else ''}cut on a grid {step} px apart "
        f"(blank patches, grey-level SD < {p['min_sd']}, left out): "
        f"two patches of one photograph share at most {max_overlap:.3f} of their area; "
        "image_y/image_x = top-left corner",
    }
    return stimuli, {"stimulus": ids, **coords}, attrs


# --------------------------------------------------------------------------------------------- brain
def _gabor_bank(rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Unit-norm, zero-mean Gabor filters (unit, y, x) and their parameters.

    ``g(u, v) = exp(−u²/2σ² − v²/2(aσ)²) · cos(2π f u + φ)`` with ``u`` along the wave vector at angle θ, σ =
    bandwidth / f (about 1.5 octaves at 0.5, capped at size/6), aspect ``a``; spatial frequency f drawn with
    density ∝ f^sf_density on ``sf_range`` (cycles/pixel), centres uniform at least 2σ (at most size/3) from
    the edges. The DC is removed by subtracting the envelope scaled to the filter's sum.
    """
    b = BRAIN
    lo, hi = b["sf_range"]
    a = b["sf_density"] + 1.0
    sf = (lo**a + rng.uniform(0, 1, n) * (hi**a - lo**a)) ** (1 / a)
    theta = rng.uniform(0, np.pi, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    sigma = np.minimum(b["bandwidth"] / sf, size / 6)
    margin = np.minimum(2 * sigma, size / 3)
    x0 = rng.uniform(margin, size - 1 - margin)
    y0 = rng.uniform(margin, size - 1 - margin)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dx, dy = xx - x0[:, None, None], yy - y0[:, None, None]
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    s = sigma[:, None, None]
    env = np.exp(-(u**2) / (2 * s**2) - v**2 / (2 * (b["aspect"] * s) ** 2))
    filt = env * np.cos(2 * np.pi * sf[:, None, None] * u + phase[:, None, None])
    filt -= filt.sum(axis=(1, 2), keepdims=True) / env.sum(axis=(1, 2), keepdims=True) * env
    filt /= np.linalg.norm(filt.reshape(n, -1), axis=1)[:, None, None]
    params = {"x_pos": x0, "y_pos": y0, "orientation": theta, "sf": sf, "phase": phase, "sigma": sigma}
    return filt, params


def signal_spectrum(rates: np.ndarray) -> np.ndarray:
    """Eigenvalues (descending) of the covariance across stimuli of ``rates`` (stimulus, unit).

    Σ = R̃ᵀR̃ / n_stimuli with R̃ mean-centred per unit (Marshall & Kirchner 2024; Stringer et al. 2019), in float64.
    """
    r = np.asarray(rates, dtype=np.float64)
    r = r - r.mean(axis=0)
    cov = r.T @ r / r.shape[0]
    return np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)


def _alpha(spectrum: np.ndarray, ranks: Sequence[int]) -> tuple[float, float]:
    """Stringer's power-law fit (weights 1/n, ranks 1-based inclusive) via :func:`neurosuper.spectral.powerlaw`."""
    from .spectral import powerlaw

    da = xr.DataArray(spectrum, dims="rank", coords={"rank": np.arange(1, len(spectrum) + 1)})
    lo, hi = ranks
    fit = powerlaw(da, ranks=(lo, hi))
    return float(fit["alpha"]), float(fit["r2"])


def _build_brain(progress: bool) -> xr.Dataset:
    from .format import from_array

    b = BRAIN
    with _bar(progress, "demo_brain", 5) as bar, _limit_threads():
        stimuli, stim_coords, stim_attrs = _patches()
        n_stim, size = stimuli.shape[0], stimuli.shape[1]
        pixels = stimuli.reshape(n_stim, -1).astype(np.float64)
        mean, std = float(pixels.mean()), float(pixels.std())
        x = (pixels - mean) / std
        bar.update()
        filt, params = _gabor_bank(np.random.default_rng([b["seed"], 0]), b["n_units"], size)
        filt = filt.astype(np.float32)  # the stored filters are exactly the ones used
        bar.update()
        drive = x @ filt.reshape(len(filt), -1).astype(np.float64).T
        threshold = b["threshold"] * drive.std(axis=0)
        evoked = np.maximum(drive - threshold, 0.0)
        gain = float(np.sqrt(b["snr"] * b["mean_count"] * b["n_units"] / evoked.var(axis=0).sum()))
        baseline = float(b["mean_count"] - gain * evoked.mean())
        rates = (baseline + gain * evoked).astype(np.float32)
        bar.update()
        spectrum = signal_spectrum(rates)
        alpha, r2 = _alpha(spectrum, b["alpha_ranks"])
        bar.update()
        spikes_rng = np.random.default_rng([b["seed"], 1])
        counts = spikes_rng.poisson(rates.astype(np.float64), size=(b["n_repeats"], *rates.shape))
        bar.update()
    unit_ids = np.array([f"n{i:04d}" for i in range(b["n_units"])])
    unit_coords: dict[str, Any] = {k: ("unit", v) for k, v in params.items()}  # **coords of from_array
    attrs = {
        "source": "neurosuper.datasets.demo_brain",
        "description": "Simulated V1 population: linear-nonlinear Gabor neurons, Poisson spike counts to natural "
        "image patches shown twice (neurosuper demo data, generated, not recorded)",
        "model": "rate = baseline + gain * max(filter . x - threshold, 0); x = (stimulus - input_mean) / input_std; "
        "threshold = threshold_sd * std over stimuli of filter . x; spikes ~ Poisson(rate) per repeat",
        "alpha_true": alpha,
        "alpha_true_r2": r2,
        "alpha_ranks": list(b["alpha_ranks"]),
        "alpha_reference": "Stringer et al. 2019 Nature 571:361: weighted LS of log lambda_n = -alpha log n + b, "
        "weights 1/n, on the eigenspectrum of the noiseless rates' covariance",
        "input_mean": mean,
        "input_std": std,
        "gain": gain,
        "baseline": baseline,
        "threshold_sd": float(b["threshold"]),
        "mean_count": float(b["mean_count"]),
        "snr": float(b["snr"]),
        "generator": {"name": "demo_brain", "version": GENERATOR_VERSION, "patches": PATCHES, "params": b},
        **stim_attrs,
    }
    ds = from_array(
        counts.astype(np.float32),
        stimulus=stim_coords.pop("stimulus"),
        unit=unit_ids,
        system="brain",
        measure="spike_count",
        stimuli=stimuli,
        attrs=attrs,
        area=("unit", np.full(b["n_units"], "V1")),
        threshold=("unit", threshold),
        **unit_coords,
        **stim_coords,
    )
    ds["filters"] = (("unit", "y", "x"), filt)
    ds["rates"] = (("stimulus", "unit"), rates)
    ds["true_spectrum"] = xr.DataArray(spectrum, dims="rank", coords={"rank": np.arange(1, len(spectrum) + 1)})
    return ds


def demo_brain(*, progress: bool = True, cache: bool = True) -> xr.Dataset:
    """A simulated visual-cortex population responding to natural image patches (generated, cached).

    1,000 model V1 neurons see 2,000 grey 48×48 patches of 13 photographs (:func:`_patches`), twice. Each
    neuron is linear–nonlinear: a unit-norm Gabor filter (oriented, localised; :func:`_gabor_bank`) applied to
    the standardised patch, a threshold at 2 SD of that drive, rectification, one gain and baseline for the
    population (chosen for a mean of 1 spike per presentation and a population signal-to-noise variance ratio
    of 0.5), and Poisson spike counts. The filter bank's spatial frequencies are spread so that the noiseless
    rates' covariance eigenspectrum follows a power law with α close to 1 over ranks 11–500, as in mouse V1
    (Stringer et al. 2019, Nature 571:361).

    Parameters
    ----------
    progress
        Show a progress bar while building.
    cache
        Read/write the cached file (:func:`cache_dir`); ``False`` always builds afresh (same numbers).

    Returns
    -------
    xarray.Dataset
        ResponseSet ``responses(repeat, stimulus, unit)`` spike counts (float32), ``system="brain"``,
        ``measure="spike_count"``; ``stimuli(stimulus, y, x)`` uint8 patches; stimulus coords ``source_image``,
        ``image_y``, ``image_x``, ``luminance``, ``contrast``; unit coords ``area`` ("V1"), ``x_pos``,
        ``y_pos`` (filter centre, pixels), ``orientation`` (radians in [0, π): direction of the wave vector
        from the x axis towards +y, i.e. the stripes lie at orientation + π/2), ``sf`` (cycles/pixel),
        ``phase``, ``sigma`` (envelope SD across the stripes, pixels), ``threshold``. Ground truth:
        ``filters(unit, y, x)``, noiseless ``rates(stimulus, unit)`` (float32, the Poisson means),
        ``true_spectrum(rank)`` (eigenvalues of their covariance, :func:`signal_spectrum`), attrs
        ``alpha_true`` (its power-law fit over ranks 11–500), ``gain``, ``baseline``, ``input_mean``,
        ``input_std``.
    """
    return _cached("demo_brain", {"patches": PATCHES, "brain": BRAIN}, _build_brain, cache=cache, progress=progress)


def demo_brain_nwb(
    path: str | os.PathLike | None = None, *, images: bool = False, progress: bool = True, overwrite: bool = True
) -> Path:
    """Write :func:`demo_brain` as spike trains in a real NWB file; return its path.

    Every (repeat, stimulus) becomes one presentation (an ``IndexSeries`` over an ``Images`` template when
    ``images=True``, and always an equivalent ``presentations`` TimeIntervals table) whose planted spike times
    reproduce the demo counts exactly (:func:`neurosuper.io.nwb.save_nwb`), so
    ``neurosuper.load_nwb(path, stimulus="presentations")`` gives the demo counts back. Default path:
    ``cache_dir() / "demo_brain.nwb"``. ``images=False`` by default: pynwb builds one object per image on every
    read (~10 ms each), which makes a 2,000-image file slow to open.
    """
    from .io.nwb import save_nwb

    target = Path(path) if path is not None else cache_dir() / "demo_brain.nwb"
    target.parent.mkdir(parents=True, exist_ok=True)
    return save_nwb(demo_brain(progress=progress), target, images=images, overwrite=overwrite)


# --------------------------------------------------------------------------------------------- network
def network_inputs(
    stimuli: np.ndarray | xr.DataArray, *, pool: int, mean: float | None = None, std: float | None = None
) -> tuple[np.ndarray, float, float]:
    """The demo network's input: patches block-averaged ``pool × pool``, flattened and standardised.

    Returns ``(X, mean, std)`` with X (stimulus, feature) float32 (the network is trained in float32);
    ``mean``/``std`` are computed over all pixels when not given (pass the set's ``input_mean``/``input_std``
    attrs to reproduce its inputs).
    """
    s = np.asarray(stimuli, dtype=np.float64)
    n, h, w = s.shape
    small = s.reshape(n, h // pool, pool, w // pool, pool).mean(axis=(2, 4)).reshape(n, -1)
    mean = float(small.mean()) if mean is None else mean
    std = float(small.std()) if std is None else std
    return ((small - mean) / std).astype(np.float32), mean, std


def _r2(target: np.ndarray, estimate: np.ndarray) -> float:
    """Coefficient of determination over all entries, in float64: 1 − SS_res / SS_tot (per-feature means)."""
    t, e = np.asarray(target, dtype=np.float64), np.asarray(estimate, dtype=np.float64)
    return float(1.0 - ((e - t) ** 2).sum() / ((t - t.mean(axis=0)) ** 2).sum())


def _build_network(progress: bool) -> xr.Dataset:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    from .io.activations import from_sklearn

    p = NETWORK
    with _bar(progress, "demo_network", 3) as bar, _limit_threads():
        stimuli, stim_coords, stim_attrs = _patches()
        X, mean, std = network_inputs(stimuli, pool=p["input_pool"])
        bar.update()
        mlp = MLPRegressor(
            hidden_layer_sizes=tuple(p["hidden_layer_sizes"]),
            activation=p["activation"],
            solver=p["solver"],
            batch_size=p["batch_size"],
            learning_rate_init=p["learning_rate_init"],
            max_iter=p["max_iter"],
            tol=p["tol"],
            random_state=p["random_state"],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, X)
        bar.update()
        ds = from_sklearn(mlp, X, stimulus=stim_coords.pop("stimulus"), stimuli=stimuli)
        recon = mlp.predict(X)
        bar.update()
    r2 = _r2(X, recon)
    resp = ds["responses"]
    dead = {str(k): int((g.std("stimulus") == 0).sum()) for k, g in resp.groupby(ds["layer"])}
    ds = ds.assign_coords({k: v for k, v in stim_coords.items()})
    names = [f"hidden_{i + 1}" for i in range(len(mlp.coefs_) - 1)] + ["output"]
    for name, w, b in zip(names, mlp.coefs_, mlp.intercepts_, strict=True):
        ds[f"weights_{name}"] = ((f"{name}_in", f"{name}_out"), w)
        ds[f"bias_{name}"] = ((f"{name}_out",), b)
    ds.attrs.update(
        {
            "description": "Hidden layers of a scikit-learn MLPRegressor autoencoder trained here to reconstruct the "
            "demo image patches (neurosuper demo data)",
            "dataset": "neurosuper.datasets.demo_network",
            "task": "autoencoder: input = output = network_inputs(stimuli)",
            "input": f"stimuli block-averaged {p['input_pool']}x{p['input_pool']}, flattened, minus input_mean, "
            "divided by input_std (neurosuper.datasets.network_inputs)",
            "input_pool": int(p["input_pool"]),
            "input_mean": mean,
            "input_std": std,
            "train_loss": float(mlp.loss_),
            "train_loss_definition": "scikit-learn squared_error: mean((y - y_hat)^2) / 2",
            "train_r2": r2,
            "n_iter": int(mlp.n_iter_),
            "converged": bool(mlp.n_iter_ < p["max_iter"]),
            "constant_units": dead,
            "weights_note": "weights_<layer>(<layer>_in, <layer>_out) and bias_<layer>(<layer>_out) are the MLP's "
            "coefs_ and intercepts_; layer k = activation(layer k-1 @ weights + bias)",
            "generator": {"name": "demo_network", "version": GENERATOR_VERSION, "patches": PATCHES, "params": p},
            **stim_attrs,
        }
    )
    return ds


def demo_network(*, progress: bool = True, cache: bool = True) -> xr.Dataset:
    """Activations of a network trained here on real data: an MLP autoencoder on the demo image patches.

    A scikit-learn ``MLPRegressor`` (hidden layers 128–64–128, ReLU, Adam, ``random_state=0``, 100 epochs, float32)
    learns to reconstruct the 2,000 patches of :func:`demo_brain` (block-averaged to 16×16 and standardised,
    :func:`network_inputs`); its hidden-layer activations on the same patches form the set, built with
    :func:`neurosuper.from_sklearn`.

    Parameters
    ----------
    progress, cache
        As :func:`demo_brain`.

    Returns
    -------
    xarray.Dataset
        ResponseSet ``responses(stimulus, unit)`` float32, ``system="network"``, ``measure="activation"``, unit coords
        ``layer`` (``hidden_1``, ``hidden_2``, ``hidden_3``) and ``channel``, ids ``"hidden_1/0"``, …; the same
        stimulus ids, coords and ``stimuli`` as :func:`demo_brain`; the trained weights
        ``weights_<layer>``/``bias_<layer>`` (layers ``hidden_1`` … ``output``); attrs ``train_loss``,
        ``train_r2``, ``n_iter``, ``constant_units`` (dead ReLUs per layer), ``input_mean``, ``input_std``.
    """
    return _cached(
        "demo_network", {"patches": PATCHES, "network": NETWORK}, _build_network, cache=cache, progress=progress
    )


# --------------------------------------------------------------------------------------------- planted truth
_PLANTED_MEMO: dict[str, Any] = {}


def _planted_made(patches: np.ndarray) -> dict[str, Any]:
    """:func:`neurosuper._planted.build_brain` of the patches, built once per process (the brain and the network
    share it; keyed by the patches' bytes and the generator's parameters)."""
    from ._planted import OBJECTS, PLANTED_BRAIN, build_brain

    key = hashlib.sha256(patches.tobytes() + json.dumps([OBJECTS, PLANTED_BRAIN], sort_keys=True).encode()).hexdigest()
    if key not in _PLANTED_MEMO:
        _PLANTED_MEMO.clear()
        _PLANTED_MEMO[key] = build_brain(patches)
    return _PLANTED_MEMO[key]


def _build_planted_brain(progress: bool) -> xr.Dataset:
    from ._planted import OBJECTS, PLANTED_BRAIN
    from .capacity.geometry import capacities
    from .format import from_array

    b = PLANTED_BRAIN
    with _bar(progress, "planted_brain", 3) as bar, _limit_threads():
        patches, stim_coords, stim_attrs = _patches()
        bar.update()
        made = _planted_made(patches)
        bar.update()
        spectrum = signal_spectrum(made["rates"])
        ranks = [2, b["n_units"] // 2]
        alpha, r2 = _alpha(spectrum, ranks)
        bar.update()
    n_units, n_features = made["mixing"].shape
    unit_ids = np.array([f"n{i:03d}" for i in range(n_units)])
    feature_ids = np.array([f"f{k:03d}" for k in range(n_features)])
    capacity = capacities(made["mixing"].T)  # Scherlis et al. 2022 eq. 3, features first
    attrs = {
        "source": "neurosuper.datasets.planted_brain",
        "description": "Simulated visual population with planted features: 64 neurons mix 144 known objects (gratings "
        "in one cell of a 3x3 grid, 8 orientations, 2 wavelengths) in superposition; Poisson spike counts to "
        "natural image patches carrying the objects, shown twice (neurosuper demo data, generated, not recorded)",
        "model": "rate = max(baseline + gain * mixing @ features, min_rate); spikes ~ Poisson(rate) per repeat; "
        "features(stimulus, feature) = contrast of each object in the patch (0 where absent)",
        "alpha_true": alpha,
        "alpha_true_r2": r2,
        "alpha_ranks": ranks,
        "mixing_decay": float(b["alpha"]),
        "alpha_reference": "Stringer et al. 2019 Nature 571:361: weighted LS of log lambda_n = -alpha log n + b, "
        "weights 1/n, on the eigenspectrum of the noiseless rates' covariance (the mixing matrix's singular values "
        "decay as i^(-mixing_decay/2) before its columns are scaled to unit norm; alpha_true is what results)",
        "n_features": int(n_features),
        "features_per_unit": float(n_features / n_units),
        "capacity_total": float(capacity.sum()),
        "capacity_reference": "Scherlis et al. 2022 arXiv:2210.01892 eq. 2 on the mixing matrix's columns",
        "gain": made["gain"],
        "baseline": made["baseline"],
        "clipped_rates": made["clipped"],
        "mean_count": float(b["mean_count"]),
        "snr": float(b["snr"]),
        "generator": {
            "name": "planted_brain",
            "version": GENERATOR_VERSION,
            "patches": PATCHES,
            "objects": OBJECTS,
            "params": b,
        },
        **stim_attrs,
    }
    ds = from_array(
        made["counts"],
        stimulus=stim_coords.pop("stimulus"),
        unit=unit_ids,
        system="brain",
        measure="spike_count",
        stimuli=made["stimuli"],
        attrs=attrs,
        area=("unit", np.full(n_units, "V")),
        **stim_coords,
    )
    table = {k: ("feature", v) for k, v in made["table"].items()}
    ds = ds.assign_coords({"feature": feature_ids, **table})
    ds["features"] = (("stimulus", "feature"), made["activations"].astype(np.float32))
    ds["mixing"] = (("unit", "feature"), made["mixing"])
    ds["feature_capacity"] = (("feature",), capacity)
    ds["rates"] = (("stimulus", "unit"), made["rates"])
    ds["true_spectrum"] = xr.DataArray(spectrum, dims="rank", coords={"rank": np.arange(1, len(spectrum) + 1)})
    return ds


def planted_brain(*, progress: bool = True, cache: bool = True) -> xr.Dataset:
    """A simulated population with **planted truth**: 64 neurons that store 144 known features in superposition.

    The stimuli are the 2,000 natural patches of :func:`demo_brain` at 30 % contrast, each carrying one object (two
    in a quarter of them): a grating in a round window filling one cell of a 3 × 3 grid, at one of 8 orientations and
    2 wavelengths — 144 features, each a known, sparse, non-negative function of the stimulus (its object's
    contrast). Each feature drives 8 of the 64 neurons (a mixing matrix whose singular values decay as i^(-1/2):
    the noiseless signal spectrum follows a power law, Stringer et al. 2019, with the exponent ``alpha_true`` it is
    measured to have), Poisson spike counts, two repeats.
    What an analysis should find: directions along the mixing matrix's columns (k-means, sparse coding, SAE) recover
    the features and are more interpretable than the neurons, which answer to many objects (Klindt et al. 2023).
    See :mod:`neurosuper._planted` and ``docs/datasets.md``.

    Returns
    -------
    xarray.Dataset
        ResponseSet ``responses(repeat, stimulus, unit)`` spike counts (float32), ``stimuli(stimulus, y, x)`` uint8.
        Ground truth: ``features(stimulus, feature)`` (each object's contrast, 0 where absent), ``mixing(unit,
        feature)`` (unit-norm columns), ``feature_capacity(feature)`` (Scherlis et al. 2022), noiseless
        ``rates(stimulus, unit)``, ``true_spectrum(rank)``; feature coords ``cell_row``, ``cell_col``,
        ``orientation`` (radians), ``wavelength`` (px); attrs ``alpha_true`` (power-law fit of the noiseless
        spectrum over ``alpha_ranks``), ``mixing_decay``, ``n_features``, ``features_per_unit``,
        ``capacity_total``.
    """
    from ._planted import OBJECTS, PLANTED_BRAIN

    return _cached(
        "planted_brain",
        {"patches": PATCHES, "objects": OBJECTS, "brain": PLANTED_BRAIN},
        _build_planted_brain,
        cache=cache,
        progress=progress,
    )


def _build_planted_network(progress: bool) -> xr.Dataset:
    from ._planted import OBJECTS, PLANTED_BRAIN, PLANTED_NETWORK, build_network
    from .format import from_array

    with _bar(progress, "planted_network", 2) as bar, _limit_threads():
        patches, stim_coords, stim_attrs = _patches()
        made = _planted_made(patches)
        bar.update()
        layers, notes = build_network(made["stimuli"], made["activations"] @ made["mixing"].T)
        bar.update()
    names = list(layers)
    values = np.concatenate([layers[k] for k in names], axis=1)
    layer = np.concatenate([np.full(layers[k].shape[1], k) for k in names])
    channel = np.concatenate([np.arange(layers[k].shape[1]) for k in names])
    unit_ids = np.array([f"{k}/{c}" for k, c in zip(layer, channel, strict=True)])
    ds = from_array(
        values,
        stimulus=stim_coords.pop("stimulus"),
        unit=unit_ids,
        system="network",
        measure="activation",
        stimuli=made["stimuli"],
        attrs={
            "source": "neurosuper.datasets.planted_network",
            "description": "Planted network on the planted brain's stimuli: layer 'objects' encodes the planted "
            "features, 'energy' is an oriented-energy front end, 'pixels' an untrained layer on the pixels "
            "(neurosuper demo data, generated)",
            "layers": json.dumps(notes),
            "matching_layer": "objects",
            "generator": {
                "name": "planted_network",
                "version": GENERATOR_VERSION,
                "patches": PATCHES,
                "objects": OBJECTS,
                "brain": PLANTED_BRAIN,
                "params": PLANTED_NETWORK,
            },
            **stim_attrs,
        },
        layer=("unit", layer),
        channel=("unit", channel),
        **stim_coords,
    )
    return ds


def planted_network(*, progress: bool = True, cache: bool = True) -> xr.Dataset:
    """The network of the planted demo: one layer that shares :func:`planted_brain`'s features and two that do not.

    Layers (unit coord ``layer``): ``energy`` (192 units: an oriented-energy front end, the complex-cell model of
    :mod:`neurosuper.interpret._gabor`, standardised), ``objects`` (96 units: ReLU of a random linear map of the
    planted features — the layer that matches the brain) and ``pixels`` (96 units: ReLU of a random projection of
    the pixels — untrained, the layer that does not). Same stimuli and ids as :func:`planted_brain`.
    """
    from ._planted import OBJECTS, PLANTED_BRAIN, PLANTED_NETWORK

    return _cached(
        "planted_network",
        {"patches": PATCHES, "objects": OBJECTS, "brain": PLANTED_BRAIN, "network": PLANTED_NETWORK},
        _build_planted_network,
        cache=cache,
        progress=progress,
    )
