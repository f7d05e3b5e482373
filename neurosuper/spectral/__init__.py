"""Spectral analyses of a population code (``docs/spectral.md``).

Eigenspectra (PCA and Stringer et al.'s cross-validated PCA), the power-law exponent α, dimensionality,
split-half reliability, the smoothness bound α > 1 + 2/d, random projections and trajectory energy, and
Marshall & Kirchner's redundancy bounds. Every function takes a ResponseSet (or a spectrum) and returns an
xarray object stamped with its provenance; ``groupby="layer"``/``"area"``/``"auto"`` runs it per group in one
call; :func:`summary` gives any result's headline numbers as a JSON-safe dict.

>>> import neurosuper as ns
>>> spec = ns.spectral.eigenspectrum(ds)                     # doctest: +SKIP
>>> ns.spectral.powerlaw(spec)["alpha"]                      # doctest: +SKIP
"""

from .dims import dimensionality, effective_rank, n_components_for, participation_ratio
from .eigen import eigenspectrum
from .fit import powerlaw
from .projection import circle_energy, circle_population, random_projection, trajectory_energy
from .redundancy import dropout_capacity, entropy_bound, optimal_ratio, redundancy, sparse_entropy
from .reliability import reliability
from .smoothness import intrinsic_dimension, smoothness
from .summary import combined, summary

__all__ = [
    "eigenspectrum",
    "powerlaw",
    "participation_ratio",
    "effective_rank",
    "n_components_for",
    "dimensionality",
    "reliability",
    "smoothness",
    "intrinsic_dimension",
    "random_projection",
    "trajectory_energy",
    "circle_population",
    "circle_energy",
    "redundancy",
    "entropy_bound",
    "sparse_entropy",
    "optimal_ratio",
    "dropout_capacity",
    "summary",
    "combined",
]
