"""Helpers for the NWB tests: brute-force counting references and small NWB files written with pynwb directly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

START = dt.datetime(2021, 5, 4, 12, 0, tzinfo=dt.UTC)


def brute_count(train: np.ndarray, a: float, b: float) -> int:
    """Spikes t with a <= t < b, one Python comparison at a time (the reference the loader must equal)."""
    return sum(1 for t in train.tolist() if a <= t < b)


def brute_layout(
    trains: Sequence[np.ndarray],
    onsets: np.ndarray,
    stim: np.ndarray,
    ids: Sequence,
    edges_rel,
) -> np.ndarray:
    """(repeat, stimulus, time, unit) counts by brute force: presentations of each id in chronological order,
    bins ``[onset + edges_rel[k], onset + edges_rel[k + 1])``, NaN where a stimulus had fewer repeats."""
    ids = list(ids)
    per_id = {i: sorted(np.flatnonzero(stim == i).tolist(), key=lambda p: (onsets[p], p)) for i in ids}
    n_rep = max(len(v) for v in per_id.values())
    out = np.full((n_rep, len(ids), len(edges_rel) - 1, len(trains)), np.nan)
    for s, i in enumerate(ids):
        for r, p in enumerate(per_id[i]):
            for k in range(len(edges_rel) - 1):
                for u, train in enumerate(trains):
                    out[r, s, k, u] = brute_count(train, onsets[p] + edges_rel[k], onsets[p] + edges_rel[k + 1])
    return out


def new_nwbfile(**kwargs):
    from pynwb import NWBFile
    from pynwb.file import Subject

    return NWBFile(
        session_description="test",
        identifier="test-file",
        session_start_time=START,
        session_id="t1",
        subject=Subject(subject_id="m1", species="Mus musculus", sex="F", age="P60D"),
        **kwargs,
    )


def write(nwbfile, path) -> str:
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return str(path)


def add_units(nwbfile, trains: Sequence[np.ndarray], location: str | None = None) -> None:
    """Units via pynwb's own add_unit (unsorted trains stay unsorted), optionally on an electrode at location."""
    if location is not None:
        device = nwbfile.create_device(name="probe", description="p")
        group = nwbfile.create_electrode_group(name="shank", description="s", location="brain", device=device)
        nwbfile.add_electrode(group=group, location=location)
    nwbfile.add_unit_column(name="quality", description="q")
    for i, train in enumerate(trains):
        kw = {"electrodes": [0]} if location is not None else {}
        nwbfile.add_unit(spike_times=np.asarray(train), quality="good" if i % 2 == 0 else "mua", id=100 + i, **kw)


def trials_file(path, trains: Sequence[np.ndarray], trials: pd.DataFrame, *, location: str | None = None) -> str:
    """An ALM-like file: units plus a trials table with the given columns (stop_time may be NaN)."""
    nwbfile = new_nwbfile()
    add_units(nwbfile, trains, location)
    for col in trials.columns:
        if col not in ("start_time", "stop_time"):
            nwbfile.add_trial_column(name=col, description=col)
    for row in trials.to_dict("records"):
        nwbfile.add_trial(**row)
    return write(nwbfile, path)


def alm_like(rng: np.random.Generator, n_trials: int = 24, n_units: int = 3):
    """Trials every ~6 s with NaN stop times, 'type'/'response' columns and a cue time relative to the trial start;
    unsorted spike trains at ~20 Hz."""
    start = 10.0 + np.cumsum(rng.uniform(5.5, 6.5, n_trials))
    trials = pd.DataFrame(
        {
            "start_time": start,
            "stop_time": np.full(n_trials, np.nan),
            "type": rng.choice(["lick left", "lick right"], n_trials),
            "response": rng.choice(["correct", "incorrect", "no response"], n_trials, p=[0.6, 0.25, 0.15]),
            "cue_start_time": rng.uniform(3.0, 4.0, n_trials),
        }
    )
    end = start[-1] + 10
    trains = [rng.permutation(rng.uniform(0, end, rng.poisson(20 * end))) for _ in range(n_units)]
    return trains, trials


def grid_windows(onsets, w0: float, n_bins: int, width: int, step: float = 0.025):
    """Windows ``[onset + w0, onset + w0 + n_bins * width * step)`` at every onset, in ``n_bins`` bins of
    ``width * step`` when ``n_bins > 1`` — the windows the counting property tests draw on the spikes' grid."""
    from neurosuper.io.nwb.counting import make_windows

    onset = np.asarray(onsets, dtype=np.float64)
    bin_size = width * step
    return make_windows(
        onset,
        onset,
        np.full(onset.size, np.nan),
        window=(w0, w0 + n_bins * bin_size),
        bin_size=bin_size if n_bins > 1 else None,
        what="test",
    )


def np_count(train: np.ndarray, a: float, b: float) -> int:
    """Spikes t with a <= t < b by a plain numpy comparison (NaN compares false: never counted)."""
    return int(np.count_nonzero((train >= a) & (train < b)))


def add_index_series(nwbfile, name: str, onsets: np.ndarray, index: np.ndarray, n_images: int) -> None:
    """An IndexSeries ``name`` over an Images template of ``n_images`` 2x2 images named "0", "1", ..."""
    from pynwb.base import ImageReferences, Images
    from pynwb.image import GrayscaleImage, IndexSeries

    imgs = [GrayscaleImage(name=str(i), data=np.full((2, 2), float(i))) for i in range(n_images)]
    template = Images(
        name=f"{name}_images",
        images=imgs,
        description="d",
        order_of_images=ImageReferences(name="order_of_images", data=imgs),
    )
    nwbfile.add_stimulus_template(template)
    nwbfile.add_stimulus(
        IndexSeries(
            name=name,
            data=np.asarray(index, dtype=np.uint32),
            indexed_images=template,
            unit="N/A",
            timestamps=np.asarray(onsets, dtype=np.float64),
        )
    )


def add_table(nwbfile, name: str, frame: pd.DataFrame) -> None:
    """A TimeIntervals table ``name`` in nwbfile.intervals with the columns of ``frame`` (start_time, ...);
    an empty ``frame`` gives a 0-row table whose columns keep the frame's dtypes."""
    from pynwb.epoch import TimeIntervals

    table = TimeIntervals(name=name, description=name)
    for col in frame.columns:
        if col not in ("start_time", "stop_time"):
            data = np.asarray(frame[col].to_numpy()) if frame.empty else None
            table.add_column(name=col, description=col, **({"data": data} if data is not None else {}))
    for row in frame.to_dict("records"):
        table.add_row(**row)
    nwbfile.add_time_intervals(table)
