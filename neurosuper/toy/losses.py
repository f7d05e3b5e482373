"""Losses of a given toy model: the quadratic model's closed form and Monte-Carlo estimates for every model."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._validation import check_choice, check_int
from ..errors import AnalysisError, fail
from . import kernels
from .train import DEFAULT_DENSITY, MODELS, resolve_importance, resolve_sparsity

__all__ = ["quadratic_loss", "monte_carlo_loss"]


def _weights(W: Any, b: Any, model: str, caller: str) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(W.transpose("feature", "hidden").values if isinstance(W, xr.DataArray) else W, dtype=np.float64)
    if w.ndim != 2 or not np.isfinite(w).all():
        raise fail(
            f"{caller}: W",
            f"shape {w.shape}{'' if np.isfinite(w).all() else ' with NaN/inf'}",
            "a finite 2-D array (feature, hidden)",
            "pass result['W'] of toy.train",
            AnalysisError,
        )
    bias = np.asarray(b, dtype=np.float64)
    want = () if model == "quadratic" else (w.shape[0],)
    if bias.shape != want:
        raise fail(
            f"{caller}: b",
            f"shape {bias.shape}",
            f"shape {want} for model={model!r}",
            "pass result['b'] of toy.train",
            AnalysisError,
        )
    return w, bias


def quadratic_loss(W: Any, b: float, importance: Any, *, kurtosis: float) -> float:
    """Closed-form expected squared error of Scherlis et al.'s quadratic model (arXiv 2210.01892, §3)::

        L = (Σ_i (v_i − ‖W_i‖²) − b)² + (K − 1) Σ_i (v_i − ‖W_i‖²)² + 2 Σ_{i≠j} (W_i·W_j)²

    ``W`` (feature, hidden), scalar ``b``, importances ``v`` (a number or one per feature), kurtosis K ≥ 1.
    """
    w, bias = _weights(W, b, "quadratic", "toy.quadratic_loss")
    _, k = resolve_sparsity("quadratic", DEFAULT_DENSITY, kurtosis, caller="toy.quadratic_loss")
    v = resolve_importance(importance, w.shape[0], caller="toy.quadratic_loss")
    return float(kernels.quadratic_loss(w[None], bias[None], v[None], np.array([k]))[0])


def monte_carlo_loss(
    W: Any,
    b: Any,
    importance: Any,
    *,
    model: str = "relu",
    density: float = DEFAULT_DENSITY,
    kurtosis: float | None = None,
    n_samples: int = 1_000_000,
    seed: int = 0,
) -> float:
    """The loss of a toy model estimated on ``n_samples`` inputs drawn from its input distribution.

    ReLU / linear: ``mean_{samples, i} I_i (x_i − x'_i)²`` (Elhage et al.); quadratic: ``mean (y − ŷ)²`` with
    ``y = Σ v_i x_i²`` and sparse ±1/√p inputs of kurtosis K = 1/p — whose expectation is :func:`quadratic_loss`.
    """
    caller = "toy.monte_carlo_loss"
    model = check_choice("model", model, MODELS, caller=caller)
    n_samples = check_int("n_samples", n_samples, low=1, caller=caller)
    seed = check_int("seed", seed, low=0, caller=caller)
    dens, k = resolve_sparsity(model, density, kurtosis, caller=caller)
    w, bias = _weights(W, b, model, caller)
    v = resolve_importance(importance, w.shape[0], caller=caller)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2**21 // w.shape[0])
    total, done = 0.0, 0
    while done < n_samples:
        size = min(chunk, n_samples - done)
        shape = (1, size, w.shape[0])
        if model == "quadratic":
            x = kernels.sample_kurtotic(rng, np.array([k]), shape)
            y = (x[0] * x[0]) @ v
            err = kernels.quadratic_predict(w[None], bias[None], x)[0] - y
            total += float(err @ err)
        else:
            x = kernels.sample_sparse(rng, np.array([dens]), shape)
            total += float(kernels.elhage_loss(w[None], bias[None], x, v[None], relu=model == "relu")[0]) * size
        done += size
    return total / n_samples
