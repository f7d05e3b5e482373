"""``neurosuper nwb FILE``: load an NWB recording as a ResponseSet (or list its presentation sources).

Errors and warnings of the loader surface here with their fixes written as flags of this command (``--stimulus
trials:type``, ``--align-relative true``), not as Python arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

from ._common import add_outputs, check_outputs, number


def parse_stimulus(spec: str | None) -> Any:
    """``"bins"``, ``"table"``, ``"table:column"`` or ``"table:col1,col2"`` → the ``stimulus=`` of load_nwb."""
    if spec is None or spec == "bins" or ":" not in spec:
        return spec
    name, cols = spec.split(":", 1)
    columns = [c for c in cols.split(",") if c]
    return (name, columns[0] if len(columns) == 1 else columns)


_ALIGN_RELATIVE: dict[str, bool | str] = {"auto": "auto", "true": True, "false": False}


def cli_message(exc: BaseException | Warning | str) -> str:
    """The loader's wording of an error or warning for this command (attribute ``cli_message``), else its text."""
    return getattr(exc, "cli_message", None) or str(exc)


#: The flags of the NWB loader, shared by ``neurosuper nwb`` and ``neurosuper report`` (dest names).
LOADER_FLAGS = ("stimulus", "window", "align", "align_relative", "bin_size", "epochs", "measure")


def add_loader_arguments(p: argparse.ArgumentParser) -> None:
    """The NWB loader's flags (``--stimulus``, ``--window``, ``--align``, ``--align-relative``, ``--bin-size``,
    ``--epochs``, ``--measure``): one definition for every command that reads NWB files."""
    p.add_argument("--stimulus", help="NWB: 'bins', a table or IndexSeries name, 'table:column' or 'table:col1,col2'")
    p.add_argument(
        "--window",
        nargs=2,
        type=number(),
        metavar=("START", "STOP"),
        help="NWB: seconds relative to onset (required when presentations have no stop times)",
    )
    p.add_argument("--align", help="NWB: table column giving the onsets (e.g. cue_start_time)")
    p.add_argument(
        "--align-relative",
        choices=tuple(_ALIGN_RELATIVE),
        default="auto",
        help="NWB: are --align values offsets from each row's start_time (true) or absolute times "
        "(false)? auto (default): decided by where the values lie, warned when both fit",
    )
    p.add_argument(
        "--bin-size",
        type=number(0, low_open=True),
        help="NWB: time bins (s): a time dim, or the bins of --stimulus bins",
    )
    p.add_argument("--epochs", help="NWB: with --stimulus bins: an interval table name or epoch tag")
    p.add_argument(
        "--measure",
        default="spike_count",
        choices=("spike_count", "spike_rate", "dff", "fluorescence"),
        help="NWB: what the responses are (default spike_count)",
    )


def loader_flags_given(args: argparse.Namespace) -> list[str]:
    """The NWB loader flags set to something other than their defaults (``["--window", ...]``)."""
    defaults = {"align_relative": "auto", "measure": "spike_count"}
    return [
        "--" + name.replace("_", "-")
        for name in LOADER_FLAGS
        if getattr(args, name, None) not in (None, defaults.get(name))
    ]


def loader_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``load_nwb`` options the loader flags of ``args`` give (one translation for every command: ``neurosuper
    nwb``, ``report``, ``cohort``)."""
    return {
        "stimulus": parse_stimulus(args.stimulus),
        "window": tuple(args.window) if args.window else None,
        "align": args.align,
        "align_relative": _ALIGN_RELATIVE[args.align_relative],
        "bin_size": args.bin_size,
        "measure": args.measure,
        "epochs": args.epochs,
    }


def load_with_flags(path: Any, args: argparse.Namespace, *, progress: bool) -> tuple[Any, list[str]]:
    """load_nwb with the loader flags of ``args``; its errors re-raised, and its warnings returned, in CLI wording."""
    from ..errors import NeurosuperError, NeurosuperWarning
    from ..io.nwb import load_nwb

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NeurosuperWarning)
        try:
            ds = load_nwb(path, **loader_options(args), progress=progress)
        except NeurosuperError as err:
            text = cli_message(err)
            if text == str(err):
                raise
            raise type(err)(text) from None
    notes = []
    for w in caught:
        if issubclass(w.category, NeurosuperWarning):
            notes.append(cli_message(w.message))
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return ds, notes


def run(args: argparse.Namespace) -> int:
    from ..describe import describe
    from ..io.nwb import nwb_sources
    from ..storage import save

    check_outputs(args, inputs=[args.file])
    if args.sources:
        found = nwb_sources(args.file)
        if args.json:
            print(json.dumps([vars(c) for c in found], indent=2))
        else:
            print(
                "\n".join(c.describe(cli=True) for c in found) or "no presentations: use --stimulus bins --bin-size S"
            )
        return 0
    ds, notes = load_with_flags(args.file, args, progress=not args.json)
    for note in notes:
        print(f"neurosuper: warning: {note}", file=sys.stderr)
    summary = {
        "sizes": {k: int(v) for k, v in ds["responses"].sizes.items()},
        "measure": ds.attrs["measure"],
        "stimulus_source": ds.attrs.get("stimulus_source"),
        "total": describe(ds, total=True)["total"],
    }
    if notes:
        summary["warnings"] = notes
    if args.out:
        summary["out"] = str(save(ds, args.out, overwrite=args.overwrite))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{args.file}: {summary['measure']} {summary['sizes']} from {summary['stimulus_source']}"
            + (f" -> {summary['out']}" if args.out else "")
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("nwb", help="load an NWB recording as a ResponseSet (.nc/.zarr)")
    p.add_argument("file", help="an .nwb file or a URL (read through fsspec)")
    p.add_argument("--sources", action="store_true", help="list the presentation sources and the argument picking each")
    add_loader_arguments(p)
    add_outputs(p, out="write the set here (.nc or .zarr)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
