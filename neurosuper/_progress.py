"""The one progress bar: tqdm, shown only when asked (``progress=True``) AND stderr is a terminal.

On a non-terminal (a pipe, a CI log, a file) a bar would only clutter the output — and print half a bar before
an error line — so it stays silent there (tqdm's ``disable=None``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


def progress_bar(iterable: Iterable[Any] | None = None, *, progress: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled when ``progress`` is false or stderr is not a terminal."""
    return tqdm(iterable, disable=None if progress else True, **kwargs)
