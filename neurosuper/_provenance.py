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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from ._attrs import to_jsonable
from ._version import __version__

__all__ = [
    "INPUTS_KEY",
    "stamp",
    "file_sha256",
    "file_input",
    "inputs_of",
    "options_of",
    "provenance_of",
    "shown_path",
    "path_prefixes",
    "redact_paths",
]

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


# ------------------------------------------------------------------------------------ paths in a shared report
def shown_path(path: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None) -> str:
    """How a report names a file without revealing where it lives: its path relative to the report's folder
    ``out`` when it is below it (``"demo_brain.nc"``, ``"results/x.nc"``), else its name (``"session.nc"``)."""
    text = os.fspath(path)
    if not text:
        return text
    full = Path(os.path.abspath(text))
    if out is not None:
        try:
            return full.resolve().relative_to(Path(os.path.abspath(out)).resolve()).as_posix()
        except (ValueError, OSError):
            pass
    return full.name


def path_prefixes(
    *, out: str | os.PathLike[str] | None = None, files: Sequence[str | os.PathLike[str]] = ()
) -> list[tuple[str, str]]:
    """``(absolute folder + "/", replacement)`` pairs, longest first, that :func:`redact_paths` removes from text:
    the report's folder and the folders of the input files (→ nothing: the name or relative path is left), the
    user's cache, home and temporary folders, the current folder and the interpreter's installation."""
    import sys
    import tempfile

    pairs: dict[str, str] = {}

    def add(folder: str | os.PathLike[str] | None, replacement: str) -> None:
        if not folder:
            return
        for form in {os.path.abspath(folder), os.path.realpath(folder)}:
            if form not in (os.sep, "") and len(form) > 1:
                pairs.setdefault(form.rstrip(os.sep) + os.sep, replacement)

    if out is not None:
        add(out, "")
    for f in files:
        add(os.path.dirname(os.path.abspath(os.fspath(f))), "")
    add(os.path.join(os.path.expanduser("~"), ".cache"), "<cache>/")
    add(sys.prefix, "<python>/")
    add(sys.base_prefix, "<python>/")
    add(tempfile.gettempdir(), "<tmp>/")
    add(os.getcwd(), "")
    add(os.path.expanduser("~"), "~/")
    return sorted(pairs.items(), key=lambda kv: len(kv[0]), reverse=True)


def redact_paths(obj: Any, prefixes: Sequence[tuple[str, str]]) -> Any:
    """``obj`` (nested dicts/lists of JSON-like values) with every string's absolute folders from ``prefixes``
    (:func:`path_prefixes`) replaced; a string that is an absolute path of its own becomes its name. New objects;
    ``obj`` is not changed; no ``prefixes`` (a run with ``full_paths``) leaves every string as it is."""
    if not prefixes:
        return obj
    if isinstance(obj, str):
        text = obj
        for prefix, replacement in prefixes:
            if prefix in text:
                text = text.replace(prefix, replacement)
        if os.path.isabs(text) and os.sep in text.strip(os.sep) and "\n" not in text and " " not in text:
            text = Path(text).name  # an absolute path under none of the known folders
        return text
    if isinstance(obj, Mapping):
        return {k: redact_paths(v, prefixes) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_paths(v, prefixes) for v in obj]
    if isinstance(obj, tuple):
        return tuple(redact_paths(v, prefixes) for v in obj)
    return obj
