"""A weight-free perceptual stand-in: multi-scale oriented Gabor energy, pooled on a coarse grid.

Each image is made grey (mean over channels) and contrast-normalised (zero mean, unit standard deviation), then
filtered with complex Gabor kernels (a quadrature pair: even = real part, odd = imaginary part) at ``n_scales``
wavelengths λ = S/4, S/8, … (S = the image's shorter side, λ ≥ 2 px; Gaussian envelope σ = 0.56 λ, about one
octave of bandwidth; DC removed as in a Morlet wavelet) and ``n_orientations`` orientations. The energy
``|I * g|`` (the phase-invariant complex-cell model of Adelson & Bergen 1985) is averaged over a ``grid × grid``
tiling of the image, giving ``n_scales · n_orientations · grid²`` numbers per image. Images with the same local
orientation and spatial frequency content are close whatever their phase or mean luminance — the V1-like
invariances that pixel L2 lacks. Computed with ``scipy.fft`` (zero padding, no wrap-around); no weights.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gabor_embedding", "gabor_bank"]

BATCH = 128


def gabor_bank(
    shape: tuple[int, int], size: int, *, n_scales: int = 3, n_orientations: int = 4
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Fourier transforms of the complex Gabor kernels on a (Y, X) grid, and their (wavelength, angle) list.

    ``size`` is the image's shorter side S (wavelengths S/4, S/8, …, at least 2 px).
    """
    import scipy.fft

    Y, X = shape
    yy = np.fft.fftfreq(Y, 1.0 / Y)[:, None]
    xx = np.fft.fftfreq(X, 1.0 / X)[None, :]
    kernels, params = [], []
    for s in range(n_scales):
        lam = max(size / 2.0 ** (s + 2), 2.0)
        sigma = 0.56 * lam
        env = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
        for o in range(n_orientations):
            theta = np.pi * o / n_orientations
            u = xx * np.cos(theta) + yy * np.sin(theta)
            carrier = np.exp(2j * np.pi * u / lam)
            dc = (env * carrier).sum() / env.sum()
            g = env * (carrier - dc)
            g /= np.abs(g).sum()
            kernels.append(scipy.fft.fft2(g))
            params.append((lam, theta))
    return np.stack(kernels), params


def _pool(energy: np.ndarray, grid: int) -> np.ndarray:
    n, Y, X = energy.shape
    gy, gx = min(grid, Y), min(grid, X)
    ey = np.linspace(0, Y, gy + 1).round().astype(int)[:-1]
    ex = np.linspace(0, X, gx + 1).round().astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(energy, ey, axis=1), ex, axis=2)
    counts = np.outer(np.diff(np.append(ey, Y)), np.diff(np.append(ex, X)))
    return sums / counts


def gabor_embedding(images: np.ndarray, *, n_scales: int = 3, n_orientations: int = 4, grid: int = 4) -> np.ndarray:
    """Oriented-energy embedding of images (stimulus, y, x[, channel]) → (stimulus, n_scales·n_orientations·grid²).

    Reference: the energy model of Adelson & Bergen (1985, JOSA A 2:284); Gabor filter banks as V1 models
    (Daugman 1985). See the module docstring for the exact construction.
    """
    import scipy.fft

    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4:
        images = images.mean(axis=-1)
    n, Y, X = images.shape
    size = min(Y, X)
    pad = int(np.ceil(3 * 0.56 * max(size / 4.0, 2.0)))
    shape = (Y + 2 * pad, X + 2 * pad)
    bank, _ = gabor_bank(shape, size, n_scales=n_scales, n_orientations=n_orientations)
    out = np.empty((n, len(bank), min(grid, Y), min(grid, X)))
    for b0 in range(0, n, BATCH):
        img = images[b0 : b0 + BATCH]
        img = img - img.mean(axis=(1, 2), keepdims=True)
        sd = img.std(axis=(1, 2), keepdims=True)
        img = np.divide(img, sd, out=np.zeros_like(img), where=sd > 1e-12)
        F = scipy.fft.fft2(np.pad(img, ((0, 0), (pad, pad), (pad, pad))), axes=(1, 2))
        for j, K in enumerate(bank):
            resp = scipy.fft.ifft2(F * K, axes=(1, 2))[:, pad : pad + Y, pad : pad + X]
            out[b0 : b0 + BATCH, j] = _pool(np.abs(resp), grid)
    return out.reshape(n, -1)
