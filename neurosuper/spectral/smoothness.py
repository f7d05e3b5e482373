"""Smoothness bound of a code (Stringer et al. 2019; Marshall & Kirchner 2024) and TwoNN intrinsic dimension.

For stimuli on a d-dimensional manifold, a code whose eigenspectrum decays as n^(−α) can be smooth
(differentiable) only if α > 1 + 2/d; below the bound the code is non-differentiable (fractal).

TwoNN (Facco, d'Errico, Rodriguez & Laio 2017, Sci. Rep. 7:12140): with r₁, r₂ the distances of a point to its
first and second nearest neighbours, μ = r₂/r₁ is Pareto distributed, P(μ) = d μ^(−d−1), so log μ ~ Exp(d).
The maximum-likelihood estimate is unbiased in the form d̂ = (N − 1) / Σ log μ_i.

Its interval. If the N values log μ_i were independent, d·Σ log μ ~ Gamma(N, 1) would give an exact interval
[g_(1−c)/2, g_(1+c)/2] / Σ log μ (``ci_method="gamma"``). They are not: neighbouring points share neighbours, and
the estimate's spread is 1.1–1.5× the Gamma model's (measured on flat tori and Gaussian clouds, d = 1–8,
N = 300–3,000), so that interval covers only 0.815–0.885 of the time at the 0.95 level. The default
``ci_method="split"`` measures the spread instead: the points are split at random into two disjoint halves
``n_splits`` times, d̂ is recomputed on each half (neighbours found within the half), and
se² = mean((d̂_A − d̂_B)²) / 4 estimates Var(d̂) at N points (each half has variance ≈ 2·Var(d̂_N)); the interval
is d̂ ± z·se. It covers 0.92–0.94 at the 0.95 level (flat tori and Gaussian clouds, d = 1–4, N = 1,000)
(``benchmarks/RESULTS.md``, "Spectral: interval coverage").
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from ..errors import AnalysisError, NeurosuperWarning

__all__ = ["smoothness", "intrinsic_dimension"]


def _points(stimuli: Any) -> np.ndarray:
    if isinstance(stimuli, xr.Dataset):
        if "stimuli" not in stimuli:
            raise AnalysisError(
                "intrinsic_dimension: found a set without a 'stimuli' variable; expected the stimuli "
                "(images or features along 'stimulus'). Fix: pass d= or a set built with stimuli=."
            )
        stimuli = stimuli["stimuli"]
    x = np.asarray(stimuli.values if isinstance(stimuli, xr.DataArray) else stimuli, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] < 3:
        raise AnalysisError(
            f"intrinsic_dimension: found stimuli of shape {x.shape}; expected (stimulus, ...) with at "
            "least 3 stimuli. Fix: pass one row (or image) per stimulus."
        )
    x = x.reshape(x.shape[0], -1)
    if not np.isfinite(x).all():
        raise AnalysisError(
            "intrinsic_dimension: found non-finite stimulus values; expected finite numbers. Fix: drop or impute them."
        )
    return x


def _logmu(x: np.ndarray) -> tuple[np.ndarray, int]:
    """log(r₂/r₁) of every point without a zero-distance neighbour, and the number left out."""
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=3).fit(x).kneighbors(x)
    r1, r2 = dist[:, 1], dist[:, 2]
    ok = r1 > 0
    return np.log(r2[ok] / r1[ok]), int((~ok).sum())


def _twonn(x: np.ndarray) -> float:
    logmu, _ = _logmu(x)
    total = logmu.sum()
    return (len(logmu) - 1) / total if len(logmu) >= 3 and total > 0 else np.nan


CI_METHODS = ("split", "gamma")
#: Fewest points for the split-half interval (each half needs a few points with two neighbours).
MIN_SPLIT_POINTS = 20


def intrinsic_dimension(
    stimuli: Any, *, ci: float = 0.95, ci_method: str = "split", n_splits: int = 30, seed: int = 0
) -> xr.Dataset:
    """TwoNN maximum-likelihood intrinsic dimension of a point cloud (one point per stimulus).

    Parameters
    ----------
    stimuli
        (stimulus, ...) array, DataArray, or a ResponseSet with a ``stimuli`` variable (images are flattened).
        Loaded into memory (a dask-backed ``stimuli`` variable is computed).
    ci
        Level of the confidence interval.
    ci_method
        ``"split"`` (default): d̂ ± z·se with se from ``n_splits`` random splits into two halves (the spread
        measured on the data; covers 0.92–0.94 at 0.95 on flat tori and Gaussian clouds). ``"gamma"``: the
        model-based Gamma(N, 1) interval, exact only if the log μ_i were independent — they are not, and it
        covers 0.815–0.885 at 0.95 (module docstring). Fewer than 20 points fall back to ``"gamma"`` with a
        warning.
    n_splits, seed
        Number of random half splits and their seed (``"split"`` only).

    Returns
    -------
    xarray.Dataset
        ``d`` (the estimate), ``d_se`` (its standard error: the split-half estimate, or the model's
        d̂/√(N−2) for ``"gamma"``), ``d_ci(bound)``; attrs ``n_points``, ``n_duplicates`` (points with a
        zero-distance neighbour, left out with a warning), ``ci_method``, provenance.
    """
    from scipy.stats import gamma, norm

    from .._validation import check_choice, check_float, check_int

    check_choice("ci_method", ci_method, CI_METHODS, caller="intrinsic_dimension")
    check_float("ci", ci, low=0.0, high=1.0, low_open=True, high_open=True, caller="intrinsic_dimension")
    check_int("n_splits", n_splits, low=2, caller="intrinsic_dimension")
    x = _points(stimuli)
    logmu, n_dup = _logmu(x)
    if n_dup:
        warnings.warn(
            f"intrinsic_dimension: left out {n_dup} of {len(x)} stimuli with a duplicate (zero-distance neighbour).",
            NeurosuperWarning,
            stacklevel=2,
        )
    ties = float(np.mean(logmu < 1e-9)) if len(logmu) else 0.0
    if ties > 0.5:
        raise AnalysisError(
            f"intrinsic_dimension: {ties:.0%} of the stimuli are equidistant from their two nearest "
            "neighbours (a regular grid); TwoNN expects randomly sampled points. Fix: pass d= "
            "(e.g. d=1 for evenly spaced angles on a circle)."
        )
    n = len(logmu)
    total = logmu.sum()
    if n < 3 or total <= 0:
        raise AnalysisError(
            f"intrinsic_dimension: {n} distinct stimuli (sum log μ = {total:.3g}); expected at least 3 "
            "distinct points. Fix: pass more, distinct stimuli, or give d= directly."
        )
    d = (n - 1) / total
    used = ci_method
    if ci_method == "split" and len(x) < MIN_SPLIT_POINTS:
        warnings.warn(
            f"intrinsic_dimension: {len(x)} points are too few for the split-half interval (expected at "
            f"least {MIN_SPLIT_POINTS}); gave the model-based Gamma interval, which is too narrow "
            "(neighbouring points share neighbours).",
            NeurosuperWarning,
            stacklevel=2,
        )
        used = "gamma"
    if used == "gamma":
        lo, hi = gamma.ppf([(1 - ci) / 2, (1 + ci) / 2], a=n) / total
        se = d / np.sqrt(max(n - 2, 1))
    else:
        rng = np.random.default_rng(seed)
        split_diffs = []
        for _ in range(n_splits):
            perm = rng.permutation(len(x))
            half = len(x) // 2
            split_diffs.append(_twonn(x[perm[:half]]) - _twonn(x[perm[half : 2 * half]]))
        diffs = np.asarray(split_diffs)
        diffs = diffs[np.isfinite(diffs)]
        se = float(np.sqrt(np.mean(diffs**2) / 4)) if diffs.size else np.nan
        z = norm.ppf((1 + ci) / 2)
        lo, hi = d - z * se, d + z * se
    out = xr.Dataset(
        {"d": d, "d_se": se, "d_ci": ("bound", [lo, hi])},
        coords={"bound": ["lower", "upper"]},
        attrs={
            "n_points": n,
            "n_duplicates": n_dup,
            "ci": float(ci),
            "method": "TwoNN MLE",
            "ci_method": used,
            "n_splits": int(n_splits) if used == "split" else 0,
        },
    )
    return stamp(
        out,
        analysis="intrinsic_dimension",
        reference="Facco et al. 2017 Sci. Rep. 7:12140",
        options={"ci": ci, "ci_method": ci_method, "n_splits": n_splits, "seed": seed},
        inputs_from=stimuli if isinstance(stimuli, xr.Dataset | xr.DataArray) else None,
    )


def smoothness(alpha: Any, *, d: float | None = None, stimuli: Any = None) -> xr.Dataset:
    """The smoothness bound 1 + 2/d and the verdict for an exponent α.

    Parameters
    ----------
    alpha
        A number, a DataArray (any dims, e.g. per layer) or the Dataset of :func:`powerlaw` (its
        ``alpha_ci``, when present, decides whether the verdict is certain).
    d
        Intrinsic dimension of the stimulus set; when ``None``, estimated from ``stimuli`` with TwoNN
        (:func:`intrinsic_dimension`, its default split-half interval).
    stimuli
        The stimuli (array or a ResponseSet with ``stimuli``), used when ``d`` is not given.

    Returns
    -------
    xarray.Dataset
        ``alpha``, ``d``, ``alpha_bound`` = 1 + 2/d, ``margin`` = α − bound, ``smooth`` (α > bound) and
        ``decided`` (the CIs of α and of the bound do not overlap; True without CIs); ``d_ci`` and
        ``alpha_bound_ci`` (dim ``bound``: lower, upper) when d was estimated.
    """
    alpha_ci = None
    if isinstance(alpha, xr.Dataset):
        if "alpha" not in alpha:
            raise AnalysisError(
                "smoothness: found a Dataset without 'alpha'; expected the result of powerlaw(). "
                "Fix: smoothness(powerlaw(spectrum), d=...)."
            )
        alpha_ci = alpha.get("alpha_ci")
        alpha = alpha["alpha"]
    a = alpha if isinstance(alpha, xr.DataArray) else xr.DataArray(float(alpha))
    out = xr.Dataset({"alpha": a})
    bound_ci = None
    if d is None:
        if stimuli is None:
            raise AnalysisError(
                "smoothness: found neither d nor stimuli; expected the intrinsic dimension d of the "
                "stimulus set or the stimuli to estimate it. Fix: smoothness(alpha, d=2) or "
                "smoothness(alpha, stimuli=ds)."
            )
        est = intrinsic_dimension(stimuli)
        d_val = float(est["d"])
        out["d_ci"] = est["d_ci"]
        bound_ci = 1 + 2 / est["d_ci"].values[::-1]
        out["alpha_bound_ci"] = ("bound", bound_ci)
        out.attrs.update({"d_method": "TwoNN MLE", "n_points": est.attrs["n_points"]})
    else:
        if not np.isfinite(d) or d <= 0:
            raise AnalysisError(f"smoothness: d={d!r}; expected a positive intrinsic dimension.")
        d_val = float(d)
    bound = 1 + 2 / d_val
    out["d"] = d_val
    out["alpha_bound"] = bound
    out["margin"] = a - bound
    out["smooth"] = a > bound
    a_lo = alpha_ci.sel(bound="lower", drop=True) if alpha_ci is not None else a
    a_hi = alpha_ci.sel(bound="upper", drop=True) if alpha_ci is not None else a
    b_lo, b_hi = (bound_ci[0], bound_ci[1]) if bound_ci is not None else (bound, bound)
    out["decided"] = (a_lo > b_hi) | (a_hi < b_lo)
    if "bound" not in out.coords and ("d_ci" in out or alpha_ci is not None):
        out = out.assign_coords(bound=["lower", "upper"])
    out.attrs["rule"] = "smooth (differentiable) code requires alpha > 1 + 2/d"
    return stamp(
        out,
        analysis="smoothness",
        reference="Stringer et al. 2019 Nature 571:361; Marshall & Kirchner 2024 arXiv:2401.17975",
        options={"d": d},
        inputs_from=stimuli if isinstance(stimuli, xr.Dataset) else None,
    )
