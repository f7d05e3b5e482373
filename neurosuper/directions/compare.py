"""Are directions more interpretable than units? :func:`compare_methods`, :func:`method_stats`, :func:`synergy`.

Klindt et al. 2023 (arXiv:2310.11431) scored each unit and each direction with the interpretability index (II,
:func:`neurosuper.interpret.interpretability_index`) and found k-means directions more interpretable than units,
PCA, ICA, NMF and a sparse autoencoder; and "feature synergy": pairs of uninterpretable units that together code
an interpretable direction.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import xarray as xr

from .._numbers import rounded
from .._progress import progress_bar
from .._provenance import stamp
from .._validation import check_fit_values, check_float, check_int
from ..errors import AnalysisError, NeurosuperWarning, fail, recorded_warnings
from ..format import validate
from ..prep import by_stimulus_id, trial_average
from .estimators import METHODS, get_method
from .find import REFERENCE, fit_directions, make_estimator, orientation, project

__all__ = ["compare_methods", "method_stats", "synergy", "summary", "DEFAULT_METHODS"]

DEFAULT_METHODS = ("units", "kmeans", "ica", "pca", "nmf", "sparse_coding", "sae", "random")


def _averaged_set(ds: xr.Dataset, *, caller: str) -> xr.Dataset:
    """The set with responses averaged over repeats and time: (stimulus, unit), ``stimuli`` and coords kept."""
    ds = validate(ds)
    R = trial_average(ds["responses"], caller=caller)
    if not isinstance(R.data, np.ndarray):
        R = R.compute()
    empty = np.isnan(R.values).all(axis=1)
    out = ds.drop_vars("responses").drop_dims([d for d in ("repeat", "time") if d in ds.dims], errors="ignore")
    out["responses"] = R.drop_vars([c for c in R.coords if c not in out.coords and c not in R.dims], errors="ignore")
    if "stimuli" in out and not isinstance(out["stimuli"].data, np.ndarray):
        out["stimuli"] = out["stimuli"].compute()
    if empty.any():
        warnings.warn(
            f"{caller}: left out {int(empty.sum())} of {len(empty)} stimuli with no valid repeat.",
            NeurosuperWarning,
            stacklevel=3,
        )
        out = out.isel(stimulus=np.flatnonzero(~empty))
    return validate(out)


def _split(n: int, split: float | None, k: int, seed: int, caller: str) -> tuple[np.ndarray, np.ndarray]:
    if split is None:
        idx = np.arange(n)
        return idx, idx
    split = check_float(
        "split",
        split,
        low=0,
        high=1,
        low_open=True,
        high_open=True,
        caller=caller,
        fix="pass split=0.5 (half the stimuli to fit, half to score) or split=None (in-sample)",
    )
    n_fit = int(round(split * n))
    if n_fit < 2 or n - n_fit < max(k, 2):
        raise fail(
            f"{caller}: split {split:g}",
            f"{n_fit} stimuli to fit and {n - n_fit} to score (of {n})",
            f"at least 2 to fit and at least {max(k, 2)} to score (k = {k})",
            _split_fix(n, n_fit, k),
            AnalysisError,
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:n_fit]), np.sort(perm[n_fit:])


def _split_fix(n: int, n_fit: int, k: int) -> str:
    """What to pass instead when ``split`` leaves too few stimuli to fit (< 2) or to score (< k): a split that
    works on these ``n`` stimuli (the nearest to the one given), a smaller k, or the in-sample fit — never the
    split that just failed."""
    need = max(k, 2)
    options = []
    if n - need >= 2:
        fit = min(max(n_fit, 2), n - need)
        value = next(v for v in (round(fit / n, d) for d in (2, 3, 4, 6)) if int(round(v * n)) == fit)
        options.append(f"split={value:g} ({fit} to fit, {n - fit} to score)")
    if 2 <= n_fit <= n - 2:
        options.append(f"k={n - n_fit} (the most the {n - n_fit} scored stimuli allow)")
    options.append(f"split=None (fit and score on all {n} stimuli, in-sample, as the paper did)")
    more = "" if n - need >= 2 else f", or a set with at least {2 + need} stimuli"
    return "pass " + ", ".join(options[:-1]) + (" or " if len(options) > 1 else "") + options[-1] + more


@contextmanager
def _warnings_of(method: str, caller: str) -> Iterator[None]:
    """Re-issue the neurosuper warnings raised while fitting or scoring ``method`` with the method named first
    ("compare_methods: kmeans directions: interpretability_index: 3 of 128 units are dead ..."): without it a
    warning about "units" could be about any method's directions."""
    notes: list[str] = []
    try:
        with recorded_warnings() as notes:  # other warnings pass through unchanged
            yield
    finally:  # also when the method raised: its warnings are not lost
        for note in notes:
            warnings.warn(f"{caller}: {method} directions: {note}", NeurosuperWarning, stacklevel=3)


def _nearest_unit(A: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each direction (column of ``A``: its activations), the unit (column of ``U``: its responses to the same
    stimuli) whose responses correlate most with it: ``(index, Pearson r)``; index −1 and r NaN for a constant
    direction. A direction with |r| ≈ 1 is, on these stimuli, that one unit (e.g. PCA's first axis when one unit
    holds much of the variance), and its top stimuli and II are the unit's."""
    A = np.asarray(A, dtype=np.float64)
    U = np.asarray(U, dtype=np.float64)
    A = np.nan_to_num(A - np.nanmean(A, axis=0), nan=0.0)
    U = np.nan_to_num(U - np.nanmean(U, axis=0), nan=0.0)
    na, nu = np.linalg.norm(A, axis=0), np.linalg.norm(U, axis=0)
    C = A.T @ U
    C = np.divide(C, np.outer(na, nu), out=np.zeros_like(C), where=np.outer(na, nu) > 0)
    idx = np.abs(C).argmax(axis=1) if C.shape[1] else np.zeros(C.shape[0], dtype=int)
    r = C[np.arange(C.shape[0]), idx] if C.shape[1] else np.full(C.shape[0], np.nan)
    dead = (na == 0) | (r == 0)
    return np.where(dead, -1, idx), np.where(dead, np.nan, r)


#: Held-out stimulus groups of the jackknife test against the units (at most), and stimuli per group per MEI.
N_GROUPS = 10
_STIMULI_PER_MEI = 2


def _stimulus_groups(n_score: int, k: int, n_groups: int | None, seed: int, caller: str) -> list[np.ndarray]:
    """A seeded random partition of the scored stimuli (positions) into the jackknife test's disjoint groups.

    ``n_groups=None``: as many as fit (each with at least 2k stimuli), at most :data:`N_GROUPS`; fewer than 3
    groups: no test (an empty list)."""
    if n_groups is None:
        n_groups = min(N_GROUPS, n_score // (_STIMULI_PER_MEI * k))
        if n_groups < 3:
            return []
    else:
        n_groups = check_int("n_groups", n_groups, low=0, caller=caller)
        if n_groups == 0:
            return []
        if n_groups < 3 or n_score // n_groups < k:
            raise fail(
                f"{caller}: n_groups",
                f"{n_groups} groups of the {n_score} held-out stimuli",
                f"at least 3 groups of at least k={k} stimuli each",
                "pass n_groups=None (as many as fit) or n_groups=0 (no test)",
                AnalysisError,
            )
    perm = np.random.default_rng([int(seed), 0x6A0]).permutation(n_score)
    return [np.sort(g) for g in np.array_split(perm, n_groups)]


def _group_ii(space: Any, R: np.ndarray, groups: list[np.ndarray], k: int) -> np.ndarray:
    """(direction, set) II of every direction's top-k stimuli *within* each set of scored stimuli (positions).

    Top-k by a stable sort (ties to the lowest stimulus index, NaN never chosen, as in the interpretability index);
    NaN where a direction is constant over the group or has fewer than k valid responses in it."""
    iu, ju = np.triu_indices(k, 1)
    out = np.full((R.shape[1], len(groups)), np.nan)
    for j, g in enumerate(groups):
        X = R[g]
        valid = np.isfinite(X)
        order = np.argsort(-np.where(valid, X, -np.inf), axis=0, kind="stable")[:k].T  # (direction, k) positions
        lo, hi = np.where(valid, X, np.inf).min(axis=0), np.where(valid, X, -np.inf).max(axis=0)
        ok = (valid.sum(axis=0) >= k) & (hi > lo)
        if ok.any():
            sets = g[order[ok]]
            out[ok, j] = -space.distances(sets[:, iu], sets[:, ju]).mean(axis=1)
    return out


def _score(
    method: str,
    est: Any,
    fit_set: xr.Dataset,
    score_set: xr.Dataset,
    *,
    similarity: Any,
    k: int,
    null: str | None,
    seed: int,
    groups: list[np.ndarray],
) -> tuple[xr.Dataset, str]:
    """One method's directions, oriented on the fit stimuli, scored (II, sparseness, MEIs) on the held-out ones,
    and on the held-out stimuli without each of the ``groups`` in turn (the jackknife of the test against the
    units)."""
    from ..interpret import interpretability_index, resolve_similarity, sparseness

    sign = orientation(est, fit_set["responses"].values)
    proj = project(score_set, est)
    if (sign < 0).any():
        proj["responses"] = proj["responses"] * xr.DataArray(sign.astype(proj["responses"].dtype), dims="unit")
    res = interpretability_index(
        proj, similarity=similarity, k=k, null=null, seed=seed, n_permutations=0, progress=False
    )
    R = np.asarray(proj["responses"].values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        sp = sparseness(R - np.nanmin(R, axis=0, keepdims=True), axis=0)
    near, near_r = _nearest_unit(R, np.asarray(score_set["responses"].values, dtype=np.float64))
    unit_ids = np.asarray([str(u) for u in score_set["unit"].values] + [""], dtype=object)
    data = {
        "ii": ("direction", res["ii"].values),
        "sparseness": ("direction", sp),
        "flipped": ("direction", sign < 0),
        "top_stimuli": (("direction", "rank"), np.asarray(res["mei"].values)),
        "nearest_unit": ("direction", unit_ids[near].astype(str)),
        "nearest_unit_r": ("direction", near_r),
    }
    for var in ("ii_z", "ii_percentile"):
        if var in res:
            data[var] = ("direction", res[var].values)
    if groups:  # the jackknife: the II on the held-out stimuli without each group in turn
        space = resolve_similarity(proj, similarity)[0]
        every = np.arange(R.shape[0])
        rest = [np.setdiff1d(every, g) for g in groups]
        data["ii_leave_out"] = (("direction", "stimulus_group"), _group_ii(space, R, rest, k))
    comps = getattr(est, "components_", None)
    if comps is not None and np.shape(comps) == (R.shape[1], fit_set.sizes["unit"]):
        data["weights"] = (("direction", "unit"), np.asarray(comps, dtype=np.float64) * sign[:, None])
    ids = [str(u) for u in proj["unit"].values] if method != "units" else [f"units/{u}" for u in proj["unit"].values]
    part = xr.Dataset(
        data,
        coords={"direction": ids, "method": ("direction", [method] * len(ids)), "unit": fit_set["unit"].values},
    )
    return part, res.attrs["similarity"]


def compare_methods(
    ds: xr.Dataset,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    similarity: Any = "auto",
    k: int = 5,
    split: float | None = 0.5,
    seed: int = 0,
    n_directions: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    null: str | None = "random_stimuli",
    n_groups: int | None = None,
    skip_unsupported: bool = True,
    progress: bool = True,
) -> xr.Dataset:
    """The interpretability of every direction of every method, on the same stimuli (Klindt et al. 2023).

    Parameters
    ----------
    ds
        ResponseSet with ``stimuli`` (or a ``label`` coord) for the similarity; averaged over repeats and time.
    methods
        Names in :data:`~.estimators.METHODS`; ``"units"`` is the baseline the summary tests against. A method
        the data cannot support (e.g. NMF on negative responses) raises, naming it: leave it out.
    similarity, k
        As in :func:`neurosuper.interpret.interpretability_index` (paper: LPIPS, k = 5).
    split
        Fraction of the stimuli (a seeded random subset) the directions are fitted on; II is scored on the
        others. k-means' top stimuli are its own cluster members — alike by construction — so in-sample II
        favours it. ``split=None`` fits and scores on all stimuli, as the paper did.
    seed
        Seeds the split, every finder (``random_state``) and the II null. The stimuli are put in the order of
        their ids first (:func:`neurosuper.prep.by_stimulus_id`): the same numbers whatever their storage order.
    n_directions
        Passed to every finder but ``"units"`` (``None``: each method's default, see :func:`~.find.find`).
    options
        Per-method finder options, e.g. ``{"sae": {"n_steps": 1000}, "kmeans": {"n_init": 3}}``; an
        ``n_directions`` entry overrides the common one for that method.
    null
        II null (``"random_stimuli"`` gives ``ii_z`` and ``ii_percentile``; ``None`` skips them).
    n_groups
        Disjoint random groups of the held-out stimuli for the jackknife test against the units
        (:func:`method_stats`): every direction and unit is also scored on the held-out stimuli without each group
        in turn. ``None``: as many as hold at least 2k stimuli, at most 10 (fewer than 3: no test); ``0``: no
        test. In-sample (``split=None``) there is no test: the directions were fitted on the stimuli they would be
        tested on.
    skip_unsupported
        A method the data cannot support (NMF on negative responses, more directions than ICA can find, ...) is
        left out with a :class:`~neurosuper.NeurosuperWarning` and recorded in ``attrs["skipped"]`` (JSON
        ``{method: reason}``); ``False`` raises instead. Unknown methods or options always raise.
    progress
        A progress bar over methods (on a terminal).

    Returns
    -------
    xarray.Dataset
        Along ``direction`` (ids ``"<method>/<i>"``; the units keep their ids), coord ``method``: ``ii``,
        ``ii_z``, ``ii_percentile`` (with a null), ``sparseness`` (Vinje–Gallant lifetime sparseness of the
        direction's responses on the scored stimuli, measured from its lowest response), ``flipped`` (sign
        flipped so the fit stimuli's activations have positive skew), ``top_stimuli(direction, rank)`` (the k
        MEIs' ids, best first), ``nearest_unit`` and ``nearest_unit_r`` (the unit whose held-out responses correlate
        most with the direction's activations, and that Pearson r: |r| ≈ 1 means the direction is, on these
        stimuli, that single unit — its MEIs and II are the unit's), ``ii_leave_out(direction, stimulus_group)``
        (its II on the held-out stimuli without that group; absent without a test), ``weights(direction, unit)``
        (the direction in unit space: the finder's ``components_`` row, sign-flipped with ``flipped``; the units
        are the identity; NaN for a finder without ``components_``). Attrs: ``similarity`` (the
        backend used), ``k``, ``split``, ``n_fit``, ``n_score``, ``n_groups``, ``seed``, ``methods`` and the
        provenance.
    """
    caller = "compare_methods"
    if isinstance(methods, str):
        methods = (methods,)
    methods = list(methods)
    if not methods:
        raise fail(
            f"{caller}: methods",
            "an empty list",
            f"names from {sorted(METHODS)}",
            "pass methods=('units', 'kmeans')",
            AnalysisError,
        )
    for m in methods:
        get_method(m)
    if len(set(methods)) != len(methods):
        raise fail(f"{caller}: methods", repr(methods), "each method once", "remove the repeats", AnalysisError)
    k = check_int("k", k, low=2, caller=caller, fix="pass k=5 (the paper's value)")
    options = dict(options or {})
    unknown = sorted(set(options) - set(methods))
    if unknown:
        raise fail(
            f"{caller}: options",
            f"options for {unknown}, which are not in methods",
            f"keys among {methods}",
            f"add {unknown[0]!r} to methods or drop its options",
            AnalysisError,
        )
    avg = by_stimulus_id(_averaged_set(ds, caller=caller))  # the split draws stimuli by id, not storage position
    n = avg.sizes["stimulus"]
    fit_idx, score_idx = _split(n, split, k, seed, caller)
    fit_set, score_set = avg.isel(stimulus=fit_idx), avg.isel(stimulus=score_idx)
    check_fit_values(fit_set["responses"].data, caller=caller, name="responses")  # once, not once per method
    groups = [] if split is None else _stimulus_groups(len(score_idx), k, n_groups, seed, caller)

    def count(method: str, opts: dict) -> int | None:  # the units are all the units, whatever n_directions says
        return opts.pop("n_directions", None if method == "units" else n_directions)

    for m in methods:  # unknown options raise before any fitting
        opts = dict(options.get(m, {}))
        make_estimator(m, count(m, opts), seed, opts)
    parts: list[xr.Dataset] = []
    skipped: dict[str, str] = {}
    sim_name = None
    for method in progress_bar(methods, progress=progress, desc=caller, unit="method"):
        opts = dict(options.get(method, {}))
        try:
            with _warnings_of(method, caller):
                est = fit_directions(fit_set, method, count(method, opts), seed=seed, **opts)
        except AnalysisError as err:
            if not skip_unsupported:
                raise
            skipped[method] = str(err)
            warnings.warn(f"{caller}: left out {method!r}: {err}", NeurosuperWarning, stacklevel=2)
            continue
        with _warnings_of(method, caller):
            part, sim_name = _score(
                method, est, fit_set, score_set, similarity=similarity, k=k, null=null, seed=seed, groups=groups
            )
        parts.append(part)
    if not parts:
        raise fail(
            caller,
            f"no method the data support (all left out: {skipped})",
            "at least one method that runs",
            "pass methods that suit the data (e.g. 'units', 'kmeans', 'pca')",
            AnalysisError,
        )
    out = xr.concat(parts, dim="direction", data_vars="all", coords="different", compat="equals", join="outer")
    out = out.assign_coords(rank=np.arange(k))
    out.attrs = {
        "similarity": sim_name,
        "k": k,
        "split": "none" if split is None else float(split),
        "n_fit": len(fit_idx),
        "n_score": len(score_idx),
        "n_groups": len(groups),
        "seed": int(seed),
        "methods": methods,
        "null": null or "none",
        "in_sample": split is None,
        "methods_run": [m for m in methods if m not in skipped],
        "skipped": json.dumps(skipped),
    }
    out.attrs.update({key: avg.attrs[key] for key in ("system", "measure", "source") if key in avg.attrs})
    return stamp(
        out,
        analysis="directions.compare_methods",
        reference=REFERENCE,
        options={
            "methods": methods,
            "similarity": similarity if isinstance(similarity, str) else sim_name,
            "k": k,
            "split": split,
            "seed": seed,
            "n_directions": n_directions,
            "options": {m: dict(o) for m, o in options.items()},
            "null": null,
            "n_groups": n_groups,
        },
        inputs_from=ds,
    )


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values of the finite entries (NaN stays NaN): family-wise error control across
    the methods tested against the baseline."""
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        adj = np.maximum.accumulate((ok.size - np.arange(ok.size)) * p[order])
        out[order] = np.minimum(adj, 1.0)
    return out


def _jackknife_test(full: float, leave_out: np.ndarray) -> float:
    """One-sided p that a statistic is above 0, from its value on all held-out stimuli and its delete-a-group
    jackknife values: t = full / se, se² = (G − 1)/G · Σ_g (leave_out_g − mean)², Student's t with G − 1 degrees
    of freedom (Shao & Wu 1989: the delete-d jackknife, consistent for non-smooth statistics such as top-k sets).
    NaN with fewer than 3 finite groups, or when the leave-outs do not vary and the statistic is above 0."""
    from scipy.special import stdtr

    leave_out = leave_out[np.isfinite(leave_out)]
    G = leave_out.size
    if G < 3 or not np.isfinite(full):
        return np.nan
    se = np.sqrt((G - 1) / G * ((leave_out - leave_out.mean()) ** 2).sum())
    if not se > 1e-12 * max(abs(full), np.abs(leave_out).max(), 1e-300):
        return 1.0 if full <= 0 else np.nan
    return float(stdtr(G - 1, -full / se))


def method_stats(result: xr.Dataset, *, baseline: str = "units", alpha_null: float = 95.0) -> xr.Dataset:
    """Per method: median II, fraction of directions above the null, and the test against ``baseline``.

    What is tested: are the method's directions more interpretable than the baseline's (the units) on stimuli
    neither was fitted on? The statistic is ``gain`` = mean II of the method's directions − mean II of the units,
    on the held-out stimuli. Directions and units are scored on the same stimuli (and correlated units share their
    top stimuli), so their II are not independent observations: a rank test that treats them so (the Mann–Whitney
    test this replaced) rejects up to 3–4 times too often when units are correlated. The sampling variability of the
    gain comes from the held-out stimuli, so it is estimated by a delete-a-group jackknife over ``n_groups``
    disjoint random groups of them (:func:`compare_methods`' ``ii_leave_out``), and ``gain / se`` is referred to
    Student's t with ``n_groups − 1`` degrees of freedom (one-sided). The jackknife variance errs large (Efron &
    Stein 1981), so the test is conservative: false-positive rate 0.5–2 % at level 5 % on no-signal simulations
    (``docs/directions.md``).

    Returns
    -------
    xarray.Dataset
        Along ``method`` (in the result's order): ``n_directions``, ``median_ii``, ``mean_ii``, ``median_ii_z``
        and ``frac_above_null`` (share of directions whose II is above the ``alpha_null`` percentile of the null;
        NaN without a null), ``median_sparseness``; against ``baseline``: ``ii_gain_vs_units`` (the gain),
        ``p_vs_units`` (the one-sided jackknife t-test's p), ``p_vs_units_holm`` (Holm-adjusted over the methods
        tested: "significantly more interpretable than the units" means ``p_vs_units_holm < 0.05``) and
        the descriptive ``auc_vs_units`` = P(a direction's II > a unit's II) + ½ P(tie) on all held-out stimuli
        (0.5 = no difference; not a test). NaN for the baseline, when it is absent, or without groups (in-sample,
        too few held-out stimuli, a result made before the test existed).
    """
    if "ii" not in result or "method" not in result.coords:
        raise fail(
            "method_stats",
            f"a result with variables {list(result.data_vars)}",
            "compare_methods' result (ii along direction, a method coord)",
            "pass compare_methods(ds)",
            AnalysisError,
        )
    methods = list(dict.fromkeys(result["method"].values.tolist()))
    method_of = result["method"].values
    ii = result["ii"].values
    base = np.sort(ii[(method_of == baseline)])
    base = base[np.isfinite(base)]
    groups = result["ii_leave_out"].values if "ii_leave_out" in result else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a method with no finite II in a leave-out: NaN gain
        base_g = np.nanmean(groups[method_of == baseline], axis=0) if groups is not None else None
    stats: dict[str, list[float]] = {
        key: []
        for key in (
            "n_directions",
            "median_ii",
            "mean_ii",
            "median_ii_z",
            "frac_above_null",
            "median_sparseness",
            "ii_gain_vs_units",
            "p_vs_units",
            "auc_vs_units",
        )
    }
    for m in methods:
        sel = method_of == m
        v = ii[sel]
        v = v[np.isfinite(v)]
        stats["n_directions"].append(int(sel.sum()))
        stats["median_ii"].append(float(np.median(v)) if v.size else np.nan)
        stats["mean_ii"].append(float(np.mean(v)) if v.size else np.nan)
        if "ii_z" in result:
            z = result["ii_z"].values[sel]
            pct = result["ii_percentile"].values[sel]
            stats["median_ii_z"].append(float(np.nanmedian(z)) if np.isfinite(z).any() else np.nan)
            stats["frac_above_null"].append(
                float(np.mean(pct[np.isfinite(pct)] > alpha_null)) if np.isfinite(pct).any() else np.nan
            )
        else:
            stats["median_ii_z"].append(np.nan)
            stats["frac_above_null"].append(np.nan)
        sp = result["sparseness"].values[sel] if "sparseness" in result else np.array([np.nan])
        stats["median_sparseness"].append(float(np.nanmedian(sp)) if np.isfinite(sp).any() else np.nan)
        gain, p, auc = np.nan, np.nan, np.nan
        if m != baseline and base.size and v.size:
            below = np.searchsorted(base, v, side="left")
            ties = np.searchsorted(base, v, side="right") - below
            auc = float((below + 0.5 * ties).sum() / (v.size * base.size))
            gain = float(np.mean(v) - np.mean(base))
            if groups is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    p = _jackknife_test(gain, np.nanmean(groups[sel], axis=0) - base_g)
        stats["ii_gain_vs_units"].append(gain)
        stats["p_vs_units"].append(p)
        stats["auc_vs_units"].append(auc)
    out = xr.Dataset({key: ("method", np.asarray(v)) for key, v in stats.items()}, coords={"method": methods})
    out["p_vs_units_holm"] = ("method", _holm(out["p_vs_units"].values))
    n_groups = int(groups.shape[1]) if groups is not None else 0
    out.attrs = {
        "baseline": baseline,
        "test": (
            "one-sided t-test of the gain in mean II (method - baseline) on the held-out stimuli, its standard "
            f"error from a delete-a-group jackknife over {n_groups} groups of them; Holm-adjusted across methods"
            if n_groups
            else "none (in-sample, too few held-out stimuli, or n_groups=0)"
        ),
        "n_groups": n_groups,
        "alpha_null": float(alpha_null),
        **{key: result.attrs[key] for key in ("similarity", "k", "split", "n_fit", "n_score") if key in result.attrs},
    }
    return stamp(
        out,
        analysis="directions.method_stats",
        reference=REFERENCE,
        options={"baseline": baseline, "alpha_null": alpha_null},
        inputs_from=result,
    )


def synergy(
    ds: xr.Dataset,
    *,
    similarity: Any = "auto",
    k: int = 5,
    low_quantile: float = 0.5,
    max_units: int = 64,
    n_pairs: int = 20,
    null: str | None = "random_stimuli",
    seed: int = 0,
    progress: bool = True,
) -> xr.Dataset:
    """Feature synergy (Klindt et al. 2023): pairs of low-II units whose normalised sum direction has high II.

    Each unit's responses (averaged over repeats and time) are z-scored over stimuli, so both units weigh
    equally; the pair's direction is (e_a + e_b)/√2 in that space, i.e. responses (z_a + z_b)/√2. Candidates
    are the units with II at or below the ``low_quantile`` quantile of all units' II (at most ``max_units`` of
    them, the lowest first; constant units are left out); every pair of candidates is scored.

    Returns
    -------
    xarray.Dataset
        Along ``pair`` (the ``n_pairs`` best, ranked by the pair's II, then by ``gain``): ``unit_a``, ``unit_b``
        (ids), ``ii_a``, ``ii_b``, ``ii_pair``, ``gain`` = ii_pair − max(ii_a, ii_b), and with a null
        ``ii_pair_z`` and ``ii_pair_percentile``. Attrs: ``n_candidates``, ``n_scored``, ``ii_threshold``,
        ``similarity``, ``k``.
    """
    from ..interpret import interpretability_index

    caller = "synergy"
    k = check_int("k", k, low=2, caller=caller, fix="pass k=5 (the paper's value)")
    low_quantile = check_float("low_quantile", low_quantile, low=0, high=1, low_open=True, caller=caller)
    max_units = check_int("max_units", max_units, low=2, caller=caller)
    n_pairs = check_int("n_pairs", n_pairs, low=1, caller=caller)
    avg = _averaged_set(ds, caller=caller)
    units = interpretability_index(avg, similarity=similarity, k=k, null=None, progress=progress)
    R = np.asarray(avg["responses"].values, dtype=np.float64)
    sd = R.std(axis=0)
    ii = units["ii"].values
    ok = np.isfinite(ii) & (sd > 0)
    if ok.sum() < 2:
        raise fail(
            caller,
            f"{int(ok.sum())} non-constant unit(s) with an II",
            "at least 2",
            "pass a set with more (varying) units",
            AnalysisError,
        )
    threshold = float(np.quantile(ii[ok], low_quantile))
    cand = np.flatnonzero(ok & (ii <= threshold))
    cand = cand[np.argsort(ii[cand], kind="stable")][:max_units]
    if cand.size < 2:
        raise fail(
            caller,
            f"{cand.size} candidate unit(s) at or below the {low_quantile} quantile of II",
            "at least 2",
            "raise low_quantile (e.g. 0.75)",
            AnalysisError,
        )
    Z = (R[:, cand] - R[:, cand].mean(axis=0)) / sd[cand]
    ia, ib = np.triu_indices(cand.size, k=1)
    P = (Z[:, ia] + Z[:, ib]) / math.sqrt(2.0)
    unit_ids = avg["unit"].values
    pair_ids = [f"{unit_ids[cand[a]]}+{unit_ids[cand[b]]}" for a, b in zip(ia, ib, strict=True)]
    pair_set = avg.drop_vars("responses")
    pair_set = pair_set.drop_vars([c for c in pair_set.coords if "unit" in pair_set[c].dims])
    pair_set["responses"] = xr.DataArray(
        P, dims=("stimulus", "unit"), coords={"stimulus": avg["stimulus"].values, "unit": pair_ids}
    )
    pair_set = validate(pair_set)
    res = interpretability_index(pair_set, similarity=similarity, k=k, null=null, seed=seed, progress=progress)
    ii_pair = res["ii"].values
    ii_a, ii_b = ii[cand[ia]], ii[cand[ib]]
    gain = ii_pair - np.maximum(ii_a, ii_b)
    order = np.lexsort((-np.nan_to_num(gain, nan=-np.inf), -np.nan_to_num(ii_pair, nan=-np.inf)))[:n_pairs]
    data = {
        "unit_a": ("pair", unit_ids[cand[ia]][order]),
        "unit_b": ("pair", unit_ids[cand[ib]][order]),
        "ii_a": ("pair", ii_a[order]),
        "ii_b": ("pair", ii_b[order]),
        "ii_pair": ("pair", ii_pair[order]),
        "gain": ("pair", gain[order]),
    }
    if "ii_z" in res:
        data["ii_pair_z"] = ("pair", res["ii_z"].values[order])
        data["ii_pair_percentile"] = ("pair", res["ii_percentile"].values[order])
    out = xr.Dataset(data, coords={"pair": np.asarray(pair_ids)[order]})
    out.attrs = {
        "n_candidates": int(cand.size),
        "n_scored": int(len(pair_ids)),
        "ii_threshold": threshold,
        "similarity": res.attrs["similarity"],
        "k": k,
        "null": null or "none",
        "direction": "(z_a + z_b) / sqrt(2) of the z-scored units",
    }
    return stamp(
        out,
        analysis="directions.synergy",
        reference=REFERENCE,
        options={
            "similarity": similarity if isinstance(similarity, str) else res.attrs["similarity"],
            "k": k,
            "low_quantile": low_quantile,
            "max_units": max_units,
            "n_pairs": n_pairs,
            "null": null,
            "seed": seed,
        },
        inputs_from=ds,
    )


# ------------------------------------------------------------------------------------------------- summary


def summary(result: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """Headline numbers of a directions result, JSON-safe and rounded (for the CLI and the report).

    Accepts :func:`~.find.find`'s DataArray, :func:`compare_methods`' or :func:`method_stats`'s Dataset,
    :func:`synergy`'s Dataset, or a set made by :func:`~.find.project`.
    """
    analysis = result.attrs.get("analysis", "")
    if analysis == "directions.find":
        return {
            "analysis": analysis,
            "method": result.attrs.get("method"),
            "n_directions": int(result.sizes["direction"]),
            "n_units": int(result.sizes["unit"]),
            "n_flipped": int(result.attrs.get("n_flipped", 0)),
            "groupby": result.attrs.get("groupby"),
            "fit_info": {
                g: {key: rounded(v) for key, v in info.items()}
                for g, info in json.loads(result.attrs.get("fit_info", "{}")).items()
            },
        }
    if analysis == "directions.compare_methods" and isinstance(result, xr.Dataset):
        ms = method_stats(result)
        out = summary(ms)
        out.update({"analysis": analysis, "in_sample": bool(result.attrs.get("in_sample", False))})
        skipped = json.loads(result.attrs.get("skipped", "{}") or "{}")
        if skipped:
            out["skipped"] = skipped
        return out
    if analysis == "directions.method_stats":
        per = {
            str(m): {var: rounded(result[var].sel({"method": m}).values.item()) for var in result.data_vars}
            for m in result["method"].values
        }
        for entry in per.values():
            entry["n_directions"] = int(entry["n_directions"]) if entry["n_directions"] is not None else None
        finite = {m: v["median_ii"] for m, v in per.items() if v["median_ii"] is not None}
        best = max(finite, key=lambda m: finite[m]) if finite else None
        holm = {m: float(result["p_vs_units_holm"].values[i]) for i, m in enumerate(per)}
        above = sorted(
            (m for m, p in holm.items() if p < 0.05),
            key=lambda m: -float(result["ii_gain_vs_units"].values[list(per).index(m)]),
        )
        return {
            "analysis": analysis,
            "similarity": result.attrs.get("similarity"),
            "k": rounded(result.attrs.get("k")),
            "split": rounded(result.attrs.get("split")),
            "n_fit": rounded(result.attrs.get("n_fit")),
            "n_score": rounded(result.attrs.get("n_score")),
            "baseline": result.attrs.get("baseline"),
            "test": result.attrs.get("test"),
            "n_groups": int(result.attrs.get("n_groups", 0)),
            # the highest median II; "best" only when significantly above the units (Holm p < 0.05)
            "best_method": best,
            "best_method_significant": bool(best in above),
            "methods_above_units": above,
            "methods": per,
        }
    if analysis == "directions.synergy":
        top = [
            {
                var: (rounded(result[var].values[i]) if var not in ("unit_a", "unit_b") else str(result[var].values[i]))
                for var in result.data_vars
            }
            for i in range(min(5, result.sizes["pair"]))
        ]
        return {
            "analysis": analysis,
            "n_candidates": int(result.attrs["n_candidates"]),
            "n_scored": int(result.attrs["n_scored"]),
            "ii_threshold": rounded(result.attrs["ii_threshold"]),
            "similarity": result.attrs.get("similarity"),
            "top_pairs": top,
        }
    if isinstance(result, xr.Dataset) and "directions_method" in result.attrs:
        return {
            "analysis": "directions.project",
            "method": result.attrs["directions_method"],
            "by": result.attrs.get("directions_by"),
            "n_directions": int(result.sizes["unit"]),
            "n_stimuli": int(result.sizes["stimulus"]),
        }
    raise fail(
        "directions.summary",
        f"a result with analysis={analysis!r}",
        "a result of find, compare_methods, method_stats, synergy or project",
        "pass one of those results",
        AnalysisError,
    )
