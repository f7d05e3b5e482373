"""``neurosuper demo --out DIR``: build the embedded demo data, run every analysis on it, write the report.

Calls :func:`neurosuper.report.demo` (the steps are :data:`neurosuper.pipeline.DEMO_STEPS`) and prints where the
report is and what it found. ``DIR/summary.json`` holds every step's numbers and ``DIR/summary.md`` the sentences.
"""

from __future__ import annotations

import argparse

from ._common import add_outputs, print_outcome

#: ``--full-paths`` (``neurosuper demo`` and ``neurosuper report``).
FULL_PATHS_HELP = (
    "record absolute paths (input files, output folder, interpreter), the command line and the kernel/C library "
    "versions in report.html and summary.json (default: files by name and sha256, package versions only, so "
    "that a report can be shared)"
)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import parse_settings
    from ..pipeline.steps import DEMO_STEPS
    from ..report import demo

    settings = parse_settings(args.set, DEMO_STEPS)
    result = demo(
        out=args.out,
        settings=settings,
        overwrite=args.overwrite,
        progress=not args.quiet,
        full_paths=args.full_paths,
        data=args.data,
    )
    where = f"the report is {result.report}" if result.report else "no report"
    print(f"neurosuper demo: {where}; results in {args.out}/ (summary.json lists them, summary.md says what they show)")
    print_outcome(result, getattr(args, "cli_flags", None), steps=DEMO_STEPS)
    truth = result.summary.get("truth", {})
    for row in truth.get("table", []) if isinstance(truth, dict) else []:
        print(f"  [{row.get('verdict')}] {row['analysis']} ({row['control']}): {row['found']}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="build the demo data, run every analysis on it and write the HTML report")
    p.add_argument("--out", default="demo-out", help="folder for the results and report.html (default: demo-out)")
    add_outputs(p)
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="STEP.KEY=VALUE",
        help="override a step's (reduced) settings, e.g. --set directions.max_units=512 (values read as JSON)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--full-paths", action="store_true", help=FULL_PATHS_HELP)
    p.add_argument(
        "--data",
        choices=("planted", "v1"),
        default="planted",
        help="planted: features planted in a simulated brain and a network, with the truth-vs-found table "
        "(default); v1: the earlier demo (1,000 Gabor neurons, an MLP autoencoder), no planted features",
    )
    p.set_defaults(func=run)
