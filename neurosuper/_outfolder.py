"""One run owns an output folder, and replaces only what it can prove it wrote.

A run of the main job (``neurosuper report``/``demo``, :func:`neurosuper.pipeline.run`) writes into a folder
through :func:`output_folder`, which

- takes the folder's lock, ``DIR/.neurosuper-run.lock`` (the owner's pid and host): a second run into the same
  folder is refused while the first one lives; a lock left by a killed run (its process, on this host, is gone —
  the test :mod:`neurosuper._atomic` uses for its temporary files) is taken over;
- keeps a manifest, ``DIR/.neurosuper-run.json``: every file the run wrote there with its size and sha256,
  rewritten after each file (so a killed run leaves an accurate list);
- with ``overwrite``: removes, before anything new is written, the files of the previous run that its manifest
  lists and that are unchanged since (so a report never sits next to the results of another run, even when this
  run is killed); a file changed since, or not listed, is the user's and is kept;
- refuses (:class:`OutputFolderError`, naming the path and the fix) to write over anything that is not a file this
  run wrote: a user's file or folder named like an output, an input inside the folder, a previous output changed
  since.

Every write goes through :func:`neurosuper._atomic.atomic_path`, which asks the folder's guard before it writes
and tells it afterwards (:func:`neurosuper._atomic.guard_of`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import _atomic
from .errors import FormatError, fail

__all__ = ["MANIFEST", "LOCK", "OutputFolderError", "OutputFolder", "output_folder", "digest"]

#: The manifest of the run that wrote the folder, and the lock of the run writing it now.
MANIFEST = ".neurosuper-run.json"
LOCK = ".neurosuper-run.lock"
_OWN = (MANIFEST, LOCK)


class OutputFolderError(FormatError):
    """An output folder's content is in the way (a user's file or folder named like an output), or another run
    owns the folder. A run stops on it (it is never recorded as one step's failure)."""


def digest(path: Path) -> dict[str, Any]:
    """``{"size", "sha256"}`` of a file (of a directory: every file's relative path and content, in order)."""
    h = hashlib.sha256()
    size = 0
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                p = Path(root) / name
                h.update(os.fsencode(str(p.relative_to(path))) + b"\0")
                size += _hash_file(p, h)
        return {"size": size, "sha256": h.hexdigest(), "kind": "folder"}
    size = _hash_file(path, h)
    return {"size": size, "sha256": h.hexdigest()}


def _hash_file(path: Path, h: Any) -> int:
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size


def _same(path: Path, entry: Any) -> bool:
    """Whether ``path`` is still what the manifest ``entry`` recorded (kind, size, then sha256)."""
    if not isinstance(entry, dict) or path.is_symlink() or not path.exists():
        return False
    is_dir = path.is_dir()
    if is_dir != (entry.get("kind") == "folder"):
        return False
    try:
        if not is_dir and path.stat().st_size != entry.get("size"):
            return False
        return digest(path) == {k: entry.get(k) for k in digest_keys(is_dir)}
    except OSError:
        return False


def digest_keys(is_dir: bool) -> tuple[str, ...]:
    return ("size", "sha256", "kind") if is_dir else ("size", "sha256")


class OutputFolder:
    """The guard of one run's output folder (use :func:`output_folder`)."""

    def __init__(
        self, path: str | os.PathLike[str], *, overwrite: bool, require_empty: bool = False, names: Iterable[str] = ()
    ) -> None:
        self.path = Path(os.path.abspath(path))
        self.names = tuple(names)
        self.overwrite = overwrite
        self.require_empty = require_empty
        self.files: dict[str, dict[str, Any]] = {}
        self.kept: dict[str, dict[str, Any]] = {}
        self.removed: list[str] = []
        self._lock = threading.RLock()
        self._token = ""

    # ------------------------------------------------------------------------------------------- errors
    def _in_the_way(self, target: Path, found: str) -> OutputFolderError:
        return fail(
            f"--out {str(self.path)!r}: {str(target)!r}",
            found,
            "a path free of anything neurosuper did not write there (it replaces only its own previous outputs, "
            f"listed in {MANIFEST} and unchanged since)",
            "choose another --out (a new folder), or move that path out of the folder yourself",
            OutputFolderError,
        )

    # ----------------------------------------------------------------------------------------- the lock
    def _acquire(self) -> None:
        lock = self.path / LOCK
        self._token = f"{os.getpid()}-{_atomic._HOST}-{time.time_ns()}"
        body = json.dumps({"pid": os.getpid(), "host": _atomic._HOST, "token": self._token}) + "\n"
        for _ in range(3):
            tmp = _atomic.temp_name(lock)
            tmp.write_text(body, encoding="utf-8")
            try:
                os.link(tmp, lock)  # exclusive, and the lock is complete the instant it exists
                return
            except FileExistsError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            owner = _read_json(lock)
            pid, host = (owner or {}).get("pid"), (owner or {}).get("host")
            if owner is not None and isinstance(pid, int) and host == _atomic._HOST and not _atomic._alive(pid):
                stale = _atomic.move_aside(lock)  # one taker wins the rename; the others retry
                if stale is not None:
                    with contextlib.suppress(OSError):
                        stale.unlink()
                continue
            if owner is None and lock.exists():  # unreadable: not ours to judge
                raise self._in_the_way(lock, "a lock file that is not a neurosuper lock")
            if owner is None:
                continue
            where = "this host" if host == _atomic._HOST else "another host"
            raise fail(
                f"--out {str(self.path)!r}",
                f"another neurosuper run (process {pid} on {where}) writing into this folder",
                "one run per output folder at a time",
                f"wait for that run to end, or choose another --out; if no such run exists, delete {str(lock)!r}",
                OutputFolderError,
            )
        raise fail(
            f"--out {str(self.path)!r}",
            "a lock that keeps changing hands",
            "one run per output folder at a time",
            "choose another --out",
            OutputFolderError,
        )

    def _release(self) -> None:
        lock = self.path / LOCK
        owner = _read_json(lock)
        if owner is not None and owner.get("token") == self._token:
            with contextlib.suppress(OSError):
                lock.unlink()

    # -------------------------------------------------------------------------------------- open, close
    def open(self) -> OutputFolder:
        if self.path.exists() and not self.path.is_dir():
            raise self._in_the_way(self.path, "an existing file")
        self.path.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            self._start()
        except BaseException:
            self._release()
            raise
        return self

    def _start(self) -> None:
        old = _read_json(self.path / MANIFEST)
        listed = old.get("files") if isinstance(old, dict) else None
        old_files: dict[str, Any] = listed if isinstance(listed, dict) else {}
        if self.require_empty:
            left = sorted(n for n in os.listdir(self.path) if n not in _OWN and not n.startswith("."))
            if left:
                raise fail(
                    f"--out {str(self.path)!r}",
                    f"a folder that is not empty ({', '.join(left[:3])}{', ...' if len(left) > 3 else ''})",
                    "a new or empty folder",
                    "choose another --out, or add --overwrite to replace the outputs of a previous run there",
                    OutputFolderError,
                )
        if self.overwrite:  # the previous run's outputs go first: no report beside the results of another run
            ours = sorted(
                str(name)
                for name, entry in old_files.items()
                if Path(str(name)).name == str(name) and name not in _OWN and _same(self.path / str(name), entry)
            )
            for name in self.names:  # outputs known in advance: refused before anything is removed
                if name not in ours:
                    self.check(self.path / name)
            for name in ours:
                _atomic._remove(self.path / name)
                self.removed.append(name)
        else:  # still listed (never replaced: without overwrite this run may not touch them)
            self.kept = {str(k): v for k, v in old_files.items() if _same(self.path / str(k), v)}
        self._write_manifest("running")

    def close(self, ok: bool) -> None:
        try:
            self._write_manifest("complete" if ok else "failed")
        finally:
            self._release()

    def _write_manifest(self, state: str) -> None:
        from . import __version__

        body = {
            "written_by": f"neurosuper {__version__}",
            "state": state,
            "note": "the files this run wrote here; neurosuper replaces or removes only these, and only unchanged",
            "files": dict(sorted({**self.kept, **self.files}.items())),
        }
        _atomic.write_json(self.path / MANIFEST, body, overwrite=True)

    # ------------------------------------------------------------------------------------------ writes
    def check(self, target: Path) -> None:
        """Raise :class:`OutputFolderError` if writing ``target`` (in the folder) would replace anything but a
        file this run wrote."""
        if target.name in _OWN or not (target.exists() or target.is_symlink()):
            return
        with self._lock:
            entry = self.files.get(target.name)
        if entry is not None and _same(target, entry):
            return
        if target.is_dir() and not target.is_symlink():
            raise self._in_the_way(target, "a folder neurosuper did not create")
        if entry is not None:
            raise self._in_the_way(target, "an output of this run changed since it was written")
        if target.name in self.kept:
            raise fail(
                f"--out {str(self.path)!r}: {str(target)!r}",
                "an output of a previous run",
                "a new path (without --overwrite nothing is replaced)",
                "add --overwrite to replace the previous run's outputs, or choose another --out",
                OutputFolderError,
            )
        raise self._in_the_way(target, "a file neurosuper did not write (not an unchanged output of its previous run)")

    def check_names(self, names: Iterable[str]) -> None:
        """:meth:`check` for outputs known in advance (``report.html``, ``summary.json``), before computing."""
        for name in names:
            self.check(self.path / name)

    def record(self, target: Path) -> None:
        """Add ``target`` (just written) to the manifest."""
        if target.name in _OWN or not target.exists():
            return
        entry = digest(target)
        with self._lock:
            self.kept.pop(target.name, None)
            self.files[target.name] = entry
            self._write_manifest("running")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def output_folder(
    path: str | os.PathLike[str], *, overwrite: bool, require_empty: bool = False, names: Iterable[str] = ()
) -> Iterator[OutputFolder]:
    """Own the output folder ``path`` for the duration of the block (see the module's docstring): every write
    into it through :mod:`neurosuper._atomic` is checked and recorded. ``names``: outputs known in advance,
    checked at once. Re-entering a folder this process already guards yields the same guard."""
    target = Path(os.path.abspath(path))
    current = _atomic.guard_of(target / "x")
    if current is not None:
        current.check_names(names)
        yield current
        return
    folder = OutputFolder(target, overwrite=overwrite, require_empty=require_empty, names=names).open()
    ok = False
    _atomic.set_guard(folder.path, folder)
    try:
        folder.check_names(names)
        yield folder
        ok = True
    finally:
        _atomic.set_guard(folder.path, None)
        folder.close(ok)
