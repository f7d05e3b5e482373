"""The main job as an explicit list of steps: ``neurosuper demo`` and ``neurosuper report`` run the same list.

A :class:`Step` names the function that runs it (``"module:function"``, imported when the step runs, so this
module imports no analysis), the data it reads and the data it provides. :func:`run_steps` runs the steps in
the order given and enforces the contract that keeps them independent:

- a step reads only data that exist when it starts (inputs, or what an earlier step *provided*);
- a step never replaces data: :meth:`Context.provide` refuses a name that exists (the NWB step *provides*
  ``brain`` from ``brain_simulated``; it does not overwrite it);
- a step records its headline numbers in ``ctx.summary[step.name]`` and its objects in
  ``ctx.results[step.name]``, which later steps (the report) read.

**The analysed sets.** ``ctx.sets`` is an ordered ``{label: ResponseSet}`` of the sets the analyses run on:
``{"brain": …, "network": …}`` in the demo, ``{"brain": …}`` for ``neurosuper report session.nwb``, or two
labels taken from the file names when a report compares two sets of the same system. A step should loop over
``ctx.sets.items()`` (and use the label in its file names and summary keys) rather than assume both a brain and
a network exist; ``ctx.brain`` / ``ctx.network`` still work (for a pair of sets that are not a brain and a
network they are the first and the second set). A step that needs two sets (the comparison) says so with
``min_sets=2`` and is skipped, with the reason recorded, when it is given one.

**Reduced settings.** Where a step would be slow at full size it runs with documented reduced settings: its
module's ``DEMO_SETTINGS`` (plus the names in ``SETTINGS_ALLOWED``), which :func:`step_settings` merges with the
caller's overrides in ``ctx.settings[step.name]`` — refusing a name the step does not read — and ``Step.reduced``
(the same in words). The step records the settings as run under ``ctx.summary[step.name]["settings"]``; the
report states them and the sentence.

**Skipping.** A step whose module is absent (an analysis not in this version, or an optional dependency not
installed) or that defines no such function is skipped, with the reason recorded in ``ctx.skipped`` and in
``ctx.summary["steps"]``; the demo never breaks on it. With ``errors="record"`` (the report on a user's data) a
step that raises a :class:`~neurosuper.errors.NeurosuperError` (the data do not suit that analysis) is recorded
as failed with the message, and the remaining steps run. A step that catches such errors per set (so one set
cannot stop the others) and records them as ``summary[step][label]["error"|"skipped"]`` is recorded as failed
when that happened for every set.

Step functions take the :class:`Context` and write files with ``ctx.path(name)`` through the atomic writer.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import AnalysisError, NeurosuperError, fail

__all__ = [
    "Step",
    "Context",
    "DEMO_STEPS",
    "DATA_STEPS",
    "SETS",
    "run_steps",
    "report_steps",
    "StepError",
    "set_noun",
    "step_settings",
]

#: In ``Step.reads``: every analysed set (``ctx.set_names``).
SETS = "*sets*"


class StepError(NeurosuperError, RuntimeError):
    """A step broke the pipeline's contract (read missing data, replaced data) — a bug in the step list."""


@dataclass(frozen=True)
class Step:
    """One step: ``target`` is ``"package.module:function"`` (imported when the step runs) or a function of the
    context; ``reads``/``provides`` name data in the context (:data:`SETS`: every analysed set).

    ``min_sets`` is how many analysed sets the step needs (2 for the comparison); ``reduced`` says in words the
    reduced settings the step runs with (its module's ``DEMO_SETTINGS``, see :func:`step_settings`); ``data`` marks a
    step that builds the demo's data (the report of a user's files runs every step but those).
    """

    name: str
    target: str | Callable[[Context], Any]
    reads: tuple[str, ...] = (SETS,)
    provides: tuple[str, ...] = ()
    description: str = ""
    min_sets: int = 1
    reduced: str = ""
    data: bool = False
    title: str = ""

    def function(self) -> Callable[[Context], Any]:
        if callable(self.target):
            return self.target
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def settings_keys(self) -> set[str] | None:
        """The settings the step reads: the keys of its module's ``DEMO_SETTINGS`` and ``SETTINGS_ALLOWED`` (None
        when the step is a function, or its module is absent or declares neither)."""
        if callable(self.target) or self.unavailable():
            return None
        mod = importlib.import_module(self.target.partition(":")[0])
        keys = set(getattr(mod, "DEMO_SETTINGS", {})) | set(getattr(mod, "SETTINGS_ALLOWED", ()))
        return keys or None

    def unavailable(self) -> str | None:
        """Why the step cannot run here (its module absent, a dependency not installed, no such function), or None."""
        if callable(self.target):
            return None
        module, _, attr = self.target.partition(":")
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return f"module {module} is not part of this version of neurosuper"
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            return f"{module} needs {err.name!r}, which is not installed"
        if not callable(getattr(mod, attr, None)):
            return f"{module} defines no {attr}() step"
        return None


def step_settings(
    ctx: Context, name: str, defaults: Mapping[str, Any], *, allowed: Iterable[str] = ()
) -> dict[str, Any]:
    """A step's settings: ``defaults`` (its module's ``DEMO_SETTINGS``) with ``ctx.settings[name]`` over them. A name
    in neither ``defaults`` nor ``allowed`` raises — a misspelt setting must not be ignored in silence."""
    given = dict(ctx.settings.get(name) or {})
    known = set(defaults) | set(allowed)
    unknown = sorted(set(given) - known)
    if unknown:
        raise fail(
            f"{name} step: settings",
            ", ".join(map(repr, unknown)),
            f"names among {', '.join(sorted(known))}",
            f"rename or drop them (ctx.settings[{name!r}], --set {name}.KEY=VALUE)",
            AnalysisError,
        )
    return {**defaults, **given}


def set_noun(label: str, *, demo: bool = False) -> str:
    """How a sentence names an analysed set: "the demo brain" (``demo``), "the network", "set 'session2'"."""
    if label in ("brain", "network"):
        return f"the demo {label}" if demo else f"the {label}"
    return f"set {label!r}"


@dataclass
class Context:
    """What steps share: the output folder, the data (read-only once provided), results and the summary.

    ``set_names`` are the data names of the analysed sets, in order (:attr:`sets`). ``demo`` says the sets are
    the package's demo data: sentences then call them "the demo brain"/"the demo network" (:meth:`noun`); a
    report on a user's files says "the brain", "set 'session2'".
    """

    out: Path
    data: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    set_names: tuple[str, ...] = ("brain", "network")
    demo: bool = False
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    _data: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self._data = dict(self.data)
        self.data = MappingProxyType(self._data)
        self.set_names = tuple(self.set_names)

    # data -----------------------------------------------------------------------------------------------
    def provide(self, name: str, value: Any) -> None:
        """Add data for later steps; a name that exists is never replaced."""
        if name in self._data:
            raise StepError(
                f"pipeline: a step tried to replace data {name!r}; steps only add new data "
                "(give the derived set its own name)."
            )
        self._data[name] = value

    @property
    def sets(self) -> dict[str, Any]:
        """``{label: ResponseSet}`` of the analysed sets that exist now, in order."""
        return {
            name: self._data[name] for name in self.set_names if name in self._data and self._data[name] is not None
        }

    def noun(self, label: str) -> str:
        """How a sentence or a figure title names the analysed set ``label`` (:func:`set_noun`)."""
        return set_noun(label, demo=self.demo)

    @property
    def brain(self) -> Any:
        """The set named ``brain``; when no set has that name, the first analysed set."""
        if "brain" in self.set_names or "brain" in self._data:
            return self._data["brain"]
        sets = list(self.sets.values())
        if not sets:
            raise StepError("pipeline: a step read the brain set, but no set is being analysed.")
        return sets[0]

    @property
    def network(self) -> Any:
        """The set named ``network``; when no set has that name, the second analysed set."""
        if "network" in self.set_names or "network" in self._data:
            return self._data["network"]
        sets = list(self.sets.values())
        if len(sets) < 2:
            raise StepError(
                "pipeline: a step read a second set (ctx.network), but only one set is being analysed; "
                "loop over ctx.sets, or declare min_sets=2."
            )
        return sets[1]

    # files ----------------------------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        return self.out / name

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``obj`` as JSON, atomically, to ``out/name``."""
        from ._atomic import write_json

        return write_json(self.path(name), obj, overwrite=True)

    def log(self, message: str) -> None:
        if self.progress:
            print(message, file=sys.stderr)


#: The steps that build the demo's data (run by ``neurosuper demo`` only).
DATA_STEPS: tuple[Step, ...] = (
    Step(
        "data",
        "neurosuper.cli.demo:data_step",
        reads=("brain_simulated", "network"),
        data=True,
        title="Data",
        description="save the demo brain and network as ResponseSet files",
    ),
    Step(
        "nwb",
        "neurosuper.cli.nwb:demo",
        reads=("brain_simulated",),
        provides=("brain",),
        data=True,
        title="NWB round trip",
        description="write the demo brain as an NWB file and load it back with load_nwb",
    ),
)

#: The demo's steps, in order: the data steps, every analysis on the analysed sets (the demo brain as loaded
#: back from its NWB file, and the demo network), and the report, which reads every earlier step's results.
#: ``neurosuper report`` runs the same list without the data steps (:func:`report_steps`).
DEMO_STEPS: tuple[Step, ...] = DATA_STEPS + (
    Step(
        "spectrum",
        "neurosuper.cli.spectrum:demo",
        title="Spectra",
        description="covariance eigenspectra (cvPCA when the set has two repeats), power-law exponent α with a "
        "bootstrap CI, participation ratio; per layer/area when the set has them",
        reduced="the bootstrap CI of α uses 20 resamples of the stimuli (the "
        "`neurosuper spectrum` command's default is 50)",
    ),
    Step(
        "interpret",
        "neurosuper.cli.interpret:demo",
        title="Interpretability",
        description="interpretability index of every unit against a random-stimulus null, in-silico 2AFC "
        "psychophysics, lifetime sparseness; MEI grids",
    ),
    Step(
        "directions",
        "neurosuper.cli.directions:demo",
        title="Directions",
        description="direction finders (k-means, ICA, PCA, NMF, sparse coding, SAE, random) against the units: "
        "cross-validated interpretability of each method's directions",
        reduced="the methods are compared on at most 128 units per set (evenly spaced over the units, so every "
        "layer or area keeps units), the sparse autoencoder trained for 1,000 steps, k-means with 3 "
        "starts, NMF for at most 200 and sparse coding for 5 iterations (the settings as run are listed "
        "with the results; `neurosuper directions` runs every unit with the methods' defaults)",
    ),
    Step(
        "capacity",
        "neurosuper.cli.capacity:demo",
        title="Capacity",
        description="feature capacity of the features a direction finder discovers (how polysemantic the "
        "population is)",
        reduced="sparse coding on a subset of each set (at most 32 units, split across layers or areas, and "
        "500 stimuli; a dictionary twice the subset's size, 3 iterations; the settings as run are listed "
        "with the results)",
    ),
    Step(
        "toy",
        "neurosuper.cli.toy:demo",
        reads=(),
        min_sets=0,
        title="Toy model",
        description="a toy model of superposition (Elhage et al. 2022): 5 features in 2 dimensions form a pentagon",
        reduced="a short training run: 1,500 steps of 4 seeds at learning rate 0.01 (the paper: 10,000 steps at "
        "0.001); the settings as run are listed with the results",
    ),
    Step(
        "compare",
        "neurosuper.cli.compare:demo",
        min_sets=2,
        title="Comparison",
        description="the two sets against each other: RSA with noise ceiling, CKA, Procrustes, predictivity, "
        "layer-to-area profile",
        reduced="RDMs and the layer profile on every 10th stimulus, with 100 bootstrap resamples (the stimuli "
        "used are listed with the results)",
    ),
    Step(
        "report",
        "neurosuper.report:report_step",
        reads=(),
        title="Report",
        description="one self-contained HTML file (report.html) of every step's results",
    ),
)


def report_steps(steps: Iterable[Step] | None = None) -> tuple[Step, ...]:
    """The steps ``neurosuper report`` runs on a user's sets: ``steps`` (default :data:`DEMO_STEPS`) without the
    demo's data steps."""
    return tuple(s for s in (DEMO_STEPS if steps is None else steps) if not s.data)


def _missing(ctx: Context, step: Step) -> list[str]:
    names: list[str] = []
    for name in step.reads:
        names.extend(ctx.set_names if name == SETS else (name,))
    return [name for name in names if name not in ctx.data]


def _record(ctx: Context, step: Step, status: str, seconds: float | None = None, reason: str | None = None) -> None:
    entry = {
        "name": step.name,
        "status": status,
        "title": step.title or step.name.capitalize(),
        "description": step.description,
    }
    if step.reduced:
        entry["reduced"] = step.reduced
    if seconds is not None:
        entry["seconds"] = seconds
    if reason:
        entry["reason"] = reason
    ctx.summary.setdefault("steps", []).append(entry)


def _failed_on_every_set(ctx: Context, step: Step) -> str | None:
    """Why a step that ran produced nothing: every analysed set's entry in its summary records an ``error`` or
    ``skipped`` reason (steps catch those per set, so one set cannot stop the others); else None."""
    block = ctx.summary.get(step.name)
    if not isinstance(block, Mapping) or not ctx.sets:
        return None
    reasons = []
    for label in ctx.sets:
        entry = block.get(label)
        if not isinstance(entry, Mapping):
            return None
        reason = entry.get("error") or entry.get("skipped")
        if not isinstance(reason, str):
            return None
        reasons.append(f"{label}: {reason}")
    return "; ".join(reasons)


def run_steps(
    ctx: Context, steps: Iterable[Step], *, errors: str = "raise", skip: Iterable[str] = ()
) -> dict[str, float]:
    """Run ``steps`` in order on ``ctx``; returns the seconds each step took (also in ``ctx.summary``).

    A step that cannot run here (module absent, dependency not installed, no such function, fewer analysed
    sets than it needs) is skipped and recorded (``ctx.skipped``, ``ctx.summary["steps"]``). With
    ``errors="record"``, a step raising a :class:`NeurosuperError` is recorded as failed (``ctx.failed``) and the
    next steps run; with ``errors="raise"`` (the default, as the demo runs) it propagates. Steps named in
    ``skip`` are skipped on request (recorded as such).
    """
    if errors not in ("raise", "record"):
        raise ValueError(f"errors: found {errors!r}; expected 'raise' or 'record'")
    timings: dict[str, float] = ctx.summary.setdefault("step_seconds", {})
    skip = set(skip)
    for step in steps:
        if step.name in skip:
            ctx.skipped[step.name] = "skipped on request"
            _record(ctx, step, "skipped", reason="skipped on request")
            ctx.log(f"- {step.name}: skipped on request")
            continue
        missing = _missing(ctx, step)
        if missing:
            raise StepError(
                f"pipeline: step {step.name!r} reads {missing}, which no earlier step provided "
                f"(available: {sorted(ctx.data)}). Fix: order the steps so a provider runs first."
            )
        reason = step.unavailable()
        if reason is None and len(ctx.sets) < step.min_sets:
            reason = f"needs {step.min_sets} sets; {len(ctx.sets)} given"
        if reason is not None:
            ctx.skipped[step.name] = reason
            _record(ctx, step, "skipped", reason=reason)
            ctx.log(f"- {step.name}: skipped ({reason})")
            continue
        ctx.log(f"- {step.name}")
        fn = step.function()
        t0 = time.perf_counter()
        try:
            fn(ctx)
        except NeurosuperError as err:
            if errors == "raise" or isinstance(err, StepError):
                raise
            seconds = round(time.perf_counter() - t0, 1)
            ctx.failed[step.name] = str(err)
            ctx.summary.setdefault(step.name, {"error": str(err)})
            _record(ctx, step, "failed", seconds, str(err))
            ctx.log(f"  {step.name} failed: {err}")
            continue
        timings[step.name] = round(time.perf_counter() - t0, 1)
        absent = [name for name in step.provides if name not in ctx.data]
        if absent:
            raise StepError(f"pipeline: step {step.name!r} promised {absent} but did not provide them.")
        nothing = _failed_on_every_set(ctx, step) if step.min_sets else None
        if nothing:
            ctx.failed[step.name] = nothing
            _record(ctx, step, "failed", timings[step.name], nothing)
            ctx.log(f"  {step.name} failed on every set: {nothing}")
            continue
        _record(ctx, step, "ran", timings[step.name])
    ctx.summary["step_seconds"] = timings
    return timings
