"""The headline numbers of a pipeline run in plain sentences (the demo's ``summary.md`` and the report's first section).

:func:`headline_by_step` reads the steps' summaries (``ctx.summary``) and returns a few sentences per step; a
step whose summary is missing or lacks a number simply has no sentence. Analyses whose step writes its own
sentences put them under ``summary[step]["headline"]`` (a string or a list of strings).

**Not enough data.** A set (or a group) below an analysis's documented minimum (the table "Minimum data" in
``docs/getting-started.md``) is recorded as ``"not_enough_data": {analysis, what, found, needed, need, reason}``
(:meth:`neurosuper.errors.NotEnoughData.as_entry`); its sentence says so — what was counted, how many there are, how
many are needed and what data would give them — instead of a number (:func:`not_enough_sentence`).
:func:`nothing_found` is the sentence of a run in which no analysis produced a result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._numbers import rounded

__all__ = [
    "headline",
    "headline_by_step",
    "step_headline",
    "fmt",
    "set_noun",
    "not_enough_sentence",
    "nothing_found",
]


def set_noun(label: str, *, demo: bool = False) -> str:
    """How a sentence names an analysed set: "the demo brain" (``demo``), "the network", "set 'session2'"."""
    if label in ("brain", "network"):
        return f"the demo {label}" if demo else f"the {label}"
    return f"set {label!r}"


def fmt(x: Any, digits: int = 2) -> str:
    """A number for a sentence: rounded by the one rule of every summary (:func:`neurosuper._numbers.rounded`),
    then shown with ``digits`` decimals (integers as they are); anything else as text; None and NaN as "n/a"."""
    x = rounded(x)
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _labels(summary: Mapping[str, Any], labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        return list(labels)
    sets = summary.get("sets")
    if isinstance(sets, Mapping) and sets:
        return list(sets)
    return ["brain", "network"]


def not_enough_sentence(noun: str, info: Mapping[str, Any], *, where: str = "") -> str:
    """ "The brain: not enough data for the power-law exponent α — 0 ranks to fit (…), at least 10 needed (…)." from
    a ``not_enough_data`` record (``where``: a group, e.g. "per layer")."""
    what = info.get("analysis") or "this analysis"
    text = f"{_cap(noun)}{' ' + where if where else ''}: not enough data for {what}"
    if info.get("found") is not None and info.get("needed") is not None:
        text += f" — {info['found']} {info.get('what', '')}, at least {info['needed']} needed".replace("  ", " ")
    if info.get("need"):
        text += f"; it takes {info['need']}"
    return text + ". No number is reported."


def _not_enough(step: str, entry: Mapping[str, Any], noun: str) -> list[str]:
    """The "not enough data" sentences of one set's entry: the whole set, and groups (spectrum, capacity)."""
    lines: list[str] = []
    whole = isinstance(entry.get("not_enough_data"), Mapping)
    if whole:
        lines.append(not_enough_sentence(noun, entry["not_enough_data"]))
    for key, value in entry.items():
        if whole or not isinstance(key, str) or not key.startswith("alpha_per_"):
            continue  # (a set too small as a whole has groups too small: said once)
        group = key.removeprefix("alpha_per_").removesuffix("_not_enough_data").removesuffix("_not_fittable")
        if key.endswith("_not_enough_data") and isinstance(value, Mapping):
            lines.append(not_enough_sentence(noun, value, where=f"(one α per {group})"))
        elif key.endswith("_not_fittable") and isinstance(value, Mapping) and value:
            names = ", ".join(map(str, value))
            lines.append(
                f"{_cap(noun)}: not enough data for α in {group} {names} — fewer than {_min_ranks()} ranks to fit "
                f"each (see the warnings). No α is reported for them."
            )
    groups = entry.get("groups") if step == "capacity" else None
    if isinstance(groups, Mapping):
        short = {
            g: v["not_enough_data"] for g, v in groups.items() if isinstance(v, Mapping) and v.get("not_enough_data")
        }
        if short:
            info = next(iter(short.values()))
            by = entry.get("groupby", "group")
            text = f"{_cap(noun)}: not enough data for {info.get('analysis', 'capacity')} in {by} {', '.join(short)}"
            if info.get("needed") is not None:
                text += f" — fewer than {info['needed']} {info.get('what', '')}".rstrip()
            lines.append(text + ". No number is reported for them.")
    return lines


def _min_ranks() -> int:
    from ..spectral.fit import MIN_FIT_RANKS

    return MIN_FIT_RANKS


def nothing_found(steps: Sequence[Any]) -> str:
    """The sentence of a run in which no analysis step produced a result (each failed, was skipped, or had too
    little data): says so, with each step's reason — so that such a run never reads like a finding. ``steps``:
    :class:`~neurosuper.pipeline.StepResult` s (data steps are left out)."""
    why = []
    for step in steps:
        if getattr(step, "data", False):
            continue
        if getattr(step, "demo_only", False):
            why.append(f"{step.name}: the demo's illustration, not of these data")
        elif step.headline:  # only "not enough data" sentences (a finding would have made the run found)
            why.append(f"{step.name}: not enough data")
        elif step.status == "skipped":
            why.append(f"{step.name}: skipped" + (f" ({step.reason})" if step.reason else ""))
        else:
            why.append(f"{step.name}: {'failed' if step.status == 'failed' else 'no result'}")
    listed = "; ".join(why) if why else "no analysis ran"
    return (
        f"No analysis produced a result on these data, so nothing here is a finding ({listed}). Each section says "
        'why, and the documentation\'s table "Minimum data" says what each analysis needs.'
    )


def _spectrum(entry: Mapping[str, Any], noun: str) -> list[str]:
    lines: list[str] = []
    if entry.get("alpha") is None or isinstance(entry.get("alpha"), Mapping):
        return lines
    text = f"{_cap(noun)}: the covariance spectrum decays as a power law with α = {fmt(entry['alpha'])}"
    ci = entry.get("alpha_ci")
    if isinstance(ci, Sequence) and len(ci) == 2 and None not in ci:
        text += f" (95% CI {fmt(ci[0])}–{fmt(ci[1])})"
    if entry.get("r2") is not None and not isinstance(entry.get("r2"), Mapping):
        text += f", fit r² = {fmt(entry['r2'])}"
    ranks = entry.get("ranks")
    if isinstance(ranks, Sequence) and len(ranks) == 2:
        text += f" over ranks {ranks[0]}–{ranks[1]}"
    if entry.get("alpha_true") is not None:
        text += f"; the simulation's generating α is {fmt(entry['alpha_true'])}"
    lines.append(text + ".")
    if entry.get("smooth") is not None:
        lines.append(
            f"With α {'above' if entry['smooth'] else 'at or below'} 1 + 2/d, the code of {noun} is "
            f"{'smooth (differentiable)' if entry['smooth'] else 'not smooth'} (Stringer et al. 2019)."
        )
    return lines


def _interpret(entry: Mapping[str, Any], noun: str) -> list[str]:
    """Is the population more interpretable than chance (the permutation test of its mean II, ``p_population``),
    and how many units are, individually (Benjamini–Hochberg on the per-unit permutation p-values)?"""
    p, n_sig = entry.get("p_population"), entry.get("n_units_significant")
    if p is None and n_sig is None:
        return []
    how = f"mean II {fmt(entry.get('mean_ii'))}, similarity {entry.get('similarity', '?')}"
    units = ""
    if n_sig is not None:
        n = entry.get("n_units_scored")
        fdr = entry.get("fdr") or 0.05
        units = f"{n_sig:,} of {n:,} units" if isinstance(n, int) else f"{n_sig:,} units"
        how = f"Benjamini–Hochberg, {fmt(100 * fdr, 0)}% false discovery rate; {how}"
    if p is None:  # no population test (random-direction null, or n_permutations=0)
        return [f"In {noun}, individually above the {entry.get('null', 'null')} null: {units} ({how})."]
    z = entry.get("mean_ii_z")
    mean = f"mean II z-score {fmt(z)}" if z is not None else "mean II"
    B = entry.get("n_permutations")
    floor = isinstance(B, int) and B > 0 and p <= 1.0 / (B + 1) * 1.001
    test = (
        f"permutation test of the population's mean II against {B:,} random relabellings of the stimuli, every "
        f"unit relabelled alike: p = {p:.2g}{f', the smallest {B:,} relabellings can give' if floor else ''}"
        if isinstance(B, int)
        else f"permutation test of the population's mean II: p = {p:.2g}"
    )
    if p < 0.05:
        text = (
            f"The units of {noun} are more interpretable than chance as a population: their most exciting stimuli "
            f"are more alike than random stimulus sets ({mean}; {test})"
        )
    else:
        text = (
            f"The units of {noun} are not shown to be more interpretable than chance: as a population, their most "
            f"exciting stimuli are no more alike than random stimulus sets ({mean}; {test})"
        )
    return [text + (f"; individually above chance: {units} ({how})." if units else f" ({how}).")]


def _of_total(used: Any, total: Any, what: str) -> str | None:
    """ "32 of the 1,000 units" when ``used`` is a subsample of ``total``, else None."""
    if not isinstance(used, int) or not isinstance(total, int) or used >= total:
        return None
    return f"{used:,} of the {total:,} {what}"


def _capacity_phrase(entry: Mapping[str, Any]) -> str | None:
    total, dims = entry.get("capacity_sum"), entry.get("n_dims")
    n = entry.get("n_directions", entry.get("n_features"))
    if total is None or dims is None or n is None:
        return None
    counts = [f"{entry[k]} {k[2:]}" for k in ("n_monosemantic", "n_polysemantic", "n_ignored") if k in entry]
    sub = _of_total(dims, entry.get("n_units_total"), "units")  # a group's dims are its units used
    return (
        f"{n} features share Σ C = {fmt(total)} of {dims} dimensions"
        + (f" ({sub})" if sub else "")
        + (f" ({', '.join(counts)})" if counts else "")
    )


def _capacity(entry: Mapping[str, Any], noun: str) -> list[str]:
    """The capacity sentence; the dimensions are the units analysed, so a subsample of the set's units (and
    stimuli) says so: ``n_units_used`` / ``n_units_total`` (``n_units``), ``n_stimuli_used`` / ``n_stimuli_total``
    of the step's entry, and ``n_units_total`` of each group."""
    method = f" ({entry['method']})" if entry.get("method") else ""
    groups = entry.get("groups")
    # the units analysed are the dimensions: each phrase says when they are a subsample; the stimuli are said once
    stimuli = _of_total(entry.get("n_stimuli_used"), entry.get("n_stimuli_total"), "stimuli")
    where = f", on {stimuli}" if stimuli else ""
    if isinstance(groups, Mapping) and groups:
        parts = [f"{g}: {ph}" for g, v in groups.items() if isinstance(v, Mapping) and (ph := _capacity_phrase(v))]
        if parts:
            return [
                f"Capacity of the features discovered{method} in {noun}, per {entry.get('groupby', 'group')} — "
                + "; ".join(parts)
                + f"{where} (Scherlis et al. 2022)."
            ]
        return []
    phrase = _capacity_phrase({"n_units_total": entry.get("n_units_total", entry.get("n_units")), **entry})
    if phrase is None:
        return []
    return [f"Capacity of the features discovered{method} in {noun}: {phrase}{where} (Scherlis et al. 2022)."]


def _compare_step(block: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    prof = block.get("profile")
    if isinstance(prof, Mapping) and prof.get("best") is not None and isinstance(prof.get("score"), Mapping):
        best = str(prof["best"])
        kind = str(prof.get("kind", "score")).upper() if prof.get("kind") == "rsa" else prof.get("kind", "score")
        how = f", {prof['method']}" if prof.get("method") else ""
        group = prof.get("groupby", "group")
        ci = prof.get("ci", {}).get(best) if isinstance(prof.get("ci"), Mapping) else None
        if isinstance(ci, Sequence) and len(ci) == 2 and ci[0] is not None and ci[0] <= 0:
            level = f"{round(100 * prof['ci_level'])}% " if prof.get("ci_level") else ""
            text = (
                f"No {group} of the model matches the other set better than chance: the best, {best}, has "
                f"{kind}{how} {fmt(prof['score'].get(best), 3)} with a {level}bootstrap CI of {fmt(ci[0], 3)}–"
                f"{fmt(ci[1], 3)}, which includes 0"
            )
            ceiling = prof.get("ceiling")
            if isinstance(ceiling, Sequence) and len(ceiling) == 2 and None not in ceiling:
                text += f"; the {prof.get('ceiling_kind', '')} noise ceiling is {fmt(ceiling[0])}–{fmt(ceiling[1])}"
                text += (
                    ", above that CI, so the data are reliable enough to show a match: the sets share little "
                    "representational geometry on these stimuli"
                    if ci[1] is not None and ceiling[0] > ci[1]
                    else ", so the data may be too noisy to show a match"
                )
            lines.append(text.replace("  ", " ") + ".")
            prof = None
    if isinstance(prof, Mapping) and prof.get("best") is not None and isinstance(prof.get("score"), Mapping):
        best = str(prof["best"])
        kind = str(prof.get("kind", "score")).upper() if prof.get("kind") == "rsa" else prof.get("kind", "score")
        how = f", {prof['method']}" if prof.get("method") else ""
        group = prof.get("groupby", "group")
        significant = bool(prof.get("best_significant"))
        if significant:
            text = f"Of the {group}s compared with the other set, {best} matches it best ({kind}{how} "
        else:  # top, but its lead over the runner-up is within the bootstrap's reach: never called "best"
            text = (
                f"Of the {group}s compared with the other set, {best} scores highest but not significantly above "
                f"the next, {prof.get('runner_up') or 'the others'} ({kind}{how} "
            )
        text += fmt(prof["score"].get(best), 3)
        margin_ci = prof.get("margin_ci")
        if prof.get("margin") is not None:
            text += f", {fmt(prof['margin'], 3)} above the next"
            if isinstance(margin_ci, Sequence) and len(margin_ci) == 2 and None not in margin_ci:
                text += f" (95% CI of the difference {fmt(margin_ci[0], 3)}–{fmt(margin_ci[1], 3)})"
        text += ")"
        ceiling = prof.get("ceiling")
        if isinstance(ceiling, Sequence) and len(ceiling) == 2 and None not in ceiling:
            text += f"; the {prof.get('ceiling_kind', '')} noise ceiling is {fmt(ceiling[0])}–{fmt(ceiling[1])}"
        lines.append(text.replace("  ", " ") + ".")
    lines.extend(_predictivity(block.get("predictivity")))
    ov = block.get("overview")
    if isinstance(ov, Mapping) and ov.get("cka") is not None and not isinstance(ov.get("cka"), Mapping):
        text = f"Over all units, linear CKA = {fmt(ov['cka'])}"
        if ov.get("cka_debiased") is not None:
            chance = ov.get("cka_chance")
            beside = f"; unrelated sets of this shape score {fmt(chance)}" if chance is not None else ""
            text += f" (debiased {fmt(ov['cka_debiased'])}{beside})"
        rsa = ov.get("rsa")
        if isinstance(rsa, Mapping) and rsa.get("value") is not None:
            text += f", RSA ({rsa.get('method', '')}) = {fmt(rsa['value'])}"
        if ov.get("procrustes") is not None:
            text += f", Procrustes shape distance {fmt(ov['procrustes'])} rad"
            if ov.get("procrustes_degenerate"):
                text += " (degenerate: as many units as stimuli)"
        lines.append(text + f" on {ov.get('n_stimuli', block.get('n_stimuli', '?'))} shared stimuli.")
    if isinstance(block.get("stimuli"), str) and lines:
        lines.append(f"The comparison used {block['stimuli']}.")
    return lines


def _predictivity(pred: Any) -> list[str]:
    """One sentence on the predictivity profile: how well the best group's linear readout predicts the other set's
    units, against zero and the noise ceiling."""
    if not isinstance(pred, Mapping) or pred.get("best") is None or not isinstance(pred.get("score"), Mapping):
        return []
    best = str(pred["best"])
    group = pred.get("groupby", "group")
    which = (  # "best" only when significantly above the runner-up (compare.profile's best_significant)
        f"the best-predicting {group}"
        if pred.get("best_significant")
        else f"the highest-scoring {group}, not significantly above the next"
    )
    text = (
        f"A cross-validated ridge readout of {best}, {which}, predicts "
        f"the other set's units with median r = {fmt(pred['score'].get(best), 3)}"
    )
    ci = pred.get("ci", {}).get(best) if isinstance(pred.get("ci"), Mapping) else None
    if isinstance(ci, Sequence) and len(ci) == 2 and None not in ci:
        text += f" (95% CI {fmt(ci[0], 3)}–{fmt(ci[1], 3)}{', which includes 0' if ci[0] <= 0 else ''})"
    ceiling = pred.get("ceiling")
    if isinstance(ceiling, Sequence) and len(ceiling) == 2 and None not in ceiling:
        kind = f" ({pred['ceiling_kind']})" if pred.get("ceiling_kind") else ""
        text += f"; the noise ceiling{kind} is {fmt(ceiling[0])}–{fmt(ceiling[1])}"
        if isinstance(ci, Sequence) and len(ci) == 2 and ci[1] is not None and ci[1] < ceiling[0]:
            text += ", far above it: most of what the units reliably do, this model does not predict"
    return [text.replace("  ", " ") + "."]


def _toy_entry(entry: Mapping[str, Any]) -> list[str]:
    cap = entry.get("capacity")
    if not isinstance(cap, Sequence) or not cap or entry.get("n_features") is None:
        return []
    return [
        f"A toy model of {entry['n_features']} features in {entry.get('n_hidden', '?')} dimensions "
        f"({entry.get('model', 'relu')}, {entry.get('steps', '?')} training steps) gives capacities "
        f"{', '.join(fmt(c) for c in cap)} (Σ C = {fmt(entry.get('capacity_sum'))}; a regular pentagon gives "
        "0.40 each, Elhage et al. 2022)."
    ]


_PER_SET = {"spectrum": _spectrum, "interpret": _interpret, "capacity": _capacity}
_PER_STEP = {"compare": _compare_step}


def headline_by_step(
    summary: Mapping[str, Any],
    *,
    labels: Sequence[str] | None = None,
    demo: bool = False,
    not_enough: bool = True,
) -> dict[str, list[str]]:
    """``{step: [sentence, ...]}`` from the steps' summaries; steps without a sentence are left out.

    ``labels`` are the analysed sets' labels (default: ``summary["sets"]``'s keys, else brain and network);
    ``demo`` names them "the demo brain"/"the demo network"; ``not_enough=False`` leaves out the "not enough data"
    sentences (then only findings remain).
    """
    out: dict[str, list[str]] = {}
    for step, fn in _PER_SET.items():
        block = summary.get(step)
        if not isinstance(block, Mapping):
            continue
        lines: list[str] = []
        for label in _labels(summary, labels):
            entry = block.get(label)
            if isinstance(entry, Mapping):
                lines.extend(fn(entry, set_noun(label, demo=demo)))
                if not_enough:
                    lines.extend(_not_enough(step, entry, set_noun(label, demo=demo)))
        for key in ("pentagon", "toy"):  # a toy model trained inside the step
            if isinstance(block.get(key), Mapping):
                lines.extend(_toy_entry(block[key]))
        if lines:
            out[step] = lines
    for step, step_fn in _PER_STEP.items():
        block = summary.get(step)
        if isinstance(block, Mapping) and not block.get("headline"):
            lines = step_fn(block)
            if lines:
                out[step] = lines
    for step, block in summary.items():
        if step in _PER_SET or not isinstance(block, Mapping) or (step in _PER_STEP and step in out):
            continue
        if step == "toy" and _toy_entry(block) and not block.get("headline"):
            out[step] = _toy_entry(block)
            continue
        text = block.get("headline")
        if isinstance(text, str) and text:
            out[step] = [text]
        elif isinstance(text, Sequence) and not isinstance(text, str):
            lines = [str(t) for t in text if t]
            if lines:
                out[step] = lines
    order = [e.get("name") for e in summary.get("steps", []) if isinstance(e, Mapping)]
    return dict(sorted(out.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def headline(summary: Mapping[str, Any], *, labels: Sequence[str] | None = None, demo: bool = False) -> list[str]:
    """A few plain sentences from the steps' summaries (what was found, and where there was not enough data);
    missing parts are skipped."""
    return [line for lines in headline_by_step(summary, labels=labels, demo=demo).values() for line in lines]


def step_headline(
    name: str,
    block: Mapping[str, Any],
    *,
    labels: Sequence[str] | None = None,
    demo: bool = False,
    not_enough: bool = True,
) -> list[str]:
    """The sentences of one step (``name``) from its summary ``block`` (:func:`headline_by_step`)."""
    return headline_by_step({name: block}, labels=labels, demo=demo, not_enough=not_enough).get(name, [])
