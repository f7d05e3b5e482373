"""``neurosuper nwb FILE``: load an NWB recording as a ResponseSet (or list its presentation sources).

Also the ``nwb`` step of ``neurosuper demo``: the demo brain is written to a real NWB file (spike trains that
reproduce its counts; its images as an ``Images`` template when there are at most 200) and loaded back through
``load_nwb``; the loaded responses replace those of ``ctx.brain`` for the steps that follow.

Errors and warnings of the loader surface here with their fixes written as flags of this command (``--stimulus
trials:type``, ``--align-relative true``), not as Python arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

import numpy as np

#: the demo writes its images into the NWB file only up to this many stimuli
_MAX_IMAGES = 200


def parse_stimulus(spec: str | None) -> Any:
    """``"bins"``, ``"table"``, ``"table:column"`` or ``"table:col1,col2"`` → the ``stimulus=`` of load_nwb."""
    if spec is None or spec == "bins" or ":" not in spec:
        return spec
    name, cols = spec.split(":", 1)
    columns = [c for c in cols.split(",") if c]
    return (name, columns[0] if len(columns) == 1 else columns)


_ALIGN_RELATIVE = {"auto": "auto", "true": True, "false": False}


def cli_message(exc: BaseException) -> str:
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
        type=float,
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
    p.add_argument("--bin-size", type=float, help="NWB: time bins (s): a time dim, or the bins of --stimulus bins")
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


def load_with_flags(path: Any, args: argparse.Namespace, *, progress: bool) -> tuple[Any, list[str]]:
    """load_nwb with the loader flags of ``args``; its errors re-raised, and its warnings returned, in CLI wording."""
    from ..errors import NeurosuperError, NeurosuperWarning
    from ..io.nwb import load_nwb

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NeurosuperWarning)
        try:
            ds = load_nwb(
                path,
                stimulus=parse_stimulus(args.stimulus),
                window=tuple(args.window) if args.window else None,
                align=args.align,
                align_relative=_ALIGN_RELATIVE[args.align_relative],
                bin_size=args.bin_size,
                measure=args.measure,
                epochs=args.epochs,
                progress=progress,
            )
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
    from ..io.nwb import nwb_sources
    from ..storage import save

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
        "total": float(np.nansum(ds["responses"])),
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


def register(sub) -> None:
    p = sub.add_parser("nwb", help="load an NWB recording as a ResponseSet (.nc/.zarr)")
    p.add_argument("file", help="an .nwb file or a URL (read through fsspec)")
    p.add_argument("--sources", action="store_true", help="list the presentation sources and the argument picking each")
    add_loader_arguments(p)
    p.add_argument("--out", help="write the set here (.nc or .zarr)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def compact_repeats(values: np.ndarray) -> np.ndarray:
    """(repeat, stimulus, unit) with each stimulus's present repeats moved first (how load_nwb orders them)."""
    out = np.full_like(values, np.nan)
    present = ~np.isnan(values).all(axis=-1)  # (repeat, stimulus)
    for s in range(values.shape[1]):
        kept = np.flatnonzero(present[:, s])
        out[: kept.size, s] = values[kept, s]
    return out


def demo(ctx) -> None:
    """Write the simulated demo brain as NWB, load it back with load_nwb, check the counts: provides ``brain``.

    The provided ``brain`` is the simulated set with the responses loaded from the file (same dtype); its other
    variables and attrs (simulation truth such as ``rates`` or ``alpha_true``, which NWB does not carry) are
    kept, and ``attrs["nwb_file"]`` / ``attrs["loader"]`` record where the responses come from; the NWB file joins
    the set's input files, so every result's provenance names it. The simulated set itself is left as it was.
    """
    from ..errors import NeurosuperError
    from ..io.nwb import load_nwb, save_nwb

    start = time.perf_counter()
    brain = ctx.data["brain_simulated"]
    # the 2,000 patches stay out of the file: pynwb makes one object per image (~10 ms each, on writing and on
    # every reading); the demo keeps its stimuli (and simulation truth) from the set itself
    path = save_nwb(
        brain, ctx.path("demo_brain.nwb"), images=_MAX_IMAGES >= brain.sizes["stimulus"], overwrite=True, seed=0
    )
    loaded = load_nwb(path, stimulus="presentations", progress=ctx.progress)
    loaded = loaded.sel(stimulus=brain["stimulus"].values)
    dims = [d for d in ("repeat", "stimulus", "unit") if d in brain["responses"].dims]
    want = brain["responses"].transpose(*dims).values
    got = loaded["responses"].transpose(*dims).values
    if "repeat" in dims and got.shape == want.shape and not np.array_equal(want, got, equal_nan=True):
        want = compact_repeats(want)  # missing repeats come back at the end of each stimulus's repeats
    if want.shape != got.shape or not np.array_equal(want, got, equal_nan=True):
        raise NeurosuperError(
            f"demo nwb step: found counts loaded from {path} that differ from the demo brain "
            f"(shapes {got.shape} vs {want.shape}); expected identical counts. This is a bug."
        )
    from .._provenance import INPUTS_KEY

    merged = brain.copy()
    merged["responses"] = (tuple(dims), got.astype(brain["responses"].dtype))
    merged.attrs.update(nwb_file=path.name, loader="neurosuper.load_nwb")
    # every result's provenance names both files: the NWB file (the responses) and the set (stimuli, truth)
    merged.encoding[INPUTS_KEY] = [*brain.encoding.get(INPUTS_KEY, []), str(path)]
    ctx.provide("brain", merged)
    ctx.summary["nwb"] = {
        "file": path.name,
        "sizes": {k: int(v) for k, v in loaded["responses"].sizes.items()},
        "n_spikes": int(loaded["n_spikes"].sum()),
        "counts_identical": True,
        "images_in_file": "stimuli" in loaded,
        "size_MB": round(path.stat().st_size / 1e6, 1),
        "seconds": round(time.perf_counter() - start, 2),
    }
