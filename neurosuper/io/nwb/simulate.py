"""Simulated sessions with known truth: Poisson spike trains whose count in every presentation window is known.

Presentations follow each other: ``duration`` seconds of stimulus, ``gap`` seconds of blank. In the stimulus
window unit ``u`` fires ``Poisson(rate[stimulus, u] * duration)`` spikes (the planted counts, kept as
``SimulatedSession.counts``), at uniformly random times; in every gap (and before the first presentation) it
fires ``Poisson(baseline_rate * gap)`` spikes. No spike lies within 1 µs of a window edge, so the counts a loader
finds in ``[start_time, stop_time)`` are exactly the planted ones, independent of floating-point rounding.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import NWBLayoutError
from .counting import repeat_index

__all__ = ["SimulatedSession", "simulate_session"]

_EDGE = 1e-6


@dataclass
class SimulatedSession:
    """A simulated recording and its truth.

    Attributes
    ----------
    spike_times
        One array of spike times (s) per unit (sorted unless simulated with ``unsorted=True``).
    presentations
        ``start_time``, ``stop_time``, ``stimulus`` (ids ``"img000"``...), ``category`` (constant per stimulus)
        and ``repeat``, in chronological order.
    images
        ``(stimulus, y, x)`` one image per stimulus id, in sorted-id order.
    rates
        ``(stimulus, unit)`` firing rates (Hz) during presentations.
    counts
        ``(repeat, stimulus, unit)`` planted spike counts per presentation window, repeats in chronological
        order, NaN where a stimulus had fewer presentations — what ``load_nwb`` must return.
    units
        Unit columns: ``quality``, ``depth``, ``area`` (index = unit id).
    """

    spike_times: list[np.ndarray]
    presentations: pd.DataFrame
    images: np.ndarray
    rates: np.ndarray
    counts: np.ndarray
    units: pd.DataFrame
    stimulus_ids: np.ndarray
    duration: float
    gap: float
    baseline_rate: float

    @property
    def unit_ids(self) -> np.ndarray:
        return self.units.index.to_numpy()

    @property
    def n_spikes(self) -> int:
        return int(sum(t.size for t in self.spike_times))

    def write(self, path: str | os.PathLike, *, images: bool = True, **kwargs: Any) -> Path:
        """Write the session as NWB with :func:`neurosuper.io.nwb.write_session` (``images=False``: no
        Images/IndexSeries, the presentations table only)."""
        from .write import write_session

        return write_session(
            path, self.spike_times, self.presentations, self.images if images else None, units=self.units, **kwargs
        )


def _uniform_in(rng: np.random.Generator, starts: np.ndarray, counts: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """``counts[i]`` uniform times in ``(starts[i] + 1 µs, starts[i] + widths[i] - 1 µs)`` for every interval."""
    span = np.repeat(np.broadcast_to(widths, starts.shape) - 2 * _EDGE, counts)
    return np.repeat(starts, counts) + _EDGE + rng.random(span.size) * span


def simulate_session(
    *,
    n_units: int = 8,
    n_stimuli: int = 6,
    n_repeats: int = 3,
    duration: float = 0.2,
    gap: float = 0.2,
    rates: np.ndarray | None = None,
    max_rate: float = 40.0,
    baseline_rate: float = 5.0,
    drop: float = 0.0,
    image_shape: Sequence[int] = (6, 6),
    start: float = 1.0,
    unsorted: bool = False,
    seed: int = 0,
) -> SimulatedSession:
    """Simulate a session of ``n_stimuli`` × ``n_repeats`` presentations (each repeat a random permutation).

    Parameters
    ----------
    rates
        ``(n_stimuli, n_units)`` rates in Hz; default uniform in ``[0, max_rate)``.
    drop
        Fraction of presentations removed at random (each stimulus keeps at least one), so stimuli differ in
        their number of repeats.
    unsorted
        Shuffle each unit's spike times (real files do not always store them sorted).
    seed
        All randomness comes from ``numpy.random.default_rng(seed)``.
    """
    if min(n_units, n_stimuli, n_repeats) < 1 or not duration > 4 * _EDGE or not gap > 4 * _EDGE or start <= 0:
        raise NWBLayoutError(
            f"simulate_session: found n_units={n_units}, n_stimuli={n_stimuli}, n_repeats="
            f"{n_repeats}, duration={duration}, gap={gap}; expected counts >= 1 and positive times. "
            "Fix: e.g. simulate_session(n_units=8, n_stimuli=6, n_repeats=3)."
        )
    rng = np.random.default_rng(seed)
    if rates is None:
        rates = rng.uniform(0.0, max_rate, (n_stimuli, n_units))
    rates = np.asarray(rates, dtype=np.float64)
    if rates.shape != (n_stimuli, n_units) or np.any(rates < 0):
        raise NWBLayoutError(
            f"rates: found shape {rates.shape}; expected non-negative ({n_stimuli}, {n_units}) Hz. "
            "Fix: one rate per stimulus and unit."
        )
    stim = np.concatenate([rng.permutation(n_stimuli) for _ in range(n_repeats)])
    keep = rng.random(stim.size) >= drop
    keep[np.unique(stim, return_index=True)[1]] = True
    stim = stim[keep]
    n_pres = stim.size
    starts = start + np.arange(n_pres) * (duration + gap)
    rep, _ = repeat_index(stim, starts, n_stimuli)
    counts = np.full((int(rep.max()) + 1, n_stimuli, n_units), np.nan)
    gap_starts = np.concatenate([[0.0], starts + duration])
    gap_widths = np.concatenate([[start], np.full(n_pres, gap)])
    trains = []
    for u in range(n_units):
        planted = rng.poisson(rates[stim, u] * duration)
        counts[rep, stim, u] = planted
        inside = _uniform_in(rng, starts, planted, np.asarray(duration))
        outside = _uniform_in(rng, gap_starts, rng.poisson(baseline_rate * gap_widths), gap_widths)
        times = np.concatenate([inside, outside])
        trains.append(rng.permutation(times) if unsorted else np.sort(times))
    width = max(3, len(str(n_stimuli - 1)))  # zero-padded, so sorted ids are in stimulus order
    ids = np.asarray([f"img{i:0{width}d}" for i in range(n_stimuli)])
    table = pd.DataFrame(
        {
            "start_time": starts,
            "stop_time": starts + duration,
            "stimulus": ids[stim],
            "category": np.asarray([f"cat{i % 3}" for i in range(n_stimuli)])[stim],
            "repeat": rep,
        }
    )
    units = pd.DataFrame(
        {
            "quality": np.where(np.arange(n_units) % 4 == 3, "mua", "good"),
            "depth": 100.0 + 25.0 * np.arange(n_units),
            "area": np.where(np.arange(n_units) < (n_units + 1) // 2, "VISp", "VISl"),
        },
        index=pd.Index(np.arange(n_units) + 1, name="unit"),
    )
    images = rng.uniform(0.0, 1.0, (n_stimuli, *tuple(image_shape)))
    return SimulatedSession(
        spike_times=trains,
        presentations=table,
        images=images,
        rates=rates,
        counts=counts,
        units=units,
        stimulus_ids=ids,
        duration=float(duration),
        gap=float(gap),
        baseline_rate=float(baseline_rate),
    )
