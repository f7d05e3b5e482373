"""The report's HTML: one self-contained page (no script, no external resource; a Content-Security-Policy that
forbids any request), rendered from a :class:`~neurosuper.pipeline.Run` — every step's typed result."""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..pipeline import Run, StepFigure, StepResult
from ._images import IMAGE_SUFFIXES, Embedded, encode
from .glossary import explain

__all__ = ["Page", "Section", "Shown", "collect", "embed", "render", "PACKAGES"]

#: Package versions listed in the report's provenance (read from the installed metadata, nothing imported).
PACKAGES = (
    "neurosuper",
    "numpy",
    "scipy",
    "xarray",
    "dask",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "pynwb",
    "hdmf",
    "h5py",
    "h5netcdf",
    "zarr",
    "Pillow",
    "torch",
)
#: Keys of a step's summary shown elsewhere than its tables (figures, files, sentences, notes, settings).
_NOT_NUMBERS = {
    "figure",
    "figures",
    "mei_grid",
    "files",
    "file",
    "result",
    "results",
    "headline",
    "warnings",
    "settings",
    "reduced",
    "notes",
    "captions",
    "mei_figure",
}
_MAX_ROWS = 60
#: Warnings shown before the rest of a section's list is folded into a <details> element.
_NOTES_SHOWN = 4
_MAX_CELL = 300

CSS = """
:root { --ink: #1d2329; --muted: #5b6670; --line: #d9dee3; --soft: #f4f6f8; --accent: #2d5f8b; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: #fff; }
header { padding: 1.2rem 2rem .8rem; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 .2rem; font-size: 1.5rem; }
header p { margin: 0; color: var(--muted); }
.layout { display: flex; align-items: flex-start; }
nav { position: sticky; top: 0; flex: 0 0 15rem; max-height: 100vh; overflow: auto; padding: 1rem 1rem 2rem 2rem;
      font-size: .92rem; }
nav h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 .4rem; }
nav ol { margin: 0; padding-left: 1.2rem; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
main { flex: 1 1 auto; min-width: 0; max-width: 74rem; padding: .5rem 2rem 3rem 1rem; }
section { border-bottom: 1px solid var(--line); padding: .6rem 0 1.2rem; }
h2 { font-size: 1.25rem; margin: .8rem 0 .4rem; }
h3 { font-size: 1.02rem; margin: 1rem 0 .3rem; }
p.what { color: var(--muted); margin: .2rem 0 .6rem; }
ul.headline li { margin: .25rem 0; }
table { border-collapse: collapse; margin: .4rem 0 .8rem; font-size: .88rem; }
div.wide { max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: .22rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .84rem; }
td.mono { word-break: break-all; max-width: 34rem; }
figure { margin: .6rem 0 1rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .85rem; }
details > summary { cursor: pointer; color: var(--muted); margin: .4rem 0; }
.term[title], th[title] .term { border-bottom: 1px dotted var(--muted); cursor: help; }
.note { background: #fff8e6; border-left: 3px solid #e0a800; padding: .3rem .6rem; margin: .4rem 0; }
.ok { background: #e8f5e9; border-left: 3px solid #2e7d32; padding: .3rem .6rem; margin: .4rem 0; }
td.ok, td.bad { white-space: nowrap; border-left: none; }
td.bad { background: #fdecea; }
.fail { background: #fdecea; border-left: 3px solid #c62828; padding: .3rem .6rem; margin: .4rem 0; }
.status-ran { color: #2e7d32; } .status-skipped { color: var(--muted); } .status-failed { color: #c62828; }
table.prov { table-layout: fixed; width: 100%; }
table.prov th:nth-child(1) { width: 15%; } table.prov th:nth-child(2) { width: 11%; }
table.prov th:nth-child(3) { width: 20%; } table.prov th:nth-child(4) { width: 22%; }
table.prov th:nth-child(5) { width: 25%; } table.prov th:nth-child(6) { width: 7%; }
table.prov td { overflow-wrap: anywhere; }
table.prov code, table.prov .mono { font-size: .78rem; }
@media (max-width: 900px) { .layout { display: block; } nav { position: static; max-height: none; } }
"""

#: Forbids every request the page could make (images are data URIs, the style is inline, there is no script).
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


# ------------------------------------------------------------------------------------------------ values
#: Characters that reorder the text around them (bidirectional embeddings, overrides, isolates and marks): a name
#: holding one can display as another (``"evil\u202egnp.exe"`` shows as ``evilexe.png``), so the page shows them
#: as visible ``\u`` escapes.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F], None)
_BIDI_ESCAPES = {c: f"\\u{c:04x}" for c in BIDI_CONTROLS}


def esc(value: Any) -> str:
    """``value`` as HTML text: markup escaped, and bidirectional control characters (U+202A–U+202E,
    U+2066–U+2069, U+200E/U+200F) shown as visible ``\\u202e`` escapes, so that no name can be visually spoofed."""
    return html.escape(str(value).translate(_BIDI_ESCAPES), quote=True)


def fmt_value(value: Any) -> str:
    """A table cell's text: 4 significant digits for floats, short lists inline, long ones counted."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    if isinstance(value, str):
        return value if len(value) <= _MAX_CELL else value[: _MAX_CELL - 1] + "…"
    if isinstance(value, Sequence):
        items = list(value)
        if all(isinstance(v, int | float | bool | str | np.generic) or v is None for v in items):
            shown = ", ".join(fmt_value(v) for v in items[:8])
            return f"[{shown}{', …' if len(items) > 8 else ''}]" + (f" ({len(items)} values)" if len(items) > 8 else "")
        return f"{len(items)} entries"
    if isinstance(value, Mapping):
        return f"{len(value)} entries"
    return fmt_value(str(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def _is_matrix(v: Any) -> bool:
    """A dict of (at least two) dicts of plain values: a table of its own (rows = outer keys)."""
    return (
        isinstance(v, Mapping)
        and len(v) >= 2
        and all(isinstance(x, Mapping) and x for x in v.values())
        and all(not isinstance(y, Mapping | list) for x in v.values() for y in x.values())
    )


def flatten(obj: Any, prefix: str = "", records: list[tuple[str, list]] | None = None) -> list[tuple[str, Any]]:
    """``(dotted.key, leaf)`` pairs of a nested summary; lists of dicts are numbered, or — with ``records`` — collected
    there as ``(dotted.key, rows)`` to be drawn as tables of their own, as are dicts of dicts (one row per key)."""
    out: list[tuple[str, Any]] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if str(k) in _NOT_NUMBERS:
                continue
            key = f"{prefix}.{k}" if prefix else str(k)
            if records is not None and _is_matrix(v):
                records.append((key, [{"": name, **row} for name, row in v.items()]))
            elif isinstance(v, Mapping) and v:
                out.extend(flatten(v, key, records))
            elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
                if records is not None:
                    records.append((key, v))
                    continue
                for i, x in enumerate(v[:12]):
                    out.extend(flatten(x, f"{key}[{i}]"))
            else:
                out.append((key, v))
    else:
        out.append((prefix, obj))
    return out


def term(key: str) -> str:
    """A summary key as HTML, with its :mod:`~neurosuper.report.glossary` sentence as a tooltip when it has one."""
    text = explain(key)
    return f"<span class='term' title='{esc(text)}'>{esc(key)}</span>" if text else esc(key)


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    mono: Sequence[int] = (),
    raw: Sequence[int] = (),
    cls: str = "",
) -> str:
    """An HTML table; cells formatted by :func:`fmt_value` (``raw`` columns are already HTML); a header with a
    glossary entry gets it as a tooltip."""
    if not rows:
        return ""
    head = "".join(
        f"<th title='{esc(explain(h))}'><span class='term'>{esc(h)}</span></th>" if explain(h) else f"<th>{esc(h)}</th>"
        for h in header
    )
    body = []
    for row in rows[:_MAX_ROWS]:
        cells = []
        for i, cell in enumerate(row):
            if i in raw:
                cells.append(f"<td>{cell}</td>")
                continue
            kind = "num" if _is_number(cell) else ("mono" if i in mono else "")
            cells.append(f"<td{f' class={kind!r}' if kind else ''}>{esc(fmt_value(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<tr><td colspan='{len(header)}'>… {len(rows) - _MAX_ROWS} more rows in summary.json</td></tr>"
        if len(rows) > _MAX_ROWS
        else ""
    )
    attr = f" class='{esc(cls)}'" if cls else ""
    return (
        f"<div class='wide'><table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}{more}</tbody>"
        "</table></div>"
    )


# -------------------------------------------------------------------------------------------- gathering
@dataclass
class Shown:
    """A step's figure as the page shows it: the step's :class:`~neurosuper.pipeline.StepFigure` and its
    encoding at the current size."""

    figure: StepFigure
    image: Embedded | None = None

    @property
    def name(self) -> str:
        return self.figure.name

    @property
    def caption(self) -> str:
        return self.figure.caption


@dataclass
class Section:
    """One step's section: its typed result, its numbers split per analysed set, and its figures."""

    step: StepResult
    per_set: dict[str, Any]
    other: dict[str, Any]
    figures: list[Shown]

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def title(self) -> str:
        return self.step.title or self.step.name.capitalize()


@dataclass
class Page:
    """Everything the page shows, gathered once from the run (images are re-encoded per size budget)."""

    title: str
    subtitle: str
    headline: dict[str, list[str]]
    sets: dict[str, dict[str, Any]]
    data_notes: list[tuple[str, Any]]
    steps: list[StepResult]
    sections: list[Section]
    environment: dict[str, Any] = field(default_factory=dict)
    out: Path = Path(".")
    #: When no analysis found anything: the sentence that says so (:attr:`~neurosuper.pipeline.Run.nothing_found`).
    nothing: str | None = None
    #: The planted demo's table of truth against found (the ``truth`` step's summary), shown first.
    truth: dict[str, Any] | None = None


def describe_set(
    ds: Any,
    *,
    out: Path,
    label: str,
    what: str | None = None,
    file: str | None = None,
    full_paths: bool = False,
) -> dict[str, Any]:
    """What an input set is: system, source/model, measure, sizes, groups, stimuli and its files (sha256); ``file``
    is the file a data step saved the set to when it was built in memory. Files are named by their path relative to
    ``out`` when below it, else by their name (:func:`neurosuper._provenance.shown_path`); ``full_paths`` keeps
    their absolute paths."""
    from .._provenance import file_input, inputs_of, shown_path

    attrs = ds.attrs
    resp = ds["responses"]
    info: dict[str, Any] = {
        "what": what,
        "system": attrs.get("system"),
        "source": attrs.get("source") or attrs.get("model"),
        "measure": attrs.get("measure"),
        "sizes": {str(k): int(v) for k, v in resp.sizes.items()},
        "dtype": str(resp.dtype),
    }
    for coord in ("layer", "area"):
        if coord in ds.coords and ds[coord].dims == ("unit",):
            values = [str(v) for v in ds[coord].values]
            info[f"units per {coord}"] = {v: values.count(v) for v in dict.fromkeys(values)}
    if "stimuli" in ds:
        info["stimuli"] = f"{ds['stimuli'].dims} {tuple(int(s) for s in ds['stimuli'].shape)}"
    for key in ("stimulus_source", "loader", "nwb_file", "window", "format_version"):
        if key in attrs:
            info[key] = attrs[key]
    files = inputs_of(ds)
    if not files and file and (out / file).exists():
        files = [file_input(out / file)]  # a set built in memory and saved by the data step
    if not full_paths:
        files = [{**f, "path": shown_path(f["path"], out=out)} if f.get("path") else f for f in files]
    info["files"] = files
    return info


def environment(*, full_paths: bool = False) -> dict[str, Any]:
    """What a reader needs to reproduce the numbers: the Python and package versions, the operating system and
    machine; with ``full_paths`` also the command line, the interpreter's path and the kernel/C library versions."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}".strip(),
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "packages": versions,
    }
    if full_paths:
        env.update(platform=platform.platform(), command=" ".join(sys.argv), interpreter=sys.executable)
    return env


def _saved_file(run: Run, label: str) -> str | None:
    """The file the demo's data step saved the set ``label`` to, if it did."""
    if "data" not in run:
        return None
    entry = run["data"].summary.get(label)
    return str(entry["file"]) if isinstance(entry, Mapping) and entry.get("file") else None


def collect(run: Run, *, title: str) -> Page:
    """Gather the page's content from a run's typed step results."""
    from .._provenance import redact_paths

    full = bool(getattr(run, "full_paths", False))
    prefixes = run.path_prefixes()  # nothing with full_paths: absolute paths are kept
    sets = {
        label: redact_paths(
            describe_set(
                ds,
                out=run.out,
                label=label,
                what=run.descriptions.get(label),
                file=_saved_file(run, label),
                full_paths=full,
            ),
            prefixes,
        )
        for label, ds in run.sets.items()
    }
    data_notes: list[tuple[str, Any]] = []
    sections = []
    steps = [_redacted(step, prefixes) for step in run.steps] if prefixes else list(run.steps)
    for step in steps:
        if step.data:
            if step.status == "ran":
                data_notes.extend(
                    (f"{step.name}.{k}", v) for k, v in flatten(step.summary) if not isinstance(v, Mapping)
                )
            continue
        if step.name == "report" or step.status == "skipped":
            continue
        if step.name == "truth" and isinstance(step.summary.get("table"), list):
            continue  # shown first, as the page's opening table
        per_set = {lb: step.summary[lb] for lb in run.labels if isinstance(step.summary.get(lb), Mapping)}
        other = {k: v for k, v in step.summary.items() if k not in per_set}
        sections.append(Section(step, per_set, other, [Shown(f) for f in step.figures]))
    return Page(
        title=redact_paths(title, prefixes),
        subtitle="",
        headline={s.name: list(s.headline) for s in steps if s.headline},
        sets=sets,
        data_notes=data_notes,
        steps=steps,
        sections=sections,
        environment=environment(full_paths=full),
        out=run.out,
        nothing=redact_paths(run.nothing_found, prefixes),
        truth=next(
            (dict(st.summary) for st in steps if st.name == "truth" and isinstance(st.summary.get("table"), list)),
            None,
        ),
    )


def _redacted(step: StepResult, prefixes: Sequence[tuple[str, str]]) -> StepResult:
    """A copy of ``step`` whose texts (reason, numbers, warnings, headline, settings, captions) name no absolute
    folder of ``prefixes``; its results and figures are shared."""
    import dataclasses

    from .._provenance import redact_paths

    return dataclasses.replace(
        step,
        reason=redact_paths(step.reason, prefixes),
        summary=redact_paths(step.summary, prefixes),
        warnings=redact_paths(step.warnings, prefixes),
        headline=redact_paths(step.headline, prefixes),
        settings=redact_paths(step.settings, prefixes),
        figures=[dataclasses.replace(f, caption=redact_paths(f.caption, prefixes)) for f in step.figures],
    )


# ------------------------------------------------------------------------------------------------- HTML
def embed(page: Page, scale: float) -> None:
    """Encode the page's figures at ``scale`` (a figure that cannot be read is left out)."""
    for sec in page.sections:
        kept = []
        for shown in sec.figures:
            path = shown.figure.path or page.out / shown.figure.name
            try:
                shown.image = encode(path, scale=scale)
            except OSError:
                continue
            kept.append(shown)
        sec.figures = kept


def _figure_html(fig: Shown, title: str) -> str:
    img = fig.image
    if img is None:
        return ""
    return (
        f'<figure><img src="{img.uri}" width="{img.width}" height="{img.height}" '
        f'alt="{esc(title)}: {esc(fig.caption or fig.name)}"><figcaption>'
        + (f"{esc(fig.caption)} " if fig.caption else "")
        + f"<span class='mono'>{esc(fig.name)}</span>"
        "</figcaption></figure>"
    )


def _settings_html(sec: Section) -> str:
    parts = []
    if sec.step.reduced:
        parts.append(f"<p class='note'><strong>Reduced settings:</strong> {esc(sec.step.reduced)}.</p>")
    rows = list(flatten(sec.step.settings))  # what the step says it ran with, else what it was given
    if rows:
        parts.append(table(("setting", "value (as run)"), rows))
    return "".join(parts)


def _provenance_html(items: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    if not items:
        return (
            "<p class='note'>The results of this step carry no provenance record (analysis, options); they "
            "were computed from the sets described under Inputs, with the settings above.</p>"
        )
    rows = []
    for name, p in items:
        inputs = "<br>".join(
            f"<span class='mono'>{esc(Path(str(i.get('path', ''))).name)}</span> "
            f"<span class='mono'>sha256 {esc(i.get('sha256') or 'not hashed (large file)')}</span>"
            for i in p["inputs"]
        )
        if not inputs:
            inputs = (
                "none: a toy model trains on inputs it simulates"
                if str(p["analysis"]).startswith("toy.")
                else "none recorded (the set was not read from a file)"
            )
        options = json.dumps(p["options"], sort_keys=True) if p["options"] is not None else "—"
        rows.append(
            (
                name,
                p["analysis"],
                p["reference"] or "—",
                f"<code>{esc(options)}</code>",
                inputs,
                p["neurosuper_version"] or "—",
            )
        )
    return "<h3>Provenance of these numbers</h3>" + table(
        ("result", "analysis", "reference", "options", "inputs", "version"), rows, raw=(3, 4), cls="prov"
    )


def _numbers_html(sec: Section) -> str:
    parts = []
    per_set = sec.per_set
    if per_set:
        labels = list(per_set)
        keys: dict[str, None] = {}
        tables: list[tuple[str, list]] = []
        flat = {}
        for lb in labels:
            found: list[tuple[str, list]] = []
            flat[lb] = dict(flatten(per_set[lb], records=found))
            tables.extend((f"{key} — {lb}", rows) for key, rows in found)
            keys.update(dict.fromkeys(flat[lb]))
        rows = [(term(k), *[flat[lb].get(k) for lb in labels]) for k in keys]
        parts.append(table(("number", *labels), rows, raw=(0,)))
        for key, recs in tables:
            flat_recs = [dict(flatten(r)) for r in recs]
            columns = list(dict.fromkeys(k for f in flat_recs for k in f))
            parts.append(f"<h3>{esc(key)}</h3>" + table(columns, [[f.get(c) for c in columns] for f in flat_recs]))
    records: list[tuple[str, list]] = []
    other = [
        (k, v)
        for k, v in flatten(sec.other, records=records)
        if not (isinstance(v, str) and v.lower().endswith((*IMAGE_SUFFIXES, ".nc", ".zarr", ".nwb")))
    ]
    if other:
        parts.append(table(("number", "value"), [(term(k), v) for k, v in other], raw=(0,)))
    for key, rows in records:
        flat_rows = [dict(flatten(r)) for r in rows]
        columns = list(dict.fromkeys(k for f in flat_rows for k in f))
        parts.append(f"<h3>{esc(key)}</h3>" + table(columns, [[f.get(c) for c in columns] for f in flat_rows]))
    return "".join(parts)


def _section_html(sec: Section) -> str:
    step = sec.step
    status = step.status
    headline = step.headline
    when = f" in {step.seconds} s" if step.seconds is not None else ""
    parts = [
        f"<section id='{esc(sec.name)}'><h2>{esc(sec.title)}</h2>",
        f"<p class='what'>{esc(step.description)} <span class='status-{esc(status)}'>({esc(status)}{when})</span></p>",
    ]
    if status == "failed":
        parts.append(f"<p class='fail'>This step could not run on these data: {esc(step.reason or '')}</p>")
    if headline:
        parts.append("<ul class='headline'>" + "".join(f"<li>{esc(s)}</li>" for s in headline) + "</ul>")
    parts.append(_settings_html(sec))
    parts.append(_numbers_html(sec))
    notes = [f"<p class='note'>{esc(note)}</p>" for note in step.warnings]
    if len(notes) > _NOTES_SHOWN + 1:  # a long list stays one click away (native <details>, no script)
        notes[_NOTES_SHOWN:] = [
            f"<details><summary>{len(notes) - _NOTES_SHOWN} more warnings</summary>"
            + "".join(notes[_NOTES_SHOWN:])
            + "</details>"
        ]
    parts.extend(notes)
    parts.extend(_figure_html(f, sec.title) for f in sec.figures)
    parts.append(_provenance_html(step.provenance))
    parts.append("</section>")
    return "".join(parts)


def _inputs_html(page: Page) -> str:
    parts = [
        "<section id='inputs'><h2>Inputs</h2>",
        "<p class='what'>What each analysed set is, and the files it was read from (sha256 of their bytes).</p>",
    ]
    for label, info in page.sets.items():
        parts.append(f"<h3>{esc(label)}</h3>")
        rows = [(k, v) for k, v in flatten({k: v for k, v in info.items() if k != "files" and v is not None})]
        parts.append(table(("property", "value"), rows))
        if info["files"]:
            parts.append(
                table(
                    ("file", "size (bytes)", "sha256"),
                    [
                        (i.get("path"), i.get("size"), i.get("sha256") or "not hashed (large file)")
                        for i in info["files"]
                    ],
                    mono=(0, 2),
                )
            )
        else:
            parts.append("<p class='note'>This set was not read from a file (built in memory).</p>")
    if page.data_notes:
        parts.append("<h3>How the demo data were made</h3>")
        parts.append(table(("fact", "value"), page.data_notes))
    parts.append("</section>")
    return "".join(parts)


def _steps_html(page: Page) -> str:
    rows = []
    for step in page.steps:
        status = f"<span class='status-{esc(step.status)}'>{esc(step.status)}</span>"
        rows.append((step.name, status, step.seconds, step.reason or step.description))
    return (
        "<section id='steps'><h2>Steps</h2><p class='what'>The explicit list of steps this report ran, in "
        "order (the same list as <code>neurosuper demo</code>); skipped steps say why.</p>"
        + table(("step", "status", "seconds", "what / why"), rows, raw=(1,))
        + "</section>"
    )


def _environment_html(page: Page) -> str:
    env = page.environment
    rows = [("created", env["created"])]
    rows += [(key, env[key]) for key in ("command", "interpreter") if key in env]  # only with full_paths
    rows += [("python", env["python"]), ("platform", env["platform"])]
    rows += [(name, v) for name, v in env["packages"].items()]
    return (
        "<section id='provenance'><h2>Provenance</h2><p class='what'>Every section above lists the analysis, "
        "reference, options and input files of the results its numbers come from; this is the software "
        "that computed them.</p>" + table(("software / run", "version / value"), rows, mono=(1,)) + "</section>"
    )


def _summary_html(page: Page) -> str:
    lines = [s for lines in page.headline.values() for s in lines]
    body = ("<ul class='headline'>" + "".join(f"<li>{esc(s)}</li>" for s in lines) + "</ul>") if lines else ""
    if page.nothing:  # every analysis failed or had too little data: said first, plainly — not a result
        body = f"<p class='fail'>{esc(page.nothing)}</p>" + body
    elif not lines:
        body = "<p>No step produced a headline number.</p>"
    hint = (
        "<p class='what'>In the tables below, a name underlined with dots says what it means when the pointer "
        "rests on it; <code>summary.json</code> next to this file holds every number.</p>"
    )
    return f"<section id='summary'><h2>What it found</h2>{body}{hint}</section>"


def _truth_html(truth: Mapping[str, Any]) -> str:
    """The planted demo's opening table: for each planted effect or control, what was planted, what was found and
    whether it was recovered within the stated tolerance."""

    def mark(row: Mapping[str, Any]) -> str:
        ok, words = row.get("recovered"), esc(row.get("verdict", ""))
        return (
            "<td>shown</td>"
            if ok is None
            else f"<td class='ok'>✓ {words}</td>"
            if ok
            else f"<td class='bad'>✗ {words}</td>"
        )

    rows = "".join(
        "<tr>"
        f"<td>{esc(r.get('analysis'))}<br><small>{esc(r.get('control'))}</small></td>"
        f"<td>{esc(r.get('planted'))}</td><td>{esc(r.get('found'))}</td><td>{esc(r.get('tolerance'))}</td>"
        + mark(r)
        + "</tr>"
        for r in truth.get("table", [])
    )
    verdict = (
        "<p class='ok'>Every planted effect was recovered and every negative control stayed at chance.</p>"
        if truth.get("all_recovered")
        else f"<p class='fail'>Not recovered: {esc('; '.join(truth.get('failed', [])))}.</p>"
    )
    return (
        "<section id='truth'><h2>Planted truth against found</h2>"
        "<p class='what'>The demo data were generated with known structure. Each row is a planted effect the "
        "analysis must find (positive control) or a control where it must find nothing (negative control), "
        "with the tolerance that decides. <code>summary.json</code> holds this table under <code>truth</code>.</p>"
        f"{verdict}<table class='truth'><thead><tr><th>analysis</th><th>planted</th><th>found</th>"
        f"<th>tolerance</th><th>verdict</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def render(page: Page) -> str:
    """The page as one HTML string."""
    toc = [("truth", "Planted truth")] if page.truth else []
    toc += [("summary", "What it found"), ("inputs", "Inputs"), ("steps", "Steps")]
    toc += [(s.name, s.title) for s in page.sections]
    toc.append(("provenance", "Provenance"))
    nav = "".join(f"<li><a href='#{esc(i)}'>{esc(t)}</a></li>" for i, t in toc)
    body = [_truth_html(page.truth)] if page.truth else []
    body += [_summary_html(page), _inputs_html(page), _steps_html(page)]
    body += [_section_html(s) for s in page.sections]
    body.append(_environment_html(page))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(page.title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(page.title)}</h1><p>{esc(page.subtitle)}</p></header>"
        f"<div class='layout'><nav aria-label='Contents'><h2>Contents</h2><ol>{nav}</ol></nav>"
        f"<main>{''.join(body)}</main></div></body></html>\n"
    )
