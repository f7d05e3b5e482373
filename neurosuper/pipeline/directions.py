"""The ``directions`` step: are directions in activation space more interpretable than units? (Klindt et al. 2023)

:func:`neurosuper.directions.compare_methods` on each analysed set (a documented subset of its units): every
method's directions fitted on half the stimuli and scored on the other half. When the ``models`` extra is installed
and asked for (``NEUROSUPER_DEMO_PRETRAINED=1`` or the setting ``pretrained``), also on the pretrained
EfficientNet-Lite0 for up to 200 photo crops. The numbers come from :func:`neurosuper.directions.summary`.
"""

from __future__ import annotations

import os
from typing import Any

from .core import Context, Limit, Step
from .headline import not_enough_sentence

#: The step's reduced settings (``ctx.settings["directions"]`` overrides them).
SETTINGS: dict[str, Any] = {
    "max_units": 128,
    "split": 0.5,
    "k": 5,
    "sae_steps": 1000,
    "kmeans_n_init": 3,
    "nmf_max_iter": 200,
    "sparse_coding_max_iter": 5,
    "dictionary_size": None,
    "blas_threads": 1,
    "pretrained": False,
    "pretrained_images": 200,
}
PRETRAINED_ENV = "NEUROSUPER_DEMO_PRETRAINED"
#: The methods whose number of directions ``dictionary_size`` sets (an overcomplete dictionary can hold more
#: features than there are units).
DICTIONARY_METHODS = ("kmeans", "sparse_coding", "sae", "nmf")
#: Settings the step reads besides :data:`SETTINGS` (default: every method of ``DEFAULT_METHODS``).
SETTINGS_ALLOWED = ("methods",)


def _method_names() -> list[str]:
    from ..directions import METHODS

    return list(METHODS)


def _noun(ctx: Context, label: str) -> str:
    return "the pretrained EfficientNet-Lite0" if label == "pretrained" else ctx.noun(label)


def _headline(noun: str, entry: dict[str, Any], alpha: float = 0.05) -> str | None:
    """One sentence: the most interpretable method among those significantly above the units (Holm-adjusted p of
    the grouped test, :func:`neurosuper.directions.method_stats`), or none."""
    methods = entry.get("methods")
    if not isinstance(methods, dict) or "units" not in methods or methods["units"].get("median_ii") is None:
        return None
    u = methods["units"]["median_ii"]
    n_groups = entry.get("n_groups")
    test = (
        "one-sided t-test of the gain in mean II on the held-out stimuli, standard error from a delete-a-group "
        f"jackknife over {n_groups} groups of them, Holm-adjusted across methods"
        if n_groups
        else "one-sided test, Holm-adjusted across methods"
    )
    better = {
        m: v
        for m, v in methods.items()
        if m != "units"
        and v.get("p_vs_units_holm") is not None
        and v["p_vs_units_holm"] < alpha
        and v.get("median_ii") is not None
    }
    where = f"{noun}, scored on {entry.get('n_score', '?')} held-out stimuli"
    if n_groups == 0:
        return (
            f"In {where}, no test of the direction finders against the units was possible (in-sample scoring or "
            f"too few held-out stimuli); the units' median II is {u}."
        )
    if not better:
        return (
            f"In {where}, no direction finder is shown to be more interpretable than the units (median II {u}; "
            f"{test}: p ≥ {alpha} for every method)."
        )
    best = max(better, key=lambda m: better[m]["median_ii"])
    b = better[best]
    others = sorted(m for m in better if m != best)
    also = f"; also above the units: {', '.join(others)}" if others else ""
    which = (
        "the most interpretable"
        if entry.get("best_method") in (None, best)
        else "the most interpretable of those significantly above the units"
    )
    return (
        f"In {where}, {best} directions are {which}: median II {b['median_ii']} vs {u} for the "
        f"units ({test}: p = {b['p_vs_units_holm']:.2g}{also})."
    )


def _compare_one(ctx: Context, label: str, ds: Any, cfg: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    from ..directions import DEFAULT_METHODS, compare_methods, summary
    from ..errors import NeurosuperError, recorded_warnings
    from ..interpret.minimum import too_few_stimuli
    from ..prep import unit_subset

    sub = unit_subset(ds, int(cfg["max_units"]))
    methods = cfg.get("methods", DEFAULT_METHODS)
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    options = {
        m: o
        for m, o in (
            ("sae", {"n_steps": int(cfg["sae_steps"])}),
            ("kmeans", {"n_init": int(cfg["kmeans_n_init"])}),
            ("nmf", {"max_iter": int(cfg["nmf_max_iter"])}),
            ("sparse_coding", {"max_iter": int(cfg["sparse_coding_max_iter"])}),
        )
        if m in methods
    }
    entry: dict[str, Any] = {"n_units_used": int(sub.sizes["unit"]), "n_units": int(ds.sizes["unit"])}
    n_stimuli, k = int(ds.sizes["stimulus"]), int(cfg["k"])
    split = cfg["split"]
    n_score = n_stimuli if split is None else n_stimuli - int(round(float(split) * n_stimuli))
    if cfg.get("dictionary_size") is not None:  # the dictionary methods' number of directions (else their defaults)
        n_fit = n_stimuli if split is None else n_stimuli - n_score
        size = min(int(cfg["dictionary_size"]), n_fit)  # k-means cannot find more clusters than fit stimuli
        entry["dictionary_size"] = size
        for m in DICTIONARY_METHODS:
            if m in methods:
                options.setdefault(m, {})["n_directions"] = size
    short = too_few_stimuli(n_score, k)  # the II of held-out stimuli has the interpretability index's minimum
    if short is not None:
        entry.update(skipped=f"{short} (held-out stimuli: {n_score} of {n_stimuli})", not_enough_data=short.as_entry())
        return entry, None, sub
    from .._threads import limits

    threads = cfg.get("blas_threads")  # None: the thread policy's share (neurosuper._threads)
    with recorded_warnings() as notes, limits(int(threads) if threads else None):
        try:
            result = compare_methods(
                sub, methods, k=int(cfg["k"]), split=cfg["split"], options=options, progress=ctx.progress
            )
        except NeurosuperError as err:
            entry["error"] = str(err)
            result = None
    entry["warnings"] = notes
    if result is None:
        return entry, None, sub
    entry.update(summary(result))
    entry["files"] = [ctx.save(result, f"directions_{label}.nc").name]
    return entry, result, sub


def _mei_caption(ctx: Context, label: str, k: int) -> str:
    return (
        f"The {k} most exciting held-out stimuli of each method's most interpretable direction in "
        f"{_noun(ctx, label)} (rows: method/direction and its II). A row of alike stimuli is an interpretable "
        "direction. Rows marked '≈ unit X' are directions whose held-out activations correlate |r| ≥ 0.9 with that "
        "single unit; '= row' repeats an earlier row's stimuli, and so its II."
    )


def run(ctx: Context) -> None:
    """compare_methods on each analysed set (≤ ``max_units`` units), MEI figures, the II figure, headline."""
    from ..directions import DEFAULT_METHODS
    from ..plot.directions import plot_direction_meis, plot_methods

    cfg = ctx.settings_of()
    block: dict[str, Any] = {
        "settings": {
            **{k: v for k, v in cfg.items() if k != "methods"},
            "methods": [cfg["methods"]]
            if isinstance(cfg.get("methods"), str)
            else list(cfg.get("methods", DEFAULT_METHODS)),
        }
    }
    results = {}
    for label, ds in ctx.sets.items():
        ctx.log(f"  directions: {label}")
        entry, result, sub = _compare_one(ctx, label, ds, cfg)
        if result is not None:
            results[label] = result
            if "stimuli" in sub.data_vars or "label" in sub.coords:
                try:
                    entry["mei_figure"] = ctx.figure(
                        f"directions_{label}_meis.png",
                        plot_direction_meis(sub, result),
                        _mei_caption(ctx, label, int(cfg["k"])),
                        dpi=110,
                    )
                except Exception as err:  # noqa: BLE001 - a figure must never break the step
                    entry.setdefault("warnings", []).append(f"MEI figure not drawn: {err}")
        block[label] = entry
    want = bool(cfg.get("pretrained")) or os.environ.get(PRETRAINED_ENV, "") not in ("", "0")
    if want:
        from .. import models

        if not models.available():
            block["pretrained"] = {"skipped": 'the models extra is not installed (pip install -e ".[models]")'}
        else:
            ctx.log("  directions: pretrained EfficientNet-Lite0")
            ds = models.pretrained_activations(n_images=min(int(cfg["pretrained_images"]), 200), progress=ctx.progress)
            entry, result, sub = _compare_one(ctx, "pretrained", ds, cfg)
            entry["n_images"] = int(ds.sizes["stimulus"])
            block["pretrained"] = entry
            if result is not None:
                results["pretrained"] = result
                entry["mei_figure"] = ctx.figure(
                    "directions_pretrained_meis.png",
                    plot_direction_meis(sub, result),
                    _mei_caption(ctx, "pretrained", int(cfg["k"])),
                    dpi=110,
                )
    if results:
        block["figure"] = ctx.figure(
            "directions_ii.png",
            plot_methods(results),
            "Interpretability of every direction each method finds (fitted on half the stimuli, scored on the other "
            "half), as a z-score against random stimulus sets of the same size (0: no more alike than chance; "
            "dotted: z = 1.96). Red bars: medians, printed above with the Holm-adjusted one-sided p that the "
            "method's mean II exceeds the units' on the held-out stimuli (jackknife t-test; Klindt et al. 2023).",
            dpi=110,
        )
    lines = [h for label in results if (h := _headline(_noun(ctx, label), block[label]))]
    lines += [
        not_enough_sentence(_noun(ctx, label), entry["not_enough_data"])
        for label, entry in block.items()
        if isinstance(entry, dict) and isinstance(entry.get("not_enough_data"), dict)
    ]
    if lines:
        block["headline"] = lines
    ctx.results["directions"] = results
    ctx.summary["directions"] = block


STEP = Step(
    "directions",
    run,
    title="Directions",
    description="direction finders (k-means, ICA, PCA, NMF, sparse coding, SAE, random) against the units: "
    "cross-validated interpretability of each method's directions",
    settings=SETTINGS,
    limits={
        "max_units": Limit(low=1),
        "split": Limit(low=0, high=1, low_open=True, high_open=True, none=True),
        "k": Limit(low=2),
        "sae_steps": Limit(low=1),
        "kmeans_n_init": Limit(low=1),
        "nmf_max_iter": Limit(low=1),
        "sparse_coding_max_iter": Limit(low=1),
        "dictionary_size": Limit(low=1, none=True),
        "blas_threads": Limit(low=1, none=True),
        "pretrained_images": Limit(low=1),
        "methods": Limit(names=_method_names),
    },
    allowed=SETTINGS_ALLOWED,
    reduced="the methods are compared on at most 128 units per set (evenly spaced over the units, so every "
    "layer or area keeps units), the sparse autoencoder trained for 1,000 steps, k-means with 3 "
    "starts, NMF for at most 200 and sparse coding for 5 iterations (the settings as run are listed "
    "with the results; `neurosuper directions` runs every unit with the methods' defaults)",
)
