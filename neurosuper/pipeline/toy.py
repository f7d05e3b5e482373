"""The ``toy`` step (demo only): Elhage et al. 2022's pentagon — 5 features in 2 hidden dimensions, density 0.05 —
trained with the short run of :data:`SETTINGS` (about a second), saved as ``toy_pentagon.nc`` with its figure
``toy_pentagon.png``. The models and their training are :func:`neurosuper.toy.train`.
"""

from __future__ import annotations

from typing import Any

from .core import Context, Limit, Step

#: The step's reduced settings (``ctx.settings["toy"]`` overrides them): these reproduce the pentagon
#: (every C_i ≈ 0.40) in about a second; the papers train 10,000 steps with batch 1,024 and lr 1e-3.
SETTINGS: dict[str, Any] = {
    "n_features": 5,
    "n_hidden": 2,
    "density": 0.05,
    "n_seeds": 4,
    "steps": 1500,
    "batch_size": 256,
    "lr": 1e-2,
    "seed": 0,
}


#: Settings the step reads besides :data:`SETTINGS`: any other argument of :func:`neurosuper.toy.train`.
SETTINGS_ALLOWED = ("model", "importance", "kurtosis", "weight_decay", "backend")


def run(ctx: Context) -> None:
    """Elhage et al. 2022's pentagon (5 features in 2 dims) with the short run of :data:`SETTINGS`."""
    from .. import toy
    from ..errors import recorded_warnings
    from ..plot.toy import model_title

    cfg = ctx.settings_of()
    with recorded_warnings() as notes:
        result = toy.train(**cfg, progress=False)
    entry: dict[str, Any] = toy.summary(result)
    if entry.get("steps") is None:  # the report's headline names the number of training steps
        entry["steps"] = int(cfg["steps"])
    n, m = entry["n_features"], entry["n_hidden"]
    density = float(result["density"])
    entry["settings"] = cfg
    entry["result"] = ctx.save(result, "toy_pentagon.nc").name
    title = model_title(result)
    if m == 2:
        from ..plot.toy import plot_geometry

        fig = plot_geometry(result, title=title)
        caption = (
            f"Each feature's embedding W_i in the 2-D hidden space, coloured by importance and labelled with "
            f"its capacity C_i: here {n} features at density {density:g}; five features at the corners of a "
            "regular pentagon each get C = 0.4 (Elhage et al. 2022)."
        )
    else:
        from ..plot.capacity import plot_capacity

        fig = plot_capacity(result, title=title)
        caption = (
            f"The capacity C_i of each of the {n} features of a toy model with {m} hidden dims against its "
            "importance, coloured monosemantic / polysemantic / ignored (Scherlis et al. 2022)."
        )
    entry["figure"] = ctx.figure("toy_pentagon.png", fig, caption)
    entry["warnings"] = notes  # recorded, never silenced
    for note in entry["warnings"]:
        ctx.log(f"  warning: {note}")
    ctx.summary["toy"] = entry
    ctx.results["toy"] = {"pentagon": result}
    ctx.log(f"  toy: capacities {entry['capacity']} (ΣC = {entry['capacity_sum']})")


STEP = Step(
    "toy",
    run,
    reads=(),
    min_sets=0,
    title="Toy model",
    description="a toy model of superposition (Elhage et al. 2022): 5 features in 2 dimensions form a pentagon",
    settings=SETTINGS,
    limits={
        "n_features": Limit(low=1),
        "n_hidden": Limit(low=1),
        "density": Limit(low=0, high=1, low_open=True),
        "n_seeds": Limit(low=1),
        "steps": Limit(low=1),
        "batch_size": Limit(low=1),
        "lr": Limit(low=0, low_open=True),
        "seed": Limit(low=0),
    },
    allowed=SETTINGS_ALLOWED,
    reduced="a short training run: 1,500 steps of 4 seeds at learning rate 0.01 (the paper: 10,000 steps at "
    "0.001); the settings as run are listed with the results",
    demo_only=True,
)
