"""Layer-to-area profiles (Brain-Score style), the side-by-side table, and the overview the CLI prints.

:func:`profile` scores every layer of a network against a brain (RSA or predictivity) with bootstrap CIs, the
brain's noise ceiling, the best layer and its margin. :func:`side_by_side` puts the coding properties (α,
participation ratio, interpretability) beside the similarities, per layer/area. :func:`overview` compares two
whole sets and every pair of their groups (RSA, CKA, debiased CKA, Procrustes) — ``neurosuper compare``.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .. import prep
from .._provenance import stamp
from .._validation import check_choice, check_int, responses_of
from ..errors import AnalysisError, NeurosuperError, NeurosuperWarning, fail
from .align import MIN_STIMULI_CI, align, ci_allowed
from .cka import (
    REFERENCE_CKA,
    REFERENCE_PROCRUSTES,
    cka_chance,
    pair_stats,
    prepare,
    procrustes_values,
    warn_cka_chance,
    warn_degenerate,
)
from .distances import METRICS
from .predict import predictivity
from .rdm import check_rdm
from .rdm import rdm as make_rdm
from .rsa import compare_rdms, noise_ceiling, rdm_stack
from .rsakernels import METHODS, recentred_interval

__all__ = ["profile", "side_by_side", "overview", "KINDS", "BEST_STATUSES", "CEILINGS"]

#: The ceilings :func:`profile` can report: ``"auto"`` (split-half reliability of a set with repeats, Nili et
#: al.'s leave-one-out bounds of several RDMs) or ``"inter_animal"`` (each subject of a cohort against the others
#: pooled, :func:`~neurosuper.compare.inter_animal`).
CEILINGS = ("auto", "inter_animal")

#: What :func:`profile` says of its top group (``best_status``): significantly best, top but not significantly,
#: or not tested (no bootstrap: ``n_boot=0`` or fewer than ``MIN_STIMULI_CI`` stimuli).
BEST_STATUSES = ("best", "highest, not significant", "highest, not tested")

#: What :func:`profile` scores layers by.
KINDS = ("rsa", "predictivity")

REFERENCE_PROFILE = (
    "Schrimpf et al. 2018 Brain-Score (layer-to-area scores against a ceiling); Khaligh-Razavi & "
    "Kriegeskorte 2014 PLoS Comput Biol 10:e1003915 (layers vs the IT noise ceiling); Nili et al. "
    "2014"
)


def _is_set(obj: Any) -> bool:
    return isinstance(obj, xr.Dataset) or (isinstance(obj, xr.DataArray) and "unit" in obj.dims)


def _brain_rdms(brain: Any, caller: str) -> tuple[str, list[xr.DataArray] | None]:
    """("set", None) for a set; ("rdm", [rdm]) for one RDM; ("rdms", [...]) for several."""
    if _is_set(brain):
        return "set", None
    if isinstance(brain, xr.DataArray) and brain.ndim == 2:
        return "rdm", [check_rdm(brain, caller=caller, name="brain")]
    return "rdms", rdm_stack(brain, caller=caller, name="brain")


def _groups(resp: xr.DataArray, groupby: str | None) -> tuple[str, list[tuple[Hashable, np.ndarray]]]:
    if groupby is None:
        return "group", [("all units", np.arange(resp.sizes["unit"]))]
    coord = prep.group_coord(resp, groupby)
    if coord is None:
        return "group", [("all units", np.arange(resp.sizes["unit"]))]
    return coord, prep.unit_groups(resp, coord)


def _best_layer(out: xr.Dataset, s: np.ndarray, lows: np.ndarray, labels: list, *, ci: float) -> None:
    """The top group and whether it is *significantly* best (see :func:`profile`), written into ``out``."""
    order = np.argsort(-np.nan_to_num(s, nan=-np.inf), kind="stable")
    best = int(order[0])
    out["best"] = str(labels[best])
    out["runner_up"] = str(labels[order[1]]) if len(s) > 1 else ""
    out["margin"] = float(s[best] - s[order[1]]) if len(s) > 1 else np.nan
    d_lo = d_hi = np.nan
    if "score_boot" in out and len(s) > 1:
        boot = out["score_boot"].values
        sb = np.nan_to_num(boot, nan=-np.inf)
        out["p_best"] = float(np.mean(np.argmax(sb, axis=1) == best))
        # the paired difference: every group was scored on the same resamples of the stimuli
        d_lo, d_hi, _ = recentred_interval(float(out["margin"]), boot[:, best] - boot[:, order[1]], ci, bounds=(-2, 2))
    else:
        out["p_best"] = np.nan
    out["margin_ci"] = xr.DataArray([d_lo, d_hi], dims="bound", coords={"bound": ["lower", "upper"]})
    tested = "score_boot" in out and np.isfinite(lows[best]) and (len(s) == 1 or np.isfinite(d_lo))
    significant = bool(tested and lows[best] > 0 and (len(s) == 1 or d_lo > 0))
    out["best_significant"] = significant
    out["best_status"] = BEST_STATUSES[0] if significant else BEST_STATUSES[1] if tested else BEST_STATUSES[2]


def profile(
    network: Any,
    brain: Any,
    *,
    metric: str = "correlation",
    method: str = "spearman",
    groupby: str | None = "auto",
    kind: str = "rsa",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    alpha: float | None = None,
    n_splits: int = 10,
    time: Any = None,
    progress: bool = True,
    ceiling: str = "auto",
    subject: str = "subject",
) -> xr.Dataset:
    """Score every layer (unit group) of ``network`` against ``brain``, with CIs, the ceiling and the best layer.

    Parameters
    ----------
    network
        ResponseSet; ``groupby`` names the unit coord whose groups are scored (``"auto"``: ``layer``, else
        ``area``, else the whole set; ``None``: the whole set).
    brain
        A ResponseSet (its RDM; ceiling: split-half when it has repeats, else NaN with a note), one RDM
        (ceiling NaN, noted), or several RDMs of the same stimuli (a list, or (subject, stimulus_a,
        stimulus_b)): then a layer's score is its mean similarity with them and the ceiling is Nili et al.'s
        leave-one-out bounds (:func:`~neurosuper.compare.noise_ceiling`). Matched on shared stimulus ids.
    metric, method
        The RDMs' distance (``metric`` of :func:`~neurosuper.compare.rdm`) and how two RDMs are compared
        (``method`` of :func:`compare_rdms`).
    kind
        ``"rsa"`` or ``"predictivity"`` (median held-out r of cross-validated ridge regression per neuron,
        :func:`~neurosuper.compare.predictivity`; ``brain`` must be a set; ceiling: the neurons' median
        Spearman–Brown split-half reliability and its square root).
    n_boot, ci, seed
        Bootstrap over stimuli (the same resamples for every layer, so the layers' scores are paired).
    ceiling
        ``"auto"`` (default): the ceilings above. ``"inter_animal"``: ``brain`` is a cohort whose units carry a
        ``subject`` coord (:func:`neurosuper.load_cohort`; at least 2 subjects) and the ceiling is its
        inter-animal consistency (:func:`~neurosuper.compare.inter_animal` with the same ``kind``, ``metric``,
        ``method``, ridge settings and seed: each subject scored against the other subjects pooled). The layers
        are then scored against the same targets, each subject alone: with ``kind="rsa"`` ``score`` is the mean
        over subjects of the layer's similarity with that subject's RDM (bootstrap over stimuli as with several
        RDMs); with ``"predictivity"`` every neuron is predicted as before. Added: ``score_subject(layer,
        subject)`` (RSA: similarity with the subject's RDM; predictivity: median r over the subject's neurons),
        ``subject_mean(layer)`` (their mean over subjects — read it against the ceiling), ``normalized(layer)``
        (``subject_mean`` / ``ceiling_value``: 1 = as close to the brain as its animals are to each other),
        ``ceiling_value`` (the consistency, mean over subjects), ``ceiling_sd``, ``ceiling_subject(subject)``;
        ``ceiling(bound)`` is the Student-t interval of the consistency over subjects. Only stimuli every unit
        responded to are used.
    subject
        With ``ceiling="inter_animal"``: the unit coord naming each unit's animal.

    Returns
    -------
    xarray.Dataset
        ``score(layer)``, ``ci(bound, layer)``, ``ceiling(bound)`` (``lower``, ``upper``; NaN when not
        estimable, with the reason in attrs ``ceiling_note``), ``best`` (the top layer's label, significant or
        not), ``runner_up``, ``margin`` (its score minus the runner-up's) and ``margin_ci(bound)``, ``p_best``
        (share of bootstrap resamples in which it is top), ``best_significant`` and ``best_status`` (one of
        :data:`BEST_STATUSES`), ``score_boot(boot, layer)``, ``n_units(layer)``. Dimensionless. CIs are NaN
        (with a warning) from fewer than :data:`~neurosuper.compare.MIN_STIMULI_CI` stimuli; every CI contains
        its estimate.

    Notes
    -----
    **Best layer.** The top layer is *significantly best* (``best_significant``, ``best_status == "best"``)
    when both hold: (1) it beats the runner-up — the ``ci`` bootstrap interval of the paired difference of
    their scores (same resamples for every layer, recentred on the observed margin as the score CIs are)
    lies above 0; (2) it beats chance — its own score's ``ci`` interval lies above 0. Each is a one-sided
    test at level (1 − ``ci``)/2 of a difference picked as the largest, so on layers that are all equally
    good (or all unrelated to the brain) it fires in at most ≈ 1 − ``ci`` of data sets (measured on
    simulations: ``tests/test_compare_calibration.py``, ``docs/compare.md``). Otherwise the top layer is
    ``"highest, not significant"`` (or ``"highest, not tested"`` without a bootstrap); ``best`` still names it.
    With one group only (2) applies.

    References
    ----------
    Schrimpf et al. 2018 (Brain-Score); Khaligh-Razavi & Kriegeskorte 2014; Nili et al. 2014.
    """
    caller = "profile"
    check_choice("kind", kind, KINDS, caller=caller)
    check_choice("metric", metric, METRICS, caller=caller)
    check_choice("method", method, METHODS, caller=caller)
    check_int("n_boot", n_boot, low=0, caller=caller)
    check_choice("ceiling", ceiling, CEILINGS, caller=caller)
    net = responses_of(network, caller=caller)
    dim, groups = _groups(net, groupby)
    mode, brain_rdms = _brain_rdms(brain, caller)
    animals, given_brain = None, brain
    if ceiling == "inter_animal":
        animals = _inter_animal_brain(net, brain, mode, subject=subject, time=time, caller=caller)
        net, brain = animals.net, animals.brain
    scores, lows, highs, boots, units = [], [], [], [], []
    note, definition = "", "none"
    if kind == "predictivity":
        if mode != "set":
            raise fail(
                f"{caller}: kind='predictivity' with brain",
                "an RDM",
                "a ResponseSet (neurons to predict)",
                "pass the brain set, or kind='rsa'",
                AnalysisError,
            )
        net_al, brain_al = align(net, responses_of(brain, caller=caller), names=["network", "brain"], caller=caller)
        boot_n = n_boot if n_boot and ci_allowed(net_al.sizes["stimulus"], caller=caller) else 0
        bounds = [np.nan, np.nan]
        for _label, idx in groups:
            res = predictivity(
                net_al.isel(unit=idx),
                brain_al,
                alpha=alpha,
                n_splits=n_splits,
                seed=seed,
                n_boot=boot_n,
                ci=ci,
                time=time,
                progress=progress,
            )
            scores.append(float(res["median"]))
            if animals is not None:
                animals.add_predictivity(res["r"])
            lo, hi = res["median_ci"].values if boot_n else (np.nan, np.nan)
            lows.append(lo)
            highs.append(hi)
            boots.append(res["median_boot"].values if boot_n else np.zeros(0))
            units.append(len(idx))
            if "ceiling" in res:
                c = res["ceiling"].values
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    bounds = [float(np.nanmedian(c)), float(np.nanmedian(np.sqrt(np.clip(c, 0, None))))]
        if np.isnan(bounds[0]):
            note = "the brain set has no repeats: no split-half reliability"
        ceiling_kind = "split-half per neuron"
        definition = (
            "per neuron split-half r, Spearman-Brown corrected (reliability); lower = median reliability "
            "over neurons, upper = median of its square root"
        )
    else:
        if animals is not None:
            net_al, brain_al = align(net, responses_of(brain, caller=caller), names=["network", "brain"], caller=caller)
            targets = animals.subject_rdms(brain_al, metric=metric, time=time)
            bounds, ceiling_kind = [np.nan, np.nan], "inter-animal"
        elif mode == "set":
            net_al, brain_al = align(net, responses_of(brain, caller=caller), names=["network", "brain"], caller=caller)
            targets = [make_rdm(brain_al, metric=metric, time=time, progress=progress)]
            if "repeat" in brain_al.dims and brain_al.sizes["repeat"] >= 2 and metric != "crossnobis":
                nc = noise_ceiling(brain_al, method=method, metric=metric, time=time)
                bounds = [float(nc["lower"]), float(nc["upper"])]
                ceiling_kind, definition = "split-half", nc.attrs["definition"]
            else:
                bounds, ceiling_kind = [np.nan, np.nan], "none"
                note = (
                    "the brain set has no repeats: no split-half ceiling"
                    if "repeat" not in brain_al.dims
                    else "no split-half ceiling for crossnobis RDMs"
                )
        else:
            assert brain_rdms is not None  # mode "rdm" or "rdms": the brain's RDMs
            aligned = align(
                net, *brain_rdms, names=["network"] + [f"brain[{i}]" for i in range(len(brain_rdms))], caller=caller
            )
            net_al, targets = aligned[0], list(aligned[1:])
            if mode == "rdms" and len(targets) >= 2:
                nc = noise_ceiling(targets, method=method)
                bounds = [float(nc["lower"]), float(nc["upper"])]
                ceiling_kind, definition = "leave-one-out", nc.attrs["definition"]
            else:
                bounds, ceiling_kind = [np.nan, np.nan], "none"
                note = "brain is a single RDM: no noise ceiling can be estimated from it"
        boot_n = n_boot if n_boot and ci_allowed(net_al.sizes["stimulus"], caller=caller) else 0
        for _label, idx in groups:
            layer_rdm = make_rdm(net_al.isel(unit=idx), metric=metric, time=time, progress=progress)
            res = compare_rdms(
                layer_rdm, targets if len(targets) > 1 else targets[0], method=method, n_boot=boot_n, ci=ci, seed=seed
            )
            scores.append(float(res["value"]))
            if animals is not None:
                animals.add_rsa(layer_rdm, targets, method=method)
            lows.append(float(res["ci"][0]))
            highs.append(float(res["ci"][1]))
            boots.append(res["value_boot"].values if boot_n else np.zeros(0))
            units.append(len(idx))
    labels = [g for g, _ in groups]
    out = xr.Dataset(
        {
            "score": (dim, np.array(scores)),
            "ci": (("bound", dim), np.array([lows, highs])),
            "ceiling": ("bound", np.array(bounds, dtype=np.float64)),
            "n_units": (dim, np.array(units)),
        },
        coords={dim: labels, "bound": ["lower", "upper"]},
    )
    if boot_n:
        out["score_boot"] = (("boot", dim), np.stack(boots, axis=1))
    _best_layer(out, np.array(scores), np.array(lows), labels, ci=ci)
    if animals is not None:
        from .inter_animal import inter_animal

        ia = inter_animal(
            brain_al,
            kind=kind,
            metric=metric,
            method=method,
            subject=subject,
            groupby=None,
            alpha=alpha,
            n_splits=n_splits,
            seed=seed,
            ci=ci,
            time=time,
            progress=False,
        )
        per = np.array(animals.per_layer)  # (layer, subject)
        out["score_subject"] = ((dim, "subject"), per)
        out = out.assign_coords(subject=[str(s) for s in animals.labels])
        out["subject_mean"] = (dim, np.nanmean(per, axis=1))
        value = float(ia["value"])
        out["normalized"] = (dim, out["subject_mean"].values / value if value > 0 else np.full(len(labels), np.nan))
        out["ceiling"] = ("bound", ia["ci"].values.astype(np.float64))
        out["ceiling_value"] = value
        out["ceiling_sd"] = float(ia["sd"])
        out["ceiling_subject"] = ("subject", ia["subject_value"].values)
        ceiling_kind, definition = "inter-animal", str(ia.attrs["definition"])
        note = "none"
    out.attrs.update(
        {
            "kind": kind,
            "metric": metric if kind == "rsa" else "none",
            "method": method if kind == "rsa" else "pearson r per neuron, median",
            "groupby": dim,
            "ceiling_kind": ceiling_kind,
            "ceiling_definition": definition,
            "ceiling_note": note or "none",
            "n_stimuli": int(net_al.sizes["stimulus"]),
            "n_boot": boot_n,
            "ci_note": f"no intervals from {int(net_al.sizes['stimulus'])} stimuli (a bootstrap needs at least "
            f"MIN_STIMULI_CI = {MIN_STIMULI_CI})"
            if n_boot and not boot_n
            else "none",
            "ci_level": ci,
            "brain": mode,
            "best_definition": "significantly best: the CI of its paired bootstrap difference to the runner-up "
            "and its own CI both lie above 0",
        }
    )
    return stamp(
        out,
        analysis="compare.profile",
        reference=REFERENCE_PROFILE,
        options={
            "metric": metric,
            "method": method,
            "groupby": groupby,
            "kind": kind,
            "n_boot": n_boot,
            "ci": ci,
            "seed": seed,
            "alpha": alpha,
            "n_splits": n_splits,
            "time": time,
            "ceiling": ceiling,
            "subject": subject,
        },
        inputs_from=given_brain if isinstance(given_brain, xr.Dataset) else None,
    )


class _Animals:
    """The state of ``profile(..., ceiling="inter_animal")``: the cohort restricted to the stimuli every unit has,
    its subjects, and each layer's score against each subject (filled in as the layers are scored)."""

    def __init__(self, net: Any, brain: xr.DataArray, labels: list[Hashable], subject: str) -> None:
        self.net, self.brain, self.labels, self.subject = net, brain, labels, subject
        self.per_layer: list[list[float]] = []

    def subject_rdms(self, brain: xr.DataArray, *, metric: str, time: Any) -> list[xr.DataArray]:
        values = np.asarray(brain[self.subject].values)
        return [
            make_rdm(brain.isel(unit=np.flatnonzero(values == lab)), metric=metric, time=time, progress=False)
            for lab in self.labels
        ]

    def add_rsa(self, layer_rdm: xr.DataArray, targets: list[xr.DataArray], *, method: str) -> None:
        self.per_layer.append([float(compare_rdms(layer_rdm, t, method=method, n_boot=0)["value"]) for t in targets])

    def add_predictivity(self, r: xr.DataArray) -> None:
        values = np.asarray(r[self.subject].values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.per_layer.append([float(np.nanmedian(r.values[values == lab])) for lab in self.labels])


def _inter_animal_brain(net: xr.DataArray, brain: Any, mode: str, *, subject: str, time: Any, caller: str) -> _Animals:
    """Checks for ``ceiling="inter_animal"`` and the cohort on the stimuli every unit has."""
    from .inter_animal import complete_stimuli, subject_labels

    if mode != "set":
        raise fail(
            f"{caller}: ceiling='inter_animal' with brain",
            "RDMs",
            "a cohort ResponseSet whose units carry a 'subject' coord",
            "pass the cohort set (neurosuper.load_cohort), or ceiling='auto'",
            AnalysisError,
        )
    resp = responses_of(brain, caller=caller)
    labels = subject_labels(resp, subject, caller=caller)
    _, resp = align(net, resp, names=["network", "brain"], caller=caller)
    resp = complete_stimuli(resp, time=time, caller=caller)
    return _Animals(net, resp, labels, subject)


# ----------------------------------------------------------------------------------------------- overview
def _group_rdms(
    x: xr.DataArray, groups: Sequence[tuple[Hashable, np.ndarray]], metric: str, progress: bool
) -> list[xr.DataArray]:
    return [make_rdm(x.isel(unit=idx), metric=metric, progress=progress) for _, idx in groups]


def overview(
    a: Any,
    b: Any,
    *,
    metric: str = "correlation",
    method: str = "spearman",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    groupby: str | None = "auto",
    time: Any = None,
    progress: bool = True,
) -> xr.Dataset:
    """RSA (with a bootstrap CI), linear CKA, debiased CKA and the Procrustes shape distance between two sets,
    whole and for every pair of their unit groups (``layer``/``area``), in one call (``neurosuper compare``).

    Returns
    -------
    xarray.Dataset
        Scalars ``rsa``, ``rsa_ci(bound)``, ``cka``, ``cka_debiased``, ``cka_chance`` (the biased CKA's
        chance level, :func:`~neurosuper.compare.cka.cka_chance`: what unrelated sets with these spectra would
        score; warned when above ``CKA_CHANCE_WARN``, then read ``cka_debiased``), ``procrustes`` (angular,
        radians) for the whole sets; with groups, ``pair_rsa``, ``pair_rsa_ci``, ``pair_cka``,
        ``pair_cka_debiased``, ``pair_cka_chance``, ``pair_procrustes`` over one dim per grouped set (e.g.
        ``layer``, ``area``). Attrs ``n_stimuli``, ``method``, ``metric``. ``rsa_ci`` is NaN (warned) from
        fewer than ``MIN_STIMULI_CI`` stimuli.
    """
    caller = "overview"
    check_choice("metric", metric, METRICS, caller=caller)
    check_choice("method", method, METHODS, caller=caller)
    if metric == "crossnobis":
        raise fail(
            f"{caller}: metric",
            "'crossnobis'",
            "a metric of averaged responses (correlation, euclidean, "
            "cosine) — CKA and Procrustes use the averaged responses too",
            "compute crossnobis RDMs with neurosuper.compare.rdm and compare them with compare_rdms",
            AnalysisError,
        )
    p = prepare(a, b, groupby=groupby, time=time, caller=caller)
    n = p.a.sizes["stimulus"]
    stats = pair_stats(p, debiased=n >= 4, procrustes=True, progress=progress, caller=caller)
    degenerate = warn_degenerate(n, p, caller)
    warn_cka_chance(
        stats, p, caller, fix="Read cka_debiased (Song et al. 2012's unbiased HSIC: ≈ 0 for unrelated sets)."
    )
    chance = cka_chance(stats)
    boot_n = n_boot if n_boot and ci_allowed(n, caller=caller) else 0
    rdms_a = _group_rdms(p.a, p.groups_a, metric, progress)
    rdms_b = _group_rdms(p.b, p.groups_b, metric, progress)
    na, nb = len(rdms_a), len(rdms_b)
    rsa_v = np.full((na, nb), np.nan)
    rsa_lo = np.full((na, nb), np.nan)
    rsa_hi = np.full((na, nb), np.nan)
    rows_a = range(1, na) if na > 1 else range(1)
    rows_b = range(1, nb) if nb > 1 else range(1)
    todo = {(0, 0)} | {(s, t) for s in rows_a for t in rows_b}
    for s, t in sorted(todo):
        res = compare_rdms(rdms_a[s], rdms_b[t], method=method, n_boot=boot_n, ci=ci, seed=seed)
        rsa_v[s, t] = float(res["value"])
        rsa_lo[s, t], rsa_hi[s, t] = res["ci"].values
    proc = procrustes_values(stats.nuclear, stats.norm2_a, stats.norm2_b, True)
    deb = stats.cka_debiased if stats.cka_debiased is not None else np.full((na, nb), np.nan)
    out = xr.Dataset(
        {
            "rsa": rsa_v[0, 0],
            "rsa_ci": ("bound", [rsa_lo[0, 0], rsa_hi[0, 0]]),
            "cka": stats.cka[0, 0],
            "cka_debiased": deb[0, 0],
            "cka_chance": chance[0, 0],
            "procrustes": proc[0, 0],
        },
        coords={"bound": ["lower", "upper"]},
    )
    if na > 1 or nb > 1:
        from .cka import pairs_array

        def grid(v: np.ndarray, name: str) -> xr.DataArray:
            return pairs_array(v, p, name).drop_vars(f"{name}_whole", errors="ignore")

        out["pair_rsa"] = grid(rsa_v, "pair_rsa")
        lo, hi = grid(rsa_lo, "lo"), grid(rsa_hi, "hi")
        out["pair_rsa_ci"] = xr.concat([lo, hi], dim="bound").assign_coords(bound=["lower", "upper"])
        out["pair_cka"] = grid(stats.cka, "pair_cka")
        out["pair_cka_debiased"] = grid(deb, "pair_cka_debiased")
        out["pair_cka_chance"] = grid(chance, "pair_cka_chance")
        out["pair_procrustes"] = grid(proc, "pair_procrustes")
    out.attrs.update(
        {
            "n_stimuli": int(n),
            "method": method,
            "metric": metric,
            "n_boot": boot_n,
            "ci_level": ci,
            "procrustes": "angular shape distance, radians",
            "procrustes_degenerate": degenerate,
            "cka_form": stats.form,
            "groupby_a": p.coord_a or "none",
            "groupby_b": p.coord_b or "none",
            "n_units_a": int(p.a.sizes["unit"]),
            "n_units_b": int(p.b.sizes["unit"]),
        }
    )
    return stamp(
        out,
        analysis="compare.overview",
        reference=f"RSA: Nili et al. 2014; CKA: {REFERENCE_CKA}; Procrustes: {REFERENCE_PROCRUSTES}",
        options={
            "metric": metric,
            "method": method,
            "n_boot": n_boot,
            "ci": ci,
            "seed": seed,
            "groupby": groupby,
            "time": time,
        },
        inputs_from=p.source_a,
    )


# -------------------------------------------------------------------------------------------- side by side
def side_by_side(
    a: xr.Dataset,
    b: xr.Dataset,
    *,
    groupby: str | None = "auto",
    metric: str = "correlation",
    method: str = "spearman",
    n_boot: int = 50,
    ii: bool = True,
    seed: int = 0,
    time: Any = None,
    progress: bool = True,
) -> xr.Dataset:
    """A table of coding properties and similarities per layer/area of two sets, side by side.

    Each row is a unit group of ``a`` or of ``b`` (``groupby="auto"``: ``layer``, else ``area``, else the whole
    set). Per row: the power-law exponent α of the eigenspectrum (cvPCA where the set has repeats, else PCA;
    Stringer et al. 2019) with a bootstrap CI (``n_boot`` resamples; 0 = none), the participation ratio, the
    median interpretability index of its units (Klindt et al. 2023; ``ii=False`` or a set without stimuli
    gives NaN), and its similarity with the *other set as a whole*: RSA (``metric``/``method``), linear CKA, and
    predictivity — always from the network to the brain: a network row predicts all brain neurons from that
    layer; a brain row is predicted from the whole network (median held-out r; if neither or both sets are
    networks, ``a`` predicts ``b``).

    Returns
    -------
    xarray.Dataset
        dim ``row`` (coords ``set`` ("a"/"b"), ``group``, ``system``, ``n_units``): ``alpha``,
        ``alpha_ci(row, bound)``, ``participation_ratio``, ``median_ii``, ``rsa``, ``cka``, ``predictivity``.
    """
    from .. import interpret, spectral  # public APIs only: α, participation ratio and II come from there

    caller = "side_by_side"
    for name, ds in (("a", a), ("b", b)):
        if not isinstance(ds, xr.Dataset):
            raise fail(
                f"{caller}: {name}",
                f"a {type(ds).__name__}",
                "a ResponseSet (xarray.Dataset): the spectra and interpretability need the whole set",
                "pass the set, not its responses",
                AnalysisError,
            )
    a_al, b_al = align(a, b, names=["a", "b"], caller=caller)
    p = prepare(a_al, b_al, groupby=groupby, time=time, caller=caller)
    stats = pair_stats(p, debiased=False, procrustes=False, progress=progress, caller=caller)
    rows: list[dict[str, Any]] = []
    whole_rdm = {"a": make_rdm(p.a, metric=metric), "b": make_rdm(p.b, metric=metric)}
    net_is_a = not (a.attrs.get("system") != "network" and b.attrs.get("system") == "network")
    sets = (("a", a_al, p.groups_a, "b", b_al), ("b", b_al, p.groups_b, "a", a_al))
    multi = {"a": len(p.groups_a) > 1, "b": len(p.groups_b) > 1}
    for side, ds, groups, other_side, other in sets:
        for k, (label, idx) in enumerate(groups):
            if multi[side] and k == 0:
                continue  # with groups, the rows are the groups
            sub = ds.isel(unit=idx)
            row: dict[str, Any] = {
                "set": side,
                "group": "all units" if label is None else str(label),
                "system": str(ds.attrs.get("system", "unknown")),
                "n_units": len(idx),
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NeurosuperWarning)
                row.update(alpha=np.nan, alpha_ci=[np.nan, np.nan], participation_ratio=np.nan, alpha_method="")
                try:
                    spec = spectral.eigenspectrum(
                        sub, n_boot=n_boot, seed=seed, time=time, groupby=None, progress=progress
                    )
                    row["participation_ratio"] = float(spectral.participation_ratio(spec))
                    row["alpha_method"] = str(spec.attrs.get("method"))
                    fit = spectral.powerlaw(spec)  # NotEnoughData below MIN_FIT_RANKS: α stays NaN, the rest is kept
                    row["alpha"] = float(fit["alpha"])
                    row["alpha_ci"] = [float(v) for v in fit["alpha_ci"].values] if "alpha_ci" in fit else [np.nan] * 2
                except NeurosuperError:
                    pass
                row["median_ii"] = np.nan
                if ii:
                    try:
                        res = interpret.interpretability_index(sub, progress=False)
                        row["median_ii"] = float(np.nanmedian(res["ii"].values))
                    except NeurosuperError:
                        pass
            resp = prep.trial_average(responses_of(sub, caller=caller), time=time, caller=caller)
            row["rsa"] = float(
                compare_rdms(make_rdm(resp, metric=metric), whole_rdm[other_side], method=method, n_boot=0)["value"]
            )
            row["cka"] = float(stats.cka[k, 0] if side == "a" else stats.cka[0, k])
            predictor_rows = (side == "a") == net_is_a
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NeurosuperWarning)
                try:
                    if predictor_rows:
                        res = predictivity(sub, other, seed=seed, time=time)
                    else:
                        res = predictivity(other, sub, seed=seed, time=time)
                    row["predictivity"] = float(res["median"])
                except NeurosuperError:
                    row["predictivity"] = np.nan
            rows.append(row)
    out = xr.Dataset(
        {
            "alpha": ("row", [r["alpha"] for r in rows]),
            "alpha_ci": (("row", "bound"), np.array([r["alpha_ci"] for r in rows], dtype=np.float64)),
            "participation_ratio": ("row", [r["participation_ratio"] for r in rows]),
            "median_ii": ("row", [r["median_ii"] for r in rows]),
            "rsa": ("row", [r["rsa"] for r in rows]),
            "cka": ("row", [r["cka"] for r in rows]),
            "predictivity": ("row", [r["predictivity"] for r in rows]),
        },
        coords={
            "row": np.arange(len(rows)),
            "bound": ["lower", "upper"],
            "set": ("row", [r["set"] for r in rows]),
            "group": ("row", [r["group"] for r in rows]),
            "system": ("row", [r["system"] for r in rows]),
            "n_units": ("row", [r["n_units"] for r in rows]),
            "alpha_method": ("row", [r["alpha_method"] for r in rows]),
        },
    )
    out.attrs.update(
        {
            "n_stimuli": int(p.a.sizes["stimulus"]),
            "metric": metric,
            "method": method,
            "predictor": "a" if net_is_a else "b",
            "n_boot": n_boot,
            "similarities": "each row against the other set as a whole",
        }
    )
    return stamp(
        out,
        analysis="compare.side_by_side",
        reference="Stringer et al. 2019 (alpha, cvPCA); Klindt et al. 2023 (II); Nili et al. 2014 (RSA); "
        "Kornblith et al. 2019 (CKA); Schrimpf et al. 2018 (predictivity)",
        options={
            "groupby": groupby,
            "metric": metric,
            "method": method,
            "n_boot": n_boot,
            "ii": ii,
            "seed": seed,
            "time": time,
        },
        inputs_from=a,
    )
