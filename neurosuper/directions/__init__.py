"""Meaningful directions in activation space, for brains and networks alike (Klindt et al. 2023; see
``docs/directions.md``).

Direction finders are scikit-learn estimators registered by name in :data:`METHODS` (``kmeans``, ``pca``,
``ica``, ``nmf``, ``sparse_coding``, ``random``, ``units``, ``sae``); :func:`find` returns their directions as a
``(direction, unit)`` DataArray, :func:`project` turns a set into a ResponseSet whose units are the directions, and
:func:`compare_methods` asks the paper's question — are directions more interpretable than units?

>>> import neurosuper as ns
>>> dirs = ns.directions.find(ds, "kmeans")                         # doctest: +SKIP
>>> as_units = ns.directions.project(ds, dirs)                      # doctest: +SKIP
>>> res = ns.directions.compare_methods(ds, split=0.5)              # doctest: +SKIP
>>> ns.directions.method_stats(res)                               # doctest: +SKIP
"""

from .compare import DEFAULT_METHODS, compare_methods, method_stats, summary, synergy
from .estimators import (
    METHODS,
    MINIBATCH_ABOVE,
    DirectionFinder,
    ICADirections,
    KMeansDirections,
    NMFDirections,
    NotFittedError,
    PCADirections,
    RandomDirections,
    SAEDirections,
    SparseCodingDirections,
    UnitDirections,
    get_method,
    register_method,
)
from .find import REFERENCE, find, fit_directions, orientation, project
from .simulate import feature_recovery, planted_superposition

__all__ = [
    "METHODS",
    "DEFAULT_METHODS",
    "MINIBATCH_ABOVE",
    "REFERENCE",
    "find",
    "fit_directions",
    "project",
    "orientation",
    "compare_methods",
    "method_stats",
    "synergy",
    "summary",
    "planted_superposition",
    "feature_recovery",
    "register_method",
    "get_method",
    "NotFittedError",
    "DirectionFinder",
    "KMeansDirections",
    "PCADirections",
    "ICADirections",
    "NMFDirections",
    "SparseCodingDirections",
    "RandomDirections",
    "UnitDirections",
    "SAEDirections",
]
