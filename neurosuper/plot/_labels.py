"""Labels taken from the data (unit and stimulus ids, layer, area and set names) drawn at a bounded length: matplotlib
lays out and renders every character of a text on each draw (constrained layout draws several times), so a
100,000-character unit id made one MEI grid take minutes. :func:`short_label` keeps the start and the end of a long
label and says how long it was."""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_LABEL", "short_label"]

#: The most characters of a data label drawn in a figure.
MAX_LABEL = 40


def short_label(text: Any, limit: int = MAX_LABEL) -> str:
    """``str(text)``, or when longer than ``limit`` characters its start and end around "…" and its length:
    ``"UUUUUUUUUUUUUUUUUUUUUUUUU…UUUUUUUUUUUU (100,000 characters)"``."""
    s = str(text)
    if len(s) <= limit:
        return s
    keep = max(limit - 1, 2)
    head = (2 * keep) // 3
    return f"{s[:head]}…{s[len(s) - (keep - head) :]} ({len(s):,} characters)"
