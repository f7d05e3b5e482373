"""Exceptions and warnings raised by neurosuper.

Every error the package raises on bad input derives from :class:`NeurosuperError`, and its message says
what was found, what was expected and how to fix it.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, overload

__all__ = [
    "fail",
    "preview",
    "NeurosuperError",
    "FormatError",
    "NWBLayoutError",
    "AnalysisError",
    "NotEnoughData",
    "NeurosuperWarning",
    "DivergedWarning",
    "recorded_warnings",
]


class NeurosuperError(Exception):
    """Base class of every neurosuper error."""


class FormatError(NeurosuperError, ValueError):
    """A ResponseSet (or a file meant to hold one) does not follow the format (see ``docs/format.md``)."""


class NWBLayoutError(NeurosuperError, ValueError):
    """An NWB file lacks what the loader needs, or holds several candidates and none was chosen."""

    #: The same sentence with its fix written with CLI flags, where the loader knows one (else None).
    cli_message: str | None = None


class AnalysisError(NeurosuperError, ValueError):
    """The data are valid but cannot support the analysis asked for (too few stimuli, repeats, ...)."""


class NotEnoughData(AnalysisError):
    """The data are valid but below an analysis's documented minimum (its ``MIN_*`` constant; the table "Minimum
    data" in ``docs/getting-started.md``): a number computed from them would read like a finding without being one.

    Besides the message, it says ``what`` was counted (``"ranks to fit"``, ``"units per layer"``, ``"stimuli"``),
    how many were ``found``, how many are ``needed``, and ``need``: what data would give them, in words. The
    pipeline's steps record it per set as ``{"not_enough_data": err.as_entry()}`` and the headline says "not enough
    data" instead of a number. ``not_fittable`` is True (as on the other errors of a fit that cannot be made).
    """

    not_fittable = True

    def __init__(
        self, message: str, *, analysis: str = "", what: str = "", found: Any = None, needed: Any = None, need: str = ""
    ) -> None:
        super().__init__(message)
        self.analysis, self.what, self.found, self.needed, self.need = analysis, what, found, needed, need

    def as_entry(self) -> dict[str, Any]:
        """``{analysis, what, found, needed, need, reason}``: JSON-safe, for a step's summary."""
        return {
            "analysis": self.analysis,
            "what": self.what,
            "found": self.found,
            "needed": self.needed,
            "need": self.need,
            "reason": str(self),
        }


class NeurosuperWarning(UserWarning):
    """A documented fallback was applied (e.g. constant units dropped); the message counts what changed."""


class DivergedWarning(NeurosuperWarning):
    """Some toy-model trainings diverged (non-finite or rising loss): the message names them and the fix."""


def preview(values: Sequence[Any] | Any, n: int = 5) -> str:
    """The first ``n`` of ``values`` as ``'a', 'b', ... (N in all)`` — for naming ids in an error message."""
    import numpy as np

    items = list(np.asarray(values).ravel().tolist())
    more = f" ... ({len(items)} in all)" if len(items) > n else ""
    return ", ".join(repr(v) for v in items[:n]) + more


_E = TypeVar("_E", bound=NeurosuperError)


@overload
def fail(what: str, found: str, expected: str, fix: str) -> FormatError: ...
@overload
def fail(what: str, found: str, expected: str, fix: str, cls: type[_E]) -> _E: ...
def fail(what: str, found: str, expected: str, fix: str, cls: type[NeurosuperError] = FormatError) -> NeurosuperError:
    """The exception every bad input gets: ``"<what>: found <found>; expected <expected>. Fix: <fix>"``.

    Returned, not raised, so the caller writes ``raise fail(...)`` and tracebacks point at the check.
    """
    return cls(f"{what}: found {found}; expected {expected}. Fix: {fix}")


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[str]]:
    """Collect the messages of the :class:`NeurosuperWarning` s raised inside — each once, in order — in the list
    it yields (filled when the block ends, also when it raises), for a summary or a report to show; every other
    warning is issued again as it was, never swallowed.

    >>> with recorded_warnings() as notes:       # doctest: +SKIP
    ...     result = analysis(ds)
    >>> entry["warnings"] = notes
    """
    notes: list[str] = []
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield notes
    finally:
        for w in caught:
            if issubclass(w.category, NeurosuperWarning):
                if str(w.message) not in notes:
                    notes.append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
