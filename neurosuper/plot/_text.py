"""User strings (labels, layer and set names, titles) drawn as plain text: matplotlib reads text between two ``$``
as mathtext, so a label like ``$\\undefinedcommand$`` or ``$\\frac{`` would make a figure fail when it is drawn.
:func:`plain` escapes the dollars of one string; :func:`plain_figure` escapes every text of a figure (titles, axis
labels, legends, annotations, fixed and categorical tick labels); :func:`plain_text` is the decorator every public
plot function wears. The package's own labels use no mathtext, so nothing is lost."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["plain", "plain_figure", "plain_text"]

_DOLLAR = re.compile(r"(?<!\\)\$")
_F = TypeVar("_F", bound=Callable[..., Any])


def plain(text: Any) -> str:
    """``text`` as a string matplotlib draws literally: every unescaped ``$`` escaped (idempotent)."""
    return _DOLLAR.sub(r"\\$", str(text))


class _PlainFormatter:
    """A tick formatter that escapes the labels of the one it wraps (categorical axes format at draw time)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, x: Any, pos: Any = None) -> str:
        return plain(self.inner(x, pos))

    def format_ticks(self, values: Any) -> list[str]:
        return [plain(s) for s in self.inner.format_ticks(values)]


def plain_figure(fig: Any) -> Any:
    """Escape the dollars of every text of ``fig`` (in place) and return it."""
    from matplotlib.category import StrCategoryFormatter
    from matplotlib.text import Text
    from matplotlib.ticker import FixedFormatter, Formatter

    for text in fig.findobj(Text):
        value = text.get_text()
        if "$" in value and "\\mathdefault" not in value:  # a number a formatter drew is left as it is
            text.set_text(plain(value))
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for get, put in (
                (axis.get_major_formatter, axis.set_major_formatter),
                (axis.get_minor_formatter, axis.set_minor_formatter),
            ):
                formatter = get()
                if isinstance(formatter, FixedFormatter):
                    formatter.seq = [plain(s) for s in formatter.seq]
                elif isinstance(formatter, StrCategoryFormatter):
                    wrapped = type("PlainCategoryFormatter", (_PlainFormatter, Formatter), {})(formatter)
                    put(wrapped)
    return fig


def plain_text(func: _F) -> _F:
    """Decorate a plot function returning a Figure: its user strings are drawn as plain text."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return plain_figure(func(*args, **kwargs))

    return wrapper  # type: ignore[return-value]
