"""Split-half reliability per unit and the population's signal-variance fraction (the noise ceiling).

The repeats of every stimulus are split in two halves (odd vs even valid repeats, averaged; see
:mod:`neurosuper.prep`). Per unit, ``r`` is the Pearson correlation across stimuli of the two
halves and the Spearman–Brown prediction for the mean of all repeats is ``2r / (1 + r)`` (Spearman 1910; Brown
1910). Because noise is independent between halves, the covariance of the halves estimates the unit's signal
(stimulus-related) variance; the single-trial total variance is the mean over repeats of the variance across
stimuli. Their ratio, summed over units, is the population's signal-variance fraction (Stringer et al. 2019,
Nature 571:361 report ≈ 0.17 for their recording).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from .._gram import is_dask
from .._provenance import stamp
from ..errors import NeurosuperWarning
from ..prep import group_coord, responses, split_repeats, unit_groups, valid_repeats

__all__ = ["reliability"]


def _compute(*arrays: Any) -> list[np.ndarray]:
    if any(is_dask(a) for a in arrays):
        import dask

        return [np.asarray(a) for a in dask.compute(*arrays)]
    return [np.asarray(a) for a in arrays]


def reliability(ds: xr.Dataset, *, time: Any = None, groupby: str | None = "auto") -> xr.Dataset:
    """Per-unit split-half reliability (Spearman–Brown corrected) and the signal-variance fraction.

    Parameters
    ----------
    ds
        A ResponseSet with a ``repeat`` dim (at least two valid repeats for 3 or more stimuli).
    time
        Time window selected (then averaged), as in :func:`eigenspectrum`.
    groupby
        ``"auto"`` (default): ``layer``, else ``area``, else none; ``"layer"``, ``"area"`` (or any 1-D coord on
        ``unit``): ``signal_fraction`` per group along a dim of that name; ``None``: all units.

    Returns
    -------
    xarray.Dataset
        ``reliability(unit)`` — Spearman–Brown ``2r/(1+r)``, the reliability of the all-repeat mean (a
        noise ceiling for r² of any model of that mean; its square root bounds r); ``split_half(unit)`` — r;
        ``signal_variance(unit)``, ``total_variance(unit)``, ``noise_variance(unit)`` — single-trial
        variances across stimuli; ``signal_fraction`` — Σ signal / Σ total over units (per group).
        Constant units get NaN (counted in a warning).

    Notes
    -----
    Dask: works chunk by chunk — per-unit sums over stimuli, computed in one ``dask.compute``.
    """
    resp = responses(ds, time=time, caller="reliability")
    groupby_requested = groupby
    groupby = group_coord(resp, groupby)
    valid = valid_repeats(resp) if "repeat" in resp.dims else None
    halves = split_repeats(resp, caller="reliability", valid=valid)
    assert valid is not None  # split_repeats raised if there were no repeat dim
    keep = halves.keep
    n = int(keep.sum())
    data = resp.transpose("repeat", "stimulus", "unit").data
    r1, r2 = halves.r1, halves.r2
    f64 = np.float64
    sums = [
        r1.sum(0, dtype=f64),
        r2.sum(0, dtype=f64),
        (r1.astype(f64) ** 2).sum(0),
        (r2.astype(f64) ** 2).sum(0),
        (r1.astype(f64) * r2).sum(0),
    ]
    per_rep = []
    for k in range(resp.sizes["repeat"]):
        m = valid[k] & keep
        x = data[k][m].astype(f64)
        per_rep += [x.sum(0), (x * x).sum(0)]
    s1, s2, q1, q2, c12, *rep = _compute(*sums, *per_rep)
    m1, m2 = s1 / n, s2 / n
    v1, v2 = q1 / n - m1**2, q2 / n - m2**2
    cov = c12 / n - m1 * m2
    counts = (valid & keep).sum(axis=1)
    total_ss = np.zeros_like(v1)
    for i, cnt in enumerate(counts):
        if cnt:
            total_ss += rep[2 * i + 1] - rep[2 * i] ** 2 / cnt
    total = total_ss / counts.sum()
    const = ~((v1 > 0) & (v2 > 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(const, np.nan, cov / np.sqrt(v1 * v2))
        sb = 2 * r / (1 + r)
    signal = np.where(const, np.nan, cov)
    total = np.where(const, np.nan, total)
    if const.any():
        warnings.warn(
            f"reliability: {int(const.sum())} of {len(const)} units are constant in a repeat half; "
            "their reliability is NaN.",
            NeurosuperWarning,
            stacklevel=2,
        )
    out = xr.Dataset(
        {
            "reliability": ("unit", sb),
            "split_half": ("unit", r),
            "signal_variance": ("unit", signal),
            "total_variance": ("unit", total),
            "noise_variance": ("unit", total - signal),
        },
        coords={k: v for k, v in resp.coords.items() if v.dims == ("unit",) and k != groupby},
    )
    groups = unit_groups(resp, groupby)
    fractions = []
    for _, idx in groups:
        tot = np.nansum(total[idx])
        fractions.append(np.nansum(signal[idx]) / tot if tot > 0 else np.nan)
    if groupby is None:
        out["signal_fraction"] = ((), fractions[0])
    else:
        labels: list[Hashable] = [lab for lab, _ in groups]
        out["signal_fraction"] = xr.DataArray(fractions, dims=(groupby,), coords={groupby: labels})
    out.attrs.update(
        {
            "n_stimuli": n,
            "n_stimuli_dropped": halves.n_dropped,
            "n_repeats": halves.n_repeats,
            "repeat_split": halves.split,
            "n_constant_units": int(const.sum()),
            "correction": "Spearman-Brown 2r/(1+r)",
        }
    )
    return stamp(
        out,
        analysis="reliability",
        reference="Spearman 1910; Brown 1910; Stringer et al. 2019 Nature 571:361",
        options={"time": None if time is None else str(time), "groupby": groupby_requested},
        inputs_from=ds,
    )
