"""Brains against networks: RDMs, RSA with noise ceilings, CKA, Procrustes, predictivity and layer profiles
(``docs/compare.md``).

Every function matches its inputs on shared stimulus ids (:func:`align`), in any order, and returns xarray.

>>> import neurosuper as ns
>>> prof = ns.compare.profile(network, brain, metric="correlation", method="spearman")  # doctest: +SKIP
>>> ns.compare.summary(prof)["best"]                                                    # doctest: +SKIP
"""

from .align import (
    MAX_COMPARE_STIMULI,
    MIN_SHARED_STIMULI,
    MIN_STIMULI_CI,
    align,
    choose_stimuli,
    shared_ids,
    stimulus_ids,
)
from .cka import CKA_CHANCE_WARN, MAX_GRAM_BYTES, cka, procrustes
from .distances import METRICS
from .inter_animal import INTER_ANIMAL_KINDS, inter_animal
from .predict import ALPHAS, predictivity
from .profile import BEST_STATUSES, CEILINGS, KINDS, overview, profile, side_by_side
from .rdm import MAX_RDM_BYTES, NOISE_METHODS, as_rdm, check_rdm, rdm
from .rsa import compare_rdms, noise_ceiling, spearman_brown
from .rsakernels import METHODS
from .score import score_against
from .summary import summary

__all__ = [
    "align",
    "choose_stimuli",
    "shared_ids",
    "stimulus_ids",
    "rdm",
    "as_rdm",
    "check_rdm",
    "compare_rdms",
    "noise_ceiling",
    "score_against",
    "spearman_brown",
    "cka",
    "procrustes",
    "predictivity",
    "profile",
    "inter_animal",
    "side_by_side",
    "overview",
    "summary",
    "METRICS",
    "METHODS",
    "KINDS",
    "CEILINGS",
    "INTER_ANIMAL_KINDS",
    "NOISE_METHODS",
    "ALPHAS",
    "MIN_SHARED_STIMULI",
    "MIN_STIMULI_CI",
    "MAX_COMPARE_STIMULI",
    "CKA_CHANCE_WARN",
    "BEST_STATUSES",
    "MAX_RDM_BYTES",
    "MAX_GRAM_BYTES",
]
