"""The ``interpret`` step: the interpretability index of every unit of each analysed set against a random-stimulus
null (Klindt et al. 2023), in-silico 2AFC psychophysics, lifetime sparseness, MEI grids and one II figure.

The numbers come from :func:`neurosuper.interpret.summary`. A set with fewer than
:data:`~neurosuper.interpret.minimum.MIN_STIMULI_PER_K` stimuli per MEI (40 for k = 5) is not scored: its entry
records ``not_enough_data`` (and ``skipped``) and the headline says so instead of an II.
"""

from __future__ import annotations

from typing import Any

from .core import Context, Limit, Step

#: The step's settings (``ctx.settings["interpret"]`` overrides them); every unit is scored, no reduction.
SETTINGS: dict[str, Any] = {"similarity": "auto", "k": 5, "null": "random_stimuli", "seed": 0}


def _one(ctx: Context, name: str, ds: Any, cfg: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    from ..errors import NeurosuperError
    from ..interpret import interpretability_index, psychophysics_2afc, selectivity, summary
    from ..interpret.minimum import too_few_stimuli
    from ..plot.interpret import plot_mei_grid

    short = too_few_stimuli(ds.sizes["stimulus"], int(cfg["k"]))
    if short is not None:  # an II from a handful of stimuli would read like a finding
        return {"skipped": str(short), "not_enough_data": short.as_entry()}, None
    try:
        result = interpretability_index(
            ds,
            similarity=cfg["similarity"],
            k=int(cfg["k"]),
            null=cfg["null"],
            seed=int(cfg["seed"]),
            progress=ctx.progress,
        )
    except NeurosuperError as err:
        return {"skipped": str(err)}, None
    out = summary(result)
    out["result"] = ctx.save(result, f"interpret_{name}.nc").name
    if "stimuli" in ds and ds["stimuli"].ndim in (3, 4):
        out["mei_grid"] = ctx.figure(
            f"interpret_{name}_meis.png",
            plot_mei_grid(ds, result),
            f"The {cfg['k']} most exciting stimuli (MEIs) of a sample of {ctx.noun(name)}'s units, from the most "
            "to the least interpretable (II: the mean similarity of a unit's MEIs, Klindt et al. 2023).",
        )
    try:
        acc = psychophysics_2afc(ds, similarity=result.attrs["similarity"], seed=int(cfg["seed"]), progress=False)
        out["mean_2afc_accuracy"] = summary(acc)["mean_accuracy"]
    except NeurosuperError as err:
        out["2afc_skipped"] = str(err)
    sel = selectivity(ds, rectify=True)
    out["mean_lifetime_sparseness"] = summary(sel)["mean_lifetime_sparseness"]
    return out, result


def run(ctx: Context) -> None:
    """II, 2AFC accuracy and selectivity of every analysed set; MEI grids and one II figure for all sets."""
    from ..errors import recorded_warnings
    from ..plot.interpret import plot_ii

    cfg = ctx.settings_of()
    summary: dict[str, Any] = {"settings": dict(cfg)}
    results = {}
    for name, ds in ctx.sets.items():
        ctx.log(f"  interpretability index: {name}")
        with recorded_warnings() as notes:
            summary[name], res = _one(ctx, name, ds, cfg)
        if notes:
            summary[name]["warnings"] = notes
        if res is not None:
            results[name] = res
    if results:
        figure = ctx.figure(
            "interpret_ii.png",
            plot_ii(results),
            "Every unit's II as a z-score against random stimulus sets of the same size (0: its MEIs are no more "
            "alike than random stimuli; dotted: z = ±1.96), per set and layer or area.",
        )
        for name in results:
            summary[name]["figure"] = figure
    ctx.results["interpret"] = results
    ctx.summary["interpret"] = summary


STEP = Step(
    "interpret",
    run,
    title="Interpretability",
    description="interpretability index of every unit against a random-stimulus null, in-silico 2AFC "
    "psychophysics, lifetime sparseness; MEI grids",
    settings=SETTINGS,
    limits={"k": Limit(low=1), "seed": Limit(low=0)},
)
