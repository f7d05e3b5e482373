"""The main job, owned by the library: an explicit list of typed steps (one module each: :mod:`.spectrum`,
:mod:`.interpret`, :mod:`.directions`, :mod:`.capacity`, :mod:`.toy`, :mod:`.compare`, and the demo's
:mod:`.data`), run in order by :func:`run`, each leaving a typed :class:`StepResult`.

>>> import neurosuper as ns
>>> result = ns.pipeline.run({"brain": ns.load("session.nc")}, out="session-results")   # doctest: +SKIP
>>> result["spectrum"].summary["brain"]["alpha"], result.headline                        # doctest: +SKIP

:func:`neurosuper.report.report` runs the same steps and renders their results as one HTML page.
"""

from __future__ import annotations

from .core import SETS, Context, Step, StepError, StepFigure, StepResult, notes_of, run_steps, set_noun, step_settings
from .runner import SUMMARY_FILE, SUMMARY_MD, Run, check_settings, check_skip, parse_settings, run
from .steps import ANALYSIS_STEPS, DATA_STEPS, DEMO_STEPS, report_steps

__all__ = [
    "Step",
    "StepResult",
    "StepFigure",
    "StepError",
    "Context",
    "Run",
    "SETS",
    "DATA_STEPS",
    "ANALYSIS_STEPS",
    "DEMO_STEPS",
    "SUMMARY_FILE",
    "SUMMARY_MD",
    "run",
    "run_steps",
    "report_steps",
    "step_settings",
    "set_noun",
    "notes_of",
    "parse_settings",
    "check_settings",
    "check_skip",
]
