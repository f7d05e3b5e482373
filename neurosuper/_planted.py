"""The demo's planted truth: image patches with known objects, a brain that stores them in superposition, a network
with one layer that shares them and layers that do not (:func:`neurosuper.datasets.planted_brain`,
:func:`~neurosuper.datasets.planted_network`; ``docs/datasets.md``).

The features are *objects the similarity space can see*: a grating in a round window filling one cell of a 3 × 3
grid of the 48-px patch (16 px), at one of 8 orientations and 2 wavelengths (6 and 12 px) — 144 features. Each
patch (the natural patches of :func:`neurosuper.datasets.demo_brain`, at 30 % of their contrast) carries one
object, or two (a quarter of the patches), of random phase and contrast. A feature's activation on a patch is its
object's contrast there (0 when absent): sparse, non-negative, known.

The brain (64 neurons) mixes the 144 features — 2.25 features per neuron, *superposition* (Elhage et al. 2022):
each feature drives 8 random neurons with log-normal weights, and the mixing matrix's singular values are set to
``s_i ∝ i^(-1/2)`` before its columns are scaled to unit norm, so the population's noiseless signal
spectrum decays as a power law (Stringer et al. 2019; its exponent ``alpha_true`` is measured on the noiseless rates);
rates are ``max(baseline + gain · mixing · features, 0.05)``, Poisson spike counts, two repeats. A neuron answers to
many objects, so its most exciting patches are unlike each other; a direction along one feature's column of the
mixing matrix answers to one object (Klindt et al. 2023).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["OBJECTS", "PLANTED_BRAIN", "PLANTED_NETWORK", "add_objects", "build_brain", "build_network"]

#: The object dictionary and how the patches carry it.
OBJECTS: dict[str, Any] = {
    "cell": 16,
    "grid": 3,
    "n_orientations": 8,
    "wavelengths": [6.0, 12.0],
    "window_sd": 5.0,
    "amplitude": 100.0,
    "contrast_range": [0.4, 1.0],
    "p_two_objects": 0.25,
    "background_contrast": 0.3,
    "seed": 3,
}
#: The planted brain.
PLANTED_BRAIN: dict[str, Any] = {
    "n_units": 64,
    "units_per_feature": 8,
    "weight_sd": 0.3,
    "alpha": 1.0,
    "mean_count": 5.0,
    "snr": 2.0,
    "min_rate": 0.05,
    "n_repeats": 2,
    "seed": 4,
}
#: The planted network: layer sizes.
PLANTED_NETWORK: dict[str, Any] = {"objects": 96, "pixels": 96, "object_noise": 0.0, "seed": 5}


def _feature_table() -> dict[str, np.ndarray]:
    o = OBJECTS
    rows, cols, oris, lams = [], [], [], []
    for gy in range(o["grid"]):
        for gx in range(o["grid"]):
            for i in range(o["n_orientations"]):
                for lam in o["wavelengths"]:
                    rows.append(gy)
                    cols.append(gx)
                    oris.append(np.pi * i / o["n_orientations"])
                    lams.append(lam)
    return {
        "cell_row": np.array(rows),
        "cell_col": np.array(cols),
        "orientation": np.array(oris),
        "wavelength": np.array(lams),
    }


def add_objects(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Patches (stimulus, y, x) uint8 with the objects drawn in: (new patches uint8, activations (stimulus, feature)
    float64 = each object's contrast, 0 where absent, the feature table {name: (feature,)})."""
    o = OBJECTS
    rng = np.random.default_rng(o["seed"])
    table = _feature_table()
    n_features = len(table["orientation"])
    c = o["cell"]
    yy, xx = np.mgrid[0:c, 0:c].astype(np.float64)
    mid = (c - 1) / 2
    window = np.exp(-((yy - mid) ** 2 + (xx - mid) ** 2) / (2 * o["window_sd"] ** 2))
    s = patches.astype(np.float64)
    s = (s - s.mean(axis=(1, 2), keepdims=True)) * o["background_contrast"] + 128.0
    n = len(s)
    acts = np.zeros((n, n_features))
    two = rng.random(n) < o["p_two_objects"]
    lo, hi = o["contrast_range"]
    for i in range(n):
        for k in rng.choice(n_features, 2 if two[i] else 1, replace=False):
            contrast = rng.uniform(lo, hi)
            acts[i, k] = contrast
            th, lam = table["orientation"][k], table["wavelength"][k]
            phase = rng.uniform(0, 2 * np.pi)
            wave = np.cos(2 * np.pi / lam * (xx * np.cos(th) + yy * np.sin(th)) + phase)
            y0, x0 = table["cell_row"][k] * c, table["cell_col"][k] * c
            s[i, y0 : y0 + c, x0 : x0 + c] += o["amplitude"] * contrast * wave * window
    return np.rint(np.clip(s, 0, 255)).astype(np.uint8), acts, table


def _mixing(n_units: int, n_features: int, rng: np.random.Generator) -> np.ndarray:
    """(unit, feature) mixing matrix: each feature drives ``units_per_feature`` random units with log-normal weights;
    then its singular values are replaced by ``s_1 · i^(-α/2)`` (same singular vectors) and each column scaled to
    unit norm — a power-law signal spectrum (Stringer et al. 2019) from superposed sparse features."""
    b = PLANTED_BRAIN
    w = np.zeros((n_units, n_features))
    for k in range(n_features):
        w[rng.choice(n_units, b["units_per_feature"], replace=False), k] = rng.lognormal(
            0.0, b["weight_sd"], b["units_per_feature"]
        )
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    s = s[0] * np.arange(1, len(s) + 1, dtype=np.float64) ** (-b["alpha"] / 2)
    w = (u * s) @ vt
    return w / np.linalg.norm(w, axis=0)


def build_brain(patches: np.ndarray) -> dict[str, Any]:
    """The planted brain's arrays: counts (repeat, stimulus, unit), rates, mixing, activations, the patches."""
    b = PLANTED_BRAIN
    stimuli, acts, table = add_objects(patches)
    rng = np.random.default_rng(b["seed"])
    w = _mixing(b["n_units"], acts.shape[1], rng)
    drive = acts @ w.T
    gain = float(np.sqrt(b["snr"] * b["mean_count"] * b["n_units"] / drive.var(axis=0).sum()))
    baseline = float(b["mean_count"] - gain * drive.mean())
    raw = baseline + gain * drive
    rates = np.maximum(raw, b["min_rate"])
    counts = np.random.default_rng([b["seed"], 1]).poisson(rates, size=(b["n_repeats"], *rates.shape))
    return {
        "stimuli": stimuli,
        "activations": acts,
        "table": table,
        "mixing": w,
        "rates": rates.astype(np.float32),
        "counts": counts.astype(np.float32),
        "gain": gain,
        "baseline": baseline,
        "clipped": float((raw < b["min_rate"]).mean()),
    }


def build_network(stimuli: np.ndarray, drive: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The planted network's layers {name: (stimulus, unit) float32} and their description.

    - ``energy``: the oriented-energy front end (:func:`neurosuper.interpret.gabor_embedding`, standardised
      per unit): a fixed complex-cell layer that sees the objects *and* the background texture.
    - ``objects``: ``ReLU(drive · Q + b)``: the brain's noiseless drive ``features · mixingᵀ`` (stimulus, neuron) —
      the same features, weighted alike — through a random orthonormal map Q (neuron, unit) and offset b (the median
      of each unit's input): the layer that shares the brain's features and their geometry.
    - ``pixels``: ``ReLU(x · P)``, P Gaussian, x the standardised pixels — an untrained layer on pixels, which sees the
      objects' phase and the background as much as the objects: the layer that does not share them.
    """
    from .interpret import gabor_embedding

    p = PLANTED_NETWORK
    rng = np.random.default_rng(p["seed"])
    energy = gabor_embedding(stimuli)
    energy = (energy - energy.mean(axis=0)) / np.maximum(energy.std(axis=0), 1e-12)
    q, _ = np.linalg.qr(rng.standard_normal((p["objects"], drive.shape[1])))  # (unit, neuron), orthonormal columns
    mixed = (drive - drive.mean(axis=0)) / drive.std() @ q.T
    objects = np.maximum(mixed - np.median(mixed, axis=0), 0.0)
    x = stimuli.reshape(len(stimuli), -1).astype(np.float64)
    x = (x - x.mean()) / x.std()
    proj = x @ (rng.standard_normal((x.shape[1], p["pixels"])) / np.sqrt(x.shape[1]))
    pixels = np.maximum(proj, 0.0)
    layers = {"energy": energy, "objects": objects, "pixels": pixels}
    notes = {
        "energy": "oriented-energy front end (3 scales x 4 orientations x 4 x 4 grid), standardised per unit",
        "objects": "ReLU(drive @ Q + b): the brain's noiseless drive (mixing @ features) through a random "
        "orthonormal map, b = -median input: shares the brain's features and their geometry",
        "pixels": "ReLU(standardised pixels @ P), P Gaussian / sqrt(n_pixels): untrained, does not share them",
    }
    return {k: v.astype(np.float32) for k, v in layers.items()}, notes
