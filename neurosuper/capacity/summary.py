"""``summary(result)``: the headline numbers of a capacity result as a JSON-safe dict (for the CLI and the report)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._numbers import rounded
from ..errors import AnalysisError, fail

__all__ = ["summary"]

_COUNTS = ("n_features", "n_monosemantic", "n_polysemantic", "n_ignored", "n_dims", "n_directions")
_FLOATS = ("capacity_sum", "capacity_fraction", "mean_capacity", "D_star", "total_capacity")


def _num(x: Any) -> Any:
    """A number (a 0-d DataArray's value too), rounded by the one rule of every summary."""
    return rounded(np.asarray(x))


def _scalars(ds: xr.Dataset, sel: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {}
    for key in (*_COUNTS, *_FLOATS):
        if key in ds and (sel is None or set(sel) <= set(ds[key].dims)):
            value = ds[key].sel(sel) if sel else ds[key]
            if value.ndim == 0:
                out[key] = _num(value)
    if "enough_data" in ds and "n_dims" in out and "n_stimuli" in ds.attrs:  # feature_capacity below its minimum
        enough = ds["enough_data"].sel(sel) if sel else ds["enough_data"]
        if enough.ndim == 0 and not bool(enough):
            from .features import too_little_data

            err = too_little_data(int(out["n_dims"]), int(ds.attrs["n_stimuli"]))
            if err is not None:
                out["not_enough_data"] = err.as_entry()
    return out


def summary(result: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """JSON-safe, rounded headline numbers of a result of :mod:`neurosuper.capacity`.

    * ``superposition`` / ``feature_capacity``: Σ C, dims, Σ C / dims, counts of monosemantic / polysemantic /
      ignored features (per ``layer``/``area`` under ``"groups"`` when the result is grouped), D*; a group below
      capacity's minimum data gets ``not_enough_data`` (:func:`~neurosuper.capacity.features.too_little_data`).
    * ``block_structure``: number of blocks, their sizes, ranks, Σ C and tightness.
    * ``capacity`` / ``dimensionality_per_feature`` / ``interference`` (a DataArray): n, mean, min, max, sum.
    """
    analysis = result.attrs.get("analysis", "")
    head: dict[str, Any] = {"analysis": analysis}
    if isinstance(result, xr.DataArray):
        v = np.asarray(result.values, dtype=float)
        if v.ndim == 0:
            return {**head, "value": _num(v)}
        return {
            **head,
            "n": int(v.size),
            "mean": _num(v.mean()),
            "min": _num(v.min()),
            "max": _num(v.max()),
            "sum": _num(v.sum()),
        }
    if analysis == "capacity.block_structure":
        return {
            **head,
            "n_blocks": int(result.sizes["block"]),
            "sizes": result["size"].values.tolist(),
            "block_ranks": result["block_rank"].values.tolist(),
            "capacity_sums": [_num(c) for c in result["capacity_sum"].values],
            "tight": [bool(t) for t in result["tight"].values],
            "n_ignored": int((result["feature_block"].values < 0).sum()),
            "total_capacity": _num(result["total_capacity"]),
            "n_dims": int(result["n_dims"]),
            "block_semi_orthogonal": bool(result["block_semi_orthogonal"]),
            "tol": result.attrs.get("tol"),
        }
    if analysis in ("capacity.superposition", "capacity.feature_capacity"):
        head["tol"] = result.attrs.get("tol")
        for key in ("method", "groupby"):
            if key in result.attrs:
                head[key] = result.attrs[key]
        if "group" in result.dims:
            head["groups"] = {str(g): _scalars(result, {"group": g}) for g in result["group"].values}
            return head
        return {**head, **_scalars(result)}
    raise fail(
        "capacity.summary",
        f"a result with analysis={analysis!r}",
        "a result of neurosuper.capacity (superposition, feature_capacity, block_structure, capacity, ...)",
        "pass the object the capacity function returned",
        AnalysisError,
    )
