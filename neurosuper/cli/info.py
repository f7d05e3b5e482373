"""``neurosuper info FILE``: what a saved ResponseSet or analysis result holds, without reading its data."""

from __future__ import annotations

import argparse
import json

import numpy as np


def _human(nbytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return ""  # pragma: no cover


def describe(ds) -> dict:
    """A JSON-safe summary of a set: dims, sizes, system, measure, coords, attrs, memory footprint."""
    from .._attrs import to_jsonable

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
    return {
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


def _format(summary: dict, path: str) -> str:
    if summary["kind"] == "ResponseSet":
        lines = [
            f"{path}",
            f"  system:   {summary['system']}",
            f"  measure:  {summary['measure']}",
            f"  responses: {tuple(summary['dims'])}  sizes {summary['sizes']}",
        ]
    else:
        lines = [
            f"{path}",
            f"  result of: {summary['analysis'] or 'an analysis (no analysis attr)'}",
            f"  sizes:    {summary['sizes']}",
        ]
    lines += [f"  memory:   {summary['memory']} in memory when loaded", "  variables:"]
    lines += [f"    {k:<12} {tuple(v['dims'])} {v['dtype']}" for k, v in summary["variables"].items()]
    lines.append("  coords:")
    for k, v in summary["coords"].items():
        extra = f"  values {v['values']}" if "values" in v else f"  first {v.get('first', '')}"
        lines.append(f"    {k:<12} {tuple(v['dims'])} {v['dtype']}{extra}")
    lines.append("  attrs:")
    lines += [f"    {k:<18} {json.dumps(v)[:100]}" for k, v in summary["attrs"].items()]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..errors import FormatError
    from ..storage import load

    try:
        ds = load(args.file, lazy=True)
    except FormatError as err:  # not a ResponseSet: maybe an analysis result (save_result)
        try:
            ds = load(args.file, lazy=True, validate_set=False)
        except FormatError:
            raise err from None
        if "responses" in ds.data_vars:  # a broken set, not a result: report why
            raise
    summary = describe(ds)
    print(json.dumps(summary, indent=2) if args.json else _format(summary, args.file))
    return 0


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a saved ResponseSet or analysis result (.nc or .zarr)")
    p.add_argument("file", help="a .nc or .zarr file written by neurosuper.save or save_result")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
