"""Planted superposition: a set with known feature directions, and how many of them a finder recovers.

``planted_superposition`` draws F sparse features in N < F units (Elhage et al. 2022's setting, the known truth of
the tests and benchmarks): feature j has a unit-norm direction d_j (standard normal, normalised; with
``nonnegative=True`` a half-normal vector on a random quarter of the units, so the responses are non-negative and
NMF applies), and is active on a stimulus with probability ``p_active``, with amplitude U[0, 1]. A stimulus's
response is x = Σ_j a_j d_j + σ ε (ε standard normal; with ``nonnegative=True`` the sum is clipped at 0).
Each feature is tied to a stimulus class: the stimulus's ``label`` is its strongest feature (``"none"`` when no
feature is active), so the interpretability index (``similarity="auto"`` → ``label``) scores how many of a
direction's top stimuli share a class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._validation import check_float, check_int
from ..errors import AnalysisError, fail
from ..format import from_array

__all__ = ["planted_superposition", "feature_recovery"]


def planted_superposition(
    *,
    n_features: int = 64,
    n_units: int = 32,
    n_samples: int = 20_000,
    p_active: float = 0.05,
    noise: float = 0.01,
    nonnegative: bool = False,
    dtype: Any = np.float64,
    seed: int = 0,
) -> tuple[xr.Dataset, xr.DataArray]:
    """A ResponseSet with planted sparse features in superposition, and the true directions.

    Returns
    -------
    (xarray.Dataset, xarray.DataArray)
        The set: ``responses(stimulus, unit)`` with a ``label`` coord on ``stimulus`` (the strongest feature,
        ``"f<j>"``); and ``truth(feature, unit)``, the unit-norm feature directions.
    """
    caller = "planted_superposition"
    n_features = check_int("n_features", n_features, low=1, caller=caller)
    n_units = check_int("n_units", n_units, low=1, caller=caller)
    n_samples = check_int("n_samples", n_samples, low=2, caller=caller)
    p_active = check_float("p_active", p_active, low=0, high=1, low_open=True, caller=caller)
    noise = check_float("noise", noise, low=0, caller=caller)
    rng = np.random.default_rng([int(seed), 0x51A7ED])  # its own stream: never the finders' random_state draws
    if nonnegative:
        support = rng.random((n_features, n_units)) < 0.25
        support[np.arange(n_features), rng.integers(0, n_units, n_features)] = True
        D = np.abs(rng.standard_normal((n_features, n_units))) * support
    else:
        D = rng.standard_normal((n_features, n_units))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    A = (rng.random((n_samples, n_features)) < p_active) * rng.random((n_samples, n_features))
    X = A @ D + noise * rng.standard_normal((n_samples, n_units))
    if nonnegative:
        np.maximum(X, 0, out=X)
    names = np.array([f"f{j}" for j in range(n_features)])
    label = np.where(A.max(axis=1) > 0, names[A.argmax(axis=1)], "none")
    ds = from_array(
        X.astype(dtype),
        system="network",
        measure="activation",
        attrs={
            "source": "neurosuper.directions.planted_superposition",
            "planted": (
                f"{n_features} features in {n_units} units, p_active={p_active}, "
                f"amplitude U[0, 1], noise={noise}, nonnegative={bool(nonnegative)}, "
                f"seed={seed}"
            ),
        },
        label=("stimulus", label),
    )
    truth = xr.DataArray(
        D,
        dims=("feature", "unit"),
        coords={"feature": names, "unit": ds["unit"].values},
        name="truth",
        attrs={"description": "unit-norm planted feature directions"},
    )
    return ds, truth


def feature_recovery(directions: Any, truth: xr.DataArray | np.ndarray, *, threshold: float = 0.9) -> xr.Dataset:
    """For each true feature, the best |cosine| with any found direction; recovered = best > ``threshold``.

    Parameters
    ----------
    directions
        (direction, unit) DataArray from :func:`~.find.find` (aligned on ``unit`` ids with ``truth``), or an
        array of the same layout.
    truth
        (feature, unit) true directions.

    Returns
    -------
    xarray.Dataset
        ``best_cosine(feature)``, ``best_direction(feature)`` (index of the matching direction), ``recovered``
        (feature) bool; attrs ``fraction_recovered`` and ``threshold``.
    """
    if isinstance(directions, xr.DataArray) and isinstance(truth, xr.DataArray):
        directions = directions.sel(unit=truth["unit"].values)
    D = np.asarray(directions, dtype=np.float64)
    T = np.asarray(truth, dtype=np.float64)
    if D.ndim != 2 or T.ndim != 2 or D.shape[1] != T.shape[1]:
        raise fail(
            "feature_recovery",
            f"directions of shape {D.shape} and truth of shape {T.shape}",
            "(direction, unit) and (feature, unit) over the same units",
            "pass find(...)'s result and the truth of planted_superposition",
            AnalysisError,
        )
    Dn = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-300)
    Tn = T / np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-300)
    C = np.abs(Tn @ Dn.T)
    best = C.max(axis=1)
    feature = truth["feature"].values if isinstance(truth, xr.DataArray) else np.arange(T.shape[0])
    out = xr.Dataset(
        {
            "best_cosine": ("feature", best),
            "best_direction": ("feature", C.argmax(axis=1)),
            "recovered": ("feature", best > threshold),
        },
        coords={"feature": feature},
    )
    out.attrs = {"fraction_recovered": float(np.mean(best > threshold)), "threshold": float(threshold)}
    return out
