"""Exceptions and warnings raised by neurosuper.

Every error the package raises on bad input derives from :class:`NeurosuperError`, and its message says
what was found, what was expected and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "NeurosuperError",
    "FormatError",
    "NWBLayoutError",
    "AnalysisError",
    "NeurosuperWarning",
]


class NeurosuperError(Exception):
    """Base class of every neurosuper error."""


class FormatError(NeurosuperError, ValueError):
    """A ResponseSet (or a file meant to hold one) does not follow the format (see ``docs/format.md``)."""


class NWBLayoutError(NeurosuperError, ValueError):
    """An NWB file lacks what the loader needs, or holds several candidates and none was chosen."""


class AnalysisError(NeurosuperError, ValueError):
    """The data are valid but cannot support the analysis asked for (too few stimuli, repeats, ...)."""


class NeurosuperWarning(UserWarning):
    """A documented fallback was applied (e.g. constant units dropped); the message counts what changed."""
