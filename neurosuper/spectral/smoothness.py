"""Smoothness bound of a code (Stringer et al. 2019; Marshall & Kirchner 2024) and TwoNN intrinsic dimension.

For stimuli on a d-dimensional manifold, a code whose eigenspectrum decays as n^(−α) can be smooth
(differentiable) only if α > 1 + 2/d; below the bound the code is non-differentiable (fractal).

TwoNN (Facco, d'Errico, Rodriguez & Laio 2017, Sci. Rep. 7:12140): with r₁, r₂ the distances of a point to its
first and second nearest neighbours, μ = r₂/r₁ is Pareto distributed, P(μ) = d μ^(−d−1), so log μ ~ Exp(d).
The maximum-likelihood estimate is unbiased in the form d̂ = (N − 1) / Σ log μ_i, and since d·Σ log μ ~
Gamma(N, 1) its exact confidence interval is [g_(1−c)/2, g_(1+c)/2] / Σ log μ with g the Gamma(N, 1) quantiles.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError, NeurosuperWarning

__all__ = ["smoothness", "intrinsic_dimension"]


def _points(stimuli: Any) -> np.ndarray:
    if isinstance(stimuli, xr.Dataset):
        if "stimuli" not in stimuli:
            raise AnalysisError("intrinsic_dimension: found a set without a 'stimuli' variable; expected the stimuli "
                                "(images or features along 'stimulus'). Fix: pass d= or a set built with stimuli=.")
        stimuli = stimuli["stimuli"]
    x = np.asarray(stimuli.values if isinstance(stimuli, xr.DataArray) else stimuli, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] < 3:
        raise AnalysisError(f"intrinsic_dimension: found stimuli of shape {x.shape}; expected (stimulus, ...) with at "
                            "least 3 stimuli. Fix: pass one row (or image) per stimulus.")
    x = x.reshape(x.shape[0], -1)
    if not np.isfinite(x).all():
        raise AnalysisError("intrinsic_dimension: found non-finite stimulus values; expected finite numbers. "
                            "Fix: drop or impute them.")
    return x


def intrinsic_dimension(stimuli: Any, *, ci: float = 0.95) -> xr.Dataset:
    """TwoNN maximum-likelihood intrinsic dimension of a point cloud (one point per stimulus).

    Parameters
    ----------
    stimuli
        (stimulus, ...) array, DataArray, or a ResponseSet with a ``stimuli`` variable (images are flattened).
    ci
        Level of the exact Gamma confidence interval.

    Returns
    -------
    xarray.Dataset
        ``d`` (the estimate), ``d_se`` (its standard error d̂/√(N−2)), ``d_ci(bound)``; attrs ``n_points``,
        ``n_duplicates`` (points with a zero-distance neighbour, left out with a warning).
    """
    from scipy.stats import gamma
    from sklearn.neighbors import NearestNeighbors

    x = _points(stimuli)
    dist, _ = NearestNeighbors(n_neighbors=3).fit(x).kneighbors(x)
    r1, r2 = dist[:, 1], dist[:, 2]
    ok = r1 > 0
    n_dup = int((~ok).sum())
    if n_dup:
        warnings.warn(f"intrinsic_dimension: left out {n_dup} of {len(x)} stimuli with a duplicate (zero-distance "
                      "neighbour).", NeurosuperWarning, stacklevel=2)
    logmu = np.log(r2[ok] / r1[ok])
    ties = float(np.mean(logmu < 1e-9)) if len(logmu) else 0.0
    if ties > 0.5:
        raise AnalysisError(f"intrinsic_dimension: {ties:.0%} of the stimuli are equidistant from their two nearest "
                            "neighbours (a regular grid); TwoNN expects randomly sampled points. Fix: pass d= "
                            "(e.g. d=1 for evenly spaced angles on a circle).")
    n = len(logmu)
    total = logmu.sum()
    if n < 3 or total <= 0:
        raise AnalysisError(f"intrinsic_dimension: {n} distinct stimuli (sum log μ = {total:.3g}); expected at least 3 "
                            "distinct points. Fix: pass more, distinct stimuli, or give d= directly.")
    d = (n - 1) / total
    lo, hi = gamma.ppf([(1 - ci) / 2, (1 + ci) / 2], a=n) / total
    return xr.Dataset({"d": d, "d_se": d / np.sqrt(max(n - 2, 1)), "d_ci": ("bound", [lo, hi])},
                      coords={"bound": ["lower", "upper"]},
                      attrs={"n_points": n, "n_duplicates": n_dup, "ci": float(ci), "method": "TwoNN MLE",
                             "reference": "Facco et al. 2017 Sci. Rep. 7:12140"})


def smoothness(alpha: Any, *, d: float | None = None, stimuli: Any = None) -> xr.Dataset:
    """The smoothness bound 1 + 2/d and the verdict for an exponent α.

    Parameters
    ----------
    alpha
        A number, a DataArray (any dims, e.g. per layer) or the Dataset of :func:`powerlaw` (its
        ``alpha_ci``, when present, decides whether the verdict is certain).
    d
        Intrinsic dimension of the stimulus set; when ``None``, estimated from ``stimuli`` with TwoNN
        (:func:`intrinsic_dimension`), with its confidence interval.
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
            raise AnalysisError("smoothness: found a Dataset without 'alpha'; expected the result of powerlaw(). "
                                "Fix: smoothness(powerlaw(spectrum), d=...).")
        alpha_ci = alpha.get("alpha_ci")
        alpha = alpha["alpha"]
    a = alpha if isinstance(alpha, xr.DataArray) else xr.DataArray(float(alpha))
    out = xr.Dataset({"alpha": a})
    bound_ci = None
    if d is None:
        if stimuli is None:
            raise AnalysisError("smoothness: found neither d nor stimuli; expected the intrinsic dimension d of the "
                                "stimulus set or the stimuli to estimate it. Fix: smoothness(alpha, d=2) or "
                                "smoothness(alpha, stimuli=ds).")
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
    out.attrs.update({"analysis": "smoothness", "rule": "smooth (differentiable) code requires alpha > 1 + 2/d",
                      "reference": "Stringer et al. 2019 Nature 571:361; Marshall & Kirchner 2024 arXiv:2401.17975"})
    return out
