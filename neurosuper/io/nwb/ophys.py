"""Calcium imaging: a ``RoiResponseSeries`` (inside ``DfOverF`` or ``Fluorescence`` in ``nwbfile.processing``)
averaged over each window; ROIs become units, plane-segmentation columns unit coords."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import NWBLayoutError
from ._table import decode, is_scalar_column, preview
from .counting import Windows, mean_in_windows
from .units import parse_location

__all__ = ["RoiSeries", "find_roi_series", "choose_roi_series", "read_roi_series", "roi_means"]

#: measure → the NWB container holding it
_CONTAINER = {"dff": "DfOverF", "fluorescence": "Fluorescence"}
#: bytes of one block of ROI columns read at a time
_BLOCK_BYTES = 2**27


@dataclass
class RoiSeries:
    kind: str  # "DfOverF" or "Fluorescence"
    path: str  # "module/container/series"
    series: Any


def find_roi_series(nwbfile: Any) -> list[RoiSeries]:
    """Every RoiResponseSeries in ``nwbfile.processing``, with the container kind it sits in."""
    from pynwb.ophys import DfOverF, Fluorescence, RoiResponseSeries

    out = []
    for mod_name, module in nwbfile.processing.items():
        for name, iface in module.data_interfaces.items():
            if isinstance(iface, DfOverF | Fluorescence):
                kind = "DfOverF" if isinstance(iface, DfOverF) else "Fluorescence"
                for s_name, series in iface.roi_response_series.items():
                    out.append(RoiSeries(kind, f"{mod_name}/{name}/{s_name}", series))
            elif isinstance(iface, RoiResponseSeries):
                out.append(RoiSeries("RoiResponseSeries", f"{mod_name}/{name}", iface))
    return out


def choose_roi_series(nwbfile: Any, source: str, *, measure: str, roi_series: str | None) -> RoiSeries:
    """The series picked by ``measure`` ("dff" → DfOverF, "fluorescence" → Fluorescence) and ``roi_series``."""
    found = find_roi_series(nwbfile)
    listing = "; ".join(f"{s.kind} {s.path!r} (roi_series={s.path.rsplit('/', 1)[-1]!r})" for s in found) or "none"
    if roi_series is not None:
        picked = [s for s in found if roi_series in (s.path, s.path.rsplit("/", 1)[-1])]
        if len(picked) != 1:
            what = "no" if not picked else f"{len(picked)}"
            raise NWBLayoutError(
                f"roi_series={roi_series!r}: found {what} series of that name in {source!r} "
                f"(series: {listing}); expected exactly one. Fix: pass the full path "
                "'module/container/series'."
            )
        return picked[0]
    wanted = _CONTAINER[measure]
    picked = [s for s in found if s.kind == wanted] or [s for s in found if s.kind == "RoiResponseSeries"]
    if len(picked) == 1:
        return picked[0]
    if not picked:
        other = {v: k for k, v in _CONTAINER.items()}
        hint = "; ".join(f"measure={other[s.kind]!r} reads {s.path!r}" for s in found if s.kind in other)
        raise NWBLayoutError(
            f"file {source!r}: found no {wanted} RoiResponseSeries (series: {listing}); expected "
            f"one for measure={measure!r}. Fix: {hint or 'use a file with imaging data'}."
        )
    raise NWBLayoutError(
        f"file {source!r}: found {len(picked)} {wanted} series ({listing}); expected one. "
        "Fix: choose one with roi_series='name'."
    )


def read_roi_series(chosen: RoiSeries, source: str) -> tuple[np.ndarray, Any, np.ndarray, dict[str, np.ndarray]]:
    """``(timestamps, data, roi_ids, coords)`` of a series; ``data`` stays on disk (read block by block)."""
    series = chosen.series
    n_frames = int(series.data.shape[0])
    if series.timestamps is not None:
        timestamps = np.asarray(series.timestamps[:], dtype=np.float64)
    else:
        timestamps = float(series.starting_time or 0.0) + np.arange(n_frames) / float(series.rate)
    if timestamps.size > 1 and np.any(np.diff(timestamps) < 0):
        raise NWBLayoutError(
            f"RoiResponseSeries {chosen.path!r} of {source!r}: found timestamps that are not "
            "sorted; expected increasing frame times. Fix: repair the file."
        )
    rois = series.rois
    table = rois.table
    rows = np.asarray(rois.data[:], dtype=np.int64)
    ids = np.asarray(table.id.data[:])[rows]
    if len(set(ids.tolist())) != len(ids):
        raise NWBLayoutError(
            f"RoiResponseSeries {chosen.path!r}: found repeated ROI ids {preview(ids)}; expected "
            "one column per distinct ROI. Fix: repair the file."
        )
    coords: dict[str, np.ndarray] = {}
    for col in table.columns:
        if col.name.lower() in ("unit", "stimulus", "repeat", "time", "id") or not is_scalar_column(table, col):
            continue
        values = decode(np.asarray(col.data[:]))[rows]
        coords[col.name] = values.astype(str) if values.dtype.kind == "O" else values
    plane = getattr(table, "imaging_plane", None)
    location = parse_location(getattr(plane, "location", "") or "")
    if location and "area" not in coords:
        coords["area"] = np.full(len(ids), location)
    return timestamps, series.data, ids, coords


def roi_means(
    timestamps: np.ndarray,
    data: Any,
    win: Windows,
    *,
    conversion: float = 1.0,
    offset: float = 0.0,
    what: str = "imaging",
) -> np.ndarray:
    """``(n_presentations, n_bins, rois)``: each ROI's mean over the frames in each bin, read in column blocks."""
    n_frames = int(data.shape[0])
    n_rois = int(data.shape[1]) if len(data.shape) > 1 else 1
    block = max(1, _BLOCK_BYTES // max(1, n_frames * 8))
    out = np.empty((win.edges.shape[0], win.edges.shape[1] - 1, n_rois))
    for c0 in range(0, n_rois, block):
        c1 = min(n_rois, c0 + block)
        chunk = np.asarray(data[:, c0:c1] if len(data.shape) > 1 else data[:][:, None], dtype=np.float64)
        out[:, :, c0:c1] = mean_in_windows(timestamps, chunk, win, what)
    return out * conversion + offset
