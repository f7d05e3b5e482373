"""Predictivity: how well a network layer's units linearly predict each neuron (the metric Brain-Score and most
model–brain papers report), with the neurons' split-half reliability ceiling.

Cross-validated ridge regression (scikit-learn): the stimuli are split into ``n_splits`` folds
(``KFold(shuffle=True, random_state=seed)`` over the shared stimuli in sorted id order); on each training
part the layer's units are standardised and a ridge model is fitted per neuron, its α chosen among
:data:`ALPHAS` by efficient leave-one-out CV on the training part (``RidgeCV(alpha_per_target=True)``), or
fixed by ``alpha=``. Every stimulus is predicted once, by the model that did not see it; a neuron's score is
Pearson r between its held-out predictions and its (repeat-averaged) responses within each test fold, averaged
over the folds (as Brain-Score; pooling the folds instead would correlate each fold's offset — the training
mean — with the held-out values and bias r below zero for unpredictable neurons).

Ceiling (when the brain has repeats): per neuron, Pearson r across stimuli between the means of two halves of
the repeats (:func:`neurosuper.prep.split_repeats`), Spearman–Brown corrected to the full data,
``R = 2 r / (1 + r)`` — the reliability of the repeat-averaged responses that are predicted (with 2 repeats the
split-half r is the reliability of *one* repeat; the correction makes it that of their mean).

Normalised score: a model that predicts a neuron's noise-free signal exactly correlates with its averaged
responses at ``√R`` (classical test theory: r(signal, data)² = R), not ``R``; so
``normalized = median(r) / median(√R)`` — a perfect model scores 1 (± sampling) whatever the reliability
(dividing by ``median(R)`` instead, a perfect model would score 1/√R: 1.12, 1.41, 2.24 at R = 0.8, 0.5, 0.2).
This is the same √R that :func:`~neurosuper.compare.profile` draws as the upper edge of the ceiling band.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from .. import prep
from .._gram import is_dask
from .._provenance import stamp
from .._validation import check_float, check_int, responses_of
from ..errors import AnalysisError, NeurosuperWarning, fail
from .align import MIN_STIMULI_CI, align, ci_allowed
from .rsa import spearman_brown
from .rsakernels import bootstrap_counts, recentred_interval

__all__ = ["predictivity", "ALPHAS", "pearson_columns", "reliability_ceiling", "split_half_reliability"]

#: Ridge penalties searched by the inner CV (the layer's units are standardised first).
ALPHAS = np.logspace(-2, 6, 17)

REFERENCE = (
    "Yamins et al. 2014 PNAS 111:8619; Schrimpf et al. 2018 Brain-Score (bioRxiv 407007): cross-validated "
    "linear predictivity, median over neurons; normalised by the median square root of the split-half "
    "(Spearman-Brown) reliability, the expected r of a noise-free model"
)


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.compute() if is_dask(x) else x, dtype=np.float64)


def pearson_columns(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``y`` with the same column of ``p`` (NaN for a constant column)."""
    yc = y - y.mean(axis=0)
    pc = p - p.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("ij,ij->j", yc, pc) / np.sqrt(np.einsum("ij,ij->j", yc, yc) * np.einsum("ij,ij->j", pc, pc))


def split_half_reliability(r_half: Any, k1: float, k2: float) -> np.ndarray:
    """The reliability of the mean of ``k1 + k2`` repeats from the correlation ``r_half`` of the means of ``k1``
    and of ``k2`` of them (Spearman–Brown, generalised to unequal halves).

    With single-repeat reliability ρ, the mean of k repeats has ``ρ_k = k ρ / (1 + (k − 1) ρ)`` and the two
    halves correlate at ``r = √(ρ_k1 ρ_k2)``; ρ is the root of ``(k1 k2 − r² a b) ρ² − r² (a + b) ρ − r² = 0``
    (``a = k1 − 1``, ``b = k2 − 1``) with the sign of r, and the result is ``ρ_(k1+k2)``. Equal halves give the
    classical ``2 r / (1 + r)`` exactly; with 3 repeats (halves of 2 and 1) the classical formula would
    understate the reliability (0.48 for a true 0.5, 0.19 for 0.2)."""
    r = np.asarray(r_half, dtype=np.float64)
    if k1 == k2:
        return spearman_brown(r)
    a, b = k1 - 1.0, k2 - 1.0
    r2 = r * r
    qa = k1 * k2 - r2 * a * b
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = np.sqrt(r2 * r2 * (a + b) ** 2 + 4 * r2 * qa)
        rho = (r2 * (a + b) + np.sign(r) * disc) / (2 * qa)
        return spearman_brown(rho, k1 + k2)


def reliability_ceiling(resp: xr.DataArray, *, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit split-half r and the reliability of the repeat-averaged responses it implies (Spearman–Brown;
    :func:`split_half_reliability` when the halves hold different numbers of repeats, e.g. 3 repeats)."""
    valid = prep.valid_repeats(resp)
    halves = prep.split_repeats(resp, caller=caller, valid=valid)
    r_half = pearson_columns(_numpy(halves.r1), _numpy(halves.r2))
    counts = valid.sum(axis=0)[halves.keep]
    k1, k2 = float(np.mean((counts + 1) // 2)), float(np.mean(counts // 2))  # odd/even valid repeats
    return r_half, split_half_reliability(r_half, k1, k2)


def _fold_r(y: np.ndarray, p: np.ndarray, folds: np.ndarray, n_splits: int) -> np.ndarray:
    """(unit,) mean over folds of the per-fold Pearson r of ``y`` and ``p``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean([pearson_columns(y[folds == k], p[folds == k]) for k in range(n_splits)], axis=0)


def _median_boot(y: np.ndarray, p: np.ndarray, folds: np.ndarray, n_splits: int, counts: np.ndarray) -> np.ndarray:
    """(B,) median over neurons of the fold-averaged Pearson r, each stimulus weighted by its bootstrap count."""
    c = counts.astype(np.float64)
    acc = np.zeros((c.shape[0], y.shape[1]))
    seen = np.zeros((c.shape[0], y.shape[1]))
    for k in range(n_splits):
        m = folds == k
        yk = y[m] - y[m].mean(axis=0)
        pk = p[m] - p[m].mean(axis=0)
        ck = c[:, m]
        nk = ck.sum(axis=1)[:, None]
        sy, sp = ck @ yk, ck @ pk
        syy, spp, syp = ck @ (yk * yk), ck @ (pk * pk), ck @ (yk * pk)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (syp - sy * sp / nk) / np.sqrt((syy - sy * sy / nk) * (spp - sp * sp / nk))
        ok = np.isfinite(r)
        acc += np.where(ok, r, 0.0)
        seen += ok
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(acc / seen, axis=1)


def predictivity(
    network: Any,
    brain: Any,
    *,
    alpha: float | None = None,
    n_splits: int = 10,
    seed: int = 0,
    alphas: Any = None,
    n_boot: int = 0,
    ci: float = 0.95,
    time: Any = None,
    progress: bool = True,
) -> xr.Dataset:
    """Cross-validated ridge predictivity of every neuron of ``brain`` from the units of ``network``.

    Parameters
    ----------
    network, brain
        ResponseSets (or ``responses``); matched on shared stimulus ids (any order), averaged over repeats and
        time. Select a layer first (``net.isel(unit=net.layer == "conv3")``) or use
        :func:`neurosuper.compare.profile` for every layer at once.
    alpha
        A fixed ridge penalty; ``None`` (default) chooses one per neuron among ``alphas`` (default
        :data:`ALPHAS`) by leave-one-out CV on each training part.
    n_splits
        Outer folds (each stimulus is predicted once, by a model fitted without it).
    seed
        Seeds the fold assignment and the bootstrap.
    n_boot, ci
        Bootstrap resamples over stimuli of the held-out predictions (the fitted models are kept) for a
        percentile CI of the median r, shifted by the bootstrap bias (estimate minus the resamples' median:
        the median over neurons of resampled, noisier r's is pulled towards the bulk of the neurons) and
        clipped to [−1, 1]: it always contains ``median``. Fewer than
        :data:`~neurosuper.compare.MIN_STIMULI_CI` stimuli: no CI (``median_ci`` NaN, with a warning).

    Returns
    -------
    xarray.Dataset
        ``r(unit)`` held-out Pearson r per neuron, mean over test folds (``brain``'s units and unit coords),
        ``alpha(unit)`` (median α chosen over folds), ``median`` (median r over neurons, NaN neurons
        skipped); with repeats
        ``ceiling(unit)`` (Spearman–Brown split-half reliability R), ``ceiling_median`` (median R),
        ``ceiling_r(unit)`` (√R, the r a noise-free model reaches; R < 0 counts as 0), ``ceiling_r_median`` and
        ``normalized`` (= ``median / ceiling_r_median``: 1 for a perfect model); with ``n_boot``
        ``median_ci(bound)`` and ``median_boot(boot)``;
        ``prediction(stimulus, unit)`` the held-out predictions and ``fold(stimulus)`` the test fold of each
        stimulus. Dimensionless.
    """
    caller = "predictivity"
    check_int("n_splits", n_splits, low=2, caller=caller)
    check_int("n_boot", n_boot, low=0, caller=caller)
    if alpha is not None:
        check_float("alpha", alpha, low=0, low_open=True, caller=caller)
    ra = responses_of(network, caller=caller)
    rb = responses_of(brain, caller=caller)
    ra, rb = align(ra, rb, names=["network", "brain"], caller=caller)
    n = ra.sizes["stimulus"]
    if n < 2 * n_splits:
        raise fail(
            f"{caller}: {n} shared stimuli",
            f"{n} for n_splits={n_splits}",
            "at least 2 stimuli per fold (2 × n_splits)",
            f"pass n_splits={max(2, n // 2)}",
            AnalysisError,
        )
    x = _numpy(prep.trial_average(ra, time=time, caller=caller).transpose("stimulus", "unit").data)
    yda = prep.trial_average(rb, time=time, caller=caller).transpose("stimulus", "unit")
    y = _numpy(yda.data)
    pred, chosen, folds = _cross_validate(
        x,
        y,
        alpha=alpha,
        alphas=ALPHAS if alphas is None else np.asarray(alphas),
        n_splits=n_splits,
        seed=seed,
        progress=progress,
    )
    r = _fold_r(y, pred, folds, n_splits)
    n_bad = int(np.isnan(r).sum())
    if n_bad == r.size:
        raise fail(
            f"{caller}: brain",
            "every neuron constant across the shared stimuli (or predictions constant)",
            "neurons whose responses vary across stimuli",
            "check the set's responses",
            AnalysisError,
        )
    if n_bad:
        warnings.warn(
            f"{caller}: {n_bad} of {r.size} neurons are constant across stimuli (or their predictions "
            "are); their r is NaN and left out of the median.",
            NeurosuperWarning,
            stacklevel=2,
        )
    unit_coords = {k: ("unit", v.values) for k, v in yda.coords.items() if v.dims == ("unit",)}
    out = xr.Dataset(
        {
            "r": ("unit", r),
            "alpha": ("unit", chosen),
            "prediction": (("stimulus", "unit"), pred),
            "fold": ("stimulus", folds),
            "median": float(np.nanmedian(r)),
        },
        coords={"stimulus": yda["stimulus"].values, **unit_coords},
    )
    attrs: dict[str, Any] = {
        "n_stimuli": int(n),
        "n_units_network": int(x.shape[1]),
        "n_neurons": int(y.shape[1]),
        "n_splits": n_splits,
        "alpha_choice": "fixed"
        if alpha is not None
        else "per neuron, RidgeCV efficient leave-one-out on each training part",
        "score": "Pearson r of held-out predictions per test fold, mean over folds, median over neurons",
    }
    if "repeat" in rb.dims and rb.sizes["repeat"] >= 2:
        _, ceiling = reliability_ceiling(prep.select_time(rb, time, caller=caller), caller=caller)
        out["ceiling"] = ("unit", ceiling)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cm = float(np.nanmedian(ceiling))
        ceiling_r = np.sqrt(np.clip(ceiling, 0, None))
        out["ceiling_r"] = ("unit", ceiling_r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cr = float(np.nanmedian(ceiling_r))
        out["ceiling_median"] = cm
        out["ceiling_r_median"] = cr
        out["normalized"] = float(out["median"]) / cr if cr > 0 else np.nan
        attrs["ceiling"] = (
            "per neuron split-half r (odd vs even repeats), Spearman-Brown corrected (reliability R of the "
            "averaged responses); ceiling_r = sqrt(R), the r of a noise-free model; normalized = "
            "median(r) / median(sqrt(R)): 1 for a perfect model"
        )
    else:
        attrs["ceiling"] = "none: the brain set has no repeats"
    if n_boot and not ci_allowed(n, caller=caller):
        out["median_ci"] = xr.DataArray([np.nan, np.nan], dims="bound", coords={"bound": ["lower", "upper"]})
        attrs["ci_note"] = (
            f"no interval from {n} stimuli (a bootstrap needs at least MIN_STIMULI_CI = {MIN_STIMULI_CI})"
        )
    elif n_boot:
        boot = _median_boot(y, pred, folds, n_splits, bootstrap_counts(n, n_boot, seed))
        # the median over neurons of resampled (noisier) r's is pulled towards the bulk of the neurons: shift the
        # percentile interval by that bias, point estimate minus the resamples' median
        lo, hi, shift = recentred_interval(float(out["median"]), boot, ci)
        out["median_ci"] = xr.DataArray([lo, hi], dims="bound", coords={"bound": ["lower", "upper"]})
        out["median_boot"] = xr.DataArray(boot, dims="boot", coords={"boot": np.arange(n_boot)})
        attrs.update(
            {
                "ci_level": ci,
                "ci_method": "percentile bootstrap over stimuli of the held-out predictions "
                "(fitted models kept), shifted by the bias: estimate minus the median of the resamples; "
                "clipped to [-1, 1]",
                "ci_bias_shift": shift,
            }
        )
    out.attrs.update(attrs)
    return stamp(
        out,
        analysis="compare.predictivity",
        reference=REFERENCE,
        options={"alpha": alpha, "n_splits": n_splits, "seed": seed, "n_boot": n_boot, "time": time},
        inputs_from=brain if isinstance(brain, xr.Dataset) else None,
    )


def _cross_validate(
    x: np.ndarray, y: np.ndarray, *, alpha: float | None, alphas: np.ndarray, n_splits: int, seed: int, progress: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.linear_model import Ridge, RidgeCV
    from sklearn.model_selection import KFold

    from .._progress import progress_bar

    pred = np.zeros_like(y)
    fold_of = np.zeros(y.shape[0], dtype=np.int64)
    chosen = np.zeros((n_splits, y.shape[1]))
    folds = KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(x)
    for k, (train, test) in enumerate(
        progress_bar(folds, total=n_splits, desc="predictivity", progress=progress, leave=False)
    ):
        mu = x[train].mean(axis=0)
        sd = x[train].std(axis=0)
        sd[sd == 0] = 1.0
        xt, xs = (x[train] - mu) / sd, (x[test] - mu) / sd
        if alpha is None:
            model = RidgeCV(alphas=alphas, alpha_per_target=True).fit(xt, y[train])
            chosen[k] = np.broadcast_to(model.alpha_, (y.shape[1],))
        else:
            model = Ridge(alpha=alpha).fit(xt, y[train])
            chosen[k] = alpha
        pred[test] = model.predict(xs).reshape(len(test), -1)
        fold_of[test] = k
    return pred, np.median(chosen, axis=0), fold_of
