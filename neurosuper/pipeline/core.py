"""The main job's machinery: a :class:`Step` (a function of the :class:`Context` and what it declares), the typed
:class:`StepResult` each step leaves, and :func:`run_steps`, which runs a list of steps in order.

:func:`run_steps` enforces the contract that keeps the steps independent:

- a step reads only data that exist when it starts (inputs, or what an earlier step *provided*);
- a step never replaces data: :meth:`Context.provide` refuses a name that exists (the NWB step *provides*
  ``brain`` from ``brain_simulated``; it does not overwrite it);
- a step records its numbers in ``ctx.summary[step.name]`` (plain JSON-safe values, per analysed set under the
  set's label), its xarray results in ``ctx.results[step.name]`` and its figures with :meth:`Context.figure`;
  :func:`run_steps` turns these into one :class:`StepResult` (status, reason, seconds, numbers, results, figures
  with captions, warnings, headline sentences, provenance) — what the report, ``summary.json`` and Python users read.

**The analysed sets.** ``ctx.sets`` is an ordered ``{label: ResponseSet}``: ``{"brain": …, "network": …}`` in the
demo, ``{"brain": …}`` for a report on one recording, or two labels taken from the file names. A step loops over
``ctx.sets.items()``; a step that needs two sets declares ``min_sets=2`` and is skipped, with the reason, when
given one.

**Settings.** A step's settings have one source: its ``settings`` mapping (the reduced defaults) plus the names in
``allowed``; :func:`step_settings` merges them with ``ctx.settings[step.name]`` and refuses a name the step does
not read. ``Step.reduced`` says the same in words; the step records the settings as run.

**Skipping and failing.** A step whose optional dependency is missing (``Step.requires``) or that needs more sets
than given is *skipped* with the reason. With ``errors="record"`` (a report on a user's data) a step raising a
:class:`~neurosuper.errors.NeurosuperError` is *failed* with the message and the next steps run; a step that
catches such errors per set (``summary[step][label]["error"|"skipped"]``) is *failed* when that happened for
every set, and one that catches its error into its own block (``summary[step]["error"]``, as the comparison does)
is *failed* with that reason.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from .._atomic import DiskFullError
from .._outfolder import OutputFolderError
from .._threads import limits
from ..errors import AnalysisError, NeurosuperError, fail
from .headline import set_noun, step_headline

__all__ = [
    "Step",
    "Context",
    "StepResult",
    "StepFigure",
    "SETS",
    "run_steps",
    "StepError",
    "set_noun",
    "step_settings",
    "notes_of",
    "Limit",
    "check_setting",
]

#: In ``Step.reads``: every analysed set (``ctx.set_names``).
SETS = "*sets*"

Status = Literal["ran", "skipped", "failed"]


class StepError(NeurosuperError, RuntimeError):
    """A step broke the pipeline's contract (read missing data, replaced data) — a bug in the step list."""


@dataclass(frozen=True)
class Limit:
    """What a setting accepts besides its default's type: ``low``/``high`` bounds (inclusive, or exclusive with
    ``low_open``/``high_open``), ``none=True`` when ``None`` (``null`` with ``--set``) is allowed, ``choices`` for
    text. ``names`` (for a setting without a default, in ``Step.allowed``) returns the names a list of names may
    hold (called when checking, so a registry can be imported then): the value is a name or a list of them."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    none: bool = False
    choices: tuple[str, ...] = ()
    names: Callable[[], Iterable[str]] | None = None


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, Mapping):
        return "dict"
    return ""


def check_setting(step: Step, key: str, value: Any) -> Any:
    """``value`` if it suits the setting ``key`` of ``step`` — the type of its default (an int where the default is an
    int, any finite number where it is a float, true/false, text, a mapping) and the step's :class:`Limit` for it —
    else a :class:`~neurosuper.errors.FormatError` naming ``--set STEP.KEY`` with the default as the fix. Settings
    without a default (``Step.allowed``) are checked by the function they are passed to."""
    if key not in step.settings:
        names = step.limits[key].names if key in step.limits else None
        if names is None:
            return value
        known = sorted(names())
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v in known for v in items):
            raise fail(
                f"--set {step.name}.{key}",
                "null" if value is None else repr(value),
                f"a name or a JSON list of names among {', '.join(known)}",
                f"--set '{step.name}.{key}={json.dumps(known[:2], separators=(',', ':'))}'",
            )
        return value
    default, limit = step.settings[key], step.limits.get(key, Limit())
    kind = _kind(default)
    if default is None and (limit.low is not None or limit.high is not None):
        kind = "int"  # a count that is off (None) by default
    lo = "" if limit.low is None else f"{'>' if limit.low_open else '>='} {limit.low:g}"
    hi = "" if limit.high is None else f"{'<' if limit.high_open else '<='} {limit.high:g}"
    span = " and ".join(x for x in (lo, hi) if x)
    expected = {
        "bool": "true or false",
        "int": f"an integer{' ' + span if span else ''}",
        "float": f"a number{' ' + span if span else ''}",
        "str": f"one of {', '.join(limit.choices)}" if limit.choices else "text",
        "dict": 'a JSON object, e.g. {"max_iter": 3}',
    }.get(kind, "a value like the default")
    if limit.none:
        expected += " or null"
    text = default if kind == "str" else json.dumps(default, separators=(",", ":"))
    fix = f"--set {step.name}.{key}={text}" if kind != "dict" else f"--set '{step.name}.{key}={text}'"
    found = "null" if value is None else repr(value) + (" (text)" if isinstance(value, str) and kind != "str" else "")

    def bad() -> NeurosuperError:
        return fail(f"--set {step.name}.{key}", found, expected, fix)

    if value is None:
        if limit.none or default is None:
            return value
        raise bad()
    if kind == "bool" and not isinstance(value, bool):
        raise bad()
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad()
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise bad()
    if kind == "str" and (not isinstance(value, str) or (limit.choices and value not in limit.choices)):
        raise bad()
    if kind == "dict" and not isinstance(value, Mapping):
        raise bad()
    if kind in ("int", "float"):
        if limit.low is not None and (value < limit.low or (limit.low_open and value == limit.low)):
            raise bad()
        if limit.high is not None and (value > limit.high or (limit.high_open and value == limit.high)):
            raise bad()
    return value


@dataclass(frozen=True)
class Step:
    """One step of the main job.

    ``run`` is a function of the :class:`Context`. ``reads``/``provides`` name data in the context (:data:`SETS`:
    every analysed set); ``min_sets`` is how many analysed sets the step needs (2 for the comparison);
    ``settings`` are its (reduced) default settings and ``allowed`` further names it reads (:func:`step_settings`);
    ``limits`` the range of each setting (:class:`Limit`; the type is its default's, :func:`check_setting`);
    ``reduced`` says the reduced settings in words; ``requires`` names optional modules it needs (skipped, with the
    reason, when one is not installed); ``data`` marks a step that builds the demo's data and ``demo_only`` one
    that belongs to the demo (the toy model): a report on a user's files runs neither.
    """

    name: str
    run: Callable[[Context], Any]
    reads: tuple[str, ...] = (SETS,)
    provides: tuple[str, ...] = ()
    title: str = ""
    description: str = ""
    min_sets: int = 1
    reduced: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    allowed: tuple[str, ...] = ()
    limits: Mapping[str, Limit] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    data: bool = False
    demo_only: bool = False

    def settings_keys(self) -> set[str]:
        """The names of the settings the step reads (``settings`` and ``allowed``)."""
        return set(self.settings) | set(self.allowed)

    def unavailable(self) -> str | None:
        """Why the step cannot run here (an optional module it requires is not installed), or None."""
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module)
            except (ModuleNotFoundError, ValueError):
                found = None
            if found is None:
                return f"the {self.name} step needs {module!r}, which is not installed"
        return None


@dataclass
class StepFigure:
    """A figure a step drew: its file name in the output folder, a caption sentence saying what it shows, the
    matplotlib figure and the path it was saved to."""

    name: str
    caption: str
    figure: Any = None
    path: Path | None = None


@dataclass
class StepResult:
    """What one step left: status (``ran``/``skipped``/``failed``, with the reason), its numbers (``summary``:
    JSON-safe, per analysed set under the set's label), xarray ``results``, ``figures`` with captions, ``files``
    written, ``warnings``, ``headline`` sentences, the settings as run, and :attr:`provenance` of its results.

    ``headline`` holds the step's findings and its "not enough data" sentences (a set below the analysis's
    documented minimum); ``found`` says whether it holds a finding about the data: False for a step that failed, was
    skipped, had too little data everywhere, or belongs to the demo only (``demo_only``: the toy model)."""

    name: str
    status: Status
    title: str = ""
    description: str = ""
    reduced: str = ""
    reason: str | None = None
    seconds: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    figures: list[StepFigure] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    data: bool = False
    found: bool = False
    demo_only: bool = False

    @property
    def provenance(self) -> list[tuple[str, dict[str, Any]]]:
        """``(result name, {analysis, reference, options, inputs, neurosuper_version})`` of every result kept."""
        from .._provenance import provenance_of

        out: list[tuple[str, dict[str, Any]]] = []
        for name, res in _flat_results(self.results):
            p = provenance_of(res)
            if p["analysis"] and (name, p) not in out:
                out.append((name, p))
        return out

    def entry(self) -> dict[str, Any]:
        """The step as ``summary.json`` lists it (name, status, title, description, reduced, seconds, reason)."""
        entry: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "title": self.title,
            "description": self.description,
        }
        if self.reduced:
            entry["reduced"] = self.reduced
        if self.seconds is not None:
            entry["seconds"] = self.seconds
        if self.reason:
            entry["reason"] = self.reason
        return entry


def _flat_results(obj: Any, name: str = "") -> Iterator[tuple[str, Any]]:
    """``(name, xarray result)`` of nested dicts/lists of results: ``{"brain": {"spectrum": ds}}`` gives
    ``brain/spectrum``."""
    import xarray as xr

    if isinstance(obj, xr.Dataset | xr.DataArray):
        yield name or str(obj.name or "result"), obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _flat_results(v, f"{name}/{k}" if name else str(k))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _flat_results(v, f"{name}[{i}]")


def notes_of(block: Any, key: str = "") -> Iterator[str]:
    """Warnings and notes a step recorded anywhere in its summary (``warnings``/``notes`` lists, ``error`` and
    ``skipped`` reasons), each prefixed with where it was recorded (the set's label: "brain: ...")."""
    if isinstance(block, Mapping):
        for k, v in block.items():
            if k in ("warnings", "notes") and isinstance(v, list | tuple):
                yield from (f"{key + ': ' if key else ''}{text}" for text in v)
            elif k in ("error", "skipped") and isinstance(v, str):
                yield f"{key + ': ' if key else ''}{v}"
            elif isinstance(v, Mapping):
                yield from notes_of(v, f"{key}.{k}" if key else str(k))


def step_settings(ctx: Context, step: Step | str, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A step's settings: its defaults (``Step.settings``) with ``ctx.settings[name]`` over them. A name the step
    does not read raises — a misspelt setting must not be ignored in silence."""
    if isinstance(step, str):
        name, known, base = step, set(defaults or {}), dict(defaults or {})
    else:
        name, known, base = step.name, step.settings_keys(), dict(step.settings)
    given = dict(ctx.settings.get(name) or {})
    unknown = sorted(set(given) - known)
    if unknown:
        raise fail(
            f"{name} step: settings",
            ", ".join(map(repr, unknown)),
            f"names among {', '.join(sorted(known))}",
            f"rename or drop them (--set {name}.KEY=VALUE; settings={{{name!r}: {{...}}}})",
            AnalysisError,
        )
    return {**base, **given}


@dataclass
class Context:
    """What steps share: the output folder, the data (read-only once provided), each step's numbers, results and
    figures, and the settings.

    ``set_names`` are the data names of the analysed sets, in order (:attr:`sets`). ``demo`` says the sets are
    the package's demo data: sentences then call them "the demo brain"/"the demo network" (:meth:`noun`).
    """

    out: Path
    data: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, list[StepFigure]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    set_names: tuple[str, ...] = ("brain", "network")
    demo: bool = False
    #: Result files (:meth:`save`) keep the absolute paths of their inputs, as
    #: the report and ``summary.json`` do with ``--full-paths``; by default they name them as a shared report does.
    full_paths: bool = False
    current: Step | None = None
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

    def settings_of(self, step: Step | None = None) -> dict[str, Any]:
        """The running step's settings (:func:`step_settings`)."""
        step = step or self.current
        if step is None:
            raise StepError("pipeline: settings_of() called outside a running step; pass the step.")
        return step_settings(self, step)

    # files ----------------------------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """``out/name``, the path of an output about to be written; raises
        :class:`~neurosuper._outfolder.OutputFolderError` at once when something neurosuper did not write is in
        the way (the run stops: see :func:`neurosuper._outfolder.output_folder`)."""
        from .._atomic import guard_of

        path = self.out / name
        guard = guard_of(path)
        if guard is not None:
            guard.check(Path(os.path.abspath(path)))
        return path

    def save(self, result: Any, name: str) -> Path:
        """Save an analysis result atomically as ``out/name`` (:func:`neurosuper.storage.save_result`, replacing this
        run's own earlier file; its inputs named as :attr:`full_paths` says); returns the path."""
        from ..storage import save_result

        return save_result(result, self.path(name), overwrite=True, full_paths=self.full_paths)

    def figure(self, name: str, fig: Any, caption: str, *, dpi: int = 120, step: str | None = None) -> str:
        """Save ``fig`` (a matplotlib figure) atomically as ``out/name`` and record it, with ``caption`` (a
        sentence saying what it shows), among the running step's figures; returns ``name``."""
        from .._atomic import save_figure

        owner = step or (self.current.name if self.current is not None else None)
        if owner is None:
            raise StepError("pipeline: figure() called outside a running step; pass step=.")
        path = save_figure(fig, self.path(name), overwrite=True, dpi=dpi)
        kept = self.figures.setdefault(owner, [])
        kept[:] = [f for f in kept if f.name != name]
        kept.append(StepFigure(name=name, caption=caption, figure=fig, path=path))
        return name

    def write_json(self, name: str, obj: Any) -> Path:
        """Write ``obj`` as JSON, atomically, to ``out/name``."""
        from .._atomic import write_json

        return write_json(self.path(name), obj, overwrite=True)

    def log(self, message: str) -> None:
        if self.progress:
            print(message, file=sys.stderr)


def _missing(ctx: Context, step: Step) -> list[str]:
    names: list[str] = []
    for name in step.reads:
        names.extend(ctx.set_names if name == SETS else (name,))
    return [name for name in names if name not in ctx.data]


def _failed_on_every_set(ctx: Context, step: Step) -> str | None:
    """Why a step that ran produced nothing: its summary block records an ``error`` of its own (a step over
    several sets at once, e.g. the comparison, catches its error into the block), or every analysed set's entry
    records an ``error`` or ``skipped`` reason (steps catch those per set, so one set cannot stop the others);
    else None."""
    block = ctx.summary.get(step.name)
    if isinstance(block, Mapping) and isinstance(block.get("error"), str) and block["error"]:
        return block["error"]
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


def _files_of(block: Any) -> list[str]:
    """The result files a step's summary names (``files`` lists, ``result``/``file`` entries), in order."""
    found: list[str] = []
    if isinstance(block, Mapping):
        for k, v in block.items():
            if k == "files" and isinstance(v, list | tuple):
                found.extend(str(f) for f in v)
            elif k in ("result", "file") and isinstance(v, str):
                found.append(v)
            elif isinstance(v, Mapping):
                found.extend(_files_of(v))
    return list(dict.fromkeys(found))


def _result(ctx: Context, step: Step, status: Status, seconds: float | None, reason: str | None) -> StepResult:
    block = ctx.summary.get(step.name)
    summary = dict(block) if isinstance(block, Mapping) else ({} if block is None else {"value": block})
    settings = summary.get("settings") if isinstance(summary.get("settings"), Mapping) else None
    result = StepResult(
        name=step.name,
        status=status,
        title=step.title or step.name.capitalize(),
        description=step.description,
        reduced=step.reduced,
        reason=reason,
        seconds=seconds,
        summary=summary,
        results=dict(ctx.results.get(step.name) or {}),
        figures=list(ctx.figures.get(step.name, [])),
        files=_files_of(summary),
        warnings=list(dict.fromkeys(notes_of(summary))),
        settings=dict(settings) if settings is not None else dict(ctx.settings.get(step.name) or {}),
        data=step.data,
        demo_only=step.demo_only,
    )
    if status in ("ran", "failed") and not step.data:  # a failed step may say "not enough data"
        result.headline = step_headline(step.name, summary, labels=list(ctx.sets), demo=ctx.demo)
        result.found = (
            status == "ran"
            and not step.demo_only
            and bool(step_headline(step.name, summary, labels=list(ctx.sets), demo=ctx.demo, not_enough=False))
        )
    return result


def run_steps(
    ctx: Context, steps: Iterable[Step], *, errors: str = "raise", skip: Iterable[str] = ()
) -> list[StepResult]:
    """Run ``steps`` in order on ``ctx``; returns one :class:`StepResult` per step.

    A step that cannot run here (an optional module not installed, fewer analysed sets than it needs) is
    skipped with the reason. With ``errors="record"``, a step raising a :class:`NeurosuperError` is recorded as
    failed and the next steps run; with ``errors="raise"`` (the default, as the demo runs) it propagates. Steps
    named in ``skip`` are skipped on request.
    """
    if errors not in ("raise", "record"):
        raise ValueError(f"errors: found {errors!r}; expected 'raise' or 'record'")
    skip = set(skip)
    done: list[StepResult] = []
    for step in steps:
        if step.name in skip:
            done.append(_result(ctx, step, "skipped", None, "skipped on request"))
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
            done.append(_result(ctx, step, "skipped", None, reason))
            ctx.log(f"- {step.name}: skipped ({reason})")
            continue
        ctx.log(f"- {step.name}")
        t0 = time.perf_counter()
        ctx.current = step
        try:
            with limits():  # the thread policy (neurosuper._threads): BLAS/OpenMP/torch threads ≤ the budget
                step.run(ctx)
        except NeurosuperError as err:
            if errors == "raise" or isinstance(err, StepError | OutputFolderError | DiskFullError):
                raise  # a broken step list, a folder in the way or a full disk stop the run
            ctx.summary.setdefault(step.name, {"error": str(err)})
            done.append(_result(ctx, step, "failed", round(time.perf_counter() - t0, 1), str(err)))
            ctx.log(f"  {step.name} failed: {err}")
            continue
        finally:
            ctx.current = None
        seconds = round(time.perf_counter() - t0, 1)
        absent = [name for name in step.provides if name not in ctx.data]
        if absent:
            raise StepError(f"pipeline: step {step.name!r} promised {absent} but did not provide them.")
        nothing = _failed_on_every_set(ctx, step) if step.min_sets else None
        if nothing:
            done.append(_result(ctx, step, "failed", seconds, nothing))
            ctx.log(f"  {step.name} failed: {nothing}")
            continue
        done.append(_result(ctx, step, "ran", seconds, None))
    return done
