"""The xarray side of direction finding: :func:`find`, :func:`fit_directions` and :func:`project`.

Responses are trial-averaged first (:func:`neurosuper.prep.trial_average`: mean over valid repeats and over
``time``), so the samples a finder sees are the stimuli and its features are the units. Directions come back as a
``(direction, unit)`` DataArray with unit-norm rows; :func:`project` turns a set into a new ResponseSet whose units
are the directions, so spectra, interpretability and capacity run on directions unchanged.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .._gram import is_dask
from .._provenance import stamp
from .._validation import check_dims, responses_of
from ..errors import AnalysisError, NeurosuperWarning, fail, preview
from ..format import validate
from ..prep import group_coord, trial_average, unit_coords, unit_groups
from .estimators import DirectionFinder, get_method

__all__ = ["find", "fit_directions", "project", "orientation", "averaged", "REFERENCE", "ORIENT_MAX_SAMPLES"]

REFERENCE = (
    "Klindt, Sanborn, Acosta, Poitevin & Miolane 2023, Identifying interpretable visual features in "
    "artificial and biological neural systems, arXiv:2310.11431"
)


# ------------------------------------------------------------------------------------------------- inputs
def averaged(ds: xr.Dataset | xr.DataArray, *, caller: str = "directions") -> xr.DataArray:
    """Trial-averaged responses (stimulus, unit) with stimuli that have no valid repeat left out (warned)."""
    resp = responses_of(ds, caller=caller)
    R = trial_average(resp, caller=caller)
    if "time" in R.dims:  # a bare DataArray keeps time only if asked; average it here
        R = R.mean("time")
    if not is_dask(R.data):
        values = R.values
        empty = np.zeros(values.shape[0], dtype=bool)  # a stimulus is empty only if its first unit is NaN
        first = np.flatnonzero(np.isnan(values[:, 0])) if values.shape[1] else np.arange(values.shape[0])
        empty[first] = np.isnan(values[first]).all(axis=1)
        if empty.any() and not empty.all():
            warnings.warn(
                f"{caller}: left out {int(empty.sum())} of {len(empty)} stimuli with no valid repeat "
                "(NaN for every unit).",
                NeurosuperWarning,
                stacklevel=3,
            )
            R = R.isel(stimulus=np.flatnonzero(~empty))
    return R


def make_estimator(method: str, n_directions: int | None, seed: int, options: Mapping[str, Any]) -> DirectionFinder:
    cls = get_method(method)
    valid = set(cls._get_param_names())
    unknown = sorted(set(options) - valid)
    if unknown:
        raise fail(
            f"{method}: options",
            f"unknown option(s) {unknown}",
            f"options of {cls.__name__}: {sorted(valid - {'n_directions', 'random_state'})}",
            f"drop {unknown[0]!r} (seed= and n_directions= are arguments of find itself)",
            AnalysisError,
        )
    return cls(n_directions=n_directions, random_state=seed, **options)


def fit_directions(
    ds: xr.Dataset | xr.DataArray,
    method: str,
    n_directions: int | None = None,
    *,
    seed: int = 0,
    **options: Any,
) -> DirectionFinder:
    """Fit the finder ``method`` (a name in :data:`~.estimators.METHODS`) on a set; return the estimator itself.

    One estimator, fitted on every unit of ``ds`` (scikit-learn style). For one finder per layer/area, fit each
    group's units (``ds.isel(unit=ds.layer.values == "conv1")``), or use :func:`find` with ``groupby``.

    Parameters
    ----------
    ds
        ResponseSet (or its ``responses``); trial-averaged to (stimulus, unit) first.
    method
        ``"kmeans"``, ``"pca"``, ``"ica"``, ``"nmf"``, ``"sparse_coding"``, ``"random"``, ``"units"``, ``"sae"``.
    n_directions
        Number of directions; ``None`` = the method's default (see :func:`find`).
    seed
        The finder's ``random_state``.
    **options
        The finder's own parameters (e.g. ``n_init=10`` for k-means, ``l1=0.1`` for the SAE).

    Returns
    -------
    DirectionFinder
        The fitted estimator, with ``units_`` (the unit ids it was fitted on).
    """
    return _fit_averaged(averaged(ds, caller=f"fit_directions({method!r})"), method, n_directions, seed, options)


def _fit_averaged(
    R: xr.DataArray, method: str, n_directions: int | None, seed: int, options: Mapping[str, Any]
) -> DirectionFinder:
    """:func:`fit_directions` on responses already trial-averaged by :func:`averaged`."""
    est = make_estimator(method, n_directions, seed, options)
    est.fit(R.data)
    est.units_ = R["unit"].values
    return est


#: :func:`orientation` reads at most this many stimuli of a larger set (every ``⌈n / ORIENT_MAX_SAMPLES⌉``-th).
ORIENT_MAX_SAMPLES = 20_000


def orientation(est: DirectionFinder, X: Any, *, checked: bool = False) -> np.ndarray:
    """+1/−1 per direction: −1 where the activations of a sign-arbitrary finder have negative skew on ``X``.

    Activations are ``est.transform(X)`` (PCA scores, ICA sources, dictionary codes); the skew's sign is the sign
    of their third central moment over samples (when ``X`` has more than :data:`ORIENT_MAX_SAMPLES`, over every
    ``⌈n / ORIENT_MAX_SAMPLES⌉``-th sample: evenly spaced, and a strided view, so no copy of the samples is made).
    Finders whose sign means something (k-means, NMF, SAE, units, random) get +1 everywhere. ``checked``: ``X`` is
    the array ``est`` was fitted on, already checked by its ``fit`` — its activations are computed without
    ``transform``'s second scan of the values.
    """
    k = est.components_.shape[0]
    if not getattr(est, "sign_arbitrary", False):
        return np.ones(k)
    X = np.asarray(X)
    if X.shape[0] > ORIENT_MAX_SAMPLES:
        X = X[:: -(-X.shape[0] // ORIENT_MAX_SAMPLES)]
    fitted = checked and X.dtype == getattr(est, "fit_dtype_", None) and X.shape[1] == est.n_features_in_
    A = np.asarray(est._transform(X) if fitted else est.transform(X))
    A = A - A.mean(axis=0, dtype=np.float64).astype(A.dtype)
    m3 = np.mean(A * A * A, axis=0, dtype=np.float64)  # the sign of the skew is the sign of the third moment
    return np.where(m3 < 0, -1.0, 1.0)


def _fit_info(est: DirectionFinder) -> dict[str, Any]:
    info: dict[str, Any] = {"n_directions": int(est.components_.shape[0])}
    for name in ("n_dead_", "l0_", "fve_", "n_steps_", "n_epochs_", "scale_", "init_used_", "minibatch_"):
        if hasattr(est, name):
            v = getattr(est, name)
            info[name.rstrip("_")] = v.item() if hasattr(v, "item") else v
    inner = getattr(est, "estimator_", None)
    if inner is not None and hasattr(inner, "n_iter_"):
        info["n_iter"] = int(np.max(inner.n_iter_))
    return info


def find(
    ds: xr.Dataset | xr.DataArray,
    method: str,
    n_directions: int | None = None,
    *,
    seed: int = 0,
    groupby: str | None = "auto",
    **options: Any,
) -> xr.DataArray:
    """Directions in unit space found by ``method``: a ``(direction, unit)`` DataArray with unit-norm rows.

    Klindt et al. 2023 (arXiv:2310.11431): k-means on L2-normalised response vectors, compared with PCA, ICA,
    NMF, a sparse autoencoder, random directions and the units themselves.

    Parameters
    ----------
    ds
        ResponseSet (or its ``responses``); averaged over valid repeats and ``time`` to (stimulus, unit).
    method
        A name in :data:`~.estimators.METHODS`.
    n_directions
        ``None`` = the method's default: the number of units (the SAE: 2× that), capped with a
        :class:`~neurosuper.NeurosuperWarning` at what the set supports (PCA, ICA: min(stimuli, units); k-means:
        the number of stimuli). An explicit number above what the method supports raises.
    seed
        The finder's ``random_state``: same seed, same directions.
    groupby
        ``"auto"`` (default: ``layer``, else ``area``, else the whole set) / ``"layer"`` / ``"area"`` / any unit
        coord: one set of directions per group, each living on its group's units (zero weight elsewhere), with the
        group in a ``group`` coord along ``direction``; ``None``: one set of directions over all units.
    **options
        The finder's parameters (``n_init``, ``init``, ``activation``, ``l1``, ``alpha``, ``backend``, …).

    Returns
    -------
    xarray.DataArray
        ``directions(direction, unit)``: rows = ``components_`` (unit norm). Coords: ``direction`` ids
        (``"<method>/<i>"`` or ``"<method>/<group>/<i>"``), ``method``, ``flipped`` (the sign was flipped so the
        set's activations on it have positive skew — PCA, ICA and sparse coding, whose signs are arbitrary) and
        ``group``; the set's ``unit`` coords. Attrs: ``method``, ``groupby``, ``fit_info`` (JSON: dead latents,
        L0, FVE, iterations, …) and the provenance of :func:`neurosuper._provenance.stamp` (``options``).
    """
    R = averaged(ds, caller=f"find({method!r})")
    coord = group_coord(R, groupby)
    items = [
        (label, _fit_averaged(R if coord is None else R.isel(unit=idx), method, n_directions, seed, options))
        for label, idx in unit_groups(R, coord)
    ]
    unit_pos = {u: i for i, u in enumerate(R["unit"].values.tolist())}
    rows, ids, flips, groups, info = [], [], [], [], {}
    for label, est in items:
        idx = np.array([unit_pos[u] for u in est.units_.tolist()])
        whole = np.array_equal(idx, np.arange(R.sizes["unit"]))
        sign = orientation(est, R.data if whole else R.isel(unit=idx).data, checked=True)
        comp = est.components_ * sign[:, None].astype(est.components_.dtype)
        full = np.zeros((comp.shape[0], R.sizes["unit"]), dtype=comp.dtype)
        full[:, idx] = comp
        rows.append(full)
        prefix = method if label is None else f"{method}/{label}"
        ids += [f"{prefix}/{i}" for i in range(comp.shape[0])]
        flips.append(sign < 0)
        groups += [str(label) if label is not None else ""] * comp.shape[0]
        info[str(label) if label is not None else "all"] = _fit_info(est)
    D = np.concatenate(rows)
    coords: dict[str, Any] = {
        "direction": ids,
        "method": ("direction", [method] * len(ids)),
        "flipped": ("direction", np.concatenate(flips)),
    }
    if coord is not None:
        coords["group"] = ("direction", groups)
    coords.update(unit_coords(R))
    out = xr.DataArray(D, dims=("direction", "unit"), coords=coords, name="directions")
    stamp(
        out,
        analysis="directions.find",
        reference=REFERENCE,
        options={"method": method, "n_directions": n_directions, "seed": seed, "groupby": groupby, **options},
        inputs_from=ds,
    )
    out.attrs.update(
        {
            "method": method,
            "groupby": coord or "none",
            "n_flipped": int(np.concatenate(flips).sum()),
            "fit_info": json.dumps(info, sort_keys=True),
        }
    )
    return out


# ------------------------------------------------------------------------------------------------- project
def _rows(fn: Callable[[np.ndarray], np.ndarray], data: Any, n_out: int) -> Any:
    """Apply ``fn`` (rows (n, n_in) -> (n, n_out)) over the last axis; rows with NaN (missing repeats) stay NaN."""
    if is_dask(data):
        data = data.rechunk({data.ndim - 1: -1})
        probe = np.asarray(fn(np.zeros((1, data.shape[-1]), dtype=data.dtype)))
        return data.map_blocks(lambda b: _rows(fn, b, n_out), dtype=probe.dtype, chunks=data.chunks[:-1] + ((n_out,),))
    data = np.asarray(data)
    flat = data.reshape(-1, data.shape[-1])
    valid = ~np.isnan(flat).any(axis=1)
    if valid.all():
        out = np.asarray(fn(flat))
    else:
        first = np.asarray(fn(flat[valid])) if valid.any() else np.zeros((0, n_out), dtype=data.dtype)
        out = np.full((flat.shape[0], n_out), np.nan, dtype=np.result_type(first.dtype, np.float32))
        out[valid] = first
    return out.reshape(data.shape[:-1] + (n_out,))


def _select_units(resp: xr.DataArray, units: np.ndarray, *, caller: str) -> xr.DataArray:
    have = set(resp["unit"].values.tolist())
    missing = [u for u in units.tolist() if u not in have]
    if missing:
        raise fail(
            f"{caller}: units",
            f"{len(missing)} unit id(s) of the directions missing from the set ({preview(missing)})",
            "every unit the directions were fitted on",
            "project the set the directions were found on (or one with the same unit ids)",
            AnalysisError,
        )
    if np.array_equal(resp["unit"].values, units):
        return resp
    return resp.sel(unit=units)


def _assemble(
    ds: xr.Dataset | None, resp: xr.DataArray, data: Any, ids: list, extra: dict[str, Any], attrs: dict[str, Any]
) -> xr.Dataset:
    dims = resp.dims
    coords = {str(k): v.variable for k, v in resp.coords.items() if "unit" not in v.dims}
    coords["unit"] = ("unit", np.asarray(ids))
    coords.update(extra)
    out = xr.Dataset({"responses": (dims, data)}, coords=coords)
    if ds is not None and "stimuli" in ds.data_vars:
        out["stimuli"] = ds["stimuli"]
    base = (
        dict(ds.attrs)
        if ds is not None
        else {k: v for k, v in resp.attrs.items() if k in ("system", "measure", "source", "format_version")}
    )
    base.setdefault("system", "network")
    base.setdefault("measure", "activation")
    base.setdefault("format_version", 1)
    out.attrs = {**base, **attrs}
    return validate(out)


def project(ds: xr.Dataset | xr.DataArray, directions: Any) -> xr.Dataset:
    """A ResponseSet whose units are the directions (same stimuli, repeats, time bins and ``stimuli``).

    Parameters
    ----------
    ds
        ResponseSet (or its ``responses``) with the units the directions were found on.
    directions
        * an estimator from :func:`fit_directions` (or any fitted finder): its ``transform`` per repeat and
          time bin — ICA sources, dictionary/NMF codes, SAE latents, k-means activations; ``"units"`` is the
          identity (the set itself, unit ids kept);
        * a dict ``{group: estimator}``, each fitted on one group's units (:func:`fit_directions` on
          ``ds.isel(unit=...)``): each group's transform, concatenated along ``unit``, the keys in the set's group
          coord (``layer``, else ``area``, else ``group``);
        * a ``(direction, unit)`` DataArray from :func:`find`: the linear projection Σ_u r_u d_u.
        ``project`` never flips a sign: :func:`find` has already oriented its DataArray; an estimator's
        ``transform`` is taken as is.

    Returns
    -------
    xarray.Dataset
        A valid ResponseSet: ``responses`` (repeat?, stimulus, time?, unit) with ``unit`` = the direction ids,
        a ``method`` coord on ``unit`` (and ``flipped``, and the group coord — ``layer``/``area`` — when the
        directions were grouped); attrs of the input set plus ``directions_method`` and ``directions_by``
        (``"transform"`` or ``"projection"``). Dask-backed sets stay lazy. Missing repeats (NaN) stay NaN.
    """
    caller = "project"
    whole: xr.Dataset | None = None  # the set, when a set (not bare responses) was given
    if isinstance(ds, xr.Dataset):
        whole = validate(ds)
        resp = whole["responses"]
    else:
        resp = responses_of(ds, caller=caller)
    if isinstance(directions, xr.DataArray):
        return _project_linear(whole, resp, directions)
    if isinstance(directions, Mapping):
        if not directions:
            raise fail(
                caller,
                "an empty dict of estimators",
                "{group: fitted estimator}",
                "pass {group: fit_directions(group's units, method)}",
                AnalysisError,
            )
        coord = group_coord(resp, "auto") or "group"
        parts = [_project_estimator(whole, resp, est, (coord, label)) for label, est in directions.items()]
        out = xr.concat(
            parts,
            dim="unit",
            data_vars="minimal",
            coords="minimal",
            compat="override",
            join="override",
            combine_attrs="override",
        )
        return validate(out)
    return _project_estimator(whole, resp, directions, None)


def _project_estimator(
    ds: xr.Dataset | None, resp: xr.DataArray, directions: Any, group: tuple[str, Hashable] | None
) -> xr.Dataset:
    """:func:`project` through a fitted estimator's ``transform``; ``group`` = (coord, label) of its units."""
    caller = "project"
    if isinstance(directions, DirectionFinder):
        directions._check_fitted()
    if not hasattr(directions, "transform") or not hasattr(directions, "components_"):
        raise fail(
            caller,
            f"a {type(directions).__name__}",
            "a fitted finder (fit_directions), a dict of them, or a (direction, unit) DataArray (find)",
            "pass fit_directions(ds, 'kmeans') or find(ds, 'kmeans')",
            AnalysisError,
        )
    est = directions
    units = getattr(est, "units_", None)
    if units is not None:
        resp = _select_units(resp, np.asarray(units), caller=caller)
    elif resp.sizes["unit"] != est.n_features_in_:
        raise fail(
            caller,
            f"a set of {resp.sizes['unit']} units",
            f"{est.n_features_in_} units (as in fit)",
            "project the set the estimator was fitted on",
            AnalysisError,
        )
    resp = resp.transpose(*[d for d in resp.dims if d != "unit"], "unit")
    method = getattr(est, "method", type(est).__name__)
    k = est.components_.shape[0]
    extra: dict[str, Any] = {}
    if method == "units":
        data = resp.data.copy()
        ids = list(resp["unit"].values)
        extra.update({n: v for n, v in unit_coords(resp).items() if n != "unit"})
    else:
        data = _rows(est.transform, resp.data, k)
        prefix = method if group is None else f"{method}/{group[1]}"
        ids = [f"{prefix}/{i}" for i in range(k)]
        if group is not None:
            extra[group[0]] = ("unit", [group[1]] * k)
    extra["method"] = ("unit", [method] * len(ids))
    return _assemble(ds, resp, data, ids, extra, {"directions_method": method, "directions_by": "transform"})


def _project_linear(ds: xr.Dataset | None, resp: xr.DataArray, D: xr.DataArray) -> xr.Dataset:
    caller = "project"
    check_dims(D, ("direction", "unit"), caller=caller, name="directions")
    resp = _select_units(resp, D["unit"].values, caller=caller)
    resp = resp.transpose(*[d for d in resp.dims if d != "unit"], "unit")
    W = np.asarray(D.transpose("direction", "unit").values)
    if not np.isfinite(W).all():
        raise fail(
            caller, "non-finite values in the directions", "finite weights", "recompute them with find()", AnalysisError
        )
    data = resp.data
    W = W.astype(np.result_type(data.dtype, np.float32) if data.dtype.kind == "f" else np.float64, copy=False)
    out = data @ W.T
    ids = [str(i) for i in D["direction"].values]
    extra: dict[str, Any] = {}
    for name in ("method", "flipped"):
        if name in D.coords and D[name].dims == ("direction",):
            extra[name] = ("unit", D[name].values)
    by = D.attrs.get("groupby", "none")
    if "group" in D.coords and by not in ("none", None):
        extra[str(by)] = ("unit", D["group"].values)
    method = D.attrs.get("method", str(extra["method"][1][0]) if "method" in extra else "directions")
    extra.setdefault("method", ("unit", [method] * len(ids)))
    return _assemble(ds, resp, out, ids, extra, {"directions_method": method, "directions_by": "projection"})
