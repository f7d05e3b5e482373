"""One self-contained HTML report of every analysis of a set — or of two sets and their comparison
(``docs/getting-started.md``).

:func:`report` runs the pipeline's steps (:data:`neurosuper.pipeline.DEMO_STEPS` without the demo's data steps —
the same explicit list ``neurosuper demo`` runs) on the set(s) and writes ``out/report.html``: a table of
contents; what each input is and the sha256 of its files; the headline numbers in plain sentences; one section
per analysis that ran (spectra, interpretability, directions, capacity, the toy model, and the comparison when
two sets are given) with its tables, figures, reduced settings and the provenance of its numbers (analysis,
reference, options, input files, versions); the software versions. Figures are embedded as PNG/JPEG data URIs;
the page has no script and a Content-Security-Policy forbidding any request, so opening it contacts no server.
It is written atomically, and kept under :data:`MAX_BYTES` by shrinking the figures when needed.

>>> import neurosuper as ns
>>> ns.report.report(ns.load("session.nc"), out="session-report")      # doctest: +SKIP
PosixPath('.../session-report/report.html')
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import FormatError, NeurosuperWarning, fail
from .text import headline, headline_by_step

__all__ = [
    "report",
    "report_step",
    "write_report",
    "prepare_sets",
    "set_labels",
    "check_skip",
    "parse_settings",
    "check_settings",
    "MAX_BYTES",
    "GROUPBY",
    "headline",
    "headline_by_step",
    "REPORT_FILE",
]

#: The report's size budget (bytes): figures are shrunk until the page fits.
MAX_BYTES = 5_000_000
#: The file the report writes in its output folder.
REPORT_FILE = "report.html"
#: ``groupby=`` choices: ``"auto"`` (layer, else area, as each step decides), ``"layer"``/``"area"`` (that coord
#: only), ``"none"`` (one result per set: layer/area coords are not used).
GROUPBY = ("auto", "layer", "area", "none")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("._") or "set"


def set_labels(sets: Sequence[Any], names: Sequence[str] | None = None) -> list[str]:
    """Labels of the analysed sets, used in file names and tables: the sets' ``system`` ("brain", "network")
    when they differ; otherwise the names given (file stems), else ``system_1``, ``system_2``."""
    systems = [str(ds.attrs.get("system") or "set") for ds in sets]
    if len(set(systems)) == len(systems):
        return systems
    if names is not None:
        safe = [_safe(n) for n in names]
        if len(set(safe)) == len(safe):
            return safe
    return [f"{s}_{i + 1}" for i, s in enumerate(systems)]


def prepare_sets(sets: Sequence[Any], *, groupby: str = "auto") -> list[Any]:
    """The sets as the steps will see them: with ``groupby="none"`` the ``layer``/``area`` unit coords are left
    out; with ``"layer"``/``"area"`` only that one is kept (an error when no set has it). New objects; the
    sets given are not changed."""
    if groupby not in GROUPBY:
        raise fail("groupby", repr(groupby), f"one of {', '.join(GROUPBY)}", "--groupby auto (layer, else area)")
    if groupby == "auto":
        return list(sets)
    if groupby in ("layer", "area") and not any(groupby in ds.coords for ds in sets):
        found = sorted({str(c) for ds in sets for c in ds.coords if ds[c].dims == ("unit",) and c != "unit"})
        raise fail(
            "groupby",
            f"{groupby!r}, a unit coord no set has (unit coords: {found or 'none'})",
            "a unit coord of the set(s)",
            "--groupby auto, or --groupby none",
        )
    drop = {"layer", "area"} - ({groupby} if groupby != "none" else set())
    return [ds.drop_vars([c for c in drop if c in ds.coords]) for ds in sets]


def _check_out(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise fail(
            f"out {str(out)!r}",
            "an existing file",
            "a folder (new, or existing: report.html is replaced)",
            f"choose a folder name, e.g. out={str(out.with_suffix('')) + '-report'!r}",
            FormatError,
        )
    return out


def _check_shared(sets: Sequence[Any], labels: Sequence[str]) -> None:
    if len(sets) < 2:
        return
    ids = [ds["stimulus"].values for ds in sets]
    try:
        from ..compare import shared_ids
    except ImportError:  # the comparison is not part of this version: one shared stimulus is enough
        if not set(ids[0].tolist()) & set(ids[1].tolist()):
            raise fail(
                "report: stimulus ids",
                "no stimulus id shared by the two sets",
                "the same stimuli in both sets (matched on ids)",
                "compute both sets on the same stimuli, or rename the ids so that they match",
            ) from None
        return
    shared_ids(*ids, names=list(labels), caller="report", warn=False)


def parse_settings(items: Sequence[str], steps: Iterable[Any] | None = None) -> dict[str, dict[str, Any]]:
    """``["directions.max_units=512", "interpret.k=3"]`` → ``{"directions": {"max_units": 512}, "interpret":
    {"k": 3}}`` (values read as JSON, else kept as text), for ``report(settings=...)``; an item without
    ``STEP.KEY=VALUE``, or a step or setting the report does not have (:func:`check_settings`), raises."""
    import json

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


def check_settings(settings: Mapping[str, Mapping[str, Any]] | None, steps: Iterable[Any] | None = None) -> None:
    """Raise, before anything is computed, when ``settings`` names a step that is not an analysis step of the
    report or a setting that step does not read (its module's ``DEMO_SETTINGS`` / ``SETTINGS_ALLOWED``): a
    misspelt setting must not be ignored in silence. The fix suggests the closest name."""
    import difflib

    from ..pipeline import report_steps

    by_name = {s.name: s for s in report_steps(steps) if s.name != "report"}
    names = list(by_name)
    for step, values in (settings or {}).items():
        for key, value in dict(values).items():
            if step not in by_name:
                near = difflib.get_close_matches(step, names, n=1, cutoff=0) or ["STEP"]
                raise fail("--set", f"step {step!r}", f"one of {', '.join(names)}", f"--set {near[0]}.{key}={value}")
            known = by_name[step].settings_keys()
            if known is not None and key not in known:
                near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0)
                raise fail(
                    "--set",
                    f"{step}.{key}",
                    f"a setting of the {step} step: {', '.join(sorted(known))}",
                    f"--set {step}.{near[0]}={value}",
                )


def check_skip(skip: Sequence[str], steps: Iterable[Any] | None = None) -> None:
    """Raise when ``skip`` names something that is not an analysis step of the report."""
    from ..pipeline import report_steps

    names = (
        [s.name for s in report_steps() if s.name != "report"]
        if steps is None
        else [s.name for s in steps if s.name != "report"]
    )
    unknown = [name for name in skip if name not in names]
    if unknown:
        raise fail(
            "skip",
            ", ".join(map(repr, unknown)),
            f"names of analysis steps: {', '.join(names)}",
            f"--skip {names[0] if names else 'STEP'} (for example)",
        )


def report(
    ds: Any,
    other: Any = None,
    *,
    out: str | os.PathLike,
    names: Sequence[str] | None = None,
    groupby: str = "auto",
    title: str | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    steps: Iterable[Any] | None = None,
    skip: Sequence[str] = (),
    progress: bool = True,
) -> Path:
    """Run every analysis on ``ds`` (and ``other``, and their comparison) and write ``out/report.html``.

    Parameters
    ----------
    ds, other
        ResponseSets (``other`` optional; with it, both are analysed and compared on their shared stimuli).
    out
        A folder (created if needed); the steps' result files, ``summary.json`` and ``report.html`` go there.
    names
        Names of the sets (e.g. their file names), used as labels when both sets are of the same system.
    groupby
        One of :data:`GROUPBY`.
    title
        The page's title (default: the sets' labels and sources).
    settings
        Per-step overrides of the reduced settings (``{"directions": {"max_units": 512}}``).
    steps
        The step list (default :data:`neurosuper.pipeline.DEMO_STEPS`, without its data steps).
    skip
        Names of steps not to run (listed in the report as skipped on request), e.g. ``("directions",)``.
    progress
        Progress bars and one line per step on stderr.

    Returns
    -------
    pathlib.Path
        ``out/report.html``.

    Bad input (not a folder, no shared stimuli, an unknown ``groupby``) raises before any computing. A step
    that cannot run on these data (a :class:`~neurosuper.errors.NeurosuperError`) is recorded in the report
    with its reason; the other steps still run.
    """
    from ..format import validate
    from ..pipeline import DEMO_STEPS, Context, report_steps, run_steps

    out = _check_out(out)
    step_list = report_steps(DEMO_STEPS if steps is None else steps)
    check_skip(skip, step_list)
    check_settings(settings, step_list)
    sets = [ds] if other is None else [ds, other]
    for s in sets:
        validate(s, check_values=False)
    sets = prepare_sets(sets, groupby=groupby)
    labels = set_labels(sets, names)
    _check_shared(sets, labels)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out=out, data=dict(zip(labels, sets, strict=True)), set_names=tuple(labels), progress=progress)
    ctx.settings["groupby"] = groupby
    for step, values in (settings or {}).items():
        ctx.settings[step] = dict(values)
    default_title = "neurosuper report: " + " and ".join(
        f"{lb} ({Path(str(s.attrs.get('source') or s.attrs.get('model') or '')).name or s.attrs.get('system')})"
        for lb, s in zip(labels, sets, strict=True)
    )
    ctx.settings["report"] = {"title": title or default_title}
    run_steps(ctx, step_list, errors="record", skip=skip)
    ctx.summary["headline"] = headline(ctx.summary, labels=labels)
    ctx.write_json("summary.json", ctx.summary)
    return out / REPORT_FILE


def _step_table() -> dict[str, Any]:
    from ..pipeline import DEMO_STEPS

    return {s.name: s for s in DEMO_STEPS}


def write_report(ctx: Any, *, title: str | None = None, demo: bool | None = None, max_bytes: int = MAX_BYTES) -> Path:
    """Render ``ctx`` (a pipeline context whose steps ran) to ``ctx.out/report.html``, atomically.

    Figures are re-encoded at 1400 px wide at most; when the page would exceed ``max_bytes`` they are shrunk
    (×0.75 each time) until it fits — a :class:`~neurosuper.errors.NeurosuperWarning` if it never does.
    """
    from .._atomic import write_text
    from ._render import collect, embed, render

    options = ctx.settings.get("report", {}) if isinstance(ctx.settings.get("report"), Mapping) else {}
    title = title or options.get("title") or "neurosuper report"
    demo = bool(getattr(ctx, "demo", False)) if demo is None else demo
    steps = _step_table()
    page = collect(ctx, steps, title=title, demo=demo)
    scale, text = 1.0, ""
    for _ in range(8):
        embed(page, scale)
        n_fig = sum(len(s["figures"]) for s in page.sections)
        page.subtitle = (
            f"{len(page.sections)} analyses of {len(page.sets)} set(s), {n_fig} figures · "
            f"neurosuper {page.environment['packages'].get('neurosuper', '?')} · "
            f"{page.environment['created']}"
        )
        text = render(page)
        if len(text.encode("utf-8")) <= max_bytes:
            break
        scale *= 0.75
    else:
        warnings.warn(
            f"report: {len(text.encode()) / 1e6:.1f} MB even with figures shrunk to {scale:.0%}; "
            f"expected at most {max_bytes / 1e6:.1f} MB",
            NeurosuperWarning,
            stacklevel=2,
        )
    path = write_text(ctx.path(REPORT_FILE), text, overwrite=True)
    ctx.summary["report"] = {
        "file": REPORT_FILE,
        "size_MB": round(len(text.encode("utf-8")) / 1e6, 2),
        "figure_scale": round(scale, 3),
        "sections": [s["name"] for s in page.sections],
    }
    return path


def report_step(ctx: Any) -> None:
    """The pipeline's last step: the report of every earlier step (``out/report.html``)."""
    write_report(ctx)
