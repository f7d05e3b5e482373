"""Reading the numbers the docs quote: a page's section, its code blocks and tables, and "does this computed value
print as the docs print it". Used by tests/test_docs_realdata.py and tests/test_directions_realdata.py (test modules
never import each other, so the helper lives here)."""

from __future__ import annotations

import ast
import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_HEADING = re.compile(r"^#{1,6} \S")


def section(page: str, heading: str) -> str:
    """The text of ``docs/<page>`` (or ``README.md``) from the line ``heading`` to the next heading of any level;
    lines inside code fences (``# comments``) are not headings."""
    path = ROOT / page if page == "README.md" else ROOT / "docs" / page
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    out, fenced = [lines[start]], False
    for line in lines[start + 1 :]:
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and _HEADING.match(line):
            break
        out.append(line)
    return "\n".join(out) + "\n"


def flat(text: str) -> str:
    """``text`` with every run of whitespace one space (prose wraps anywhere)."""
    return " ".join(text.split())


def code_blocks(text: str, lang: str = "python") -> list[str]:
    """The fenced blocks of ``text`` tagged ``lang`` (``""`` for untagged ones), each without its fences."""
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
                blocks.append((line[3:].strip(), current))
            else:
                current = None
        elif current is not None:
            current.append(line)
    return ["\n".join(body) + "\n" for tag, body in blocks if tag == lang]


def table(text: str, first_cell: str) -> list[str]:
    """The cells of the markdown table row of ``text`` whose first cell is ``first_cell`` (else the first row whose
    first cell starts with it)."""
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.lstrip().startswith("|")
    ]
    for cells in [r for r in rows if r[0] == first_cell] + [r for r in rows if r[0].startswith(first_cell)]:
        return cells
    raise AssertionError(f"no table row starting with {first_cell!r}")


def as_float(quoted: str) -> float:
    """A number as the docs print it: Unicode minus, thin spacing, ``3 × 10⁻⁵``, a percent sign, bold."""
    s = quoted.strip().strip("*").replace("−", "-").replace("%", "").strip()
    sup = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    m = re.fullmatch(r"(-?[\d.]+) × 10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", s)
    if m:
        return float(m.group(1)) * 10.0 ** int(m.group(2).translate(sup))
    return float(s.replace(",", ""))


def prints_as(value: float, quoted: str, *, scale: float = 1.0) -> bool:
    """True when ``value`` (times ``scale``, e.g. 100 for a percentage) rounds to ``quoted`` at the precision the
    docs print: half a unit of its last digit (of the mantissa for ``a × 10⁻ⁿ``)."""
    s = quoted.strip().strip("*").replace("−", "-").replace("%", "").strip()
    mantissa = s.split(" × ")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    target = as_float(quoted)
    unit = 10.0**-decimals * (abs(target) / abs(float(mantissa)) if " × " in s else 1.0)
    return abs(value * scale - target) <= 0.5 * unit * (1 + 1e-9) + 1e-12


@contextlib.contextmanager
def working_folder(folder: Path) -> Iterator[Path]:
    """Run in ``folder`` with ``datasets`` linked to the repository's, so that an example's ``datasets/real/...``
    paths resolve as from a clone's root and whatever it writes lands in ``folder``."""
    link = folder / "datasets"
    if not link.exists():
        link.symlink_to(ROOT / "datasets", target_is_directory=True)
    old = Path.cwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(old)


def run_example(code: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Execute a docs code block statement by statement and return its namespace; top-level statements whose source
    mentions one of ``skip`` (names the page leaves to the reader, e.g. ``network``) are left out."""
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    tree = ast.parse(code)
    for node in tree.body:
        source = ast.get_source_segment(code, node) or ""
        if any(name in source for name in skip):
            continue
        exec(compile(ast.Module(body=[node], type_ignores=[]), "<docs example>", "exec"), namespace)  # noqa: S102
    return namespace
