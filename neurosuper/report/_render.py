"""The report's HTML: one self-contained page (no script, no external resource; a Content-Security-Policy that
forbids any request), built from a pipeline :class:`~neurosuper.pipeline.Context` after its steps ran."""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import platform
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._images import IMAGE_SUFFIXES, Embedded, encode
from .glossary import explain

__all__ = ["Page", "collect", "embed", "render", "PACKAGES"]

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
def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


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
def _walk_strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _walk_strings(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _walk_strings(v)


def _walk_results(obj: Any, name: str = "") -> Iterator[tuple[str, Any]]:
    """``(name, xarray result)`` of the objects a step kept in ``ctx.results[step]`` (nested dicts/lists)."""
    import xarray as xr

    if isinstance(obj, xr.Dataset | xr.DataArray):
        yield name or str(obj.name or "result"), obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _walk_results(v, f"{name}/{k}" if name else str(k))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _walk_results(v, f"{name}[{i}]")


def _files(out: Path, block: Any, suffixes: tuple[str, ...]) -> list[str]:
    """File names a step's summary mentions that exist under ``out``, in order, without repeats."""
    found: list[str] = []
    for text in _walk_strings(block):
        if len(text) > 300 or not text.lower().endswith(suffixes) or text in found:
            continue
        path = Path(text)
        if not path.is_absolute():
            path = out / path
        try:
            if path.exists() and path.resolve().is_relative_to(out.resolve()):
                found.append(text)
        except OSError:
            continue
    return found


def provenance_of(obj: Any) -> dict[str, Any]:
    """The shared provenance attrs of a result (``_provenance.stamp``), decoded."""
    from .._provenance import inputs_of, options_of

    attrs = getattr(obj, "attrs", {})
    try:
        options = options_of(obj)
    except (ValueError, TypeError):
        options = attrs.get("options")
    return {
        "analysis": attrs.get("analysis"),
        "reference": attrs.get("reference"),
        "options": options,
        "inputs": inputs_of(obj),
        "neurosuper_version": attrs.get("neurosuper_version"),
    }


def _file_provenance(path: Path) -> dict[str, Any] | None:
    """The provenance attrs of a result file, read without its data (netCDF root attrs, or zarr's)."""
    import xarray as xr

    from .._attrs import decode_attrs

    try:
        if path.suffix == ".zarr":
            with xr.open_dataset(path, engine="zarr", decode_cf=False, chunks=None) as opened:
                raw = dict(opened.attrs)
        else:  # netCDF4 = HDF5: the root attributes, without opening the variables
            import h5py

            with h5py.File(path, "r") as f:
                raw = {
                    k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items() if not k.startswith("_")
                }
        attrs = decode_attrs(raw)
    except Exception:  # noqa: BLE001 - a file the report cannot open is reported without provenance
        return None
    return provenance_of(xr.Dataset(attrs=attrs))


@dataclass
class Figure:
    step: str
    name: str
    path: Path
    image: Embedded | None = None
    caption: str = ""


@dataclass
class Page:
    """Everything the page shows, gathered once from the context (images are re-encoded per size budget)."""

    title: str
    subtitle: str
    headline: dict[str, list[str]]
    sets: dict[str, dict[str, Any]]
    data_notes: list[tuple[str, Any]]
    steps: list[dict[str, Any]]
    sections: list[dict[str, Any]]
    figures: dict[str, list[str]] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    out: Path = Path(".")


def describe_set(ds: Any, *, out: Path, summary: Mapping[str, Any], label: str) -> dict[str, Any]:
    """What an input set is: system, source/model, measure, sizes, groups, stimuli and its files (sha256)."""
    from .._provenance import file_input, inputs_of

    attrs = ds.attrs
    resp = ds["responses"]
    described = summary.get("sets", {}).get(label) if isinstance(summary.get("sets"), Mapping) else None
    info: dict[str, Any] = {
        "what": described if isinstance(described, str) else None,
        "system": attrs.get("system"),
        "source": attrs.get("source") or attrs.get("model"),
        "measure": attrs.get("measure"),
        "sizes": {str(k): int(v) for k, v in resp.sizes.items()},
        "dtype": str(resp.dtype),
    }
    for coord in ("layer", "area"):
        if coord in ds.coords and ds[coord].dims == ("unit",):
            values, counts = np.unique(ds[coord].values.astype(str), return_counts=True)
            order = {v: i for i, v in enumerate(dict.fromkeys(ds[coord].values.astype(str)))}
            info[f"units per {coord}"] = {
                str(v): int(c) for v, c in sorted(zip(values, counts, strict=True), key=lambda vc: order[vc[0]])
            }
    if "stimuli" in ds:
        info["stimuli"] = f"{ds['stimuli'].dims} {tuple(int(s) for s in ds['stimuli'].shape)}"
    for key in ("stimulus_source", "loader", "nwb_file", "window", "format_version"):
        if key in attrs:
            info[key] = attrs[key]
    files = inputs_of(ds)
    data = summary.get("data", {})
    entry = data.get(label) if isinstance(data, Mapping) else None
    if not files and isinstance(entry, Mapping) and entry.get("file") and (out / str(entry["file"])).exists():
        files = [file_input(out / str(entry["file"]))]  # a set built in memory and saved by the data step
    info["files"] = files
    return info


def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "packages": versions,
    }


def collect(ctx: Any, steps: Mapping[str, Any], *, title: str, demo: bool) -> Page:
    """Gather the page's content from a context whose steps ran (``steps``: name → Step definition)."""
    from .text import headline_by_step

    out = Path(ctx.out)
    summary = ctx.summary
    labels = list(ctx.sets)
    sets = {label: describe_set(ds, out=out, summary=summary, label=label) for label, ds in ctx.sets.items()}
    runs = list(summary.get("steps", []))
    data_notes: list[tuple[str, Any]] = []
    sections = []
    for run in runs:
        name = run["name"]
        step = steps.get(name)
        if step is not None and getattr(step, "data", False):
            if run["status"] == "ran" and isinstance(summary.get(name), Mapping):
                data_notes.extend((f"{name}.{k}", v) for k, v in flatten(summary[name]) if not isinstance(v, Mapping))
            continue
        if name == "report" or run["status"] == "skipped":
            continue
        block = summary.get(name, {})
        sections.append(_section(ctx, out, name, step, run, block, labels))
    return Page(
        title=title,
        subtitle="",
        headline=headline_by_step(summary, labels=labels, demo=demo),
        sets=sets,
        data_notes=data_notes,
        steps=runs,
        sections=sections,
        environment=environment(),
        out=out,
    )


def _section(
    ctx: Any, out: Path, name: str, step: Any, run: Mapping[str, Any], block: Any, labels: list[str]
) -> dict[str, Any]:
    block = block if isinstance(block, Mapping) else {"value": block}
    per_set = {lb: block[lb] for lb in labels if isinstance(block.get(lb), Mapping)}
    other = {k: v for k, v in block.items() if k not in per_set}
    notes: list[str] = []
    for text in (v for k, v in flatten_notes(block)):
        if text not in notes:
            notes.append(text)
    captions = dict(_captions(block))
    figures = [
        Figure(
            name,
            Path(f).name,
            Path(f) if Path(f).is_absolute() else out / f,
            caption=captions.get(f, captions.get(Path(f).name, "")),
        )
        for f in _files(out, block, IMAGE_SUFFIXES)
    ]
    provenance: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    candidates = [(rname, provenance_of(res)) for rname, res in _walk_results(ctx.results.get(name, {}))]
    if not candidates:  # the step kept no objects: read the attrs of the result files it wrote
        candidates = [(f, _file_provenance(out / f)) for f in _files(out, block, (".nc", ".zarr"))]
    for rname, p in candidates:
        key = rname + json.dumps(p, sort_keys=True, default=str)
        if p and p["analysis"] and key not in seen:
            seen.add(key)
            provenance.append((rname, p))
    settings = ctx.settings.get(name) if isinstance(ctx.settings.get(name), Mapping) else {}
    recorded = block.get("settings") if isinstance(block.get("settings"), Mapping) else {}
    if "title" in run:  # recorded by run_steps from the step that ran
        title, description, reduced = run["title"], run.get("description", ""), run.get("reduced", "")
    else:
        title = getattr(step, "title", "") or name.capitalize()
        description, reduced = getattr(step, "description", ""), getattr(step, "reduced", "")
    return {
        "name": name,
        "title": title,
        "description": description,
        "reduced": reduced,
        "settings": dict(settings or {}),
        "recorded_settings": dict(recorded),
        "run": dict(run),
        "per_set": per_set,
        "other": other,
        "notes": notes,
        "figures": figures,
        "provenance": provenance,
    }


def _captions(block: Any) -> Iterator[tuple[str, str]]:
    """``(file, sentence)`` from every ``captions`` mapping a step recorded in its summary."""
    if isinstance(block, Mapping):
        for k, v in block.items():
            if k == "captions" and isinstance(v, Mapping):
                yield from ((str(f), str(t)) for f, t in v.items())
            elif isinstance(v, Mapping):
                yield from _captions(v)


def flatten_notes(block: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Warnings and notes a step recorded anywhere in its summary (``warnings``/``notes`` lists, ``error``), each
    prefixed with where it was recorded (the set's label: "brain: ...")."""
    if isinstance(block, Mapping):
        for k, v in block.items():
            if k in ("warnings", "notes") and isinstance(v, list | tuple):
                for text in v:
                    yield (f"{key}.{k}" if key else k), f"{key + ': ' if key else ''}{text}"
            elif k in ("error", "skipped") and isinstance(v, str):
                yield (f"{key}.{k}" if key else k), f"{key + ': ' if key else ''}{v}"
            elif isinstance(v, Mapping):
                yield from flatten_notes(v, f"{key}.{k}" if key else str(k))


# ------------------------------------------------------------------------------------------------- HTML
def embed(page: Page, scale: float) -> None:
    """Encode the page's figures at ``scale`` (a figure that cannot be read is left out)."""
    for sec in page.sections:
        kept = []
        for fig in sec["figures"]:
            try:
                fig.image = encode(fig.path, scale=scale)
            except OSError:
                continue
            kept.append(fig)
        sec["figures"] = kept


def _figure_html(fig: Figure, title: str) -> str:
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


def _settings_html(sec: Mapping[str, Any]) -> str:
    parts = []
    if sec["reduced"]:
        parts.append(f"<p class='note'><strong>Reduced settings:</strong> {esc(sec['reduced'])}.</p>")
    rows = list(flatten(sec["recorded_settings"]))  # what the step says it ran with, else what it was given
    shown = {k.split(".")[0] for k, _ in rows}
    rows += [(k, v) for k, v in flatten(sec["settings"]) if k.split(".")[0] not in shown]
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


def _numbers_html(sec: Mapping[str, Any]) -> str:
    parts = []
    per_set = sec["per_set"]
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
        for k, v in flatten(sec["other"], records=records)
        if not (isinstance(v, str) and v.lower().endswith((*IMAGE_SUFFIXES, ".nc", ".zarr", ".nwb")))
    ]
    if other:
        parts.append(table(("number", "value"), [(term(k), v) for k, v in other], raw=(0,)))
    for key, rows in records:
        flat = [dict(flatten(r)) for r in rows]
        columns = list(dict.fromkeys(k for f in flat for k in f))
        parts.append(f"<h3>{esc(key)}</h3>" + table(columns, [[f.get(c) for c in columns] for f in flat]))
    return "".join(parts)


def _section_html(sec: Mapping[str, Any], headline: Sequence[str]) -> str:
    run = sec["run"]
    status = run.get("status", "ran")
    when = f" in {run['seconds']} s" if run.get("seconds") is not None else ""
    parts = [
        f"<section id='{esc(sec['name'])}'><h2>{esc(sec['title'])}</h2>",
        f"<p class='what'>{esc(sec['description'])} <span class='status-{esc(status)}'>({esc(status)}{when})"
        "</span></p>",
    ]
    if status == "failed":
        parts.append(f"<p class='fail'>This step could not run on these data: {esc(run.get('reason', ''))}</p>")
    if headline:
        parts.append("<ul class='headline'>" + "".join(f"<li>{esc(s)}</li>" for s in headline) + "</ul>")
    parts.append(_settings_html(sec))
    parts.append(_numbers_html(sec))
    notes = [f"<p class='note'>{esc(note)}</p>" for note in sec["notes"]]
    if len(notes) > _NOTES_SHOWN + 1:  # a long list stays one click away (native <details>, no script)
        notes[_NOTES_SHOWN:] = [
            f"<details><summary>{len(notes) - _NOTES_SHOWN} more warnings</summary>"
            + "".join(notes[_NOTES_SHOWN:])
            + "</details>"
        ]
    parts.extend(notes)
    parts.extend(_figure_html(f, sec["title"]) for f in sec["figures"])
    parts.append(_provenance_html(sec["provenance"]))
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
    for run in page.steps:
        status = f"<span class='status-{esc(run['status'])}'>{esc(run['status'])}</span>"
        rows.append((run["name"], status, run.get("seconds"), run.get("reason") or run.get("description", "")))
    return (
        "<section id='steps'><h2>Steps</h2><p class='what'>The explicit list of steps this report ran, in "
        "order (the same list as <code>neurosuper demo</code>); skipped steps say why.</p>"
        + table(("step", "status", "seconds", "what / why"), rows, raw=(1,))
        + "</section>"
    )


def _environment_html(page: Page) -> str:
    env = page.environment
    rows = [
        ("created", env["created"]),
        ("command", env["command"]),
        ("python", env["python"]),
        ("platform", env["platform"]),
    ]
    rows += [(name, v) for name, v in env["packages"].items()]
    return (
        "<section id='provenance'><h2>Provenance</h2><p class='what'>Every section above lists the analysis, "
        "reference, options and input files of the results its numbers come from; this is the software "
        "that computed them.</p>" + table(("software / run", "version / value"), rows, mono=(1,)) + "</section>"
    )


def _summary_html(page: Page) -> str:
    lines = [s for lines in page.headline.values() for s in lines]
    body = (
        ("<ul class='headline'>" + "".join(f"<li>{esc(s)}</li>" for s in lines) + "</ul>")
        if lines
        else "<p>No step produced a headline number.</p>"
    )
    hint = (
        "<p class='what'>In the tables below, a name underlined with dots says what it means when the pointer "
        "rests on it; <code>summary.json</code> next to this file holds every number.</p>"
    )
    return f"<section id='summary'><h2>What it found</h2>{body}{hint}</section>"


def render(page: Page) -> str:
    """The page as one HTML string."""
    toc = [("summary", "What it found"), ("inputs", "Inputs"), ("steps", "Steps")]
    toc += [(s["name"], s["title"]) for s in page.sections]
    toc.append(("provenance", "Provenance"))
    nav = "".join(f"<li><a href='#{esc(i)}'>{esc(t)}</a></li>" for i, t in toc)
    body = [_summary_html(page), _inputs_html(page), _steps_html(page)]
    body += [_section_html(s, page.headline.get(s["name"], [])) for s in page.sections]
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
