"""Vectorised counting of spikes (and averaging of imaging frames) in windows, and the repeat layout.

Every window is half-open, ``[start, stop)``: a spike at exactly ``stop`` belongs to the next window. Per unit,
when windows do not overlap, the S spikes are binned among the E sorted window edges — O(S + E) through a
uniform-grid index of the edges (:class:`EdgeLookup`), else O(S log E) with ``np.searchsorted``; overlapping
windows search the edges among the spikes, O(E log S). A session costs O(spikes + units · presentations · log)
at most, as issue 3 asks. Spikes must be sorted and free of NaN (``UnitsTable.spike_times`` drops NaNs and sorts).

Sizes are checked before anything large is allocated (:func:`check_allocation`): a window of 10^5 s in 1 ms bins
is an error saying how many GiB it would need and how to shrink it, not a request to numpy for 133 GiB.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..._memory import available_memory  # the one helper every size check asks (re-exported)
from ..._memory import gib as _gib
from ...errors import NWBLayoutError
from ._messages import layout_error

__all__ = [
    "Windows",
    "EdgeLookup",
    "make_windows",
    "repeat_index",
    "count_in_windows",
    "count_binned",
    "count_searched",
    "mean_in_windows",
    "available_memory",
    "check_allocation",
    "nice_number",
]

#: bytes of working memory per window edge besides the responses (the edges, the edge index, per-unit counts)
_EDGE_OVERHEAD = 5 * 8


def nice_number(value: float, *, down: bool = False) -> str:
    """The smallest of 1, 2, 5 x 10^k that is >= ``value`` (``down``: the largest <= ``value``), as text — for
    suggested bin sizes and windows."""
    k = math.floor(math.log10(value))
    steps = [m * 10.0**e for e in (k - 1, k, k + 1) for m in (1, 2, 5)]
    if down:
        return f"{max(v for v in steps if v <= value * (1 + 1e-12)):g}"
    return f"{min(v for v in steps if v >= value * (1 - 1e-12)):g}"


def check_allocation(
    n_bytes: float,
    result_bytes: float,
    *,
    what: str,
    shape: str,
    scale: Callable[[float], str],
    cli_scale: Callable[[float], str],
    cli_what: str | None = None,
) -> None:
    """Raise :class:`NWBLayoutError` before allocating when ``n_bytes`` exceed the memory available.

    The message says how many GiB the result would need and how to shrink it: ``scale(factor)`` /
    ``cli_scale(factor)`` give the fix for a result ``factor`` times smaller (one that fits in half the memory).
    """
    avail = available_memory()
    if avail is None or n_bytes <= avail:
        return
    factor = n_bytes / (avail / 2)
    found = (
        f"a result that would need {_gib(n_bytes)} GiB of memory ({shape}: the responses alone "
        f"{_gib(result_bytes)} GiB, as float64) but {_gib(avail)} GiB are available"
    )
    expected = "a result that fits in memory"
    raise layout_error(what, found, expected, scale(factor), cli_fix=cli_scale(factor), cli_what=cli_what)


@dataclass
class EdgeLookup:
    """``np.searchsorted(edges, t, side="right")`` for sorted ``edges`` in O(1) per query: a uniform-grid index.

    The cell of a time ``x`` is ``min(max((x - t0) * scale, 0), n_cells - 1)`` truncated to an integer, computed
    with the same floating-point operations for edges and queries. The map is monotone, so every edge in an
    earlier cell than ``t``'s is ``< t`` and every edge in a later cell is ``> t``: with ``first[c]`` the index of
    the first edge in cell ``c`` or later, the answer is ``first[c]`` plus the number of the next ``depth`` edges
    that are ``<= t`` (an edge ``<= t`` at or after ``first[c]`` must lie in ``t``'s own cell). Exact for any
    floats; NaN queries count no edge. Built only when no cell holds more than ``max_depth`` edges.
    """

    edges: np.ndarray  # (E + depth,) non-decreasing, padded with +inf
    t0: float
    scale: float
    n_cells: int
    first: np.ndarray  # (n_cells,) index of the first edge in each cell or later
    depth: int

    @classmethod
    def build(cls, edges: np.ndarray, *, max_depth: int = 6) -> EdgeLookup | None:
        span = float(edges[-1] - edges[0]) if edges.size else 0.0
        if edges.size < 2 or not span > 0:
            return None
        for cells_per_edge in (2, 8, 32):
            n_cells = cells_per_edge * edges.size
            lookup = cls(edges, float(edges[0]), n_cells / span, n_cells, np.empty(0, np.int64), 0)
            cells = lookup.cells(edges)
            depth = int(np.bincount(cells, minlength=n_cells).max())
            if depth <= max_depth:
                lookup.first = np.searchsorted(cells, np.arange(n_cells), side="left")
                lookup.depth = depth
                lookup.edges = np.concatenate([edges, np.full(depth, np.inf)])
                return lookup
        return None

    def cells(self, x: np.ndarray) -> np.ndarray:
        v = x - self.t0
        v *= self.scale
        np.fmax(v, 0.0, out=v)  # fmax/fmin send NaN to cell 0, where it compares false with every edge
        np.fmin(v, self.n_cells - 1, out=v)
        return v.astype(np.int64)

    def count_le(self, t: np.ndarray) -> np.ndarray:
        """Number of edges ``<= t`` for each query (= ``searchsorted(edges, t, side="right")``)."""
        lo = self.first[self.cells(t)]
        out = lo.copy()
        for j in range(self.depth):
            out += self.edges[lo + j] <= t
        return out


@dataclass
class Windows:
    """Bin edges of every presentation: ``edges[i]`` are ``n_bins + 1`` absolute times (s)."""

    edges: np.ndarray  # (n_presentations, n_bins + 1)
    time: np.ndarray | None  # (n_bins,) bin centres relative to onset, or None without a time dim
    window: tuple[float, float] | None  # relative to onset, None = each presentation's own interval
    order: np.ndarray | None  # presentations sorted by their first edge (None: already in that order)
    monotonic: bool  # sorted windows do not overlap (edges non-decreasing), so spikes can be binned
    lookup: EdgeLookup | None = None  # over the sorted flat edges, when monotonic
    rows: np.ndarray | None = None  # presentation (file order) of each output row; None: file order
    _take_sorted: np.ndarray | None = None  # rows as positions in start-sorted order (binned path)

    def arrange(self, rows: np.ndarray | None) -> None:
        """Make the counting functions return row ``i`` = presentation ``rows[i]`` (one gather per unit, so
        the caller writes each unit's counts contiguously); ``None`` restores file order."""
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        rank = None
        if self.order is not None:
            rank = np.empty_like(self.order)
            rank[self.order] = np.arange(self.order.size)
        if self.rows is None:
            self._take_sorted = rank
        else:
            self._take_sorted = self.rows if rank is None else rank[self.rows]

    @property
    def widths(self) -> np.ndarray:
        """(n_presentations, n_bins) width of each bin in seconds."""
        return np.diff(self.edges, axis=1)

    @property
    def flat(self) -> np.ndarray:
        """The edges of the presentations sorted by start, flattened: non-decreasing when ``monotonic``."""
        return (self.edges if self.order is None else self.edges[self.order]).ravel()


def _check_window(window: tuple[float, float]) -> tuple[float, float]:
    try:
        w0, w1 = (float(v) for v in window)
    except (TypeError, ValueError):
        raise NWBLayoutError(
            f"window=: found {window!r}; expected (start, stop) in seconds relative to onset. "
            "Fix: e.g. window=(0.05, 0.25)."
        ) from None
    if not (np.isfinite(w0) and np.isfinite(w1)) or w1 <= w0:
        raise layout_error(
            f"window=({w0}, {w1})",
            "stop <= start (or a non-finite value)",
            "stop > start, seconds relative to onset",
            "e.g. window=(0.05, 0.25)",
            cli_what=f"--window {w0} {w1}",
            cli_fix="e.g. --window 0.05 0.25",
        )
    return w0, w1


def _check_size(
    n_pres: int,
    n_bins: int,
    n_units: int,
    n_rows: int | None,
    window: tuple[float, float] | None,
    bin_size: float | None,
) -> None:
    """The responses (``n_units`` x ``n_rows`` x ``n_bins``) and edges must fit in memory (before allocating)."""
    n_rows = n_pres if n_rows is None else n_rows
    result = 8.0 * n_units * n_rows * n_bins
    needed = result + _EDGE_OVERHEAD * n_pres * (n_bins + 1.0)
    shape = f"{n_units:,} units x {n_rows:,} presentations x {n_bins:,} bins"
    where = f"window=({window[0]:g}, {window[1]:g})" if window is not None else "each presentation's own interval"
    cli_where = f"--window {window[0]:g} {window[1]:g}" if window is not None else "each presentation's own interval"
    if bin_size is None:
        check_allocation(
            needed,
            result,
            what=f"load_nwb over {where}",
            shape=shape,
            scale=lambda f: "fewer units (units=...) or presentations (rows=...)",
            cli_scale=lambda f: (
                "load fewer units or presentations through the Python API (load_nwb(..., units=..., rows=...))"
            ),
            cli_what=f"neurosuper nwb over {cli_where}",
        )
        return
    w0 = window[0] if window is not None else 0.0
    width = (window[1] - w0) if window is not None else n_bins * bin_size

    def scale(f: float) -> str:
        return (
            f"a larger bin_size (e.g. bin_size={nice_number(bin_size * f)}), a shorter window (e.g. "
            f"window=({w0:g}, {w0 + float(nice_number(width / f, down=True)):g})), or fewer units (units=...)"
        )

    def cli_scale(f: float) -> str:
        return (
            f"a larger --bin-size (e.g. --bin-size {nice_number(bin_size * f)}), or a shorter window (e.g. "
            f"--window {w0:g} {w0 + float(nice_number(width / f, down=True)):g})"
        )

    check_allocation(
        needed,
        result,
        what=f"load_nwb with bin_size={bin_size:g} over {where}",
        shape=shape,
        scale=scale,
        cli_scale=cli_scale,
        cli_what=f"--bin-size {bin_size:g} over {cli_where}",
    )


def make_windows(
    onset: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    *,
    window: tuple[float, float] | None,
    bin_size: float | None,
    what: str,
    n_units: int = 1,
    n_rows: int | None = None,
) -> Windows:
    """Edges of each presentation's window (and its time bins when ``bin_size`` is given).

    ``n_units`` and ``n_rows`` (rows of the result, default one per presentation) size the responses the windows
    will fill: when those and the edges would not fit in memory, :class:`NWBLayoutError` says so before any edge is
    made."""
    if window is None:
        if not np.all(np.isfinite(stop)):
            n = int((~np.isfinite(stop)).sum())
            found = (
                f"{n} of {len(stop)} presentations without a stop time (NaN stop_time, or an IndexSeries, "
                "which has onsets only) and no {}"
            )
            raise layout_error(
                what,
                found.format("window="),
                "window=(start, stop) in seconds relative to onset",
                "e.g. window=(0.0, 0.5)",
                cli_found=found.format("--window"),
                cli_expected="--window START STOP in seconds relative to onset",
                cli_fix="e.g. --window 0.0 0.5",
            )
        if np.any(stop <= start):
            bad = int((stop <= start).sum())
            raise NWBLayoutError(
                f"{what}: found {bad} presentations with stop_time <= start_time; expected "
                "stop > start. Fix: pass window=(start, stop) relative to onset instead."
            )
        if bin_size is None:
            _check_size(len(onset), 1, n_units, n_rows, None, None)
            edges = np.stack([start, stop], axis=1)
            return _finish(edges, None, None)
        durations = stop - start
        if not np.allclose(durations, durations[0], rtol=0, atol=1e-9) or not np.allclose(start, onset):
            raise NWBLayoutError(
                f"{what}: found presentations of different durations ({durations.min():.4g}.."
                f"{durations.max():.4g} s) or onsets other than their start, with bin_size= and no "
                "window=; expected one window for all. Fix: pass window=(start, stop)."
            )
        window = (0.0, float(durations[0]))
    w0, w1 = _check_window(window)
    if bin_size is None:
        _check_size(len(onset), 1, n_units, n_rows, (w0, w1), None)
        edges = np.stack([onset + w0, onset + w1], axis=1)
        return _finish(edges, None, (w0, w1))
    n_bins = (w1 - w0) / bin_size
    if abs(n_bins - round(n_bins)) > 1e-6 * max(1.0, n_bins):
        whole = w0 + max(1, int(n_bins)) * bin_size
        raise layout_error(
            f"window=({w0}, {w1}) with bin_size={bin_size}",
            f"a window of {w1 - w0:.6g} s, not a whole number of bins",
            "stop - start = k * bin_size",
            f"e.g. window=({w0}, {whole:.6g})",
            cli_what=f"--window {w0} {w1} with --bin-size {bin_size}",
            cli_fix=f"e.g. --window {w0} {whole:.6g}",
        )
    _check_size(len(onset), int(round(n_bins)), n_units, n_rows, (w0, w1), bin_size)
    k = np.arange(int(round(n_bins)) + 1)
    rel = w0 + k * bin_size
    edges = onset[:, None] + rel[None, :]
    return _finish(edges, (rel[:-1] + rel[1:]) / 2, (w0, w1))


def _finish(edges: np.ndarray, time: np.ndarray | None, window: tuple[float, float] | None) -> Windows:
    order = np.argsort(edges[:, 0], kind="stable")
    in_order = bool(np.all(order == np.arange(order.size)))
    win = Windows(edges=edges, time=time, window=window, order=None if in_order else order, monotonic=False)
    flat = win.flat
    win.monotonic = bool(np.all(flat[1:] >= flat[:-1]))
    if win.monotonic:
        win.lookup = EdgeLookup.build(flat)
    win.arrange(None)
    return win


def repeat_index(codes: np.ndarray, onset: np.ndarray, n_ids: int) -> tuple[np.ndarray, np.ndarray]:
    """``(repeat, n_repeats)``: each presentation's rank among those of its stimulus, chronologically (ties in
    file order), and the number of presentations of each stimulus."""
    order = np.lexsort((onset, codes))
    n_repeats = np.bincount(codes, minlength=n_ids)
    first = np.concatenate([[0], np.cumsum(n_repeats)[:-1]])
    rep = np.empty(len(codes), dtype=np.int64)
    rep[order] = np.arange(len(codes)) - first[codes[order]]
    return rep, n_repeats


def count_in_windows(times: np.ndarray, win: Windows) -> np.ndarray:
    """Spikes of one unit (sorted ``times``) in every bin: ``(n_presentations, n_bins)`` int64, half-open bins."""
    n_edges = win.edges.size
    if win.monotonic and (
        win.lookup is not None or times.size * np.log2(n_edges + 2) < n_edges * np.log2(times.size + 2)
    ):
        return count_binned(times, win)
    return count_searched(times, win)


def count_binned(times: np.ndarray, win: Windows) -> np.ndarray:
    """Bin the spikes among the sorted, non-overlapping edges (``searchsorted(edges, spikes)`` + ``bincount``).

    A spike with ``k`` edges at or before it (``side="right"``) lies in bin ``k - 1`` of the flattened
    ``(presentation, edge)`` grid; the slot after each presentation's last edge is the gap before the next one
    and is dropped. O(S + E) with the grid index (:class:`EdgeLookup`), else O(S log E + E).
    """
    n, m = win.edges.shape
    slot = win.lookup.count_le(times) if win.lookup is not None else np.searchsorted(win.flat, times, side="right")
    counts = np.bincount(slot, minlength=n * m + 1)[1:].reshape(n, m)[:, :-1]
    return counts if win._take_sorted is None else counts[win._take_sorted]


def count_searched(times: np.ndarray, win: Windows) -> np.ndarray:
    """Search every edge among the spikes: counts = differences of ``searchsorted(spikes, edges)``. Any windows
    (overlapping too). O(E log S)."""
    idx = np.searchsorted(times, win.edges.ravel(), side="left").reshape(win.edges.shape)
    counts = np.diff(idx, axis=1)
    return counts if win.rows is None else counts[win.rows]


def mean_in_windows(timestamps: np.ndarray, data: np.ndarray, win: Windows, what: str) -> np.ndarray:
    """Mean of the frames (rows of ``data``, ``(frames, rois)``) whose timestamp falls in each bin:
    ``(n_presentations, n_bins, rois)``. A bin without frames is an error (it would be NaN)."""
    idx = np.searchsorted(timestamps, win.edges.ravel(), side="left").reshape(win.edges.shape)
    n_frames = np.diff(idx, axis=1)
    if np.any(n_frames == 0):
        bad = int((n_frames == 0).sum())
        rate = 1.0 / np.median(np.diff(timestamps)) if timestamps.size > 1 else float("nan")
        raise NWBLayoutError(
            f"{what}: found {bad} windows/bins without any imaging frame (frame rate {rate:.3g} Hz, "
            f"frames {timestamps[0]:.4g}..{timestamps[-1]:.4g} s); expected at least one frame each. "
            "Fix: widen the window or bin_size, or drop presentations outside the recording."
        )
    csum = np.zeros((data.shape[0] + 1, data.shape[1]), dtype=np.float64)
    np.cumsum(data, axis=0, dtype=np.float64, out=csum[1:])
    sums = csum[idx[:, 1:]] - csum[idx[:, :-1]]
    return sums / n_frames[:, :, None]
