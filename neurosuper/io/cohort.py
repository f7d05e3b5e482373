"""``load_cohort``: many NWB sessions (files or URLs) → one ResponseSet, each session loaded as a dask task.

A DANDI dataset holds tens of sessions from several animals shown the same stimuli; the questions asked of them
(is the power law the same in every animal? is a layer closer to an area than animals are to each other?) need
them pooled, with each unit knowing its session and animal. :func:`load_cohort` loads every session with
:func:`neurosuper.load_nwb` as one task on a ``dask.distributed`` client, and pools them with
:func:`neurosuper.concat` (units concatenated, stimuli matched by id). ``distributed`` is imported only when a
cohort is loaded, so ``import neurosuper`` stays cheap.
"""

from __future__ import annotations

import contextlib
import glob as _glob
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._concat import concat
from .._progress import progress_bar
from .._provenance import file_input
from .._threads import cluster_threads, limits, worker_env
from ..errors import FormatError, NeurosuperError, NeurosuperWarning, NWBLayoutError, preview
from ..format import validate
from .remote import is_url, url_info

__all__ = ["load_cohort", "SessionLoadError", "session_specs"]

#: Manifest columns that are :func:`neurosuper.load_nwb` options, per session (the rest become unit coords).
LOADER_COLUMNS = ("stimulus", "window", "align", "align_relative", "bin_size", "measure", "epochs", "roi_series")
#: Stimulus-level variables that describe one session's presentations, not the stimuli: dropped when pooling.
_PER_SESSION = ("onset", "n_repeats")


class SessionLoadError(NeurosuperError, RuntimeError):
    """A session of a cohort could not be loaded and ``strict=True`` was asked for (names it and the reason)."""


@dataclass
class SessionSpec:
    """One session of a cohort: where it is, its labels, and its own loader options."""

    path: str
    session: str
    subject: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # other manifest columns → unit coords


@dataclass
class _Outcome:
    """What a task sends back: the set (or the reason it failed), provenance and the warnings it raised."""

    dataset: xr.Dataset | None
    reason: str | None
    error_type: str | None
    provenance: dict[str, Any]
    warnings: list[tuple[type[Warning], str]]


# ------------------------------------------------------------------------------------------------ sources
def _stem(path: str) -> str:
    name = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name[: -len(".nwb")] if name.lower().endswith(".nwb") else (os.path.splitext(name)[0] or name)


def _parse_window(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    parts = value.strip().strip("()[]").replace(";", ",").replace(" ", ",").split(",")
    try:
        numbers = tuple(float(p) for p in parts if p)
    except ValueError:
        numbers = ()
    if len(numbers) != 2:
        raise NWBLayoutError(
            f"{where}: found window {value!r}; expected two numbers in seconds, e.g. '0,0.25'. Fix: write the "
            "window as start,stop."
        )
    return numbers


def _parse_option(name: str, value: Any, where: str) -> Any:
    """A manifest cell as the ``load_nwb`` option ``name`` (strings as the ``neurosuper nwb`` flags write them)."""
    if name == "window":
        return _parse_window(value, where)
    if name == "bin_size":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise NWBLayoutError(
                f"{where}: found bin_size {value!r}; expected a number of seconds. Fix: e.g. 0.05."
            ) from None
    if name == "align_relative" and isinstance(value, str):
        lowered = value.strip().lower()
        return {"true": True, "false": False, "auto": "auto"}.get(lowered, value)
    if name == "stimulus" and isinstance(value, str) and ":" in value and "://" not in value:
        table, column = value.split(":", 1)
        return (table, column.split(",")) if "," in column else (table, column)
    return value


def _read_manifest(path: Path) -> list[SessionSpec]:
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise FormatError(
            f"manifest {str(path)!r}: could not be read ({err}); expected a CSV/TSV with one row per session. "
            "Fix: write it with a header row and a 'path' column."
        ) from None
    if "path" not in table.columns:
        raise FormatError(
            f"manifest {str(path)!r}: found columns {list(table.columns)}; expected a 'path' column (and optional "
            f"'subject', 'session', loader options {list(LOADER_COLUMNS)}). Fix: add a 'path' column."
        )
    if table.empty:
        raise FormatError(f"manifest {str(path)!r}: found no rows; expected one row per session. Fix: add sessions.")
    specs = []
    for i, row in table.iterrows():
        where = f"manifest {path.name!r} row {int(str(i)) + 2}"
        raw = str(row["path"]).strip()
        if not raw:
            raise FormatError(f"{where}: found an empty path; expected a file or URL. Fix: fill the 'path' cell.")
        full = raw if is_url(raw) or os.path.isabs(raw) else str(path.parent / raw)
        options = {
            c: _parse_option(c, row[c], where) for c in LOADER_COLUMNS if c in table.columns and str(row[c]).strip()
        }
        extra = {str(c): str(row[c]) for c in table.columns if c not in ("path", "subject", "session", *LOADER_COLUMNS)}
        specs.append(
            SessionSpec(
                path=full,
                session=str(row["session"]).strip() if "session" in table.columns and row["session"] else "",
                subject=str(row["subject"]).strip() if "subject" in table.columns and row["subject"] else None,
                options=options,
                extra=extra,
            )
        )
    return specs


def session_specs(sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[SessionSpec]:
    """The sessions ``sources`` names (see :func:`load_cohort`), each with a unique ``session`` label."""
    if isinstance(sources, str | os.PathLike):
        text = os.fspath(sources)
        if is_url(text):
            specs = [SessionSpec(path=text, session="")]
        elif Path(text).suffix.lower() in (".csv", ".tsv") and not any(ch in text for ch in "*?["):
            if not Path(text).is_file():
                raise FormatError(f"manifest {text!r}: found no such file; expected a CSV/TSV. Fix: check the path.")
            specs = _read_manifest(Path(text))
        elif any(ch in text for ch in "*?["):
            found = sorted(_glob.glob(os.path.expanduser(text), recursive=True))
            if not found:
                raise FormatError(
                    f"sources {text!r}: found a glob matching no file; expected NWB files. Fix: check the pattern "
                    "(quote it in a shell so neurosuper expands it)."
                )
            specs = [SessionSpec(path=p, session="") for p in found]
        else:
            specs = [SessionSpec(path=text, session="")]
    elif isinstance(sources, Sequence) and not isinstance(sources, bytes):
        specs = [SessionSpec(path=os.fspath(p), session="") for p in sources]
        if not specs:
            raise FormatError("sources: found an empty list; expected NWB paths or URLs. Fix: pass some sessions.")
    else:
        raise FormatError(
            f"sources: found {type(sources).__name__}; expected a list of paths/URLs, a glob or a manifest "
            "(CSV/TSV). Fix: e.g. load_cohort('data/*.nwb')."
        )
    labels = [s.session or _stem(s.path) for s in specs]
    for i, spec in enumerate(specs):
        spec.session = labels[i] if labels.count(labels[i]) == 1 else f"{labels[i]}#{i}"
    return specs


# ------------------------------------------------------------------------------------------- one session
def _provenance(path: str) -> dict[str, Any]:
    if is_url(path):
        return url_info(path)
    try:
        return file_input(path)
    except OSError:
        return {"path": path, "missing": True}


#: glibc's mallopt parameters (malloc.h) and the values used while a session loads in a dask worker.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LOADING_TRIM, _LOADING_MMAP, _GLIBC_MMAP_DEFAULT = 2**28, 2**26, 2**17


@contextlib.contextmanager
def _heap_for_loading() -> Iterator[None]:
    """Let glibc reuse freed memory while a session loads in a process started with ``MALLOC_TRIM_THRESHOLD_``.

    dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``)
    so that workers give memory back to the OS. Setting it also freezes glibc's mmap threshold at 128 KiB, so every
    temporary array of the loader above that size is a fresh ``mmap`` whose pages fault in again: a session loaded
    2-2.5x slower in a worker than in a plain process (benchmarks/RESULTS.md, "Cohorts"). During the load the
    thresholds are raised (mallopt M_MMAP_THRESHOLD 64 MiB, M_TRIM_THRESHOLD 256 MiB); afterwards the trim
    threshold is put back and ``malloc_trim(0)`` returns the freed memory, as dask intends. Nothing happens without
    that variable or outside glibc.
    """
    libc = None
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    if trim is not None and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(_M_MMAP_THRESHOLD, _LOADING_MMAP)
            libc.mallopt(_M_TRIM_THRESHOLD, _LOADING_TRIM)
        except (OSError, AttributeError):  # not glibc
            libc = None
    try:
        yield
    finally:
        if libc is not None and trim is not None:
            try:
                libc.mallopt(_M_TRIM_THRESHOLD, int(trim))
            except ValueError:
                libc.mallopt(_M_TRIM_THRESHOLD, 65536)
            libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_MMAP_DEFAULT)
            libc.malloc_trim(0)


def _load_one(path: str, options: dict[str, Any]) -> _Outcome:
    """Load one session (the task run on a worker): the set, or the reason it failed; never raises."""
    from .nwb import load_nwb

    with warnings.catch_warnings(record=True) as caught, limits(1), _heap_for_loading():
        warnings.simplefilter("always")
        ds, reason, kind = None, None, None
        try:
            ds = load_nwb(path, progress=False, **options)
        except Exception as err:  # any reason a session cannot be loaded is reported, not raised
            reason, kind = str(err) or repr(err), type(err).__name__
        provenance = _provenance(path) if ds is not None else {"path": path}
    notes: list[tuple[type[Warning], str]] = [
        (w.category, str(w.message)) for w in caught if issubclass(w.category, NeurosuperWarning)
    ]
    return _Outcome(dataset=ds, reason=reason, error_type=kind, provenance=provenance, warnings=notes)


# ------------------------------------------------------------------------------------------------ running
def _default_workers(n_sessions: int) -> int:
    """One single-threaded worker per core the thread policy gives (:func:`neurosuper._threads.cluster_threads`),
    at most one per session."""
    return max(1, min(cluster_threads()[0], n_sessions))


def _run(
    specs: list[SessionSpec],
    options: list[dict[str, Any]],
    client: Any,
    n_workers: int | None,
    progress: bool,
) -> list[_Outcome]:
    """Each session as one task; outcomes in the order of ``specs`` (never the order they finished)."""
    if client is False:
        bar = progress_bar(range(len(specs)), progress=progress, desc="loading sessions", unit="session")
        return [_load_one(specs[i].path, options[i]) for i in bar]
    import distributed

    owned: list[Any] = []
    try:
        if isinstance(client, str):
            client = distributed.Client(client)
            owned.append(client)
        elif client is None:
            try:
                client = distributed.default_client()
            except ValueError:
                cluster = distributed.LocalCluster(
                    n_workers=n_workers or _default_workers(len(specs)),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    env=worker_env(1),  # one BLAS/OpenMP thread per worker, passive waits (the thread policy)
                )
                owned.append(cluster)
                client = distributed.Client(cluster)
                owned.insert(0, client)
        futures = {
            client.submit(
                _load_one, spec.path, opts, pure=False, key=f"neurosuper-session-{i}-{os.urandom(4).hex()}"
            ): i
            for i, (spec, opts) in enumerate(zip(specs, options, strict=True))
        }
        outcomes: list[_Outcome | None] = [None] * len(specs)
        done = distributed.as_completed(list(futures))
        for future in progress_bar(
            done, total=len(futures), progress=progress, desc="loading sessions", unit="session"
        ):
            i = futures[future]
            try:
                outcomes[i] = future.result()
            except Exception as err:  # e.g. KilledWorker: the session's worker died allowed-failures times
                outcomes[i] = _Outcome(
                    None, f"the task failed: {type(err).__name__}: {err}", type(err).__name__, {}, []
                )
            future.release()  # the worker's copy is freed as soon as it is here
        return [o for o in outcomes if o is not None]
    finally:
        for thing in owned:
            thing.close()


# --------------------------------------------------------------------------------------------------- pooling
def _keep_order(sets: dict[str, xr.Dataset]) -> list[str]:
    """Sessions in the order they are admitted: those sharing stimulus ids with more other sessions first."""
    ids = {k: set(ds["stimulus"].values.tolist()) for k, ds in sets.items()}
    shares = {k: sum(bool(ids[k] & ids[o]) for o in ids if o != k) for k in ids}
    return sorted(sets, key=lambda k: -shares[k])  # stable: ties keep the given order


def _same_values(a: xr.DataArray, b: xr.DataArray) -> bool:
    if a.shape != b.shape:
        return False
    x, y = np.asarray(a.values), np.asarray(b.values)
    if x.dtype.kind in "fc" and y.dtype.kind in "fc":
        return bool(np.array_equal(x, y, equal_nan=True))
    return bool(np.array_equal(x, y))


def _disagreements(first: xr.Dataset, other: xr.Dataset) -> dict[str, list[Any]]:
    """Per stimulus-level variable (``stimuli`` images, stimulus coords), the ids where ``other`` differs."""
    out: dict[str, list[Any]] = {}
    for name in set(first.variables) & set(other.variables):
        if name == "stimulus" or name in _PER_SESSION:
            continue
        a, b = first[name], other[name]
        if "stimulus" not in a.dims or "unit" in a.dims or a.dims != b.dims:
            continue
        if a.shape != b.shape:
            out[str(name)] = list(first["stimulus"].values.tolist())
            continue
        axis = a.dims.index("stimulus")
        x, y = np.moveaxis(np.asarray(a.values), axis, 0), np.moveaxis(np.asarray(b.values), axis, 0)
        bad = [
            sid
            for k, sid in enumerate(first["stimulus"].values.tolist())
            if not (
                np.array_equal(x[k], y[k], equal_nan=True)
                if x.dtype.kind in "fc" and y.dtype.kind in "fc"
                else np.array_equal(x[k], y[k])
            )
        ]
        if bad:
            out[str(name)] = bad
    return out


def _pool(
    specs: list[SessionSpec], outcomes: list[_Outcome], strict: bool
) -> tuple[xr.Dataset, list[dict[str, Any]], list[dict[str, Any]]]:
    failed: list[dict[str, Any]] = []
    good: dict[str, xr.Dataset] = {}
    info: dict[str, dict[str, Any]] = {}
    for spec, outcome in zip(specs, outcomes, strict=True):
        for category, message in outcome.warnings:
            warnings.warn(f"session {spec.session!r}: {message}", category, stacklevel=3)
        if outcome.dataset is None:
            entry = {"session": spec.session, "path": spec.path, "reason": outcome.reason or "unknown"}
            if strict:
                raise SessionLoadError(
                    f"session {spec.session!r} ({spec.path}): could not be loaded ({outcome.error_type}: "
                    f"{outcome.reason}); expected every session of the cohort to load (strict=True). Fix: repair "
                    "or remove it from the sources, or pass strict=False to skip it."
                )
            failed.append(entry)
            continue
        good[spec.session] = outcome.dataset
        info[spec.session] = {"spec": spec, "provenance": outcome.provenance}
    # stimuli matched by id: keep the stimuli every admitted session showed; a session sharing none is skipped
    shared: list[Any] | None = None
    admitted: list[str] = []
    for label in _keep_order(good):
        ids = good[label]["stimulus"].values.tolist()
        candidate = ids if shared is None else [s for s in shared if s in set(ids)]
        if not candidate:
            reason = (
                f"no stimulus id in common with the sessions loaded before it ({preview(ids)} against "
                f"{preview(shared or [])}): stimuli are matched by id"
            )
            if strict:
                raise SessionLoadError(
                    f"session {label!r} ({info[label]['spec'].path}): {reason}; expected stimuli shared with the "
                    "other sessions (strict=True). Fix: load it with the same stimulus source (stimulus=...), or "
                    "remove it from the sources."
                )
            failed.append({"session": label, "path": info[label]["spec"].path, "reason": reason})
            continue
        shared = candidate
        admitted.append(label)
    if not admitted:
        reasons = "; ".join(f"{f['session']}: {f['reason']}" for f in failed[:3])
        raise SessionLoadError(
            f"cohort: found no session that loads ({len(failed)} failed: {reasons}); expected at least one. Fix: "
            "check the paths and loader options (the reasons above)."
        )
    order = [s.session for s in specs if s.session in admitted]  # the sources' order
    assert shared is not None
    first_ids = [s for s in good[order[0]]["stimulus"].values.tolist() if s in set(shared)]
    n_dropped = {k: good[k].sizes["stimulus"] - len(first_ids) for k in order}
    if any(n_dropped.values()):
        union = {s for k in order for s in good[k]["stimulus"].values.tolist()}
        warnings.warn(
            f"load_cohort: kept the {len(first_ids)} stimuli shown in every session; dropped "
            f"{len(union) - len(first_ids)} stimulus ids shown in some sessions only (per session: "
            + ", ".join(f"{k} {n}" for k, n in n_dropped.items() if n)
            + ")",
            NeurosuperWarning,
            stacklevel=3,
        )
    has_repeat = any("repeat" in good[k]["responses"].dims for k in order)
    parts: dict[str, xr.Dataset] = {}
    for label in order:
        spec = info[label]["spec"]
        ds = good[label].sel(stimulus=first_ids)
        ds = ds.drop_vars([v for v in _PER_SESSION if v in ds.variables])
        if has_repeat and "repeat" not in ds["responses"].dims:
            ds["responses"] = ds["responses"].expand_dims("repeat", axis=0)
        subject = spec.subject or str(ds.attrs.get("subject_id") or "unknown")
        unit_ids = ds["unit"].values
        coords: dict[str, Any] = {
            "unit": np.asarray([f"{label}/{u}" for u in unit_ids.tolist()]),
            "unit_id": ("unit", unit_ids),
            "session": ("unit", np.full(unit_ids.size, label)),
            "subject": ("unit", np.full(unit_ids.size, subject)),
        }
        for key, value in spec.extra.items():
            if key not in ds.variables:
                coords[key] = ("unit", np.full(unit_ids.size, value))
        ds = ds.assign_coords(coords)
        info[label]["subject"] = subject
        parts[label] = ds
    reference = parts[order[0]]
    for label in order[1:]:
        for name, ids in _disagreements(reference, parts[label]).items():
            warnings.warn(
                f"load_cohort: session {label!r} disagrees with session {order[0]!r} about {name!r} of "
                f"{len(ids)} stimuli ({preview(ids)}); kept {order[0]!r}'s (stimuli are matched by id)",
                NeurosuperWarning,
                stacklevel=3,
            )
    pooled = concat(parts, dim="unit", name="session")
    sessions = []
    for label in order:
        prov = dict(info[label]["provenance"])
        prov.update(
            session=label,
            subject=info[label]["subject"],
            n_units=int(parts[label].sizes["unit"]),
            n_stimuli_file=int(good[label].sizes["stimulus"]),
        )
        sessions.append(prov)
    return pooled, sessions, failed


# --------------------------------------------------------------------------------------------------- public
def load_cohort(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    client: Any = None,
    strict: bool = False,
    progress: bool = True,
    n_workers: int | None = None,
    **load_nwb_options: Any,
) -> xr.Dataset:
    """Load many NWB sessions (files or URLs) as one ResponseSet, each session one dask.distributed task.

    Every session is read with :func:`neurosuper.load_nwb` (``load_nwb_options`` apply to all; a manifest can
    set them per session) on a worker that holds one session at a time (single-threaded BLAS), and the sets are
    pooled with :func:`neurosuper.concat` along ``unit``. The result does not depend on the client, the number
    of workers, the order sessions finish in or a worker dying mid-run (dask reruns its task; the units come in
    the order of ``sources``). Remote sessions are streamed (:mod:`neurosuper.io.remote`): only the byte ranges
    read are fetched.

    Parameters
    ----------
    sources
        A list of paths or URLs (``https://``, ``s3://``); a glob (``"data/sub-*/*.nwb"``, sorted); or one
        manifest, a ``.csv``/``.tsv`` with one row per session: ``path`` (relative to the manifest's folder, or a
        URL) and optionally ``subject``, ``session`` and per-session loader options (columns ``stimulus``
        — ``"table"``, ``"table:column"``, ``"table:col1,col2"`` or ``"bins"``, as ``neurosuper nwb --stimulus`` —,
        ``window`` ``"0,0.25"``, ``align``, ``align_relative``, ``bin_size``, ``measure``, ``epochs``,
        ``roi_series``); empty cells use ``load_nwb_options``. Any other column becomes a unit coord (e.g.
        ``genotype``).
    client
        A ``distributed.Client``, or a scheduler address (``"tcp://host:8786"``, connected and closed
        afterwards). ``None`` (default): the active client (``distributed.default_client()``), else a
        ``LocalCluster`` of ``n_workers`` processes (default: one per core the thread policy gives,
        :func:`neurosuper._threads.cluster_threads`, at most one per session) with one thread and one BLAS thread
        each, closed afterwards. ``False``: load one after the other in this process (no dask).
    strict
        ``True``: the first session that cannot be loaded (or shares no stimulus with the others) raises
        :class:`SessionLoadError` naming it and the reason. ``False`` (default): it is skipped with a
        :class:`~neurosuper.NeurosuperWarning` and listed in ``attrs["failed_sessions"]``.
    progress
        A progress bar over sessions (only on a terminal).
    n_workers
        Workers of the ``LocalCluster`` started when no client is given or active.
    **load_nwb_options
        Options of :func:`neurosuper.load_nwb` (``stimulus``, ``window``, ``units``, ``rows``, ``bin_size``, ...).

    Returns
    -------
    xarray.Dataset
        A valid ResponseSet: ``responses`` (``repeat``?, ``stimulus``, ``time``?, ``unit``), the units of every
        session in the order of ``sources``, with unit ids ``"<session>/<unit id>"`` and unit coords ``session``
        (the manifest's ``session``, else the file name without ``.nwb``), ``subject`` (the manifest's
        ``subject``, else the file's ``subject_id``, else ``"unknown"``), ``unit_id`` (the id in its file), the
        units' own columns, and any attr that differs between sessions (``source``, ``identifier``,
        ``session_start_time``, ...). A session without repeats gets a ``repeat`` dim of size 1 when others have
        one; repeats a session lacks are NaN (the format's one meaning of NaN).

        **Stimuli** are matched by id, and the set keeps the stimuli shown in *every* session (the
        intersection, in the first session's order; a :class:`~neurosuper.NeurosuperWarning` counts the ids
        dropped per session): a stimulus one session never showed would otherwise be a whole missing column of
        that session's units, which trial averages, covariances and RDMs cannot use. A session sharing no
        stimulus id with the others is skipped as failed (sessions sharing ids with more others are admitted
        first). Where sessions disagree about a stimulus (a different image under one id in ``stimuli``, or a
        different stimulus coord such as ``category``), a warning names the ids and the first session's is
        kept. The per-session ``onset`` and ``n_repeats`` are dropped (count non-NaN repeats instead).

        attrs: those shared by every session; ``loader="neurosuper.load_cohort"``; ``n_sessions``;
        ``sessions``: one ``{"session", "subject", "path", "sha256", "size", "n_units", "n_stimuli_file"}`` per
        pooled session (a local file's sha256, ``None`` above 256 MiB as in :mod:`neurosuper._provenance`; a URL
        is not downloaded to be hashed: ``sha256`` None and the server's ``etag``); ``inputs``: the same records,
        the provenance every analysis result stamps; ``failed_sessions``: ``[{"session", "path", "reason"}]``
        (JSON-serialisable, empty when all loaded).

    Raises
    ------
    SessionLoadError
        ``strict=True`` and a session failed; or no session could be loaded.
    FormatError
        Bad ``sources`` (empty, a glob matching nothing, a manifest without ``path``); sessions that cannot be
        pooled (different ``time`` bins or measures).
    NWBLayoutError
        A manifest cell that is not a valid loader option.
    """
    specs = session_specs(sources)
    reserved = {"path", "progress"} & set(load_nwb_options)
    if reserved:
        raise NWBLayoutError(
            f"load_cohort: found option(s) {sorted(reserved)}; expected load_nwb options other than the path and "
            "progress bar. Fix: give paths as sources and progress= to load_cohort."
        )
    if n_workers is not None and (not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1):
        raise NWBLayoutError(f"n_workers={n_workers!r}: found a non-positive count; expected >= 1. Fix: e.g. 2.")
    options = [{**load_nwb_options, **spec.options} for spec in specs]
    outcomes = _run(specs, options, client, n_workers, progress)
    pooled, sessions, failed = _pool(specs, outcomes, strict)
    for entry in failed:
        warnings.warn(
            f"load_cohort: skipped session {entry['session']!r} ({entry['path']}): {entry['reason']}",
            NeurosuperWarning,
            stacklevel=2,
        )
    pooled.attrs.update(
        loader="neurosuper.load_cohort",
        n_sessions=len(sessions),
        sessions=sessions,
        inputs=[{k: v for k, v in s.items() if k in ("path", "sha256", "size", "mtime", "etag")} for s in sessions],
        failed_sessions=failed,
    )
    if "source" not in pooled.attrs:
        pooled.attrs["source"] = os.fspath(sources) if isinstance(sources, str | os.PathLike) else "cohort"
    return validate(pooled, check_values=False)
