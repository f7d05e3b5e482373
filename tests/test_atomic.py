"""neurosuper._atomic: the one writer (temporary name, fsync, rename; exclusive without overwrite; cleanup)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from neurosuper import FormatError, NeurosuperWarning
from neurosuper import _atomic as atomic


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _leftover(target: Path, pid: int, kind: str = "tmp", tag: str = "deadbeef") -> Path:
    """A sibling named as a writer of process ``pid`` on this host would name it."""
    return target.with_name(f".{target.name}.{kind}-{pid}-{atomic._HOST}-{tag}")


@pytest.fixture(params=["renameat2", "portable"])
def rename_mode(request, monkeypatch):
    """Run a test with the Linux renameat2 flags and with the portable fallbacks (mkdir claim, move aside)."""
    if request.param == "portable":
        monkeypatch.setattr(atomic, "_renameat2", lambda src, dst, flags: False)
    return request.param


# ----------------------------------------------------------------------------------------- basic writes
def test_write_text_new_overwrite_and_refuse(tmp_path):
    target = tmp_path / "a.txt"
    assert atomic.write_text(target, "one", overwrite=False) == target
    with pytest.raises(
        FormatError,
        match=r"a\.txt': found an existing file; expected a new path\. "
        r"Fix: pass overwrite=True \(CLI: --overwrite\)",
    ):
        atomic.write_text(target, "two", overwrite=False)
    assert target.read_text() == "one"
    atomic.write_text(target, "three")  # overwrite=True is the default of the helpers
    assert target.read_text() == "three" and _listing(tmp_path) == ["a.txt"]
    with pytest.raises(FormatError, match=r"found no folder .*Fix: create the folder"):
        atomic.write_text(tmp_path / "missing" / "a.txt", "x")


def test_temporary_name_is_hidden_in_the_target_folder_and_names_this_process(tmp_path):
    seen = []
    with atomic.atomic_path(tmp_path / "s.nc", overwrite=False) as tmp:
        seen.append(tmp)
        tmp.write_bytes(b"x")
    (tmp,) = seen
    assert tmp.parent == tmp_path and tmp.name.startswith(".s.nc.tmp-")
    assert atomic._owner(tmp_path / "s.nc", tmp.name, "tmp") == (os.getpid(), atomic._HOST)
    assert _listing(tmp_path) == ["s.nc"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
@pytest.mark.parametrize("kind", ["file", "dir"])
def test_exception_removes_the_temporary_output_and_keeps_the_old_target(tmp_path, exc, kind):
    target = tmp_path / "t"
    atomic.write_text(target, "old")
    with pytest.raises(type(exc)), atomic.atomic_path(target, overwrite=True) as tmp:
        if kind == "dir":
            tmp.mkdir()
            (tmp / "chunk").write_text("new")
        else:
            tmp.write_text("new")
        raise exc
    assert target.read_text() == "old" and _listing(tmp_path) == ["t"]


def test_writer_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(FormatError, match="nothing written"), atomic.atomic_path(tmp_path / "t", overwrite=False):
        pass
    assert _listing(tmp_path) == []


def test_error_messages_name_the_target_not_the_temporary_file(tmp_path):
    target = tmp_path / "s.nc"
    with pytest.raises(OSError) as info, atomic.atomic_path(target, overwrite=False) as tmp:
        raise OSError(errno.EIO, f"Input/output error while writing {tmp}", str(tmp))
    assert info.value.errno == errno.EIO
    text = str(info.value)
    assert ".tmp-" not in text and text.count(str(target)) == 2, text
    with pytest.raises(ValueError, match=r"s\.nc") as info, atomic.atomic_path(target, overwrite=False) as tmp:
        raise ValueError(f"cannot encode {tmp.name}")
    assert ".tmp-" not in str(info.value)
    # a full disk (ENOSPC) is neurosuper's own error, naming the target (issue 23)
    with (
        pytest.raises(atomic.DiskFullError, match=r"s\.nc") as info,
        atomic.atomic_path(target, overwrite=False) as tmp,
    ):
        raise OSError(errno.ENOSPC, f"No space left on device while writing {tmp}", str(tmp))
    assert ".tmp-" not in str(info.value) and "Fix:" in str(info.value) and not target.exists()


# --------------------------------------------------------------------------------------- directories
def _write_dir(tmp: Path, content: str) -> None:
    tmp.mkdir()
    (tmp / "sub").mkdir()
    (tmp / "sub" / "0.0").write_text(content)
    (tmp / ".zattrs").write_text("{}")


@pytest.mark.parametrize("old_kind", ["dir", "file"])
def test_directory_replaces_a_directory_or_a_file(tmp_path, rename_mode, old_kind):
    target = tmp_path / "s.zarr"
    if old_kind == "dir":
        with atomic.atomic_path(target, overwrite=False) as tmp:
            _write_dir(tmp, "old")
            (tmp / "extra").write_text("only in the old store")
    else:
        target.write_text("a file in the way")
    with atomic.atomic_path(target, overwrite=True) as tmp:
        _write_dir(tmp, "new")
    assert (target / "sub" / "0.0").read_text() == "new" and not (target / "extra").exists()
    assert _listing(tmp_path) == ["s.zarr"]
    with atomic.atomic_path(target, overwrite=True) as tmp:  # and a file replaces the directory
        tmp.write_text("file again")
    assert target.read_text() == "file again" and _listing(tmp_path) == ["s.zarr"]


# ------------------------------------------------------------------------------------ overwrite=False race
@pytest.mark.parametrize("kind", ["file", "dir"])
def test_two_concurrent_writers_to_a_new_path_exactly_one_wins(tmp_path, rename_mode, kind):
    """Both pass the existence check and write; the final step of one of them must refuse."""
    target = tmp_path / "new.zarr"
    barrier = threading.Barrier(2, timeout=30)
    results: dict[int, object] = {}

    def writer(i: int) -> None:
        try:
            with atomic.atomic_path(target, overwrite=False) as tmp:
                _write_dir(tmp, f"writer {i}") if kind == "dir" else tmp.write_text(f"writer {i}")
                barrier.wait()  # both temporary outputs are complete before either is renamed
            results[i] = "ok"
        except Exception as err:  # noqa: BLE001 - recorded for the assertions below
            results[i] = err

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, r in results.items() if r == "ok"]
    losers = [r for r in results.values() if r != "ok"]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], FormatError) and "found an existing" in str(losers[0])
    assert "Fix:" in str(losers[0]) and ".tmp-" not in str(losers[0])
    content = (target / "sub" / "0.0").read_text() if kind == "dir" else target.read_text()
    assert content == f"writer {winners[0]}"
    assert _listing(tmp_path) == ["new.zarr"]


# ------------------------------------------------------------------------------------------- leftovers
def test_next_write_removes_leftovers_of_dead_writers_only(tmp_path):
    target = tmp_path / "s.nc"
    dead = _dead_pid()
    stale_file = _leftover(target, dead, tag="00000001")
    stale_file.write_bytes(b"half a file")
    stale_dir = _leftover(target, dead, tag="00000002")
    _write_dir(stale_dir, "half a store")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        concurrent = _leftover(target, live.pid, tag="00000003")  # a concurrent writer, still running
        concurrent.write_bytes(b"being written")
        mine = _leftover(target, os.getpid(), tag="00000004")  # another thread of this process
        mine.write_bytes(b"being written")
        other_host = target.with_name(f".s.nc.tmp-{dead}-zzzz-00000005")  # cannot tell: left alone
        other_host.write_bytes(b"?")
        other_target = _leftover(tmp_path / "other.nc", dead)  # another target's: not ours to clean
        other_target.write_bytes(b"?")
        atomic.write_text(target, "new", overwrite=False)
        left = _listing(tmp_path)
        assert stale_file.name not in left and stale_dir.name not in left
        assert {concurrent.name, mine.name, other_host.name, other_target.name, "s.nc"} == set(left)
    finally:
        live.kill()
        live.wait()


def test_interrupted_directory_replace_is_found_and_moved_back(tmp_path):
    """A replace killed between its two renames leaves the old store only under `.NAME.old-...`: readers are
    told where it is, and the next write moves it back before going on."""
    target = tmp_path / "s.zarr"
    old = _leftover(target, _dead_pid(), kind="old")
    _write_dir(old, "the previous store")
    assert atomic.interrupted_replace(target) == old
    with pytest.warns(NeurosuperWarning, match="interrupted"), pytest.raises(FormatError, match="existing"):
        atomic.write_text(target, "new", overwrite=False)
    assert (target / "sub" / "0.0").read_text() == "the previous store" and _listing(tmp_path) == ["s.zarr"]
    assert atomic.interrupted_replace(target) is None


def test_old_store_of_a_finished_replace_is_removed(tmp_path):
    """Killed after the new store was moved in: the old one (still named .old-) is garbage."""
    target = tmp_path / "s.zarr"
    with atomic.atomic_path(target, overwrite=False) as tmp:
        _write_dir(tmp, "current")
    _write_dir(_leftover(target, _dead_pid(), kind="old"), "previous")
    with atomic.atomic_path(target, overwrite=True) as tmp:
        _write_dir(tmp, "next")
    assert (target / "sub" / "0.0").read_text() == "next" and _listing(tmp_path) == ["s.zarr"]


_KILLED_WRITER = r"""
import sys, time
from neurosuper import _atomic
with _atomic.atomic_path(sys.argv[1], overwrite=True) as tmp:
    if sys.argv[2] == "dir":
        tmp.mkdir()
        (tmp / "0.0").write_bytes(b"x" * 1000)
    else:
        tmp.write_bytes(b"x" * 1000)
    print("writing", flush=True)
    time.sleep(120)
"""


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_writer_killed_mid_write_leaves_a_temporary_the_next_write_removes(tmp_path, kind):
    target = tmp_path / "out.bin"
    atomic.write_text(target, "old")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(target), kind], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait()
    assert len(_listing(tmp_path)) == 2 and target.read_text() == "old"  # the target was never touched
    atomic.write_text(target, "new")
    assert _listing(tmp_path) == ["out.bin"] and target.read_text() == "new"


# ---------------------------------------------------------------------------------------- JSON, figures
def test_write_json_is_strict_json_of_numpy_values(tmp_path):
    obj = {
        "a": np.float32(0.5),
        "n": np.int64(3),
        "nan": float("nan"),
        "inf": np.inf,
        "arr": np.arange(3),
        "path": tmp_path,
        "nested": {"t": (1, np.bool_(True))},
    }
    path = atomic.write_json(tmp_path / "s.json", obj)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text and text.startswith("{\n  ")
    back = json.loads(text)
    assert back == {
        "a": 0.5,
        "n": 3,
        "nan": None,
        "inf": None,
        "arr": [0, 1, 2],
        "path": str(tmp_path),
        "nested": {"t": [1, True]},
    }
    with pytest.raises(FormatError, match="existing"):
        atomic.write_json(path, {}, overwrite=False)


def test_save_figure_format_from_suffix_and_unknown_suffix_before_drawing(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    png = atomic.save_figure(fig, tmp_path / "f.png", dpi=30)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = atomic.save_figure(fig, tmp_path / "f.SVG")
    assert b"<svg" in svg.read_bytes()[:500]
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: pytest.fail("drew the figure"))
    for name in ("f.xyz", "noext"):
        with pytest.raises(
            FormatError,
            match=r"suffix .*expected one of .*\.pdf.*\.png.*\.svg.*Fix: name the "
            r"figure e\.g\.",
        ):
            atomic.save_figure(fig, tmp_path / name)
    with pytest.raises(FormatError, match="xyz"):
        atomic.check_figure_path("out/fig.xyz")  # no figure needed: commands check before computing
    assert atomic.check_figure_path("fig.PDF") == "pdf"
    plt.close(fig)
    assert _listing(tmp_path) == ["f.SVG", "f.png"]
