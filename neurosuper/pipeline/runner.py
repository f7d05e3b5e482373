"""Running the main job: :func:`run` runs a step list on one set, two sets, or the demo's data and returns a
:class:`Run` — the typed results of every step, the headline and the summary written to ``summary.json`` /
``summary.md`` (all from the same objects)."""

from __future__ import annotations

import difflib
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import fail
from .core import Context, Step, StepResult, check_setting, run_steps
from .steps import report_steps

__all__ = ["Run", "run", "check_settings", "check_skip", "parse_settings", "SUMMARY_FILE", "SUMMARY_MD"]

#: The files every run writes in its output folder.
SUMMARY_FILE = "summary.json"
SUMMARY_MD = "summary.md"


@dataclass
class Run:
    """The result of a run of the main job: each step's :class:`StepResult` (in order), the analysed sets, and
    where the files went. ``run["spectrum"]`` is the spectrum step's result."""

    out: Path
    steps: list[StepResult]
    sets: dict[str, Any]
    demo: bool = False
    title: str = ""
    descriptions: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    report: Path | None = None
    #: Keep absolute paths (of the inputs, the output folder, the user's folders) in ``summary.json`` and the
    #: report; by default they are left out (:meth:`path_prefixes`), so that a report can be shared.
    full_paths: bool = False

    def __getitem__(self, name: str) -> StepResult:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no step {name!r} in this run (steps: {', '.join(s.name for s in self.steps)})")

    def __contains__(self, name: object) -> bool:
        return any(step.name == name for step in self.steps)

    @property
    def labels(self) -> list[str]:
        return list(self.sets)

    @property
    def nothing_found(self) -> str | None:
        """When no analysis step found anything (each failed, was skipped or had too little data; the demo's toy
        model does not count): the sentence that says so plainly, with each step's reason; else None."""
        from .headline import nothing_found

        analyses = [s for s in self.steps if not s.data and s.name != "report"]
        return None if any(s.found for s in analyses) else nothing_found(analyses)

    @property
    def headline(self) -> list[str]:
        """What the run found, in plain sentences (every step's headline, in step order), led by
        :attr:`nothing_found` when no analysis found anything — such a run never reads like a result."""
        lines = [line for step in self.steps for line in step.headline]
        nothing = self.nothing_found
        return [nothing, *lines] if nothing else lines

    def path_prefixes(self) -> list[tuple[str, str]]:
        """The absolute folders left out of ``summary.json`` and the report (none with :attr:`full_paths`): the
        output folder and the input files' folders (their names, or paths relative to ``out``, stay), the user's
        cache, home and temporary folders, the interpreter's (:func:`neurosuper._provenance.path_prefixes`)."""
        from .._provenance import inputs_of, path_prefixes

        if self.full_paths:
            return []
        files = [str(i["path"]) for ds in self.sets.values() for i in inputs_of(ds) if i.get("path")]
        return path_prefixes(out=self.out, files=files)

    @property
    def summary(self) -> dict[str, Any]:
        """Everything ``summary.json`` holds: the sets, the steps (status, seconds, reason), each step's numbers,
        the headline — without absolute paths unless :attr:`full_paths`."""
        from .._provenance import redact_paths

        return redact_paths(self._summary(), self.path_prefixes())

    def _summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.descriptions:
            out["sets"] = dict(self.descriptions)
        out["steps"] = [step.entry() for step in self.steps]
        out["step_seconds"] = {s.name: s.seconds for s in self.steps if s.status == "ran" and s.seconds is not None}
        for step in self.steps:
            if step.summary:
                out[step.name] = step.summary
        out["headline"] = self.headline
        if self.seconds is not None:
            out["seconds"] = self.seconds
        return out

    def write_summary(self) -> Path:
        """Write ``summary.json`` (every number) and ``summary.md`` (the headline), atomically."""
        from .._atomic import write_json, write_text
        from .._provenance import redact_paths

        heading = "neurosuper demo: what it found" if self.demo else f"{self.title or 'neurosuper'}: what it found"
        lines = redact_paths([heading, *self.headline], self.path_prefixes())
        write_text(self.out / SUMMARY_MD, f"# {lines[0]}\n\n" + "".join(f"- {s}\n" for s in lines[1:]), overwrite=True)
        return write_json(self.out / SUMMARY_FILE, self.summary, overwrite=True)


def parse_settings(items: Sequence[str], steps: Iterable[Step] | None = None) -> dict[str, dict[str, Any]]:
    """``["directions.max_units=512", "interpret.k=3"]`` → ``{"directions": {"max_units": 512}, "interpret":
    {"k": 3}}`` (values read as JSON, else kept as text); an item without ``STEP.KEY=VALUE``, or a step or setting
    the steps do not have (:func:`check_settings`), raises."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, eq, text = str(item).partition("=")
        step, dot, key = target.partition(".")
        if not (eq and dot and step and key):
            raise fail("--set", repr(item), "STEP.KEY=VALUE", "--set directions.max_units=512")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out.setdefault(step, {})[key] = value
    check_settings(out, steps)
    return out


def check_settings(settings: Mapping[str, Mapping[str, Any]] | None, steps: Iterable[Step] | None = None) -> None:
    """Raise, before anything is computed, when ``settings`` names a step that is not an analysis step of
    ``steps`` (default: the report's) or a setting that step does not read (the fix suggests the closest name), or a
    value of the wrong type or out of its range (:func:`~neurosuper.pipeline.core.check_setting`)."""
    by_name = {s.name: s for s in (report_steps() if steps is None else steps)}
    names = list(by_name)
    for step, values in (settings or {}).items():
        for key, value in dict(values).items():
            if step not in by_name:
                near = difflib.get_close_matches(step, names, n=1, cutoff=0) or ["STEP"]
                raise fail("--set", f"step {step!r}", f"one of {', '.join(names)}", f"--set {near[0]}.{key}={value}")
            known = by_name[step].settings_keys()
            if key not in known:
                near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0) or ["KEY"]
                raise fail(
                    "--set",
                    f"{step}.{key}",
                    f"a setting of the {step} step: {', '.join(sorted(known)) or 'none'}",
                    f"--set {step}.{near[0]}={value}",
                )
            check_setting(by_name[step], key, value)  # its type and range, before anything is computed


def check_skip(skip: Sequence[str], steps: Iterable[Step] | None = None) -> None:
    """Raise when ``skip`` names something that is not a step of ``steps`` (default: the report's)."""
    names = [s.name for s in (report_steps() if steps is None else steps)]
    unknown = [name for name in skip if name not in names]
    if unknown:
        raise fail(
            "--skip",
            ", ".join(map(repr, unknown)),
            f"names of analysis steps: {', '.join(names)}",
            f"--skip {names[0] if names else 'STEP'} (for example)",
        )


def run(
    data: Mapping[str, Any],
    *,
    out: str | os.PathLike[str],
    set_names: Sequence[str] | None = None,
    steps: Iterable[Step] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    skip: Sequence[str] = (),
    errors: str = "record",
    progress: bool = True,
    demo: bool = False,
    title: str = "",
    descriptions: Mapping[str, str] | None = None,
    overwrite: bool = False,
    full_paths: bool = False,
) -> Run:
    """Run ``steps`` (default: the report's, :func:`~neurosuper.pipeline.report_steps`) on ``data`` and return a
    :class:`Run`; the steps' files go to ``out`` (created if needed). ``summary.json``/``summary.md`` are not
    written here (:meth:`Run.write_summary`).

    ``data`` maps names to ResponseSets (and, for the demo, to the simulated sets its data steps read);
    ``set_names`` are the analysed sets, in order (default: every name in ``data``). ``settings`` override the
    steps' (reduced) settings, checked before anything runs; ``skip`` names steps not to run; with
    ``errors="record"`` a step that cannot run on these data is recorded as failed and the others still run.
    ``full_paths`` keeps absolute input paths in the steps' result files (and :attr:`Run.full_paths` in the summary
    and the report); by default they name their inputs as a shared report does.

    The run owns ``out`` while it runs (:func:`neurosuper._outfolder.output_folder`): a second run into it is
    refused, nothing neurosuper did not write there is replaced, and with ``overwrite`` the previous run's own
    outputs there (listed in ``out/.neurosuper-run.json``, unchanged since) are removed first.
    """
    from .._outfolder import output_folder

    step_list = tuple(report_steps() if steps is None else steps)
    check_skip(skip, step_list)
    check_settings(settings, step_list)
    out_path = Path(out)
    with output_folder(out_path, overwrite=overwrite):
        return _run(
            out_path,
            data,
            set_names,
            step_list,
            settings,
            skip,
            errors,
            progress,
            demo,
            title,
            descriptions,
            full_paths,
        )


def _run(
    out_path: Path,
    data: Mapping[str, Any],
    set_names: Sequence[str] | None,
    step_list: tuple[Step, ...],
    settings: Mapping[str, Mapping[str, Any]] | None,
    skip: Sequence[str],
    errors: str,
    progress: bool,
    demo: bool,
    title: str,
    descriptions: Mapping[str, str] | None,
    full_paths: bool = False,
) -> Run:
    ctx = Context(
        out=out_path,
        data=dict(data),
        set_names=tuple(data if set_names is None else set_names),
        progress=progress,
        demo=demo,
        settings={name: dict(values) for name, values in (settings or {}).items()},
        full_paths=full_paths,
    )
    start = time.perf_counter()
    results = run_steps(ctx, step_list, errors=errors, skip=skip)
    return Run(
        out=out_path,
        steps=results,
        sets=dict(ctx.sets),
        demo=demo,
        title=title,
        descriptions=dict(descriptions or {}),
        seconds=round(time.perf_counter() - start, 1),
        full_paths=full_paths,
    )
