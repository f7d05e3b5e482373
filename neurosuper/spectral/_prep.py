"""Spectral-only input preparation: the spontaneous-activity axes Stringer et al. remove (shared steps: ``prep``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import AnalysisError
from ..format import validate

__all__ = ["spont_axes", "spont_scale"]


def _spont_samples(spont: xr.Dataset, unit_ids: np.ndarray, caller: str) -> np.ndarray:
    """(sample, unit) float64 values of the spontaneous set for ``unit_ids`` (time bins and repeats are samples).

    Loads the spontaneous set into memory (it is one recording's spontaneous period: far smaller than the
    responses)."""
    spont = validate(spont)
    have = pd.Index(spont["unit"].values)
    missing = [u for u in unit_ids.tolist() if u not in have]
    if missing:
        raise AnalysisError(
            f"{caller}: remove_pcs_of lacks {len(missing)} of the responses' units "
            f"(e.g. {missing[:3]}); expected the same unit ids. Fix: record spontaneous "
            "activity for the same units, or select the shared units first."
        )
    sp = spont["responses"].sel(unit=unit_ids)
    if "time" in sp.dims:
        sp = sp.stack(sample=[d for d in sp.dims if d != "unit"]).transpose("sample", "unit")
    elif "repeat" in sp.dims:
        sp = sp.stack(sample=("repeat", "stimulus")).transpose("sample", "unit")
    x = np.asarray(sp.values, dtype=np.float64)
    return x[~np.isnan(x).any(axis=1)]


def spont_scale(spont: xr.Dataset, unit_ids: np.ndarray, *, caller: str = "eigenspectrum") -> np.ndarray:
    """Per-unit standard deviation (ddof 0) of the spontaneous activity: Stringer et al.'s z-score divisor."""
    x = _spont_samples(spont, unit_ids, caller)
    sd = x.std(axis=0)
    dead = ~(sd > 0)
    if dead.any():
        raise AnalysisError(
            f"{caller}: zscore='spont' found {int(dead.sum())} units with no spontaneous variance "
            f"(e.g. {unit_ids[dead][:3].tolist()}); expected every unit to vary in the spontaneous "
            "set (its SD divides the unit). Fix: drop those units, or zscore=True."
        )
    return sd


def spont_axes(
    spont: xr.Dataset, unit_ids: np.ndarray, *, n_pcs: int, scale: np.ndarray | None, caller: str = "eigenspectrum"
) -> np.ndarray:
    """Top ``n_pcs`` principal axes (unit × n_pcs, orthonormal) of a spontaneous-activity set.

    The spontaneous set's units are matched to ``unit_ids``; its time bins (and repeats) are the samples;
    it is centred per unit and divided by ``scale`` (the responses' z-score factors) when given, so the axes
    live in the same coordinates as the responses they are removed from (Stringer et al. 2019, Methods).
    """
    x = _spont_samples(spont, unit_ids, caller)
    k = min(x.shape) - 1
    if n_pcs < 1 or n_pcs > k:
        raise AnalysisError(
            f"{caller}: n_pcs={n_pcs}; expected 1..{k} (the spontaneous set has {x.shape[0]} "
            f"samples of {x.shape[1]} units). Fix: pass a smaller n_pcs."
        )
    x -= x.mean(axis=0)
    if scale is not None:
        x /= np.where(scale > 0, scale, 1.0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return vt[:n_pcs].T.copy()
