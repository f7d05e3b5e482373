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

from ..errors import AnalysisError, NeurosuperWarning
from ..format import validate
from ..prep import group_coord, trial_average, unit_coords
from ._topk import topk_units
from .null import N_NULL, NULLS, ii_from_mei, random_directions_null, random_stimuli_null, z_and_percentile
from .similarity import resolve_similarity

__all__ = ["interpretability_index", "group_summary", "group_coord", "unit_coords", "REFERENCE"]

REFERENCE = ("Klindt, Sanborn, Acosta, Poitevin & Miolane 2023, Identifying interpretable visual features in "
             "artificial and biological neural systems, arXiv:2310.11431")
WHICH = ("top", "bottom", "both")


def _stimulus_ids(ds: xr.Dataset, idx: np.ndarray) -> np.ndarray:
    ids = ds["stimulus"].values
    out = ids[np.maximum(idx, 0)]
    if (idx < 0).any():
        fill = -1 if ids.dtype.kind in "iu" else ""
        out = out.astype(object) if ids.dtype.kind not in "iuU" else out
        out[idx < 0] = fill
    return out


def _check_args(ds: xr.Dataset, k: int, which: str, null: str | None) -> None:
    n = ds.sizes["stimulus"]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise AnalysisError(f"k: found {k!r}; expected an integer >= 2 (II needs at least one pair of MEIs). "
                            "Fix: pass k=5 (the paper's value).")
    if k > n:
        raise AnalysisError(f"k: found k={k} but the set has {n} stimuli; expected k <= the number of stimuli. "
                            f"Fix: pass k <= {n}.")
    if which not in WHICH:
        raise AnalysisError(f"which: found {which!r}; expected one of {WHICH}. Fix: which='top'.")
    if null is not None and null not in NULLS:
        raise AnalysisError(f"null: found {null!r}; expected None or one of {NULLS}. Fix: null='random_stimuli'.")


def interpretability_index(
    ds: xr.Dataset,
    *,
    similarity: Any = "auto",
    k: int = 5,
    which: str = "top",
    null: str | None = None,
    seed: int = 0,
    n_null: int | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Interpretability index of every unit (or direction) of a ResponseSet.

    Responses are averaged over ``repeat`` and ``time`` first (NaN repeats ignored); a unit's NaN responses
    (stimuli with no valid repeat) are skipped for that unit only; a unit with fewer than k valid stimuli
    gets NaN (warned, counted).

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
        ``None``, ``"random_stimuli"`` or ``"random_directions"`` (see :mod:`.null`): adds ``ii_z``,
        ``ii_percentile`` and the null sample ``ii_null(null_sample)``.
    seed
        Seeds the null.
    n_null
        Null sample size (default 1000 random stimulus sets, 200 random directions).
    progress
        Show a tqdm bar over blocks of units.

    Returns
    -------
    xarray.Dataset
        ``ii(unit)``, ``mei(unit, mei)`` (stimulus ids, best first; ties to the lowest stimulus index),
        ``mei_response(unit, mei)``; with a null ``ii_z(unit)``, ``ii_percentile(unit)``, ``ii_null``.
        With ``which="both"`` the per-unit variables gain a leading ``which`` dim (``top``, ``bottom``).
        The set's unit coords (``layer``, ``area``, …) are kept; attrs record ``similarity`` (the backend
        used, also when chosen by ``"auto"``), ``k``, ``which``, ``null`` and the reference.

    References
    ----------
    Klindt et al. 2023, arXiv:2310.11431 (II = − mean pairwise LPIPS distance among the top-5 stimuli).
    """
    ds = validate(ds)
    _check_args(ds, k, which, null)
    space, sim_name, auto = resolve_similarity(ds, similarity)
    R = trial_average(ds["responses"]).data
    parts = ("top", "bottom") if which == "both" else (which,)
    out: dict[str, list] = {"ii": [], "mei": [], "mei_response": []}
    n_bad = 0
    for part in parts:
        idx, val = topk_units(R, k, largest=part == "top", progress=progress)
        ii = ii_from_mei(space, idx)
        n_bad = max(n_bad, int(np.isnan(ii).sum()))
        out["ii"].append(ii)
        out["mei"].append(_stimulus_ids(ds, idx))
        out["mei_response"].append(np.where(idx < 0, np.nan, val))
    if n_bad:
        warnings.warn(f"interpretability_index: {n_bad} of {ds.sizes['unit']} units have fewer than k={k} stimuli "
                      "with a valid response; their II is NaN.", NeurosuperWarning, stacklevel=2)
    dims: tuple[str, ...] = ("unit",)
    data = {key: (np.stack(v) if which == "both" else v[0]) for key, v in out.items()}
    if which == "both":
        dims = ("which", "unit")
    result = xr.Dataset(
        {"ii": (dims, data["ii"]), "mei": (dims + ("mei",), data["mei"]),
         "mei_response": (dims + ("mei",), data["mei_response"])},
        coords={**unit_coords(ds), **({"which": list(parts)} if which == "both" else {})},
    )
    attrs: dict[str, Any] = {
        "analysis": "interpretability_index", "similarity": sim_name, "similarity_auto": bool(auto), "k": int(k),
        "which": which, "null": null or "none", "seed": int(seed), "reference": REFERENCE,
        "ii_definition": "-mean off-diagonal pairwise distance among the k MEIs (paper code: full matrix, "
                         "= ii*(k-1)/k)",
    }
    attrs.update({key: ds.attrs[key] for key in ("system", "measure", "source") if key in ds.attrs})
    if null is not None:
        rng = np.random.default_rng(seed)
        n_null = int(n_null or N_NULL[null])
        if null == "random_stimuli":
            sample = random_stimuli_null(space, ds.sizes["stimulus"], k, n_null=n_null, rng=rng)
        else:
            sample = random_directions_null(R, space, k, n_null=n_null, rng=rng, progress=progress)
        z, pct = z_and_percentile(data["ii"], sample)
        result["ii_z"] = (dims, z)
        result["ii_percentile"] = (dims, pct)
        result["ii_null"] = ("null_sample", sample)
        attrs["n_null"] = n_null
    result.attrs = attrs
    return result


def group_summary(result: xr.Dataset, *, by: str | None = "auto", var: str = "ii") -> xr.Dataset:
    """Mean, median, standard deviation and count of ``result[var]`` per ``layer``/``area`` (``by``).

    Returns a Dataset with dim ``group`` (the coord's values in order of appearance; ``"all"`` when there is no
    grouping coord) and variables ``mean``, ``median``, ``std``, ``n`` (NaN units skipped).
    """
    if var not in result:
        raise AnalysisError(f"group_summary: found no variable {var!r}; expected one of {list(result.data_vars)}. "
                            "Fix: compute it first (e.g. null='random_stimuli' for ii_z).")
    coord = group_coord(result, by)
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
    out.attrs = {"grouped_by": coord or "none", "variable": var, **{k: v for k, v in result.attrs.items()
                                                                     if k in ("similarity", "k", "which", "null")}}
    return out
