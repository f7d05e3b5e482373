"""Comparing RDMs (representational similarity analysis) and their noise ceilings, as xarray.

:func:`compare_rdms` — one RDM against one or several (subjects): the similarity, a bootstrap CI over stimuli and
an optional permutation p-value. :func:`noise_ceiling` — Nili et al. 2014's leave-one-out bounds from several
RDMs of the same stimuli (rsatoolbox's ``boot_noise_ceiling``), or the split-half ceiling of one set with
repeats. Kernels in :mod:`neurosuper.compare.rsakernels`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .. import prep
from .._provenance import stamp
from .._validation import check_choice, check_float, check_int, responses_of
from ..errors import AnalysisError, NeurosuperWarning, fail
from .align import MIN_SHARED_STIMULI, MIN_STIMULI_CI, align, ci_allowed
from .rdm import check_rdm, condensed, rdm
from .rsakernels import (
    METHODS,
    SpearmanPlan,
    bootstrap_counts,
    permutation_index,
    permutation_null,
    pool,
    recentred_interval,
    similarity,
    weighted_similarity,
)

__all__ = ["compare_rdms", "noise_ceiling", "rdm_stack", "spearman_brown"]

REFERENCE_RSA = (
    "Nili et al. 2014 PLoS Comput Biol 10:e1003553 (rsatoolbox compare; Kendall tau_a for "
    "categorical models); bootstrap over stimuli as rsatoolbox bootstrap_sample_pattern"
)
REFERENCE_CEILING = "Nili et al. 2014 PLoS Comput Biol 10:e1003553 (rsatoolbox boot_noise_ceiling, pool_rdm)"
CI_METHOD = (
    "percentile bootstrap over stimuli: n stimuli drawn with replacement, pairs of a stimulus with its "
    "own copy dropped (rsatoolbox bootstrap_sample_pattern); the interval recentred so that the resamples' "
    "median sits on the estimate (shift = estimate - median, attr ci_bias_shift) and clipped to [-1, 1]"
)


def spearman_brown(r: Any, factor: float = 2.0) -> Any:
    """Spearman–Brown prophecy: the reliability of ``factor`` times the data, ``k r / (1 + (k − 1) r)``."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return factor * r / (1 + (factor - 1) * r)


def _as_rdm_input(obj: Any, *, caller: str, name: str, metric: str = "correlation", time: Any = None) -> xr.DataArray:
    if isinstance(obj, xr.Dataset) or (isinstance(obj, xr.DataArray) and "unit" in obj.dims):
        (obj,) = align(obj, names=[name], caller=caller)  # canonical order: the same bits whatever the input order
        return rdm(obj, metric=metric, time=time)
    return check_rdm(obj, caller=caller, name=name)


def rdm_stack(rdms: Any, *, caller: str = "compare", name: str = "rdms") -> list[xr.DataArray]:
    """A list of RDMs from a list/tuple of RDMs or one DataArray with a leading extra dim (e.g. ``subject``)."""
    if isinstance(rdms, xr.DataArray):
        extra = [d for d in rdms.dims if d not in ("stimulus_a", "stimulus_b")]
        if not extra:
            return [check_rdm(rdms, caller=caller, name=name)]
        if len(extra) > 1:
            raise fail(
                f"{caller}: {name}",
                f"dims {tuple(map(str, rdms.dims))}",
                "(subject, stimulus_a, stimulus_b): one extra dim at most",
                "stack the RDMs along one dim",
                AnalysisError,
            )
        return [
            check_rdm(
                rdms.isel({extra[0]: i}).drop_vars([extra[0]], errors="ignore"), caller=caller, name=f"{name}[{i}]"
            )
            for i in range(rdms.sizes[extra[0]])
        ]
    if isinstance(rdms, Sequence) and not isinstance(rdms, str):
        return [check_rdm(r, caller=caller, name=f"{name}[{i}]") for i, r in enumerate(rdms)]
    raise fail(
        f"{caller}: {name}",
        f"a {type(rdms).__name__}",
        "a list of RDMs or a DataArray (subject, stimulus_a, stimulus_b)",
        "pass [rdm_subject1, rdm_subject2, ...]",
        AnalysisError,
    )


def _check_common(method: str, n_boot: int, ci: float, n_perm: int, caller: str) -> None:
    check_choice("method", method, METHODS, caller=caller)
    check_int("n_boot", n_boot, low=0, caller=caller)
    check_float("ci", ci, low=0, high=1, low_open=True, high_open=True, caller=caller)
    check_int("n_perm", n_perm, low=0, caller=caller)


def _warn_flat(vectors: list[np.ndarray], names: list[str], caller: str) -> None:
    for v, name in zip(vectors, names, strict=True):
        if v.size and np.ptp(v) == 0:
            warnings.warn(
                f"{caller}: every dissimilarity of {name} is equal; correlation and rank comparisons "
                "with it are undefined (NaN).",
                NeurosuperWarning,
                stacklevel=4,
            )


def compare_rdms(
    a: Any,
    b: Any,
    *,
    method: str = "spearman",
    n_boot: int = 1000,
    ci: float = 0.95,
    n_perm: int = 0,
    seed: int = 0,
    metric: str = "correlation",
    time: Any = None,
) -> xr.Dataset:
    """How similar two RDMs are, with a bootstrap CI over stimuli and (``n_perm``) a permutation p-value.

    Parameters
    ----------
    a, b
        RDMs (:func:`~neurosuper.compare.rdm`, :func:`~neurosuper.compare.as_rdm`) or ResponseSets (their RDM
        with ``metric`` is taken). ``b`` may also be several RDMs (a list, or a DataArray with a leading
        ``subject`` dim): the value is then the mean over them of the similarity with ``a`` (rsatoolbox's
        ``eval_fixed``). Matched on shared stimulus ids, in any order.
    method
        ``"spearman"``, ``"kendall_tau_a"`` (τ_a: ties count against; for models that predict tied
        distances), ``"pearson"`` or ``"cosine"`` — rsatoolbox's ``compare`` methods ``spearman``, ``tau-a``,
        ``corr``, ``cosine``.
    n_boot, ci
        Bootstrap resamples over stimuli (pairs of a stimulus with its own copy dropped) and the interval's
        level: the percentile interval of the resamples, recentred so that their median sits on the estimate
        (dropping a stimulus's pairs with its own copies pulls the resampled values away from the estimate, and
        the plain percentile interval can then miss it) and clipped to [−1, 1] — it always contains ``value``.
        ``n_boot=0``: no CI. Fewer than :data:`~neurosuper.compare.MIN_STIMULI_CI` stimuli: no CI either (NaN,
        with a warning saying how many are needed).
    n_perm
        Stimulus-label permutations of ``b`` for a one-sided p-value ``(1 + #{null ≥ value}) / (1 + n_perm)``.
    seed
        Seeds the bootstrap (and, with a different stream, the permutations).

    Returns
    -------
    xarray.Dataset
        ``value`` (dimensionless similarity), ``ci(bound)`` (``lower``, ``upper``), ``value_boot(boot)``, and with
        ``n_perm`` ``p_value``; attrs ``method``, ``n_stimuli``, ``n_pairs``, ``n_rdms``, ``ci_level``, ``ci_method``.

    References
    ----------
    Nili et al. 2014 PLoS Comput Biol 10:e1003553; Kriegeskorte et al. 2008.
    """
    caller = "compare_rdms"
    _check_common(method, n_boot, ci, n_perm, caller)
    ra = _as_rdm_input(a, caller=caller, name="a", metric=metric, time=time)
    if isinstance(b, (list, tuple)) or (isinstance(b, xr.DataArray) and b.ndim == 3):
        rbs = rdm_stack(b, caller=caller, name="b")
    else:
        rbs = [_as_rdm_input(b, caller=caller, name="b", metric=metric, time=time)]
    names = ["a"] + (["b"] if len(rbs) == 1 else [f"b[{i}]" for i in range(len(rbs))])
    aligned = align(ra, *rbs, names=names, caller=caller)
    x = condensed(aligned[0])
    ys = np.array([condensed(r) for r in aligned[1:]])
    _warn_flat([x, *ys], names, caller)
    n = aligned[0].sizes["stimulus_a"]
    plan = SpearmanPlan(x, ys) if method == "spearman" else None  # one sort per RDM, value and bootstrap
    value = float(np.mean(plan.values() if plan is not None else [similarity(x, y, method) for y in ys]))
    out = xr.Dataset({"value": value})
    attrs: dict[str, Any] = {
        "method": method,
        "n_stimuli": int(n),
        "n_pairs": int(x.size),
        "n_rdms": len(ys),
        "metric_a": aligned[0].attrs.get("metric", "unknown"),
        "metric_b": aligned[1].attrs.get("metric", "unknown"),
    }
    few = bool(n_boot) and not ci_allowed(n, caller=caller)
    if few:
        attrs["ci_note"] = (
            f"no interval from {n} stimuli (a bootstrap needs at least MIN_STIMULI_CI = {MIN_STIMULI_CI})"
        )
    if n_boot and not few:
        counts = bootstrap_counts(n, n_boot, seed)
        boot = plan.boot(counts) if plan is not None else weighted_similarity(x, ys, counts, method)
        lo, hi, shift = recentred_interval(value, boot, ci)
        out["ci"] = xr.DataArray([lo, hi], dims="bound", coords={"bound": ["lower", "upper"]})
        out["value_boot"] = xr.DataArray(boot, dims="boot", coords={"boot": np.arange(n_boot)})
        attrs.update({"ci_level": ci, "ci_method": CI_METHOD, "n_boot": n_boot, "ci_bias_shift": shift})
    else:
        out["ci"] = xr.DataArray([np.nan, np.nan], dims="bound", coords={"bound": ["lower", "upper"]})
    if n_perm:
        index = permutation_index(n, n_perm, np.random.default_rng([seed, 1]))
        null = permutation_null(x, ys, index, method)
        tol = 1e-12 * max(1.0, abs(value))
        out["p_value"] = float((1 + np.sum(null >= value - tol)) / (1 + n_perm))
        attrs.update(
            {
                "n_perm": n_perm,
                "p_method": "one-sided: stimulus labels of b permuted, (1 + #{null >= value}) / (1 + n_perm)",
            }
        )
    out.attrs.update(attrs)
    return stamp(
        out,
        analysis="compare.rsa",
        reference=REFERENCE_RSA,
        options={"method": method, "n_boot": n_boot, "ci": ci, "n_perm": n_perm, "seed": seed},
    )


def noise_ceiling(rdms: Any, *, method: str = "spearman", metric: str = "correlation", time: Any = None) -> xr.Dataset:
    """The noise ceiling: the range a perfect model's similarity with the data RDM(s) is expected in.

    Parameters
    ----------
    rdms
        * Several RDMs of the same stimuli (subjects, sessions): a list, or a DataArray (subject, stimulus_a,
          stimulus_b). Nili et al. 2014's leave-one-out bounds, exactly rsatoolbox's ``boot_noise_ceiling``:
          ``upper`` = mean over RDMs of the similarity of each with the pooled RDM of all, ``lower`` = the same
          with the pooled RDM of the others; the pooled RDM follows ``method`` (rsatoolbox's ``pool_rdm``:
          rank-transformed before averaging for ``spearman``/``kendall_tau_a``, z-scored for ``pearson``,
          RMS-normalised for ``cosine``).
        * One ResponseSet with a ``repeat`` dim: the split-half ceiling. The RDMs (``metric``) of the two
          halves of the repeats (:func:`neurosuper.prep.split_repeats`) are compared (``r_half``) and
          Spearman–Brown corrected to the full data, ``r_full = 2 r / (1 + r)``: ``lower`` = ``r_full`` (how
          well an independent replicate of the whole data would score; Brain-Score's ceiling), ``upper`` =
          ``√r_full`` (classical test theory: the expected correlation of the noise-free RDM with the data RDM).
          Spearman–Brown is exact for Pearson r and an approximation for rank measures.
    method
        As :func:`compare_rdms`.

    Returns
    -------
    xarray.Dataset
        ``lower``, ``upper`` (dimensionless, in the units of ``method``); for several RDMs also ``lower_each``
        and ``upper_each`` (``rdm``); attrs ``kind`` (``"leave-one-out"`` or ``"split-half"``), ``method``,
        ``n_stimuli``, ``n_rdms``.
    """
    caller = "noise_ceiling"
    check_choice("method", method, METHODS, caller=caller)
    if isinstance(rdms, xr.Dataset) or (isinstance(rdms, xr.DataArray) and "unit" in rdms.dims):
        return _split_half_ceiling(rdms, method=method, metric=metric, time=time, caller=caller)
    stack = rdm_stack(rdms, caller=caller)
    if len(stack) < 2:
        raise fail(
            f"{caller}: rdms",
            f"{len(stack)} RDM",
            "at least two RDMs of the same stimuli (subjects or "
            "sessions), or a ResponseSet with repeats (split-half ceiling)",
            "pass [rdm_subject1, rdm_subject2, ...] or the set itself",
            AnalysisError,
        )
    aligned = align(*stack, names=[f"rdms[{i}]" for i in range(len(stack))], caller=caller)
    v = np.array([condensed(r) for r in aligned])
    _warn_flat(list(v), [f"rdms[{i}]" for i in range(len(v))], caller)
    lower, upper = leave_one_out_bounds(v, method)
    out = xr.Dataset(
        {
            "lower": float(lower.mean()),
            "upper": float(upper.mean()),
            "lower_each": ("rdm", lower),
            "upper_each": ("rdm", upper),
        },
        coords={"rdm": np.arange(len(v))},
    )
    out.attrs.update(
        {
            "kind": "leave-one-out",
            "method": method,
            "n_stimuli": int(aligned[0].sizes["stimulus_a"]),
            "n_rdms": len(v),
            "definition": "upper: mean similarity of each RDM with the pooled RDM of "
            "all; lower: with the pooled RDM of the others (pooling by method, rsatoolbox pool_rdm)",
        }
    )
    return stamp(out, analysis="compare.noise_ceiling", reference=REFERENCE_CEILING, options={"method": method})


def leave_one_out_bounds(v: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-RDM lower and upper bounds (Nili et al. 2014) of the condensed RDMs ``v`` (k, M)."""
    everyone = pool(v, method)
    k = v.shape[0]
    lower = np.empty(k)
    upper = np.empty(k)
    for i in range(k):
        others = pool(np.delete(v, i, axis=0), method)
        lower[i] = similarity(others, v[i], method)
        upper[i] = similarity(everyone, v[i], method)
    return lower, upper


def _split_half_ceiling(ds: Any, *, method: str, metric: str, time: Any, caller: str) -> xr.Dataset:
    if metric == "crossnobis":
        raise fail(
            f"{caller}: metric",
            "'crossnobis'",
            "a metric computed on averaged responses (correlation, "
            "euclidean, cosine): the halves each need their own repeats for crossnobis",
            "pass metric='correlation'",
            AnalysisError,
        )
    resp = prep.select_time(responses_of(ds, caller=caller), time, caller=caller)
    halves = prep.split_repeats(resp, caller=caller)
    ids = np.asarray(resp["stimulus"].values)[halves.keep]
    if len(ids) < MIN_SHARED_STIMULI:
        raise fail(
            f"{caller}: stimuli with two valid repeats",
            f"{len(ids)}",
            f"at least {MIN_SHARED_STIMULI}",
            "record more repeats",
            AnalysisError,
        )
    rdms = []
    for half in (halves.r1, halves.r2):
        da = xr.DataArray(half, dims=("stimulus", "unit"), coords={"stimulus": ids})
        rdms.append(rdm(da, metric=metric))
    r_half = similarity(condensed(rdms[0]), condensed(rdms[1]), method)
    r_full = float(spearman_brown(r_half))
    out = xr.Dataset({"lower": r_full, "upper": float(np.sqrt(r_full)) if r_full > 0 else np.nan, "r_half": r_half})
    out.attrs.update(
        {
            "kind": "split-half",
            "method": method,
            "metric": metric,
            "n_stimuli": int(len(ids)),
            "n_rdms": 1,
            "split": halves.split,
            "n_stimuli_dropped": halves.n_dropped,
            "definition": "r_half: similarity of the RDMs of two halves of the repeats; lower: "
            "Spearman-Brown corrected 2 r_half / (1 + r_half); upper: its square root",
        }
    )
    return stamp(
        out,
        analysis="compare.noise_ceiling",
        reference="split-half reliability of the data RDM, "
        "Spearman-Brown corrected (Brain-Score ceiling; Spearman 1910, Brown 1910)",
        options={"method": method, "metric": metric, "time": time},
        inputs_from=ds if isinstance(ds, xr.Dataset) else None,
    )
