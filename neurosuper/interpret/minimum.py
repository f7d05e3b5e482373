"""The least data an interpretability index worth reporting needs: :data:`MIN_STIMULI_PER_K` stimuli per MEI.

A unit's k maximally exciting stimuli (MEIs) say something only when they are a small part of the stimuli: with 8
stimuli and k = 5, the "most exciting" five are most of the set, every unit's MEIs overlap a random five, and the II
(a mean II of −880 on 8 stimuli, in one report) reads like a finding without being one. The report's interpret step
refuses such a set (:func:`too_few_stimuli`: "not enough data");
:func:`~neurosuper.interpret.interpretability_index` itself still computes it (its permutation p-values stay
valid, only without power).
"""

from __future__ import annotations

from ..errors import NotEnoughData

__all__ = ["MIN_STIMULI_PER_K", "min_stimuli", "too_few_stimuli"]

#: Fewest stimuli per MEI: an II needs at least ``MIN_STIMULI_PER_K · k`` stimuli (40 for the paper's k = 5; the MEIs
#: are then at most the top eighth). Why 8: for units tuned to a 2-d stimulus feature (response = − distance to a
#: preferred point, 30 % noise; 40 units × 10 sets per size), the share of units whose II beats the random-stimulus
#: null (permutation p < 0.05, 1,000 null draws) is 30 % with 8 stimuli (k = 5), 42 % with 10, 60 % with 15, 78 %
#: with 20, 94 % with 30, 97 % with 40 and 98 % with 50 (mean II z-score 1.4, 1.5, 1.9, 2.4, 2.8, 3.1, 3.1;
#: ``benchmarks/bench_minimum_data.py``): from 8 stimuli per MEI a well-tuned unit is found ≥ 95 % of the time, so an
#: II that is not above the null says something about the units.
MIN_STIMULI_PER_K = 8


def min_stimuli(k: int) -> int:
    """The fewest stimuli an II with ``k`` MEIs needs: ``MIN_STIMULI_PER_K · k``."""
    return MIN_STIMULI_PER_K * int(k)


def too_few_stimuli(n_stimuli: int, k: int) -> NotEnoughData | None:
    """Why ``n_stimuli`` stimuli are too few for an II with ``k`` MEIs, as the error to raise or record; None when
    there are enough (:data:`MIN_STIMULI_PER_K` per MEI)."""
    needed = min_stimuli(k)
    if n_stimuli >= needed:
        return None
    fewer_k = n_stimuli // MIN_STIMULI_PER_K
    fix = f"record at least {needed} stimuli" + (
        f", or pass k={fewer_k} (fewer most exciting stimuli per unit; k >= 2)" if fewer_k >= 2 else ""
    )
    return NotEnoughData(
        f"interpretability_index: {n_stimuli} stimuli for k={k} most exciting stimuli per unit; expected at least "
        f"{needed} ({MIN_STIMULI_PER_K} per MEI: with fewer, the 'most exciting' stimuli are a large part of the set "
        f"and a well-tuned unit's II is often indistinguishable from random stimuli). Fix: {fix}.",
        analysis="the interpretability index",
        what=f"stimuli (for k = {k} MEIs per unit)",
        found=int(n_stimuli),
        needed=needed,
        need=f"{MIN_STIMULI_PER_K} stimuli per most exciting stimulus (k)",
    )
