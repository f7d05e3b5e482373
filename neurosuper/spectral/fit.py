"""``powerlaw``: the power-law exponent α of an eigenspectrum (Stringer et al. 2019, Nature 571:361, Methods).

Weighted least squares of ``log λ_n = −α log n + b`` over a rank range with weights ``1/n`` (so every octave of
ranks weighs about the same).

Default range: ranks 11..min(500, N // 4) (1-based, inclusive; N = the spectrum's number of finite ranks, per
group). A sample spectrum bends down over its last ranks (the covariance of n stimuli has only n − 1 non-zero
eigenvalues, and the last ones fall below the population's power law), so a fit that reaches N is biased: on
noiseless power laws (α = 1, as many units as stimuli) the old default 11..min(500, N) errs by +0.43 at N = 500
and +1.3 at N = 100, Stringer's MATLAB 11..min(500, n_stimuli − 2) likewise; 11..min(500, N // 4) keeps the mean
error under 0.1 from N = 100 to 3,000 (``tests/test_spectral_powerlaw.py``, ``docs/spectral.md``). For N ≥ 2,000
it is Stringer's 11..500. neuropop's Python ``get_powerlaw(ss, np.arange(11, 500))`` indexes 0-based arrays, i.e.
fits ranks 12..500.

Minimum data: a fit needs :data:`MIN_FIT_RANKS` = 10 ranks (the reason is at the constant). Below it α is not
fittable — :class:`~neurosuper.errors.NotEnoughData`, or NaN for that group of a grouped fit — never a number from
a handful of leading ranks.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from ..errors import AnalysisError, NeurosuperWarning, NotEnoughData

__all__ = [
    "powerlaw",
    "point_spectrum",
    "default_ranks",
    "DEFAULT_RANKS",
    "MIN_FIT_RANKS",
    "NEED",
    "POOR_FIT_R2",
    "BEND_DIVISOR",
    "NEGATIVES",
]

#: Stringer's nominal range (1-based, inclusive); the default last rank is also capped at N // BEND_DIVISOR.
DEFAULT_RANKS = (11, 500)
#: The default last rank is at most N // BEND_DIVISOR: clear of the finite-sample bend at the end of a spectrum.
BEND_DIVISOR = 4
#: Fewest ranks a fit accepts — below it α is "not fittable" (:class:`~neurosuper.errors.NotEnoughData`), never a
#: number. Why 10: on sample spectra of a power law (α = 1, as many Gaussian units as stimuli, the fewest that give
#: the range under the default rule), 95 % of the fitted α lie within ±0.44 of their mean over 5 ranks (11..15),
#: ±0.32 over 7, ±0.20 over 10 (11..20), ±0.12 over 15 and ±0.10 over 20 (200 draws each;
#: ``benchmarks/bench_minimum_data.py``, ``tests/test_spectral_fit.py``): 10 ranks is the fewest at which α = 1
#: (mouse V1, Stringer et al. 2019) and α = 1.5 (the smoothness bound 1 + 2/d of a 4-d stimulus space) are told
#: apart. With the default rule it takes a spectrum of N ≥ 40 ranks (1..N // 4) and
#: N ≥ 80 for ranks from 11 (N = min(n_stimuli − 1, n_units), per group).
MIN_FIT_RANKS = 10
#: A fit with a weighted r² (log–log) below this gets a warning: the spectrum is not a straight line there.
POOR_FIT_R2 = 0.9
#: How non-positive values (a cross-validated spectrum below its noise floor) are handled.
NEGATIVES = ("stop", "abs")
#: Text of the default rule (stored in results).
RANK_RULE = (
    f"first..last = {DEFAULT_RANKS[0]}..min({DEFAULT_RANKS[1]}, N // {BEND_DIVISOR}); when that leaves "
    f"fewer than {MIN_FIT_RANKS} ranks, 1..N // {BEND_DIVISOR}; not fittable when that leaves fewer than "
    f"{MIN_FIT_RANKS} (N < {BEND_DIVISOR * MIN_FIT_RANKS})"
)
#: What a spectrum needs for the default range, in words (the "not enough data" sentences say it).
NEED = (
    f"N ≥ {BEND_DIVISOR * MIN_FIT_RANKS} ranks, N = min(n_stimuli − 1, n_units) per set or group, positive up to "
    f"rank {MIN_FIT_RANKS}; N ≥ {BEND_DIVISOR * (DEFAULT_RANKS[0] + MIN_FIT_RANKS - 1)} for ranks from "
    f"{DEFAULT_RANKS[0]}, N ≥ {BEND_DIVISOR * DEFAULT_RANKS[1]} for Stringer's {DEFAULT_RANKS[0]}..{DEFAULT_RANKS[1]}"
)
REFERENCE = "Stringer et al. 2019 Nature 571:361 (Methods, power-law exponent)"


def default_ranks(n: int) -> tuple[int, int] | None:
    """The default fit range ``(first, last)`` for a spectrum of ``n`` ranks, or ``None`` when none exists.

    ``(11, min(500, n // 4))``; when that leaves fewer than :data:`MIN_FIT_RANKS` = 10 ranks (n < 80), the leading
    ranks ``(1, n // 4)``; ``None`` when that leaves fewer than 10 too (n < 40: α is not fittable).
    """
    lo, hi = DEFAULT_RANKS[0], min(DEFAULT_RANKS[1], n // BEND_DIVISOR)
    if hi - lo + 1 >= MIN_FIT_RANKS:
        return lo, hi
    hi = n // BEND_DIVISOR
    return (1, hi) if hi >= MIN_FIT_RANKS else None


def point_spectrum(
    spectrum: xr.Dataset | xr.DataArray, var: str = "variance"
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """(point estimate, bootstrap replicates or None) of a spectrum Dataset/DataArray.

    A Dataset from :func:`eigenspectrum` holds the point estimate in ``variance`` and the replicates in
    ``variance_boot``. A bare DataArray with a ``boot`` dim gives its mean over ``boot``.
    """
    if isinstance(spectrum, xr.Dataset):
        if var not in spectrum:
            raise AnalysisError(
                f"found no {var!r} in the spectrum (variables {sorted(map(str, spectrum.data_vars))}); "
                "expected the result of neurosuper.spectral.eigenspectrum. Fix: pass that result."
            )
        da = spectrum[var]
        if "boot" in da.dims:
            raise AnalysisError(
                f"found {var!r} with a 'boot' dim; expected the point estimate in {var!r} and the bootstrap "
                f"replicates in '{var}_boot'. Fix: pass the result of neurosuper.spectral.eigenspectrum."
            )
        return da, spectrum.get(f"{var}_boot")
    if not isinstance(spectrum, xr.DataArray) or "rank" not in spectrum.dims:
        raise AnalysisError(
            f"found a {type(spectrum).__name__}; expected an eigenspectrum (Dataset with "
            "'variance', or a DataArray with a 'rank' dim). Fix: pass eigenspectrum(ds)."
        )
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


@dataclass
class _Plan:
    """The fit range of one spectrum (one group)."""

    first: int = 0
    last: int = 0
    n: int = 0  # N: finite ranks
    n_fit: int = 0  # ranks the range leaves (when not ok)
    ok: bool = False
    stopped: bool = False
    capped: bool = False
    fallback: bool = False
    notes: list[str] = field(default_factory=list)
    error: str = ""
    suggested: tuple[int, int] | None = None


def _plan(
    v: np.ndarray, ranks: tuple[int, int] | None, negatives: str, method: str, where: str, *, suggest: bool = True
) -> _Plan:
    finite = np.isfinite(v)
    idx = np.flatnonzero(finite)
    n = int(idx[-1]) + 1 if idx.size else 0
    nonpos = np.flatnonzero(~(v[:n] > 0))
    n_pos = int(nonpos[0]) if nonpos.size else n  # leading positive ranks
    usable = n_pos if negatives == "stop" else n
    floor = f"the noise floor of {'the cross-validated' if method == 'cvpca' else 'this'} spectrum"
    plan = _Plan(n=n)
    if ranks is None:
        lo, hi = DEFAULT_RANKS[0], min(DEFAULT_RANKS[1], n // BEND_DIVISOR)
        if usable < hi:
            plan.stopped = True
            plan.notes.append(
                f"{where}the fit range stops at rank {usable} (the spectrum is not positive at rank "
                f"{usable + 1}: {floor}), not {hi}"
            )
            hi = usable
        if hi - lo + 1 < MIN_FIT_RANKS:
            fb = min(n // BEND_DIVISOR, usable)  # never into the finite-sample bend
            if fb >= MIN_FIT_RANKS:
                plan.fallback = True
                plan.notes.append(
                    f"{where}the default ranks {lo}..min({DEFAULT_RANKS[1]}, N // {BEND_DIVISOR}) leave "
                    f"{max(hi - lo + 1, 0)} ranks (N = {n}); fitted the leading ranks 1..{fb} instead, "
                    "which are not comparable with Stringer's 11..500 (rank 1 often carries a common "
                    "mode) and, with so few ranks, uncertain"
                )
                lo, hi = 1, fb
            else:  # the leading ranks are too few as well: counted as the ranks there are to fit
                lo, hi = 1, max(fb, 0)
        reason_range = (
            f"the default ranks {lo}..{hi}"
            if not (lo == 1 and hi < MIN_FIT_RANKS)
            else "the default ranks (11..min(500, N // 4), else the leading 1..N // 4: here "
            + (f"1..{hi})" if hi >= 1 else "none)")
        )
    else:
        lo, hi = ranks
        if hi > n:
            plan.capped = True
            plan.notes.append(
                f"{where}ranks {lo}..{hi} capped at N = {n}, the spectrum's last rank; ranks beyond "
                f"N // {BEND_DIVISOR} = {n // BEND_DIVISOR} lie in the finite-sample bend, where a "
                "sample spectrum falls below the power law and α comes out too steep (omit ranks= for "
                "the default, which stops there)"
            )
            hi = n
        if usable < hi:
            plan.stopped = True
            plan.notes.append(
                f"{where}the fit range stops at rank {usable} (the spectrum is not positive at rank "
                f"{usable + 1}: {floor}), not {hi}"
            )
            hi = usable
        reason_range = f"ranks {lo}..{hi}"
    n_fit = hi - lo + 1
    if n_fit < MIN_FIT_RANKS:
        if n < MIN_FIT_RANKS:
            reason = f"the spectrum has N={n} ranks (N = min(n_stimuli − 1, n_units))"
        elif plan.stopped:
            reason = f"it is not positive at rank {usable + 1} ({floor})"
        else:
            reason = f"the spectrum has N={n} ranks"
        fixes = []
        if suggest:  # only ranges checked to work: never the advice that just failed
            if ranks is not None and _plan(v, None, negatives, method, where, suggest=False).ok:
                fixes.append("omit ranks= (the default range)")
            lead = min(usable, n // BEND_DIVISOR)  # leading ranks clear of the finite-sample bend
            if lead >= MIN_FIT_RANKS and (ranks is None or ranks != (1, lead)):
                plan.suggested = (1, lead)
                fixes.append(
                    f"pass ranks=(1, {lead}) to fit the leading ranks (not comparable with Stringer's 11..500)"
                )
            if negatives == "stop" and _plan(v, ranks, "abs", method, where, suggest=False).ok:
                fixes.append("pass negatives='abs' to fit log|λ| past the noise floor, as Stringer did")
        fix = (
            "; or ".join(fixes)
            if fixes
            else (
                f"none within this spectrum: a power law needs at least {MIN_FIT_RANKS} positive ranks to fit, clear "
                f"of the finite-sample bend (ranks ≤ N // {BEND_DIVISOR}); record more units and stimuli ({NEED}) or "
                "more repeats"
            )
        )
        plan.n_fit = max(n_fit, 0)
        plan.error = (
            f"powerlaw: {where}{reason_range} leave {max(n_fit, 0)} ranks to fit ({reason}); expected at "
            f"least {MIN_FIT_RANKS}. Fix: {fix}."
        )
        return plan
    plan.first, plan.last, plan.ok = int(lo), int(hi), True
    return plan


def powerlaw(
    spectrum: xr.Dataset | xr.DataArray,
    *,
    ranks: tuple[int, int] | None = None,
    ci: float = 0.95,
    negatives: str = "stop",
) -> xr.Dataset:
    """Fit ``variance_n ∝ n^(−α)`` by Stringer's weighted least squares (weights 1/n) in log–log space.

    Parameters
    ----------
    spectrum
        The result of :func:`eigenspectrum` (or a DataArray with a ``rank`` dim). Other dims (a ``layer``
        group, ...) are fitted one by one.
    ranks
        ``(first, last)`` 1-based inclusive ranks. Default (``None``): 11..min(500, N // 4) per spectrum, N =
        its number of finite ranks — clear of the finite-sample bend at the end of a spectrum; when that leaves
        fewer than :data:`MIN_FIT_RANKS` = 10 ranks (N < 80), the leading ranks 1..N // 4 with a
        :class:`NeurosuperWarning`; when that leaves fewer than 10 too (N < 40), α is not fittable
        (:class:`~neurosuper.errors.NotEnoughData`). An explicit last rank beyond N is capped at N, with a warning;
        an explicit range must leave 10 ranks too.
    ci
        Level of the percentile bootstrap interval when the spectrum has bootstrap replicates.
    negatives
        What to do with non-positive values (a cross-validated spectrum below its noise floor):
        ``"stop"`` (default) ends the range before the first non-positive rank, with a warning — a cvPCA
        value ≤ 0 says the signal at that rank is below what the repeats can resolve, and its magnitude is
        noise; ``"abs"`` fits log|λ| over the whole range, as Stringer's ``get_powerlaw`` does (exact zeros
        are left out) — reproduces the published code, but the noise magnitudes past the floor flatten α.

    Returns
    -------
    xarray.Dataset
        ``alpha``, ``intercept`` (``b``; natural log), ``r2`` (weighted coefficient of determination in
        log–log space) and, with bootstrap replicates, ``alpha_ci`` (``bound`` = lower, upper), the replicates
        ``alpha_boot`` and their bias ``alpha_boot_bias``. The interval is the percentile interval of the
        replicates minus their median bias: a resample repeats about a third of the stimuli, which shrinks the
        effective sample and steepens the spectrum (Marchenko–Pastur spreading), so raw percentiles sit above
        the estimate (+0.007 at 15,000 stimuli × 170 units, +0.2 at 400 × 120). It covers the spread of α̂
        over new draws of as many stimuli (and their trial noise), centred on α̂ — not the estimator's bias
        against a generating α (``docs/spectral.md``, "What the interval covers").
        attrs ``ranks`` = [first, last] used (per group: a dict), ``n_ranks``, ``N``, ``ranks_requested``,
        ``rank_rule``, ``negatives``, ``stopped_at_noise_floor``, ``capped``, ``fallback``, ``poor_fit``
        (r² < :data:`POOR_FIT_R2` = 0.9, with a warning), per group ``not_fittable`` (``{group: why}`` of the groups
        with fewer than 10 ranks to fit, whose ``alpha`` is NaN), and the provenance attrs.

    Raises
    ------
    NotEnoughData
        (an :class:`AnalysisError`, ``not_fittable`` True) No range of :data:`MIN_FIT_RANKS` = 10 ranks exists (too
        few stimuli or units, or the noise floor reached too early) — in the one spectrum, or in every group. The
        message's Fix names a range that works when one exists (``err.suggested_ranks``), never the one that
        failed.
    """
    from .._validation import check_choice, check_float

    check_choice("negatives", negatives, NEGATIVES, caller="powerlaw")
    check_float("ci", ci, low=0.0, high=1.0, low_open=True, high_open=True, caller="powerlaw")
    point, boot = point_spectrum(spectrum)
    method = spectrum.attrs.get("method", "") if isinstance(spectrum, xr.Dataset) else point.attrs.get("method", "")
    if ranks is not None:
        ok = (
            isinstance(ranks, tuple | list)
            and len(ranks) == 2
            and all(isinstance(r, int | np.integer) and not isinstance(r, bool) for r in ranks)
            and 1 <= ranks[0] < ranks[1]
        )
        if not ok:
            raise AnalysisError(
                f"powerlaw: ranks={ranks!r}; expected (first, last) with 1 <= first < last "
                "(1-based, inclusive). Fix: ranks=(11, 100), or omit ranks= for the default."
            )
        ranks = (int(ranks[0]), int(ranks[1]))
    other = [d for d in point.dims if d != "rank"]
    pt = point.transpose(*other, "rank")
    values = np.asarray(pt.values, dtype=np.float64).reshape(-1, pt.sizes["rank"])
    rank = np.asarray(pt["rank"].values, dtype=np.float64)
    labels = [
        {d: (_plain(pt[d].values[i]) if d in pt.coords else i) for d, i in zip(other, key, strict=True)}
        for key in np.ndindex(*[pt.sizes[d] for d in other])
    ]
    masks = np.zeros_like(values)
    plans = [_plan(v, ranks, negatives, method, _where(labels[i])) for i, v in enumerate(values)]
    notes: list[str] = []
    for i, plan in enumerate(plans):
        notes += plan.notes
        if not plan.ok:
            if len(values) == 1:
                err = _not_enough(plan.error, plan.n_fit, plan.n)
                err.suggested_ranks = plan.suggested  # type: ignore[attr-defined]
                raise err
            notes.append(plan.error.removeprefix("powerlaw: "))
            continue
        masks[i, plan.first - 1 : plan.last] = 1.0
    if not any(p.ok for p in plans):
        each = "; ".join(f"{_where(labels[i])}{p.n_fit} (N = {p.n})" for i, p in enumerate(plans))
        err = _not_enough(
            f"powerlaw: no group can be fitted: the ranks to fit per group are {each}; expected at least "
            f"{MIN_FIT_RANKS} in a group. Fix: fit all units together (groupby=None), or record more units and "
            f"stimuli per group ({NEED}).",
            max(p.n_fit for p in plans),
            max(p.n for p in plans),
            groups=True,
        )
        err.suggested_ranks = None  # type: ignore[attr-defined]
        raise err
    if negatives == "abs":
        masks *= np.isfinite(values) & (values != 0)
    logv = np.log(np.where(masks > 0, np.abs(values), 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha, b, r2 = _wls(logv, np.log(rank), masks / rank)
    few = masks.sum(-1) < MIN_FIT_RANKS  # "abs": exact zeros left out of a short range
    alpha, b, r2 = (np.where(few, np.nan, a) for a in (alpha, b, r2))
    poor = [bool(p.ok and np.isfinite(r) and r < POOR_FIT_R2) for p, r in zip(plans, r2, strict=True)]
    for i, bad in enumerate(poor):
        if bad:
            notes.append(
                f"{_where(labels[i])}a poor fit: r² = {r2[i]:.2f} < {POOR_FIT_R2} over ranks "
                f"{plans[i].first}..{plans[i].last} (the log–log spectrum is not a straight line there, so α "
                "depends on the range; look at plot_spectrum)"
            )
    if notes:
        warnings.warn("powerlaw: " + "; ".join(notes), NeurosuperWarning, stacklevel=2)
    shape = [pt.sizes[d] for d in other]
    coords = {d: pt[d] for d in other if d in pt.coords}
    out = xr.Dataset(
        {
            "alpha": (other, alpha.reshape(shape)),
            "intercept": (other, b.reshape(shape)),
            "r2": (other, r2.reshape(shape)),
        },
        coords=coords,
    )
    if boot is not None:
        bt = boot.transpose("boot", *other, "rank")
        bv = np.asarray(bt.values, dtype=np.float64).reshape(bt.sizes["boot"], -1, bt.sizes["rank"])
        if negatives == "abs":
            bmask = np.broadcast_to(masks, bv.shape) * (np.isfinite(bv) & (bv != 0))
        else:
            bmask = np.broadcast_to(masks, bv.shape) * (bv > 0)
            # a replicate that reaches its noise floor inside the range is fitted up to there
            bmask = bmask * (np.cumprod(np.where(masks > 0, bv > 0, True), axis=-1) > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ba, _, _ = _wls(np.log(np.where(bmask > 0, np.abs(bv), 1.0)), np.log(rank), bmask / rank)
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
        out.attrs["ci_method"] = (
            "percentile bootstrap over stimuli, bias-corrected: percentiles of alpha_boot - "
            "alpha_boot_bias (median replicate minus estimate); resampled stimuli repeat, "
            "which steepens spectra"
        )
        out.attrs["ci_covers"] = (
            "the spread of alpha over new draws of as many stimuli (with their trial noise), "
            "centred on the estimate; not the estimator's bias against a generating alpha "
            "(docs/spectral.md)"
        )
    used = [[p.first, p.last] if p.ok else None for p in plans]
    if other:
        keys = ["/".join(str(v) for v in lab.values()) for lab in labels]
        out.attrs["ranks"] = dict(zip(keys, used, strict=True))
        out.attrs["N"] = dict(zip(keys, [p.n for p in plans], strict=True))
        out.attrs["n_ranks"] = [u[1] - u[0] + 1 if u else 0 for u in used]
        # why a group's alpha is NaN: fewer than MIN_FIT_RANKS ranks to fit ("not enough data")
        out.attrs["not_fittable"] = {
            k: p.error.removeprefix("powerlaw: ") for k, p in zip(keys, plans, strict=True) if not p.ok
        }
    else:
        (only,) = plans  # one spectrum: without a fit range it raised AnalysisError above
        out.attrs["ranks"] = [only.first, only.last]
        out.attrs["N"] = only.n
        out.attrs["n_ranks"] = only.last - only.first + 1
    out.attrs.update(
        {
            "ranks_requested": list(ranks) if ranks is not None else "default",
            "rank_rule": RANK_RULE,
            "negatives": negatives,
            "stopped_at_noise_floor": any(p.stopped for p in plans),
            "capped": any(p.capped for p in plans),
            "fallback": any(p.fallback for p in plans),
            "poor_fit": any(poor),
            "r2_threshold": POOR_FIT_R2,
            "weights": "1/rank",
            "method": method or "unknown",
        }
    )
    for key in ("n_stimuli", "n_units", "system", "source"):
        if isinstance(spectrum, xr.Dataset) and key in spectrum.attrs:
            out.attrs[key] = spectrum.attrs[key]
    return stamp(
        out,
        analysis="powerlaw",
        reference=REFERENCE,
        options={"ranks": ranks, "ci": ci, "negatives": negatives},
        inputs_from=spectrum,
    )


def _not_enough(message: str, found: int, n: int, *, groups: bool = False) -> NotEnoughData:
    """The error of a fit with fewer than :data:`MIN_FIT_RANKS` ranks to fit (``found``) in a spectrum of ``n``
    ranks (with ``groups``: the best group's)."""
    return NotEnoughData(
        message,
        analysis="the power-law exponent α",
        what=(
            f"ranks to fit (in the best group; the largest group's spectrum has N = {n} ranks)"
            if groups
            else f"ranks to fit (of a spectrum of N = {n} ranks)"
        ),
        found=int(found),
        needed=MIN_FIT_RANKS,
        need=NEED,
    )


def _where(label: Mapping[Hashable, Any]) -> str:
    if not label:
        return ""
    return ", ".join(f"{k}={_plain(v)!r}" for k, v in label.items()) + ": "


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v
