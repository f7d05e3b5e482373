"""Interpretability of units and directions: the interpretability index, similarity backends, nulls,
in-silico psychophysics, human validation, selectivity and polysemanticity (Klindt et al. 2023; see
``docs/interpret.md``).

>>> import neurosuper as ns
>>> result = ns.interpret.interpretability_index(ds, similarity="auto", k=5, null="random_stimuli")  # doctest: +SKIP
>>> ns.interpret.summary(result, groupby="layer")  # doctest: +SKIP
"""

from ._gabor import gabor_embedding
from .duplicates import DUPLICATE_CHECKS
from .humans import IMI_COLUMNS, read_imi_responses, validate_against_humans
from .index import REFERENCE, group_stats, interpretability_index
from .null import NULLS, z_and_percentile
from .psychophysics import OBSERVERS, psychophysics_2afc
from .selectivity import polysemanticity, selectivity, sparseness
from .similarity import (
    LPIPS,
    SIMILARITIES,
    CallableSimilarity,
    Color,
    Features,
    Gabor,
    Label,
    Pixels,
    Similarity,
    available_similarities,
    register_similarity,
    resolve_similarity,
)
from .summary import summary

__all__ = [
    "interpretability_index",
    "group_stats",
    "summary",
    "psychophysics_2afc",
    "read_imi_responses",
    "validate_against_humans",
    "selectivity",
    "polysemanticity",
    "sparseness",
    "z_and_percentile",
    "gabor_embedding",
    "SIMILARITIES",
    "Similarity",
    "Features",
    "Pixels",
    "Color",
    "Label",
    "Gabor",
    "LPIPS",
    "CallableSimilarity",
    "register_similarity",
    "resolve_similarity",
    "available_similarities",
    "NULLS",
    "OBSERVERS",
    "DUPLICATE_CHECKS",
    "IMI_COLUMNS",
    "REFERENCE",
]
