"""The ``compare`` step: the network's layers profiled against the brain (or the first set against the second) —
RSA with the split-half noise ceiling, ridge predictivity, CKA/Procrustes per layer/area pair, RDM heatmaps and the
profile figures. The numbers come from :func:`neurosuper.compare.overview`, :func:`~neurosuper.compare.profile`
and :func:`neurosuper.compare.summary`.
"""

from __future__ import annotations

from typing import Any

from .core import Context, Limit, Step

#: The step's settings (``ctx.settings["compare"]`` overrides them): every shared stimulus up to ``max_stimuli``
#: (:data:`neurosuper.compare.MAX_COMPARE_STIMULI`; above it a seeded subsample chosen among the shared ids, never
#: by position — :func:`neurosuper.compare.choose_stimuli`; ``None``: every shared stimulus) and 100 bootstrap
#: resamples (the library's default is 1,000).
#: ``metric`` is the RDMs' distance (crossnobis is left out: the CKA/Procrustes overview uses averaged responses).
SETTINGS: dict[str, Any] = {"max_stimuli": 500, "n_boot": 100, "seed": 0, "metric": "correlation"}
METRICS = ("correlation", "euclidean", "cosine")
_DISTANCE = {
    "correlation": "1 − correlation between stimuli",
    "euclidean": "Euclidean distance between stimuli",
    "cosine": "1 − cosine similarity between stimuli",
}


def _roles(sets: dict[str, Any]) -> tuple[str, str]:
    """(model, target) labels: the network set is the model scored against the other; else first vs second."""
    labels = list(sets)[:2]
    systems = [sets[lb].attrs.get("system") for lb in labels]
    if systems[0] == "network" and systems[1] != "network":
        return labels[0], labels[1]
    return (labels[1], labels[0]) if systems[1] == "network" else (labels[0], labels[1])


def run(ctx: Context) -> None:
    """The network's layers against the brain (or the first set against the second): RSA profile with the
    split-half ceiling, predictivity profile, CKA/Procrustes per layer/area pair, RDM heatmaps, profile figures."""
    from .. import compare
    from ..errors import NeurosuperError, recorded_warnings
    from ..plot.compare import plot_profile, plot_rdms

    settings = ctx.settings_of()
    n_boot, seed = int(settings["n_boot"]), int(settings["seed"])
    metric = str(settings["metric"])
    max_stimuli = None if settings["max_stimuli"] is None else int(settings["max_stimuli"])
    sets = dict(ctx.sets)
    model_name, target_name = _roles(sets)
    ids, which = compare.choose_stimuli(
        sets[model_name], sets[target_name], max_stimuli=max_stimuli, seed=seed, names=[model_name, target_name]
    )
    model = sets[model_name].sel(stimulus=ids)
    target = sets[target_name].sel(stimulus=ids)
    entry: dict[str, Any] = {
        "settings": {
            "max_stimuli": max_stimuli,
            "seed": seed,
            "n_boot": n_boot,
            "metric": metric,
            "method": "spearman",
            "predictivity_n_splits": 5,
        },
        "model": model_name,
        "target": target_name,
        "stimuli": which,
        "n_stimuli_used": int(len(ids)),
    }
    results: dict[str, Any] = {}
    with recorded_warnings() as notes:
        try:
            bars = ctx.progress  # the run's choice, not the library default
            prof = compare.profile(
                model,
                target,
                metric=metric,
                method="spearman",
                groupby="auto",
                n_boot=n_boot,
                seed=seed,
                progress=bars,
            )
            pred = compare.profile(
                model, target, kind="predictivity", groupby="auto", n_boot=n_boot, n_splits=5, seed=seed, progress=bars
            )
            ov = compare.overview(model, target, metric=metric, n_boot=0, seed=seed, progress=bars)
            files = {"compare_profile.nc": prof, "compare_predictivity.nc": pred, "compare_overview.nc": ov}
            for name, res in files.items():
                ctx.save(res, name)
            results.update(profile=prof, predictivity=pred, overview=ov)
            entry.update(
                n_stimuli=prof.attrs["n_stimuli"],
                profile=compare.summary(prof),
                predictivity=compare.summary(pred),
                overview=compare.summary(ov),
            )
            dim = prof.attrs["groupby"]
            ctx.figure(
                "compare_profile.png",
                plot_profile(prof, title=f"{model_name} vs {target_name}: RSA per {dim}"),
                f"RSA of each {dim} of {model_name} with {target_name} (Spearman correlation of {metric}-distance "
                "RDMs), with 95% bootstrap CIs over stimuli; the grey band is the noise ceiling of "
                f"{target_name} (how well its own repeats agree).",
            )
            ctx.figure(
                "compare_predictivity.png",
                plot_profile(pred, title=f"{model_name} vs {target_name}: predictivity per {pred.attrs['groupby']}"),
                f"How well a cross-validated ridge regression from each {pred.attrs['groupby']} predicts "
                f"{target_name}'s units (median over units), with 95% bootstrap CIs.",
            )
            target_rdm = compare.rdm(target, metric=metric, progress=bars)
            order_by = "category" if "category" in target_rdm.coords else None
            rdms = {target_name: target_rdm}
            for label in prof[dim].values:
                units = model if dim == "group" else model.isel(unit=model[dim].values == label)
                _, r = compare.align(target_rdm, compare.rdm(units, metric=metric, progress=bars))
                if order_by:
                    r = r.assign_coords(
                        {order_by: ("stimulus_a", target_rdm.sel(stimulus_a=r["stimulus_a"].values)[order_by].values)}
                    )
                rdms[f"{model_name}: {label}"] = r
            how = (
                f"ordered by {order_by}"
                if order_by
                else f"ordered by a hierarchical clustering of {target_name}'s RDM (average linkage), so the stimulus "
                f"groups {target_name} separates form blocks — a {dim} whose panel shows the same blocks separates "
                f"the same groups"
            )
            ctx.figure(
                "compare_rdms.png",
                plot_rdms(rdms, order_by=order_by, cluster_on=None if order_by else target_name),
                f"Representational dissimilarity matrices ({_DISTANCE[metric]}, as percentiles) of {target_name} "
                f"and of each {dim} of {model_name}, on the same stimuli in the same order: {how}.",
                dpi=100,
            )
            entry["files"] = list(files)
        except NeurosuperError as err:
            entry["error"] = str(err)
    if notes:
        entry["warnings"] = notes
    ctx.results["compare"] = results
    ctx.summary["compare"] = entry
    if "profile" in entry:
        p = entry["profile"]
        ctx.log(f"  best {p['groupby']} {p['best']} (RSA {p['score'][str(p['best'])]:.3f}; ceiling {p['ceiling']})")


STEP = Step(
    "compare",
    run,
    min_sets=2,
    title="Comparison",
    description="the two sets against each other: RSA with noise ceiling, CKA, Procrustes, predictivity, "
    "layer-to-area profile",
    settings=SETTINGS,
    limits={
        "max_stimuli": Limit(low=2, none=True),
        "n_boot": Limit(low=0),
        "seed": Limit(low=0),
        "metric": Limit(choices=METRICS),
    },
    reduced="every shared stimulus up to 500 (above that a seeded subsample of 500 chosen among the shared ids; "
    "the headline says which), with 100 bootstrap resamples (the library's default: 1,000)",
)
