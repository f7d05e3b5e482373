"""JSON-safe attributes: the encoding that lets any ResponseSet attr survive netCDF and zarr.

netCDF attributes hold strings, numbers and flat numeric arrays only; zarr holds JSON but turns numpy arrays
into lists. So neurosuper stores plain ``str``/``int``/``float`` attrs natively and every other value (bool,
None, list, tuple, dict, numpy scalar or array) JSON-encoded, with type tags, under one reserved attr
(:data:`JSON_ATTR`). :func:`decode_attrs` restores the exact values and types.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["JSON_ATTR", "encode_attrs", "decode_attrs", "to_jsonable"]

#: Name of the reserved attribute holding the JSON-encoded attrs.
JSON_ATTR = "neurosuper_json_attrs"

_INT64 = 2**63


def _is_native(value: Any) -> bool:
    if type(value) is str or type(value) is float:
        return True
    return type(value) is int and -_INT64 <= value < _INT64


def to_jsonable(value: Any) -> Any:
    """Turn ``value`` into JSON-compatible data with type tags; raise ``TypeError`` when impossible."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and not isinstance(value, np.generic):
        return value
    if isinstance(value, np.generic):
        if value.dtype.kind not in "biufU":
            raise TypeError(f"numpy scalar of dtype {value.dtype} is not JSON-safe")
        return {"__numpy_scalar__": value.dtype.str, "value": value.item()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufU":
            raise TypeError(f"numpy array of dtype {value.dtype} is not JSON-safe")
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [to_jsonable(v) for v in value]}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"dict keys must be strings, found {bad[:3]!r}")
        return {k: to_jsonable(v) for k, v in value.items()}
    raise TypeError(f"a value of type {type(value).__name__} is not JSON-safe")


def _from_tagged(obj: dict) -> Any:
    if "__numpy_scalar__" in obj:
        return np.dtype(obj["__numpy_scalar__"]).type(obj["value"])
    if "__ndarray__" in obj:
        return np.array(obj["__ndarray__"], dtype=np.dtype(obj["dtype"])).reshape(obj["shape"])
    if "__tuple__" in obj:
        return tuple(obj["__tuple__"])
    return obj


def encode_attrs(attrs: dict) -> dict:
    """Attrs as netCDF/zarr can store them: natives kept, the rest JSON-encoded under :data:`JSON_ATTR`."""
    plain: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == JSON_ATTR:
            continue
        if _is_native(value):
            plain[key] = value
        else:
            extra[key] = to_jsonable(value)
    if extra:
        plain[JSON_ATTR] = json.dumps(extra)
    return plain


def decode_attrs(attrs: dict) -> dict:
    """Inverse of :func:`encode_attrs`; numpy scalars read back from netCDF become Python scalars."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == JSON_ATTR:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    if JSON_ATTR in attrs:
        out.update(json.loads(attrs[JSON_ATTR], object_hook=_from_tagged))
    return out
