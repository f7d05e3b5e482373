"""Feature capacity and the geometry of superposition (``docs/capacity.md``).

Scherlis, Sachan, Jermyn, Benton & Shlegeris 2022 (*Polysemanticity and Capacity in Neural Networks*) and Elhage
et al. 2022 (*Toy Models of Superposition*): the capacity ``C_i`` each feature gets (= Elhage's dimensionality
``D_i``), ``D*``, interference, the block-semi-orthogonal decomposition, and :func:`feature_capacity` — the same
measures on the features a direction finder discovers in a ResponseSet ("how polysemantic is this area / layer").

The function :func:`capacity` lives here as ``neurosuper.capacity.capacity`` (the top-level ``neurosuper.capacity``
is this module).

>>> import neurosuper as ns
>>> ns.capacity.capacity(ns.capacity.polytope("pentagon")).values.round(3)
array([0.4, 0.4, 0.4, 0.4, 0.4])
"""

from .blocks import DEFAULT_BLOCK_TOL, block_structure
from .features import MIN_STIMULI_PER_UNIT, MIN_UNITS_PER_GROUP, feature_capacity, too_little_data
from .geometry import POLYTOPES, polytope
from .measures import DEFAULT_TOL, REFERENCE, D_star, capacity, dimensionality_per_feature, interference, superposition
from .summary import summary

__all__ = [
    "capacity",
    "dimensionality_per_feature",
    "D_star",
    "interference",
    "superposition",
    "block_structure",
    "feature_capacity",
    "summary",
    "polytope",
    "POLYTOPES",
    "REFERENCE",
    "DEFAULT_TOL",
    "DEFAULT_BLOCK_TOL",
    "MIN_UNITS_PER_GROUP",
    "MIN_STIMULI_PER_UNIT",
    "too_little_data",
]
