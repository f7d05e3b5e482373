"""The attrs every analysis result carries (read by ``summary``, the CLI and the report).

:func:`stamp` sets ``neurosuper_version``, ``analysis``, ``reference``, ``options`` (a JSON string, so it
survives netCDF/zarr) and ``inputs`` (``[{"path", "sha256"}]`` of the files the set came from — taken from the
input set's own ``inputs``/``source`` attrs; hashing happens once, when a set is loaded from a file).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import xarray as xr

from ._attrs import to_jsonable
from ._version import __version__

__all__ = ["stamp", "file_sha256", "file_input", "inputs_of", "options_of"]

T = TypeVar("T", xr.Dataset, xr.DataArray)


def _plain(value: Any) -> Any:
    """A JSON-safe stand-in for an option value (arrays and objects become a short description)."""
    try:
        json.dumps(to_jsonable(value))
    except TypeError:
        shape = getattr(value, "shape", None)
        return f"<{type(value).__name__}{f' shape {tuple(shape)}' if shape is not None else ''}>"
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def file_sha256(path: str | os.PathLike, *, chunk: int = 2**22) -> str:
    """sha256 of a file, or of a directory's files (sorted relative paths and contents), e.g. a zarr store."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


#: Files larger than this are not hashed when loaded (it would read them whole, defeating lazy loading):
#: their ``sha256`` is ``None`` and ``size``/``mtime`` identify them instead.
HASH_LIMIT_BYTES = 2 * 2**30


def file_input(path: str | os.PathLike) -> dict[str, Any]:
    """``{"path", "sha256", "size"}`` of an input file or store (recorded by loaders in a set's ``inputs`` attr)."""
    path = Path(path)
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    size = sum(f.stat().st_size for f in files)
    out: dict[str, Any] = {"path": str(path.resolve()), "size": size}
    if size <= HASH_LIMIT_BYTES:
        out["sha256"] = file_sha256(path)
    else:
        out["sha256"] = None
        out["mtime"] = max(f.stat().st_mtime for f in files)
    return out


def inputs_of(obj: xr.Dataset | xr.DataArray | None) -> list[dict[str, str]]:
    """The input files recorded on a set or result (``inputs`` attr, a list or its JSON text)."""
    if obj is None:
        return []
    found = obj.attrs.get("inputs", [])
    if isinstance(found, str):
        try:
            found = json.loads(found)
        except ValueError:
            return []
    return [dict(i) for i in found if isinstance(i, Mapping) and "path" in i]


def options_of(result: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """The options a result was computed with (its ``options`` attr decoded)."""
    raw = result.attrs.get("options", "{}")
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def stamp(result: T, *, analysis: str, reference: str, options: Mapping[str, Any] | None = None,
          inputs_from: xr.Dataset | xr.DataArray | None = None) -> T:
    """``result`` with the provenance attrs set (in place on the object given, which is also returned).

    ``options`` are the arguments that shaped the result (non-JSON values are described, not stored);
    ``inputs_from`` is the set the result was computed from (its recorded input files are copied).
    """
    result.attrs.update({
        "neurosuper_version": __version__,
        "analysis": analysis,
        "reference": reference,
        "options": json.dumps({str(k): _plain(v) for k, v in (options or {}).items()}, sort_keys=True),
        "inputs": inputs_of(inputs_from),
    })
    return result
