"""The one writer: every file or directory neurosuper writes goes through :func:`atomic_path`.

The output is written under a hidden temporary name in the target's own folder,
``.{name}.tmp-{pid}-{host}-{random}``, flushed to disk (``fsync``, every file of a directory such as a zarr
store too), then renamed onto the target, so the target is always either the old complete output or the new
complete one, never half of one:

- ``overwrite=False``: the final step never replaces a target that appeared meanwhile (a hard link for a
  file, ``renameat2(RENAME_NOREPLACE)`` or a claimed empty directory for a directory); the loser of two
  concurrent writers gets a :class:`~neurosuper.errors.FormatError`.
- ``overwrite=True``: a file replaces a file in one ``rename``; a directory is swapped with the target in one
  ``renameat2(RENAME_EXCHANGE)`` where the OS offers it, otherwise the old one is moved aside to
  ``.{name}.old-...`` for the instant between two renames. If the process dies in that instant, the next
  write to the same target moves the old one back first (with a warning), and :func:`interrupted_replace`
  tells readers where it is.
- On any exception the temporary output is removed. Temporary outputs left by a killed writer (its process,
  on this host, is gone) are removed by the next write to the same target; those of a live writer are left
  alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import math
import os
import shutil
import socket
import sys
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FormatError, NeurosuperWarning, fail

__all__ = [
    "atomic_path",
    "check_target",
    "write_text",
    "write_json",
    "jsonable",
    "save_figure",
    "check_figure_path",
    "figure_formats",
    "interrupted_replace",
    "temp_name",
    "check_free_space",
    "DiskFullError",
    "set_guard",
    "guard_of",
]

_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:4]


def _error(what: str, found: str, expected: str, fix: str) -> FormatError:
    err = fail(what, found, expected, fix, cls=FormatError)
    assert isinstance(err, FormatError)
    return err


# ------------------------------------------------------------------------------------------------ names
def temp_name(target: Path, kind: str = "tmp") -> Path:
    """A hidden sibling of ``target`` that records this process (``kind`` is ``"tmp"`` or ``"old"``); it keeps
    the target's suffix, so writers that check it (pynwb wants ``.nwb``) see the right one."""
    return target.with_name(f".{target.name}.{kind}-{os.getpid()}-{_HOST}-{uuid.uuid4().hex[:8]}{target.suffix}")


def _owner(target: Path, name: str, kind: str) -> tuple[int, str] | None:
    """(pid, host tag) of a sibling ``name`` written by :func:`temp_name` for ``target``, else None."""
    prefix = f".{target.name}.{kind}-"
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    if target.suffix and rest.endswith(target.suffix):
        rest = rest[: -len(target.suffix)]
    parts = rest.split("-")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate it there; never guess
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def _dead_siblings(target: Path, kind: str) -> list[Path]:
    """Siblings of ``target`` of ``kind`` left by a writer that is gone (same host, process not running)."""
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    out = []
    for name in names:
        owner = _owner(target, name, kind)
        if owner is not None and owner[1] == _HOST and not _alive(owner[0]):
            out.append(target.parent / name)
    return sorted(out)


def interrupted_replace(target: str | os.PathLike) -> Path | None:
    """Where the previous version of a missing ``target`` is, if a replace of it was interrupted, else None."""
    target = Path(os.path.abspath(target))
    if target.exists() or target.is_symlink():
        return None
    prefix = f".{target.name}.old-"
    try:
        names = sorted(n for n in os.listdir(target.parent) if n.startswith(prefix))
    except OSError:
        return None
    return target.parent / names[-1] if names else None


# ------------------------------------------------------------------------------------- output folders
#: Folders owned by a run (:mod:`neurosuper._outfolder`): folder -> its guard, which checks every write into the
#: folder before it happens and records it afterwards.
_GUARDS: dict[Path, Any] = {}


def set_guard(folder: Path, guard: Any) -> None:
    """Register (``guard``) or remove (None) the guard of ``folder`` (an absolute path)."""
    if guard is None:
        _GUARDS.pop(folder, None)
    else:
        _GUARDS[folder] = guard


def guard_of(target: Path) -> Any:
    """The guard of ``target``'s folder, if a run owns it, else None."""
    return _GUARDS.get(Path(os.path.abspath(target)).parent) if _GUARDS else None


# ------------------------------------------------------------------------------------------- disk space
def _no_space(err: BaseException) -> bool:
    """Whether ``err`` says the disk is full (ENOSPC/EDQUOT, also as the text HDF5 and netCDF libraries give)."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return True
    text = str(err)
    return isinstance(err, OSError | RuntimeError) and (
        "No space left on device" in text or "errno = 28" in text or "Disk quota exceeded" in text
    )


class DiskFullError(FormatError, OSError):
    """The disk has no room for an output (checked before writing where its size is known, else ENOSPC while
    writing); nothing was left half-written. A run stops on it. Also an ``OSError`` with ``errno`` ENOSPC and the
    target as ``filename``, so code that handles a full disk as an OS error still does."""

    def __str__(self) -> str:  # the found/expected/Fix message, not OSError's "[Errno 28] ..."
        return str(self.args[0]) if self.args else super().__str__()


def _disk_full_error(target: Path, need: int | None = None, free: int | None = None) -> DiskFullError:
    found = "no space left on the disk" if need is None else f"{_size(free or 0)} free"
    expected = "room for the output" if need is None else f"about {_size(need)} for the output"
    err = fail(
        f"writing {str(target)!r}",
        found,
        expected,
        f"free space on {str(target.parent)!r}, or write elsewhere (another --out); nothing was left half-written",
        cls=DiskFullError,
    )
    assert isinstance(err, DiskFullError)
    err.errno, err.strerror, err.filename = errno.ENOSPC, os.strerror(errno.ENOSPC), str(target)
    return err


def move_aside(path: Path, kind: str = "tmp") -> Path | None:
    """Rename ``path`` to a fresh temporary name beside it and return that name (of several processes racing to
    take the same file, one wins); None when it is already gone."""
    aside = temp_name(path, kind)
    try:
        os.replace(path, aside)
    except OSError:
        return None
    return aside


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} bytes"


def check_free_space(target: str | os.PathLike, nbytes: int, *, margin: float = 1.1) -> None:
    """Raise :class:`FormatError` (nothing written) when ``target``'s disk has less room than ``nbytes`` (an
    estimate of the output, e.g. a dataset's ``nbytes``) times ``margin``. Some writers (the netCDF/HDF5 library)
    crash rather than fail on a full disk: they are only started when the output fits."""
    target = Path(os.path.abspath(target))
    try:
        free = shutil.disk_usage(target.parent).free
    except OSError:
        return
    need = int(nbytes * margin) + (1 << 16)
    if free < need:
        raise _disk_full_error(target, need, free)


# ----------------------------------------------------------------------------------------- filesystem ops
def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except FileNotFoundError:
        pass


def _fsync_path(path: Path, directory: bool) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # e.g. directories cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    """Flush a file, or every file and folder of a directory (children first), to disk."""
    if not path.is_dir() or path.is_symlink():
        _fsync_path(path, directory=False)
        return
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            _fsync_path(Path(root) / name, directory=False)
        for name in dirs:
            _fsync_path(Path(root) / name, directory=True)
    _fsync_path(path, directory=True)


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100
_renameat2_fn: Any = None


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; True on success, False when the OS or filesystem does not offer it.

    Raises ``FileExistsError`` (NOREPLACE onto an existing path) and other ``OSError`` as the call does.
    """
    global _renameat2_fn
    if not sys.platform.startswith("linux"):
        return False
    if _renameat2_fn is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fn = libc.renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2_fn = fn
        except (OSError, AttributeError):
            _renameat2_fn = False
    if _renameat2_fn is False:
        return False
    rc = _renameat2_fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # the filesystem (or an old kernel) does not support the flag
    raise OSError(err, os.strerror(err), str(dst))


def _exists_error(target: Path) -> FormatError:
    kind = "folder" if target.is_dir() else "file"
    return _error(
        f"path {str(target)!r}",
        f"an existing {kind}",
        "a new path",
        "pass overwrite=True (CLI: --overwrite) to replace it, or choose another name",
    )


def _commit_new(tmp: Path, target: Path) -> None:
    """Move ``tmp`` onto ``target`` only if ``target`` does not exist at that instant."""
    try:
        if _renameat2(tmp, target, _RENAME_NOREPLACE):
            return
    except FileExistsError:
        raise _exists_error(target) from None
    if tmp.is_dir():
        # claim the name with an empty directory (mkdir is exclusive), then rename onto it (POSIX replaces an
        # empty directory); on Windows the claimed directory has to be removed first
        try:
            os.mkdir(target)
        except FileExistsError:
            raise _exists_error(target) from None
        try:
            if sys.platform == "win32":
                os.rmdir(target)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.rmdir(target)
            raise
        return
    try:
        os.link(tmp, target)  # fails if target exists, whatever appeared meanwhile
    except FileExistsError:
        raise _exists_error(target) from None
    except OSError:  # no hard links here (some network/FAT filesystems): claim with O_EXCL, then replace
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise _exists_error(target) from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def _commit_replace(tmp: Path, target: Path) -> None:
    """Move ``tmp`` onto ``target``, replacing what is there."""
    if not (target.exists() or target.is_symlink()):
        try:
            _commit_new(tmp, target)
        except FormatError:  # appeared meanwhile: replace it after all
            _commit_replace(tmp, target)
        return
    if not (tmp.is_dir() or (target.is_dir() and not target.is_symlink())):
        os.replace(tmp, target)  # file onto file: one atomic rename
        return
    if _renameat2(tmp, target, _RENAME_EXCHANGE):  # one atomic swap; the old output is now under tmp
        _remove(tmp)
        return
    old = temp_name(target, "old")
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    trash = temp_name(target, "tmp")  # the old name never holds a half-deleted store
    os.replace(old, trash)
    _remove(trash)


def _recover(target: Path) -> None:
    """Before writing: move back an old output a killed replace left aside; remove dead writers' leftovers."""
    if not (target.exists() or target.is_symlink()):
        for old in reversed(_dead_siblings(target, "old")):
            try:
                _commit_new(old, target)
            except (FormatError, OSError):
                break
            warnings.warn(
                f"{str(target)!r}: a replace of it was interrupted; its previous version was moved "
                "back from where it had been set aside",
                NeurosuperWarning,
                stacklevel=4,
            )
            break
    for path in _dead_siblings(target, "tmp"):
        _remove(path)
    if target.exists():
        for path in _dead_siblings(target, "old"):
            _remove(path)


# --------------------------------------------------------------------------------------------------- API
def check_target(target: str | os.PathLike, *, overwrite: bool) -> Path:
    """The absolute target; :class:`FormatError` if its folder is missing or it exists and not ``overwrite``."""
    target = Path(os.path.abspath(target))
    if not target.parent.is_dir():
        raise _error(
            f"path {str(target)!r}",
            f"no folder {str(target.parent)!r}",
            "an existing folder",
            f"create the folder first (mkdir -p {str(target.parent)!r})",
        )
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise _exists_error(target)
    return target


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; write a file or a directory there.

    On a normal exit the output is flushed to disk and renamed onto ``target``; on any exception it is removed
    and the exception propagates. Raises :class:`FormatError` (found/expected/Fix) when ``target``'s folder is
    missing, or when ``target`` exists (before writing, and again at the final rename) and ``overwrite`` is
    False.
    """
    target = check_target(target, overwrite=overwrite)
    guard = guard_of(target)
    if guard is not None:
        guard.check(target)
    _recover(target)
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise _exists_error(target)
    tmp = temp_name(target)
    try:
        yield tmp
        if not (tmp.exists() or tmp.is_symlink()):
            raise _error(
                f"writing {str(target)!r}",
                "nothing written",
                "a file or folder",
                "report this: the writer returned without output",
            )
        _fsync_tree(tmp)
        if overwrite:
            _commit_replace(tmp, target)
        else:
            _commit_new(tmp, target)
        _fsync_path(target.parent, directory=True)
    except BaseException as err:
        _remove(tmp)
        _hide_temp_name(err, tmp, target)
        if _no_space(err):
            raise _disk_full_error(target) from err
        raise
    if guard is not None:
        guard.record(target)


def _hide_temp_name(err: BaseException, tmp: Path, target: Path) -> None:
    """Messages name the target, never the hidden temporary name (edited in place: type and traceback kept)."""

    def clean(text: Any) -> Any:
        return text.replace(str(tmp), str(target)).replace(tmp.name, target.name) if isinstance(text, str) else text

    if tmp.name not in str(err) and not any(tmp.name in str(a) for a in err.args):
        return
    with contextlib.suppress(AttributeError, TypeError):
        if isinstance(err, OSError):
            err.strerror, err.filename, err.filename2 = (clean(err.strerror), clean(err.filename), clean(err.filename2))
        err.args = tuple(clean(a) for a in err.args)


def write_text(target: str | os.PathLike, text: str, *, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically; returns the absolute path."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(os.path.abspath(target))


def jsonable(obj: Any) -> Any:
    """Plain JSON data from ``obj``: numpy scalars/arrays to Python, non-finite floats to None, paths and
    other objects to str, mappings and sequences recursively."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [jsonable(v) for v in obj]
    return str(obj)


def write_json(target: str | os.PathLike, obj: Any, *, overwrite: bool = True) -> Path:
    """Write ``obj`` as strict JSON (indent 2; see :func:`jsonable`) to ``target`` atomically."""
    return write_text(target, json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n", overwrite=overwrite)


def figure_formats() -> list[str]:
    """The image suffixes (without the dot) matplotlib can write."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def check_figure_path(target: str | os.PathLike) -> str:
    """The image format named by ``target``'s suffix; :class:`FormatError` listing the supported suffixes
    otherwise. Cheap (no figure needed): commands call it before computing."""
    target = Path(target)
    supported = figure_formats()
    suffix = target.suffix.lower().lstrip(".")
    if suffix not in supported:
        raise _error(
            f"figure path {str(target)!r}",
            f"suffix {target.suffix or '(none)'!r}",
            f"one of {', '.join('.' + s for s in supported)}",
            f"name the figure e.g. {str(target.with_suffix('.png'))!r}",
        )
    return suffix


def save_figure(fig: Any, target: str | os.PathLike, *, overwrite: bool = True, **savefig_kwargs: Any) -> Path:
    """``fig.savefig`` atomically, in the format named by ``target``'s suffix.

    An unknown or missing suffix raises :class:`FormatError` listing the suffixes matplotlib supports, before
    anything is drawn.
    """
    suffix = check_figure_path(target)
    savefig_kwargs.setdefault("format", suffix)
    with atomic_path(target, overwrite=overwrite) as tmp:
        fig.savefig(tmp, **savefig_kwargs)
    return Path(os.path.abspath(target))
