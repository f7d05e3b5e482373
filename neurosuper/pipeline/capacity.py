"""The ``capacity`` step: the capacity of the features a direction finder discovers in each analysed set, per layer
or area (Scherlis et al. 2022), with documented reduced settings (:data:`SETTINGS`). The pentagon toy model is
the ``toy`` step (:mod:`neurosuper.pipeline.toy`).

Minimum data (:data:`neurosuper.capacity.MIN_UNITS_PER_GROUP`, :data:`~neurosuper.capacity.MIN_STIMULI_PER_UNIT`):
each group gets at least 8 units when it has them (more than ``max_units`` in all when there are many groups) and
at most a quarter as many units as there are stimuli; a group left with fewer than 8 is not analysed and recorded
as ``not_enough_data`` (under ``groups``), a set with no such group likewise (then ``skipped`` too), and the
headline says "not enough data" instead of a Σ C.
"""

from __future__ import annotations

from typing import Any

from .core import Context, Limit, Step

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


def _subset(ds: Any, max_units: int, max_stimuli: int) -> tuple[Any, dict[str, Any]]:
    """(the subset to analyse, ``{group: NotEnoughData}`` of the groups left out); raises NotEnoughData when no
    group has enough data."""
    from ..capacity import MIN_STIMULI_PER_UNIT, MIN_UNITS_PER_GROUP, too_little_data
    from ..errors import NotEnoughData
    from ..prep import group_coord, unit_groups

    ds = ds.isel(stimulus=slice(0, max_stimuli))
    n_stimuli = ds.sizes["stimulus"]
    coord = group_coord(ds, "auto")
    groups = unit_groups(ds, "auto")
    # at least the minimum per group, and no more units than the stimuli support
    per = min(max(MIN_UNITS_PER_GROUP, max_units // len(groups)), n_stimuli // MIN_STIMULI_PER_UNIT)
    keep: list[int] = []
    short: dict[str, Any] = {}
    taken: list[int] = []
    for label, idx in groups:
        take = min(len(idx), max(per, MIN_UNITS_PER_GROUP))  # too few stimuli for 8 units: that is the reason
        err = too_little_data(take, n_stimuli, where=f"{coord} {label!r}: " if label is not None else "")
        if err is not None:
            short[str(label)] = err
            continue
        keep.extend(int(i) for i in idx[:take])
        taken.append(take)
    if not keep:
        if len(short) == 1:
            raise next(iter(short.values()))
        # every group is short: said once for the set, with the numbers of its largest group
        label, _ = max(groups, key=lambda g: len(g[1]))
        err = short[str(label)]
        raise NotEnoughData(
            f"feature_capacity: every {coord} is below the minimum ({', '.join(short)}); the largest, "
            + str(err).removeprefix("feature_capacity: "),
            analysis=err.analysis,
            what=f"{err.what} (the largest {coord})",
            found=err.found,
            needed=err.needed,
            need=err.need,
        )
    sub = ds.isel(unit=sorted(keep))
    sub.attrs["demo_units_per_group"] = min(taken)
    return sub, short


def run(ctx: Context) -> None:
    """The capacity of the features the finder discovers in each analysed set (a subset of its units and stimuli,
    :data:`SETTINGS`), per layer or area."""
    from .. import capacity
    from ..errors import NeurosuperError, NotEnoughData, recorded_warnings
    from ..plot.capacity import plot_capacity
    from ..prep import group_coord, unit_groups

    cfg = ctx.settings_of()
    out: dict[str, Any] = {"settings": dict(cfg)}
    results = {}
    for name, ds in ctx.sets.items():  # the demo's brain and network, or the set(s) a report was given
        with recorded_warnings() as notes:
            try:
                sub, short = _subset(ds, int(cfg["max_units"]), int(cfg["max_stimuli"]))
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
                totals = {str(g): len(idx) for g, idx in unit_groups(ds, "auto")}
                if short:  # groups left out: not enough data, said per group (in the set's order)
                    found = entry.get("groups")
                    analysed: dict[str, Any] = found if isinstance(found, dict) else {}
                    entry["groups"] = {
                        g: analysed[g] if g in analysed else {"not_enough_data": short[g].as_entry()}
                        for g in totals
                        if g in analysed or g in short
                    }
                    entry.setdefault("groupby", group_coord(ds, "auto"))
                if isinstance(entry.get("groups"), dict):  # each group's subset against the units it has
                    for g, v in entry["groups"].items():
                        v["n_units_total"] = totals.get(str(g))
                entry["result"] = ctx.save(result, f"capacity_{name}.nc").name
                entry["figure"] = ctx.figure(
                    f"capacity_{name}.png",
                    plot_capacity(result, title=f"{ctx.noun(name)}: {cfg['method']} features"),
                    f"Capacity C_i of each feature {cfg['method']} discovers in {ctx.noun(name)} against the size of "
                    "its atom: C_i = 1 a feature with a dimension of its own (monosemantic), 0 < C_i < 1 a feature "
                    "sharing dimensions with others (polysemantic), C_i ≈ 0 ignored (Scherlis et al. 2022, eq. 3).",
                )
                results[name] = result
            except NotEnoughData as err:
                entry = {"skipped": str(err), "not_enough_data": err.as_entry()}
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
    limits={
        "max_units": Limit(low=1),
        "max_stimuli": Limit(low=2),
        "overcomplete": Limit(low=1),
        "seed": Limit(low=0),
    },
    reduced="sparse coding on a subset of each set (at most 32 units, split across layers or areas, and "
    "500 stimuli; a dictionary twice the subset's size, 3 iterations; the settings as run are listed "
    "with the results)",
)
