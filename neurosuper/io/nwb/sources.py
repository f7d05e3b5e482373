"""Where presentations come from: an IndexSeries, a TimeIntervals table, the trials table — found and resolved.

Preference order when ``stimulus=None``: one ``IndexSeries`` in ``nwbfile.stimulus``; else one TimeIntervals table
in ``nwbfile.intervals`` (not ``trials``/``epochs``/``invalid_times``); else the ``trials`` table when it has an
obvious stimulus column. Several candidates of the preferred kind, or none, raise :class:`NWBLayoutError`
listing every candidate and the exact ``stimulus=`` argument that picks it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import NeurosuperWarning, NWBLayoutError
from ._table import decode, preview, ragged_columns, read_scalar_columns

__all__ = ["Candidate", "Presentations", "find_candidates", "resolve_presentations", "STIMULUS_COLUMNS"]

#: Column names taken as the stimulus identity of a table, in order of preference.
STIMULUS_COLUMNS = ("stimulus_id", "image_id", "image_name", "image_index", "image", "frame", "condition",
                    "stimulus", "stimulus_name", "trial_type")
_NOT_PRESENTATIONS = ("trials", "epochs", "invalid_times")
_RESERVED = {"unit", "stimulus", "repeat", "time", "responses", "stimuli", "onset", "n_repeats", "start_time",
             "stop_time", "id"}


@dataclass
class Candidate:
    """One possible source of presentations, and the ``stimulus=`` argument that picks it."""

    kind: str  # "IndexSeries", "TimeIntervals", "trials"
    name: str
    argument: str
    n_presentations: int
    has_stop: bool
    columns: list[str] = field(default_factory=list)

    def describe(self) -> str:
        stop = "start/stop times" if self.has_stop else "onsets only (window= required)"
        cols = f", columns {self.columns}" if self.columns else ""
        return f"{self.kind} {self.name!r} ({self.n_presentations} presentations, {stop}{cols}): {self.argument}"


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
    return {name: t for name, t in (nwbfile.intervals or {}).items()
            if name not in _NOT_PRESENTATIONS and id(t) not in special}


def _auto_column(columns: list[str]) -> str | None:
    return next((c for c in STIMULUS_COLUMNS if c in columns), None)


def _table_candidate(kind: str, name: str, table: Any) -> Candidate:
    ragged = ragged_columns(table)
    cols = [c for c in table.colnames if c not in ("start_time", "stop_time") and c not in ragged]
    auto = _auto_column(cols)
    if auto is not None:
        arg = f"stimulus={name!r}  (column {auto!r}; or stimulus=({name!r}, [columns]))"
    elif cols:
        arg = f"stimulus=({name!r}, {cols[0]!r})  (or any of its columns, several in a list)"
    else:
        arg = f"stimulus=({name!r}, 'id')  (one stimulus per row)"
    stop = np.asarray(table["stop_time"].data[:]) if len(table) else np.array([])
    return Candidate(kind, name, arg, len(table), bool(len(stop)) and bool(np.all(np.isfinite(stop))), cols)


def find_candidates(nwbfile: Any) -> list[Candidate]:
    """Every presentation source of an open NWB file, in order of preference."""
    out = []
    for name, series in _index_series(nwbfile).items():
        out.append(Candidate("IndexSeries", name, f"stimulus={name!r}", int(series.data.shape[0]), False))
    for name, table in _tables(nwbfile).items():
        out.append(_table_candidate("TimeIntervals", name, table))
    if nwbfile.trials is not None:
        out.append(_table_candidate("trials", "trials", nwbfile.trials))
    return out


def _candidates_message(cands: list[Candidate]) -> str:
    lines = [f"  - {c.describe()}" for c in cands]
    lines.append("  - time bins instead of presentations: stimulus='bins', bin_size=0.05 (optionally epochs=...)")
    return "\n".join(lines)


def _choose(nwbfile: Any, source: str) -> tuple[Candidate, str | list[str] | None]:
    cands = find_candidates(nwbfile)
    for kind in ("IndexSeries", "TimeIntervals", "trials"):
        of_kind = [c for c in cands if c.kind == kind]
        if not of_kind:
            continue
        if len(of_kind) == 1 and (kind != "trials" or _auto_column(of_kind[0].columns)):
            return of_kind[0], None
        reason = (f"{len(of_kind)} {kind} candidates" if len(of_kind) > 1
                  else "a trials table without an obvious stimulus column")
        raise NWBLayoutError(f"file {source!r}: found {reason} and no stimulus= choice; expected one unambiguous "
                             f"source of presentations. Fix: pick one with\n{_candidates_message(cands)}")
    raise NWBLayoutError(f"file {source!r}: found no presentations (no IndexSeries in nwbfile.stimulus, no "
                         "TimeIntervals table, no trials table); expected stimulus presentations. Fix: for "
                         "spontaneous activity use stimulus='bins', bin_size=0.05 (and epochs='name' to bin only "
                         "an epoch).")


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
            raise NWBLayoutError(f"{what} of {source!r}: found {int(missing.sum())} rows with missing values in "
                                 f"stimulus column {col!r} (row ids {preview(rows)}); expected a value in every "
                                 f"row. Fix: drop those rows with rows=lambda t: t[{col!r}].notna(), or choose "
                                 "another column.")


def ids_from_columns(frame: pd.DataFrame, columns: list[str], what: str, source: str
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
        raise NWBLayoutError(f"rows= for {what}: found {mask.dtype} of shape {mask.shape}; expected a boolean "
                             f"mask of shape ({len(frame)},), one per row. Fix: rows=lambda t: t.is_good == 1.")
    if not mask.any():
        raise NWBLayoutError(f"rows= for {what}: selected none of the {len(frame)} rows; expected at least one. "
                             f"Fix: check the condition against the columns {list(frame.columns)}.")
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


def _read_index_series(series: Any, source: str) -> Presentations:
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
            raise NWBLayoutError(f"IndexSeries {series.name!r} of {source!r}: found indices {preview(bad)} outside "
                                 f"the {len(order)} images of {template.name!r}; expected 0..{len(order) - 1}. "
                                 "Fix: repair the file, or load the equivalent TimeIntervals table.")
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
        if data is not None and len(getattr(data, "shape", ())) in (3, 4) and data.shape[0] > uniq.max():
            stimuli = np.stack([np.asarray(data[int(i)]) for i in uniq])
            attrs["stimulus_template"] = frames.name
    return Presentations(start=onset, stop=np.full(len(onset), np.nan), onset=onset, codes=codes, ids=ids,
                         stimuli=stimuli, attrs=attrs)


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


def _read_table(nwbfile: Any, kind: str, name: str, table: Any, columns: str | list[str] | None,
                align: str | None, rows: Any, source: str) -> Presentations:
    frame = read_scalar_columns(table)
    frame["id"] = frame.index.to_numpy()
    what = f"{kind} table {name!r}"
    available = [c for c in frame.columns if c not in ("start_time", "stop_time")]
    if columns is None:
        columns = _auto_column(available)
        if columns is None:
            raise NWBLayoutError(f"{what} of {source!r}: found no obvious stimulus column among {available}; "
                                 f"expected one of {list(STIMULUS_COLUMNS)}. Fix: name it, e.g. "
                                 f"stimulus=({name!r}, {available[0]!r}), or several in a list.")
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols:
        raise NWBLayoutError(f"{what}: found an empty column list; expected at least one column. "
                             f"Fix: stimulus=({name!r}, {available[0]!r}).")
    ragged = ragged_columns(table)
    for col in cols + ([align] if align else []):
        if col not in frame.columns:
            kind_of = "is ragged (a list per row)" if col in ragged else "does not exist"
            raise NWBLayoutError(f"{what} of {source!r}: column {col!r} {kind_of}; expected a scalar column, one of "
                                 f"{available}. Fix: choose one of those (several stimulus columns in a list).")
    frame, n_dropped = _apply_rows(frame, rows, what)
    start = frame["start_time"].to_numpy(dtype=np.float64)
    stop = frame["stop_time"].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(start)):
        raise NWBLayoutError(f"{what} of {source!r}: found {int((~np.isfinite(start)).sum())} rows without a "
                             "start_time; expected a start time in every row. Fix: drop them with rows=.")
    attrs: dict[str, Any] = {"stimulus_source": kind, "stimulus_table": name, "stimulus_columns": cols}
    if n_dropped:
        attrs["n_rows_dropped"] = n_dropped
    onset = start
    if align is not None:
        onset = _aligned(frame, align, start, what, source, attrs)
    codes, ids, coords = ids_from_columns(frame, cols, what, source)
    coords.update(constant_coords(frame, codes, len(ids), set(cols) | {align}))
    pres = Presentations(start=start, stop=stop, onset=onset, codes=codes, ids=ids, coords=coords, attrs=attrs)
    pres.stimuli, template = _template_stimuli(nwbfile, ids)
    if template is not None:
        attrs["stimulus_template"] = template
    return pres


def _aligned(frame: pd.DataFrame, align: str, start: np.ndarray, what: str, source: str,
             attrs: dict[str, Any]) -> np.ndarray:
    values = np.asarray(frame[align].to_numpy())
    if values.dtype.kind not in "iuf":
        raise NWBLayoutError(f"{what}: align column {align!r} holds {values.dtype} values; expected times in "
                             "seconds. Fix: choose a time column (e.g. one ending in '_time').")
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise NWBLayoutError(f"{what} of {source!r}: found {int((~np.isfinite(values)).sum())} rows without a "
                             f"value in align column {align!r}; expected a time in every row. Fix: drop them with "
                             f"rows=lambda t: t[{align!r}].notna().")
    attrs["align"] = align
    relative = bool(np.all(values < start))
    attrs["align_relative"] = relative
    if relative:
        warnings.warn(f"align column {align!r} of {what}: every value ({values.min():.3g}..{values.max():.3g} s) is "
                      "smaller than its row's start_time, so the values are taken as relative to the row start and "
                      "added to it (recorded as attrs['align_relative'] = True)", NeurosuperWarning, stacklevel=5)
        return start + values
    return values


def resolve_presentations(nwbfile: Any, source: str, *, stimulus: Any, align: str | None,
                          rows: Any) -> Presentations:
    """The presentations picked by ``stimulus=`` (see :func:`neurosuper.io.nwb.load_nwb`)."""
    columns: str | list[str] | None = None
    if stimulus is None:
        cand, columns = _choose(nwbfile, source)
        name, kind = cand.name, cand.kind
    else:
        if isinstance(stimulus, tuple | list):
            if len(stimulus) != 2 or not isinstance(stimulus[0], str):
                raise NWBLayoutError(f"stimulus=: found {stimulus!r}; expected a name, (table, column) or "
                                     "(table, [columns]). Fix: e.g. stimulus=('trials', ['type', 'response']).")
            name, columns = stimulus[0], stimulus[1]
        elif isinstance(stimulus, str):
            name = stimulus
        else:
            raise NWBLayoutError(f"stimulus=: found a {type(stimulus).__name__}; expected a name, (table, column) or "
                                 "'bins'. Fix: e.g. stimulus='trials' or stimulus=('trials', 'type').")
        kind = _kind_of(nwbfile, name, columns, source)
    if kind == "IndexSeries":
        if align is not None:
            raise NWBLayoutError(f"align={align!r}: found an IndexSeries {name!r}, which has no other time columns; "
                                 "expected a table. Fix: drop align= (shift the window instead).")
        if rows is not None:
            raise NWBLayoutError(f"rows=: found an IndexSeries {name!r}; rows= filters table rows only. Fix: drop "
                                 "rows=, or load the equivalent TimeIntervals table.")
        return _read_index_series(_index_series(nwbfile)[name], source)
    table = nwbfile.trials if kind == "trials" and name == "trials" else nwbfile.intervals[name]
    return _read_table(nwbfile, kind, name, table, columns, align, rows, source)


def _kind_of(nwbfile: Any, name: str, columns: Any, source: str) -> str:
    series = _index_series(nwbfile)
    intervals = dict(nwbfile.intervals or {})
    if nwbfile.trials is not None:
        intervals.setdefault("trials", nwbfile.trials)
    if name in series and name in intervals:
        raise NWBLayoutError(f"stimulus={name!r}: found both an IndexSeries and a TimeIntervals table of that name; "
                             f"expected one. Fix: pass stimulus=({name!r}, 'column') for the table.")
    if name in series and columns is None:
        return "IndexSeries"
    if name in intervals:
        return "trials" if name == "trials" else "TimeIntervals"
    cands = find_candidates(nwbfile)
    raise NWBLayoutError(f"stimulus={name!r}: found no IndexSeries or TimeIntervals table of that name in "
                         f"{source!r} (interval tables: {sorted(intervals)}); expected one of these:\n"
                         f"{_candidates_message(cands)}")


# ----------------------------------------------------------------------------------------------- bins
def _epoch_intervals(nwbfile: Any, epochs: Any, source: str) -> tuple[list[tuple[float, float]], list[str]]:
    if isinstance(epochs, tuple) and len(epochs) == 2 and all(isinstance(v, int | float) for v in epochs):
        return [(float(epochs[0]), float(epochs[1]))], ["0"]
    if isinstance(epochs, list) and epochs and all(isinstance(e, tuple | list) and len(e) == 2 for e in epochs):
        return [(float(a), float(b)) for a, b in epochs], [str(i) for i in range(len(epochs))]
    if not isinstance(epochs, str):
        raise NWBLayoutError(f"epochs=: found {epochs!r}; expected an interval table name, an epoch tag, "
                             "(start, stop) or a list of them. Fix: e.g. epochs='epochs' or epochs=(0, 600).")
    intervals = dict(nwbfile.intervals or {})
    if epochs in intervals:
        table = intervals[epochs]
        start, stop = table["start_time"].data[:], table["stop_time"].data[:]
        return list(zip(map(float, start), map(float, stop), strict=True)), [f"{epochs}[{i}]" for i in
                                                                                 table.id.data[:]]
    tags_found: set[str] = set()
    out, labels = [], []
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
        raise NWBLayoutError(f"epochs={epochs!r}: found no interval table or epoch tag of that name in {source!r} "
                             f"(tables {sorted(intervals)}, tags {sorted(tags_found)}); expected one of them. "
                             "Fix: pass one of those names, or epochs=(start, stop) in seconds.")
    return out, labels


def bin_presentations(nwbfile: Any, source: str, *, bin_size: float, epochs: Any,
                      span: tuple[float, float] | None) -> Presentations:
    """Consecutive time bins, each a stimulus: over each epoch (partial trailing bins dropped), else over ``span``
    on a grid of multiples of ``bin_size`` covering the first to the last sample."""
    attrs: dict[str, Any] = {"stimulus_source": "bins", "bin_size": float(bin_size)}
    if epochs is not None:
        intervals, labels = _epoch_intervals(nwbfile, epochs, source)
        attrs["epochs"] = epochs if isinstance(epochs, str) else [list(map(float, e)) for e in intervals]
        starts, stops, epoch_of = [], [], []
        for (a, b), label in zip(intervals, labels, strict=True):
            if not b > a:
                raise NWBLayoutError(f"epochs={epochs!r}: found an interval ({a}, {b}) with stop <= start; "
                                     "expected stop > start. Fix: check the epoch times.")
            n = int(np.floor((b - a) / bin_size + 1e-9))
            grid = a + np.arange(n + 1) * bin_size  # shared edges: a bin's stop is exactly the next one's start
            starts.append(grid[:-1])
            stops.append(grid[1:])
            epoch_of += [label] * n
        start, stop = np.concatenate(starts), np.concatenate(stops)
        if start.size == 0:
            raise NWBLayoutError(f"bin_size={bin_size}: found epochs shorter than one bin ({intervals}); expected at "
                                 "least one complete bin. Fix: use a smaller bin_size.")
        coords = {"start_time": start, "epoch": np.asarray(epoch_of)}
    else:
        if span is None:
            raise NWBLayoutError(f"file {source!r}: found no spikes or samples to bin; expected data. "
                                 "Fix: check the units selection.")
        k0, k1 = np.floor(span[0] / bin_size), np.floor(span[1] / bin_size)
        grid = np.arange(k0, k1 + 2) * bin_size
        start, stop = grid[:-1], grid[1:]
        coords = {"start_time": start}
        attrs["span"] = [float(span[0]), float(span[1])]
    n = start.size
    return Presentations(start=start, stop=stop, onset=start, codes=np.arange(n), ids=np.arange(n),
                         coords=coords, attrs=attrs)
