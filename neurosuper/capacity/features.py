"""``feature_capacity``: the capacity of the features a direction finder discovers in a ResponseSet.

A dictionary finder (sparse coding, an SAE, k-means, ICA, …) writes the trial-averaged responses as
``X ≈ Σ_i a_i(s) d_i`` with atoms ``d_i`` (unit-norm rows of ``components_``, n_directions × n_units) and codes
``a_i(s)`` (``transform``). (A finder whose dictionary is not its ``components_`` gives it as ``atoms_``: ICA's
mixing columns, which carry the scale of its unit-variance sources.) The atoms are the discovered features'
embedding vectors in unit space; each is scaled by the RMS of its code over the stimuli,
``W_i = d_i · sqrt(mean_s a_i(s)²)``, so that W_i has the size of the
feature's contribution to the responses (unit-norm atoms alone would make no feature ever "ignored"). Then the
capacity C_i of the rows of W (Scherlis et al. 2022, eq. 3) says how many of the population's dimensions each
discovered feature gets: Σ C against the number of units, and the counts of monosemantic, polysemantic and ignored
features — per ``layer``/``area`` with ``groupby``: "how polysemantic is this area / this layer" in one call.

Minimum data (:data:`MIN_UNITS_PER_GROUP`, :data:`MIN_STIMULI_PER_UNIT`; the reasons are at the constants): a group
of fewer than 8 units, or fewer than 4 stimuli per unit of the group, gives a Σ C that says more about the amount
of data than about the code. :func:`feature_capacity` still computes it (a dictionary of 3 units is a fine test of
the arithmetic) but marks the group (``enough_data``; :func:`~neurosuper.capacity.summary` says "not enough
data"); the report's capacity step leaves such groups out (:func:`too_little_data`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from .._validation import check_fit_values, check_float, check_int, responses_of
from ..errors import AnalysisError, NeurosuperWarning, NotEnoughData, fail
from ..prep import by_stimulus_id, group_coord, trial_average, unit_groups
from .measures import DEFAULT_TOL, REFERENCE, superposition_of

__all__ = ["feature_capacity", "MEAN_SHARE_WARN", "MIN_UNITS_PER_GROUP", "MIN_STIMULI_PER_UNIT", "too_little_data"]

#: Warn (uncentred input) when the mean response holds more than this share of Σ x² over stimuli and units.
MEAN_SHARE_WARN = 0.5
#: Fewest units in a group (its dimensions D) for a capacity worth reporting. Why 8: Σ C / D of a dictionary of 2·D
#: random unit atoms (no structure at all) spans 0.57–1.00 at D = 2 (95 % of 500 draws), 0.61–0.93 at D = 4,
#: 0.63–0.81 at D = 8 and 0.65–0.74 at D = 16 (``benchmarks/bench_minimum_data.py``): below 8 units, chance alone
#: covers most values a finder can give (2 units per layer gave "Σ C = 1.90 of 2 dimensions" eleven times over).
MIN_UNITS_PER_GROUP = 8
#: Fewest stimuli per unit of a group. Why 4: the finder sees the trial-averaged responses (stimuli × D); on isotropic
#: noise (every dimension equally used), the report's sparse coding gives Σ C / D = 0.48–0.50 with as many stimuli as
#: units, 0.63–0.67 with 2 per unit, 0.79–0.84 with 4, 0.89–0.91 with 8 and 0.94–0.95 with 16 (D = 8, 16; 5 sets
#: each, ``benchmarks/bench_minimum_data.py``): with fewer than 4 per unit, Σ C
#: mostly counts the stimuli (with fewer stimuli than units the responses do not even span the D dimensions).
MIN_STIMULI_PER_UNIT = 4


def too_little_data(n_units: int, n_stimuli: int, *, where: str = "") -> NotEnoughData | None:
    """Why a group of ``n_units`` units seen on ``n_stimuli`` stimuli is below capacity's minimum
    (:data:`MIN_UNITS_PER_GROUP` units, :data:`MIN_STIMULI_PER_UNIT` stimuli per unit), as the error to raise or
    record (``where``: e.g. "layer 'conv1': "); None when there is enough."""
    need = (
        f"at least {MIN_UNITS_PER_GROUP} units per group and {MIN_STIMULI_PER_UNIT} stimuli per unit "
        f"({MIN_STIMULI_PER_UNIT * MIN_UNITS_PER_GROUP} stimuli for {MIN_UNITS_PER_GROUP} units)"
    )
    if n_units < MIN_UNITS_PER_GROUP:
        return NotEnoughData(
            f"feature_capacity: {where}{n_units} units; expected at least {MIN_UNITS_PER_GROUP} (below that a random "
            f"dictionary's Σ C covers most values a finder gives). Fix: analyse groups of at least "
            f"{MIN_UNITS_PER_GROUP} units (fewer, larger groups: groupby=None), or record more units.",
            analysis="feature capacity",
            what="units" + (" in a group" if where else ""),
            found=int(n_units),
            needed=MIN_UNITS_PER_GROUP,
            need=need,
        )
    needed = MIN_STIMULI_PER_UNIT * n_units
    if n_stimuli < needed:
        fewer = n_stimuli // MIN_STIMULI_PER_UNIT
        fix = (
            f"use at most {fewer} units per group, or record more stimuli"
            if fewer >= MIN_UNITS_PER_GROUP
            else f"record at least {MIN_STIMULI_PER_UNIT * MIN_UNITS_PER_GROUP} stimuli"
        )
        return NotEnoughData(
            f"feature_capacity: {where}{n_stimuli} stimuli for {n_units} units; expected at least {needed} "
            f"({MIN_STIMULI_PER_UNIT} per unit: with fewer, Σ C mostly counts the stimuli). Fix: {fix}.",
            analysis="feature capacity",
            what=f"stimuli (for {n_units} units)",
            found=int(n_stimuli),
            needed=needed,
            need=need,
        )
    return None


def _finder() -> Callable[..., Any]:
    try:
        from ..directions import fit_directions
    except ImportError as err:  # the directions package is part of neurosuper; this guards a broken install
        raise fail(
            "feature_capacity",
            f"no direction finders ({err})",
            "neurosuper.directions.fit_directions",
            "reinstall neurosuper (pip install -e .)",
            AnalysisError,
        ) from None
    return fit_directions


def _bar(items: list, progress: bool) -> Any:  # a tqdm bar over items
    from .._progress import progress_bar

    return progress_bar(items, progress=progress and len(items) > 1, desc="feature capacity", leave=False)


def feature_capacity(
    ds: xr.Dataset,
    method: str = "sparse_coding",
    n_directions: int | None = None,
    *,
    groupby: str | None = "auto",
    tol: float = DEFAULT_TOL,
    center: bool = False,
    seed: int = 0,
    time: Any = None,
    progress: bool = True,
    **options: Any,
) -> xr.Dataset:
    """Capacity of the dictionary a direction finder discovers, per ``layer``/``area``.

    Parameters
    ----------
    ds
        A ResponseSet. Responses are trial-averaged (:func:`neurosuper.prep.trial_average`; ``time`` averaged, or
        the window ``time=`` selects) into X (stimulus, unit); stimuli with no valid repeat are left out (warned).
        X is loaded into memory (a dask-backed set is averaged chunk by chunk, then computed once).
    method, n_directions, **options
        The direction finder (``neurosuper.directions.fit_directions(ds, method, n_directions, seed=seed,
        **options)``); ``n_directions=None`` is the finder's default. Sparse coding / an SAE with more directions
        than units (overcomplete) is what can show superposition; PCA gives orthogonal atoms (every C_i = 1).
    groupby
        ``"auto"`` (``layer``, else ``area``, else none), ``None``, or any 1-D coord on ``unit``: one dictionary
        per group, capacities within the group's units.
    tol
        Monosemantic when C ≥ 1 − tol, ignored when C ≤ tol (as :func:`~neurosuper.capacity.superposition`).
    center
        Subtract each unit's mean over stimuli before fitting (default ``False``: the finder sees the responses as
        they are, which suits sparse non-negative codes — centring makes every code dense). On responses far from
        zero mean (spike counts, rates) every atom leans toward the mean response, all features overlap it and
        Σ C collapses toward 1 (macaque M1, 60 units: Σ C = 1.2 raw vs 12 centred); a
        :class:`~neurosuper.NeurosuperWarning` says so when the mean response holds more than half of the
        responses' energy — pass ``center=True`` there (not with ``method="nmf"``, which needs non-negative data).
    seed
        The finder's random state. The stimuli are put in the order of their ids first
        (:func:`neurosuper.prep.by_stimulus_id`): the same numbers whatever their storage order.

    Returns
    -------
    xarray.Dataset
        Along ``direction`` (all groups' directions, in group order): ``capacity`` (dimensions), ``kind``,
        ``norm`` (‖W_i‖ = the RMS size of the atom's contribution, in response units), ``code_rms``, and the group
        label as a coord (``layer``/``area``); ``W`` (direction, unit) — each atom scaled, zero outside its group.
        Per group (a ``group`` dim when grouped, else scalars): ``capacity_sum``, ``n_dims`` (units in the group),
        ``capacity_fraction`` (Σ C / units), ``mean_capacity`` (Σ C / directions), ``n_directions``,
        ``n_features``, ``n_monosemantic``, ``n_polysemantic``, ``n_ignored`` (no D*: the atoms carry response
        units, so m / ‖W‖²_F would depend on them), ``enough_data`` (False below the minimum data:
        :func:`too_little_data`). attrs: ``method``, ``groupby``, ``tol``, ``min_units_per_group``,
        ``min_stimuli_per_unit``, ``n_stimuli`` (those with a valid repeat). Reference: Scherlis et al. 2022
        (capacity) on the finders of Klindt et al. 2023.
    """
    caller = "feature_capacity"
    if not isinstance(ds, xr.Dataset):
        raise fail(
            caller,
            f"a {type(ds).__name__}",
            "a ResponseSet (xarray.Dataset)",
            "pass the set itself, e.g. ns.load('set.nc')",
            AnalysisError,
        )
    resp = responses_of(ds, caller=caller)
    tol = check_float("tol", tol, low=0.0, high=0.5, low_open=True, high_open=True, caller=caller)
    seed = check_int("seed", seed, low=0, caller=caller)
    if n_directions is not None:
        n_directions = check_int("n_directions", n_directions, low=1, caller=caller)
    fit_directions = _finder()
    coord = group_coord(resp, groupby)
    groups = unit_groups(resp, coord)
    # stimuli in the order of their ids: the finder's seeded fit sees the same rows whatever the storage order
    x_all = by_stimulus_id(trial_average(ds, time=time, caller=caller))
    empty = np.isnan(np.asarray(x_all.values)).all(axis=1)
    if empty.all():
        raise fail(
            caller,
            "no stimulus with a valid repeat",
            "trial-averaged responses",
            "check the set's repeats (NaN marks a missing one)",
            AnalysisError,
        )
    if empty.any():
        warnings.warn(
            f"{caller}: left out {int(empty.sum())} of {len(empty)} stimuli with no valid repeat.",
            NeurosuperWarning,
            stacklevel=2,
        )
        x_all = x_all.isel(stimulus=np.flatnonzero(~empty))
    check_fit_values(x_all.data, caller=caller, name="responses")  # constant (all-zero) or overflowing data
    if center:
        x_all = x_all - x_all.mean("stimulus")
    else:
        vals = np.asarray(x_all.values, dtype=np.float64)
        share = float(vals.shape[0] * (vals.mean(0) ** 2).sum() / max((vals**2).sum(), 1e-300))
        if share > MEAN_SHARE_WARN:
            warnings.warn(
                f"{caller}: the mean response holds {100 * share:.0f} % of the responses' energy: every "
                "discovered atom leans toward it, so the features overlap and their capacities collapse "
                "(Σ C near 1). Pass center=True to measure how features share the dimensions of "
                "variation.",
                NeurosuperWarning,
                stacklevel=2,
            )
    n_units = resp.sizes["unit"]
    rows_w, per_dir, per_group = [], [], []
    for label, idx in _bar(groups, progress):
        sub = x_all.isel(unit=idx)  # (stimulus, unit): the finder fits exactly the X whose codes are measured
        x = np.asarray(sub.values)  # the dtype the finder was fitted in (float32 stays float32)
        est = fit_directions(sub, method, n_directions, seed=seed, **options)
        # the dictionary: unit-norm atoms (components_), or a finder's own atoms_ (ICA: the mixing columns, whose
        # norms carry the scale of its unit-variance sources)
        comps = np.asarray(getattr(est, "atoms_", est.components_), dtype=np.float64)
        codes = np.asarray(est.transform(x), dtype=np.float64)
        rms = np.sqrt(np.mean(codes * codes, axis=0))
        w = comps * rms[:, None]
        s = superposition_of(w, tol)
        if s["capacity_sum"] > len(idx) + 1e-9:  # pragma: no cover - Σ C ≤ dim is a theorem
            warnings.warn(f"{caller}: Σ C exceeds the dimension in group {label!r}", NeurosuperWarning, stacklevel=2)
        full = np.zeros((len(w), n_units))
        full[:, idx] = w
        rows_w.append(full)
        per_dir.append(
            {
                "capacity": s["capacity"],
                "kind": s["kind"],
                "norm": s["norm"],
                "code_rms": rms,
                "label": np.full(len(w), label, dtype=object),
            }
        )
        per_group.append(
            {
                "label": label,
                "capacity_sum": s["capacity_sum"],
                "n_dims": len(idx),
                "capacity_fraction": s["capacity_fraction"],
                "mean_capacity": s["capacity_sum"] / max(len(w), 1),
                "n_directions": len(w),
                "n_features": s["n_features"],
                "n_monosemantic": s["n_monosemantic"],
                "n_polysemantic": s["n_polysemantic"],
                "n_ignored": s["n_ignored"],
                "enough_data": too_little_data(len(idx), x.shape[0]) is None,
            }
        )
    cat = {k: np.concatenate([d[k] for d in per_dir]) for k in per_dir[0]}
    n_dir = len(cat["capacity"])
    data: dict[str, Any] = {
        "capacity": ("direction", cat["capacity"]),
        "kind": ("direction", cat["kind"].astype(str)),
        "norm": ("direction", cat["norm"]),
        "code_rms": ("direction", cat["code_rms"]),
        "W": (("direction", "unit"), np.concatenate(rows_w)),
    }
    keys = [k for k in per_group[0] if k != "label"]
    if coord is None:
        data.update({k: ((), per_group[0][k]) for k in keys})
    else:
        data.update({k: ("group", np.array([g[k] for g in per_group])) for k in keys})
    coords: dict[str, Any] = {"direction": np.arange(n_dir), "unit": resp["unit"].values}
    if coord is not None:
        labels = [g["label"] for g in per_group]
        coords["group"] = np.asarray(labels)
        coords[coord] = ("direction", np.asarray(list(cat["label"])))
    out = xr.Dataset(data, coords=coords)
    out["capacity"].attrs.update(long_name="feature capacity C_i", units="dimensions")
    out["norm"].attrs.update(long_name="RMS size of the atom's contribution ‖W_i‖")
    out.attrs.update(
        method=str(method),
        groupby=coord or "none",
        tol=tol,
        centered=bool(center),
        n_stimuli=int(x_all.sizes["stimulus"]),
        min_units_per_group=MIN_UNITS_PER_GROUP,
        min_stimuli_per_unit=MIN_STIMULI_PER_UNIT,
        feature_dim="direction",
        embed_dim="unit",
        system=ds.attrs.get("system", ""),
    )
    return stamp(
        out,
        analysis="capacity.feature_capacity",
        reference=REFERENCE + "; directions: Klindt et al. 2023, arXiv 2310.11431",
        options={
            "method": method,
            "n_directions": n_directions,
            "groupby": coord,
            "tol": tol,
            "center": bool(center),
            "seed": seed,
            "time": time,
            **options,
        },
        inputs_from=ds,
    )
