"""A griffe extension for the API reference (mkdocs.yml loads it): the docstrings' reStructuredText habits as Markdown.

neurosuper's docstrings are numpy-style and read well in ``help()`` and an editor; three reST habits in them do not
render as Markdown, so before mkdocstrings renders a docstring this extension rewrites them:

- doctest blocks (``>>>`` lines with their output) become fenced ``pycon`` code, doctest flags trimmed
  (Markdown would render ``>>>`` as three nested block quotes);
- Sphinx roles ``:func:`find``` become code spans (``find``; ``~a.b`` shows ``b``, as Sphinx does);
- a paragraph ending in ``::`` (a reST literal block follows) ends in ``:``; the indented block is Markdown code.

The source is untouched. ``tests/test_docs.py`` tests :func:`to_markdown`.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|exc|obj|const|py:\w+):`(~?)\.?([^`]+)`")
_DOCTEST_FLAG = re.compile(r"\s*#\s*doctest:.*$")
_PROMPT = re.compile(r"^(\s*)>>>(?: |$)")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def to_markdown(text: str) -> str:
    """The docstring ``text`` with doctest blocks fenced, Sphinx roles as code and ``::`` as ``:``."""
    lines = text.splitlines()
    out: list[str] = []
    fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fence = not fence
        if fence:
            out.append(line)
            i += 1
            continue
        prompt = _PROMPT.match(line)
        if prompt:
            indent = prompt.group(1)
            if out and out[-1].strip():
                out.append("")
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip():  # prompts, continuations and output, up to a blank line
                out.append(_DOCTEST_FLAG.sub("", lines[i]))
                i += 1
            out.append(f"{indent}```")
            continue
        line = _ROLE.sub(_role, line)
        if line.endswith("::"):
            line = line[:-1]
        out.append(line)
        i += 1
    return "\n".join(out)


class RestToMarkdown(griffe.Extension):
    """Rewrite every docstring with :func:`to_markdown` once griffe has loaded the package."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if not obj.is_alias and obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
