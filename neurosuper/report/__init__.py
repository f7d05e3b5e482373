"""One self-contained HTML report of every analysis of a set — or of two sets and their comparison
(``docs/getting-started.md``).

:func:`report` runs the pipeline's analysis steps (:func:`neurosuper.pipeline.report_steps` — the list
``neurosuper demo`` runs, without the demo's data steps and toy model) on the set(s) and renders their typed
results (:class:`~neurosuper.pipeline.StepResult`) as ``out/report.html``: a table of contents; what each input is
and the sha256 of its files; the headline in plain sentences; one section per analysis that ran (or failed, saying
why) with its tables, figures and captions, reduced settings and the provenance of its numbers; the software
versions. ``summary.json`` and ``summary.md`` are written from the same objects, and :func:`report` returns them
(a :class:`~neurosuper.pipeline.Run`). Figures are embedded as PNG/JPEG data URIs; the page has no script and a
Content-Security-Policy forbidding any request. It is written atomically, and kept under :data:`MAX_BYTES` by
shrinking the figures when needed. :func:`demo` does the same on the package's demo data.

>>> import neurosuper as ns
>>> run = ns.report.report(ns.load("session.nc"), out="session-report")      # doctest: +SKIP
>>> run.report, run.headline, run["spectrum"].summary                          # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import FormatError, NeurosuperWarning, fail
from ..pipeline import DEMO_STEPS, Run, Step, StepResult, report_steps
from ..pipeline import run as run_pipeline
from ..pipeline.runner import check_settings

__all__ = [
    "report",
    "demo",
    "write_report",
    "check_out",
    "prepare_sets",
    "set_labels",
    "MAX_BYTES",
    "GROUPBY",
    "REPORT_FILE",
]

#: The report's size budget (bytes): figures are shrunk until the page fits.
MAX_BYTES = 5_000_000
#: The file the report writes in its output folder.
REPORT_FILE = "report.html"
#: ``groupby=`` choices: ``"auto"`` (layer, else area, as each step decides), ``"layer"``/``"area"`` (that coord
#: only), ``"none"`` (one result per set: layer/area coords are not used).
GROUPBY = ("auto", "layer", "area", "none")
#: What the demo's two sets are, in the report's Inputs section.
DEMO_SETS = {
    "brain": "the demo brain (64 simulated neurons storing 144 planted features in superposition), read back from "
    "demo_brain.nwb",
    "network": "the demo network (layers 'energy', 'objects' — which shares the brain's features — and 'pixels')",
}
DEMO_TITLE = "neurosuper demo: planted features in a simulated brain and a network, and what each analysis finds"
#: The earlier demo's set descriptions and title (``data="v1"``).
V1_SETS = {
    "brain": "the demo brain, read back from demo_brain.nwb",
    "network": "the demo network (hidden layers of an MLP autoencoder)",
}
V1_TITLE = "neurosuper demo: a simulated V1 population and a network trained on the same image patches"
#: The demo data: ``"planted"`` (default; :func:`neurosuper.datasets.planted_brain` / ``planted_network``, with the
#: truth table) or ``"v1"`` (the earlier demo: :func:`~neurosuper.datasets.demo_brain`, 1,000 Gabor neurons, and
#: the MLP autoencoder :func:`~neurosuper.datasets.demo_network`; no planted features, no truth table).
DEMO_DATA = ("planted", "v1")
#: The planted demo's settings (``settings=`` overrides them): a dictionary of 256 directions for k-means, sparse
#: coding and the SAE (the brain holds 144 features in 64 neurons), and the methods the truth table reads.
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    "directions": {
        "dictionary_size": 256,
        "methods": ["units", "kmeans", "ica", "pca", "sae", "random"],
        "sae_steps": 1500,
    },
    "capacity": {"max_units": 64},
}


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


def check_out(out: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """The output folder of a report: new, empty, or — with ``overwrite`` — a folder where the previous run's own
    outputs (listed in its ``.neurosuper-run.json``, unchanged since) are replaced; never an existing file. A
    user's file or folder named like an output is refused when the run reaches it (before computing for
    ``report.html``/``summary.json``/``summary.md``)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise fail(
            f"out={str(path)!r}",
            "an existing file",
            "a folder (new or empty; or pass overwrite=True / --overwrite to refill one)",
            f"choose a folder name, e.g. out={path.with_suffix('').name + '-report'!r}",
            FormatError,
        )
    if path.is_dir() and not overwrite and any(path.iterdir()):
        raise fail(
            f"out={str(path)!r}",
            "a folder that is not empty",
            "a new or empty folder",
            "choose another out= folder, or pass overwrite=True to replace the outputs of a previous run there",
            FormatError,
        )
    return path


def _check_shared(sets: Sequence[Any], labels: Sequence[str]) -> None:
    if len(sets) < 2:
        return
    from ..compare import shared_ids

    shared_ids(*[ds["stimulus"].values for ds in sets], names=list(labels), caller="report", warn=False)


def report(
    ds: Any,
    other: Any = None,
    *,
    out: str | os.PathLike[str],
    names: Sequence[str] | None = None,
    groupby: str = "auto",
    title: str | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    steps: Iterable[Step] | None = None,
    skip: Sequence[str] = (),
    overwrite: bool = False,
    progress: bool = True,
    full_paths: bool = False,
) -> Run:
    """Run every analysis on ``ds`` (and ``other``, and their comparison) and write ``out/report.html``.

    Parameters
    ----------
    ds, other
        ResponseSets (``other`` optional; with it, both are analysed and compared on their shared stimuli).
    out
        A folder (created if needed); the steps' result files, ``summary.json``, ``summary.md`` and
        ``report.html`` go there.
    names
        Names of the sets (e.g. their file names), used as labels when both sets are of the same system.
    groupby
        One of :data:`GROUPBY`.
    title
        The page's title (default: the sets' labels and sources).
    settings
        Per-step overrides of the reduced settings (``{"directions": {"max_units": 512}}``), checked first.
    steps
        The step list (default :func:`neurosuper.pipeline.report_steps`).
    skip
        Names of steps not to run (listed in the report as skipped on request), e.g. ``("directions",)``.
    overwrite
        Refill a folder that is not empty (files of the same names are replaced); without it such a folder is
        refused.
    progress
        Progress bars and one line per step on stderr.
    full_paths
        Record absolute paths (of the input files, the output folder, the interpreter), the command line and the
        kernel/C library versions in the report and ``summary.json``, and the input files' absolute paths in the
        steps' result files (``.nc``). By default a report can be shared: input files are named by their name (or
        their path relative to ``out`` when below it) and their sha256, and the software section lists package
        versions only.

    Returns
    -------
    neurosuper.pipeline.Run
        Every step's typed result (``run["spectrum"]``), the headline, and ``run.report`` (the HTML file).

    Bad input (not a folder, no shared stimuli, an unknown ``groupby``, step or setting) raises before any
    computing. A step that cannot run on these data is recorded in the report with its reason; the other steps
    still run.
    """
    from ..format import validate

    path = check_out(out, overwrite=overwrite)
    step_list = report_steps(steps)
    sets = [ds] if other is None else [ds, other]
    for s in sets:
        validate(s, check_values=False)
    sets = prepare_sets(sets, groupby=groupby)
    labels = set_labels(sets, names)
    _check_shared(sets, labels)
    default_title = "neurosuper report: " + " and ".join(
        f"{lb} ({Path(str(s.attrs.get('source') or s.attrs.get('model') or '')).name or s.attrs.get('system')})"
        for lb, s in zip(labels, sets, strict=True)
    )
    with _own_folder(path, overwrite):
        result = run_pipeline(
            dict(zip(labels, sets, strict=True)),
            out=path,
            steps=step_list,
            settings=settings,
            skip=skip,
            errors="record",
            progress=progress,
            title=title or default_title,
            overwrite=overwrite,
            full_paths=full_paths,
        )
        write_report(result)
        result.write_summary()
    return result


def demo(
    *,
    out: str | os.PathLike[str] = "demo-out",
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    full_paths: bool = False,
    data: str = "planted",
) -> Run:
    """Build the embedded demo data (cached after the first time), run every step on it (:data:`DEMO_STEPS`)
    and write ``out/report.html``, ``summary.json`` and ``summary.md``; returns the :class:`Run`. ``out``,
    ``overwrite`` and ``full_paths`` as for :func:`report`; ``settings`` on top of :data:`DEMO_SETTINGS`; ``data``
    one of :data:`DEMO_DATA` (the planted demo's ``truth`` step puts what was planted next to what was found, at the
    top of the report and under ``truth`` in ``summary.json``)."""
    import sys

    from .. import datasets

    if data not in DEMO_DATA:
        raise fail("demo: data", repr(data), f"one of {DEMO_DATA}", "data='planted'")
    planted = data == "planted"
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEMO_SETTINGS.items()} if planted else {}
    for step, values in (settings or {}).items():
        merged.setdefault(step, {}).update(values)
    check_settings(merged, DEMO_STEPS)
    path = check_out(out, overwrite=overwrite)
    start = time.perf_counter()
    if progress:
        print("building the demo data (cached after the first run) ...", file=sys.stderr)
    sets = {
        "brain_simulated": (datasets.planted_brain if planted else datasets.demo_brain)(progress=progress),
        "network": (datasets.planted_network if planted else datasets.demo_network)(progress=progress),
    }
    with _own_folder(path, overwrite):
        result = run_pipeline(
            sets,
            out=path,
            set_names=("brain", "network"),
            steps=DEMO_STEPS if planted else tuple(s for s in DEMO_STEPS if s.name != "truth"),
            settings=merged,
            errors="raise",
            progress=progress,
            demo=True,
            title=DEMO_TITLE if planted else V1_TITLE,
            descriptions=DEMO_SETS if planted else V1_SETS,
            overwrite=overwrite,
            full_paths=full_paths,
        )
        write_report(result)
        result.seconds = round(time.perf_counter() - start, 1)
        result.write_summary()
    return result


def _own_folder(path: Path, overwrite: bool) -> Any:
    """The run owns ``path`` (:func:`neurosuper._outfolder.output_folder`): one run at a time, the previous run's
    own outputs removed first with ``overwrite``, a user's file or folder named like an output refused."""
    from .._outfolder import output_folder
    from ..pipeline.runner import SUMMARY_FILE, SUMMARY_MD

    return output_folder(
        path, overwrite=overwrite, require_empty=not overwrite, names=(REPORT_FILE, SUMMARY_FILE, SUMMARY_MD)
    )


def write_report(run: Run, *, title: str | None = None, max_bytes: int = MAX_BYTES) -> Path:
    """Render ``run`` (every step's typed result) to ``run.out/report.html``, atomically; records the rendering
    as the run's last step (``report``) and sets ``run.report``.

    Figures are re-encoded at 1400 px wide at most; when the page would exceed ``max_bytes`` they are shrunk
    (×0.75 each time) until it fits — a :class:`~neurosuper.errors.NeurosuperWarning` if it never does.
    """
    from .._atomic import write_text
    from ._render import collect, embed, render

    t0 = time.perf_counter()
    page = collect(run, title=title or run.title or "neurosuper report")
    scale, text = 1.0, ""
    for _ in range(8):
        embed(page, scale)
        n_fig = sum(len(s.figures) for s in page.sections)
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
    path = write_text(run.out / REPORT_FILE, text, overwrite=True)
    run.steps = [s for s in run.steps if s.name != "report"]
    run.steps.append(
        StepResult(
            name="report",
            status="ran",
            title="Report",
            description="one self-contained HTML file (report.html) of every step's results",
            seconds=round(time.perf_counter() - t0, 1),
            summary={
                "file": REPORT_FILE,
                "size_MB": round(len(text.encode("utf-8")) / 1e6, 2),
                "figure_scale": round(scale, 3),
                "sections": [s.name for s in page.sections],
            },
        )
    )
    run.report = path
    return path
