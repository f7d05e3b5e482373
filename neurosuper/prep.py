"""Preparing responses for an analysis — one implementation every analysis shares.

* ``time``: averaged unless ``time=`` selects a window (anything ``DataArray.sel(time=...)`` takes);
  :func:`trial_average` with ``time=False`` keeps it.
* ``repeat``: averaged over valid repeats (NaN marks a missing one), except where repeats are the point
  (cvPCA, reliability), which split them in two halves: for every stimulus its valid repeats, in order, go
  alternately to half 1 (1st, 3rd, ...) and half 2 (2nd, 4th, ...), and each half is averaged. With exactly
  two repeats the halves are the repeats. A repeat of a stimulus is valid when every unit has a value.
* Groups: ``groupby="layer"`` (or any 1-D coord on ``unit``) runs the analysis on each group's units;
  ``"auto"`` picks ``layer``, else ``area``, else no grouping.

NaN means one thing (see :func:`neurosuper.validate`): a whole missing repeat. So the mean over repeats skips
NaN, and the mean over time never meets one inside a valid repeat.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._gram import is_dask
from .errors import AnalysisError, NeurosuperWarning
from .format import validate

__all__ = [
    "trial_average",
    "responses",
    "select_time",
    "group_coord",
    "unit_groups",
    "unit_coords",
    "valid_repeats",
    "Halves",
    "split_repeats",
    "repeat_mean",
    "unit_subset",
    "by_stimulus_id",
]


def responses(ds: xr.Dataset, *, time: Any = None, caller: str = "spectral") -> xr.DataArray:
    """``ds.responses`` validated, with ``time`` selected and averaged: dims (``repeat``?, stimulus, unit)."""
    return select_time(validate(ds)["responses"], time, caller=caller)


def select_time(resp: xr.DataArray, time: Any = None, *, caller: str = "spectral") -> xr.DataArray:
    """``resp`` with the bins ``time`` selects (all when ``None``) averaged away; no ``time`` dim is left."""
    if "time" not in resp.dims:
        if time is not None:
            raise AnalysisError(
                f"{caller}: time={time!r} given but the set has no 'time' dim (dims "
                f"{resp.dims}). Fix: drop the time= argument."
            )
        return resp
    if time is not None:
        window = resp.sel(time=time)
        if "time" in window.dims and window.sizes["time"] == 0:
            raise AnalysisError(
                f"{caller}: time={time!r} selects no time bin; expected a window inside "
                f"[{float(resp.time.min())}, {float(resp.time.max())}] s. Fix: pass e.g. "
                "time=slice(0.05, 0.2)."
            )
        resp = window
    return resp.mean("time", skipna=False) if "time" in resp.dims else resp


def group_coord(obj: xr.Dataset | xr.DataArray, groupby: str | None = "auto") -> str | None:
    """The unit coord to group by: ``groupby`` itself, or for ``"auto"`` ``layer``, then ``area``, else ``None``."""
    if groupby != "auto":
        if groupby is not None and (groupby not in obj.coords or obj[groupby].dims != ("unit",)):
            names = sorted(str(c) for c in obj.coords if obj[c].dims == ("unit",) and c != "unit")
            raise AnalysisError(
                f"groupby={groupby!r}: found no such coord on 'unit' (unit coords: {names}); "
                "expected a 1-D coord along 'unit' such as 'layer' or 'area'. Fix: "
                "groupby='auto' (layer, else area), groupby=None, or "
                "ds = ds.assign_coords(layer=('unit', labels))."
            )
        return groupby
    return next((c for c in ("layer", "area") if c in obj.coords and obj[c].dims == ("unit",)), None)


def unit_coords(obj: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """The 1-D coords along ``unit`` (ids, ``layer``/``area``, …) to carry into a per-unit result."""
    return {str(k): ("unit", v.values) for k, v in obj.coords.items() if v.dims == ("unit",)}


def unit_groups(resp: xr.DataArray | xr.Dataset, groupby: str | None) -> list[tuple[Hashable, np.ndarray]]:
    """``[(label, unit indices)]`` for every value of the unit coord ``groupby`` (in order of appearance).

    ``groupby=None`` gives one group of every unit (label ``None``); ``"auto"`` resolves with :func:`group_coord`.
    """
    groupby = group_coord(resp, groupby)
    if groupby is None:
        return [(None, np.arange(resp.sizes["unit"]))]
    values = np.asarray(resp[groupby].values)
    labels = pd.unique(values)
    return [(lab.item() if hasattr(lab, "item") else lab, np.flatnonzero(values == lab)) for lab in labels]


def valid_repeats(resp: xr.DataArray) -> np.ndarray:
    """(repeat, stimulus) bool: the repeat of the stimulus has a value for every unit."""
    data = resp.transpose("repeat", "stimulus", "unit").data
    if is_dask(data):
        import dask.array as da

        return np.asarray((~da.isnan(data)).all(axis=-1).compute())
    return ~np.isnan(data).any(axis=-1)


@dataclass
class Halves:
    """The two repeat halves of a set: (stimulus, unit) arrays over the kept stimuli."""

    r1: Any
    r2: Any
    keep: np.ndarray
    n_dropped: int
    n_repeats: int
    split: str


def split_repeats(resp: xr.DataArray, *, caller: str = "cvpca", valid: np.ndarray | None = None) -> Halves:
    """Split the repeats into two averaged halves (odd/even valid repeats per stimulus).

    Stimuli with fewer than two valid repeats are left out (``n_dropped``). Raises :class:`AnalysisError`
    when no repeat dim exists or fewer than 3 stimuli have two valid repeats.
    """
    if "repeat" not in resp.dims or resp.sizes["repeat"] < 2:
        n = resp.sizes.get("repeat", 1)
        raise AnalysisError(
            f"{caller}: found {n} repeat(s) per stimulus; expected at least two valid repeats "
            "(cross-validation compares independent presentations). Fix: load a set with a "
            "'repeat' dim (e.g. trials of the same stimulus), or use method='pca'."
        )
    valid = valid_repeats(resp) if valid is None else valid
    counts = valid.sum(axis=0)
    keep = counts >= 2
    if keep.sum() < 3:
        raise AnalysisError(
            f"{caller}: found {int(keep.sum())} stimuli with two valid repeats (of "
            f"{resp.sizes['stimulus']}; NaN marks missing repeats); expected at least 3. Fix: "
            "record more repeats, or use method='pca' (repeats averaged)."
        )
    data = resp.transpose("repeat", "stimulus", "unit").data
    n_rep = resp.sizes["repeat"]
    if n_rep == 2 and keep.all():
        r1, r2 = data[0], data[1]
        split = "repeat 1 vs repeat 2"
    else:
        pos = np.cumsum(valid, axis=0) - 1
        first = valid & (pos % 2 == 0)
        second = valid & (pos % 2 == 1)
        w1 = first / np.maximum(first.sum(0), 1)
        w2 = second / np.maximum(second.sum(0), 1)
        xp = _xp(data)
        clean = xp.where(xp.isnan(data), 0, data)
        dtype = data.dtype
        r1 = sum(clean[r] * w1[r][:, None].astype(dtype) for r in range(n_rep))
        r2 = sum(clean[r] * w2[r][:, None].astype(dtype) for r in range(n_rep))
        split = (
            "odd vs even valid repeats per stimulus (1st, 3rd, ... averaged vs 2nd, 4th, ... averaged)"
            if n_rep > 2
            else "repeat 1 vs repeat 2"
        )
        r1, r2 = r1[keep], r2[keep]
    n_dropped = int((~keep).sum())
    if n_dropped:
        warnings.warn(
            f"{caller}: left out {n_dropped} of {len(keep)} stimuli with fewer than two valid repeats.",
            NeurosuperWarning,
            stacklevel=3,
        )
    return Halves(r1=r1, r2=r2, keep=keep, n_dropped=n_dropped, n_repeats=n_rep, split=split)


def _xp(data: Any) -> types.ModuleType:
    """numpy, or dask.array for dask-backed data."""
    if is_dask(data):
        import dask.array as da

        return da
    return np


def repeat_mean(resp: xr.DataArray, keep: Sequence[Hashable] = ("stimulus", "unit")) -> Any:
    """Array with dims ``keep``: the mean over valid repeats (NaN-skipping); the data itself without repeats."""
    if "repeat" not in resp.dims:
        return resp.transpose(*keep).data
    data = resp.transpose("repeat", *keep).data
    if resp.sizes["repeat"] == 1:
        return data[0]
    if not is_dask(data) and not np.isnan(data).any():
        return data.mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a stimulus with no valid repeat stays NaN
        return _xp(data).nanmean(data, axis=0).astype(data.dtype)


def trial_average(data: xr.Dataset | xr.DataArray, *, time: Any = None, caller: str = "trial_average") -> xr.DataArray:
    """Responses averaged over valid repeats and (unless told otherwise) over time: dims (stimulus, unit).

    Parameters
    ----------
    data
        A ResponseSet (validated here) or its ``responses`` DataArray.
    time
        ``None`` (default) averages every time bin; a window (``slice(0.05, 0.2)`` or anything
        ``DataArray.sel(time=...)`` takes) averages those bins; ``False`` keeps the ``time`` dim.

    Returns
    -------
    xarray.DataArray
        (stimulus, [time,] unit) with the set's coords; dask-backed data stay lazy. NaN repeats (missing
        presentations) are skipped; a stimulus with no valid repeat stays NaN.
    """
    resp = validate(data)["responses"] if isinstance(data, xr.Dataset) else data
    if time is not False:
        resp = select_time(resp, time, caller=caller)
    if "repeat" in resp.dims:
        rest = [d for d in resp.dims if d != "repeat"]
        resp = xr.DataArray(
            repeat_mean(resp, keep=rest),
            dims=rest,
            name=resp.name,
            attrs=resp.attrs,
            coords={k: v for k, v in resp.coords.items() if "repeat" not in v.dims},
        )
    return resp.transpose("stimulus", ..., "unit")


def unit_subset(ds: xr.Dataset, max_units: int) -> xr.Dataset:
    """``ds`` with at most ``max_units`` units, evenly spaced over the unit axis (so every layer/area keeps units
    in proportion); ``ds`` itself when it has no more."""
    n = ds.sizes["unit"]
    if n <= max_units:
        return ds
    idx = np.unique(np.linspace(0, n - 1, max_units).round().astype(int))
    return ds.isel(unit=idx)


def by_stimulus_id(obj: Any) -> Any:
    """``obj`` (a set or a DataArray) with its stimuli in the order of their ids; ``obj`` itself when they already
    are (no copy), or when it has no ``stimulus`` dim.

    Every analysis that draws stimuli at random (bootstrap resamples, null sets, fit/score splits, subsamples)
    calls it first, so that a seed picks the same stimuli — by id, not by storage position — and a set gives the
    same numbers whatever the order its stimuli are stored in. A dask-backed set stays lazy."""
    if "stimulus" not in obj.dims:
        return obj
    index = obj.indexes["stimulus"] if "stimulus" in obj.indexes else pd.Index(np.asarray(obj["stimulus"].values))
    if index.is_monotonic_increasing:
        return obj
    try:
        order = index.argsort()
    except TypeError:  # ids of mixed types: ordered by their text
        order = pd.Index(index.astype(str)).argsort()
    return obj.isel(stimulus=np.asarray(order))
