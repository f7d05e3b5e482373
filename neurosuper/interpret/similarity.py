"""Similarity backends: how far apart two stimuli are, for the interpretability index and the 2AFC observer.

A backend is a small class registered under a name (:data:`SIMILARITIES`); :func:`resolve_similarity` turns a
name, a backend instance or any callable into a :class:`Space` for one ResponseSet. A space answers one
question, vectorised: :meth:`Space.distances` of *paired* stimulus indices ``a`` and ``b`` (same shape), so the
index needs only the distances among each unit's k MEIs — never a stimulus × stimulus matrix.

=========== ================================================ =========================================
name        distance                                         needs
=========== ================================================ =========================================
features    euclidean (or cosine) between feature vectors    ``stimuli`` (stimulus, feature) or ``features=``
pixels      L2 between images (flattened)                     image ``stimuli``
color       L2 between mean colours (Klindt et al.: low-level control)  image ``stimuli``
label       0 if the labels agree, 1 if not (high-level control)          a ``label``/``category`` coord
gabor       L2 between multi-scale oriented-energy embeddings (:mod:`._gabor`)  image ``stimuli``
lpips       LPIPS-AlexNet (Zhang et al. 2018) when installed with its weights  image ``stimuli``
callable    ``fn(stimuli_a, stimuli_b) -> distances`` on paired stimuli        ``stimuli``
=========== ================================================ =========================================

``"auto"`` picks ``features`` for feature stimuli, ``lpips`` (if available) else ``gabor`` for images — ``pixels``
for images too small for ``gabor``'s wavelengths (shorter side below 32 px, :meth:`Gabor.min_size`) — and
``label`` when there are no stimuli but a label coord; the choice is recorded in the result's attrs.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from ..errors import AnalysisError, NeurosuperError
from ._gabor import gabor_embedding

__all__ = [
    "SIMILARITIES",
    "Similarity",
    "Space",
    "Features",
    "Pixels",
    "Color",
    "Label",
    "Gabor",
    "LPIPS",
    "CallableSimilarity",
    "register_similarity",
    "resolve_similarity",
    "stimulus_kind",
]

#: Registry: backend name -> backend class (instantiated with its defaults when given by name).
SIMILARITIES: dict[str, type[Similarity]] = {}
#: Pairs per vectorised distance evaluation (bounds the temporary (pair, feature) arrays).
PAIR_CHUNK = 2**15
LABEL_COORDS = ("label", "category")
#: Image sets up to this size get their Gabor space memoised (see :class:`Gabor`).
GABOR_MEMO_BYTES = 2**28
_GABOR_MEMO: OrderedDict[tuple, Space] = OrderedDict()


_S = TypeVar("_S", bound="Similarity")


def register_similarity(name: str) -> Callable[[type[_S]], type[_S]]:
    """Class decorator adding a backend to :data:`SIMILARITIES` under ``name``."""

    def deco(cls: type[_S]) -> type[_S]:
        cls.name = name
        SIMILARITIES[name] = cls
        return cls

    return deco


def stimulus_kind(ds: xr.Dataset) -> str | None:
    """``"features"``, ``"images"`` or ``None`` (no ``stimuli`` variable) for a ResponseSet."""
    if "stimuli" not in ds.data_vars:
        return None
    return "features" if ds["stimuli"].ndim == 2 else "images"


def label_coord(ds: xr.Dataset, name: str | None = None) -> str | None:
    """Name of the stimulus label coord (``label``, then ``category``), or ``None``."""
    names = (name,) if name else LABEL_COORDS
    for n in names:
        if n in ds.coords and ds[n].dims == ("stimulus",):
            return n
    return None


# --------------------------------------------------------------------------------------------- spaces
def unique_positions(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_inverse=True)`` of 1-D stimulus positions, without sorting when it can.

    Non-negative integer positions whose largest value is at most a few times their number: a mask over 0..max
    and a lookup table, O(len + max) — the same two arrays as ``np.unique`` (sorted distinct values, and the index
    of each element among them). The population test hands millions of pairs to :meth:`EmbeddingSpace.distances`;
    ``np.unique``'s sort of 8 million positions took 2.4 s where the mask takes 0.04 s (issue 22 §3,
    ``benchmarks/bench_scaling.py``). Anything else (negative, sparse or non-integer values): ``np.unique``.
    """
    x = np.asarray(x).ravel()
    if x.size == 0 or x.dtype.kind not in "iu":
        return np.unique(x, return_inverse=True)
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi >= 4 * x.size + 4096:
        return np.unique(x, return_inverse=True)
    seen = np.zeros(hi + 1, dtype=bool)
    seen[x] = True
    used = np.flatnonzero(seen).astype(x.dtype, copy=False)
    lookup = np.empty(hi + 1, dtype=np.intp)
    lookup[used] = np.arange(used.size)
    return used, lookup[x]


class Space:
    """Paired distances between stimuli of one set, by stimulus position."""

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def pairwise(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(len(rows), len(cols)) distances between every stimulus of ``rows`` and every one of ``cols``.

        Used only for small blocks (the population test's distance matrix, :mod:`.significance`); a backend may
        compute it faster than pair by pair.
        """
        rows, cols = np.asarray(rows), np.asarray(cols)
        a, b = np.repeat(rows, cols.size), np.tile(cols, rows.size)
        return np.asarray(self.distances(a, b), dtype=np.float64).reshape(rows.size, cols.size)


class EmbeddingSpace(Space):
    """Distances between rows of an embedding computed on demand for the stimuli actually compared.

    ``embed(positions) -> (len(positions), d)``; ``metric`` ``"euclidean"`` or ``"cosine"`` (1 − cos).
    """

    def __init__(
        self, embed: Callable[[np.ndarray], np.ndarray], metric: str = "euclidean", *, cache_size: int | None = None
    ):
        if metric not in ("euclidean", "cosine"):
            raise AnalysisError(
                f"metric: found {metric!r}; expected 'euclidean' or 'cosine'. "
                "Fix: pass metric='euclidean' or metric='cosine'."
            )
        self.embed, self.metric = embed, metric
        #: With ``cache_size`` (the number of stimuli) each stimulus is embedded once and kept (costly embeddings).
        self.cache_size = cache_size
        self._cache: np.ndarray | None = None
        self._done: np.ndarray | None = None

    def _embedding(self, used: np.ndarray) -> np.ndarray:
        if self.cache_size is None:
            return np.asarray(self.embed(used), dtype=np.float64).reshape(len(used), -1)
        if self._done is None:
            self._done = np.zeros(self.cache_size, dtype=bool)
        todo = used[~self._done[used]]
        if todo.size:
            fresh = np.asarray(self.embed(todo), dtype=np.float64).reshape(len(todo), -1)
            if self._cache is None:
                self._cache = np.empty((self.cache_size, fresh.shape[1]))
            self._cache[todo] = fresh
            self._done[todo] = True
        if self._cache is None:  # nothing embedded yet: used is empty
            return np.empty((0, 0))
        return self._cache[used]

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a), np.asarray(b)
        if a.size == 0:
            return np.zeros(a.shape)
        used, inv = unique_positions(np.concatenate([a.ravel(), b.ravel()]))
        E = self._embedding(used)
        if self.metric == "cosine":
            norm = np.linalg.norm(E, axis=1, keepdims=True)
            E = np.divide(E, norm, out=np.zeros_like(E), where=norm > 0)
        ia, ib = inv[: a.size], inv[a.size :]
        out = np.empty(a.size)
        step = max(1, PAIR_CHUNK * 16 // max(E.shape[1], 1))
        for s in range(0, a.size, step):
            ea, eb = E[ia[s : s + step]], E[ib[s : s + step]]
            if self.metric == "cosine":
                out[s : s + step] = 1.0 - np.einsum("pf,pf->p", ea, eb)
            else:
                diff = ea - eb
                out[s : s + step] = np.sqrt(np.einsum("pf,pf->p", diff, diff))
        return out.reshape(a.shape)

    def pairwise(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Block of distances by matrix products (euclidean: ‖a‖² + ‖b‖² − 2a·b, equal to :meth:`distances` up to
        rounding, ~1e-8 of the embedding's norm)."""
        rows, cols = np.asarray(rows), np.asarray(cols)
        used, inv = unique_positions(np.concatenate([rows, cols]))
        E = self._embedding(used)
        A, B = E[inv[: rows.size]], E[inv[rows.size :]]
        if self.metric == "cosine":
            na, nb = np.linalg.norm(A, axis=1, keepdims=True), np.linalg.norm(B, axis=1, keepdims=True)
            A = np.divide(A, na, out=np.zeros_like(A), where=na > 0)
            B = np.divide(B, nb, out=np.zeros_like(B), where=nb > 0)
            return 1.0 - A @ B.T
        sq = np.einsum("pf,pf->p", A, A)[:, None] + np.einsum("pf,pf->p", B, B)[None, :] - 2.0 * (A @ B.T)
        return np.sqrt(np.maximum(sq, 0.0))


class CodeSpace(Space):
    """0/1 disagreement of integer codes (labels)."""

    def __init__(self, codes: np.ndarray):
        self.codes = codes

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (self.codes[a] != self.codes[b]).astype(np.float64)

    def pairwise(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return (self.codes[np.asarray(rows)][:, None] != self.codes[np.asarray(cols)][None, :]).astype(np.float64)


class PairedFunctionSpace(Space):
    """Distances from a function of paired stimulus arrays, called in chunks."""

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], Any], stimuli: xr.DataArray, chunk: int = 4096):
        self.fn, self.stimuli, self.chunk = fn, stimuli, chunk

    def _rows(self, pos: np.ndarray) -> np.ndarray:
        return np.asarray(self.stimuli.isel(stimulus=pos).values)

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a), np.asarray(b)
        fa, fb = a.ravel(), b.ravel()
        out = np.empty(fa.size)
        for s in range(0, fa.size, self.chunk):
            sa, sb = fa[s : s + self.chunk], fb[s : s + self.chunk]
            d = np.asarray(self.fn(self._rows(sa), self._rows(sb)), dtype=np.float64)
            if d.shape != sa.shape:
                raise AnalysisError(
                    f"similarity callable: found distances of shape {d.shape} for {sa.size} "
                    f"stimulus pairs; expected shape ({sa.size},), one distance per pair. Fix: "
                    "return fn(a, b)[i] = distance(a[i], b[i]) for paired stimuli a, b."
                )
            if not np.all(np.isfinite(d)):
                raise AnalysisError(
                    "similarity callable: found non-finite distances; expected finite numbers. "
                    "Fix: make the callable return finite distances for every pair."
                )
            out[s : s + self.chunk] = d
        return out.reshape(a.shape)


# --------------------------------------------------------------------------------------------- backends
class Similarity:
    """Base class of the backends. ``needs`` is ``"features"``, ``"images"``, ``"stimuli"`` or ``"label"``."""

    name = "?"
    needs = "stimuli"

    def missing(self, ds: xr.Dataset) -> str | None:
        """Why this backend cannot run on ``ds`` (``None`` when it can)."""
        kind = stimulus_kind(ds)
        if self.needs == "label":
            return None if label_coord(ds) else f"a stimulus coord {' or '.join(LABEL_COORDS)!s}"
        if kind is None:
            return "a 'stimuli' variable"
        if self.needs in ("features", "images") and kind != self.needs:
            shape = "(stimulus, feature)" if self.needs == "features" else "(stimulus, y, x[, channel])"
            return f"{self.needs} stimuli {shape} (found {kind} stimuli, dims {ds['stimuli'].dims})"
        return None

    def check(self, ds: xr.Dataset) -> None:
        why = self.missing(ds)
        if why is not None:
            working = available_similarities(ds)
            other = (
                f"pass similarity={working[0]!r}, a backend that works on this set (all that do: {', '.join(working)})"
                if working
                else "no backend works on this set (it has no stimuli and no label coord)"
            )
            raise AnalysisError(
                f"similarity {self.name!r} needs {why}; found none on this set. Expected a set "
                f"with it. Fix: give the set what it needs (ds['stimuli'] or the coord) and save it again, or "
                f"{other}."
            )

    def space(self, ds: xr.Dataset) -> Space:  # pragma: no cover - interface
        raise NotImplementedError


def _images(ds: xr.Dataset) -> xr.DataArray:
    return ds["stimuli"]


@register_similarity("features")
class Features(Similarity):
    """Euclidean (or cosine, ``metric="cosine"``) distance between stimulus features.

    ``features``: a (stimulus, feature) array or DataArray to use instead of ``ds['stimuli']`` (a DataArray
    with stimulus ids is aligned to the set by id), e.g. a network's embedding or behaviour such as hand velocity.
    """

    needs = "features"

    def __init__(self, *, metric: str = "euclidean", features: Any = None):
        self.metric, self.features = metric, features

    def missing(self, ds: xr.Dataset) -> str | None:
        return None if self.features is not None else super().missing(ds)

    def _matrix(self, ds: xr.Dataset) -> Any:
        n = ds.sizes["stimulus"]
        if self.features is None:
            return ds["stimuli"].data
        f = self.features
        if isinstance(f, xr.DataArray):
            if "stimulus" not in f.dims:
                raise AnalysisError(
                    f"features: found a DataArray with dims {f.dims}; expected a 'stimulus' dim. "
                    "Fix: rename its stimulus dim to 'stimulus'."
                )
            if "stimulus" in f.coords and f.sizes["stimulus"] == n:
                f = f.sel(stimulus=ds["stimulus"].values)
            f = f.transpose("stimulus", ...).data
        shape = getattr(f, "shape", None) or np.shape(f)
        if len(shape) == 1:
            f = np.asarray(f)[:, None]
            shape = f.shape
        if len(shape) != 2 or shape[0] != n:
            raise AnalysisError(
                f"features: found shape {tuple(shape)}; expected ({n}, n_features), one row per "
                f"stimulus of the set ({n} stimuli). Fix: pass features in the set's stimulus "
                "order, stimulus first."
            )
        return f

    def space(self, ds: xr.Dataset) -> Space:
        F = self._matrix(ds)
        return EmbeddingSpace(lambda pos: np.asarray(F[pos]), self.metric)


@register_similarity("pixels")
class Pixels(Similarity):
    """L2 distance between images, pixel by pixel (flattened)."""

    needs = "images"

    def space(self, ds: xr.Dataset) -> Space:
        imgs = _images(ds).data
        return EmbeddingSpace(lambda pos: np.asarray(imgs[pos]).reshape(len(pos), -1))


@register_similarity("color")
class Color(Similarity):
    """L2 distance between mean colours (mean over y and x; grey images: mean luminance).

    Klindt et al. 2023's low-level control.
    """

    needs = "images"

    def space(self, ds: xr.Dataset) -> Space:
        imgs = _images(ds).data
        return EmbeddingSpace(
            lambda pos: np.asarray(imgs[pos]).reshape(len(pos), imgs.shape[1] * imgs.shape[2], -1).mean(axis=1)
        )


@register_similarity("label")
class Label(Similarity):
    """Label agreement: distance 0 for the same label, 1 otherwise (Klindt et al. 2023's high-level control).

    ``coord``: the stimulus coord to use (default ``label``, then ``category``).
    """

    needs = "label"

    def __init__(self, *, coord: str | None = None):
        self.coord = coord

    def missing(self, ds: xr.Dataset) -> str | None:
        if self.coord is not None and label_coord(ds, self.coord) is None:
            return f"a stimulus coord {self.coord!r}"
        return super().missing(ds)

    def space(self, ds: xr.Dataset) -> Space:
        name = label_coord(ds, self.coord)
        codes = np.unique(np.asarray(ds[name].values).astype(str), return_inverse=True)[1]
        return CodeSpace(codes)


@register_similarity("gabor")
class Gabor(Similarity):
    """L2 distance between weight-free multi-scale oriented Gabor-energy embeddings (see :mod:`._gabor`)."""

    needs = "images"

    # The embedding is the costly part: a space is kept for the last two in-memory image sets (by content hash,
    # up to GABOR_MEMO_BYTES each), so the II, its null and the 2AFC on the same stimuli (e.g. a brain and a
    # network shown the same images) embed each image once.

    def __init__(self, *, n_scales: int = 3, n_orientations: int = 4, grid: int = 4):
        self.options = {"n_scales": n_scales, "n_orientations": n_orientations, "grid": grid}

    @staticmethod
    def min_size(n_scales: int = 3) -> int:
        """Shortest image side (px) whose ``n_scales`` wavelengths S/4, S/8, … all stay at least 2 px apart from
        the floor: ``S / 2**(n_scales + 1) >= 2``, i.e. ``S >= 2**(n_scales + 2)`` (32 px for 3 scales)."""
        return 2 ** (n_scales + 2)

    def missing(self, ds: xr.Dataset) -> str | None:
        why = super().missing(ds)
        if why is None:
            side = min(ds["stimuli"].shape[1:3])
            need = self.min_size(self.options["n_scales"])
            if side < need:
                fit = max(1, int(np.log2(side)) - 2) if side >= 8 else 0
                return (
                    f"images at least {need} px a side for its {self.options['n_scales']} wavelengths S/4 ... "
                    f"S/{2 ** (self.options['n_scales'] + 1)} >= 2 px (found {side} px; "
                    + (f"Gabor(n_scales={fit}) fits them" if fit else "too small for any Gabor scale")
                    + ")"
                )
        return why

    def space(self, ds: xr.Dataset) -> Space:
        imgs = _images(ds).data
        key = None
        if isinstance(imgs, np.ndarray) and imgs.nbytes <= GABOR_MEMO_BYTES:
            # an ndarray is a buffer; numpy's stubs declare __buffer__ for Python >= 3.12 only
            digest = hashlib.sha1(np.ascontiguousarray(imgs).view(np.uint8)).hexdigest()  # type: ignore[arg-type]
            key = (digest, imgs.shape, imgs.dtype.str, tuple(sorted(self.options.items())))
            if key in _GABOR_MEMO:
                _GABOR_MEMO.move_to_end(key)
                return _GABOR_MEMO[key]
        space = EmbeddingSpace(
            lambda pos: gabor_embedding(np.asarray(imgs[pos]), **self.options), cache_size=ds.sizes["stimulus"]
        )
        if key is not None:
            _GABOR_MEMO[key] = space
            while len(_GABOR_MEMO) > 2:
                _GABOR_MEMO.popitem(last=False)
        return space


@register_similarity("lpips")
class LPIPS(Similarity):
    """LPIPS with AlexNet (Zhang et al. 2018; the metric of Klindt et al. 2023), only from local files.

    Needs the ``lpips`` package, ``torchvision`` and the AlexNet weights already in the torch hub cache; never
    downloads. Images are scaled to [0, 1] by the set's min and max and grey images repeated to 3 channels.
    """

    needs = "images"
    WEIGHTS = "alexnet-owt-7be5be79.pth"

    @classmethod
    def unavailable(cls) -> list[str]:
        """What is missing for LPIPS on this machine (empty when it can run)."""
        import importlib.util
        import os
        from pathlib import Path

        missing = [m for m in ("torch", "torchvision", "lpips") if importlib.util.find_spec(m) is None]
        # torch.hub.get_dir() without importing torch (slow): $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub
        home = os.environ.get("TORCH_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
        )
        ckpt = Path(home) / "hub" / "checkpoints" / cls.WEIGHTS
        if not ckpt.exists():
            missing.append(f"the AlexNet weights {ckpt}")
        return missing

    def space(self, ds: xr.Dataset) -> Space:
        missing = self.unavailable()
        if missing:
            raise NeurosuperError(
                f"similarity 'lpips': found {', '.join(missing)} missing; expected the lpips "
                "package, torchvision and the AlexNet weights installed locally (neurosuper never "
                "downloads). Fix: install them (pip install lpips torchvision, then place the "
                "weights in the torch hub cache), or use similarity='gabor' (weight-free)."
            )
        import lpips  # pragma: no cover - not installed on the test machines
        import torch  # pragma: no cover

        model = lpips.LPIPS(net="alex", verbose=False).eval()  # pragma: no cover
        stim = _images(ds)  # pragma: no cover
        lo, hi = float(stim.min()), float(stim.max())  # pragma: no cover

        def fn(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover
            def tensor(x: np.ndarray) -> torch.Tensor:
                x = (x - lo) / (hi - lo or 1.0)
                x = np.repeat(x[..., None], 3, axis=-1) if x.ndim == 3 else x
                return torch.as_tensor(np.moveaxis(x, -1, 1), dtype=torch.float32)

            with torch.no_grad():
                return model(tensor(a), tensor(b), normalize=True).reshape(-1).numpy()

        return PairedFunctionSpace(fn, stim, chunk=64)  # pragma: no cover


class CallableSimilarity(Similarity):
    """Any callable ``fn(stimuli_a, stimuli_b) -> distances``: paired stimuli (n, ...) each → (n,) distances."""

    needs = "stimuli"

    def __init__(self, fn: Callable[[np.ndarray, np.ndarray], Any]):
        self.fn = fn
        self.name = getattr(fn, "__name__", "callable")

    def space(self, ds: xr.Dataset) -> Space:
        return PairedFunctionSpace(self.fn, ds["stimuli"])


def available_similarities(ds: xr.Dataset) -> list[str]:
    """Names of the registered backends that can run on ``ds``."""
    out = []
    for name, cls in SIMILARITIES.items():
        if cls().missing(ds) is None and (name != "lpips" or not LPIPS.unavailable()):
            out.append(name)
    return out


def _auto(ds: xr.Dataset) -> str:
    kind = stimulus_kind(ds)
    if kind == "features":
        return "features"
    if kind == "images":
        if not LPIPS.unavailable():
            return "lpips"
        return "gabor" if Gabor().missing(ds) is None else "pixels"
    if label_coord(ds):
        return "label"
    raise AnalysisError(
        "similarity 'auto': found no 'stimuli' variable and no 'label'/'category' stimulus coord; "
        "expected stimuli (images or features) or labels to compare the top stimuli with. Fix: give the set "
        "its stimuli (ds['stimuli'] = images or features) or a 'label' stimulus coord and save it again, or, in "
        "Python, pass similarity=Features(features=...) with features of each stimulus."
    )


def resolve_similarity(ds: xr.Dataset, similarity: Any = "auto") -> tuple[Space, str, bool]:
    """(space, backend name, chosen automatically?) for ``similarity`` (name, backend or callable) on ``ds``."""
    auto = isinstance(similarity, str) and similarity == "auto"
    if auto:
        similarity = _auto(ds)
    if isinstance(similarity, str):
        if similarity not in SIMILARITIES:
            raise AnalysisError(
                f"similarity: found {similarity!r}; expected 'auto', one of {sorted(SIMILARITIES)}, "
                "a Similarity instance or a callable (stimuli_a, stimuli_b) -> distances. "
                "Fix: pick one of those."
            )
        backend = SIMILARITIES[similarity]()
    elif isinstance(similarity, Similarity):
        backend = similarity
    elif callable(similarity):
        backend = CallableSimilarity(similarity)
    else:
        raise AnalysisError(
            f"similarity: found a {type(similarity).__name__}; expected a name, a Similarity or a "
            "callable. Fix: pass e.g. similarity='features'."
        )
    backend.check(ds)
    return backend.space(ds), backend.name, auto
