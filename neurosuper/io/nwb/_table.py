"""Small helpers for hdmf DynamicTables: which columns are plain scalars, reading them, decoding bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["decode", "is_scalar_column", "read_scalar_columns", "ragged_columns", "preview"]


def preview(values: Sequence[Any] | np.ndarray, n: int = 6) -> str:
    """``'a', 'b', ... (12 in all)``: the first few values of a list, for error messages."""
    values = list(np.asarray(values, dtype=object).tolist()) if not isinstance(values, list) else values
    more = f", ... ({len(values)} in all)" if len(values) > n else ""
    return ", ".join(repr(v) for v in values[:n]) + more


def decode(values: Any) -> Any:
    """bytes → str, for a scalar or an object array (HDF5 strings of older files come back as bytes)."""
    if isinstance(values, bytes):
        return values.decode("utf-8", "replace")
    if isinstance(values, np.ndarray) and values.dtype.kind in "OS":
        out = np.empty(values.shape, dtype=object)
        out[...] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values.ravel().tolist()]
        return out
    return values


def ragged_columns(table: Any) -> set[str]:
    """Names of columns stored ragged (with a ``*_index``) or as references to another table."""
    from hdmf.common import DynamicTableRegion, VectorIndex

    names: set[str] = set()
    for col in table.columns:
        if isinstance(col, VectorIndex):
            names.add(col.name)
            target = col.target
            names.add(target.name)
            while isinstance(target, VectorIndex):  # doubly ragged
                target = target.target
                names.add(target.name)
        elif isinstance(col, DynamicTableRegion):
            names.add(col.name)
    return names


def is_scalar_column(table: Any, col: Any) -> bool:
    """True for a 1-D column of numbers, bools or strings (one value per row)."""
    if col.name in ragged_columns(table):
        return False
    data = col.data
    shape = getattr(data, "shape", None)
    if shape is None:
        try:
            shape = np.shape(data)
        except (TypeError, ValueError):
            return False
    if len(shape) != 1:
        return False
    if shape[0] == 0:
        return True
    first = data[0]
    return isinstance(first, str | bytes | bool | int | float | np.number | np.bool_)


def read_scalar_columns(table: Any) -> pd.DataFrame:
    """Every scalar column of ``table`` as a DataFrame (index = row ids, in file order); strings decoded."""
    frame = pd.DataFrame(index=pd.Index(np.asarray(table.id.data[:]), name="id"))
    for col in table.columns:
        if is_scalar_column(table, col):
            frame[col.name] = decode(np.asarray(col.data[:]))
    return frame
