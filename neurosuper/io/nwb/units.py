"""The units table: per-unit metadata (without reading spike times), ``units=`` selection, spike times unit by unit.

Spike times are read through the ragged index (``spike_times_index`` holds each unit's end offset into the flat
``spike_times`` dataset), one unit at a time, so the spikes of all units are never in memory together. NaN spike
times (no spike lies at "not a number") are dropped and counted per unit; unsorted trains are sorted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import NWBLayoutError
from ._table import decode, is_scalar_column, preview

__all__ = ["UnitsTable", "read_units", "select_units", "units_table_coords", "parse_location"]

#: Coord names a unit column may not take (they are dims of the ResponseSet).
_RESERVED = {"unit", "stimulus", "repeat", "time", "responses", "stimuli", "onset"}


@dataclass
class UnitsTable:
    """Metadata of every unit in file order and access to their spike times."""

    ids: np.ndarray
    meta: pd.DataFrame  # index = unit id; scalar columns, 'area' (if any), 'n_spikes'
    ends: np.ndarray  # end offset of each unit's spikes in the flat dataset
    spikes: Any  # the flat spike_times dataset (h5py.Dataset or array)
    nan_dropped: dict[int, int] = field(default_factory=dict)  # row -> NaN spike times dropped (rows read so far)

    def spike_times(self, rows: Sequence[int], *, block: int = 2**22) -> Iterator[tuple[int, np.ndarray, bool]]:
        """Yield ``(row, sorted finite-or-inf spike times, was_unsorted)`` for each row (file position) in ``rows``.

        NaN spike times are dropped; their number is recorded in ``nan_dropped[row]``. Consecutive rows are read
        together, up to ``block`` spikes (32 MB) per read, into one reused buffer, so a session costs a few large
        reads and no fresh memory per block. Each yielded array is a view into that buffer (or, when NaNs were
        dropped, a fresh array), valid until the next item is requested (copy it to keep it).
        """
        order = np.asarray(rows, dtype=np.int64)
        starts = np.concatenate([[0], self.ends[:-1]]).astype(np.int64)
        buffer = np.empty(0)
        i = 0
        while i < order.size:
            j = i + 1
            while j < order.size and order[j] == order[j - 1] + 1 and self.ends[order[j]] - starts[order[i]] <= block:
                j += 1
            lo, hi = int(starts[order[i]]), int(self.ends[order[j - 1]])
            if buffer.size < hi - lo:
                buffer = np.empty(max(hi - lo, min(block, int(self.ends[-1]))))
            chunk = buffer[: hi - lo]
            self._read(lo, hi, chunk)
            for row in order[i:j].tolist():
                times, unsorted = self._clean(row, chunk[starts[row] - lo : self.ends[row] - lo])
                yield row, times, unsorted
            i = j

    def _clean(self, row: int, times: np.ndarray) -> tuple[np.ndarray, bool]:
        """``(times without NaN, sorted; was_unsorted)``. One comparison pass when the train is already clean:
        ``times[1:] >= times[:-1]`` is False for every pair that involves a NaN, so a NaN anywhere (even inside an
        otherwise sorted train) sends the train to the slow path instead of fooling the sortedness check."""
        self.nan_dropped.pop(row, None)
        if times.size > 1:
            if np.all(times[1:] >= times[:-1]):
                return times, False
        elif times.size == 0 or not np.isnan(times[0]):
            return times, False
        nan = np.isnan(times)
        n_nan = int(np.count_nonzero(nan))
        if n_nan:
            times = times[~nan]
            self.nan_dropped[row] = n_nan
        unsorted = times.size > 1 and not bool(np.all(times[1:] >= times[:-1]))
        if unsorted:
            times.sort(kind="stable")
        return times, unsorted

    def _read(self, lo: int, hi: int, out: np.ndarray) -> None:
        """``out[:] = spikes[lo:hi]`` — straight into ``out`` for an HDF5 dataset (``read_direct``)."""
        if hi == lo:
            return
        if hasattr(self.spikes, "read_direct") and self.spikes.dtype == np.float64:
            self.spikes.read_direct(out, np.s_[lo:hi])
        else:
            out[:] = np.asarray(self.spikes[lo:hi], dtype=np.float64)


def parse_location(value: Any) -> str:
    """An area name from an electrode ``location``: ``"brain_region: ALM; ..."`` → ``"ALM"``; plain names kept."""
    text = decode(value).strip()
    if ":" in text and ";" in text:
        fields = dict(part.split(":", 1) for part in text.split(";") if ":" in part)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        for key in ("brain_region", "area", "location"):
            if fields.get(key) and fields[key].upper() != "N/A":
                return fields[key]
    return text


def _electrode_areas(units: Any, n: int) -> list[str] | None:
    """Area of each unit from its electrodes (``location`` column) or its ``electrode_group``'s location."""
    names = set(units.colnames)
    if "electrodes" in names:
        region = units["electrodes"]
        try:
            index = region.data[:] if hasattr(region, "target") else None  # VectorIndex of a ragged region
            target = region.target if index is not None else region
            rows = np.asarray(target.data[:])
            table = target.table
            if "location" not in table.colnames:
                raise KeyError("location")
            locations = [parse_location(v) for v in table["location"].data[:]]
        except (KeyError, AttributeError, TypeError):
            locations = None
        if locations is not None:
            ends = np.asarray(index) if index is not None else np.arange(1, n + 1)
            starts = np.concatenate([[0], ends[:-1]])
            out = []
            for a, b in zip(starts, ends, strict=True):
                found = list(dict.fromkeys(locations[r] for r in rows[a:b] if locations[r]))
                out.append("|".join(found))
            if any(out):
                return out
    if "electrode_group" in names:
        groups = units["electrode_group"].data[:]
        out = [parse_location(getattr(g, "location", "") or "") for g in groups]
        if any(out):
            return out
    return None


def read_units(nwbfile: Any, source: str) -> UnitsTable:
    """Read the units table's metadata (never the spike times); :class:`NWBLayoutError` when unusable."""
    units = nwbfile.units
    if units is None or len(units) == 0:
        what = "no units table" if units is None else "an empty units table"
        raise NWBLayoutError(
            f"file {source!r}: found {what}; expected sorted units with spike_times in "
            "nwbfile.units. Fix: for calcium imaging pass measure='dff' (or 'fluorescence'); "
            "otherwise the file holds no spiking data neurosuper can read."
        )
    if "spike_times" not in units.colnames:
        raise NWBLayoutError(
            f"file {source!r}: found a units table with columns {list(units.colnames)} but no "
            "'spike_times'; expected spike times per unit. Fix: use a file with sorted spikes, or "
            "measure='dff' for imaging data."
        )
    index = units["spike_times"]
    if hasattr(index, "target"):
        ends = np.asarray(index.data[:], dtype=np.int64)
        spikes = index.target.data
    else:  # one spike time per unit (not ragged); unusual but legal
        ends = np.arange(1, len(units) + 1)
        spikes = index.data
    ids = np.asarray(units.id.data[:])
    if len(set(ids.tolist())) != len(ids):
        raise NWBLayoutError(
            f"file {source!r}: found repeated unit ids ({preview(ids)}); expected unique ids in "
            "the units table. Fix: repair the file (NWB requires unique ids)."
        )
    meta = pd.DataFrame(index=pd.Index(ids, name="unit"))
    for col in units.columns:
        name = col.name
        if name in ("spike_times", "electrodes", "electrode_group") or name.lower() in _RESERVED:
            continue
        if not is_scalar_column(units, col):
            continue
        meta[name] = decode(np.asarray(col.data[:]))
    areas = _electrode_areas(units, len(ids))
    if areas is not None and "area" not in meta:
        meta["area"] = areas
    if "electrode_group" in units.colnames and "electrode_group" not in meta:
        meta["electrode_group"] = [getattr(g, "name", str(g)) for g in units["electrode_group"].data[:]]
    meta["n_spikes"] = np.diff(np.concatenate([[0], ends]))
    return UnitsTable(ids=ids, meta=meta, ends=ends, spikes=spikes)


def select_units(ids: np.ndarray, meta: pd.DataFrame, units: Any) -> np.ndarray:
    """Rows (file positions) picked by ``units=``: None (all), a boolean mask, a list of ids, or a callable.

    A callable receives the units DataFrame ``meta`` (index = unit id; columns as in :func:`read_units`) and
    returns a boolean mask or a list of ids.
    """
    n = len(ids)
    if units is None:
        return np.arange(n)
    choice: Any = units
    if callable(units):
        choice = units(meta.copy())
    arr = np.asarray(choice.values if isinstance(choice, pd.Series | pd.Index) else choice)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise NWBLayoutError(
                f"units= mask: found shape {arr.shape}; expected ({n},), one bool per unit of the "
                "file. Fix: build it from the units table, e.g. units=lambda df: df.quality == "
                "'good'."
            )
        rows = np.flatnonzero(arr)
        what = "a mask"
    else:
        arr = np.atleast_1d(arr)
        position = {v: i for i, v in enumerate(ids.tolist())}
        unknown = [v for v in arr.tolist() if v not in position]
        if unknown:
            raise NWBLayoutError(
                f"units=: found unit ids {preview(unknown)} that are not in the file; expected ids "
                f"from {preview(ids)}. Fix: pick ids from the units table."
            )
        rows = np.asarray([position[v] for v in arr.tolist()], dtype=np.int64)
        if len(set(rows.tolist())) != len(rows):
            raise NWBLayoutError(
                f"units=: found repeated ids in {preview(arr)}; expected each id once. Fix: pass unique ids."
            )
        what = "ids"
    if rows.size == 0:
        columns = [str(c) for c in meta.columns]
        raise NWBLayoutError(
            f"units= ({what}) selected none of the {n} units; expected at least one. Fix: check "
            f"the condition against the units table (columns {columns})."
        )
    return rows


def units_table_coords(meta: pd.DataFrame, rows: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
    """Coords along ``unit`` for the selected rows (every metadata column, ``n_spikes`` included)."""
    sub = meta.iloc[rows]
    coords: dict[str, tuple[str, np.ndarray]] = {}
    for name in sub.columns:
        values = sub[name].to_numpy()
        if values.dtype.kind == "O":
            values = np.asarray([decode(v) for v in values]).astype(str)
        coords[str(name)] = ("unit", values)
    return coords
