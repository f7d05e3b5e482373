"""``neurosuper cohort SOURCES... --out DIR``: the report of a cohort — many sessions and animals analysed together
(``docs/cohorts.md``).

SOURCES are NWB files or URLs, a glob, or one manifest (``.csv``/``.tsv``, one row per session: ``path`` and
optionally ``subject``, ``session`` and per-session loader options); they are loaded with
:func:`neurosuper.load_cohort`, one dask.distributed task per session — on a ``LocalCluster`` (``--workers N``,
default one per core) or an existing scheduler (``--scheduler tcp://host:8786``). One saved cohort (``.nc``,
``.zarr``, e.g. ``neurosuper.save(load_cohort(...))``) is read as it is. Every NWB loader flag of ``neurosuper nwb``
applies to every session (``--stimulus``, ``--window``, ...). A session that cannot be loaded is listed in the report
with its reason and the others are analysed; ``--strict`` stops instead.

``DIR/report.html`` holds the report's analyses of the pooled units (:func:`neurosuper.report.report`), then the
cohort section (:mod:`neurosuper.pipeline.cohort`): the per-session table (session, subject, units, stimuli,
status / reason, α), the per-subject results, the inter-animal ceilings (RSA and predictivity, each subject against
the others pooled) and, with ``--network FILE``, every layer's score next to them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import add_outputs, check_folder_out, integer, print_outcome, reraise, warn

#: A source read as a pre-built cohort rather than NWB sessions.
SAVED = (".nc", ".zarr")


def _load(args: argparse.Namespace) -> Any:
    """The cohort: a saved set as it is, else :func:`neurosuper.load_cohort` of the sources with the loader flags
    (its warnings — skipped sessions, stimuli left out — printed on stderr)."""
    from ..errors import FormatError, NeurosuperError, fail, recorded_warnings

    sources: list[str] = list(args.sources)
    if len(sources) == 1 and Path(sources[0]).suffix.lower() in SAVED:
        from .nwb import loader_flags_given

        given = loader_flags_given(args)
        if given:
            raise fail(
                "/".join(given),
                f"a saved cohort ({sources[0]})",
                "NWB sessions they apply to",
                f"drop {'/'.join(given)} (a saved cohort already holds its stimuli)",
                FormatError,
            )
        from .report import load_input

        return load_input(Path(sources[0]), args)
    from ..io.cohort import load_cohort
    from .nwb import loader_options

    options = {k: v for k, v in loader_options(args).items() if v is not None}
    with recorded_warnings() as notes:
        try:
            ds = load_cohort(
                sources if len(sources) > 1 else sources[0],
                client=False if args.workers == 0 else args.scheduler,
                n_workers=args.workers or None,
                strict=args.strict,
                progress=not args.quiet,
                **options,
            )
        except NeurosuperError as err:
            raise reraise(err) from None
    warn(notes, flags=getattr(args, "cli_flags", None))
    return ds


def _title(cohort: Any) -> str:
    def count(coord: str) -> int:
        return len(set(cohort[coord].values.tolist())) if coord in cohort.coords else 1

    return f"neurosuper cohort: {count('session')} sessions of {count('subject')} subject(s)"


def run(args: argparse.Namespace) -> int:
    from ..errors import FormatError, NeurosuperError
    from ..pipeline import check_skip, parse_settings
    from ..pipeline.cohort import cohort_steps, session_table
    from ..report import check_out, report
    from .report import check_inputs, load_input

    steps = cohort_steps()
    check_folder_out(args.out, inputs=[*args.sources, *([args.network] if args.network else [])])
    try:
        check_out(args.out, overwrite=args.overwrite)
    except FormatError as err:
        raise reraise(err) from None
    network_path = None
    if args.network:
        (network_path,) = check_inputs([args.network], args.out, overwrite=args.overwrite)
    check_skip(args.skip, steps)
    settings = parse_settings(args.set, steps)
    cohort = _load(args)
    network = load_input(network_path, args) if network_path is not None else None
    try:
        result = report(
            cohort,
            network,
            out=args.out,
            names=["cohort", "network"],
            steps=steps,
            skip=args.skip,
            settings=settings,
            overwrite=args.overwrite,
            progress=not args.quiet,
            full_paths=args.full_paths,
            title=_title(cohort),
        )
    except NeurosuperError as err:
        raise reraise(err) from None
    print(f"neurosuper cohort: {result.report}")
    print("  session | subject | units | stimuli | status")
    for row in session_table(cohort):
        status = row["status"] + (f": {row['reason']}" if row["reason"] else "")
        print(f"  {row['session']} | {row['subject']} | {row['units']} | {row['stimuli']} | {status}")
    print_outcome(result, getattr(args, "cli_flags", None), steps=steps)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "cohort",
        help="many sessions and animals in one report: pooled and per-subject results, inter-animal ceilings",
    )
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCES",
        help="NWB files or URLs, a glob, one manifest (.csv/.tsv: path[, subject, session, loader options]), or one "
        "saved cohort (.nc, .zarr)",
    )
    add_outputs(p, out="folder for report.html and the results (new or empty; created if needed)", required=True)
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="load the sessions on this dask scheduler (e.g. tcp://10.0.0.5:8786); default: the active client, "
        "else a LocalCluster",
    )
    where.add_argument(
        "--workers",
        type=integer(0),
        metavar="N",
        help="load the sessions on a LocalCluster of N single-threaded worker processes (default: one per core); "
        "0: one after the other in this process, without dask",
    )
    p.add_argument("--network", metavar="FILE", help="a network's activations (.nc, .zarr, .npz) to compare")
    p.add_argument("--strict", action="store_true", help="stop at the first session that cannot be loaded")
    from .nwb import add_loader_arguments

    add_loader_arguments(p)  # --stimulus, --window, --align, --align-relative, --bin-size, --epochs, --measure
    p.add_argument(
        "--skip",
        nargs="+",
        default=[],
        metavar="STEP",
        help="steps not to run (e.g. --skip directions capacity); the report lists them as skipped",
    )
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="STEP.KEY=VALUE",
        help="override a step's settings, e.g. --set cohort.n_splits=10 (values read as JSON)",
    )
    p.add_argument("--layers", nargs="+", metavar="NAME", help="--network .npz: the arrays that are layers")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    from .demo import FULL_PATHS_HELP

    p.add_argument("--full-paths", action="store_true", help=FULL_PATHS_HELP)
    p.set_defaults(func=run)
