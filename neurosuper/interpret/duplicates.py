"""Near-duplicate MEIs: two of a unit's most exciting stimuli that are (nearly) the same picture.

Overlapping crops of one photograph, or a stimulus shown under two ids, make a unit's top stimuli alike for a
reason that has nothing to do with the unit — and inflate its interpretability index. The check is made in
*pixel space* or on the stimuli's *source coords*, never in the similarity space (where distance 0 between
MEIs is exactly what a perfectly interpretable unit should reach).

* ``"coords"`` — the set has stimulus coords ``source_image``, ``image_y``, ``image_x`` (top-left corner of a
  crop, pixels) and image stimuli of H × W pixels (or an attr ``patch_size``): two crops of one source image
  are near-duplicates when they share at least ``min_overlap`` of their area,
  ``(1 − |Δy| / H) · (1 − |Δx| / W) ≥ min_overlap``.
* ``"pixels"`` — image stimuli: two images are near-duplicates when, for some shift (Δy, Δx) that keeps at least
  ``min_overlap`` of their area overlapping (Δ = 0 included), the root-mean-square difference of the overlapping
  pixels is at most ``tolerance`` × the standard deviation of all pixels of the MEIs compared. Computed for every
  shift at once by FFT cross-correlation: ``Σ(a − b)² = Σa² + Σb² − 2 Σab`` over each overlap.

``"auto"`` uses the coords when present, else pixels for images of at most :data:`AUTO_PIXELS_MAX` pixels
(the FFT cost grows with image area; pass ``duplicates="pixels"`` to force it), else no check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError

__all__ = [
    "DUPLICATE_CHECKS",
    "resolve_duplicates",
    "duplicate_pairs",
    "coords_overlap",
    "pixel_rms_min",
    "AUTO_PIXELS_MAX",
    "SOURCE_COORDS",
]

DUPLICATE_CHECKS = ("auto", "coords", "pixels", None)
SOURCE_COORDS = ("source_image", "image_y", "image_x")
#: ``"auto"`` compares pixels only for images of at most this many pixels (96 × 96).
AUTO_PIXELS_MAX = 96 * 96
#: Pairs per FFT batch (bounds the temporary (pair, 2H, 2W) arrays).
PAIR_BATCH = 256


def _image_shape(ds: xr.Dataset) -> tuple[int, int] | None:
    if "stimuli" in ds.data_vars and ds["stimuli"].ndim in (3, 4):
        return int(ds["stimuli"].shape[1]), int(ds["stimuli"].shape[2])
    size = ds.attrs.get("patch_size")
    if isinstance(size, int | np.integer):
        return int(size), int(size)
    return None


def _has_coords(ds: xr.Dataset) -> bool:
    return all(c in ds.coords and ds[c].dims == ("stimulus",) for c in SOURCE_COORDS) and _image_shape(ds) is not None


def resolve_duplicates(ds: xr.Dataset, duplicates: Any) -> str | None:
    """The check to run on ``ds`` for ``duplicates`` (``"auto"``, ``"coords"``, ``"pixels"`` or ``None``)."""
    if duplicates not in DUPLICATE_CHECKS:
        raise AnalysisError(
            f"duplicates: found {duplicates!r}; expected one of {list(DUPLICATE_CHECKS)}. Fix: duplicates='auto'."
        )
    images = "stimuli" in ds.data_vars and ds["stimuli"].ndim in (3, 4)
    if duplicates == "auto":
        if _has_coords(ds):
            return "coords"
        if images and ds["stimuli"].shape[1] * ds["stimuli"].shape[2] <= AUTO_PIXELS_MAX:
            return "pixels"
        return None
    if duplicates == "coords" and not _has_coords(ds):
        raise AnalysisError(
            "duplicates='coords': found no stimulus coords source_image, image_y, image_x with "
            "image stimuli (or a patch_size attr); expected them. Fix: duplicates='pixels' "
            "(image stimuli) or duplicates=None."
        )
    if duplicates == "pixels" and not images:
        raise AnalysisError(
            "duplicates='pixels': found no image stimuli (stimulus, y, x[, channel]); expected "
            "them. Fix: duplicates=None for feature stimuli."
        )
    return duplicates


def coords_overlap(ds: xr.Dataset, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fraction of area shared by the crops at stimulus positions ``a`` and ``b`` (0 across source images)."""
    shape = _image_shape(ds)
    if shape is None:
        raise AnalysisError(
            "duplicates='coords': found no crop size (image stimuli or a patch_size attr); expected one. "
            "Fix: duplicates='pixels' (image stimuli) or duplicates=None."
        )
    h, w = shape
    src = np.asarray(ds["source_image"].values)
    y = np.asarray(ds["image_y"].values, dtype=np.float64)
    x = np.asarray(ds["image_x"].values, dtype=np.float64)
    fy = np.clip(1.0 - np.abs(y[a] - y[b]) / h, 0.0, None)
    fx = np.clip(1.0 - np.abs(x[a] - x[b]) / w, 0.0, None)
    return np.where(src[a] == src[b], fy * fx, 0.0)


def pixel_rms_min(images: np.ndarray, a: np.ndarray, b: np.ndarray, *, min_overlap: float) -> np.ndarray:
    """Smallest RMS pixel difference of images ``a[i]`` and ``b[i]`` over shifts keeping ``min_overlap`` overlap.

    ``images`` (n, H, W[, C]); ``a``, ``b`` paired row indices. Returns one value per pair. The overlap sums of
    a² and b² are computed once per image, the cross-correlation once per pair (single precision FFTs: the error,
    about 1e-3 of the pixel SD, is far below any useful tolerance).
    """
    import scipy.fft

    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim == 3:
        imgs = imgs[..., None]
    n, h, w, c = imgs.shape
    imgs = ((imgs - imgs.mean()) / (imgs.std() or 1.0)).astype(np.float32)
    # shifts of at most h(1 - min_overlap) are compared; padding to h + that (not 2h) keeps them free of wrap-around
    reach = (int(np.floor(h * (1 - min_overlap) + 1e-9)), int(np.floor(w * (1 - min_overlap) + 1e-9)))
    shape = (scipy.fft.next_fast_len(h + reach[0] + 1, real=True), scipy.fft.next_fast_len(w + reach[1] + 1, real=True))
    dy = np.fft.fftfreq(shape[0], 1.0 / shape[0]).round().astype(int)
    dx = np.fft.fftfreq(shape[1], 1.0 / shape[1]).round().astype(int)
    count = np.outer(np.clip(h - np.abs(dy), 0, None), np.clip(w - np.abs(dx), 0, None)).astype(np.float64)
    allowed = (count / (h * w) >= min_overlap - 1e-12) & (np.abs(dy)[:, None] <= reach[0]) & (np.abs(dx) <= reach[1])
    keep = np.flatnonzero(allowed.ravel())  # only the shifts that keep enough overlap are compared
    F = scipy.fft.rfft2(imgs, s=shape, axes=(1, 2))  # (n, 2H, W+1, C)
    F2 = scipy.fft.rfft2((imgs**2).sum(axis=-1), s=shape, axes=(1, 2))
    M = scipy.fft.rfft2(np.ones((h, w), dtype=np.float32), s=shape)
    # Σ_p A²(p + s) M(p) and Σ_p M(p + s) B²(p): one per image
    sq_shift = scipy.fft.irfft2(F2 * np.conj(M), s=shape, axes=(1, 2)).reshape(n, -1)[:, keep]
    sq_fixed = scipy.fft.irfft2(M * np.conj(F2), s=shape, axes=(1, 2)).reshape(n, -1)[:, keep]
    norm = (count.ravel()[keep] * c)[None]
    out = np.empty(len(a))
    for s in range(0, len(a), PAIR_BATCH):
        ia, ib = a[s : s + PAIR_BATCH], b[s : s + PAIR_BATCH]
        # corr(s) = Σ_p A(p + s) B(p): A shifted against B
        cross = scipy.fft.irfft2((F[ia] * np.conj(F[ib])).sum(axis=-1), s=shape, axes=(1, 2))
        ssd = sq_shift[ia] + sq_fixed[ib] - 2 * cross.reshape(len(ia), -1)[:, keep]
        out[s : s + PAIR_BATCH] = np.sqrt(np.clip(ssd / norm, 0.0, None).min(axis=1))
    return out * (np.asarray(images, dtype=np.float64).std() or 1.0)


def duplicate_pairs(ds: xr.Dataset, mei: np.ndarray, check: str, *, min_overlap: float, tolerance: float) -> np.ndarray:
    """Number of near-duplicate pairs among each row's MEIs (stimulus positions; rows with a -1 give 0)."""
    mei = np.asarray(mei)
    k = mei.shape[1]
    iu, ju = np.triu_indices(k, 1)
    a, b = mei[:, iu], mei[:, ju]
    ok = (a >= 0) & (b >= 0) & (a != b)
    lo, hi = np.minimum(a, b)[ok], np.maximum(a, b)[ok]
    dup = np.zeros(a.shape, dtype=bool)
    if lo.size == 0:
        return dup.sum(axis=1)
    pairs, inverse = np.unique(np.stack([lo, hi], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    if check == "coords":
        flag = coords_overlap(ds, pairs[:, 0], pairs[:, 1]) >= min_overlap - 1e-12
    else:
        used, pos = np.unique(pairs, return_inverse=True)
        pos = pos.reshape(pairs.shape)
        images = np.asarray(ds["stimuli"].isel(stimulus=used).values, dtype=np.float64)
        sd = images.std()
        rms = pixel_rms_min(images, pos[:, 0], pos[:, 1], min_overlap=min_overlap)
        flag = rms <= tolerance * (sd if sd > 0 else 1.0)
    dup[ok] = flag[inverse]
    dup |= (a == b) & (a >= 0)
    return dup.sum(axis=1)
