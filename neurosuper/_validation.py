"""Argument checks for every analysis, in one place: a bad argument raises :class:`AnalysisError` saying what was
found, what was expected and how to fix it (``errors.fail``'s message)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any

import xarray as xr

from .errors import AnalysisError, fail
from .format import validate

__all__ = ["check_int", "check_float", "check_choice", "check_dims", "responses_of"]


def check_int(
    name: str, value: Any, *, low: int | None = 1, high: int | None = None, caller: str = "", fix: str | None = None
) -> int:
    """``value`` as an int in ``[low, high]`` (bounds inclusive; ``None`` = unbounded); bools are refused."""
    where = f"{caller}: {name}" if caller else name
    span = f"an integer{f' >= {low}' if low is not None else ''}{f' and <= {high}' if high is not None else ''}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise fail(where, repr(value), span, fix or f"pass {name}={low if low is not None else 0}", AnalysisError)
    n = int(value)
    if (low is not None and n < low) or (high is not None and n > high):
        bound = low if low is not None and n < low else high
        raise fail(where, repr(n), span, fix or f"pass {name}={bound}", AnalysisError)
    return n


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    caller: str = "",
    fix: str | None = None,
) -> float:
    """``value`` as a finite float in the interval given (``low_open``/``high_open`` exclude the bound)."""
    where = f"{caller}: {name}" if caller else name
    lo = "" if low is None else f"{'(' if low_open else '['}{low}"
    hi = "" if high is None else f"{high}{')' if high_open else ']'}"
    span = f"a finite number in {lo or '(-inf'}, {hi or 'inf)'}"
    if isinstance(value, bool) or not isinstance(value, Real) or value != value or abs(value) == float("inf"):
        raise fail(where, repr(value), span, fix or f"pass a number for {name}", AnalysisError)
    v = float(value)
    if low is not None and (v < low or (low_open and v == low)):
        raise fail(where, repr(value), span, fix or f"pass {name} within {lo}, {hi or 'inf)'}", AnalysisError)
    if high is not None and (v > high or (high_open and v == high)):
        raise fail(where, repr(value), span, fix or f"pass {name} within {lo or '(-inf'}, {hi}", AnalysisError)
    return v


def check_choice(name: str, value: Any, choices: Iterable[Any], *, caller: str = "") -> Any:
    """``value`` if it is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        where = f"{caller}: {name}" if caller else name
        raise fail(where, repr(value), f"one of {choices}", f"pass {name}={choices[0]!r}", AnalysisError)
    return value


def check_dims(da: xr.DataArray, required: Sequence[str], *, caller: str = "", name: str = "input") -> None:
    """Raise when ``da`` lacks one of the ``required`` dims."""
    missing = [d for d in required if d not in da.dims]
    if missing:
        where = f"{caller}: {name}" if caller else name
        raise fail(
            where,
            f"dims {tuple(map(str, da.dims))} without {missing}",
            f"dims including {tuple(required)}",
            f"rename the dims, e.g. da.rename({{'old': {missing[0]!r}}})",
            AnalysisError,
        )


def responses_of(data: xr.Dataset | xr.DataArray, *, caller: str = "") -> xr.DataArray:
    """The ``responses`` of a ResponseSet (validated), or a bare DataArray that has ``stimulus`` and ``unit``."""
    if isinstance(data, xr.Dataset):
        return validate(data)["responses"]
    if isinstance(data, xr.DataArray):
        check_dims(data, ("stimulus", "unit"), caller=caller, name="responses")
        return data
    raise fail(
        caller or "input",
        f"a {type(data).__name__}",
        "a ResponseSet (xarray.Dataset) or its 'responses'",
        "build a set with neurosuper.from_array(array, system=..., measure=...)",
        AnalysisError,
    )
