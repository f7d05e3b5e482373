"""Pooling ResponseSets: :func:`concat` (re-exported as ``neurosuper.concat``)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._attrs import to_jsonable
from ._version import __version__
from .errors import FormatError, NeurosuperWarning, fail, preview
from .format import FORMAT_VERSION, validate

__all__ = ["concat"]

#: Attrs concat sets itself (they never become coords).
_OWN_ATTRS = ("format_version", "neurosuper_version")


def _set_labels(items: list[xr.Dataset], name: str) -> list[str]:
    """Per set, the first of the attrs ``name``, ``<name>_id``, ``session_id``, ``source`` that tells the sets
    apart (an attr equal in every set is skipped), else the set's position."""

    def value(s: xr.Dataset, key: str) -> str | None:
        v = s.attrs.get(key)
        return str(v) if isinstance(v, str | int) and not isinstance(v, bool) else None

    keys = [
        k
        for k in (name, f"{name}_id", "session_id", "source")
        if len(items) == 1 or len({value(s, k) for s in items}) > 1
    ]
    return [next((v for k in keys if (v := value(s, k)) is not None), str(i)) for i, s in enumerate(items)]


def _labelled(sets: Iterable[xr.Dataset] | Mapping[str, xr.Dataset], name: str) -> tuple[list[str], list[xr.Dataset]]:
    """Validated sets and one unique label per set (mapping key, else a label attr, else the position)."""
    if isinstance(sets, xr.Dataset | xr.DataArray):
        raise fail(
            "concat sets",
            f"a single {type(sets).__name__}",
            "a list or dict of ResponseSets",
            "pass several sets: neurosuper.concat([a, b])",
        )
    pairs = [(str(k), v) for k, v in sets.items()] if isinstance(sets, Mapping) else [(None, v) for v in sets]
    if not pairs:
        raise fail("concat sets", "no sets", "at least one ResponseSet", "pass a list or dict of sets")
    items = []
    for i, (label, s) in enumerate(pairs):
        try:
            items.append(validate(s))
        except FormatError as err:
            raise FormatError(f"concat: set {label if label is not None else i!r}: {err}") from None
    labels = [str(p[0]) for p in pairs] if isinstance(sets, Mapping) else _set_labels(items, name)
    if len(set(labels)) != len(labels):
        labels = [f"{lab}#{i}" if labels.count(lab) > 1 else lab for i, lab in enumerate(labels)]
    for key in ("system", "measure"):
        found = sorted({str(s.attrs[key]) for s in items})
        if len(found) > 1:
            fix = (
                "compare brains and networks with neurosuper.compare instead of pooling them"
                if key == "system"
                else "convert the sets to one measure (e.g. counts to rates) first"
            )
            raise fail(f"concat: attr {key!r}", f"{key}s {found}", f"one {key} across the sets", fix)
    return labels, items


def _align(labels: list[str], items: list[xr.Dataset], dim: str) -> list[xr.Dataset]:
    """Put every set's ids along the shared dims in the first set's order; pad missing repeats with NaN."""
    first = items[0]
    dims = first["responses"].dims
    out = []
    for label, s in zip(labels, items, strict=True):
        if set(s["responses"].dims) != set(dims):
            raise fail(
                f"concat: set {label!r}",
                f"'responses' dims {s['responses'].dims}",
                f"the dims of the first set, {dims}",
                "give every set the same repeat/time dims",
            )
        for d in dims:
            if d in (dim, "repeat"):
                continue
            if (d in first.coords) != (d in s.coords):
                raise fail(
                    f"concat: {d!r} coord of set {label!r}",
                    "a coord in one set only",
                    f"a {d!r} coord in every set or in none",
                    f"assign the same {d} coord to every set",
                )
            mine = first[d].values if d in first.coords else np.arange(first.sizes[d])
            theirs = s[d].values if d in s.coords else np.arange(s.sizes[d])
            if len(mine) != len(theirs) or set(mine.tolist()) != set(theirs.tolist()):
                diff = sorted(set(mine.tolist()) ^ set(theirs.tolist()), key=str)
                raise fail(
                    f"concat: {d} ids of set {label!r}",
                    f"{len(theirs)} ids differing from the first set's {len(mine)} ({preview(diff)})",
                    f"the same {d} ids in every set",
                    f"select the shared ids first: s.sel({d}=shared_ids)",
                )
            if not np.array_equal(mine, theirs):
                s = s.sel({d: mine})
        out.append(s)
    if "repeat" in dims and dim != "repeat":
        out = [s if "repeat" in s.coords else s.assign_coords(repeat=np.arange(s.sizes["repeat"])) for s in out]
        union = list(dict.fromkeys(r for s in out for r in s["repeat"].values.tolist()))
        out = [s if s["repeat"].values.tolist() == union else s.reindex(repeat=union) for s in out]
    return out


def _attr_values(values: list[Any]) -> list[Any]:
    """One coord value per set for an attr that differs between sets (missing -> NaN or "")."""
    present = [v for v in values if v is not None]
    numbers = all(type(v) in (int, float) for v in present)
    if numbers and len(present) == len(values) and all(type(v) is int for v in present):
        return values
    if numbers:
        return [np.nan if v is None else float(v) for v in values]
    if all(type(v) is str for v in present):
        return ["" if v is None else v for v in values]
    return ["" if v is None else json.dumps(to_jsonable(v)) for v in values]


def concat(
    sets: Sequence[xr.Dataset] | Mapping[str, xr.Dataset], dim: str = "unit", *, name: str = "session"
) -> xr.Dataset:
    """Pool several ResponseSets along ``unit`` (same stimuli) or ``stimulus`` (same units).

    The ids along the other dims must match (the same ids in any order; the result follows the first set);
    ``repeat`` is the exception: repeats missing from a set are padded with NaN (NaN means a missing repeat).
    ``system`` and ``measure`` must agree. A coord ``name`` (default ``"session"``) along ``dim`` records
    which set each unit (or stimulus) came from: the mapping's keys, else each set's ``session``/
    ``session_id``/``source`` attr, else its position (a set that already has that coord keeps it).
    Attrs equal in every set stay attrs; attrs that differ become coords along ``dim`` (named
    ``attr_<key>`` if the name is taken). When ids collide along ``dim`` they are all prefixed with their
    set's label (``"label/id"``); ids of mixed kinds (int and str) become strings. Variables along ``dim``
    missing from some set are dropped with a :class:`NeurosuperWarning`; variables without ``dim`` (e.g.
    ``stimuli`` when pooling units) are taken from the first set that has them.

    Returns a new valid ResponseSet (dask-backed inputs stay lazy); the inputs are not modified.
    """
    if dim not in ("unit", "stimulus"):
        raise fail("concat dim", repr(dim), "'unit' or 'stimulus'", "pool units with dim='unit'")
    labels, items = _labelled(sets, name)
    aligned = _align(labels, items, dim)
    ids = [s[dim].values for s in aligned]
    as_str = len({v.dtype.kind for v in ids}) > 1
    all_ids = np.concatenate([v.astype(str) if as_str else v for v in ids])
    prefix = len(pd.unique(all_ids)) != len(all_ids)
    keys = list(dict.fromkeys(k for s in aligned for k in s.attrs))
    first = aligned[0]
    shared = {
        k: first.attrs[k]
        for k in keys
        if k in first.attrs and all(k in s.attrs and _same(s.attrs[k], first.attrs[k]) for s in aligned[1:])
    }
    varying = [k for k in keys if k not in shared and k not in _OWN_ATTRS and k != name]
    taken = {str(n) for s in aligned for n in s.variables} | {name}
    parts = []
    for i, (label, s) in enumerate(zip(labels, aligned, strict=True)):
        n = s.sizes[dim]
        new: dict[str, Any] = {}
        if name not in s.coords:
            new[name] = (dim, np.full(n, label))
        for key in varying:
            value = _attr_values([t.attrs.get(key) for t in aligned])[i]
            new[key if key not in taken else f"attr_{key}"] = (dim, np.full(n, value))
        if prefix or as_str:
            own = s[dim].values.astype(str)
            new[dim] = np.char.add(f"{label}/", own) if prefix else own
        parts.append(s.assign_coords(new))
    names = list(dict.fromkeys(str(n) for p in parts for n in p.variables))
    along: list[str] = []
    dropped: list[str] = []
    rest: dict[str, xr.Dataset] = {}
    for var in names:
        holders = [p for p in parts if var in p.variables]
        if var in holders[0].indexes:
            continue
        if dim in holders[0].variables[var].dims:
            (along if len(holders) == len(parts) else dropped).append(var)
        else:
            rest[var] = holders[0]
    if dropped:
        warnings.warn(
            f"concat: dropped {len(dropped)} variable(s)/coord(s) along {dim!r} missing from some sets: {dropped}",
            NeurosuperWarning,
            stacklevel=3,
        )
    core = [p.drop_vars([v for v in p.variables if v not in along and v not in p.indexes]) for p in parts]
    try:
        pooled = xr.concat(
            core, dim=dim, data_vars="minimal", coords="minimal", compat="override", join="exact", combine_attrs="drop"
        )
    except ValueError as err:
        raise fail(
            f"concat along {dim!r}",
            f"sets xarray cannot concatenate ({err})",
            "matching variables and sizes along the other dims",
            "make the sets' variables agree before pooling",
        ) from None
    for var, holder in rest.items():
        if var in holder.coords:
            pooled = pooled.assign_coords({var: holder.variables[var]})
        else:
            pooled[var] = holder.variables[var]
    pooled.attrs = {**shared, "format_version": FORMAT_VERSION}
    if any("neurosuper_version" in s.attrs for s in aligned):
        pooled.attrs["neurosuper_version"] = __version__
    return validate(pooled, check_values=False)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    try:
        if isinstance(a, np.ndarray | list):
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        return bool(a == b)
    except (TypeError, ValueError):
        return False
