"""Input conventions shared by the spectral analyses (``docs/spectral.md``, "Conventions").

* ``time``: averaged unless ``time=`` selects a window (anything ``DataArray.sel(time=...)`` takes).
* ``repeat``: averaged over valid repeats (NaN marks a missing one), except where repeats are the point
  (cvPCA, reliability), which split them in two halves: for every stimulus its valid repeats, in order, go
  alternately to half 1 (1st, 3rd, ...) and half 2 (2nd, 4th, ...), and each half is averaged. With exactly
  two repeats the halves are the repeats. A repeat of a stimulus is valid when every unit has a value.
* Groups: ``groupby="layer"`` (or any 1-D coord on ``unit``) runs the analysis on each group's units.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import AnalysisError, NeurosuperWarning
from ..format import validate
from ._linalg import is_dask

__all__ = ["responses", "unit_groups", "valid_repeats", "Halves", "split_halves", "repeat_mean", "spont_axes"]


def responses(ds: xr.Dataset, *, time: Any = None, caller: str = "spectral") -> xr.DataArray:
    """``ds.responses`` validated, with ``time`` selected and averaged: dims (``repeat``?, stimulus, unit)."""
    ds = validate(ds)
    resp = ds["responses"]
    if "time" in resp.dims:
        if time is not None:
            resp = resp.sel(time=time)
            if "time" in resp.dims and resp.sizes["time"] == 0:
                raise AnalysisError(f"{caller}: time={time!r} selects no time bin; expected a window inside "
                                    f"[{float(ds.time.min())}, {float(ds.time.max())}] s. Fix: pass e.g. "
                                    "time=slice(0.05, 0.2).")
        if "time" in resp.dims:
            resp = resp.mean("time", skipna=False)
    elif time is not None:
        raise AnalysisError(f"{caller}: time={time!r} given but the set has no 'time' dim (dims "
                            f"{resp.dims}). Fix: drop the time= argument.")
    return resp


def unit_groups(resp: xr.DataArray, groupby: str | None) -> list[tuple[Hashable, np.ndarray]]:
    """``[(label, unit indices)]`` for every value of the unit coord ``groupby`` (in order of appearance)."""
    if groupby is None:
        return [(None, np.arange(resp.sizes["unit"]))]
    if groupby not in resp.coords or resp[groupby].dims != ("unit",):
        unit_coords = sorted(str(c) for c in resp.coords if resp[c].dims == ("unit",) and c != "unit")
        raise AnalysisError(f"groupby={groupby!r}: found no such coord on 'unit' (unit coords: {unit_coords}); "
                            "expected a 1-D coord along 'unit' such as 'layer' or 'area'. Fix: "
                            "ds = ds.assign_coords(layer=('unit', labels)), or groupby=None.")
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


def split_halves(resp: xr.DataArray, *, caller: str = "cvpca", valid: np.ndarray | None = None) -> Halves:
    """Split the repeats into two averaged halves (odd/even valid repeats per stimulus).

    Stimuli with fewer than two valid repeats are left out (``n_dropped``). Raises :class:`AnalysisError`
    when no repeat dim exists or fewer than 3 stimuli have two valid repeats.
    """
    if "repeat" not in resp.dims or resp.sizes["repeat"] < 2:
        n = resp.sizes.get("repeat", 1)
        raise AnalysisError(f"{caller}: found {n} repeat(s) per stimulus; expected at least two valid repeats "
                            "(cross-validation compares independent presentations). Fix: load a set with a "
                            "'repeat' dim (e.g. trials of the same stimulus), or use method='pca'.")
    valid = valid_repeats(resp) if valid is None else valid
    counts = valid.sum(axis=0)
    keep = counts >= 2
    if keep.sum() < 3:
        raise AnalysisError(f"{caller}: found {int(keep.sum())} stimuli with two valid repeats (of "
                            f"{resp.sizes['stimulus']}; NaN marks missing repeats); expected at least 3. Fix: "
                            "record more repeats, or use method='pca' (repeats averaged).")
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
        split = ("odd vs even valid repeats per stimulus (1st, 3rd, ... averaged vs 2nd, 4th, ... averaged)"
                 if n_rep > 2 else "repeat 1 vs repeat 2")
        r1, r2 = r1[keep], r2[keep]
    n_dropped = int((~keep).sum())
    if n_dropped:
        warnings.warn(f"{caller}: left out {n_dropped} of {len(keep)} stimuli with fewer than two valid repeats.",
                      NeurosuperWarning, stacklevel=3)
    return Halves(r1=r1, r2=r2, keep=keep, n_dropped=n_dropped, n_repeats=n_rep, split=split)


def _xp(data: Any):
    if is_dask(data):
        import dask.array as da

        return da
    return np


def repeat_mean(resp: xr.DataArray) -> Any:
    """(stimulus, unit) array: the mean over valid repeats (NaN-skipping); the data itself without repeats."""
    if "repeat" not in resp.dims:
        return resp.transpose("stimulus", "unit").data
    data = resp.transpose("repeat", "stimulus", "unit").data
    if resp.sizes["repeat"] == 1:
        return data[0]
    xp = _xp(data)
    if not is_dask(data) and not np.isnan(data).any():
        return data.mean(axis=0)
    return xp.nanmean(data, axis=0).astype(data.dtype)


def spont_axes(spont: xr.Dataset, unit_ids: np.ndarray, *, n_pcs: int, scale: np.ndarray | None,
               caller: str = "eigenspectrum") -> np.ndarray:
    """Top ``n_pcs`` principal axes (unit × n_pcs, orthonormal) of a spontaneous-activity set.

    The spontaneous set's units are matched to ``unit_ids``; its time bins (and repeats) are the samples;
    it is centred per unit and divided by ``scale`` (the responses' z-score factors) when given, so the axes
    live in the same coordinates as the responses they are removed from (Stringer et al. 2019, Methods).
    """
    spont = validate(spont)
    have = pd.Index(spont["unit"].values)
    missing = [u for u in unit_ids.tolist() if u not in have]
    if missing:
        raise AnalysisError(f"{caller}: remove_pcs_of lacks {len(missing)} of the responses' units "
                            f"(e.g. {missing[:3]}); expected the same unit ids. Fix: record spontaneous "
                            "activity for the same units, or select the shared units first.")
    sp = spont["responses"].sel(unit=unit_ids)
    if "time" in sp.dims:
        sp = sp.stack(sample=[d for d in sp.dims if d != "unit"]).transpose("sample", "unit")
    elif "repeat" in sp.dims:
        sp = sp.stack(sample=("repeat", "stimulus")).transpose("sample", "unit")
    x = np.asarray(sp.values, dtype=np.float64)
    x = x[~np.isnan(x).any(axis=1)]
    k = min(x.shape) - 1
    if n_pcs < 1 or n_pcs > k:
        raise AnalysisError(f"{caller}: n_pcs={n_pcs}; expected 1..{k} (the spontaneous set has {x.shape[0]} "
                            f"samples of {x.shape[1]} units). Fix: pass a smaller n_pcs.")
    x -= x.mean(axis=0)
    if scale is not None:
        x /= np.where(scale > 0, scale, 1.0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return vt[:n_pcs].T.copy()
