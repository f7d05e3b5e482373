"""Argument checks for every analysis, in one place: a bad argument raises :class:`AnalysisError` saying what was
found, what was expected and how to fix it (``errors.fail``'s message)."""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import xarray as xr

from .errors import AnalysisError, FormatError, NeurosuperError, fail
from .format import validate

__all__ = [
    "check_int",
    "check_float",
    "check_choice",
    "check_dims",
    "check_fit_values",
    "check_not_url",
    "responses_of",
    "check_regular_file",
]


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


def check_fit_values(X: Any, *, caller: str = "", name: str = "X") -> None:
    """Raise :class:`AnalysisError` when a (samples, units) array cannot support a fit: every unit constant (e.g.
    all-zero data: nothing varies, so nothing can be found) or values so large that their sums of squares overflow
    (e.g. 1e300: covariances and eigensolvers fail). Finite values are assumed (checked before); numpy or dask."""
    import numpy as np

    where = f"{caller}: {name}" if caller else name
    kind = np.dtype(getattr(X, "dtype", np.float64))
    top = np.finfo(kind if kind.kind == "f" else np.float64).max
    n = max(int(X.shape[0]), int(X.shape[1]), 1)
    if hasattr(X, "dask"):  # one pass, one chunk at a time
        import dask
        import dask.array as da

        low, high = dask.compute(da.nanmin(X, axis=0), da.nanmax(X, axis=0), scheduler="synchronous")
    else:  # NaN (a missing stimulus) is left out; a unit with none but NaN is neither constant nor large
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    largest = float(np.nanmax(np.abs(np.concatenate([low, high])), initial=0.0)) if low.size else 0.0
    limit = float(np.sqrt(top / n)) / 10  # n squares of it still sum to less than the dtype's maximum
    if largest > limit:
        raise fail(
            where,
            f"values as large as {largest:.3g} in magnitude",
            f"values below {limit:.3g} in magnitude (larger ones overflow the covariances and eigensolvers)",
            "rescale the responses (e.g. divide by their largest value, or z-score each unit) and run again",
            AnalysisError,
        )
    if low.size and bool(np.all(low == high)):
        value = float(low[0]) if bool(np.all(low == low[0])) else None
        raise fail(
            where,
            f"constant data: all {low.size} units have the same response to every stimulus"
            + (f" (all {value:g})" if value is not None else ""),
            "responses that vary across stimuli in at least one unit",
            "check the data (the time window, the measure, the layer recorded); there is nothing to find in it",
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


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_not_url(path: str | os.PathLike, *, expected: str = "a local file") -> None:
    """Raise :class:`FormatError` when ``path`` is a URL (``scheme://…``): this reader takes files on disk; URLs
    are read directly in a future version, so the fix is to download the file first."""
    text = str(path)
    scheme, sep, _ = text.partition("://")
    if sep and scheme.isascii() and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        raise fail(
            f"path {text!r}",
            f"a URL ({scheme}://), which this command cannot read (URLs are read directly in a future version)",
            expected,
            f"download it first (e.g. curl -LO {text!r}) and pass the local path",
            FormatError,
        )


def check_regular_file(
    path: str | os.PathLike,
    *,
    expected: str,
    fix: str = "pass the path of a file saved on disk (copy the stream to a file first)",
    folder_ok: bool = False,
    cls: type[NeurosuperError] = FormatError,
) -> None:
    """Raise ``cls`` (a :class:`FormatError`) when ``path`` is a FIFO, a device or a socket — anything but a regular
    file (or, with ``folder_ok``, a folder, e.g. a zarr store) — before it is opened: reading a FIFO or a terminal
    waits for a writer for ever, and a device may never end. Follows symlinks; a missing path passes (the caller
    says "no such file")."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or (folder_ok and stat.S_ISDIR(mode)):
        return
    kind = next((name for test, name in _SPECIAL_KINDS if test(mode)), "a folder" if stat.S_ISDIR(mode) else None)
    raise fail(f"path {str(Path(path))!r}", f"{kind or 'not a regular file'}, which cannot be read", expected, fix, cls)
