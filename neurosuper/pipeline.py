"""The main job as an explicit list of steps: ``neurosuper demo`` and ``neurosuper report`` run the same list.

A :class:`Step` names the function that runs it (``"module:function"``, imported when the step runs, so this
module imports no analysis), the data it reads and the data it provides. :func:`run_steps` runs the steps in
the order given and enforces the contract that keeps them independent:

- a step reads only data that exist when it starts (inputs, or what an earlier step *provided*);
- a step never replaces data: :meth:`Context.provide` refuses a name that exists (the NWB step *provides*
  ``brain`` from ``brain_simulated``; it does not overwrite it);
- a step records its headline numbers in ``ctx.summary[step.name]`` and its objects in
  ``ctx.results[step.name]``, which later steps (the report) read.

Step functions take the :class:`Context` and write files with ``ctx.path(name)`` through the atomic writer.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import NeurosuperError

__all__ = ["Step", "Context", "DEMO_STEPS", "run_steps", "StepError"]


class StepError(NeurosuperError, RuntimeError):
    """A step broke the pipeline's contract (read missing data, replaced data) — a bug in the step list."""


@dataclass(frozen=True)
class Step:
    """One step: ``target`` is ``"package.module:function"``; ``reads``/``provides`` name data in the context."""

    name: str
    target: str
    reads: tuple[str, ...] = ("brain", "network")
    provides: tuple[str, ...] = ()
    description: str = ""

    def function(self) -> Callable[[Context], Any]:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


@dataclass
class Context:
    """What steps share: the output folder, the data (read-only once provided), results and the summary."""

    out: Path
    data: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    _data: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self._data = dict(self.data)
        self.data = MappingProxyType(self._data)

    # data -----------------------------------------------------------------------------------------------
    def provide(self, name: str, value: Any) -> None:
        """Add data for later steps; a name that exists is never replaced."""
        if name in self._data:
            raise StepError(f"pipeline: a step tried to replace data {name!r}; steps only add new data "
                            "(give the derived set its own name).")
        self._data[name] = value

    @property
    def brain(self) -> Any:
        return self._data["brain"]

    @property
    def network(self) -> Any:
        return self._data["network"]

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


#: The demo's steps, in order. Every analysis step reads the demo brain (as loaded back from its NWB file)
#: and the demo network; the report (when present) reads every earlier step's results.
DEMO_STEPS: tuple[Step, ...] = (
    Step("data", "neurosuper.cli.demo:data_step", reads=("brain_simulated", "network"),
         description="save the demo brain and network as ResponseSet files"),
    Step("nwb", "neurosuper.cli.nwb:demo", reads=("brain_simulated",), provides=("brain",),
         description="write the demo brain as an NWB file and load it back with load_nwb"),
    Step("spectrum", "neurosuper.cli.spectrum:demo", description="eigenspectra, cvPCA, power law α"),
    Step("interpret", "neurosuper.cli.interpret:demo", description="interpretability index, 2AFC, selectivity"),
)


def run_steps(ctx: Context, steps: Iterable[Step]) -> dict[str, float]:
    """Run ``steps`` in order on ``ctx``; returns the seconds each step took (also in ``ctx.summary``)."""
    timings: dict[str, float] = {}
    for step in steps:
        missing = [name for name in step.reads if name not in ctx.data]
        if missing:
            raise StepError(f"pipeline: step {step.name!r} reads {missing}, which no earlier step provided "
                            f"(available: {sorted(ctx.data)}). Fix: order the steps so a provider runs first.")
        ctx.log(f"- {step.name}")
        fn = step.function()
        t0 = time.perf_counter()
        fn(ctx)
        timings[step.name] = round(time.perf_counter() - t0, 1)
        absent = [name for name in step.provides if name not in ctx.data]
        if absent:
            raise StepError(f"pipeline: step {step.name!r} promised {absent} but did not provide them.")
    ctx.summary["step_seconds"] = timings
    return timings
