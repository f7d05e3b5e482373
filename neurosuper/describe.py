"""``describe``: what a ResponseSet or an analysis result holds — dims, sizes, system, measure, coords, attrs and
memory footprint — as a JSON-safe dict, without reading its data (``neurosuper info`` prints it)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

__all__ = ["describe"]


def _human(nbytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return ""  # pragma: no cover


def describe(ds: xr.Dataset, *, total: bool = False) -> dict[str, Any]:
    """A JSON-safe summary of a set: dims, sizes, system, measure, coords, attrs, memory footprint; with
    ``total``, also the sum of its responses (NaN ignored), which reads the data."""
    from ._attrs import to_jsonable

    coords = {}
    for name, coord in ds.coords.items():
        values = coord.values
        entry = {"dims": list(coord.dims), "dtype": str(values.dtype)}
        if values.ndim == 1:
            uniq = np.unique(values) if values.dtype.kind in "USOb" else None
            entry["first"] = [v.item() if hasattr(v, "item") else v for v in values[:3]]
            if uniq is not None and len(uniq) <= 12:
                entry["values"] = [str(v) for v in uniq]
        coords[str(name)] = entry
    variables = {
        str(k): {"dims": list(v.dims), "dtype": str(v.dtype), "nbytes": int(v.nbytes)} for k, v in ds.data_vars.items()
    }
    attrs = {k: to_jsonable(v) for k, v in ds.attrs.items()}
    out: dict[str, Any] = {
        "kind": "ResponseSet" if "responses" in ds.data_vars else "result",
        "analysis": ds.attrs.get("analysis"),
        "sizes": {str(k): int(v) for k, v in ds.sizes.items()},
        "dims": list(ds["responses"].dims) if "responses" in ds else [],
        "system": ds.attrs.get("system"),
        "measure": ds.attrs.get("measure"),
        "variables": variables,
        "coords": coords,
        "attrs": attrs,
        "nbytes": int(ds.nbytes),
        "memory": _human(ds.nbytes),
    }
    if total and "responses" in ds:
        out["total"] = float(np.nansum(np.asarray(ds["responses"].values)))
    return out
