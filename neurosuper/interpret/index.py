"""The interpretability index (II) of units and directions (Klindt et al. 2023, arXiv 2310.11431, §3).

For each unit, take its k maximally exciting stimuli (MEIs); II = − the mean *off-diagonal* pairwise distance
among them in a similarity space (:mod:`.similarity`). Higher = the top stimuli look alike = more interpretable.
Klindt et al.'s code averaged the full k × k matrix including its zero diagonal, which equals
``II · (k − 1) / k``; we use the off-diagonal mean, so II does not depend on k through the diagonal.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from .._validation import check_float, check_int
from ..errors import AnalysisError, NeurosuperWarning
from ..format import validate
from ..prep import by_stimulus_id, group_coord, trial_average, unit_coords
from ._topk import topk_units
from .duplicates import duplicate_pairs, resolve_duplicates
from .null import N_NULL, NULLS, ii_from_mei, random_directions_null, random_stimuli_null, z_and_percentile
from .significance import FDR, bh_qvalues, permutation_pvalues, relabelling_test
from .similarity import resolve_similarity

__all__ = ["interpretability_index", "group_stats", "REFERENCE"]

REFERENCE = (
    "Klindt, Sanborn, Acosta, Poitevin & Miolane 2023, Identifying interpretable visual features in "
    "artificial and biological neural systems, arXiv:2310.11431"
)
WHICH = ("top", "bottom", "both")


def _stimulus_ids(ds: xr.Dataset, idx: np.ndarray) -> np.ndarray:
    ids = ds["stimulus"].values
    out = ids[np.maximum(idx, 0)]
    if (idx < 0).any():
        fill = -1 if ids.dtype.kind in "iu" else ""
        out = out.astype(object) if ids.dtype.kind not in "iuU" else out
        out[idx < 0] = fill
    return out


def _features_by_id(ds: xr.Dataset, similarity: Any) -> Any:
    """``similarity`` with ``Features(features=array)`` given in the set's storage order tied to the set's stimulus
    ids (a DataArray), so that it stays aligned when the stimuli are put in the order of their ids."""
    from .similarity import Features

    f = getattr(similarity, "features", None)
    if not isinstance(similarity, Features) or f is None or isinstance(f, xr.DataArray):
        return similarity
    arr = np.asarray(f)
    n = ds.sizes["stimulus"]
    if arr.ndim not in (1, 2) or arr.shape[0] != n:
        return similarity  # the backend says what is wrong
    arr = arr[:, None] if arr.ndim == 1 else arr
    tied = xr.DataArray(arr, dims=("stimulus", "feature"), coords={"stimulus": ds["stimulus"].values})
    return Features(metric=similarity.metric, features=tied)


def _check_args(ds: xr.Dataset, k: int, which: str, null: str | None) -> None:
    n = ds.sizes["stimulus"]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise AnalysisError(
            f"k: found {k!r}; expected an integer >= 2 (II needs at least one pair of MEIs). "
            "Fix: pass k=5 (the paper's value)."
        )
    if k > n:
        raise AnalysisError(
            f"k: found k={k} but the set has {n} stimuli; expected k <= the number of stimuli. Fix: pass "
            + (f"k=5 (the paper's value) or any k from 2 to {n}." if n >= 5 else f"k={n} or less (at least 2).")
        )
    if which not in WHICH:
        raise AnalysisError(f"which: found {which!r}; expected one of {WHICH}. Fix: which='top'.")
    if null is not None and null not in NULLS:
        raise AnalysisError(f"null: found {null!r}; expected None or one of {NULLS}. Fix: null='random_stimuli'.")


def _unit_range(R: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit minimum and maximum over the valid (non-NaN) stimuli of (stimulus, unit) ``R``."""
    if hasattr(R, "dask"):
        import dask.array as da

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = da.compute(da.nanmin(R, axis=0), da.nanmax(R, axis=0))
        return np.asarray(lo), np.asarray(hi)
    R = np.asarray(R)
    return np.fmin.reduce(R, axis=0), np.fmax.reduce(R, axis=0)


def interpretability_index(
    ds: xr.Dataset,
    *,
    similarity: Any = "auto",
    k: int = 5,
    which: str = "top",
    null: str | None = "random_stimuli",
    seed: int = 0,
    n_null: int | None = None,
    n_permutations: int | None = None,
    fdr: float = FDR,
    duplicates: str | None = "auto",
    duplicate_overlap: float = 0.5,
    duplicate_tolerance: float = 0.05,
    progress: bool = True,
) -> xr.Dataset:
    """Interpretability index of every unit (or direction) of a ResponseSet.

    Responses are averaged over ``repeat`` and ``time`` first (NaN repeats ignored); a unit's NaN responses
    (stimuli with no valid repeat) are skipped for that unit only; a unit with fewer than k valid stimuli
    gets NaN (warned, counted). A *dead* unit — the same response to every stimulus (e.g. a ReLU that never
    fires, an all-zero channel) — has no most exciting stimuli: its II, ``ii_z`` and ``ii_percentile`` are NaN and
    its ``mei`` missing (warned, counted), never an II chosen by tie-breaking.

    Parameters
    ----------
    ds
        ResponseSet; its ``stimuli`` (images or features) or a ``label``/``category`` coord feed the similarity.
    similarity
        ``"auto"``, a name in :data:`~neurosuper.interpret.similarity.SIMILARITIES` (``"features"``,
        ``"pixels"``, ``"color"``, ``"label"``, ``"gabor"``, ``"lpips"``), a backend instance (e.g.
        ``Features(metric="cosine", features=...)``) or a callable ``(stimuli_a, stimuli_b) -> distances``
        on paired stimuli.
    k
        Number of MEIs (the paper: 5).
    which
        ``"top"`` (maximally exciting), ``"bottom"`` (minimally exciting) or ``"both"`` (a ``which`` dim).
    null
        ``"random_stimuli"`` (default, as ``neurosuper interpret``), ``"random_directions"`` (see :mod:`.null`) or
        ``None`` / ``"none"``: with a null the result gains ``ii_z``, ``ii_percentile`` and the null sample
        ``ii_null(null_sample)``.
    seed
        Seeds the null. The stimuli are put in the order of their ids first (:func:`neurosuper.prep.by_stimulus_id`):
        the same numbers whatever their storage order.
    n_null
        Null sample size (default 10,000 random stimulus sets — the per-unit p-values' resolution, 1e-4 — and 200
        random directions).
    n_permutations
        With ``null="random_stimuli"``: the number of random relabellings of the stimuli in the population test
        ``p_population`` (see :mod:`.significance`): is the mean II of all units above its value when every unit's
        top-k set is relabelled by the same random permutation? Default 1000 (fewer, down to 200, above 4,096
        stimuli when they would need more than 10⁷ distance evaluations; the number used is in the attrs); ``0``
        skips the test. Cost: at most ``n_permutations · n_units · k(k − 1)/2`` distance look-ups.
    fdr
        False discovery rate of the per-unit decision ``ii_significant`` (Benjamini–Hochberg on ``ii_p``).
    duplicates
        How to look for near-duplicate MEIs (:mod:`.duplicates`): ``"auto"`` (the stimuli's ``source_image``/
        ``image_y``/``image_x`` coords when present, else pixels for images up to 96 × 96), ``"coords"``,
        ``"pixels"`` or ``None``. Units with near-duplicate MEIs are counted in a :class:`NeurosuperWarning`
        (their II is inflated) and the pairs per unit stored as ``mei_duplicates``.
    duplicate_overlap
        Two crops (or two images after a shift) sharing at least this fraction of their area can be duplicates.
    duplicate_tolerance
        ``"pixels"``: the RMS difference over the overlap, as a fraction of the MEIs' pixel SD, at or below which
        two images are duplicates.
    progress
        Show a tqdm bar over blocks of units.

    Returns
    -------
    xarray.Dataset
        ``ii(unit)``, ``mei(unit, mei)`` (stimulus ids, best first; ties to the lowest stimulus index; missing —
        ``-1`` or ``""`` — for dead units and beyond a unit's valid stimuli), ``mei_response(unit, mei)``; with a
        null ``ii_z(unit)``, ``ii_percentile(unit)``, ``ii_null``, the one-sided permutation p-value ``ii_p(unit)``
        = (1 + #{ii_null ≥ II}) / (1 + n_null), its Benjamini–Hochberg ``ii_q(unit)`` and ``ii_significant(unit)``
        (``ii_q ≤ fdr``); with the random-stimulus null also ``p_population`` (the population test),
        ``ii_population_mean`` and ``ii_population_null(permutation)`` (the mean II of the units in each
        relabelling); with a duplicate check ``mei_duplicates(unit)``.
        With ``which="both"`` the per-unit variables gain a leading ``which`` dim (``top``, ``bottom``).
        The set's unit coords (``layer``, ``area``, …) are kept; attrs record ``similarity`` (the backend
        used, also when chosen by ``"auto"``), ``k``, ``which``, ``null``, ``n_dead_units``, ``duplicates``,
        ``n_units_with_duplicate_meis``, and the provenance (:func:`neurosuper._provenance.stamp`).

    References
    ----------
    Klindt et al. 2023, arXiv:2310.11431 (II = − mean pairwise LPIPS distance among the top-5 stimuli).
    """
    ds = validate(ds)
    similarity = _features_by_id(ds, similarity)
    # stimuli in the order of their ids: the nulls draw stimuli by id (and ties among the MEIs fall alike),
    # whatever the storage order
    ds = by_stimulus_id(ds)
    null = None if null == "none" else null
    _check_args(ds, k, which, null)
    check = resolve_duplicates(ds, duplicates)
    where = "interpretability_index"
    check_float("duplicate_overlap", duplicate_overlap, low=0.0, high=1.0, low_open=True, caller=where)
    check_float("duplicate_tolerance", duplicate_tolerance, low=0.0, caller=where)
    check_float("fdr", fdr, low=0.0, high=1.0, low_open=True, high_open=True, caller=where)
    if n_permutations is not None:
        check_int("n_permutations", n_permutations, low=0, caller=where)
    space, sim_name, auto = resolve_similarity(ds, similarity)
    R = trial_average(ds["responses"]).data
    lo, hi = _unit_range(R)
    dead = lo == hi  # constant over its valid stimuli (all-NaN units compare False: they have < k valid)
    parts = ("top", "bottom") if which == "both" else (which,)
    out: dict[str, list] = {"ii": [], "mei": [], "mei_response": [], "mei_duplicates": []}
    n_bad = n_dead = n_floor = n_dup = 0
    positions: list[np.ndarray] = []  # each part's (unit, k) MEI positions, for the relabelling test
    for part in parts:
        idx, val = topk_units(R, k, largest=part == "top", progress=progress)
        few = (idx < 0).any(axis=1)
        floor = ~few & ~dead & (val[:, -1] == (lo if part == "top" else hi))
        idx[dead & ~few] = -1
        positions.append(idx)
        ii = ii_from_mei(space, idx)
        n_bad = max(n_bad, int(few.sum()))
        n_dead = max(n_dead, int((dead & ~few).sum()))
        n_floor = max(n_floor, int(floor.sum()))
        out["ii"].append(ii)
        out["mei"].append(_stimulus_ids(ds, idx))
        out["mei_response"].append(np.where(idx < 0, np.nan, val))
        if check is not None:
            dup = duplicate_pairs(ds, idx, check, min_overlap=duplicate_overlap, tolerance=duplicate_tolerance)
            n_dup = max(n_dup, int((dup > 0).sum()))
            out["mei_duplicates"].append(dup)
    n_units = ds.sizes["unit"]
    if n_bad:
        warnings.warn(
            f"interpretability_index: {n_bad} of {n_units} units have fewer than k={k} stimuli "
            "with a valid response; their II is NaN.",
            NeurosuperWarning,
            stacklevel=2,
        )
    if n_dead:
        warnings.warn(
            f"interpretability_index: {n_dead} of {n_units} units are dead (the same response to every "
            "stimulus, e.g. a ReLU that never fires): no stimulus excites them more than another, so "
            "their II, ii_z and ii_percentile are NaN and their mei is missing.",
            NeurosuperWarning,
            stacklevel=2,
        )
    if n_floor:
        warnings.warn(
            f"interpretability_index: {n_floor} of {n_units} units respond above their "
            f"{'minimum' if which != 'bottom' else 'maximum'} to fewer than k={k} stimuli: the rest of "
            "their MEIs are ties chosen by stimulus order, so their II says little. Fix: lower k, or "
            "read their II with care.",
            NeurosuperWarning,
            stacklevel=2,
        )
    if n_dup:
        how = (
            f"crops of one source_image sharing >= {duplicate_overlap:.0%} of their area (stimulus coords "
            "source_image, image_y, image_x)"
            if check == "coords"
            else f"pixels equal within {duplicate_tolerance:.0%} of the pixel SD over a shift keeping >= "
            f"{duplicate_overlap:.0%} overlap"
        )
        warnings.warn(
            f"interpretability_index: {n_dup} of {n_units} units have near-duplicate MEIs ({how}): two "
            f"of their k={k} most exciting stimuli are nearly the same picture, which inflates their II. "
            "Fix: use stimuli that do not overlap or repeat (result['mei_duplicates'] counts the pairs "
            "per unit), or pass duplicates=None to skip this check.",
            NeurosuperWarning,
            stacklevel=2,
        )
    if check is None:
        del out["mei_duplicates"]
    dims: tuple[str, ...] = ("unit",)
    data = {key: (np.stack(v) if which == "both" else v[0]) for key, v in out.items()}
    if which == "both":
        dims = ("which", "unit")
    variables = {
        "ii": (dims, data["ii"]),
        "mei": (dims + ("mei",), data["mei"]),
        "mei_response": (dims + ("mei",), data["mei_response"]),
    }
    if check is not None:
        variables["mei_duplicates"] = (dims, data["mei_duplicates"].astype(np.int64))
    result = xr.Dataset(variables, coords={**unit_coords(ds), **({"which": list(parts)} if which == "both" else {})})
    attrs: dict[str, Any] = {
        "similarity": sim_name,
        "similarity_auto": bool(auto),
        "k": int(k),
        "which": which,
        "null": null or "none",
        "seed": int(seed),
        "n_dead_units": n_dead,
        "duplicates": check or "none",
        "n_units_with_duplicate_meis": n_dup,
        "ii_definition": "-mean off-diagonal pairwise distance among the k MEIs (paper code: full matrix, "
        "= ii*(k-1)/k)",
    }
    if check is not None:
        attrs["duplicate_overlap"] = float(duplicate_overlap)
    attrs.update({key: ds.attrs[key] for key in ("system", "measure", "source") if key in ds.attrs})
    if null is not None:
        rng = np.random.default_rng(seed)
        n_null = int(n_null or N_NULL[null])
        if null == "random_stimuli":
            sample = random_stimuli_null(space, ds.sizes["stimulus"], k, n_null=n_null, rng=rng)
        else:
            sample = random_directions_null(R, space, k, n_null=n_null, rng=rng, progress=progress)
        z, pct = z_and_percentile(data["ii"], sample)
        result["ii_z"] = (dims, np.where(np.isnan(data["ii"]), np.nan, z))
        result["ii_percentile"] = (dims, pct)
        result["ii_null"] = ("null_sample", sample)
        attrs["n_null"] = n_null
        p = np.stack([permutation_pvalues(v, sample) for v in (data["ii"] if which == "both" else [data["ii"]])])
        q = np.stack([bh_qvalues(v) for v in p])
        result["ii_p"] = (dims, p if which == "both" else p[0])
        result["ii_q"] = (dims, q if which == "both" else q[0])
        result["ii_significant"] = (dims, (q <= fdr) if which == "both" else (q[0] <= fdr))
        n_perm = 0
        if null == "random_stimuli" and n_permutations != 0:
            tests: list[dict[str, Any]] = []
            for pos in positions:  # with which="both" the bottom part gets as many relabellings as the top one
                B = n_permutations if not tests else tests[0]["n_permutations"]
                tests.append(relabelling_test(space, pos, ds.sizes["stimulus"], n_permutations=B, rng=rng))
            n_perm = tests[0]["n_permutations"]
            pop = {
                "p_population": np.array([t["p_population"] for t in tests]),
                "ii_population_mean": np.array([t["mean"] for t in tests]),
                "ii_population_null": np.stack([t["null_mean"] for t in tests]),
            }
            for key, v in pop.items():
                extra = ("permutation",) if v.ndim == 2 else ()
                result[key] = (dims[:-1] + extra, v if which == "both" else v[0])
            attrs["population_test"] = (
                "mean II of all scored units against its value when the stimuli are relabelled by a random "
                "permutation, the same one for every unit (one-sided; p = (1 + #{null >= observed}) / (1 + B))"
            )
        else:
            attrs["population_test"] = "none"
        attrs["n_permutations"] = int(n_perm)
        attrs["fdr"] = float(fdr)
    result.attrs = attrs
    options = {
        "similarity": sim_name,
        "k": k,
        "which": which,
        "null": null,
        "seed": seed,
        "n_null": n_null,
        "n_permutations": n_permutations,
        "fdr": fdr,
        "duplicates": duplicates,
        "duplicate_overlap": duplicate_overlap,
        "duplicate_tolerance": duplicate_tolerance,
    }
    return stamp(result, analysis="interpretability_index", reference=REFERENCE, options=options, inputs_from=ds)


def group_stats(result: xr.Dataset, *, groupby: str | None = "auto", var: str = "ii") -> xr.Dataset:
    """Mean, median, standard deviation and count of ``result[var]`` per ``layer``/``area`` (``groupby``).

    ``groupby``: ``"auto"`` (``layer``, else ``area``, else no grouping), ``"layer"``, ``"area"``, any 1-D unit
    coord, or ``None``. Returns a Dataset with dim ``group`` (the coord's
    values in order of appearance; ``"all"`` when there is no grouping coord) and variables ``mean``, ``median``,
    ``std``, ``n`` (NaN units skipped).
    """
    if var not in result:
        raise AnalysisError(
            f"group_stats: found no variable {var!r}; expected one of {list(result.data_vars)}. "
            "Fix: compute it first (e.g. null='random_stimuli' for ii_z)."
        )
    coord = group_coord(result, groupby)
    values = result[var]
    labels = np.asarray(result[coord].values).astype(str) if coord else np.full(result.sizes["unit"], "all")
    groups = list(dict.fromkeys(labels.tolist()))
    stats: dict[str, list] = {"mean": [], "median": [], "std": [], "n": []}
    for g in groups:
        v = values.isel(unit=np.flatnonzero(labels == g))
        n = v.notnull().sum("unit")
        stats["n"].append(n.values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            stats["mean"].append(v.mean("unit").values)
            stats["median"].append(v.median("unit").values)
            stats["std"].append(v.std("unit", ddof=1).values if int(n.min()) > 1 else np.full(n.shape, np.nan))
    other = tuple(d for d in values.dims if d != "unit")
    coords = {"group": groups, **{d: result[d].values for d in other if d in result.coords}}
    out = xr.Dataset({key: (("group",) + other, np.stack(v)) for key, v in stats.items()}, coords=coords)
    out.attrs = {
        "grouped_by": coord or "none",
        "variable": var,
        **{k: v for k, v in result.attrs.items() if k in ("similarity", "k", "which", "null")},
    }
    return stamp(
        out, analysis="group_stats", reference=REFERENCE, options={"groupby": groupby, "var": var}, inputs_from=result
    )
