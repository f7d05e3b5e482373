"""Issue 23, part 1 (and 5, one run per folder): neurosuper replaces only what it can prove it wrote.

A run's output folder holds a manifest of the files the run wrote (``.neurosuper-run.json``, size and sha256); a
rerun with ``--overwrite`` removes and replaces only those (unchanged since), never a user's file or folder named
like an output, never an input; one run owns a folder at a time (``.neurosuper-run.lock``, taken over when its
owner is dead); a full disk is a clear error that leaves no partial file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys

import pytest
from _format_helpers import brain_and_network

import neurosuper as ns
from neurosuper import _atomic
from neurosuper import report as report_module
from neurosuper.cli import main
from neurosuper.pipeline import Step

MANIFEST = ".neurosuper-run.json"
LOCK = ".neurosuper-run.lock"


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tiny(ctx):
    """A quick step: a figure named like the real ones, a result file named like the real ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for label, ds in ctx.sets.items():
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        ctx.figure("spectrum.png", fig, "a line", dpi=40)
        plt.close(fig)
        mean = ds["responses"].mean("stimulus").to_dataset(name="mean")
        ns.storage.save_result(mean, ctx.path(f"interpret_{label}.nc"), overwrite=True)
    ctx.summary["spectrum"] = {}


def _tiny_b(ctx):
    """Another run's step: writes other files than :func:`_tiny` (so the first run's would be left over)."""
    ctx.write_json("other.json", {"x": 1})
    ctx.summary["spectrum"] = {}


TINY = (Step("spectrum", _tiny, title="Spectra", description="tiny"),)
TINY_B = (Step("spectrum", _tiny_b, title="Spectra", description="tiny"),)


@pytest.fixture
def tiny_steps(monkeypatch):
    """``neurosuper report`` runs :data:`TINY` (seconds, not minutes)."""
    monkeypatch.setattr(report_module, "report_steps", lambda steps=None: list(TINY if steps is None else steps))


@pytest.fixture
def brain_file(tmp_path):
    brain, _ = brain_and_network(20)
    return ns.save(brain, tmp_path / "in.nc")


def _report(brain_file, out, *more):
    return main(["report", str(brain_file), "--out", str(out), "--quiet", *more])


# --------------------------------------------------------------------------------------- inputs are never outputs
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_spectrum_out_equal_to_its_input_is_refused(brain_file, capsys, overwrite):
    before = _sha(brain_file)
    assert main(["spectrum", str(brain_file), "--out", str(brain_file), *overwrite]) == 2
    assert "the command's input file" in capsys.readouterr().err
    assert _sha(brain_file) == before


# ------------------------------------------------------------------------------------ a user's things in --out
def test_rerun_keeps_a_users_directory_named_like_an_output(brain_file, tmp_path, capsys, tiny_steps):
    out = tmp_path / "r"
    assert _report(brain_file, out) == 0
    assert (out / "spectrum.png").is_file() and (out / MANIFEST).is_file()
    (out / "spectrum.png").unlink()
    (out / "spectrum.png").mkdir()
    (out / "spectrum.png" / "a.txt").write_text("mine")
    assert _report(brain_file, out, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "spectrum.png" in err and "a folder neurosuper did not create" in err and "another --out" in err
    assert (out / "spectrum.png" / "a.txt").read_text() == "mine"


def test_rerun_keeps_a_users_summary_folder(brain_file, tmp_path, capsys, tiny_steps):
    out = tmp_path / "r"
    assert _report(brain_file, out) == 0
    (out / "summary.json").unlink()
    (out / "summary.json").mkdir()
    (out / "summary.json" / "b.txt").write_text("mine")
    assert _report(brain_file, out, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "summary.json" in err and "--out" in err
    assert (out / "summary.json" / "b.txt").read_text() == "mine"
    assert (out / "report.html").exists()  # refused before anything was removed or computed


@pytest.mark.parametrize("name", ["report.html", "summary.json", "interpret_brain.nc"])
def test_overwrite_never_replaces_a_users_file(brain_file, tmp_path, capsys, tiny_steps, name):
    out = tmp_path / "r"
    out.mkdir()
    (out / name).write_text("the user's own file")
    assert _report(brain_file, out, "--overwrite") == 2
    err = capsys.readouterr().err
    assert name in err and "did not write" in err and "another --out" in err
    assert (out / name).read_text() == "the user's own file"


def test_an_input_inside_out_named_like_a_result_is_kept(tmp_path, capsys, tiny_steps):
    out = tmp_path / "r"
    out.mkdir()
    brain, _ = brain_and_network(20)
    path = ns.save(brain, out / "interpret_brain.nc")  # a neurosuper file, but the user's input
    before = _sha(path)
    assert _report(path, out, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "interpret_brain.nc" in err and "did not write" in err
    assert _sha(path) == before


def test_a_previous_output_the_user_changed_is_kept(brain_file, tmp_path, capsys, tiny_steps):
    out = tmp_path / "r"
    assert _report(brain_file, out) == 0
    (out / "summary.md").write_text("my notes")
    assert _report(brain_file, out, "--overwrite") == 2
    assert "summary.md" in capsys.readouterr().err
    assert (out / "summary.md").read_text() == "my notes"


def test_overwrite_replaces_its_own_outputs_and_lists_them(brain_file, tmp_path, tiny_steps):
    out = tmp_path / "r"
    assert _report(brain_file, out) == 0
    (out / "notes.txt").write_text("mine")  # not named like an output: kept
    assert _report(brain_file, out, "--overwrite") == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["state"] == "complete"
    names = set(manifest["files"])
    assert {"report.html", "summary.json", "summary.md", "spectrum.png", "interpret_brain.nc"} <= names
    assert "notes.txt" not in names and (out / "notes.txt").read_text() == "mine"
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == _sha(out / name) and entry["size"] == (out / name).stat().st_size
    assert not (out / LOCK).exists()


def test_a_rerun_leaves_no_file_of_the_previous_run(brain_file, tmp_path, tiny_steps, monkeypatch):
    out = tmp_path / "r"
    assert _report(brain_file, out) == 0
    monkeypatch.setattr(report_module, "report_steps", lambda steps=None: list(TINY_B))
    assert _report(brain_file, out, "--overwrite") == 0
    assert (out / "other.json").exists()
    assert not (out / "spectrum.png").exists() and not (out / "interpret_brain.nc").exists()


def test_a_killed_rerun_leaves_no_old_report_beside_new_results(brain_file, tmp_path, tiny_steps, monkeypatch):
    out = tmp_path / "r"
    assert _report(brain_file, out) == 0
    old_report = _sha(out / "report.html")

    def killed(ctx):
        _tiny(ctx)
        raise KeyboardInterrupt  # the run dies after writing new results, before the report

    monkeypatch.setattr(
        report_module, "report_steps", lambda steps=None: [Step("spectrum", killed, title="S", description="k")]
    )
    assert _report(brain_file, out, "--overwrite") == 130
    assert (out / "interpret_brain.nc").exists()  # the new result
    assert not (out / "report.html").exists() or _sha(out / "report.html") != old_report
    assert not (out / "summary.json").exists()
    assert not (out / LOCK).exists()


# --------------------------------------------------------------------------------------------- one run at a time
def test_a_second_run_into_a_folder_in_use_is_refused(brain_file, tmp_path, capsys, tiny_steps):
    out = tmp_path / "r"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK).write_text(json.dumps({"pid": sleeper.pid, "host": _atomic._HOST, "token": "x"}))
        assert _report(brain_file, out, "--overwrite") == 2
        err = capsys.readouterr().err
        assert "another neurosuper run" in err and str(sleeper.pid) in err and "another --out" in err
        assert not (out / "report.html").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_lock_left_by_a_killed_run_is_taken_over(brain_file, tmp_path, tiny_steps):
    out = tmp_path / "r"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK).write_text(json.dumps({"pid": dead.pid, "host": _atomic._HOST, "token": "x"}))
    assert _report(brain_file, out, "--overwrite") == 0
    assert (out / "report.html").exists() and not (out / LOCK).exists()


def test_two_library_runs_into_one_folder_cannot_interleave(tmp_path):
    from neurosuper._outfolder import OutputFolderError, output_folder

    with output_folder(tmp_path / "r", overwrite=False):
        other = _atomic._GUARDS.pop((tmp_path / "r").absolute())  # as if another process
        try:
            with pytest.raises(OutputFolderError, match="another neurosuper run"):
                with output_folder(tmp_path / "r", overwrite=True):
                    pass
        finally:
            _atomic._GUARDS[(tmp_path / "r").absolute()] = other


# ---------------------------------------------------------------------------------------------------- full disk
def test_enospc_while_writing_is_a_clear_error_and_leaves_no_file(tmp_path, monkeypatch):
    brain, _ = brain_and_network(20)

    def full(self, *args, **kwargs):
        with open(args[0], "wb") as f:
            f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(brain), "to_netcdf", full)
    with pytest.raises(_atomic.DiskFullError, match="no space left") as info:
        ns.save(brain, tmp_path / "x.nc")
    assert "Fix:" in str(info.value) and "x.nc" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_spectrum_on_a_full_disk_exits_2(brain_file, tmp_path, capsys, monkeypatch):
    import xarray as xr

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    out = tmp_path / "spec.nc"
    assert main(["spectrum", str(brain_file), "--out", str(out), "--n-boot", "0"]) == 2
    err = capsys.readouterr().err
    assert "no space left" in err and "spec.nc" in err and "Traceback" not in err
    assert not out.exists() and not [n for n in os.listdir(tmp_path) if n.startswith(".spec.nc")]


def test_a_file_larger_than_the_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    import shutil

    brain, _ = brain_and_network(20)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 100, 100))

    def never(*args, **kwargs):
        raise AssertionError("the netCDF writer was started on a full disk")

    monkeypatch.setattr(type(brain), "to_netcdf", never)
    with pytest.raises(_atomic.DiskFullError, match="100 bytes free"):
        ns.save(brain, tmp_path / "x.nc")
    assert os.listdir(tmp_path) == []


def test_demo_on_a_full_disk_exits_2_without_crashing(tmp_path, capsys, monkeypatch):
    import shutil

    real = shutil.disk_usage
    full = shutil._ntuple_diskusage(10**9, 10**9 - 100, 100)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: full if str(p).startswith(str(tmp_path)) else real(p))
    assert main(["demo", "--out", str(tmp_path / "d"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "100 bytes free" in err and "Fix:" in err
