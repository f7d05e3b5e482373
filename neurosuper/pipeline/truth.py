"""The demo's ``truth`` step: what was planted in the demo data next to what the analyses found.

It runs last, on the planted demo (:func:`neurosuper.datasets.planted_brain` / ``planted_network``), and reads the
other steps' results: each row of its table is one planted effect (a *positive control*: the analysis must find
it) or one negative control (it must find nothing), with the tolerance that decides "recovered". ``summary.json``
holds the table under ``truth``; the report opens with it; ``neurosuper demo`` exits 0 either way, and CI fails when
``truth.all_recovered`` is false (these are the package's end-to-end controls).

Rows (tolerances stated in :data:`TOLERANCES`):

- spectrum: the cvPCA power-law exponent of the brain vs the exponent of the noiseless rates' spectrum fitted over
  the same ranks (Stringer et al. 2019);
- directions, recovery: for k-means, sparse coding and the SAE (those run), the share of the planted features whose
  column of the mixing matrix has a found direction with |cosine| ≥ ``cosine``; random directions are the negative
  control;
- directions, interpretability: a dictionary method's directions above the units on held-out stimuli (Holm p), and
  random directions not (Klindt et al. 2023);
- comparison: the layer that shares the features is the best, its CI excludes 0 and its score is near the brain's
  noise ceiling; the same layer with the stimuli shuffled is at chance (its CI includes 0);
- capacity: the planted features per neuron and the capacity Σ C of the planted features (Scherlis et al. 2022)
  next to the capacity of the discovered ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Context, Step

#: What counts as found.
TOLERANCES: dict[str, float] = {
    "alpha_abs": 0.15,
    "cosine": 0.8,
    "recovered_share": 0.5,
    "chance_share": 0.05,
    "p": 0.05,
    "ceiling_fraction": 0.7,
}
DICTIONARY_METHODS = ("kmeans", "sparse_coding", "sae")


def verdict(control: str, recovered: bool | None) -> str:
    """The row's verdict in words: a positive control is "recovered" or "NOT recovered", a negative control "at
    chance" or "NOT at chance", a row without a tolerance "shown"."""
    if recovered is None:
        return "shown"
    if control == "negative control":
        return "at chance" if recovered else "NOT at chance"
    return "recovered" if recovered else "NOT recovered"


def _row(
    analysis: str, control: str, planted: str, found: str, tolerance: str, recovered: bool | None, **values: Any
) -> dict[str, Any]:
    """One row of the table; ``recovered`` is True when the row's expectation holds (for a negative control: that
    nothing was found), None for a row shown without a tolerance."""
    return {
        "analysis": analysis,
        "control": control,
        "planted": planted,
        "found": found,
        "tolerance": tolerance,
        "recovered": recovered,
        "verdict": verdict(control, recovered),
        "values": values,
    }


def _spectrum_row(ctx: Context, brain: str) -> dict[str, Any] | None:
    entry = ctx.summary.get("spectrum", {}).get(brain)
    if not isinstance(entry, dict) or entry.get("alpha") is None or entry.get("alpha_true") is None:
        return None
    found, true = float(entry["alpha"]), float(entry["alpha_true"])
    tol = TOLERANCES["alpha_abs"]
    ranks = entry.get("alpha_true_ranks") or entry.get("ranks")
    return _row(
        "spectrum: power-law exponent α",
        "positive control",
        f"α = {true:.2f} (noiseless rates, ranks {ranks[0]}–{ranks[1]})" if ranks else f"α = {true:.2f}",
        f"α = {found:.2f} (cvPCA of the spike counts)",
        f"|Δα| ≤ {tol}",
        abs(found - true) <= tol,
        alpha_true=true,
        alpha_found=found,
    )


def recovery(weights: np.ndarray, mixing: np.ndarray) -> np.ndarray:
    """Best |cosine| of each planted feature's mixing column (unit, feature) with the found directions' weights
    (direction, unit): (feature,)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w[np.isfinite(w).all(axis=1)]
    if not len(w):
        return np.zeros(mixing.shape[1])
    w = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-300)
    m = mixing / np.maximum(np.linalg.norm(mixing, axis=0, keepdims=True), 1e-300)
    return np.abs(w @ m).max(axis=0)


def _direction_rows(ctx: Context, brain: str, ds: Any) -> list[dict[str, Any]]:
    result = ctx.results.get("directions", {}).get(brain)
    entry = ctx.summary.get("directions", {}).get(brain, {})
    if result is None or "weights" not in result or "mixing" not in ds:
        return []
    units = [str(u) for u in result["unit"].values]
    mixing = ds["mixing"].sel(unit=units).values
    n_features = mixing.shape[1]
    rows: list[dict[str, Any]] = []
    cos, share, chance = TOLERANCES["cosine"], TOLERANCES["recovered_share"], TOLERANCES["chance_share"]
    methods = [str(m) for m in dict.fromkeys(result["method"].values.tolist())]
    for method in [m for m in methods if m in DICTIONARY_METHODS or m == "random"]:
        w = result["weights"].values[result["method"].values == method]
        best = recovery(w, mixing)
        got = float((best >= cos).mean())
        negative = method == "random"
        rows.append(
            _row(
                "directions: random directions find no planted feature"
                if negative
                else f"directions: {method} recovers the planted features",
                "negative control" if negative else "positive control",
                f"{n_features} features in {len(units)} neurons"
                if not negative
                else "random directions: no planted feature",
                f"{got:.0%} of features with a direction at |cos| ≥ {cos} (median best |cos| {np.median(best):.2f})",
                f"share ≤ {chance:.0%}" if negative else f"share ≥ {share:.0%}",
                got <= chance if negative else got >= share,
                share=got,
                median_best_cosine=float(np.median(best)),
                n_directions=int(len(w)),
            )
        )
    per = entry.get("methods", {}) if isinstance(entry, dict) else {}
    alpha = TOLERANCES["p"]
    dictionary = {m: v for m, v in per.items() if m in DICTIONARY_METHODS and v.get("p_vs_units_holm") is not None}
    if dictionary:
        best_m = min(dictionary, key=lambda m: dictionary[m]["p_vs_units_holm"])
        p = float(dictionary[best_m]["p_vs_units_holm"])
        units_ii = per.get("units", {}).get("median_ii")
        rows.append(
            _row(
                "directions: more interpretable than the neurons",
                "positive control",
                "each neuron mixes several objects; each feature direction answers to one",
                f"{best_m}: median II {dictionary[best_m]['median_ii']} vs {units_ii} for the neurons, "
                f"Holm p = {p:.2g}",
                f"p < {alpha}",
                p < alpha,
                method=best_m,
                p_vs_units_holm=p,
            )
        )
    if per.get("random", {}).get("p_vs_units_holm") is not None:
        p = float(per["random"]["p_vs_units_holm"])
        rows.append(
            _row(
                "directions: random directions vs the neurons",
                "negative control",
                "random directions carry no planted feature",
                f"median II {per['random'].get('median_ii')}, Holm p = {p:.2g}",
                f"p ≥ {alpha}",
                p >= alpha,
                p_vs_units_holm=p,
            )
        )
    return rows


def _compare_rows(ctx: Context, brain: str, network: str) -> list[dict[str, Any]]:
    from .. import compare
    from ..errors import NeurosuperError, recorded_warnings

    entry = ctx.summary.get("compare", {})
    prof = entry.get("profile") if isinstance(entry, dict) else None
    net = ctx.sets.get(network)
    if not isinstance(prof, dict) or net is None:
        return []
    matching = str(net.attrs.get("matching_layer", ""))
    score = {str(k): v for k, v in prof.get("score", {}).items()}
    ci = {str(k): v for k, v in prof.get("ci", {}).items()}
    ceiling = prof.get("ceiling")
    lower = float(ceiling[0]) if isinstance(ceiling, list | tuple) and ceiling and ceiling[0] is not None else None
    rows: list[dict[str, Any]] = []
    if matching in score:
        s, c = float(score[matching]), ci.get(matching) or [np.nan, np.nan]
        best = str(prof.get("best"))
        frac = TOLERANCES["ceiling_fraction"]
        near = lower is not None and s >= frac * lower
        ok = best == matching and float(c[0]) > 0 and near
        others = ", ".join(f"{k} {float(v):.2f}" for k, v in score.items() if k != matching)
        rows.append(
            _row(
                "comparison: the layer that shares the features",
                "positive control",
                f"layer '{matching}' encodes the brain's features; the others do not",
                f"best layer '{best}': RSA {s:.2f} [{float(c[0]):.2f}, {float(c[1]):.2f}] (others: {others}); "
                f"noise ceiling lower bound {lower:.2f}"
                if lower is not None
                else f"best layer '{best}': RSA {s:.2f}",
                f"best = '{matching}', CI > 0, score ≥ {frac:.0%} of the ceiling's lower bound",
                ok,
                best=best,
                score=s,
                ci=[float(c[0]), float(c[1])],
                ceiling_lower=lower,
            )
        )
        # the negative control: the same layer with its stimuli shuffled (a seeded permutation of the ids)
        settings = entry.get("settings", {})
        n_stim = int(entry.get("n_stimuli_used") or ctx.sets[brain].sizes["stimulus"])
        try:
            chosen, _ = compare.choose_stimuli(
                net, ctx.sets[brain], max_stimuli=n_stim, seed=int(settings.get("seed", 0)), names=[network, brain]
            )
            layer = net.sel(stimulus=chosen).isel(unit=net["layer"].values == matching)
            perm = np.random.default_rng(1).permutation(len(chosen))
            shuffled = layer.assign_coords(stimulus=np.asarray(chosen)[perm])
            with recorded_warnings():
                res = compare.profile(
                    shuffled,
                    ctx.sets[brain].sel(stimulus=chosen),
                    metric=str(settings.get("metric", "correlation")),
                    method="spearman",
                    n_boot=int(settings.get("n_boot", 100)),
                    seed=int(settings.get("seed", 0)),
                    progress=False,
                )
            summ = compare.summary(res)
            s0 = float(next(iter(summ["score"].values())))
            c0 = next(iter(summ["ci"].values()))
            rows.append(
                _row(
                    "comparison: the same layer, stimuli shuffled",
                    "negative control",
                    f"layer '{matching}' with its stimulus labels permuted: no shared structure",
                    f"RSA {s0:.3f} [{float(c0[0]):.3f}, {float(c0[1]):.3f}]",
                    "CI includes 0",
                    float(c0[0]) <= 0 <= float(c0[1]),
                    score=s0,
                    ci=[float(c0[0]), float(c0[1])],
                )
            )
        except NeurosuperError as err:
            rows.append(
                _row(
                    "comparison: the same layer, stimuli shuffled",
                    "negative control",
                    "no shared structure",
                    f"not computed: {err}",
                    "CI includes 0",
                    False,
                )
            )
    return rows


def _capacity_row(ctx: Context, brain: str, ds: Any) -> dict[str, Any] | None:
    if "feature_capacity" not in ds:
        return None
    entry = ctx.summary.get("capacity", {}).get(brain, {})
    groups = entry.get("groups", {}) if isinstance(entry, dict) else {}
    found = [g for g in groups.values() if isinstance(g, dict) and g.get("capacity_sum") is not None]
    planted = float(ds["feature_capacity"].sum())
    per_unit = float(ds.attrs.get("features_per_unit", np.nan))
    n_units = int(ds.sizes["unit"])
    if found:
        g = found[0]
        text = (
            f"{g['n_features']} discovered features ({entry.get('method')}) share Σ C = {g['capacity_sum']:.1f} of "
            f"{g['n_dims']} dimensions ({entry.get('n_units_used')} of {n_units} neurons, "
            f"{entry.get('n_stimuli_used')} stimuli)"
        )
    else:
        text = "not computed"
    return _row(
        "capacity: features per dimension",
        "shown",
        f"{ds.sizes.get('feature', 0)} features in {n_units} neurons ({per_unit:.2f} per neuron); "
        f"the planted features share Σ C = {planted:.1f} of {n_units} dimensions",
        text,
        "shown side by side: no tolerance (the dictionary's size is a setting, not a finding)",
        None,
        planted_capacity=planted,
        features_per_unit=per_unit,
        found_capacity=found[0]["capacity_sum"] if found else None,
    )


def run(ctx: Context) -> None:
    """The table of planted truth against what the steps found."""
    labels = list(ctx.sets)
    brain = next((lb for lb in labels if "mixing" in ctx.sets[lb]), None)
    if brain is None:
        ctx.summary["truth"] = {"skipped": "no set carries planted truth (a 'mixing' variable)"}
        return
    network = next((lb for lb in labels if lb != brain), None)
    ds = ctx.sets[brain]
    rows: list[dict[str, Any]] = []
    if (row := _spectrum_row(ctx, brain)) is not None:
        rows.append(row)
    rows += _direction_rows(ctx, brain, ds)
    if network is not None:
        rows += _compare_rows(ctx, brain, network)
    if (row := _capacity_row(ctx, brain, ds)) is not None:
        rows.append(row)
    judged = [r for r in rows if r["recovered"] is not None]
    ok = bool(judged) and all(r["recovered"] for r in judged)
    failed = [r["analysis"] for r in judged if not r["recovered"]]
    n_pos = sum(r["control"] == "positive control" for r in judged)
    n_neg = sum(r["control"] == "negative control" for r in judged)
    ctx.summary["truth"] = {
        "table": rows,
        "all_recovered": ok,
        "n_positive": n_pos,
        "n_negative": n_neg,
        "failed": failed,
        "tolerances": dict(TOLERANCES),
    }
    ctx.summary["truth"]["headline"] = [
        f"Planted truth: every planted effect was found ({n_pos} positive controls) and every negative control "
        f"stayed at chance ({n_neg})."
        if ok
        else f"Planted truth: NOT recovered — {'; '.join(failed)} (see the truth table)."
    ]


STEP = Step(
    "truth",
    run,
    title="Planted truth against found",
    description="what the demo data plant (features in superposition, a matching layer, α) next to what the analyses "
    "found, with positive and negative controls",
    demo_only=True,
    min_sets=1,
)
