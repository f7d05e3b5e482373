"""Run mypy on the package and fail on any error that is not in ``mypy-baseline.txt`` (so the baseline only shrinks).

Usage (from anywhere; paths are relative to the repository root)::

    python tools/mypy_check.py            # CI: exit 1 on an error the baseline does not hold
    python tools/mypy_check.py --update   # rewrite mypy-baseline.txt from the errors mypy reports now

mypy runs as ``python -m mypy`` with the ``[tool.mypy]`` settings of ``pyproject.toml`` (which name the files to
check: ``neurosuper``). Each error line is compared without its line and column numbers, so that editing a file
does not invalidate the baseline entries below the edit::

    neurosuper/cli/nwb.py:113: error: Argument 1 to "f" has ...  [arg-type]   (as mypy prints it)
    neurosuper/cli/nwb.py: error: Argument 1 to "f" has ...  [arg-type]       (as the baseline holds it)

The baseline is a multiset: an entry listed twice allows that error twice in that file. Lines starting with ``#``
and blank lines are ignored. Entries mypy no longer reports are listed as fixed (the check still passes); run
``--update`` to drop them, so the same error cannot come back unnoticed. Regenerate the baseline with
``--update`` only to remove fixed errors or after an agreed change (a refactor, a new mypy): the diff of
``mypy-baseline.txt`` shows what was added.

mypy's cache (``.mypy_cache``) can hide an error a fresh run reports; pass ``--fresh`` (``--no-incremental``) to
check as CI does on a clean clone.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "mypy-baseline.txt"
HEADER = (
    "# mypy errors tolerated for now, one per line as mypy prints them without line numbers; the list only shrinks.\n"
    "# Checked by `python tools/mypy_check.py` (in .ci/run); regenerate with `python tools/mypy_check.py --update`.\n"
)
#: ``path:line[:column][:end_line:end_column]: error: message  [code]``
ERROR = re.compile(r"^(?P<path>[^:\n]+?)(?::\d+){1,4}: (?P<rest>error: .*)$")


def normalise(line: str) -> str | None:
    """The baseline form of one line of mypy's output (``None`` for notes, summaries and blank lines)."""
    line = line.rstrip()
    match = ERROR.match(line)
    if match:
        return f"{match['path'].replace(chr(92), '/')}: {match['rest']}"
    if re.match(r"^[^:\n]+: error: ", line):  # an error about a whole file (no line number)
        path, rest = line.split(": ", 1)
        return f"{path.replace(chr(92), '/')}: {rest}"
    return None


def run_mypy(fresh: bool) -> list[str]:
    """mypy's errors, normalised; exits with mypy's output when mypy itself fails (exit status 2: bad config...)."""
    cmd = [sys.executable, "-m", "mypy", *(["--no-incremental"] if fresh else [])]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"mypy_check: mypy failed (exit status {proc.returncode}): {' '.join(cmd)}")
    return [e for e in map(normalise, proc.stdout.splitlines()) if e is not None]


def read_baseline() -> list[str]:
    if not BASELINE.exists():
        return []
    lines = BASELINE.read_text(encoding="utf-8").splitlines()
    return [line.rstrip() for line in lines if line.strip() and not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite mypy-baseline.txt from mypy's errors now")
    parser.add_argument("--fresh", action="store_true", help="run mypy without its cache (as on a clean clone)")
    args = parser.parse_args(argv)

    errors = run_mypy(args.fresh)
    now, allowed = collections.Counter(errors), collections.Counter(read_baseline())
    new = now - allowed
    fixed = allowed - now
    if args.update:
        BASELINE.write_text(HEADER + "".join(f"{e}\n" for e in sorted(errors)), encoding="utf-8")
        print(
            f"mypy_check: wrote {BASELINE.name}: {len(errors)} errors "
            f"({sum(new.values())} added, {sum(fixed.values())} removed)"
        )
        return 0
    if fixed:
        print(f"mypy_check: {sum(fixed.values())} baseline errors are fixed; drop them with --update:")
        for e in sorted(fixed.elements()):
            print(f"  {e}")
    if new:
        print(f"mypy_check: {sum(new.values())} mypy errors not in {BASELINE.name}:")
        for e in sorted(new.elements()):
            print(f"  {e}")
        print("Fix them (a `# type: ignore[code]` only with the reason, where a third-party stub is wrong).")
        return 1
    print(f"mypy_check: OK, {len(errors)} errors, all in {BASELINE.name} ({sum(allowed.values())} listed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
