"""Network activations → ResponseSet: arrays (numpy or dask), mappings of layers, scikit-learn MLPs.

The building blocks are shared by every network adapter (:mod:`neurosuper.io.torch`, :mod:`neurosuper.io.files`):

- :func:`reduce_spatial` turns one layer's convolutional output (stimulus, channel, height, width) into
  (stimulus, unit) columns — works on numpy, dask and torch arrays, batch by batch;
- :func:`layer_unit_coords` gives the unit ids and coords (``layer``, ``channel``, ``y``, ``x``) of one layer;
- :func:`layer_units` does both for one layer and returns a (stimulus, unit) DataArray;
- :func:`from_activations` pools several layers into ONE set (units concatenated along ``unit``).

Unit ids are ``"<layer>/<channel>"`` (``"conv2/17"``); with ``spatial="flatten"`` a convolutional unit is
``"<layer>/<channel>/<y>/<x>"`` (``"conv2/17/3/4"``). See ``docs/activations.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import FormatError

if TYPE_CHECKING:
    from ..format import IdsLike

__all__ = ["SPATIAL", "reduce_spatial", "layer_unit_coords", "layer_units", "from_activations", "from_sklearn"]

#: The ``spatial=`` options for convolutional layers.
SPATIAL = ("mean", "center", "max", "flatten")
#: Default layer name of a single array passed without ``layer=``.
DEFAULT_LAYER = "layer"


def _check_spatial(spatial: str) -> None:
    if spatial not in SPATIAL:
        close = difflib.get_close_matches(str(spatial), SPATIAL, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FormatError(
            f"spatial: found {spatial!r}{hint}; expected one of {SPATIAL}. Fix: spatial='mean' "
            "averages each channel over positions, 'flatten' keeps every channel×position as a unit."
        )


def _is_lazy(arr: Any) -> bool:
    return hasattr(arr, "dask")


def _as_array(arr: Any, name: str) -> Any:
    """numpy/dask array of a real numeric dtype (a DataArray gives its data; other array-likes go through numpy)."""
    if isinstance(arr, xr.DataArray):
        arr = arr.data
    if not _is_lazy(arr):
        try:
            arr = np.asarray(arr)
        except (TypeError, ValueError) as err:
            raise FormatError(
                f"layer {name!r}: found an object numpy cannot convert ({err}); expected a "
                "rectangular numeric array. Fix: pass a numpy or dask array."
            ) from None
    if arr.dtype.kind not in "biuf":
        raise FormatError(
            f"layer {name!r}: found dtype {arr.dtype}; expected real numbers. "
            "Fix: convert the activations to float (complex: pass abs() or real/imag as layers)."
        )
    if arr.ndim not in (2, 4):
        raise FormatError(
            f"layer {name!r}: found a {arr.ndim}-D array of shape {tuple(arr.shape)}; expected 2-D "
            "(stimulus, unit) or 4-D (stimulus, channel, height, width). Fix: reshape it, e.g. "
            "channels-last images arr.transpose(0, 3, 1, 2), tokens arr.reshape(len(arr), -1)."
        )
    if any(s == 0 for s in arr.shape):
        raise FormatError(
            f"layer {name!r}: found an empty array of shape {tuple(arr.shape)}; expected at least "
            "one stimulus and one unit. Fix: check the inputs that produced it."
        )
    return arr


def reduce_spatial(acts: Any, spatial: str = "mean") -> Any:
    """One layer's activations as (stimulus, unit) columns.

    Parameters
    ----------
    acts
        (stimulus, unit) — returned as is — or convolutional (stimulus, channel, height, width); a numpy,
        dask or torch array (each batch may be reduced on its own: every option is per stimulus).
    spatial
        ``"mean"`` (average over positions, per channel), ``"center"`` (the position ``(height // 2,
        width // 2)``), ``"max"`` (maximum over positions) or ``"flatten"`` (every channel × position a unit,
        in C order: channel, then y, then x).

    Returns
    -------
    array of the input's kind, (stimulus, channel) or, for ``"flatten"``, (stimulus, channel·height·width).
    """
    _check_spatial(spatial)
    if acts.ndim == 2:
        return acts
    if acts.ndim != 4:
        raise FormatError(
            f"activations: found shape {tuple(acts.shape)}; expected (stimulus, unit) or "
            "(stimulus, channel, height, width). Fix: reshape the layer's output."
        )
    if spatial == "mean":
        return acts.mean(axis=(2, 3))
    if spatial == "max":
        return acts.amax(dim=(2, 3)) if hasattr(acts, "amax") else acts.max(axis=(2, 3))
    if spatial == "center":
        return acts[:, :, acts.shape[2] // 2, acts.shape[3] // 2]
    return acts.reshape(acts.shape[0], -1)


def layer_unit_coords(layer: str, shape: Sequence[int], spatial: str = "mean") -> dict[str, np.ndarray]:
    """Unit ids and coords of one layer, in the column order of :func:`reduce_spatial`.

    Parameters
    ----------
    layer
        The layer's name.
    shape
        The shape of ONE stimulus' activations: ``(units,)`` or ``(channel, height, width)``.
    spatial
        As :func:`reduce_spatial`.

    Returns
    -------
    dict
        ``unit`` (ids ``"layer/channel"`` or, flattened, ``"layer/channel/y/x"``), ``layer``, ``channel`` and,
        for a flattened convolutional layer, ``y`` and ``x`` (positions; integers).
    """
    _check_spatial(spatial)
    shape = tuple(int(s) for s in shape)
    n_channel = shape[0]
    if len(shape) == 3 and spatial == "flatten":
        c, y, x = (g.ravel() for g in np.meshgrid(*(np.arange(s) for s in shape), indexing="ij"))
        ids = [f"{layer}/{ci}/{yi}/{xi}" for ci, yi, xi in zip(c, y, x, strict=True)]
        coords = {"channel": c, "y": y, "x": x}
    elif len(shape) in (1, 3):
        c = np.arange(n_channel)
        ids = [f"{layer}/{ci}" for ci in c]
        coords = {"channel": c}
    else:
        raise FormatError(
            f"layer {layer!r}: found per-stimulus shape {shape}; expected (units,) or (channel, height, width)."
        )
    return {"unit": np.array(ids), "layer": np.full(len(ids), str(layer)), **coords}


def layer_units(acts: Any, *, layer: str, spatial: str = "mean") -> xr.DataArray:
    """One layer's activations as a (stimulus, unit) DataArray with unit coords (:func:`layer_unit_coords`).

    Dask input stays lazy. No stimulus coord is set (the caller adds the ids).
    """
    arr = _as_array(acts, layer)
    coords = layer_unit_coords(layer, arr.shape[1:], spatial)
    data = reduce_spatial(arr, spatial)
    return xr.DataArray(data, dims=("stimulus", "unit"), coords={k: ("unit", v) for k, v in coords.items()})


def _select(acts: Mapping[str, Any], layer: str | Sequence[str] | None) -> dict[str, Any]:
    names = [str(k) for k in acts]
    if layer is None:
        return {str(k): v for k, v in acts.items()}
    wanted = [layer] if isinstance(layer, str) else list(layer)
    unknown = [w for w in wanted if w not in names]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), names, n=len(names), cutoff=0.0)
        raise FormatError(
            f"layer: found unknown layer name(s) {unknown}; expected names of the mapping, closest "
            f"first: {close}. Fix: pass layer= with some of these names (or None for all)."
        )
    if len(set(wanted)) != len(wanted):
        raise FormatError(f"layer: found repeated names {wanted}; expected each layer once. Fix: remove repeats.")
    by_name = {str(k): v for k, v in acts.items()}
    return {w: by_name[w] for w in wanted}


def _check_finite(layers: Mapping[str, Any]) -> None:
    """Count NaN and ±inf per in-memory layer; dask layers are not read (see ``validate(check_values=True)``)."""
    bad = {}
    for name, arr in layers.items():
        if _is_lazy(arr) or arr.dtype.kind != "f":
            continue
        n_nan = int(np.count_nonzero(np.isnan(arr)))
        n_inf = int(np.count_nonzero(np.isinf(arr)))
        if n_nan or n_inf:
            bad[name] = f"{n_nan} NaN, {n_inf} inf of {arr.size}"
    if bad:
        found = "; ".join(f"{k}: {v}" for k, v in bad.items())
        raise FormatError(
            f"activations: found non-finite values per layer ({found}); expected finite "
            "activations. Fix: check the model and its inputs (normalisation, overflow in float16), "
            "or drop the affected stimuli before building the set."
        )


def from_activations(
    acts: Any,
    *,
    stimulus: IdsLike | None = None,
    layer: str | Sequence[str] | None = None,
    spatial: str = "mean",
    stimuli: Any = None,
    label: Sequence[Any] | None = None,
    model: str | None = None,
) -> xr.Dataset:
    """Build ONE ResponseSet (``system="network"``, ``measure="activation"``) from network activations.

    Parameters
    ----------
    acts
        A numpy or dask array — 2-D (stimulus, unit) or convolutional 4-D (stimulus, channel, height, width) —
        or a mapping ``{layer_name: array}``; every layer must have the same number of stimuli (rows).
    stimulus
        Stimulus ids, one per row (default ``0..n-1``).
    layer
        For a single array, its layer name (default ``"layer"``). For a mapping, the layer(s) to keep, in
        that order (default: all, in the mapping's order); unknown names raise, listing the valid ones.
    spatial
        Reduction of convolutional layers: ``"mean"`` | ``"center"`` | ``"max"`` | ``"flatten"``
        (:func:`reduce_spatial`); 2-D layers are kept as they are.
    stimuli
        The stimuli themselves (images or features), as :func:`neurosuper.from_array`.
    label
        One label per stimulus (class, category, condition), stored as the ``label`` coord along ``stimulus``.
    model
        The model's name, stored in attrs ``model`` and ``source`` (default ``"unknown"``).

    Returns
    -------
    xarray.Dataset
        ``responses(stimulus, unit)``; unit coords ``layer`` and ``channel`` (the index within the layer)
        and, with ``spatial="flatten"`` and a convolutional layer, ``y`` and ``x`` (``-1`` for units of 2-D
        layers). Unit ids ``"layer/channel"`` (``"conv2/17"``) or, flattened, ``"layer/channel/y/x"``
        (``"conv2/17/3/4"``). attrs ``model``, ``source``, ``spatial``, ``layers`` (names, in order).
        Dask input stays lazy (its values are then not checked for NaN/inf until
        ``neurosuper.validate(ds, check_values=True)``).

    Raises
    ------
    FormatError
        Empty input; a layer that is not 2-D/4-D or not numeric; layers with different stimulus counts;
        stimulus ids of another length; non-finite activations (counted per layer); an unknown ``spatial``.

    Examples
    --------
    >>> import numpy as np, neurosuper as ns
    >>> rng = np.random.default_rng(0)
    >>> ds = ns.from_activations({"conv1": rng.random((10, 4, 6, 6)), "fc": rng.random((10, 3))})
    >>> ds["unit"].values[[0, -1]].tolist(), dict(ds.sizes)
    (['conv1/0', 'fc/2'], {'stimulus': 10, 'unit': 7})
    """
    from ..format import from_array

    _check_spatial(spatial)
    if isinstance(acts, Mapping):
        if not acts:
            raise FormatError(
                "acts: found an empty mapping; expected {layer_name: array} with at least one "
                "layer. Fix: pass the layers' activations."
            )
        layers = _select(acts, layer)
    else:
        if layer is not None and not isinstance(layer, str):
            raise FormatError(
                f"layer: found {layer!r} for a single array; expected its name (a string). "
                "Fix: layer='conv2', or pass a mapping {name: array} for several layers."
            )
        layers = {layer if layer is not None else DEFAULT_LAYER: acts}
    layers = {name: _as_array(arr, name) for name, arr in layers.items()}
    counts = {name: int(arr.shape[0]) for name, arr in layers.items()}
    if len(set(counts.values())) > 1:
        raise FormatError(
            f"acts: found layers with different stimulus counts {counts}; expected the same "
            "stimuli (rows) in every layer. Fix: compute every layer on the same inputs."
        )
    n = next(iter(counts.values()))
    if stimulus is not None and len(stimulus) != n:
        raise FormatError(
            f"stimulus: found {len(stimulus)} ids for {n} stimuli (rows of the activations); "
            "expected one id per stimulus. Fix: pass as many ids as inputs."
        )
    if label is not None and len(label) != n:
        raise FormatError(
            f"label: found {len(label)} labels for {n} stimuli; expected one label per stimulus. "
            "Fix: pass as many labels as inputs (e.g. the dataset's targets)."
        )
    _check_finite(layers)
    parts = [layer_units(arr, layer=name, spatial=spatial) for name, arr in layers.items()]
    spatial_coords = spatial == "flatten" and any("y" in p.coords for p in parts)
    if spatial_coords:
        parts = [
            p
            if "y" in p.coords
            else p.assign_coords(y=("unit", np.full(p.sizes["unit"], -1)), x=("unit", np.full(p.sizes["unit"], -1)))
            for p in parts
        ]
    if any(_is_lazy(p.data) for p in parts):
        import dask.array as da

        data = da.concatenate([da.asarray(p.data) for p in parts], axis=1)
    else:
        data = np.concatenate([p.data for p in parts], axis=1) if len(parts) > 1 else parts[0].data
    names = ["unit", "layer", "channel"] + (["y", "x"] if spatial_coords else [])
    coords = {k: ("unit", np.concatenate([p[k].values for p in parts])) for k in names if k != "unit"}
    ids = np.concatenate([p["unit"].values for p in parts])
    name = model if model is not None else "unknown"
    attrs = {"model": str(name), "source": str(name), "spatial": spatial, "layers": list(layers)}
    return from_array(
        data,
        dims=("stimulus", "unit"),
        stimulus=stimulus,
        unit=ids,
        system="network",
        measure="activation",
        stimuli=stimuli,
        attrs=attrs,
        **coords,
        **({"label": ("stimulus", np.asarray(label))} if label is not None else {}),
    )


# --------------------------------------------------------------------------------------------- scikit-learn
def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The hidden-layer activation function of scikit-learn's MLPs, by name."""
    from scipy.special import expit

    table = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "logistic": expit, "identity": lambda z: z}
    if name not in table:
        raise FormatError(f"estimator: found activation={name!r}; expected one of {sorted(table)}.")
    return table[name]


def _check_mlp(estimator: Any) -> None:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if not isinstance(estimator, MLPClassifier | MLPRegressor):
        raise FormatError(
            f"estimator: found a {type(estimator).__name__}; expected a fitted scikit-learn "
            "MLPClassifier or MLPRegressor. Fix: for other models pass their activations to "
            "neurosuper.from_activations, for torch models use neurosuper.from_torch."
        )
    if not hasattr(estimator, "coefs_"):
        raise FormatError(
            f"estimator: found an unfitted {type(estimator).__name__}; expected a fitted one "
            "(with coefs_). Fix: call estimator.fit(X, y) first."
        )


def from_sklearn(
    estimator: Any,
    X: Any,
    *,
    stimulus: IdsLike | None = None,
    stimuli: Any = None,
    label: Sequence[Any] | None = None,
) -> xr.Dataset:
    """Hidden-layer activations of a fitted scikit-learn MLP for inputs ``X``, as one ResponseSet.

    Every hidden layer ``k`` (``layer`` coord ``"hidden_k"``, units ``"hidden_k/j"``) is
    ``h_k = f(h_{k-1} @ coefs_[k-1] + intercepts_[k-1])`` with ``h_0 = X`` and ``f`` the estimator's own
    ``activation`` (relu, tanh, logistic or identity) — the forward pass of scikit-learn's
    ``BaseMultilayerPerceptron`` without its output layer. Computed in the dtype of the fitted weights.

    Parameters
    ----------
    estimator
        A fitted ``sklearn.neural_network.MLPClassifier`` or ``MLPRegressor``.
    X
        Inputs, (stimulus, feature) with ``estimator.n_features_in_`` features; numpy or dask (stays lazy).
    stimulus, stimuli, label
        As :func:`from_activations` (e.g. ``stimuli=images`` to keep the images the features came from,
        ``label=y`` to keep the classes).

    Raises
    ------
    FormatError
        A non-MLP or unfitted estimator; ``X`` empty, not 2-D or with the wrong number of features; stimulus
        ids of another length; non-finite activations.
    """
    _check_mlp(estimator)
    dtype = estimator.coefs_[0].dtype
    if _is_lazy(X):
        h = X.astype(dtype)
    else:
        try:
            h = np.asarray(X, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise FormatError(
                f"X: found values that are not numbers ({err}); expected a numeric (stimulus, "
                "feature) array. Fix: encode the inputs as the estimator saw them in fit."
            ) from None
    n_in = estimator.n_features_in_
    if h.ndim != 2 or h.shape[0] == 0 or h.shape[1] != n_in:
        raise FormatError(
            f"X: found shape {tuple(h.shape)}; expected (n_stimuli ≥ 1, {n_in}) — the "
            f"{n_in} features the estimator was fitted on. Fix: pass inputs prepared as in fit."
        )
    if not _is_lazy(h) and not np.all(np.isfinite(h)):
        rows = np.flatnonzero(~np.isfinite(h).all(axis=1))
        raise FormatError(
            f"X: found {int(np.count_nonzero(~np.isfinite(h)))} NaN/inf values in rows "
            f"{rows[:5].tolist()}{' ...' if len(rows) > 5 else ''}; expected finite inputs. "
            "Fix: impute or drop those rows (and their stimulus ids)."
        )
    f = _activation(estimator.activation)
    layers = {}
    for k, (w, b) in enumerate(zip(estimator.coefs_[:-1], estimator.intercepts_[:-1], strict=True), start=1):
        h = f(h @ w + b)
        layers[f"hidden_{k}"] = h
    if not layers:  # pragma: no cover - scikit-learn always has >= 1 hidden layer
        raise FormatError("estimator: found no hidden layer; expected hidden_layer_sizes with at least one layer.")
    sizes = tuple(int(s) for s in np.atleast_1d(estimator.hidden_layer_sizes))
    model = f"{type(estimator).__name__}(hidden_layer_sizes={sizes}, activation={estimator.activation!r})"
    ds = from_activations(layers, stimulus=stimulus, stimuli=stimuli, label=label, model=model)
    ds.attrs["activation"] = str(estimator.activation)
    return ds
