"""JSON-safe attributes: the encoding that lets any ResponseSet attr survive netCDF and zarr unchanged.

netCDF attributes hold strings, numbers and flat numeric arrays only; zarr holds JSON but turns numpy arrays
into lists; and xarray's CF decoder *interprets* some attribute names on load (``units`` with "since" turns a
coordinate into datetimes, ``_FillValue``/``missing_value`` mask values, ``scale_factor`` rescales them,
``dtype`` casts, ``coordinates`` re-links variables). So neurosuper stores an attr natively only when it is a
plain ``str`` (no NUL, valid UTF-8), ``int`` (64-bit) or ``float`` under an ordinary name; every other value
(bool, None, list, tuple, dict, numpy scalar or array) and every attr under a reserved name is JSON-encoded,
with type tags, under one reserved attr (:data:`JSON_ATTR`). :func:`decode_attrs` restores exact values and
types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["JSON_ATTR", "RESERVED_KEYS", "encode_attrs", "decode_attrs", "to_jsonable"]

#: Name of the reserved attribute holding the JSON-encoded attrs.
JSON_ATTR = "neurosuper_json_attrs"
#: Attr names netCDF, zarr or xarray's CF decoding give a meaning to (plus every name starting with "_"):
#: always stored JSON-encoded so that they come back as written and never alter the data on load.
RESERVED_KEYS = frozenset(
    {
        "units",
        "calendar",
        "missing_value",
        "scale_factor",
        "add_offset",
        "dtype",
        "coordinates",
        "bounds",
        "compress",
        "grid_mapping",
        "cell_measures",
        "formula_terms",
        "ancillary_variables",
        "standard_name",
        "flag_values",
        "flag_masks",
        "valid_min",
        "valid_max",
        "valid_range",
        "Conventions",
    }
)

_INT64 = 2**63
_TAGS = ("__numpy_scalar__", "__ndarray__", "__tuple__", "__dict__")


def _plain_text(text: str) -> bool:
    """Text HDF5 stores as written: valid UTF-8 (no lone surrogates), no NUL character."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _is_native(key: str, value: Any) -> bool:
    """Whether ``key: value`` can be stored as a plain netCDF/zarr attr and read back identical."""
    if not key or key.startswith("_") or key in RESERVED_KEYS or not _plain_text(key):
        return False
    if type(value) is float:
        return True
    if type(value) is int:
        return -_INT64 <= value < _INT64
    return type(value) is str and _plain_text(value)


def to_jsonable(value: Any) -> Any:
    """Turn ``value`` into JSON-compatible data with type tags; raise ``TypeError`` when impossible.

    Accepted: None, bool, int, float, str, numpy scalars and arrays of bool/int/uint/float/unicode dtype,
    and lists, tuples and dicts (string keys) of these, nested to any depth.
    """
    if isinstance(value, np.generic):
        if value.dtype.kind not in "biufU":
            raise TypeError(f"a numpy scalar of dtype {value.dtype}")
        return {"__numpy_scalar__": value.dtype.str, "value": value.item()}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufU":
            raise TypeError(f"a numpy array of dtype {value.dtype}")
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [to_jsonable(v) for v in value]}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"a dict with non-string keys {bad[:3]!r}")
        out = {k: to_jsonable(v) for k, v in value.items()}
        # a user dict that happens to use one of our tag keys is wrapped, so it is not mistaken for a tag
        return {"__dict__": out} if any(t in value for t in _TAGS) else out
    raise TypeError(f"a value of type {type(value).__name__}")


def _restore(obj: Any) -> Any:
    """Inverse of :func:`to_jsonable` on parsed JSON (top-down, so a wrapped user dict stays a dict)."""
    if isinstance(obj, list):
        return [_restore(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__numpy_scalar__" in obj:
        return np.dtype(obj["__numpy_scalar__"]).type(obj["value"])
    if "__ndarray__" in obj:
        return np.array(obj["__ndarray__"], dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])
    if "__tuple__" in obj:
        return tuple(_restore(v) for v in obj["__tuple__"])
    if "__dict__" in obj:
        obj = obj["__dict__"]
    return {k: _restore(v) for k, v in obj.items()}


def encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attrs as netCDF/zarr can store them: natives kept, the rest JSON-encoded under :data:`JSON_ATTR`.

    Raises ``TypeError`` for a value :func:`to_jsonable` cannot encode.
    """
    plain: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == JSON_ATTR:
            continue
        if _is_native(key, value):
            plain[key] = value
        else:
            extra[key] = to_jsonable(value)
    if extra:
        plain[JSON_ATTR] = json.dumps(extra)
    return plain


def decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`encode_attrs`; numpy scalars read back from netCDF become Python scalars."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == JSON_ATTR:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    if JSON_ATTR in attrs:
        out.update(_restore(json.loads(attrs[JSON_ATTR])))
    return out
