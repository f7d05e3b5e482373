"""docs/cohorts.md prints what the code gives: its Python blocks run in order in a fresh folder (one namespace, as a
reader pasting them would), then its command; every output block must be exactly what they print."""

from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import shlex
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cohorts.md"


def blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced block of the page, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```", text, flags=re.S | re.M)


def run_page(text: str, folder: Path) -> list[str]:
    """The output of every code block (Python: its stdout; bash: the ``neurosuper`` command's stdout), in order."""
    from neurosuper.cli import main

    outputs: list[str] = []
    namespace: dict = {"__name__": "__docs__"}
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        for lang, body in blocks(text):
            buffer = io.StringIO()
            if lang == "python":
                with contextlib.redirect_stdout(buffer):
                    exec(compile(body, str(PAGE), "exec"), namespace)
            elif lang == "bash":
                words = shlex.split(body.replace("\\\n", " "))
                assert words[0] == "neurosuper"
                args = [a for w in words[1:] for a in (sorted(glob.glob(w)) if "*" in w else [w])]
                with contextlib.redirect_stdout(buffer):
                    assert main(args) == 0
            else:
                continue
            outputs.append(buffer.getvalue().replace(str(folder) + os.sep, "").rstrip("\n"))
    finally:
        os.chdir(cwd)
    return outputs


@pytest.mark.slow
def test_the_page_prints_what_the_code_gives(tmp_path):
    text = PAGE.read_text(encoding="utf-8")
    quoted = [body.rstrip("\n") for lang, body in blocks(text) if lang == "text"]
    outputs = run_page(text, tmp_path)
    assert len(outputs) == len(quoted) == 6
    for i, (got, shown) in enumerate(zip(outputs, quoted, strict=True)):
        assert got == shown, f"block {i + 1} prints\n{got}\nbut the page shows\n{shown}"
