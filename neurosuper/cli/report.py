"""``neurosuper report FILE [FILE2] --out DIR``: every analysis of a recording or a network (and their
comparison) in one self-contained HTML file, ``DIR/report.html`` (:func:`neurosuper.report.report`).

FILE is an NWB file (``.nwb``; ``--stimulus``, ``--window``, ``--bin-size``, ``--epochs``, ``--align``, ``--measure``
as for ``neurosuper nwb``), a saved ResponseSet
(``.nc``, ``.zarr``) or saved activations (``.npz``, one array per layer; ``--layers`` names them when the file
also holds metadata arrays). Bad input — a missing file, an
unsupported suffix, an NWB file with several presentation sources and no ``--stimulus``, two sets with no shared
stimuli, ``--out`` an existing file, a ``--groupby`` coord no set has — exits with code 2 and a one-line reason,
before any analysis runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import add_outputs, check_folder_out, print_outcome, reraise, warn

#: The input suffixes the command reads.
SUFFIXES = (".nwb", ".nc", ".zarr", ".npz")


def check_inputs(files: list[str], out: str, *, overwrite: bool, nwb_flags: bool | list[str] = False) -> list[Path]:
    """Cheap checks made before loading anything: the files exist and have a supported suffix, ``--out`` is a
    new or empty folder (or ``--overwrite``) and not an input, NWB-only flags (``nwb_flags``: their names, or
    True) come with an NWB file. Raises :class:`~neurosuper.errors.FormatError` with a one-line reason."""
    from .._validation import check_not_url
    from ..errors import FormatError, fail
    from ..report import check_out

    check_folder_out(out, inputs=files)
    try:
        check_out(out, overwrite=overwrite)
    except FormatError as err:
        raise reraise(err) from None
    paths = []
    for name in files:
        check_not_url(name, expected="a local NWB file, saved set or saved activations")
        path = Path(name)
        suffix = path.suffix.lower()
        if suffix not in SUFFIXES:
            raise fail(
                f"file {name!r}",
                f"suffix {path.suffix or '(none)'!r}",
                f"one of {', '.join(SUFFIXES)}",
                "convert it first: `neurosuper nwb` for recordings, neurosuper.save() for sets, np.savez() "
                "for activations",
                FormatError,
            )
        if not path.exists():
            raise fail(f"file {name!r}", "no such file", "an existing file", "check the path", FormatError)
        paths.append(path)
    if nwb_flags and not any(p.suffix.lower() == ".nwb" for p in paths):
        flags = "/".join(nwb_flags) if isinstance(nwb_flags, list) else "--stimulus/--window"
        raise fail(
            flags,
            "no .nwb file among the inputs",
            "an NWB file they apply to",
            f"drop {flags} (a saved set already holds its stimuli)",
            FormatError,
        )
    return paths


def load_input(path: Path, args: argparse.Namespace) -> Any:
    """The ResponseSet in ``path``, with its file (path, size, sha256) recorded in ``attrs["inputs"]``; an NWB
    file's loader warnings are printed on stderr."""
    from .._provenance import file_input, inputs_of
    from ..errors import NeurosuperError

    suffix = path.suffix.lower()
    try:
        if suffix == ".nwb":
            from .nwb import load_with_flags

            try:
                ds, notes = load_with_flags(path, args, progress=not args.quiet)
            except NeurosuperError as err:
                raise reraise(err) from None
            warn(notes, prefix=f"{path.name}: ", flags=getattr(args, "cli_flags", None))
        elif suffix == ".npz":
            from ..io.files import load_activations

            ds = load_activations(path, layers=getattr(args, "layers", None))
        else:
            from ..storage import load

            size = (
                sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
            )
            ds = load(path, lazy=size > 2**30)
    except NeurosuperError as err:
        raise reraise(err) from None
    if not inputs_of(ds):
        ds = ds.copy(deep=False)
        ds.attrs = {**ds.attrs, "inputs": [file_input(path)]}
    return ds


def run(args: argparse.Namespace) -> int:
    from ..errors import NeurosuperError
    from ..pipeline import check_skip, parse_settings
    from ..report import report
    from .nwb import loader_flags_given

    files = [args.file] + ([args.file2] if args.file2 else [])
    paths = check_inputs(files, args.out, overwrite=args.overwrite, nwb_flags=loader_flags_given(args))
    if args.layers and not any(p.suffix.lower() == ".npz" for p in paths):
        from ..errors import FormatError, fail

        raise fail(
            "--layers",
            "no .npz file among the inputs",
            "saved activations (.npz) whose arrays it names",
            "drop --layers (a saved set or NWB file is read whole)",
            FormatError,
        )
    check_skip(args.skip)
    settings = parse_settings(args.set)
    sets = [load_input(p, args) for p in paths]
    try:
        result = report(
            sets[0],
            sets[1] if len(sets) > 1 else None,
            out=args.out,
            names=[p.stem for p in paths],
            groupby=args.groupby,
            skip=args.skip,
            settings=settings,
            overwrite=args.overwrite,
            progress=not args.quiet,
            full_paths=args.full_paths,
        )
    except NeurosuperError as err:
        raise reraise(err) from None
    print(f"neurosuper report: {result.report}")
    print_outcome(result, getattr(args, "cli_flags", None))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..report import GROUPBY

    p = sub.add_parser("report", help="every analysis of a set (or two, and their comparison) in one HTML file")
    p.add_argument("file", help="an NWB file (.nwb), a saved set (.nc, .zarr) or saved activations (.npz)")
    p.add_argument("file2", nargs="?", help="a second set: both are analysed and compared on their shared stimuli")
    add_outputs(p, out="folder for report.html and the results (new or empty; created if needed)", required=True)
    from .nwb import add_loader_arguments

    add_loader_arguments(p)  # --stimulus, --window, --align, --align-relative, --bin-size, --epochs, --measure
    p.add_argument(
        "--layers",
        nargs="+",
        metavar="NAME",
        help="saved activations (.npz): the arrays that are layers, in order (default: all; needed when the file "
        "also holds labels, ids or other metadata arrays)",
    )
    p.add_argument(
        "--groupby",
        default="auto",
        choices=GROUPBY,
        help="group units by layer or area (auto: layer, else area; none: one result per set)",
    )
    p.add_argument(
        "--skip",
        nargs="+",
        default=[],
        metavar="STEP",
        help="analysis steps not to run (e.g. --skip directions); the report lists them as skipped",
    )
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="STEP.KEY=VALUE",
        help="override a step's (reduced) settings, e.g. --set directions.max_units=512 interpret.k=3 "
        "(values read as JSON); the report states the settings as run",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    from .demo import FULL_PATHS_HELP

    p.add_argument("--full-paths", action="store_true", help=FULL_PATHS_HELP)
    p.set_defaults(func=run)
