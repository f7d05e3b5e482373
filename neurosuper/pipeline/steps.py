"""The main job as an explicit list of steps: ``neurosuper demo`` runs :data:`DEMO_STEPS`; ``neurosuper report``
runs the same list without the demo's data steps and its toy model (:func:`report_steps`)."""

from __future__ import annotations

from collections.abc import Iterable

from . import capacity, compare, data, directions, interpret, spectrum, toy, truth
from .core import Step

__all__ = ["DATA_STEPS", "ANALYSIS_STEPS", "DEMO_STEPS", "report_steps"]

#: The steps that build the demo's data (run by ``neurosuper demo`` only).
DATA_STEPS: tuple[Step, ...] = (data.DATA, data.NWB)
#: Every analysis, in order: spectra, interpretability, directions, capacity, the toy model, the comparison.
ANALYSIS_STEPS: tuple[Step, ...] = (
    spectrum.STEP,
    interpret.STEP,
    directions.STEP,
    capacity.STEP,
    toy.STEP,
    compare.STEP,
)
#: The demo's steps: the data steps, then every analysis on the analysed sets (the demo brain as loaded back from
#: its NWB file, and the demo network), then the table of planted truth against what was found. The HTML report is
#: rendered from their results afterwards.
DEMO_STEPS: tuple[Step, ...] = DATA_STEPS + ANALYSIS_STEPS + (truth.STEP,)


def report_steps(steps: Iterable[Step] | None = None) -> tuple[Step, ...]:
    """The steps a report on a user's sets runs: ``steps`` (default :data:`DEMO_STEPS`) without the demo's data
    steps and demo-only steps (the toy model)."""
    return tuple(s for s in (DEMO_STEPS if steps is None else steps) if not (s.data or s.demo_only))
