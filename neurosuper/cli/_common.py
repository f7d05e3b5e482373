"""What every command shares, in one place: the output flags (``--out``, ``--figure``, ``--overwrite``) and their
checks before anything is computed, the ``--set``/``--skip`` checks, warnings on stderr, and one way of turning a
library error into command-line wording (flags, not Python arguments)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import FormatError, NeurosuperError, fail

__all__ = [
    "add_outputs",
    "check_outputs",
    "check_file_out",
    "check_figure_out",
    "check_folder_out",
    "cli_wording",
    "FlagError",
    "bind_flags",
    "integer",
    "number",
    "fraction_or_none",
    "one_line",
    "reraise",
    "warn",
]

#: Python argument → command-line flag, for "Fix:" advice raised by the library (longest names first).
FLAGS: dict[str, str] = {
    "n_boot": "--n-boot",
    "n_shuffles": "--n-shuffles",
    "n_features": "--n-features",
    "n_hidden": "--n-hidden",
    "n_seeds": "--n-seeds",
    "max_units": "--max-units",
    "bin_size": "--bin-size",
    "align_relative": "--align-relative",
    "negatives": "--negatives",
    "groupby": "--groupby",
    "method": "--method",
    "metric": "--metric",
    "similarity": "--similarity",
    "null": "--null",
    "split": "--split",
    "seed": "--seed",
    "stimulus": "--stimulus",
    "window": "--window",
    "epochs": "--epochs",
    "measure": "--measure",
    "out": "--out",
}
#: Python boolean arguments that are switches on the command line (``overwrite=True`` → ``--overwrite``).
SWITCHES = ("overwrite", "zscore", "debiased")


def cli_wording(message: str, flags: Mapping[str, str] | None = None) -> str:
    """``message`` with the Python spellings of options (``n_boot=50``, ``ranks=(1, 13)``, ``layers=['a', 'b']``,
    ``zscore=True``, ``split=None``) rewritten as the command's flags (``--n-boot 50``, ``--ranks 1 13``,
    ``--layers a b``, ``--zscore``, ``--split none``).

    ``flags`` maps the command's Python arguments to its flags (``main`` takes them from the command's parser);
    only those are named, so an argument the command has no flag for keeps its Python spelling (it is advice for
    Python, e.g. ``ds.assign_coords(stimulus=ids)`` from ``compare``, which has no ``--stimulus``). A flag ending
    in ``=`` takes the value attached (``{"split": "--set directions.split="}`` → ``--set directions.split=0.3``,
    ``None`` → ``null``), and only in the message's "Fix:" part.
    A value that is a Python call (``similarity=Features(features=...)``) has no command-line form and is left
    as it is. Without ``flags``: :data:`FLAGS`."""
    names = {**FLAGS, **{name: "--" + name for name in SWITCHES}} if flags is None else dict(flags)
    if "ranks" in names:
        message = re.sub(r"\bomit ranks=", f"omit {names['ranks']}", message)
    head, fix, tail = message.partition("Fix:")  # --set-style flags are advice: only in the "Fix:" part
    message = _spell(head, {k: v for k, v in names.items() if not v.endswith("=")}) + fix + _spell(tail, names)
    for name, flag in (flags or {}).items():  # "toy.train: lr: found 0.0 ... Fix: pass lr within (0, inf)"
        if flag.endswith("="):
            continue
        message = re.sub(rf"(?<=: ){name}(?=: found )", f"{name} ({flag})", message, count=1)
        message = re.sub(rf"\bpass {name}\b(?!=)", f"pass {flag}", message)
    return message


def _with_value(flag: str, value: str) -> str:
    if flag.endswith("="):  # --set STEP.KEY=VALUE reads JSON
        return flag + {"none": "null", "True": "true", "False": "false"}.get(value, value)
    return f"{flag} {value}"


#: Python code in a message — a method or module call such as ``ds.assign_coords(stimulus=ids)`` or
#: ``neurosuper.compare.as_rdm(matrix, stimulus=ids)`` — is advice for Python: its arguments are not flags.
_PYTHON_CALL = re.compile(r"\b\w+(?:\.\w+)+\((?:[^()]|\([^()]*\))*\)")


def _spell(message: str, names: Mapping[str, str]) -> str:
    """``name=value`` (and ``name=True``, ``name=None``, ``name=[a, b]``) as ``flag value`` for each of ``names``,
    outside Python calls (:data:`_PYTHON_CALL`)."""
    out, start = [], 0
    for call in _PYTHON_CALL.finditer(message):
        out += [_spell_text(message[start : call.start()], names), call.group()]
        start = call.end()
    return "".join([*out, _spell_text(message[start:], names)])


def _list_value(flag: str, m: re.Match[str]) -> str:
    return _with_value(flag, " ".join(v.strip().strip("'\"") for v in m.group(1).split(",") if v.strip()))


def _one_value(flag: str, m: re.Match[str]) -> str:
    return _with_value(flag, m.group(2))


def _spell_text(message: str, names: Mapping[str, str]) -> str:
    for name, flag in sorted(names.items(), key=lambda kv: -len(kv[0])):
        switch = _with_value(flag, "True") if flag.endswith("=") else flag  # zscore=True -> --zscore
        message = re.sub(rf"(?<![\w.-]){name}=True\b", switch, message)
        message = re.sub(rf"(?<![\w.-]){name}=None\b", _with_value(flag, "none"), message)
        message = re.sub(  # lists and tuples: layers=['conv', 'fc'] -> --layers conv fc
            rf"(?<![\w.-]){name}=[\[(]([^\])]*)[\])]", partial(_list_value, flag), message
        )
        message = re.sub(rf"(?<![\w.-]){name}=(?![\w./:-]*\()(['\"]?)([\w./:-]+)\1", partial(_one_value, flag), message)
        if not flag.endswith("="):  # "pass density= instead": the flag alone
            message = re.sub(rf"(?<![\w.-]){name}=(?=[\s,.;)]|$)", flag, message)
    return message


def set_flags(step: str | None = None, steps: Iterable[Any] | None = None) -> dict[str, str]:
    """A step's settings as ``--set`` flags, for the wording of its messages (``split=0.38`` → ``--set
    directions.split=0.38``): ``step``'s settings, or (None) the settings only one step has. ``steps``: the
    command's steps (default: a report's, :func:`neurosuper.pipeline.steps.report_steps`)."""
    from ..pipeline.steps import report_steps

    owners: dict[str, list[str]] = {}
    for s in report_steps() if steps is None else steps:
        for key in s.settings_keys():
            owners.setdefault(key, []).append(s.name)
    if step is not None:
        return {key: f"--set {step}.{key}=" for key, names in owners.items() if step in names}
    return {key: f"--set {names[0]}.{key}=" for key, names in owners.items() if len(names) == 1}


def print_outcome(result: Any, flags: Mapping[str, str] | None = None, *, steps: Iterable[Any] | None = None) -> None:
    """Print what the main job's terminal shows after its first line: each step that was skipped or failed with its
    reason, then the headline sentences — in the command line's words (``flags``, and each step's settings as
    ``--set STEP.KEY=`` flags, :func:`set_flags` of ``steps``)."""
    steps = list(steps) if steps is not None else None
    flags = dict(flags or {})
    for step in result.steps:
        if step.status in ("skipped", "failed"):
            wording = {**flags, **set_flags(step.name, steps)}
            print(f"  {step.status} {step.name}: {cli_wording(step.reason or '', wording)}")
    wording = {**flags, **set_flags(None, steps)}
    for sentence in result.headline:
        print(f"  {cli_wording(sentence, wording)}")


def one_line(text: str) -> str:
    """A message on one line (a loader's multi-line list of choices joined with "; ")."""
    parts = [re.sub(r"^\s*-\s+", "", part).strip() for part in str(text).splitlines() if part.strip(" -")]
    line = parts[0] if parts else ""
    for part in parts[1:]:
        line += (" " if line.endswith((":", " with")) else "; ") + part
    return line


def reraise(err: NeurosuperError, flags: Mapping[str, str] | None = None) -> NeurosuperError:
    """The same error in command-line wording (:func:`cli_wording` with the command's ``flags``, i.e.
    ``args.cli_flags``; :func:`one_line`): ``raise reraise(err, args.cli_flags) from None``. Without ``flags`` the
    message is only put on one line: ``main`` words it with the command's flags (never guessing a flag the
    command does not have)."""
    text = one_line(str(err) if flags is None else cli_wording(str(err), flags))
    return err if text == str(err) else type(err)(text)


def warn(notes: Iterable[str], *, prefix: str = "", flags: Mapping[str, str] | None = None) -> None:
    """Print warnings on stderr, one line each, in command-line wording."""
    for note in notes:
        print(f"neurosuper: warning: {prefix}{one_line(cli_wording(str(note), flags))}", file=sys.stderr)


# -------------------------------------------------------------------------------------------------- numeric flags
class FlagError(NeurosuperError):
    """A flag's value refused by its argparse ``type`` (:func:`integer`, :func:`number`, :func:`fraction_or_none`)
    before anything runs; ``neurosuper`` prints it on one line and exits 2. Not a ValueError: argparse would put
    its own "invalid value" message in its place."""


class FlagValue:
    """An argparse ``type`` that converts a flag's text and checks its range; :func:`bind_flags` tells it the flag's
    name, which the message leads with (``--max-units: found -5; expected an integer >= 1. Fix: …``)."""

    def __init__(self, convert: Callable[[str], Any], span: str, ok: Callable[[Any], bool], name: str) -> None:
        self.convert, self.span, self.ok, self.flag = convert, span, ok, "value"
        self.__name__ = name  # argparse names the type by it in its own messages

    def __call__(self, text: str) -> Any:
        try:
            value = self.convert(text)
        except (TypeError, ValueError):
            value = self
        if value is self or not self.ok(value):
            raise FlagError(
                f"{self.flag}: found {text!r}; expected {self.span}. Fix: pass {self.flag} with {self.span} "
                "(the command's --help gives its default)"
            )
        return value


def integer(low: int | None = 1, high: int | None = None) -> FlagValue:
    """An argparse ``type`` for an integer flag in ``[low, high]`` (``None``: unbounded)."""
    span = f"an integer{f' >= {low}' if low is not None else ''}{f' and <= {high}' if high is not None else ''}"
    return FlagValue(int, span, lambda v: (low is None or v >= low) and (high is None or v <= high), "integer")


def number(
    low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False
) -> FlagValue:
    """An argparse ``type`` for a finite number in the interval given (``low_open``/``high_open`` exclude a bound)."""
    lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
    span = "a finite number" + (" " + " and ".join(x for x in (lo, hi) if x) if lo or hi else "")

    def ok(v: float) -> bool:
        if v != v or abs(v) == float("inf"):
            return False
        if low is not None and (v < low or (low_open and v == low)):
            return False
        return high is None or not (v > high or (high_open and v == high))

    return FlagValue(float, span, ok, "number")


def fraction_or_none() -> FlagValue:
    """An argparse ``type``: a fraction strictly between 0 and 1, or ``none`` (→ None)."""

    def convert(text: str) -> float | None:
        return None if text.strip().lower() == "none" else float(text)

    return FlagValue(convert, "a fraction > 0 and < 1, or none", lambda v: v is None or 0 < v < 1, "fraction")


def bind_flags(parser: argparse.ArgumentParser) -> None:
    """Tell each :class:`FlagValue` of ``parser``'s flags its flag's name (the long option)."""
    for action in parser._actions:
        if isinstance(action.type, FlagValue) and action.option_strings:
            action.type.flag = max(action.option_strings, key=len)


# -------------------------------------------------------------------------------------------------- outputs
def add_outputs(
    p: argparse.ArgumentParser,
    *,
    out: str | None = None,
    figure: str | None = None,
    required: bool = False,
    full_paths: bool = False,
) -> None:
    """``--out`` (help ``out``), ``--figure`` (help ``figure``, when the command draws one) and ``--overwrite``:
    the same three flags, meaning the same, in every command that writes files; ``--full-paths`` (``full_paths``)
    in those that write one result file (``save_result(..., full_paths=)``)."""
    if out is not None:
        p.add_argument("--out", required=required, help=out + "; checked before computing")
    if figure is not None:
        p.add_argument("--figure", help=figure + " (.png, .pdf, .svg, ...); checked before computing")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace outputs that exist (never an input of the command)",
    )
    if full_paths:
        p.add_argument(
            "--full-paths",
            action="store_true",
            help="record the input files' absolute paths in the result's provenance (default: their path relative "
            "to the result's folder when below it, else their name, with their sha256, so the file can be shared)",
        )


def _exists(flag: str, path: Path) -> FormatError:
    kind = "folder" if path.is_dir() else "file"
    return fail(
        f"{flag} {str(path)!r}",
        f"an existing {kind}",
        "a new path",
        f"add --overwrite to replace it, or choose another {flag}",
        FormatError,
    )


def _not_an_input(flag: str, path: Path, inputs: Sequence[str | Path]) -> None:
    for given in inputs:
        source = Path(given)
        try:
            same = source.exists() and path.exists() and path.resolve() == source.resolve()
        except OSError:
            same = False
        if same or Path(given).absolute() == path.absolute():
            raise fail(
                f"{flag} {str(path)!r}",
                "the command's input file",
                "an output path that is not one of the inputs",
                f"choose another {flag} (the input is never replaced, whatever --overwrite says)",
                FormatError,
            )


def check_file_out(
    path: str | Path, *, overwrite: bool, inputs: Sequence[str | Path] = (), flag: str = "--out"
) -> Path:
    """A result file (``.nc``/``.zarr``) to be written: a known suffix, its folder exists, not one of the
    ``inputs``, and new unless ``overwrite``."""
    from .._atomic import check_target
    from ..storage import file_format

    target = Path(path)
    _not_an_input(flag, target, inputs)
    try:
        file_format(target)
    except FormatError as err:
        raise FormatError(str(err).replace("name the file e.g.", f"{flag} e.g.")) from None
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise _exists(flag, target)
    return check_target(target, overwrite=overwrite)


def check_figure_out(
    path: str | Path, *, overwrite: bool, inputs: Sequence[str | Path] = (), flag: str = "--figure"
) -> Path:
    """A figure to be written: a suffix matplotlib writes, its folder exists, not an input, new unless
    ``overwrite``."""
    from .._atomic import check_target, figure_formats

    target = Path(path)
    _not_an_input(flag, target, inputs)
    supported = figure_formats()
    if target.suffix.lower().lstrip(".") not in supported:
        raise fail(
            f"{flag} {str(target)!r}",
            f"suffix {target.suffix or '(none)'!r}",
            f"one of {', '.join('.' + s for s in supported)}",
            f"{flag} {target.with_suffix('.png')}",
            FormatError,
        )
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise _exists(flag, target)
    return check_target(target, overwrite=overwrite)


def check_folder_out(path: str | Path, *, inputs: Sequence[str | Path] = (), flag: str = "--out") -> Path:
    """An output folder (``report``, ``demo``): not an existing file and not one of the inputs."""
    target = Path(path)
    _not_an_input(flag, target, inputs)
    if target.exists() and not target.is_dir():
        raise fail(
            f"{flag} {str(target)!r}",
            "an existing file",
            "a folder (new, or one this command wrote before)",
            f"{flag} {target.with_suffix('').name}-report",
            FormatError,
        )
    return target


def check_outputs(
    args: argparse.Namespace, *, inputs: Sequence[str | Path] = (), extra_figures: Sequence[str] = ()
) -> tuple[Path | None, Path | None]:
    """``--out`` (a result file) and ``--figure`` (and the figure flags named in ``extra_figures``, e.g.
    ``mei_figure``) checked before anything is computed; returns (out, figure) as given or None."""
    overwrite = bool(getattr(args, "overwrite", False))
    out = getattr(args, "out", None)
    figure = getattr(args, "figure", None)
    out_path = check_file_out(out, overwrite=overwrite, inputs=inputs) if out else None
    fig_path = check_figure_out(figure, overwrite=overwrite, inputs=inputs) if figure else None
    for name in extra_figures:
        value = getattr(args, name, None)
        if value:
            check_figure_out(value, overwrite=overwrite, inputs=inputs, flag="--" + name.replace("_", "-"))
    return (Path(out) if out and out_path else None), (Path(figure) if figure and fig_path else None)
