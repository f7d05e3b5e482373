"""The ``capacity`` step: the capacity of the features a direction finder discovers in each analysed set, per layer
or area (Scherlis et al. 2022), with documented reduced settings (:data:`SETTINGS`). The pentagon toy model is
the ``toy`` step (:mod:`neurosuper.pipeline.toy`).
"""

from __future__ import annotations

from typing import Any

from .core import Context, Step

#: The step's reduced settings (``ctx.settings["capacity"]`` overrides them): a fast finder on a subset of each
#: set's units and stimuli (a few seconds in all).
SETTINGS: dict[str, Any] = {
    "method": "sparse_coding",
    "options": {"max_iter": 3},
    "max_units": 32,
    "max_stimuli": 500,
    "overcomplete": 2,
    "center": True,
    "seed": 0,
}


def _subset(ds: Any, max_units: int, max_stimuli: int) -> Any:
    from ..prep import unit_groups

    ds = ds.isel(stimulus=slice(0, max_stimuli))
    groups = unit_groups(ds, "auto")
    per = max(2, max_units // len(groups))
    keep = sorted(int(i) for _, idx in groups for i in idx[:per])
    sub = ds.isel(unit=keep)
    sub.attrs["demo_units_per_group"] = min(per, min(len(idx) for _, idx in groups))
    return sub


def run(ctx: Context) -> None:
    """The capacity of the features the finder discovers in each analysed set (a subset of its units and stimuli,
    :data:`SETTINGS`), per layer or area."""
    from .. import capacity
    from ..errors import NeurosuperError, recorded_warnings
    from ..plot.capacity import plot_capacity
    from ..prep import unit_groups
    from ..storage import save_result

    cfg = ctx.settings_of()
    out: dict[str, Any] = {"settings": dict(cfg)}
    results = {}
    for name, ds in ctx.sets.items():  # the demo's brain and network, or the set(s) a report was given
        with recorded_warnings() as notes:
            try:
                sub = _subset(ds, int(cfg["max_units"]), int(cfg["max_stimuli"]))
                n_units, per_group = sub.sizes["unit"], sub.attrs["demo_units_per_group"]
                result = capacity.feature_capacity(
                    sub,
                    method=cfg["method"],
                    groupby="auto",
                    seed=int(cfg["seed"]),
                    n_directions=int(cfg["overcomplete"]) * per_group,
                    center=bool(cfg["center"]),
                    progress=False,
                    **dict(cfg.get("options") or {}),
                )
                entry = capacity.summary(result)
                entry["n_units_used"] = int(n_units)
                entry["n_stimuli_used"] = int(sub.sizes["stimulus"])
                entry["n_units_total"] = int(ds.sizes["unit"])
                entry["n_stimuli_total"] = int(ds.sizes["stimulus"])
                if isinstance(entry.get("groups"), dict):  # each group's subset against the units it has
                    totals = {str(g): len(idx) for g, idx in unit_groups(ds, "auto")}
                    for g, v in entry["groups"].items():
                        v["n_units_total"] = totals.get(str(g))
                entry["result"] = save_result(result, ctx.path(f"capacity_{name}.nc"), overwrite=True).name
                entry["figure"] = ctx.figure(
                    f"capacity_{name}.png",
                    plot_capacity(result, title=f"{ctx.noun(name)}: {cfg['method']} features"),
                    f"Capacity C_i of each feature {cfg['method']} discovers in {ctx.noun(name)} against the size of "
                    "its atom: C_i = 1 a feature with a dimension of its own (monosemantic), 0 < C_i < 1 a feature "
                    "sharing dimensions with others (polysemantic), C_i ≈ 0 ignored (Scherlis et al. 2022, eq. 3).",
                )
                results[name] = result
            except NeurosuperError as err:
                entry = {"skipped": str(err)}
        if notes:
            entry["warnings"] = notes
        out[name] = entry
        ctx.log(f"  {name}: {entry.get('capacity_sum', entry.get('groups', entry.get('skipped')))}")
    ctx.results["capacity"] = results
    ctx.summary["capacity"] = out


STEP = Step(
    "capacity",
    run,
    title="Capacity",
    description="feature capacity of the features a direction finder discovers (how polysemantic the population is)",
    settings=SETTINGS,
    reduced="sparse coding on a subset of each set (at most 32 units, split across layers or areas, and "
    "500 stimuli; a dictionary twice the subset's size, 3 iterations; the settings as run are listed "
    "with the results)",
)
