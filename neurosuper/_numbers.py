"""The one rounding rule for numbers shown to people: every ``summary()`` and every headline goes through
:func:`rounded`.

A summary is JSON data: Python ``bool``/``int``/``float``/``str``/``None``, lists and dicts with string keys.
Floats keep :data:`DIGITS` significant digits (float noise removed; a p-value of 3e-9 stays 3e-9 where a fixed
number of decimals would make it 0); NaN and infinities become ``None``; numpy scalars and arrays become Python
numbers and lists; integers and booleans are kept exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["DIGITS", "rounded"]

#: Significant digits a summary keeps.
DIGITS = 4


def rounded(x: Any, digits: int = DIGITS) -> Any:
    """``x`` as JSON-safe data with every float rounded to ``digits`` significant digits.

    ``None``, ``bool``, ``str`` and integers (Python or numpy) pass unchanged (numpy ones as Python ones); a
    float (Python or numpy) is rounded to ``digits`` significant digits, ``None`` when NaN or infinite; a numpy
    array or 0-d array, a list or a tuple becomes a list (a 0-d array its value); a mapping becomes a dict with
    ``str`` keys; anything else its ``str``.
    """
    if x is None or isinstance(x, bool):
        return x
    if isinstance(x, str):
        return str(x)
    if isinstance(x, np.ndarray | np.generic):
        if x.ndim == 0:
            x = x.item()
            return x if isinstance(x, bool | str) or x is None else rounded(x, digits)
        return [rounded(v, digits) for v in x.tolist()]
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return float(f"{x:.{digits}g}") + 0.0  # + 0.0: no "-0.0"
    if isinstance(x, Mapping):
        return {str(k): rounded(v, digits) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [rounded(v, digits) for v in x]
    return str(x)
