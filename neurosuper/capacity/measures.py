"""Capacity, dimensionality per feature, D*, interference and the superposition summary of a set of feature vectors.

Every function takes ``W`` as a DataArray whose first dim holds the features (named ``feature`` or
``direction``) and whose second dim is the embedding space (``dim``, ``hidden``, ``unit``, ...), or as an array of
shape (features, dim) — the transpose of PAPERS' "columns of W". Results keep the feature dim and its coords.
Kernels and equations: :mod:`neurosuper.capacity.geometry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from .._validation import check_float
from ..errors import AnalysisError, fail
from . import geometry

__all__ = [
    "capacity",
    "dimensionality_per_feature",
    "D_star",
    "interference",
    "superposition",
    "as_features",
    "REFERENCE",
    "ELHAGE",
    "FEATURE_DIMS",
    "DEFAULT_TOL",
]

REFERENCE = (
    "Scherlis, Sachan, Jermyn, Benton & Shlegeris 2022, Polysemanticity and Capacity in Neural Networks, "
    "arXiv 2210.01892, eq. 3"
)
ELHAGE = "Elhage et al. 2022, Toy Models of Superposition, Transformer Circuits Thread ('Feature dimensionality')"
#: Names the feature dim of a DataArray ``W`` may have.
FEATURE_DIMS = ("feature", "direction")
#: Default tolerance of :func:`superposition`: C ≥ 1 − tol is monosemantic, C ≤ tol ignored, between polysemantic.
DEFAULT_TOL = 0.02


@dataclass
class Features:
    """``W`` as a float64 array (features, dim) with the names and coords to put back on results."""

    values: np.ndarray
    feature_dim: str
    embed_dim: str
    coords: dict[str, Any]
    source: xr.DataArray | None


def as_features(W: Any, *, caller: str = "capacity") -> Features:
    """Check and unpack ``W`` (DataArray (feature|direction, dim) or array (features, dim))."""
    fix = (
        "pass W with shape (features, dim), e.g. W.reshape(n_features, -1), or a DataArray with dims ('feature', 'dim')"
    )
    source = None
    if isinstance(W, xr.Dataset):
        raise fail(
            f"{caller}: W",
            "an xarray.Dataset",
            "a DataArray or array (features, dim)",
            "pass one variable, e.g. result['W']",
            AnalysisError,
        )
    if isinstance(W, xr.DataArray):
        source = W
        if W.ndim != 2:
            raise fail(
                f"{caller}: W",
                f"a {W.ndim}-D DataArray with dims {tuple(map(str, W.dims))}",
                "2 dims: (feature or direction, dim)",
                fix,
                AnalysisError,
            )
        named = [d for d in W.dims if d in FEATURE_DIMS]
        if not named:
            raise fail(
                f"{caller}: W",
                f"dims {tuple(map(str, W.dims))}",
                f"one dim named {' or '.join(map(repr, FEATURE_DIMS))} (the features)",
                f"W.rename({{{str(W.dims[0])!r}: 'feature'}})",
                AnalysisError,
            )
        fdim = str(named[0])
        edim = str(next(d for d in W.dims if d != fdim))
        W = W.transpose(fdim, edim)
        coords = {str(k): v.variable for k, v in W.coords.items() if v.dims == (fdim,)}
        arr = np.asarray(W.values)
    else:
        arr = np.asarray(W)
        fdim, edim, coords = "feature", "dim", {}
        if arr.ndim != 2:
            raise fail(
                f"{caller}: W",
                f"a {arr.ndim}-D array of shape {arr.shape}",
                "a 2-D array (features, dim)",
                fix,
                AnalysisError,
            )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise fail(f"{caller}: W", f"dtype {arr.dtype}", "numbers", "pass a float array", AnalysisError)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise fail(
            f"{caller}: W",
            f"shape {arr.shape}",
            "at least one feature and one dim",
            "pass a non-empty W",
            AnalysisError,
        )
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise fail(
            f"{caller}: W",
            f"{int(bad.sum())} NaN/inf values (in features {rows[:5].tolist()}{' ...' if len(rows) > 5 else ''})",
            "finite numbers",
            "drop or fill those features first, e.g. W = W[np.isfinite(W).all(axis=1)]",
            AnalysisError,
        )
    if fdim not in coords:
        coords[fdim] = np.arange(arr.shape[0])
    return Features(arr, fdim, edim, coords, source)


def _per_feature(f: Features, values: np.ndarray, name: str, attrs: dict[str, Any]) -> xr.DataArray:
    return xr.DataArray(values, dims=(f.feature_dim,), coords=f.coords, name=name, attrs=attrs)


def capacity(W: Any) -> xr.DataArray:
    """Capacity C_i of each feature (Scherlis et al. 2022, eq. 3): ``C_i = (W_i·W_i)² / Σ_j (W_i·W_j)²``.

    Parameters
    ----------
    W
        Feature vectors, features first: a DataArray (``feature`` or ``direction``, ``dim``) or an array
        (features, dim). Any units; capacity is scale-free.

    Returns
    -------
    xarray.DataArray
        ``capacity`` along the feature dim, in [0, 1] (dimensionless; "fraction of a dimension" the feature gets):
        1 monosemantic, 0 < C < 1 polysemantic, 0 ignored (a zero vector). ``Σ_i C_i ≤ dim``.
    """
    f = as_features(W, caller="capacity")
    out = _per_feature(
        f, geometry.capacities(f.values), "capacity", {"long_name": "feature capacity C_i", "units": "dimensions"}
    )
    return stamp(out, analysis="capacity.capacity", reference=REFERENCE, options={}, inputs_from=f.source)


def dimensionality_per_feature(W: Any) -> xr.DataArray:
    """Elhage et al.'s dimensionality per feature ``D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)²`` — the same number as C_i.

    ``W`` as for :func:`capacity`. Returns ``D`` along the feature dim (dimensions per feature, in [0, 1]).
    """
    f = as_features(W, caller="dimensionality_per_feature")
    out = _per_feature(
        f,
        geometry.dimensionalities(f.values),
        "D",
        {"long_name": "dimensionality per feature D_i", "units": "dimensions"},
    )
    return stamp(out, analysis="capacity.dimensionality_per_feature", reference=ELHAGE, inputs_from=f.source)


def D_star(W: Any) -> xr.DataArray:  # noqa: N802 - the paper's name
    """Elhage et al.'s ``D* = m / ‖W‖²_F``: embedding dims per (norm-weighted) feature, a 0-D DataArray.

    ``m`` is the size of ``W``'s embedding dim; ``‖W‖²_F`` counts the features the model learned (a unit-norm
    feature counts 1). ``inf`` when ``W`` is all zero.
    """
    f = as_features(W, caller="D_star")
    out = xr.DataArray(
        geometry.d_star(f.values),
        name="D_star",
        attrs={"long_name": "dimensions per feature D*", "units": "dimensions"},
    )
    return stamp(out, analysis="capacity.D_star", reference=ELHAGE, inputs_from=f.source)


def interference(W: Any) -> xr.DataArray:
    """Elhage et al.'s interference of each feature: ``Σ_{j≠i} (Ŵ_i·W_j)²``.

    ``W`` as for :func:`capacity`. Returns ``interference`` along the feature dim, in squared units of ``W`` (0 for a
    zero W_i).
    """
    f = as_features(W, caller="interference")
    out = _per_feature(
        f,
        geometry.interferences(f.values),
        "interference",
        {"long_name": "interference Σ_{j≠i} (Ŵ_i·W_j)²", "units": "squared units of W"},
    )
    return stamp(out, analysis="capacity.interference", reference=ELHAGE, inputs_from=f.source)


def is_ignored(c: np.ndarray, tol: float) -> np.ndarray:
    """The one definition of an **ignored** feature (Scherlis et al. 2022: C_i = 0), with a tolerance: C_i ≤ tol.

    Used by :func:`superposition`, :func:`~neurosuper.capacity.feature_capacity` and
    :func:`~neurosuper.capacity.block_structure` alike. A small feature is not ignored for being small: one
    orthogonal to the rest has a dimension to itself (C = 1); one overlapping larger features gets C ≈ 0.
    """
    return np.asarray(c) <= tol


def classify(c: np.ndarray, tol: float) -> np.ndarray:
    """``"monosemantic"`` (C ≥ 1 − tol), ``"ignored"`` (C ≤ tol, :func:`is_ignored`) or ``"polysemantic"``."""
    return np.where(c >= 1 - tol, "monosemantic", np.where(is_ignored(c, tol), "ignored", "polysemantic"))


def superposition_of(values: np.ndarray, tol: float) -> dict[str, Any]:
    """The numbers of :func:`superposition` for a (features, dim) array."""
    c = geometry.capacities(values)
    kind = classify(c, tol)
    dim = values.shape[1]
    return {
        "capacity": c,
        "kind": kind,
        "norm": np.sqrt((values * values).sum(axis=1)),
        "capacity_sum": float(c.sum()),
        "n_dims": dim,
        "capacity_fraction": float(c.sum()) / dim,
        "n_features": len(c),
        "n_monosemantic": int((kind == "monosemantic").sum()),
        "n_polysemantic": int((kind == "polysemantic").sum()),
        "n_ignored": int((kind == "ignored").sum()),
        "D_star": geometry.d_star(values),
    }


def superposition(W: Any, *, tol: float = DEFAULT_TOL) -> xr.Dataset:
    """How much superposition ``W`` holds: capacities, Σ C against the dimension, and feature counts by kind.

    Parameters
    ----------
    W
        Feature vectors, features first (see :func:`capacity`).
    tol
        Tolerance in capacity units, in (0, 0.5): a feature is **monosemantic** when ``C ≥ 1 − tol``, **ignored**
        when ``C ≤ tol``, **polysemantic** otherwise (default 0.02).

    Returns
    -------
    xarray.Dataset
        Along the feature dim: ``capacity``, ``kind`` (the class above), ``norm`` (‖W_i‖). Scalars:
        ``capacity_sum`` (Σ C, dimensions), ``n_dims`` (the embedding dim m), ``capacity_fraction`` (Σ C / m; 1
        means block-semi-orthogonal, Scherlis et al. §4), ``n_features``, ``n_monosemantic``, ``n_polysemantic``,
        ``n_ignored`` and ``D_star`` (m / ‖W‖²_F).
    """
    tol = check_float("tol", tol, low=0.0, high=0.5, low_open=True, high_open=True, caller="superposition")
    f = as_features(W, caller="superposition")
    out = superposition_dataset(f, tol)
    return stamp(
        out, analysis="capacity.superposition", reference=REFERENCE, options={"tol": tol}, inputs_from=f.source
    )


def superposition_dataset(f: Features, tol: float) -> xr.Dataset:
    s = superposition_of(f.values, tol)
    per = {k: ((f.feature_dim,), s.pop(k)) for k in ("capacity", "kind", "norm")}
    ds = xr.Dataset({**per, **{k: ((), v) for k, v in s.items()}}, coords=f.coords)
    ds["capacity"].attrs.update(long_name="feature capacity C_i", units="dimensions")
    ds["norm"].attrs.update(long_name="‖W_i‖")
    ds.attrs.update(tol=tol, feature_dim=f.feature_dim, embed_dim=f.embed_dim)
    return ds
