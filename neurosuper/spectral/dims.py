"""Dimensionality of a spectrum: participation ratio, entropy effective rank, components for a variance fraction.

All take an eigenspectrum (the Dataset of :func:`eigenspectrum` — its point estimate ``variance`` — or a DataArray
with a ``rank`` dim, e.g. ``spec["variance_boot"]`` for one value per bootstrap replicate) and reduce the ``rank``
dim, keeping every other dim (``boot``, ``layer``...). Spectra are small: everything here is in memory.
Negative values (cross-validated spectra below their noise floor) count as 0; NaN ranks (beyond a group's N)
are ignored.

References: participation ratio PR = (Σλ)² / Σλ² (Gao et al. 2017, bioRxiv 214262; Recanatesi et al. 2019);
effective rank exp(H(p)), p = λ / Σλ (Roy & Vetterli 2007, EUSIPCO).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .._provenance import stamp
from ..errors import AnalysisError
from .fit import point_spectrum

_PR_REF = "Gao et al. 2017 bioRxiv 214262; Recanatesi et al. 2019"
_ER_REF = "Roy & Vetterli 2007 EUSIPCO"

__all__ = ["participation_ratio", "effective_rank", "n_components_for", "dimensionality"]


def _spectrum(spectrum: xr.Dataset | xr.DataArray) -> xr.DataArray:
    if isinstance(spectrum, xr.DataArray) and "boot" in spectrum.dims:
        return spectrum.clip(min=0).fillna(0)
    point, _ = point_spectrum(spectrum)
    return point.clip(min=0).fillna(0)


def _check_total(total: xr.DataArray, name: str) -> None:
    if bool((total <= 0).any()):
        raise AnalysisError(
            f"{name}: found a spectrum with no positive variance; expected at least one "
            "positive eigenvalue. Fix: check the data (all constant?) or use method='pca'."
        )


def participation_ratio(spectrum: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """PR = (Σ_n λ_n)² / Σ_n λ_n², between 1 (one dimension) and N (flat spectrum)."""
    lam = _spectrum(spectrum)
    total = lam.sum("rank")
    _check_total(total, "participation_ratio")
    out = (total**2 / (lam**2).sum("rank")).rename("participation_ratio")
    return stamp(out, analysis="participation_ratio", reference=_PR_REF, inputs_from=spectrum)


def effective_rank(spectrum: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """exp of the Shannon entropy (nats) of the normalised spectrum p_n = λ_n / Σλ (Roy & Vetterli 2007)."""
    lam = _spectrum(spectrum)
    total = lam.sum("rank")
    _check_total(total, "effective_rank")
    p = lam / total
    h = -(xr.where(p > 0, p * np.log(p.where(p > 0, 1.0)), 0.0)).sum("rank")
    return stamp(np.exp(h).rename("effective_rank"), analysis="effective_rank", reference=_ER_REF, inputs_from=spectrum)


def n_components_for(spectrum: xr.Dataset | xr.DataArray, *, fraction: float = 0.9) -> xr.DataArray:
    """The fewest leading components whose variance reaches ``fraction`` of the total (of the positive part)."""
    if not 0 < fraction <= 1:
        raise AnalysisError(f"n_components_for: fraction={fraction!r}; expected 0 < fraction <= 1.")
    lam = _spectrum(spectrum)
    total = lam.sum("rank")
    _check_total(total, "n_components_for")
    frac = lam.cumsum("rank") / total
    n = (frac < fraction - 1e-12).sum("rank") + 1
    out = n.rename("n_components").assign_attrs(fraction=float(fraction))
    return stamp(
        out,
        analysis="n_components_for",
        reference="fraction of total variance",
        options={"fraction": fraction},
        inputs_from=spectrum,
    )


def dimensionality(spectrum: xr.Dataset | xr.DataArray, *, fraction: float = 0.9) -> xr.Dataset:
    """``participation_ratio``, ``effective_rank`` and ``n_components`` (for ``fraction``) in one Dataset."""
    out = xr.Dataset(
        {
            "participation_ratio": participation_ratio(spectrum),
            "effective_rank": effective_rank(spectrum),
            "n_components": n_components_for(spectrum, fraction=fraction),
        },
        attrs={"fraction": float(fraction)},
    )
    return stamp(
        out,
        analysis="dimensionality",
        reference=f"{_PR_REF}; {_ER_REF}",
        options={"fraction": fraction},
        inputs_from=spectrum,
    )
