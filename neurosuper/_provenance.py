"""The attrs every analysis result carries (read by ``summary``, the CLI and the report).

:func:`stamp` sets ``neurosuper_version``, ``analysis``, ``reference``, ``options`` (a JSON string, so it
survives netCDF/zarr) and ``inputs`` (``[{"path", "sha256", "size"}]`` of the files the set came from).
Loaders record the file they read in the set's ``encoding[INPUTS_KEY]`` (not in attrs, so a loaded set stays
identical to the one saved; xarray carries ``encoding`` through copies and selections); the file is hashed once,
when the first result computed on it is stamped (cached by path, size and modification time).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from ._attrs import to_jsonable
from ._version import __version__

__all__ = ["INPUTS_KEY", "stamp", "file_sha256", "file_input", "inputs_of", "options_of", "provenance_of"]

#: Key of a loaded set's ``encoding`` listing the files it was read from (set by the loaders).
INPUTS_KEY = "neurosuper_inputs"

T = TypeVar("T", xr.Dataset, xr.DataArray)


#: Arrays with more elements than this are described (type and shape), not stored, in ``options``.
MAX_OPTION_ELEMENTS = 64


def _plain(value: Any) -> Any:
    """A JSON-safe stand-in for an option value (large arrays and objects become a short description)."""
    shape = getattr(value, "shape", None)
    if shape is not None and int(np.prod(shape)) > MAX_OPTION_ELEMENTS:
        return f"<{type(value).__name__} shape {tuple(shape)}>"
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
HASH_LIMIT_BYTES = 256 * 2**20


def file_input(path: str | os.PathLike) -> dict[str, Any]:
    """``{"path", "sha256", "size"}`` of an input file or store (``sha256`` None above :data:`HASH_LIMIT_BYTES`,
    with ``mtime`` instead); a missing file gives ``{"path", "missing": True}``."""
    path = Path(path)
    if not path.exists():
        return {"path": str(path), "missing": True}
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    stats = [f.stat() for f in files]
    return dict(_hashed(str(path.resolve()), sum(s.st_size for s in stats), max(s.st_mtime for s in stats)))


@functools.lru_cache(maxsize=256)
def _hashed(path: str, size: int, mtime: float) -> tuple[tuple[str, Any], ...]:
    out: dict[str, Any] = {"path": path, "size": size}
    if size <= HASH_LIMIT_BYTES:
        out["sha256"] = file_sha256(path)
    else:
        out.update(sha256=None, mtime=mtime)
    return tuple(out.items())


def inputs_of(obj: xr.Dataset | xr.DataArray | None) -> list[dict[str, Any]]:
    """The input files of a set or result: those a loader recorded (hashed now) and its ``inputs`` attr."""
    if obj is None:
        return []
    found = obj.attrs.get("inputs", [])
    if isinstance(found, str):
        try:
            found = json.loads(found)
        except ValueError:
            found = []
    records = [dict(i) for i in found if isinstance(i, Mapping) and "path" in i]
    seen = {r["path"] for r in records}
    for path in obj.encoding.get(INPUTS_KEY, []):
        if str(path) not in seen:
            records.append(file_input(path))
            seen.add(str(path))
    return records


def options_of(result: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """The options a result was computed with (its ``options`` attr decoded)."""
    raw = result.attrs.get("options", "{}")
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def stamp(
    result: T,
    *,
    analysis: str,
    reference: str,
    options: Mapping[str, Any] | None = None,
    inputs_from: xr.Dataset | xr.DataArray | None = None,
) -> T:
    """``result`` with the provenance attrs set (in place on the object given, which is also returned).

    ``options`` are the arguments that shaped the result (non-JSON values are described, not stored);
    ``inputs_from`` is the set the result was computed from (its recorded input files are copied).
    """
    result.attrs.update(
        {
            "neurosuper_version": __version__,
            "analysis": analysis,
            "reference": reference,
            "options": json.dumps({str(k): _plain(v) for k, v in (options or {}).items()}, sort_keys=True),
            "inputs": inputs_of(inputs_from),
        }
    )
    return result


def provenance_of(obj: Any) -> dict[str, Any]:
    """The provenance a result carries (:func:`stamp`), decoded: analysis, reference, options, inputs, version."""
    attrs = getattr(obj, "attrs", {})
    try:
        options: Any = options_of(obj)
    except (ValueError, TypeError):
        options = attrs.get("options")
    return {
        "analysis": attrs.get("analysis"),
        "reference": attrs.get("reference"),
        "options": options,
        "inputs": inputs_of(obj),
        "neurosuper_version": attrs.get("neurosuper_version"),
    }
