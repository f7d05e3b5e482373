"""Where presentations come from: an IndexSeries, a TimeIntervals table, the trials table — found and resolved.

With ``stimulus=None`` a source is picked only when it is the file's only one: several candidates (an IndexSeries,
TimeIntervals tables in ``nwbfile.intervals`` other than ``trials``/``epochs``/``invalid_times``, the ``trials``
table) raise :class:`NWBLayoutError` listing every candidate with the exact ``stimulus=`` argument (and the
``--stimulus`` flag) that picks it — never one of them silently. An IndexSeries and a table holding the same
presentations (equal onsets and stimulus ids, as :func:`neurosuper.io.nwb.write_session` writes them) count as
one source; the IndexSeries is read (it carries the images). No candidate at all raises too, pointing to
``stimulus="bins"``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import NWBLayoutError
from ._messages import layout_error, nwb_warning
from ._table import decode, preview, ragged_columns, read_scalar_columns
from .counting import check_allocation, nice_number

__all__ = ["Candidate", "Presentations", "find_candidates", "resolve_presentations", "STIMULUS_COLUMNS"]

#: Column names taken as the stimulus identity of a table, in order of preference.
STIMULUS_COLUMNS = (
    "stimulus_id",
    "image_id",
    "image_name",
    "image_index",
    "image",
    "frame",
    "condition",
    "stimulus",
    "stimulus_name",
    "trial_type",
)
_NOT_PRESENTATIONS = ("trials", "epochs", "invalid_times")
_RESERVED = {
    "unit",
    "stimulus",
    "repeat",
    "time",
    "responses",
    "stimuli",
    "onset",
    "n_repeats",
    "start_time",
    "stop_time",
    "id",
}


@dataclass
class Candidate:
    """One possible source of presentations, and the ``stimulus=`` argument that picks it."""

    kind: str  # "IndexSeries", "TimeIntervals", "trials"
    name: str
    argument: str  # the stimulus= argument of load_nwb picking it
    n_presentations: int
    has_stop: bool
    columns: list[str] = field(default_factory=list)
    cli: str = ""  # the --stimulus flag of `neurosuper nwb` picking it

    def describe(self, *, cli: bool = False) -> str:
        """One line: kind, name, size, stop times, columns and the argument (``cli=True``: the flag) picking it."""
        if self.has_stop:
            stop = "start/stop times"
        else:
            stop = "onsets only (--window START STOP required)" if cli else "onsets only (window= required)"
        cols = f", columns {self.columns}" if self.columns else ""
        return (
            f"{self.kind} {self.name!r} ({self.n_presentations} presentations, {stop}{cols}): "
            f"{self.cli if cli else self.argument}"
        )


@dataclass
class Presentations:
    """Presentations in file order: times, stimulus code of each, stimulus ids and their coords."""

    start: np.ndarray  # (n,) absolute start of each presentation (s)
    stop: np.ndarray  # (n,) absolute stop, NaN when unknown
    onset: np.ndarray  # (n,) absolute onset that windows and time bins are relative to
    codes: np.ndarray  # (n,) index into ids
    ids: np.ndarray  # (n_stimuli,)
    coords: dict[str, np.ndarray] = field(default_factory=dict)  # along stimulus
    stimuli: np.ndarray | None = None  # (n_stimuli, y, x[, channel])
    attrs: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- discovery
def _index_series(nwbfile: Any) -> dict[str, Any]:
    from pynwb.image import IndexSeries

    return {name: obj for name, obj in nwbfile.stimulus.items() if isinstance(obj, IndexSeries)}


def _tables(nwbfile: Any) -> dict[str, Any]:
    special = {id(t) for t in (nwbfile.trials, nwbfile.epochs, nwbfile.invalid_times) if t is not None}
    return {
        name: t
        for name, t in (nwbfile.intervals or {}).items()
        if name not in _NOT_PRESENTATIONS and id(t) not in special
    }


def _auto_column(columns: list[str]) -> str | None:
    return next((c for c in STIMULUS_COLUMNS if c in columns), None)


def _table_candidate(kind: str, name: str, table: Any) -> Candidate:
    ragged = ragged_columns(table)
    cols = [c for c in table.colnames if c not in ("start_time", "stop_time") and c not in ragged]
    auto = _auto_column(cols)
    if auto is not None:
        arg = f"stimulus={name!r}  (column {auto!r}; or stimulus=({name!r}, [columns]))"
        cli = f"--stimulus {name}  (column {auto!r}; or --stimulus {name}:col1,col2)"
    elif cols:
        arg = f"stimulus=({name!r}, {cols[0]!r})  (or any of its columns, several in a list)"
        cli = f"--stimulus {name}:{cols[0]}  (or any of its columns, several comma-separated)"
    else:
        arg = f"stimulus=({name!r}, 'id')  (one stimulus per row)"
        cli = f"--stimulus {name}:id  (one stimulus per row)"
    stop = np.asarray(table["stop_time"].data[:]) if len(table) else np.array([])
    return Candidate(kind, name, arg, len(table), bool(len(stop)) and bool(np.all(np.isfinite(stop))), cols, cli)


def find_candidates(nwbfile: Any) -> list[Candidate]:
    """Every presentation source of an open NWB file, in order of preference."""
    out = []
    for name, series in _index_series(nwbfile).items():
        out.append(
            Candidate(
                "IndexSeries", name, f"stimulus={name!r}", int(series.data.shape[0]), False, cli=f"--stimulus {name}"
            )
        )
    for name, table in _tables(nwbfile).items():
        out.append(_table_candidate("TimeIntervals", name, table))
    if nwbfile.trials is not None:
        out.append(_table_candidate("trials", "trials", nwbfile.trials))
    return out


def _candidates_message(cands: list[Candidate], *, cli: bool = False, both: bool = False) -> str:
    """One line per candidate with the argument picking it (``cli``: the flag; ``both``: the argument, then the
    flag), then the time-bins alternative."""

    def line(c: Candidate) -> str:
        return f"  - {c.describe(cli=cli)}" + (f"   [neurosuper nwb: {c.cli}]" if both and not cli else "")

    lines = [line(c) for c in cands]
    if cli:
        lines.append(
            "  - time bins instead of presentations: --stimulus bins --bin-size 0.05 (optionally --epochs NAME)"
        )
    else:
        lines.append(
            "  - time bins instead of presentations: stimulus='bins', bin_size=0.05 (optionally epochs=...)"
            + ("   [neurosuper nwb: --stimulus bins --bin-size 0.05]" if both else "")
        )
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("s" if n != 1 else "")


def _choose(nwbfile: Any, source: str) -> tuple[Candidate, list[str]]:
    """The only source of presentations (and the names of sources holding the same presentations), or an error
    listing every candidate."""
    cands = find_candidates(nwbfile)
    if not cands:
        raise layout_error(
            f"file {source!r}",
            "no presentations (no IndexSeries in nwbfile.stimulus, no TimeIntervals table, no trials table)",
            "stimulus presentations",
            "for spontaneous activity use stimulus='bins', bin_size=0.05 (and epochs='name' to bin only an epoch)",
            cli_fix="for spontaneous activity use --stimulus bins --bin-size 0.05 (and --epochs NAME to bin only "
            "an epoch)",
        )
    groups = _distinct_sources(nwbfile, cands)
    if len(groups) == 1:
        chosen = groups[0][0]
        if chosen.kind == "trials" and not _auto_column(chosen.columns):
            found = "a trials table without an obvious stimulus column and no {} choice"
            raise layout_error(
                f"file {source!r}",
                found.format("stimulus="),
                f"one of the columns {list(STIMULUS_COLUMNS)}, or a choice",
                f"pick the column(s) with\n{_candidates_message(cands, both=True)}",
                cli_fix=f"pick the column(s) with\n{_candidates_message(cands, cli=True)}",
                cli_found=found.format("--stimulus"),
            )
        return chosen, [c.name for c in groups[0][1:]]
    kinds = {k: sum(c.kind == k for c in cands) for k in ("IndexSeries", "TimeIntervals", "trials")}
    summary = ", ".join(_count(n, f"{k} candidate") for k, n in kinds.items() if n)
    found = f"{_count(len(groups), 'presentation source')} ({summary}) and no {{}} choice"
    expected = "the source to read named explicitly (neurosuper never picks one of several)"
    raise layout_error(
        f"file {source!r}",
        found.format("stimulus="),
        expected,
        f"pick one with\n{_candidates_message(cands, both=True)}",
        cli_fix=f"pick one with\n{_candidates_message(cands, cli=True)}",
        cli_found=found.format("--stimulus"),
    )


def _series_labels(series: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(onsets, stimulus id of each presentation as text)`` of an IndexSeries, without reading its images;
    None when its indices do not fit its template."""
    idx = np.asarray(series.data[:]).astype(np.int64)
    if series.timestamps is not None:
        onset = np.asarray(series.timestamps[:], dtype=np.float64)
    else:
        onset = float(series.starting_time or 0.0) + np.arange(len(idx)) / float(series.rate)
    template = getattr(series, "indexed_images", None)
    if template is None:
        return onset, idx.astype(str)
    names = np.asarray([img.name for img in _images_order(template)])
    if idx.size and (idx.min() < 0 or idx.max() >= names.size):
        return None
    return onset, names[idx]


def _table_labels(table: Any, column: str) -> tuple[np.ndarray, np.ndarray]:
    onset = np.asarray(table["start_time"].data[:], dtype=np.float64)
    values = decode(np.asarray(table[column].data[:]))
    return onset, np.asarray([str(v) for v in _as_ids(np.asarray(values)).tolist()])


def _same_presentations(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """Equal multisets of (onset, stimulus id) pairs (onsets to 1 ns)."""
    (ta, la), (tb, lb) = a, b
    if ta.size != tb.size or ta.size == 0:
        return False
    oa, ob = np.lexsort((la, ta)), np.lexsort((lb, tb))
    return bool(np.allclose(ta[oa], tb[ob], rtol=0, atol=1e-9) and np.array_equal(la[oa], lb[ob]))


def _distinct_sources(nwbfile: Any, cands: list[Candidate]) -> list[list[Candidate]]:
    """The candidates grouped by the presentations they hold: an IndexSeries joins every table whose onsets and
    stimulus ids (its guessed stimulus column) are the same presentations. Each group keeps preference order."""
    if len(cands) == 1:
        return [cands]
    series = _index_series(nwbfile)
    tables = {
        c.name: (nwbfile.trials if c.kind == "trials" else nwbfile.intervals[c.name])
        for c in cands
        if c.kind != "IndexSeries"
    }
    groups: list[list[Candidate]] = []
    joined: set[str] = set()
    for cand in cands:
        if cand.kind != "IndexSeries":
            continue
        group = [cand]
        labels = _series_labels(series[cand.name])
        for other in cands:
            column = _auto_column(other.columns)
            if (
                labels is None
                or other.kind == "IndexSeries"
                or other.name in joined
                or column is None
                or other.n_presentations != cand.n_presentations
            ):
                continue
            if _same_presentations(labels, _table_labels(tables[other.name], column)):
                group.append(other)
                joined.add(other.name)
        groups.append(group)
    groups += [[c] for c in cands if c.kind != "IndexSeries" and c.name not in joined]
    return groups


# ----------------------------------------------------------------------------------------------- ids
def _as_ids(values: np.ndarray) -> np.ndarray:
    """Stimulus ids from one column: integers stay integers (integral floats too), everything else a string."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        return np.asarray([repr(float(v)) for v in values])
    return np.asarray([str(v) for v in values.tolist()])


def _check_missing(frame: pd.DataFrame, columns: list[str], what: str, source: str) -> None:
    for col in columns:
        values = frame[col]
        missing = values.isna() | values.astype(str).isin(["", "nan", "None"])
        if missing.any():
            rows = frame.index[missing.to_numpy()]
            raise NWBLayoutError(
                f"{what} of {source!r}: found {int(missing.sum())} rows with missing values in "
                f"stimulus column {col!r} (row ids {preview(rows)}); expected a value in every "
                f"row. Fix: drop those rows with rows=lambda t: t[{col!r}].notna(), or choose "
                "another column."
            )


def ids_from_columns(
    frame: pd.DataFrame, columns: list[str], what: str, source: str
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(codes, ids, coords)``: one id per distinct combination of ``columns`` (joined with ``"|"``), sorted."""
    _check_missing(frame, columns, what, source)
    parts = [_as_ids(np.asarray(frame[c].to_numpy())) for c in columns]
    if len(parts) == 1:
        ids, codes = np.unique(parts[0], return_inverse=True)
        coords = {}
    else:
        factors = np.stack([pd.factorize(p, sort=True)[0] for p in parts], axis=1)
        uniq, codes = np.unique(factors, axis=0, return_inverse=True)
        first = np.zeros(len(uniq), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        ids = np.asarray(["|".join(str(p[i]) for p in parts) for i in first])
        coords = {c: np.asarray(frame[c].to_numpy())[first] for c in columns if c not in _RESERVED}
    return np.asarray(codes).ravel(), ids, coords


def constant_coords(frame: pd.DataFrame, codes: np.ndarray, n_ids: int, skip: set[str]) -> dict[str, np.ndarray]:
    """Other columns whose value is the same in every row of each stimulus: coords along ``stimulus``."""
    out = {}
    first = np.zeros(n_ids, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    for col in frame.columns:
        if col in skip or col in _RESERVED:
            continue
        values = np.asarray(frame[col].to_numpy())
        per_id = values[first]
        if values.dtype.kind == "f":
            same = np.allclose(values, per_id[codes], equal_nan=True, rtol=0, atol=0)
        else:
            same = bool(np.all(values == per_id[codes]))
        if same:
            out[col] = per_id if values.dtype.kind != "O" else per_id.astype(str)
    return out


# ----------------------------------------------------------------------------------------------- readers
def _apply_rows(frame: pd.DataFrame, rows: Any, what: str) -> tuple[pd.DataFrame, int]:
    if rows is None:
        return frame, 0
    mask = rows(frame.copy()) if callable(rows) else rows
    mask = np.asarray(mask.values if isinstance(mask, pd.Series) else mask)
    if mask.dtype != bool or mask.shape != (len(frame),):
        raise NWBLayoutError(
            f"rows= for {what}: found {mask.dtype} of shape {mask.shape}; expected a boolean "
            f"mask of shape ({len(frame)},), one per row. Fix: rows=lambda t: t.is_good == 1."
        )
    if not mask.any():
        raise NWBLayoutError(
            f"rows= for {what}: selected none of the {len(frame)} rows; expected at least one. "
            f"Fix: check the condition against the columns {list(frame.columns)}."
        )
    return frame[mask], int((~mask).sum())


def _image_arrays(images: list[Any]) -> np.ndarray | None:
    arrays = [np.asarray(img.data[()]) for img in images]
    if not arrays or len({a.shape for a in arrays}) != 1 or arrays[0].ndim not in (2, 3):
        return None
    return np.stack(arrays)


def _images_order(images: Any) -> list[Any]:
    order = getattr(images, "order_of_images", None)
    if order is not None:
        return list(order.data[:])
    return [images.images[k] for k in sorted(images.images)]


def _empty_source(nwbfile: Any, kind: str, name: str, source: str) -> NWBLayoutError:
    others = [c for c in find_candidates(nwbfile) if c.name != name]
    return layout_error(
        f"{kind} {name!r} of {source!r}",
        "0 presentations (an empty source)",
        "at least one presentation",
        f"pick another source:\n{_candidates_message(others, both=True)}",
        cli_fix=f"pick another source:\n{_candidates_message(others, cli=True)}",
    )


def _read_index_series(nwbfile: Any, series: Any, source: str) -> Presentations:
    if int(series.data.shape[0]) == 0:
        raise _empty_source(nwbfile, "IndexSeries", series.name, source)
    idx = np.asarray(series.data[:]).astype(np.int64)
    if series.timestamps is not None:
        onset = np.asarray(series.timestamps[:], dtype=np.float64)
    else:
        onset = float(series.starting_time or 0.0) + np.arange(len(idx)) / float(series.rate)
    uniq, codes = np.unique(idx, return_inverse=True)
    stimuli = None
    attrs: dict[str, Any] = {"stimulus_source": "IndexSeries", "stimulus_table": series.name}
    template = getattr(series, "indexed_images", None)
    if template is not None:
        order = _images_order(template)
        bad = uniq[(uniq < 0) | (uniq >= len(order))]
        if bad.size:
            raise NWBLayoutError(
                f"IndexSeries {series.name!r} of {source!r}: found indices {preview(bad)} outside "
                f"the {len(order)} images of {template.name!r}; expected 0..{len(order) - 1}. "
                "Fix: repair the file, or load the equivalent TimeIntervals table."
            )
        chosen = [order[i] for i in uniq]
        names = [img.name for img in chosen]
        # integer ids written as image names ("0", "17", ...) come back as integers
        ids = np.asarray([int(v) for v in names] if all(_is_int(v) for v in names) else names)
        stimuli = _image_arrays(chosen)
        attrs["stimulus_template"] = template.name
    else:
        ids = uniq
        frames = getattr(series, "indexed_timeseries", None)
        data = getattr(frames, "data", None)
        if (
            frames is not None
            and data is not None
            and len(getattr(data, "shape", ())) in (3, 4)
            and data.shape[0] > uniq.max()
        ):
            stimuli = np.stack([np.asarray(data[int(i)]) for i in uniq])
            attrs["stimulus_template"] = frames.name
    return Presentations(
        start=onset, stop=np.full(len(onset), np.nan), onset=onset, codes=codes, ids=ids, stimuli=stimuli, attrs=attrs
    )


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit() and str(int(text)) == text


def _template_stimuli(nwbfile: Any, ids: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """Images of a stimulus template whose names are exactly the stimulus ids (the writer's layout)."""
    from pynwb.base import Images

    wanted = [str(i) for i in ids.tolist()]
    for name, template in nwbfile.stimulus_template.items():
        if isinstance(template, Images) and set(wanted) <= set(template.images):
            stimuli = _image_arrays([template.images[w] for w in wanted])
            if stimuli is not None:
                return stimuli, name
    return None, None


def _read_table(
    nwbfile: Any,
    kind: str,
    name: str,
    table: Any,
    columns: str | list[str] | None,
    align: str | None,
    align_relative: bool | str,
    rows: Any,
    source: str,
) -> Presentations:
    if len(table) == 0:
        raise _empty_source(nwbfile, f"{kind} table", name, source)
    frame = read_scalar_columns(table)
    frame["id"] = frame.index.to_numpy()
    what = f"{kind} table {name!r}"
    available = [c for c in frame.columns if c not in ("start_time", "stop_time")]
    if columns is None:
        columns = _auto_column(available)
        if columns is None:
            raise NWBLayoutError(
                f"{what} of {source!r}: found no obvious stimulus column among {available}; "
                f"expected one of {list(STIMULUS_COLUMNS)}. Fix: name it, e.g. "
                f"stimulus=({name!r}, {available[0]!r}), or several in a list."
            )
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols:
        raise NWBLayoutError(
            f"{what}: found an empty column list; expected at least one column. "
            f"Fix: stimulus=({name!r}, {available[0]!r})."
        )
    ragged = ragged_columns(table)
    for col in cols + ([align] if align else []):
        if col not in frame.columns:
            kind_of = "is ragged (a list per row)" if col in ragged else "does not exist"
            raise NWBLayoutError(
                f"{what} of {source!r}: column {col!r} {kind_of}; expected a scalar column, one of "
                f"{available}. Fix: choose one of those (several stimulus columns in a list)."
            )
    frame, n_dropped = _apply_rows(frame, rows, what)
    start = frame["start_time"].to_numpy(dtype=np.float64)
    stop = frame["stop_time"].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(start)):
        raise NWBLayoutError(
            f"{what} of {source!r}: found {int((~np.isfinite(start)).sum())} rows without a "
            "start_time; expected a start time in every row. Fix: drop them with rows=."
        )
    attrs: dict[str, Any] = {"stimulus_source": kind, "stimulus_table": name, "stimulus_columns": cols}
    if n_dropped:
        attrs["n_rows_dropped"] = n_dropped
    onset = start
    if align is not None:
        onset = _aligned(frame, align, align_relative, start, stop, what, source, attrs)
    codes, ids, coords = ids_from_columns(frame, cols, what, source)
    coords.update(constant_coords(frame, codes, len(ids), set(cols) if align is None else {*cols, align}))
    pres = Presentations(start=start, stop=stop, onset=onset, codes=codes, ids=ids, coords=coords, attrs=attrs)
    pres.stimuli, template = _template_stimuli(nwbfile, ids)
    if template is not None:
        attrs["stimulus_template"] = template
    return pres


def _aligned(
    frame: pd.DataFrame,
    align: str,
    align_relative: bool | str,
    start: np.ndarray,
    stop: np.ndarray,
    what: str,
    source: str,
    attrs: dict[str, Any],
) -> np.ndarray:
    """Onsets from the align column: absolute times, or times relative to each row's start (added to it).

    ``align_relative="auto"``: absolute when every value lies in its own row's ``[start, end]``, relative when
    every value lies in ``[0, end - start]`` (``end`` = stop_time; a NaN stop_time leaves the row open-ended, as
    in the Svoboda-lab ALM files whose cue times can fall after the next row's start_time); both → absolute (NWB
    stores times from the session reference) with a warning; neither → error.
    """
    values = np.asarray(frame[align].to_numpy())
    if values.dtype.kind not in "iuf":
        raise NWBLayoutError(
            f"{what}: align column {align!r} holds {values.dtype} values; expected times in "
            "seconds. Fix: choose a time column (e.g. one ending in '_time')."
        )
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise NWBLayoutError(
            f"{what} of {source!r}: found {int((~np.isfinite(values)).sum())} rows without a "
            f"value in align column {align!r}; expected a time in every row. Fix: drop them with "
            f"rows=lambda t: t[{align!r}].notna()."
        )
    attrs["align"] = align
    if align_relative == "auto":
        end = np.where(np.isnan(stop), np.inf, stop)
        relative = _align_rule(values, start, end, frame.index.to_numpy(), align, what, source)
        attrs["align_rule"] = "auto"
    else:
        relative = bool(align_relative)
        attrs["align_rule"] = "align_relative argument"
    attrs["align_relative"] = relative
    return start + values if relative else values


def _align_rule(
    values: np.ndarray, start: np.ndarray, end: np.ndarray, ids: np.ndarray, align: str, what: str, source: str
) -> bool:
    """True (relative) or False (absolute) by where the values lie; warns when both fit, raises when neither."""
    tol = 1e-9
    absolute = (values >= start - tol) & (values <= end + tol)
    relative = (values >= -tol) & (values <= end - start + tol)
    span = f"{values.min():.6g}..{values.max():.6g} s"
    rule = (
        "absolute when every value lies in its own row's [start_time, stop_time], relative when every value "
        "lies in [0, stop_time - start_time] (a NaN stop_time: open-ended)"
    )
    choose = (
        "align_relative=True (values are offsets from each row's start_time) or align_relative=False "
        "(values are absolute times)"
    )
    choose_cli = "--align-relative true (offsets from each row's start_time) or --align-relative false (absolute)"
    if absolute.all() and relative.all():
        message = (
            f"align column {align!r} of {what}: every value ({span}) fits both as an absolute time inside "
            "its own row and as an offset from the row's start, so the values are taken as absolute times "
            "(NWB stores times from the session reference; attrs['align_relative'] = False). If they are "
            "offsets, pass {}; passing either silences this warning"
        )
        warnings.warn(
            nwb_warning(message.format(choose.split(" or ")[0]), cli=message.format(choose_cli.split(" or ")[0])),
            stacklevel=6,
        )
        return False
    if absolute.all():
        return False
    if relative.all():
        open_ended = " (open-ended where stop_time is NaN)" if np.isinf(end).any() else ""
        message = (
            f"align column {align!r} of {what}: the values ({span}) are not inside their rows' "
            f"[start_time, stop_time] but every one lies in [0, stop_time - start_time]{open_ended}, so they "
            "are taken as relative to the row start and added to it (attrs['align_relative'] = True); pass {} "
            "to state it and silence this warning"
        )
        warnings.warn(
            nwb_warning(message.format("align_relative=True"), cli=message.format("--align-relative true")),
            stacklevel=6,
        )
        return True
    bad_abs, bad_rel = np.flatnonzero(~absolute), np.flatnonzero(~relative)
    i, j = bad_abs[0], bad_rel[0]
    ids = ids.tolist()
    found = (
        f"values ({span}) that fit neither rule: {len(bad_abs)} of {len(values)} rows lie outside their own "
        f"[start_time, stop_time] (e.g. row id {ids[i]!r}: {values[i]:.6g} not in [{start[i]:.6g}, "
        f"{end[i]:.6g}]) and {len(bad_rel)} outside [0, stop_time - start_time] (e.g. row id {ids[j]!r}: "
        f"{values[j]:.6g} not in [0, {end[j] - start[j]:.6g}])"
    )
    fix = (
        f"check that {align!r} holds onset times; drop the rows outside with rows=...; or state the convention "
        f"with {choose}"
    )
    raise layout_error(
        f"align column {align!r} of {what} in {source!r}",
        found,
        rule,
        fix,
        cli_fix=f"check that {align!r} holds onset times, or state the convention with {choose_cli}",
    )


def resolve_presentations(
    nwbfile: Any, source: str, *, stimulus: Any, align: str | None, rows: Any, align_relative: bool | str = "auto"
) -> Presentations:
    """The presentations picked by ``stimulus=`` (see :func:`neurosuper.io.nwb.load_nwb`)."""
    columns: str | list[str] | None = None
    same_as: list[str] = []
    if stimulus is None:
        cand, same_as = _choose(nwbfile, source)
        name, kind = cand.name, cand.kind
    else:
        if isinstance(stimulus, tuple | list):
            if len(stimulus) != 2 or not isinstance(stimulus[0], str):
                raise NWBLayoutError(
                    f"stimulus=: found {stimulus!r}; expected a name, (table, column) or "
                    "(table, [columns]). Fix: e.g. stimulus=('trials', ['type', 'response'])."
                )
            name, columns = stimulus[0], stimulus[1]
        elif isinstance(stimulus, str):
            name = stimulus
        else:
            raise NWBLayoutError(
                f"stimulus=: found a {type(stimulus).__name__}; expected a name, (table, column) or "
                "'bins'. Fix: e.g. stimulus='trials' or stimulus=('trials', 'type')."
            )
        kind = _kind_of(nwbfile, name, columns, source)
    if kind == "IndexSeries":
        if align is not None:
            raise NWBLayoutError(
                f"align={align!r}: found an IndexSeries {name!r}, which has no other time columns; "
                "expected a table. Fix: drop align= (shift the window instead)."
            )
        if rows is not None:
            raise NWBLayoutError(
                f"rows=: found an IndexSeries {name!r}; rows= filters table rows only. Fix: drop "
                "rows=, or load the equivalent TimeIntervals table."
            )
        pres = _read_index_series(nwbfile, _index_series(nwbfile)[name], source)
    else:
        table = nwbfile.trials if kind == "trials" and name == "trials" else nwbfile.intervals[name]
        pres = _read_table(nwbfile, kind, name, table, columns, align, align_relative, rows, source)
    if same_as:
        pres.attrs["stimulus_same_as"] = same_as  # sources holding the very same presentations
    return pres


def _kind_of(nwbfile: Any, name: str, columns: Any, source: str) -> str:
    series = _index_series(nwbfile)
    intervals = dict(nwbfile.intervals or {})
    if nwbfile.trials is not None:
        intervals.setdefault("trials", nwbfile.trials)
    if name in series and name in intervals:
        raise NWBLayoutError(
            f"stimulus={name!r}: found both an IndexSeries and a TimeIntervals table of that name; "
            f"expected one. Fix: pass stimulus=({name!r}, 'column') for the table."
        )
    if name in series and columns is None:
        return "IndexSeries"
    if name in intervals:
        return "trials" if name == "trials" else "TimeIntervals"
    cands = find_candidates(nwbfile)
    found = f"no IndexSeries or TimeIntervals table of that name in {source!r} (interval tables: {sorted(intervals)})"
    raise layout_error(
        f"stimulus={name!r}",
        found,
        "one of the file's presentation sources",
        f"pick one of these:\n{_candidates_message(cands, both=True)}",
        cli_what=f"--stimulus {name}",
        cli_fix=f"pick one of these:\n{_candidates_message(cands, cli=True)}",
    )


# ----------------------------------------------------------------------------------------------- bins
def _epoch_intervals(nwbfile: Any, epochs: Any, source: str) -> tuple[list[tuple[float, float]], list[str]]:
    if isinstance(epochs, tuple) and len(epochs) == 2 and all(isinstance(v, int | float) for v in epochs):
        return [(float(epochs[0]), float(epochs[1]))], ["0"]
    if isinstance(epochs, list) and epochs and all(isinstance(e, tuple | list) and len(e) == 2 for e in epochs):
        return [(float(a), float(b)) for a, b in epochs], [str(i) for i in range(len(epochs))]
    if not isinstance(epochs, str):
        raise NWBLayoutError(
            f"epochs=: found {epochs!r}; expected an interval table name, an epoch tag, "
            "(start, stop) or a list of them. Fix: e.g. epochs='epochs' or epochs=(0, 600)."
        )
    intervals = dict(nwbfile.intervals or {})
    if epochs in intervals:
        table = intervals[epochs]
        start, stop = table["start_time"].data[:], table["stop_time"].data[:]
        return list(zip(map(float, start), map(float, stop), strict=True)), [f"{epochs}[{i}]" for i in table.id.data[:]]
    tags_found: set[str] = set()
    out: list[tuple[float, float]] = []
    labels: list[str] = []
    for table in intervals.values():
        if "tags" not in table.colnames:
            continue
        for row, tags in enumerate(table["tags"][:]):
            tags = [decode(t) for t in tags]
            tags_found.update(tags)
            if epochs in tags:
                out.append((float(table["start_time"].data[row]), float(table["stop_time"].data[row])))
                labels.append(epochs if len(labels) == 0 else f"{epochs}#{len(labels)}")
    if not out:
        raise NWBLayoutError(
            f"epochs={epochs!r}: found no interval table or epoch tag of that name in {source!r} "
            f"(tables {sorted(intervals)}, tags {sorted(tags_found)}); expected one of them. "
            "Fix: pass one of those names, or epochs=(start, stop) in seconds."
        )
    return out, labels


#: bytes per time bin besides the responses (edges, start/stop/ids/codes, the edge index, epoch labels)
_BIN_OVERHEAD = 16 * 8


def _check_bins(n_bins: int, n_units: int, bin_size: float, what: str, cli_what: str | None = None) -> None:
    per_bin = 8 * n_units + _BIN_OVERHEAD
    check_allocation(
        n_bins * per_bin,
        n_bins * n_units * 8,
        what=f"stimulus='bins', bin_size={bin_size:g} over {what}",
        shape=f"{n_bins:,} bins x {n_units:,} units",
        scale=lambda factor: (
            f"a larger bin_size (e.g. bin_size={nice_number(bin_size * factor)}), a shorter span "
            "(epochs=(start, stop)), or fewer units (units=...)"
        ),
        cli_scale=lambda factor: (
            f"a larger --bin-size (e.g. --bin-size {nice_number(bin_size * factor)}), or a shorter span (--epochs NAME)"
        ),
        cli_what=f"--stimulus bins --bin-size {bin_size:g} over {cli_what or what}",
    )


def bin_presentations(
    nwbfile: Any, source: str, *, bin_size: float, epochs: Any, span: tuple[float, float] | None, n_units: int = 1
) -> Presentations:
    """Consecutive time bins, each a stimulus: over each epoch (partial trailing bins dropped), else over ``span``
    on a grid of multiples of ``bin_size`` covering the first to the last sample. The size of the result for
    ``n_units`` units is checked against the memory available before any bin is made."""
    attrs: dict[str, Any] = {"stimulus_source": "bins", "bin_size": float(bin_size)}
    if epochs is not None:
        intervals, labels = _epoch_intervals(nwbfile, epochs, source)
        attrs["epochs"] = epochs if isinstance(epochs, str) else [list(map(float, e)) for e in intervals]
        for a, b in intervals:
            if not b > a:
                raise NWBLayoutError(
                    f"epochs={epochs!r}: found an interval ({a}, {b}) with stop <= start; "
                    "expected stop > start. Fix: check the epoch times."
                )
        counts = [int(np.floor((b - a) / bin_size + 1e-9)) for a, b in intervals]
        _check_bins(
            sum(counts),
            n_units,
            bin_size,
            f"epochs={epochs!r}",
            f"--epochs {epochs}" if isinstance(epochs, str) else "the epochs",
        )
        starts, stops = [], []
        for (a, _), n in zip(intervals, counts, strict=True):
            grid = a + np.arange(n + 1) * bin_size  # shared edges: a bin's stop is exactly the next one's start
            starts.append(grid[:-1])
            stops.append(grid[1:])
        epoch_of = np.repeat(np.asarray(labels), counts)
        start, stop = np.concatenate(starts), np.concatenate(stops)
        if start.size == 0:
            raise NWBLayoutError(
                f"bin_size={bin_size}: found epochs shorter than one bin ({intervals}); expected at "
                "least one complete bin. Fix: use a smaller bin_size."
            )
        coords = {"start_time": start, "epoch": epoch_of}
    else:
        if span is None:
            raise NWBLayoutError(
                f"file {source!r}: found no spikes or samples to bin; expected data. Fix: check the units selection."
            )
        k0, k1 = np.floor(span[0] / bin_size), np.floor(span[1] / bin_size)
        _check_bins(int(k1 - k0) + 1, n_units, bin_size, f"the recording ({span[0]:.6g}..{span[1]:.6g} s)")
        grid = np.arange(k0, k1 + 2) * bin_size
        start, stop = grid[:-1], grid[1:]
        coords = {"start_time": start}
        attrs["span"] = [float(span[0]), float(span[1])]
    n = start.size
    return Presentations(
        start=start, stop=stop, onset=start, codes=np.arange(n), ids=np.arange(n), coords=coords, attrs=attrs
    )
