"""Writing real NWB files: spike trains + presentations (+ images), a ResponseSet of counts, imaging traces.

Layout written by :func:`write_session` (NWB 2 via pynwb):

- ``/units``: one row per unit, ragged ``spike_times`` (sorted), the unit columns given, ``electrodes`` pointing to
  one electrode per unit whose ``location`` is the unit's ``area`` (when given);
- ``/stimulus/templates/{name}_images``: an ``Images`` container (one ``GrayscaleImage``/``RGBImage`` per
  stimulus, named by its id, in ``order_of_images``) and ``/stimulus/presentation/{name}_index``: an
  ``IndexSeries`` of the presentations (onset timestamps, index into ``order_of_images``);
- ``/intervals/{name}``: the equivalent ``TimeIntervals`` table (``start_time``, ``stop_time``, ``stimulus`` and
  any other columns);
- subject and session metadata. The file is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import datetime as _dt
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..._atomic import atomic_path
from ..._version import __version__
from ...errors import NWBLayoutError
from ...format import validate

__all__ = ["write_session", "save_nwb", "write_imaging_session"]

_DEFAULT_START = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
_EDGE = 1e-6  # planted spikes keep this far (s) from window edges, so counts never depend on float rounding


def _atomic_write(nwbfile: Any, path: str | os.PathLike, overwrite: bool) -> Path:
    from pynwb import NWBHDF5IO

    with atomic_path(path, overwrite=overwrite) as tmp, NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwbfile)
    return Path(os.path.abspath(path))


def _new_file(
    *,
    session_id: str,
    description: str,
    identifier: str | None,
    start: _dt.datetime | None,
    subject: Mapping[str, str] | None,
    extra: Mapping[str, Any] | None,
) -> Any:
    from pynwb import NWBFile
    from pynwb.file import Subject

    info = {
        "subject_id": "sim",
        "species": "Mus musculus",
        "sex": "U",
        "age": "P90D",
        "description": "simulated subject (neurosuper)",
    }
    info.update({k: str(v) for k, v in (subject or {}).items()})
    meta = {
        "institution": "neurosuper",
        "lab": "neurosuper",
        "experiment_description": "simulated session written by neurosuper",
        "keywords": ["simulation"],
    }
    meta.update(extra or {})
    return NWBFile(
        session_description=description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=start or _DEFAULT_START,
        session_id=session_id,
        subject=Subject(**info),
        source_script=f"neurosuper {__version__}",
        source_script_file_name="neurosuper/io/nwb/write.py",
        **meta,
    )


def _column(name: str, values: Any, description: str) -> Any:
    from hdmf.common import VectorData

    arr = np.asarray(values)
    if arr.dtype.kind in "OU":
        arr = np.asarray([str(v) for v in arr.tolist()], dtype=object)
    elif arr.dtype.kind == "b":
        arr = arr.astype(bool)
    return VectorData(name=name, description=description, data=arr)


def _add_units(
    nwbfile: Any,
    spike_times: Sequence[np.ndarray],
    ids: np.ndarray,
    columns: pd.DataFrame | None,
    resolution: float,
    sort: bool,
) -> None:
    from hdmf.common import DynamicTableRegion, ElementIdentifiers, VectorIndex
    from pynwb.misc import Units

    trains = [np.asarray(t, dtype=np.float64).ravel() for t in spike_times]
    trains = [np.sort(t) for t in trains] if sort else trains
    ends = np.cumsum([t.size for t in trains], dtype=np.int64)
    flat = _column("spike_times", np.concatenate(trains) if trains else np.zeros(0), "spike times (s)")
    cols = [flat, VectorIndex(name="spike_times_index", data=ends, target=flat)]
    if columns is not None:
        for name in columns.columns:
            if name == "area":
                continue
            cols.append(_column(str(name), columns[name].to_numpy(), f"{name} of each unit"))
        if "area" in columns:
            device = nwbfile.create_device(name="probe", description="simulated probe")
            areas = [str(a) for a in columns["area"].tolist()]
            groups = {
                a: nwbfile.create_electrode_group(
                    name=f"group_{a}", description=f"electrodes in {a}", location=a, device=device
                )
                for a in dict.fromkeys(areas)
            }
            for area in areas:
                nwbfile.add_electrode(group=groups[area], location=area)
            region = DynamicTableRegion(
                name="electrodes",
                data=np.arange(len(areas)),
                table=nwbfile.electrodes,
                description="the electrode each unit was recorded on",
            )
            cols += [region, VectorIndex(name="electrodes_index", data=np.arange(1, len(areas) + 1), target=region)]
    nwbfile.units = Units(
        name="units",
        description="sorted units",
        resolution=resolution,
        id=ElementIdentifiers(name="id", data=ids),
        columns=cols,
    )


def _image(name: str, data: np.ndarray) -> Any:
    from pynwb.image import GrayscaleImage, RGBAImage, RGBImage

    kind = {2: GrayscaleImage, 3: RGBImage if data.shape[-1] == 3 else RGBAImage}.get(data.ndim)
    if kind is None or (data.ndim == 3 and data.shape[-1] not in (3, 4)):
        raise NWBLayoutError(
            f"images: found an image of shape {data.shape}; expected (y, x), (y, x, 3) or (y, x, 4). "
            "Fix: pass images as (n, y, x[, channel])."
        )
    return kind(name=name, data=data, description=f"stimulus {name}")


def _presentation_table(presentations: pd.DataFrame | Mapping[str, Any], column: str) -> pd.DataFrame:
    """Presentations sorted by start_time, columns start_time, stop_time (NaN if absent), then the others."""
    table = pd.DataFrame(presentations).copy()
    for col in ("start_time", column):
        if col not in table:
            raise NWBLayoutError(
                f"presentations: found columns {list(table.columns)} without {col!r}; expected "
                f"start_time, stop_time and {column!r}. Fix: add the column."
            )
    if "stop_time" not in table:
        table["stop_time"] = np.nan
    table = table.sort_values("start_time", kind="stable").reset_index(drop=True)
    return table[["start_time", "stop_time"] + [c for c in table.columns if c not in ("start_time", "stop_time")]]


def _add_presentations(nwbfile: Any, table: pd.DataFrame, column: str, images: Any, name: str) -> None:
    from hdmf.common import ElementIdentifiers
    from pynwb.base import ImageReferences, Images
    from pynwb.epoch import TimeIntervals
    from pynwb.image import IndexSeries

    cols = [_column(c, table[c].to_numpy(), f"{c} of each presentation") for c in table.columns]
    nwbfile.add_time_intervals(
        TimeIntervals(
            name=name,
            description="stimulus presentations",
            id=ElementIdentifiers(name="id", data=np.arange(len(table))),
            columns=cols,
        )
    )
    if images is None:
        return
    ids = np.unique(table[column].to_numpy())
    if isinstance(images, Mapping):
        missing = [i for i in ids.tolist() if i not in images and str(i) not in images]
        if missing:
            raise NWBLayoutError(
                f"images: found no image for stimulus ids {missing[:5]}; expected one per id. "
                "Fix: pass a dict id -> image covering every presented stimulus."
            )
        arrays = [np.asarray(images[i] if i in images else images[str(i)]) for i in ids.tolist()]
    else:
        arrays = list(np.asarray(images))
        if len(arrays) != len(ids):
            raise NWBLayoutError(
                f"images: found {len(arrays)} images for {len(ids)} distinct stimulus ids; expected "
                "one image per id, in the order of the sorted ids. Fix: pass a dict id -> image."
            )
    imgs = [_image(str(i), a) for i, a in zip(ids.tolist(), arrays, strict=True)]
    template = Images(
        name=f"{name}_images",
        images=imgs,
        description="the stimuli, one image per stimulus id",
        order_of_images=ImageReferences(name="order_of_images", data=imgs),
    )
    nwbfile.add_stimulus_template(template)
    position = np.searchsorted(ids, table[column].to_numpy())
    nwbfile.add_stimulus(
        IndexSeries(
            name=f"{name}_index",
            data=position.astype(np.uint32),
            indexed_images=template,
            unit="N/A",
            timestamps=table["start_time"].to_numpy(dtype=np.float64),
            description="index into order_of_images of each presented stimulus",
        )
    )


def write_session(
    path: str | os.PathLike,
    spike_times: Sequence[np.ndarray] | Mapping[int, np.ndarray],
    presentations: pd.DataFrame | Mapping[str, Any],
    images: np.ndarray | Mapping[Any, np.ndarray] | None = None,
    *,
    units: pd.DataFrame | None = None,
    stimulus_column: str = "stimulus",
    name: str = "presentations",
    session_id: str = "sim",
    session_description: str = "simulated session (neurosuper)",
    identifier: str | None = None,
    session_start_time: _dt.datetime | None = None,
    subject: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    resolution: float = 1 / 30000,
    sort_spikes: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write spike trains and stimulus presentations as an NWB file (layout: module docstring), atomically.

    Parameters
    ----------
    spike_times
        One 1-D array of spike times (s) per unit (sorted on writing), or a mapping unit id → array.
    presentations
        Table with ``start_time``, ``stop_time`` (may be NaN) and the stimulus id column ``stimulus_column``,
        plus any other columns (written to the TimeIntervals table; columns constant per stimulus load back as
        stimulus coords). Rows are written sorted by ``start_time``.
    images
        ``(n_stimuli, y, x[, channel])`` in the order of the sorted distinct stimulus ids, or a mapping id →
        image; written as an ``Images`` template + ``IndexSeries``. ``None``: the table only.
    units
        Per-unit columns (one row per unit; e.g. ``quality``, ``depth``); ``area`` becomes the ``location`` of
        one electrode per unit. Its integer index gives the unit ids when ``spike_times`` is a sequence.
    resolution
        Spike-time resolution (s), recorded in the units table.
    sort_spikes
        Sort each unit's spike times before writing (``False`` keeps the given order, as some real files do).

    Returns
    -------
    pathlib.Path
        The absolute path of the written file (passes nwbinspector without critical issues).
    """
    if isinstance(spike_times, Mapping):
        ids = np.asarray(list(spike_times.keys()), dtype=np.int64)
        trains = list(spike_times.values())
    else:
        trains = list(spike_times)
        index = units.index if units is not None else None
        ids = (
            np.asarray(index, dtype=np.int64)
            if index is not None and index.dtype.kind in "iu"
            else np.arange(len(trains))
        )
    if units is not None and len(units) != len(trains):
        raise NWBLayoutError(
            f"units: found {len(units)} rows for {len(trains)} spike trains; expected one row per "
            "unit. Fix: align the units table with spike_times."
        )
    table = _presentation_table(presentations, stimulus_column)
    nwbfile = _new_file(
        session_id=session_id,
        description=session_description,
        identifier=identifier,
        start=session_start_time,
        subject=subject,
        extra=metadata,
    )
    _add_units(nwbfile, trains, ids, units, resolution, sort_spikes)
    _add_presentations(nwbfile, table, stimulus_column, images, name)
    return _atomic_write(nwbfile, path, overwrite)


def _session_kwargs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    subject = {k: str(attrs[k]) for k in ("subject_id", "species", "sex", "age") if isinstance(attrs.get(k), str)}
    out: dict[str, Any] = {"subject": subject or None}
    if isinstance(attrs.get("session_id"), str):
        out["session_id"] = attrs["session_id"]
    return out


def _stimulus_images(ds: xr.Dataset) -> dict[Any, np.ndarray] | None:
    if "stimuli" not in ds or ds["stimuli"].ndim not in (3, 4):
        return None
    stim = ds["stimuli"].values
    if ds["stimuli"].ndim == 4 and stim.shape[-1] not in (3, 4):
        return None
    return dict(zip(ds["stimulus"].values.tolist(), stim, strict=True))


def save_nwb(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    duration: float | None = None,
    gap: float | None = None,
    images: bool = True,
    seed: int = 0,
    overwrite: bool = False,
    **kwargs: Any,
) -> Path:
    """Write a ResponseSet of spike counts as an NWB file whose spike trains reproduce the counts exactly.

    Each (repeat, stimulus) with a count becomes one presentation of ``duration`` seconds (default: the width of
    ``attrs["window"]``, else 0.25 s) followed by ``gap`` seconds (default ``duration``) without spikes; repeat
    ``r`` of every stimulus comes before repeat ``r + 1`` (stimuli in a seeded random order within a repeat).
    Each unit's count is planted as uniformly random spike times inside the presentation (never within 1 µs of
    its edges), so ``load_nwb(path, stimulus="presentations")`` returns the same counts, stimulus ids, stimulus
    and unit coords and stimuli (missing repeats come back NaN-padded at the end of each stimulus's repeats).
    Stimulus coords become columns of the presentations table, unit coords unit columns (``area`` the
    electrodes' location). Integer unit ids are kept; other ids are stored in a ``unit_name`` column.
    ``images=False`` leaves out the ``Images`` template and ``IndexSeries`` even when the set has image stimuli
    (pynwb builds one Python object per image on writing and on every reading, ~10 ms each: thousands of
    stimuli make the file slow to open).

    Raises :class:`NWBLayoutError` for a set that is not integer spike counts without a ``time`` dim.
    """
    ds = validate(ds)
    resp = ds["responses"]
    if "time" in resp.dims or ds.attrs.get("measure") != "spike_count":
        raise NWBLayoutError(
            f"save_nwb: found measure={ds.attrs.get('measure')!r} with dims {resp.dims}; expected "
            "spike counts (measure='spike_count') without a 'time' dim. Fix: write spike trains "
            "directly with write_session, or select one time bin."
        )
    vals = resp.values if "repeat" in resp.dims else resp.values[None]
    present = ~np.isnan(vals)
    partial = present.any(axis=2) & ~present.all(axis=2)
    if partial.any() or np.any(vals[present] < 0) or not np.all(vals[present] == np.round(vals[present])):
        raise NWBLayoutError(
            "save_nwb: found negative, non-integer or partly missing counts (NaN for some units of "
            "a presentation); expected non-negative integer counts, NaN only for whole missing "
            "repeats. Fix: round the counts, or use write_session with spike trains."
        )
    window = ds.attrs.get("window")
    if duration is None:
        duration = float(window[1] - window[0]) if isinstance(window, list | tuple) and len(window) == 2 else 0.25
    gap = duration if gap is None else float(gap)
    if not duration > 2 * _EDGE or gap < 0:
        raise NWBLayoutError(
            f"save_nwb: found duration={duration}, gap={gap}; expected duration > 2 µs and gap >= 0. "
            "Fix: e.g. duration=0.25, gap=0.25."
        )
    rng = np.random.default_rng(seed)
    reps, stims = [], []
    for r in range(vals.shape[0]):
        shown = np.flatnonzero(present[r].all(axis=1))
        reps.append(np.full(shown.size, r))
        stims.append(rng.permutation(shown))
    rep, stim = np.concatenate(reps), np.concatenate(stims)
    start = 1.0 + np.arange(rep.size) * (duration + gap)
    counts = vals[rep, stim].astype(np.int64)  # (presentations, units)
    trains = [
        np.repeat(start, counts[:, u]) + rng.uniform(_EDGE, duration - _EDGE, int(counts[:, u].sum()))
        for u in range(counts.shape[1])
    ]
    ids = ds["stimulus"].values
    table = pd.DataFrame({"start_time": start, "stop_time": start + duration, "stimulus": ids[stim], "repeat": rep})
    for cname, coord in ds.coords.items():
        if coord.dims == ("stimulus",) and cname not in ("stimulus", "n_repeats", "start_time", "stop_time"):
            table[str(cname)] = coord.values[stim]
    unit_ids = ds["unit"].values
    units = pd.DataFrame(
        {str(k): c.values for k, c in ds.coords.items() if c.dims == ("unit",) and k not in ("unit", "n_spikes")}
    )
    if unit_ids.dtype.kind in "iu":
        units.index = unit_ids
    else:
        units["unit_name"] = unit_ids.astype(str)
    kwargs = {**_session_kwargs(ds.attrs), **kwargs}
    return write_session(
        path, trains, table, _stimulus_images(ds) if images else None, units=units, overwrite=overwrite, **kwargs
    )


def write_imaging_session(
    path: str | os.PathLike,
    traces: np.ndarray,
    presentations: pd.DataFrame | Mapping[str, Any],
    *,
    rate: float,
    starting_time: float = 0.0,
    kind: str = "dff",
    rois: pd.DataFrame | None = None,
    location: str = "VISp",
    images: np.ndarray | Mapping[Any, np.ndarray] | None = None,
    stimulus_column: str = "stimulus",
    name: str = "presentations",
    overwrite: bool = False,
    **session: Any,
) -> Path:
    """Write calcium-imaging traces ``(frames, rois)`` sampled at ``rate`` Hz as an NWB file, atomically.

    The traces go into a ``RoiResponseSeries`` inside ``DfOverF`` (``kind="dff"``) or ``Fluorescence``
    (``kind="fluorescence"``) of a processing module ``ophys``; ROIs are rows of a ``PlaneSegmentation`` (one-pixel
    image masks) with the columns of ``rois``, on an imaging plane at ``location``; presentations as in
    :func:`write_session`.
    """
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel, RoiResponseSeries

    traces = np.asarray(traces, dtype=np.float64)
    if traces.ndim != 2 or kind not in ("dff", "fluorescence"):
        raise NWBLayoutError(
            f"write_imaging_session: found traces of shape {traces.shape}, kind={kind!r}; expected "
            "(frames, rois) and kind 'dff' or 'fluorescence'. Fix: reshape or fix kind."
        )
    n_rois = traces.shape[1]
    nwbfile = _new_file(
        session_id=session.pop("session_id", "sim"),
        description=session.pop("session_description", "simulated imaging session (neurosuper)"),
        identifier=None,
        start=None,
        subject=session.pop("subject", None),
        extra=session,
    )
    device = nwbfile.create_device(name="microscope", description="simulated two-photon microscope")
    channel = OpticalChannel(name="green", description="GCaMP emission", emission_lambda=510.0)
    plane = nwbfile.create_imaging_plane(
        name="plane",
        optical_channel=channel,
        imaging_rate=float(rate),
        description="simulated plane",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6f",
        location=location,
    )
    module = nwbfile.create_processing_module(name="ophys", description="optical physiology")
    segmentation = ImageSegmentation(name="segmentation")
    module.add(segmentation)
    side = int(np.ceil(np.sqrt(n_rois)))
    seg = segmentation.create_plane_segmentation(name="rois", description="simulated ROIs", imaging_plane=plane)
    extra = rois if rois is not None else pd.DataFrame(index=range(n_rois))
    for col in extra.columns:
        seg.add_column(name=str(col), description=f"{col} of each ROI")
    for i in range(n_rois):
        mask = np.zeros((side, side))
        mask[divmod(i, side)] = 1.0
        seg.add_roi(image_mask=mask, **{str(c): extra[c].iloc[i] for c in extra.columns})
    region = seg.create_roi_table_region(region=list(range(n_rois)), description="all ROIs")
    container = DfOverF(name="DfOverF") if kind == "dff" else Fluorescence(name="Fluorescence")
    module.add(container)  # before the series, so the series and its ROI table share an ancestor
    container.add_roi_response_series(
        RoiResponseSeries(
            name=kind,
            data=traces,
            rois=region,
            unit="n.a." if kind == "dff" else "a.u.",
            rate=float(rate),
            starting_time=float(starting_time),
            description=f"{kind} of each ROI",
        )
    )
    _add_presentations(nwbfile, _presentation_table(presentations, stimulus_column), stimulus_column, images, name)
    return _atomic_write(nwbfile, path, overwrite)
