"""``neurosuper info FILE``: what a saved ResponseSet or analysis result holds, without reading its data."""

from __future__ import annotations

import argparse
import json


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
    from ..describe import describe

    summary = describe(ds)
    print(json.dumps(summary, indent=2) if args.json else _format(summary, args.file))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("info", help="describe a saved ResponseSet or analysis result (.nc or .zarr)")
    p.add_argument("file", help="a .nc or .zarr file written by neurosuper.save or save_result")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
