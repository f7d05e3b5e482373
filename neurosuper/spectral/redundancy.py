"""Redundancy and capacity bounds of Marshall & Kirchner 2024 (arXiv 2401.17975; ``PAPERS.md`` §1).

All entropies are in bits (logarithms base 2), except ε of the dropout bound: ε = −ln(1 − 2^(−C)) uses the
natural logarithm, as written in the paper (``PAPERS.md`` §1), while C is in bits (hence 2^(−C)). ε is a
dimensionless fraction of the capacity (e.g. C = 1 bit: ε = ln 2 ≈ 0.693; C = 8 bits: ε ≈ 0.0039), so the base
of its log is part of the bound's definition, not a unit; with log₂ instead, ε would be 1/ln 2 ≈ 1.44 times
larger (C = 1 bit: ε = 1, a vacuous lower bound).

* Entropy bound: m units at precision n bits whose scales fall as σ_i ∝ i^(−α) carry at most
  H(X) ≲ m·n − α·m·log₂(m/e) bits: coordinate i loses α·log₂ i bits against the top one, and
  Σ_i log₂ i = log₂ m! ≈ m log₂(m/e) (Stirling). ``exact=True`` uses log₂ m! itself.
* Sparse inputs (each of n elements zero with probability S, else carrying H_elem bits):
  H(X^S) = −nS log₂S − n(1−S) log₂(1−S) + n(1−S)·H_elem, and the optimal hidden/feature ratio
  m/n = (1−S) + [−S log₂S − (1−S) log₂(1−S)] / H_elem (their account of Elhage et al.'s trend).
* Dropout D bounds the capacity of m units of capacity C bits each:
  (1−ε)(1−D)·C·m ≤ C_dropout ≤ (1−D)·C·m, with ε = −ln(1 − 2^(−C)).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from .._provenance import stamp
from ..errors import AnalysisError

__all__ = ["entropy_bound", "sparse_entropy", "optimal_ratio", "dropout_capacity", "redundancy"]


def _check(name: str, value: ArrayLike, low: float, high: float | None = None, *, open_low: bool = False) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(v) | ((v <= low) if open_low else (v < low))
    if high is not None:
        bad |= v > high
    if bad.any():
        rng = f"{'(' if open_low else '['}{low}, {high if high is not None else '∞'}]"
        raise AnalysisError(f"{name}={value!r}; expected values in {rng}.")
    return v


def _h2(s: np.ndarray) -> np.ndarray:
    """Binary entropy in bits, with 0·log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(s > 0, -s * np.log2(np.where(s > 0, s, 1)), 0.0)
        b = np.where(s < 1, -(1 - s) * np.log2(np.where(s < 1, 1 - s, 1)), 0.0)
    return a + b


def entropy_bound(alpha: ArrayLike, n_units: ArrayLike, precision: ArrayLike, *, exact: bool = False) -> np.ndarray:
    """Upper bound on the entropy (bits) of m = ``n_units`` units at ``precision`` bits with a power law α.

    ``m·n − α·m·log₂(m/e)`` (Stirling form, as in the paper) or ``m·n − α·log₂ m!`` (``exact``). Can be
    negative for steep spectra (the bound is then vacuous: every unit beyond the first few is redundant).
    """
    from scipy.special import gammaln

    a = _check("alpha", alpha, 0.0)
    m = _check("n_units", n_units, 1.0)
    n = _check("precision", precision, 0.0, open_low=True)
    # math.e (== np.e): mypy 2.4 reports np.e as a deleted variable once xarray is analysed
    loss = gammaln(m + 1) / np.log(2) if exact else m * np.log2(m / math.e)
    return m * n - a * loss


def sparse_entropy(sparsity: ArrayLike, n_features: ArrayLike, h_elem: ArrayLike) -> np.ndarray:
    """H(X^S) in bits for ``n_features`` elements, each zero with probability ``sparsity`` (S)."""
    s = _check("sparsity", sparsity, 0.0, 1.0)
    n = _check("n_features", n_features, 0.0)
    h = _check("h_elem", h_elem, 0.0)
    return n * _h2(s) + n * (1 - s) * h


def optimal_ratio(sparsity: ArrayLike, h_elem: ArrayLike) -> np.ndarray:
    """Optimal hidden/feature ratio m/n = (1−S) + h₂(S)/H_elem (bits)."""
    s = _check("sparsity", sparsity, 0.0, 1.0)
    h = _check("h_elem", h_elem, 0.0, open_low=True)
    return (1 - s) + _h2(s) / h


def dropout_capacity(capacity: ArrayLike, n_units: ArrayLike, dropout: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) capacity in bits of ``n_units`` units of ``capacity`` bits each under dropout D.

    ``(1−ε)(1−D)·C·m ≤ C_dropout ≤ (1−D)·C·m`` with ε = −ln(1 − 2^(−C)): the natural log (as in the paper),
    C in bits."""
    c = _check("capacity", capacity, 0.0, open_low=True)
    m = _check("n_units", n_units, 0.0)
    d = _check("dropout", dropout, 0.0, 1.0)
    eps = -np.log(1 - 2.0 ** (-c))
    upper = (1 - d) * c * m
    return (1 - eps) * upper, upper


def redundancy(
    alpha: ArrayLike | xr.DataArray,
    *,
    n_units: int,
    precision: float = 8.0,
    sparsity: float | None = None,
    h_elem: float | None = None,
    dropout: float | None = None,
    exact: bool = False,
) -> xr.Dataset:
    """Marshall & Kirchner's redundancy figures for a code with exponent α, in one Dataset.

    Parameters
    ----------
    alpha
        Power-law exponent(s); a DataArray keeps its dims (e.g. α per layer).
    n_units, precision
        m units at n bits each (channel capacity m·n bits).
    sparsity, h_elem
        Input sparsity S and entropy per non-zero element (bits): adds ``sparse_entropy`` (per feature,
        bits) and ``optimal_ratio`` (m/n).
    dropout
        Dropout probability D: adds ``dropout_lower``/``dropout_upper`` capacity bounds (bits, C = precision).

    Returns
    -------
    xarray.Dataset
        ``entropy_bound`` (bits, clipped at 0), ``capacity`` (m·n bits), ``redundancy`` = 1 − bound/capacity
        and the optional entries above.
    """
    a = alpha if isinstance(alpha, xr.DataArray) else xr.DataArray(np.asarray(alpha, dtype=np.float64))
    bound = xr.apply_ufunc(lambda v: entropy_bound(v, n_units, precision, exact=exact), a)
    cap = float(n_units) * float(precision)
    out = xr.Dataset(
        {"entropy_bound": bound.clip(min=0.0), "capacity": cap, "redundancy": 1 - bound.clip(min=0.0) / cap}
    )
    if sparsity is not None or h_elem is not None:
        if sparsity is None or h_elem is None:
            raise AnalysisError(
                "redundancy: found only one of sparsity and h_elem; expected both. "
                "Fix: redundancy(alpha, n_units=..., sparsity=0.9, h_elem=4.0)."
            )
        out["sparse_entropy"] = float(sparse_entropy(sparsity, 1, h_elem))
        out["optimal_ratio"] = float(optimal_ratio(sparsity, h_elem))
    if dropout is not None:
        lo, hi = dropout_capacity(precision, n_units, dropout)
        out["dropout_lower"], out["dropout_upper"] = float(lo), float(hi)
    out.attrs.update(
        {
            "n_units": int(n_units),
            "precision_bits": float(precision),
            "units": "bits",
            "exact": bool(exact),
            "dropout_epsilon": "-ln(1 - 2^-C): natural log, C in bits",
        }
    )
    return stamp(
        out,
        analysis="redundancy",
        reference="Marshall & Kirchner 2024 arXiv:2401.17975",
        options={
            "n_units": n_units,
            "precision": precision,
            "sparsity": sparsity,
            "h_elem": h_elem,
            "dropout": dropout,
            "exact": exact,
        },
        inputs_from=alpha if isinstance(alpha, xr.DataArray) else None,
    )
