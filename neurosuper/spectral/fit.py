"""``powerlaw``: the power-law exponent α of an eigenspectrum (Stringer et al. 2019, Nature 571:361, Methods).

Weighted least squares of ``log λ_n = −α log n + b`` over a rank range with weights ``1/n`` (so every octave of
ranks weighs about the same). Default ranks 11..min(500, N) (1-based; Stringer's MATLAB default is
11..min(500, N−2); neuropop's Python ``get_powerlaw(ss, np.arange(11, 500))`` indexes 0-based arrays, i.e.
fits ranks 12..500).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from ..errors import AnalysisError, NeurosuperWarning

__all__ = ["powerlaw", "point_spectrum", "DEFAULT_RANKS", "MIN_FIT_RANKS"]

#: Default first and last rank of the fit (1-based, inclusive).
DEFAULT_RANKS = (11, 500)
#: Fewest ranks a fit accepts.
MIN_FIT_RANKS = 5


def point_spectrum(spectrum: xr.Dataset | xr.DataArray,
                   var: str = "variance") -> tuple[xr.DataArray, xr.DataArray | None]:
    """(point estimate, bootstrap replicates or None) of a spectrum Dataset/DataArray.

    The point estimate is ``variance_full`` when bootstrapped, else ``variance``; a bare DataArray with a
    ``boot`` dim gives its mean over ``boot``.
    """
    if isinstance(spectrum, xr.Dataset):
        if var not in spectrum:
            raise AnalysisError(f"found no {var!r} in the spectrum (variables {sorted(map(str, spectrum.data_vars))}); "
                                "expected the result of neurosuper.spectral.eigenspectrum. Fix: pass that result.")
        da = spectrum[var]
        if "boot" in da.dims:
            full = spectrum.get(f"{var}_full")
            return (full if full is not None else da.mean("boot")), da
        return da, None
    if not isinstance(spectrum, xr.DataArray) or "rank" not in spectrum.dims:
        raise AnalysisError(f"found a {type(spectrum).__name__}; expected an eigenspectrum (Dataset with "
                            "'variance', or a DataArray with a 'rank' dim). Fix: pass eigenspectrum(ds).")
    if "boot" in spectrum.dims:
        return spectrum.mean("boot"), spectrum
    return spectrum, None


def _wls(logv: np.ndarray, logn: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised weighted least squares of ``logv = −α logn + b`` (weights ``w``, 0 = unused) along the last axis."""
    sw = w.sum(-1)
    x = -logn
    y = np.where(w > 0, logv, 0.0)
    mx = (w * x).sum(-1) / sw
    my = (w * y).sum(-1) / sw
    dx = x - mx[..., None]
    dy = np.where(w > 0, y - my[..., None], 0.0)
    sxx = (w * dx * dx).sum(-1)
    alpha = (w * dx * dy).sum(-1) / sxx
    b = my - alpha * mx
    resid = np.where(w > 0, y - (alpha[..., None] * x + b[..., None]), 0.0)
    ss_tot = (w * dy * dy).sum(-1)
    r2 = 1 - (w * resid * resid).sum(-1) / np.where(ss_tot > 0, ss_tot, np.nan)
    return alpha, b, r2


def _range(v: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """Last usable rank: ``hi`` capped at the last finite rank and before the first non-positive value."""
    finite = np.flatnonzero(np.isfinite(v))
    n_max = int(finite[-1]) + 1 if finite.size else 0
    hi = min(hi, n_max)
    bad = np.flatnonzero(~(v[lo - 1:hi] > 0))
    return (hi if bad.size == 0 else lo - 1 + int(bad[0])), n_max


def powerlaw(spectrum: xr.Dataset | xr.DataArray, *, ranks: tuple[int, int] | None = None,
             ci: float = 0.95) -> xr.Dataset:
    """Fit ``variance_n ∝ n^(−α)`` by Stringer's weighted least squares (weights 1/n) in log–log space.

    Parameters
    ----------
    spectrum
        The result of :func:`eigenspectrum` (or a DataArray with a ``rank`` dim). Other dims (a ``layer``
        group, ...) are fitted one by one.
    ranks
        ``(first, last)`` 1-based inclusive ranks; default 11..min(500, N). The last rank is capped at N (the
        last finite rank) and, for cross-validated spectra, before the first non-positive value (the noise
        floor) — with a :class:`NeurosuperWarning` saying where.
    ci
        Level of the percentile bootstrap interval when the spectrum has a ``boot`` dim.

    Returns
    -------
    xarray.Dataset
        ``alpha``, ``intercept`` (``b``; natural log), ``r2`` (weighted coefficient of determination in
        log–log space) and, when bootstrapped, ``alpha_ci`` (``bound`` = lower, upper), the replicates
        ``alpha_boot`` and their bias ``alpha_boot_bias``. The interval is the percentile interval of the
        replicates minus their median bias: a resample repeats about a third of the stimuli, which shrinks the
        effective sample and steepens the spectrum (Marchenko–Pastur spreading), so raw percentiles sit above
        the estimate (+0.007 at 15,000 stimuli × 170 units, +0.2 at 400 × 120).
        attrs ``ranks`` = [first, last] used (per group: a dict), ``n_ranks``, ``stopped_at_noise_floor``.

    Raises
    ------
    AnalysisError
        Fewer than 5 ranks in the range (too few stimuli or units for the fit range, or the noise floor
        reached too early).
    """
    point, boot = point_spectrum(spectrum)
    method = spectrum.attrs.get("method", "") if isinstance(spectrum, xr.Dataset) else point.attrs.get("method", "")
    lo, hi = ranks if ranks is not None else DEFAULT_RANKS
    if not (isinstance(lo, int | np.integer) and isinstance(hi, int | np.integer) and 1 <= lo < hi):
        raise AnalysisError(f"powerlaw: ranks={ranks!r}; expected (first, last) with 1 <= first < last (1-based). "
                            "Fix: ranks=(11, 500).")
    other = [d for d in point.dims if d != "rank"]
    pt = point.transpose(*other, "rank")
    values = np.asarray(pt.values, dtype=np.float64).reshape(-1, pt.sizes["rank"])
    rank = np.asarray(pt["rank"].values, dtype=np.float64)
    labels = [{d: (_plain(pt[d].values[i]) if d in pt.coords else i) for d, i in zip(other, key, strict=True)}
              for key in np.ndindex(*[pt.sizes[d] for d in other])]
    masks = np.zeros_like(values)
    used: list[list[int] | None] = []
    notes: list[str] = []
    stopped = []
    for i, v in enumerate(values):
        where = _where(labels[i])
        last, n_max = _range(v, lo, hi)
        capped = min(hi, n_max)
        if last < capped:
            stopped.append(True)
            notes.append(f"{where}the fit range stops at rank {last} (the spectrum is not positive at rank "
                         f"{last + 1}: the noise floor of {'the cross-validated' if method == 'cvpca' else 'this'} "
                         f"spectrum), not {capped}")
        else:
            stopped.append(False)
        if last - lo + 1 < MIN_FIT_RANKS:
            reason = (f"the spectrum has N={n_max} ranks" if n_max < lo + MIN_FIT_RANKS - 1
                      else f"it is not positive at rank {last + 1}")
            msg = (f"powerlaw: {where}ranks {lo}..{last} leave {max(last - lo + 1, 0)} ranks to fit ({reason}); "
                   f"expected at least {MIN_FIT_RANKS}. Fix: more stimuli and units (N = min(n_stimuli − 1, "
                   f"n_units) must reach {lo + MIN_FIT_RANKS - 1}), or pass ranks=(1, {max(n_max, 2)}) to fit "
                   "the leading ranks (not comparable with Stringer's 11..500).")
            if len(values) == 1:
                raise AnalysisError(msg)
            notes.append(msg)
            used.append(None)
            continue
        masks[i, lo - 1:last] = 1.0
        used.append([int(lo), int(last)])
    if all(u is None for u in used):
        raise AnalysisError(notes[-1])
    if notes:
        warnings.warn("powerlaw: " + "; ".join(notes), NeurosuperWarning, stacklevel=2)
    weights = masks / rank
    logv = np.log(np.where(values > 0, values, 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha, b, r2 = _wls(logv, np.log(rank), weights)
    shape = [pt.sizes[d] for d in other]
    coords = {d: pt[d] for d in other if d in pt.coords}
    out = xr.Dataset({"alpha": (other, alpha.reshape(shape)), "intercept": (other, b.reshape(shape)),
                      "r2": (other, r2.reshape(shape))}, coords=coords)
    if boot is not None:
        bt = boot.transpose("boot", *other, "rank")
        bv = np.asarray(bt.values, dtype=np.float64).reshape(bt.sizes["boot"], -1, bt.sizes["rank"])
        bmask = np.broadcast_to(masks, bv.shape) * (bv > 0)
        # a replicate that reaches its noise floor inside the range is fitted up to there
        bmask = bmask * (np.cumprod(np.where(masks > 0, bv > 0, True), axis=-1) > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ba, _, _ = _wls(np.log(np.where(bv > 0, bv, 1.0)), np.log(rank), bmask / rank)
        ba = np.where(bmask.sum(-1) >= MIN_FIT_RANKS, ba, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN groups stay NaN
            bias = np.nanmedian(ba, axis=0) - alpha
            q = np.nanpercentile(ba - bias, [50 * (1 - ci), 50 * (1 + ci)], axis=0)
        out["alpha_ci"] = (("bound",) + tuple(other), q.reshape([2] + shape))
        out["alpha_boot"] = (("boot",) + tuple(other), ba.reshape([bt.sizes["boot"]] + shape))
        out["alpha_boot_bias"] = (tuple(other), bias.reshape(shape))
        out = out.assign_coords(bound=["lower", "upper"], boot=bt["boot"].values)
        out.attrs["ci"] = float(ci)
        out.attrs["ci_method"] = ("percentile bootstrap over stimuli, bias-corrected: percentiles of alpha_boot - "
                                  "alpha_boot_bias (median replicate minus estimate); resampled stimuli repeat, "
                                  "which steepens spectra")
    if other:
        out.attrs["ranks"] = {"/".join(str(v) for v in lab.values()): u for lab, u in zip(labels, used, strict=True)}
    else:
        out.attrs["ranks"] = used[0]
    out.attrs.update({
        "n_ranks": [u[1] - u[0] + 1 if u else 0 for u in used] if other else used[0][1] - used[0][0] + 1,
        "stopped_at_noise_floor": bool(any(stopped)), "weights": "1/rank",
        "method": method or "unknown", "analysis": "powerlaw",
        "reference": "Stringer et al. 2019 Nature 571:361 (Methods, power-law exponent)",
    })
    for key in ("n_stimuli", "n_units", "system", "source"):
        if isinstance(spectrum, xr.Dataset) and key in spectrum.attrs:
            out.attrs[key] = spectrum.attrs[key]
    return out


def _where(label: dict[str, Any]) -> str:
    if not label:
        return ""
    return ", ".join(f"{k}={_plain(v)!r}" for k, v in label.items()) + ": "


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
