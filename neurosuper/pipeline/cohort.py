"""The ``cohort`` step: what a set of many sessions and animals adds to the report — the sessions (loaded or failed,
with the reason), the results per subject and per session (power-law α; with repeats the stimulus-driven share of
the variance, ``signal_fraction``), the inter-animal consistency (RSA and predictivity,
leave-one-animal-out: :func:`neurosuper.compare.inter_animal`) and, with a network, each layer's score next to that
ceiling (:func:`neurosuper.compare.profile` with ``ceiling="inter_animal"``). The pooled results are the other
steps' (they analyse the cohort's units together). ``neurosuper cohort`` runs it after the report's analysis steps
(:func:`cohort_steps`).

The cohort is the analysed set whose units carry a ``subject`` or ``session`` coord (:func:`neurosuper.load_cohort`);
the network is the set of ``system == "network"``. With an ``area`` coord of several areas the ceilings and the
layer scores are given per area (a layer is compared with an area's units, the animals with each other in it).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np

from .core import Context, Limit, Step

#: The step's settings (``ctx.settings["cohort"]`` overrides them): ridge folds of the predictivity (the library's
#: default is 10) and the RDMs' distance / comparison. No bootstrap over stimuli: the ceiling's interval is over
#: subjects.
SETTINGS: dict[str, Any] = {"n_splits": 5, "seed": 0, "metric": "correlation", "method": "spearman"}
KINDS = ("rsa", "predictivity")


def cohort_label(sets: dict[str, Any]) -> str | None:
    """The label of the analysed set that is a cohort (units with a ``subject`` or ``session`` coord), or None."""
    for label, ds in sets.items():
        if any(c in ds.coords and ds[c].dims == ("unit",) for c in ("subject", "session")):
            return label
    return None


def _attr_records(ds: Any, key: str) -> list[dict[str, Any]]:
    """``attrs[key]`` as a list of dicts (saved sets keep it as JSON text)."""
    value = ds.attrs.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, dict):
        value = [value]
    return [dict(v) for v in value] if isinstance(value, list | tuple) else []


def _values(ds: Any, coord: str) -> np.ndarray:
    return np.asarray(ds[coord].values) if coord in ds.coords else np.full(ds.sizes["unit"], "unknown")


def session_table(ds: Any) -> list[dict[str, Any]]:
    """One row per session: session, subject, units, stimuli, status (``loaded``/``failed``), reason — loaded
    sessions from the units' ``session``/``subject`` coords (and ``attrs["sessions"]``), failed ones from
    ``attrs["failed_sessions"]`` (:func:`neurosuper.load_cohort`)."""
    sessions, subjects = _values(ds, "session"), _values(ds, "subject")
    known = {str(r.get("session")): r for r in _attr_records(ds, "sessions")}
    rows = []
    for label in dict.fromkeys(sessions.tolist()):
        mine = sessions == label
        rec = known.get(str(label), {})
        rows.append(
            {
                "session": str(label),
                "subject": str(subjects[mine][0]),
                "units": int(mine.sum()),
                "stimuli": int(rec.get("n_stimuli_file") or ds.sizes["stimulus"]),
                "status": "loaded",
                "reason": "",
            }
        )
    for rec in _attr_records(ds, "failed_sessions"):
        rows.append(
            {
                "session": str(rec.get("session", "?")),
                "subject": str(rec.get("subject") or ""),
                "units": 0,
                "stimuli": 0,
                "status": "failed",
                "reason": str(rec.get("reason", "")),
            }
        )
    return rows


def _alphas(ds: Any, groupby: str) -> tuple[dict[str, float | None], dict[str, str]]:
    """α of the eigenspectrum (cvPCA with repeats, else PCA) of each group's units (None where not fittable), and
    why it was not (the library's message)."""
    from .. import spectral
    from ..errors import NeurosuperError, NeurosuperWarning

    out: dict[str, float | None] = {}
    why: dict[str, str] = {}
    if groupby not in ds.coords:
        return out, why
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        try:
            spec = spectral.eigenspectrum(ds, groupby=groupby, progress=False)
        except NeurosuperError as err:
            return out, {"all": str(err)}
        for label in spec[groupby].values:
            try:
                fit = spectral.powerlaw(spec.sel({groupby: label}))
                out[str(label)] = round(float(fit["alpha"]), 4)
            except NeurosuperError as err:
                out[str(label)], why[str(label)] = None, str(err)
    return out, why


def _signal_fractions(ds: Any, groupby: str) -> dict[str, float | None]:
    """The share of each group's response variance that is stimulus-driven (split-half reliability,
    :func:`neurosuper.spectral.reliability`); empty without repeats or the coord."""
    from .. import spectral
    from ..errors import NeurosuperError, NeurosuperWarning

    if groupby not in ds.coords or "repeat" not in ds.dims or ds.sizes["repeat"] < 2:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        try:
            rel = spectral.reliability(ds, groupby=groupby)
        except NeurosuperError:
            return {}
    return {str(k): _round(v) for k, v in zip(rel[groupby].values, rel["signal_fraction"].values, strict=True)}


def _round(v: Any) -> Any:
    v = float(v)
    return round(v, 4) if np.isfinite(v) else None


def _area_groups(ds: Any) -> list[tuple[Hashable, np.ndarray]]:
    from ..prep import unit_groups

    if "area" in ds.coords and ds["area"].dims == ("unit",) and len(set(ds["area"].values.tolist())) > 1:
        return unit_groups(ds, "area")
    return [(None, np.arange(ds.sizes["unit"]))]


def run(ctx: Context) -> None:
    """The sessions, per-subject and per-session α, the inter-animal ceilings and (with a network) every layer's
    score against the same subjects next to them."""
    from .. import compare
    from ..errors import NeurosuperError, recorded_warnings
    from ..plot.compare import plot_profile

    cfg = ctx.settings_of()
    sets = dict(ctx.sets)
    label = cohort_label(sets)
    if label is None:
        ctx.summary["cohort"] = {
            "settings": dict(cfg),
            "error": "no analysed set has 'session' or 'subject' unit coords (a cohort); found sets "
            f"{list(sets)}. Fix: load the sessions with neurosuper.load_cohort (or `neurosuper cohort`).",
        }
        return
    ds = sets[label]
    network = next((s for lb, s in sets.items() if lb != label and s.attrs.get("system") == "network"), None)
    table = session_table(ds)
    by_session, _ = _alphas(ds, "session")
    signal_session = _signal_fractions(ds, "session")
    for row in table:
        row["alpha"] = by_session.get(row["session"]) if row["status"] == "loaded" else None
        row["signal_fraction"] = signal_session.get(row["session"])
    subjects = list(dict.fromkeys(_values(ds, "subject").tolist()))
    by_subject, why = _alphas(ds, "subject")
    signal_subject = _signal_fractions(ds, "subject")
    subject_rows = {
        str(s): {
            "sessions": sum(1 for r in table if r["subject"] == str(s) and r["status"] == "loaded"),
            "units": int((_values(ds, "subject") == s).sum()),
            "alpha": by_subject.get(str(s)),
            "signal_fraction": signal_subject.get(str(s)),
        }
        for s in subjects
    }
    if why:
        entry_notes = {"alpha_not_fitted": dict(why)}
    else:
        entry_notes = {}
    entry: dict[str, Any] = {
        "settings": dict(cfg),
        "cohort": label,
        "n_sessions": sum(r["status"] == "loaded" for r in table),
        "n_failed": sum(r["status"] == "failed" for r in table),
        "n_subjects": len(subjects),
        "n_units": int(ds.sizes["unit"]),
        "n_stimuli": int(ds.sizes["stimulus"]),
        "sessions": table,
        **entry_notes,
    }
    results: dict[str, Any] = {}
    headline = [
        f"The cohort: {entry['n_sessions']} sessions of {len(subjects)} subject(s), {entry['n_units']} units, "
        f"{entry['n_stimuli']} stimuli shown in every session"
        + (f"; {entry['n_failed']} session(s) failed to load (listed with the reason)." if entry["n_failed"] else ".")
    ]
    fitted = {k: v for k, v in by_subject.items() if v is not None}
    unfitted = [str(s) for s in subjects if by_subject.get(str(s)) is None]
    if len(fitted) >= 2:
        headline.append(
            f"Power-law exponent α per subject: {', '.join(f'{k} {v:.2f}' for k, v in fitted.items())} "
            f"(range {min(fitted.values()):.2f}–{max(fitted.values()):.2f})"
            + (f"; not fitted for {', '.join(unfitted)} (the reasons are in alpha_not_fitted)." if unfitted else ".")
        )
    metric, method, seed, n_splits = str(cfg["metric"]), str(cfg["method"]), int(cfg["seed"]), int(cfg["n_splits"])
    ceilings: dict[str, Any] = {}
    layers: list[dict[str, Any]] = []
    if len(subjects) < 2:
        entry["inter_animal_skipped"] = (
            f"{len(subjects)} subject: the inter-animal consistency needs at least 2 (each animal is scored "
            "against the others). Fix: add sessions of other animals to the cohort."
        )
    else:
        for area, idx in _area_groups(ds):
            sub = ds.isel(unit=idx)
            where = "" if area is None else str(area)
            for kind in KINDS:
                name = f"{kind}" + (f"_{where}" if where else "")
                try:
                    with recorded_warnings() as notes:
                        ia = compare.inter_animal(
                            sub,
                            kind=kind,
                            metric=metric,
                            method=method,
                            seed=seed,
                            n_splits=n_splits,
                            groupby=None,
                            progress=False,
                        )
                except NeurosuperError as err:
                    ceilings[name] = {"area": where or "all", "kind": kind, "skipped": str(err)}
                    continue
                results[f"inter_animal_{name}"] = ia
                lo, hi = ia["ci"].values
                ceilings[name] = {
                    "area": where or "all",
                    "kind": kind,
                    "value": _round(ia["value"]),
                    "sd": _round(ia["sd"]),
                    "ci_lower": _round(lo),
                    "ci_upper": _round(hi),
                    **{
                        f"subject {s}": _round(v)
                        for s, v in zip(ia["subject"].values, ia["subject_value"].values, strict=True)
                    },
                }
                if notes:
                    ceilings[name]["warnings"] = notes
                for s, v in zip(ia["subject"].values, ia["subject_value"].values, strict=True):
                    subject_rows[str(s)][f"inter_animal_{name}"] = _round(v)
                if network is None:
                    continue
                try:
                    with recorded_warnings() as notes:
                        prof = compare.profile(
                            network,
                            sub,
                            kind=kind,
                            ceiling="inter_animal",
                            n_boot=0,
                            n_splits=n_splits,
                            progress=False,
                            metric=metric,
                            method=method,
                            seed=seed,
                        )
                except NeurosuperError as err:
                    ceilings[name]["network_skipped"] = str(err)
                    continue
                results[f"profile_{name}"] = prof
                prof_file = ctx.save(prof, f"cohort_profile_{name}.nc").name
                dim = prof.attrs["groupby"]
                for layer in prof[dim].values:
                    one = prof.sel({dim: layer})
                    layers.append(
                        {
                            "area": where or "all",
                            "kind": kind,
                            dim: str(layer),
                            "score": _round(one["score"]),
                            "score_per_subject_mean": _round(one["subject_mean"]),
                            "ceiling": _round(prof["ceiling_value"]),
                            "normalized": _round(one["normalized"]),
                        }
                    )
                best = str(prof[dim].values[int(np.nanargmax(prof["subject_mean"].values))])
                ceilings[name]["best_layer"] = best
                ceilings[name]["result"] = prof_file
                fig_title = f"{'RSA' if kind == 'rsa' else 'predictivity'} per {dim} vs the inter-animal ceiling"
                ctx.figure(
                    f"cohort_profile_{name}.png",
                    plot_profile(prof, title=fig_title + (f" ({where})" if where else "")),
                    f"Each {dim}'s {'RSA' if kind == 'rsa' else 'predictivity'} against the cohort's subjects "
                    f"({'mean over subjects' if kind == 'rsa' else 'median over neurons'}); grey band: the "
                    "inter-animal consistency (each subject against the other subjects pooled; t-interval over "
                    "subjects).",
                )
                n = float(prof["normalized"].sel({dim: best}))
                headline.append(
                    f"{'RSA' if kind == 'rsa' else 'Predictivity'}{f' ({where})' if where else ''}: the closest "
                    f"{dim}, {best}, scores {float(prof['subject_mean'].sel({dim: best})):.3f} against the "
                    f"subjects, {n:.0%} of the inter-animal consistency ({float(ia['value']):.3f} "
                    f"[{lo:.3f}, {hi:.3f}])."
                )
            for kind in KINDS:
                c = ceilings.get(f"{kind}" + (f"_{where}" if where else ""), {})
                if network is None and c.get("value") is not None:
                    headline.append(
                        f"Inter-animal consistency ({'RSA' if kind == 'rsa' else 'predictivity'}"
                        f"{', ' + where if where else ''}): {c['value']:.3f} [{c['ci_lower']:.3f}, "
                        f"{c['ci_upper']:.3f}] over {len(subjects)} subjects."
                    )
    entry["subjects"] = subject_rows
    entry["inter_animal"] = list(ceilings.values())
    if layers:
        entry["layers_vs_ceiling"] = layers
    entry["headline"] = headline
    ctx.results["cohort"] = results
    ctx.summary["cohort"] = entry


STEP = Step(
    "cohort",
    run,
    title="Cohort: sessions, subjects and the inter-animal ceiling",
    description="the sessions (loaded or failed, with the reason), α per subject and per session, the "
    "inter-animal consistency (RSA and predictivity, each subject against the others pooled) and every layer's "
    "score against the same subjects next to it",
    reduced="predictivity with 5 folds (the library's default is 10); no bootstrap (the ceiling's interval is "
    "over subjects)",
    settings=SETTINGS,
    limits={
        "n_splits": Limit(low=2),
        "seed": Limit(low=0),
        "metric": Limit(choices=("correlation", "euclidean", "cosine")),
        "method": Limit(choices=("spearman", "pearson", "kendall_tau_a", "cosine")),
    },
)


def cohort_steps() -> tuple[Step, ...]:
    """The steps ``neurosuper cohort`` runs: the report's analysis steps on the pooled units (and the network),
    then :data:`STEP`."""
    from .steps import report_steps

    return (*report_steps(), STEP)
