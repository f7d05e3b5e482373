"""The ``neurosuper`` command.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``: it parses flags,
calls the library and prints — no analysis logic (the main job's steps are :mod:`neurosuper.pipeline`). What the
commands share (``--out``/``--figure``/``--overwrite``, CLI wording of errors) is :mod:`neurosuper.cli._common`.
Exit codes: 0 ok, 2 bad input (one-line reason on stderr, never a traceback), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .._threads import configure_process, restore_process
from .._version import __version__
from ..errors import NeurosuperError
from ._common import FlagError, bind_flags, cli_wording, one_line

#: Sub-command modules, in the order ``--help`` lists them and ``demo`` runs their steps.
COMMANDS = (
    "demo",
    "info",
    "nwb",
    "spectrum",
    "interpret",
    "directions",
    "capacity",
    "toy",
    "report",
    "compare",
    "cohort",
)


def _modules() -> list[Any]:
    import importlib

    return [importlib.import_module(f"{__name__}.{name}") for name in COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurosuper",
        description="Brains and networks in one format: spectra, interpretability, directions, capacity.",
    )
    parser.add_argument("--version", action="version", version=f"neurosuper {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _modules():
        module.register(sub)
    for command in sub.choices.values():  # each command's Python argument → flag, for the wording of its errors
        bind_flags(command)  # numeric flags name themselves when they refuse a value
        flags = {
            a.dest: long[0]
            for a in command._actions
            if (long := [o for o in a.option_strings if o.startswith("--")]) and a.dest != "help"
        }
        command.set_defaults(cli_flags=flags)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except FlagError as err:  # a numeric flag's value refused by its type, before anything runs
        print(f"neurosuper: error: {one_line(str(err))}", file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        configure_process()  # the thread policy for the whole run, passive waits (docs/performance.md)
        return int(args.func(args) or 0)
    except NeurosuperError as err:  # the library's message, in command-line wording (flags, not arguments)
        print(f"neurosuper: error: {one_line(cli_wording(str(err), args.cli_flags))}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
        print(f"neurosuper: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurosuper: interrupted", file=sys.stderr)
        return 130
    finally:  # main() called from Python (tests, notebooks) leaves the process's thread settings as it found them
        restore_process()
