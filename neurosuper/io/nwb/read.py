"""``load_nwb``: a recording from any lab's NWB file → a ResponseSet (``system="brain"``)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..._progress import progress_bar
from ..._provenance import INPUTS_KEY
from ..._version import __version__
from ...errors import NeurosuperWarning, NWBLayoutError
from ...format import from_array
from ._messages import nwb_warning
from ._open import is_url, open_nwb
from ._table import preview
from .counting import Windows, count_in_windows, make_windows, repeat_index
from .ophys import choose_roi_series, read_roi_series, roi_means
from .sources import Candidate, Presentations, bin_presentations, find_candidates, resolve_presentations
from .units import read_units, select_units, units_table_coords

__all__ = ["load_nwb", "nwb_sources"]

_MEASURES = ("spike_count", "spike_rate", "dff", "fluorescence")
_IMAGING = ("dff", "fluorescence")


def _check_args(
    stimulus: Any, window: Any, align: Any, bin_size: Any, measure: str, epochs: Any, align_relative: Any
) -> float | None:
    if not (
        isinstance(align_relative, bool | np.bool_) or (isinstance(align_relative, str) and align_relative == "auto")
    ):
        raise NWBLayoutError(
            f"align_relative={align_relative!r}: found an unknown choice; expected True (align "
            "values are offsets from each row's start_time), False (absolute times) or 'auto'. "
            "Fix: leave the default 'auto', or pass align_relative=True or False."
        )
    if align is None and align_relative != "auto":
        raise NWBLayoutError(
            f"align_relative={align_relative!r} without align=: found nothing to align; expected it "
            "only with an align column. Fix: add align='column' (e.g. 'cue_start_time') or drop "
            "align_relative=."
        )
    if measure not in _MEASURES:
        raise NWBLayoutError(
            f"measure={measure!r}: found an unknown measure; expected one of {_MEASURES}. "
            "Fix: 'spike_count' (or 'spike_rate') for units, 'dff' or 'fluorescence' for imaging."
        )
    if bin_size is not None:
        try:
            bin_size = float(bin_size)
        except (TypeError, ValueError):
            bin_size = float("nan")
        if not np.isfinite(bin_size) or bin_size <= 0:
            raise NWBLayoutError(
                f"bin_size={bin_size!r}: found a non-positive or non-finite bin; expected a bin "
                "width in seconds > 0. Fix: e.g. bin_size=0.05."
            )
    if stimulus == "bins":
        if bin_size is None:
            raise NWBLayoutError(
                "stimulus='bins': found no bin_size; expected the bin width in seconds. "
                "Fix: stimulus='bins', bin_size=0.05."
            )
        if window is not None or align is not None:
            raise NWBLayoutError(
                "stimulus='bins' with window=/align=: found options for presentations; expected "
                "time bins only. Fix: drop window= and align= (epochs= restricts the bins)."
            )
    elif epochs is not None:
        raise NWBLayoutError(
            f"epochs={epochs!r} without stimulus='bins': found an epoch selection for "
            "presentations; expected it only with time bins. Fix: add stimulus='bins', bin_size=..."
        )
    return bin_size


def _session_attrs(nwbfile: Any, source: str, nwb_version: str) -> dict[str, Any]:
    import pynwb

    attrs: dict[str, Any] = {
        "system": "brain",
        "source": source,
        "loader": "neurosuper.load_nwb",
        "nwb_version": nwb_version,
        "pynwb_version": pynwb.__version__,
        "neurosuper_version": __version__,
    }
    for key in ("identifier", "session_id", "session_description", "institution", "lab"):
        value = getattr(nwbfile, key, None)
        if isinstance(value, str) and value:
            attrs[key] = value
    start = getattr(nwbfile, "session_start_time", None)
    if start is not None:
        attrs["session_start_time"] = start.isoformat()
    subject = getattr(nwbfile, "subject", None)
    if subject is not None:
        for key in ("subject_id", "species", "sex", "age", "genotype", "strain"):
            value = getattr(subject, key, None)
            if isinstance(value, str) and value:
                attrs[key] = value
    return attrs


def _spike_span(table: Any, rows: np.ndarray) -> tuple[float, float] | None:
    lo, hi = np.inf, -np.inf
    for _, times, _ in table.spike_times(rows):
        if times.size:
            lo, hi = min(lo, times[0]), max(hi, times[-1])
    return (float(lo), float(hi)) if np.isfinite(lo) else None


def _layout(pres: Presentations, bins: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Repeat of each presentation, presentations per stimulus and the size of the repeat dim (1 = no dim)."""
    if bins:
        return np.zeros(len(pres.codes), dtype=np.int64), np.ones(len(pres.ids), dtype=np.int64), 1
    rep, n_repeats = repeat_index(pres.codes, pres.onset, len(pres.ids))
    return rep, n_repeats, int(n_repeats.max())


def _spike_values(
    table: Any, rows: np.ndarray, win: Windows, out: np.ndarray, rate: bool, progress: bool
) -> tuple[int, int]:
    """Count every selected unit into ``out`` (``(unit, repeat * stimulus, bins)``, unit-major: each unit's
    counts, already arranged by :meth:`Windows.arrange`, are one contiguous write). NaN spike times are dropped by
    ``table.spike_times`` (counted in ``table.nan_dropped``)."""
    widths = None if not rate else win.widths if win.rows is None else win.widths[win.rows]
    n_resorted, total = 0, 0
    bar = progress_bar(
        table.spike_times(rows), total=len(rows), desc="counting spikes", unit="unit", progress=progress, leave=False
    )
    for u, (_, times, unsorted) in enumerate(bar):
        counts = count_in_windows(times, win)
        n_resorted += unsorted
        total += int(counts.sum())
        out[u] = counts / widths if rate else counts
    return n_resorted, total


def load_nwb(
    path: str | os.PathLike,
    *,
    stimulus: str | tuple[str, str | Sequence[str]] | None = None,
    window: tuple[float, float] | None = None,
    align: str | None = None,
    align_relative: bool | str = "auto",
    bin_size: float | None = None,
    units: Sequence[bool] | Sequence[int] | Callable[[pd.DataFrame], Any] | None = None,
    measure: str = "spike_count",
    epochs: str | tuple[float, float] | Sequence[tuple[float, float]] | None = None,
    rows: Sequence[bool] | Callable[[pd.DataFrame], Any] | None = None,
    roi_series: str | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Load a recording from an NWB file as a ResponseSet (``system="brain"``).

    Spike counts (or rates) of every unit of ``nwbfile.units``, or the mean of a calcium-imaging
    ``RoiResponseSeries``, in a window around each presentation of each stimulus. Windows are half-open,
    ``[onset + start, onset + stop)``. Counting is vectorised per unit (``np.searchsorted``), unit by unit through
    the ragged spike-time index; unsorted spike times are sorted per unit and NaN spike times dropped (a
    ``NeurosuperWarning`` counts them; ``n_spikes`` excludes them). The result's size is checked against the memory
    available before it is allocated. The file is opened read-only and always closed; ``path`` may be a URL
    (``https://``, ``s3://``, ``file://``), read through fsspec.

    Parameters
    ----------
    path
        The ``.nwb`` file, or a URL.
    stimulus
        Where presentations come from. ``None`` reads the file's only source; a file with several (IndexSeries,
        TimeIntervals tables, trials) is an error listing each with the argument that picks it (an IndexSeries
        and a table holding the same onsets and ids count as one). The name of an ``IndexSeries`` in
        ``nwbfile.stimulus`` (its ``Images`` template becomes the ``stimuli`` variable); the name of a table in
        ``nwbfile.intervals`` (``"trials"`` included), whose stimulus column is guessed; ``(table, column)``;
        ``(table, [columns])`` — one id per combination, values joined with ``"|"``, one coord per column; the
        column ``"id"`` makes each row its own stimulus; or ``"bins"``: consecutive time bins of ``bin_size`` over
        the recording (or over ``epochs``), each bin a stimulus with coord ``start_time``.
    window
        ``(start, stop)`` in seconds relative to onset; default: each presentation's own start–stop interval
        (required when presentations have no stop times).
    align
        A time column of the table giving the onsets (e.g. ``"cue_start_time"``), absolute or relative to each
        row's ``start_time`` (see ``align_relative``).
    align_relative
        ``True``: the align values are offsets from each row's ``start_time`` (added to it); ``False``: absolute
        times; ``"auto"`` (default): absolute when every value lies inside its own row's ``[start_time,
        stop_time]``, relative when every value lies inside ``[0, stop_time - start_time]`` (a row without
        stop_time is open-ended); when both fit, absolute with a ``NeurosuperWarning``; when
        neither, :class:`NWBLayoutError`. An automatic "relative" also warns. ``attrs["align_relative"]`` records
        the choice.
    bin_size
        With presentations, adds a ``time`` dim: bins of this width across the window, coord ``time`` = bin
        centre relative to onset (PSTHs). With ``stimulus="bins"``, the width of the time bins.
    units
        A boolean mask over the file's units, a list of unit ids, or a callable on the units DataFrame (index
        unit id, columns = unit columns, ``area``, ``n_spikes``) returning either, e.g.
        ``units=lambda df: df.quality == "good"``. For imaging, the same over ROIs.
    measure
        ``"spike_count"``, ``"spike_rate"`` (count / window or bin width, in Hz), ``"dff"`` (a ``DfOverF``
        series) or ``"fluorescence"`` (a ``Fluorescence`` series).
    epochs
        With ``stimulus="bins"``: an interval table name, an epoch tag (e.g. ``"wake"``), ``(start, stop)`` or a
        list of them; partial trailing bins of each epoch are dropped.
    rows
        A boolean mask or callable on the presentation table (columns of the table, ``id``) keeping some rows,
        e.g. ``rows=lambda t: t.is_good == 1``.
    roi_series
        Name of the RoiResponseSeries when the file has several.
    progress
        Show a progress bar over units (only on a terminal).

    Returns
    -------
    xarray.Dataset
        ``responses`` (``repeat``?, ``stimulus``, ``time``?, ``unit``): ``repeat`` when a stimulus was shown more
        than once, in chronological order, NaN where a stimulus had fewer presentations; coords ``n_repeats``
        (stimulus), unit columns (``quality``, ``depth``, ``area`` from the electrodes' location, ...);
        ``onset`` (``repeat``?, ``stimulus``) absolute onset times in seconds; ``stimuli`` when the file has
        stimulus templates; attrs: session, subject, the chosen source, window, binning, provenance.

    Raises
    ------
    NWBLayoutError
        Missing units/imaging data, several or no presentation sources (listing every candidate and the
        argument that picks it), a source with 0 rows, unknown tables or columns, missing stimulus values, align
        values that fit neither rule, bad window or bin size, a result larger than the memory available (before
        allocating it: the message gives its size in GiB and a bin size or window that fits), an empty ``units``
        selection. The source, align, window, bin and size errors also carry ``cli_message``: the same text with
        the fix written as ``neurosuper nwb`` flags.
    FormatError
        A missing, truncated or non-NWB file.
    """
    bin_size = _check_args(stimulus, window, align, bin_size, measure, epochs, align_relative)
    imaging = measure in _IMAGING
    bins = stimulus == "bins"
    with open_nwb(path) as opened:
        nwbfile, source = opened.nwbfile, opened.source
        attrs = _session_attrs(nwbfile, source, opened.nwb_version)
        if imaging:
            chosen = choose_roi_series(nwbfile, source, measure=measure, roi_series=roi_series)
            timestamps, data, all_ids, roi_coords = read_roi_series(chosen, source)
            meta = pd.DataFrame(roi_coords, index=pd.Index(all_ids, name="unit"))
            attrs.update(roi_series=chosen.path, measure="dff" if chosen.kind == "DfOverF" else measure)
            table = None
        else:
            table = read_units(nwbfile, source)
            all_ids, meta = table.ids, table.meta
            attrs["measure"] = measure
        sel = select_units(all_ids, meta, units)
        attrs.update(n_units_file=len(all_ids))
        if bins:
            assert bin_size is not None  # _check_args requires it with stimulus="bins"
            span = None
            if epochs is None:
                span = (float(timestamps[0]), float(timestamps[-1])) if imaging else _spike_span(table, sel)
            pres = bin_presentations(nwbfile, source, bin_size=bin_size, epochs=epochs, span=span, n_units=len(sel))
            rep, n_repeats, n_rep = _layout(pres, bins)
            win = make_windows(
                pres.onset, pres.start, pres.stop, window=None, bin_size=None, what="time bins", n_units=len(sel)
            )
        else:
            pres = resolve_presentations(
                nwbfile, source, stimulus=stimulus, align=align, rows=rows, align_relative=align_relative
            )
            rep, n_repeats, n_rep = _layout(pres, bins)
            what = f"presentations ({pres.attrs.get('stimulus_source')} {pres.attrs.get('stimulus_table')!r})"
            win = make_windows(
                pres.onset,
                pres.start,
                pres.stop,
                window=window,
                bin_size=bin_size,
                what=what,
                n_units=len(sel),
                n_rows=n_rep * len(pres.ids),
            )
        attrs.update(pres.attrs)
        n_bins, n_ids = win.edges.shape[1] - 1, len(pres.ids)
        # unit-major storage: each unit is one contiguous slab; responses is a transposed view of it (no copy)
        slab = np.empty((len(sel), n_rep * n_ids, n_bins))
        dest = rep * n_ids + pres.codes  # row of each presentation: repeat * n_stimuli + stimulus
        shown = np.zeros(n_rep * n_ids, dtype=bool)
        shown[dest] = True
        origin = np.zeros(n_rep * n_ids, dtype=np.int64)  # presentation behind each row (0 where none: NaN later)
        origin[dest] = np.arange(dest.size)
        if imaging:
            series = chosen.series
            means = roi_means(
                timestamps,
                data,
                win,
                conversion=float(getattr(series, "conversion", 1.0) or 1.0),
                offset=float(getattr(series, "offset", 0.0) or 0.0),
                what=f"{chosen.path!r}",
            )
            slab[:] = means[origin][:, :, sel].transpose(2, 0, 1)
        else:
            win.arrange(origin)
            n_resorted, total = _spike_values(table, sel, win, slab, measure == "spike_rate", progress)
            attrs["n_units_resorted"] = int(n_resorted)
            meta = _drop_nan_spikes(table, sel, meta, attrs)
            if total == 0:
                warnings.warn(
                    f"every count is zero: {len(sel)} units x {len(pres.codes)} windows hold no spike "
                    "(silent units are data; check the window and the units selection)",
                    NeurosuperWarning,
                    stacklevel=2,
                )
    if not shown.all():  # NaN where a stimulus had fewer presentations
        slab[:, ~shown] = np.nan
    out = slab.reshape(len(sel), n_rep, n_ids, n_bins).transpose(1, 2, 3, 0)  # (repeat, stimulus, time, unit)
    ds = _build(out, pres, win, sel, meta, all_ids, rep, n_repeats, bins, attrs, bin_size)
    if not is_url(path):
        ds.encoding[INPUTS_KEY] = [str(Path(path).resolve())]  # provenance: results name the file and its sha256
    return ds


def _drop_nan_spikes(table: Any, sel: np.ndarray, meta: pd.DataFrame, attrs: dict[str, Any]) -> pd.DataFrame:
    """Warn about the NaN spike times dropped while counting, record them and take them out of ``n_spikes``."""
    dropped = {int(r): n for r, n in table.nan_dropped.items() if n}
    rows = [r for r in sel.tolist() if r in dropped]
    attrs["n_spike_times_nan"] = int(sum(dropped[r] for r in rows))
    if not rows:
        return meta
    n = attrs["n_spike_times_nan"]
    message = (
        f"dropped {n} NaN spike times of {len(rows)} of {len(sel)} units (unit ids "
        f"{preview(table.ids[rows])}): a NaN time lies in no window; n_spikes counts the remaining spikes "
        "and attrs['n_spike_times_nan'] records the number dropped"
    )
    warnings.warn(nwb_warning(message), stacklevel=3)
    meta = meta.copy()
    n_spikes = meta["n_spikes"].to_numpy().copy()
    n_spikes[rows] -= [dropped[r] for r in rows]
    meta["n_spikes"] = n_spikes
    return meta


def _build(
    out: np.ndarray,
    pres: Presentations,
    win: Windows,
    sel: np.ndarray,
    meta: pd.DataFrame,
    all_ids: np.ndarray,
    rep: np.ndarray,
    n_repeats: np.ndarray,
    bins: bool,
    attrs: dict[str, Any],
    bin_size: float | None,
) -> xr.Dataset:
    has_time = win.time is not None
    dims = ["repeat", "stimulus", "time", "unit"]
    data = out
    if not has_time:
        data = data[:, :, 0, :]
        dims.remove("time")
    if data.shape[0] == 1:
        data = data[0]
        dims.remove("repeat")
    coords: dict[str, Any] = {name: ("stimulus", _plain(values)) for name, values in pres.coords.items()}
    if not bins:
        coords["n_repeats"] = ("stimulus", n_repeats)
    coords.update(units_table_coords(meta, sel))
    if has_time:
        coords["time"] = win.time
    attrs.update(window=list(win.window) if win.window is not None else None, n_presentations=int(len(pres.codes)))
    if bin_size is not None:
        attrs["bin_size"] = float(bin_size)
    ds = from_array(
        data,
        dims=tuple(dims),
        stimulus=_plain(pres.ids),
        unit=all_ids[sel],
        system="brain",
        measure=attrs["measure"],
        stimuli=pres.stimuli,
        attrs=attrs,
        **coords,
    )
    if not bins:
        onset = np.full((out.shape[0], len(pres.ids)), np.nan)
        onset[rep, pres.codes] = pres.onset
        ds["onset"] = (("repeat", "stimulus"), onset) if "repeat" in dims else (("stimulus",), onset[0])
        ds["onset"].attrs.update(units="s", description="absolute onset time of each presentation")
    return ds


def _plain(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(str) if values.dtype.kind == "O" else values


def nwb_sources(path: str | os.PathLike) -> list[Candidate]:
    """Every presentation source an NWB file holds (IndexSeries, TimeIntervals tables, trials), each with the
    exact ``stimulus=`` argument of :func:`load_nwb` that picks it, in order of preference."""
    with open_nwb(path) as opened:
        return find_candidates(opened.nwbfile)
