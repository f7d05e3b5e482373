"""save/load: exact round trips, atomic writes, lazy loading, and the file-level malformed inputs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _format_helpers import assert_round_trip, assert_same_attrs, valid_set

import neurosuper as ns
import neurosuper.format as nsformat
from neurosuper import FormatError
from neurosuper._attrs import JSON_ATTR, decode_attrs, encode_attrs

SUFFIXES = (".nc", ".zarr")

#: attrs of every kind the format promises to keep, incl. names xarray's CF decoder would act on
RICH_ATTRS = {
    "source": "simulated",
    "n": 3,
    "big": 2**70,
    "x": 0.25,
    "nan": float("nan"),
    "flag": True,
    "none": None,
    "window": (0.05, 0.2),
    "nested": [1, [2.5, "a"], {"k": (1, None)}],
    "d": {"a": {"b": [True, False]}},
    "tagged": {"__tuple__": [1]},
    "np_int": np.int16(-3),
    "np_float": np.float32(0.5),
    "np_bool": np.bool_(True),
    "np_str": np.str_("V1"),
    "array": np.arange(6, dtype=np.uint8).reshape(2, 3),
    "empty": "",
    "nul": "a\x00b",
    "unicode": "µm²",
    "units": "seconds since 2000-01-01",
    "coordinates": "area",
    "_private": 1,
    "dtype": "bool",
}


def rich_set() -> xr.Dataset:
    ds = valid_set(repeat=3, time=2).assign_attrs(RICH_ATTRS)
    ds["responses"][2, :2] = np.nan  # two stimuli missed their third repeat
    ds["responses"].attrs.update({"units": "dF/F", "_FillValue_like": [1, 2], "scale_factor": 2.0})
    ds["time"].attrs.update({"units": "seconds", "calendar": "none"})
    ds["area"].attrs["missing_value"] = "V1"
    return ds.assign_coords(
        depth=("unit", np.array([10.5, np.nan, 30.0, 40.0])),
        good=("unit", np.array([True, False, True, True])),
        code=("stimulus", np.arange(6, dtype=np.int32)),
        name=("stimulus", np.array(["a", "bb", "", "µ", "e e", "f"], dtype=object)),
    )


# ------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_is_exact(tmp_path, suffix):
    ds = rich_set()
    written = ns.save(ds, tmp_path / f"set{suffix}")
    assert written == (tmp_path / f"set{suffix}").resolve() and written.exists()
    back = ns.load(written)
    assert_round_trip(ds, back)
    assert back["name"].dtype.kind == "U" and back["stimulus"].dtype.kind == "U"
    assert back["time"].dtype == np.float64  # "units": "seconds" did not turn it into timedeltas
    assert back["area"].values.tolist() == ["V1", "V2"] * 2  # missing_value="V1" did not mask anything
    assert int(back["responses"].isnull().sum()) == 2 * 2 * 4
    assert sorted(os.listdir(tmp_path)) == [f"set{suffix}"]  # no temporary files left


def test_json_attr_encoding_is_exact_and_reserved_names_are_encoded():
    encoded = encode_attrs(RICH_ATTRS)
    assert encoded["source"] == "simulated" and encoded["n"] == 3 and encoded["x"] == 0.25  # native
    blob = json.loads(encoded[JSON_ATTR])
    assert {"units", "coordinates", "_private", "dtype", "nul", "flag", "none", "big"} <= set(blob)
    assert_same_attrs(decode_attrs(encoded), RICH_ATTRS)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_string_ids_come_back_as_numpy_unicode(tmp_path, suffix):
    ds = valid_set()
    ds = ds.assign_coords(unit=np.array(["a", "bb", "ccc", "dddd"], dtype=object))
    back = ns.load(ns.save(ds, tmp_path / f"s{suffix}"))
    assert back["unit"].dtype.kind == "U" and back["unit"].values.tolist() == ["a", "bb", "ccc", "dddd"]
    assert back["stimulus"].dtype.kind == "U"


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_lazy_load_is_dask_backed_and_reads_no_data(tmp_path, suffix):
    ds = valid_set(n_stimulus=50, n_unit=40)
    path = ns.save(ds, tmp_path / f"s{suffix}")
    lazy = ns.load(path, lazy=True)
    assert nsformat.is_lazy(lazy) and hasattr(lazy["stimuli"].data, "dask")
    xr.testing.assert_identical(lazy.compute(), ns.load(path))
    if suffix == ".zarr":  # garble every data chunk: a lazy open still works, an eager one fails
        for chunk in (path / "responses").glob("[0-9]*"):
            chunk.write_bytes(b"garbage")
        assert ns.load(path, lazy=True)["responses"].shape == ds["responses"].shape
        with pytest.raises(FormatError, match="cannot be read as zarr"):
            ns.load(path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_values_are_read_once_per_file(tmp_path, suffix, monkeypatch):
    """save checks an in-memory set's values while writing and records it, so load does not read them again;
    a file from elsewhere, or written from a lazy set, has its values checked on load."""
    calls = []
    real = nsformat.check_response_values
    ds, lazy = valid_set(), valid_set().chunk()
    monkeypatch.setattr(nsformat, "check_response_values", lambda resp: calls.append(resp.shape) or real(resp))
    path = ns.save(ds, tmp_path / f"s{suffix}")
    assert len(calls) == 1
    ns.load(path)
    ns.load(path, lazy=True)
    assert len(calls) == 1
    plain = tmp_path / f"plain{suffix}"
    ds.to_netcdf(plain, engine="h5netcdf") if suffix == ".nc" else ds.to_zarr(plain, zarr_format=2)
    ns.load(plain)
    assert len(calls) == 2
    ns.load(ns.save(lazy, tmp_path / f"lazy{suffix}"))
    assert len(calls) == 3
    bad = ds.copy(deep=True)
    bad["responses"][0, 0, 0] = np.inf
    bad.to_netcdf(plain, engine="h5netcdf") if suffix == ".nc" else bad.to_zarr(plain, zarr_format=2, mode="w")
    with pytest.raises(FormatError, match=r"plain\.(nc|zarr)' does not hold a valid ResponseSet.*1 ±inf"):
        ns.load(plain)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_dask_backed_sets_save_chunk_by_chunk(tmp_path, suffix):
    ds = valid_set(n_stimulus=10)
    lazy = ds.chunk({"stimulus": (3, 5, 2)})  # irregular chunks (zarr needs them rechunked)
    back = ns.load(ns.save(lazy, tmp_path / f"s{suffix}"))
    xr.testing.assert_identical(back, ds)
    assert lazy["responses"].data.chunks[1] == (3, 5, 2)  # the input is untouched


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_overwrite_a_file_with_a_lazy_view_of_itself(tmp_path, suffix):
    path = ns.save(valid_set(seed=1), tmp_path / f"s{suffix}")
    lazy = ns.load(path, lazy=True)
    changed = lazy.assign(responses=lazy["responses"] * 2)
    ns.save(changed, path, overwrite=True)
    np.testing.assert_array_equal(ns.load(path)["responses"].values, valid_set(seed=1)["responses"].values * 2)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_format_version_newer_on_disk_raises(tmp_path, suffix):
    ds = valid_set().assign_attrs(format_version=nsformat.FORMAT_VERSION + 1)
    path = tmp_path / f"new{suffix}"
    ds.to_netcdf(path, engine="h5netcdf") if suffix == ".nc" else ds.to_zarr(path, zarr_format=2)
    for kwargs in ({}, {"validate_set": False}, {"lazy": True}):
        with pytest.raises(FormatError, match=r"format_version 2; expected at most 1.*upgrade"):
            ns.load(path, **kwargs)


def test_save_result_round_trips_results(tmp_path):
    spectrum = xr.DataArray(
        np.linspace(1, 0.1, 5),
        dims="rank",
        coords={"rank": np.arange(1, 6)},
        name="eigenvalues",
        attrs={"alpha": 1.02, "fit_range": (11, 500), "cv": True},
    )
    back = ns.load(ns.save_result(spectrum, tmp_path / "spec.nc"), validate_set=False)
    xr.testing.assert_identical(back["eigenvalues"], spectrum)
    assert back["eigenvalues"].attrs["fit_range"] == (11, 500)
    with pytest.raises(FormatError, match=r"ResponseSet.*'responses'"):
        ns.load(tmp_path / "spec.nc")
    with pytest.raises(FormatError, match=r"attr of variable 'eigenvalues'.*object"):
        ns.save_result(spectrum.assign_attrs(bad=object()), tmp_path / "bad.zarr")
    with pytest.raises(FormatError, match=r"result: found a dict"):
        ns.save_result({"a": 1}, tmp_path / "bad.nc")
    assert sorted(os.listdir(tmp_path)) == ["spec.nc"]


# ------------------------------------------------------------------------------------- atomic writes
def _broken_writer(monkeypatch, method: str, exc: BaseException):
    """Make xarray's writer write the whole file, damage it, then fail — a crash mid-write."""
    real = getattr(xr.Dataset, method)

    def broken(self, path, *args, **kwargs):
        real(self, path, *args, **kwargs)
        target = Path(path)
        if target.is_dir():
            shutil.rmtree(target / "responses")
        else:
            target.write_bytes(target.read_bytes()[:100])
        raise exc

    monkeypatch.setattr(xr.Dataset, method, broken)


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("exc", [OSError("No space left on device"), KeyboardInterrupt()])
def test_failed_write_leaves_no_file(tmp_path, monkeypatch, suffix, exc):
    _broken_writer(monkeypatch, "to_netcdf" if suffix == ".nc" else "to_zarr", exc)
    with pytest.raises(type(exc)):
        ns.save(valid_set(), tmp_path / f"s{suffix}")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_failed_overwrite_keeps_the_old_file(tmp_path, monkeypatch, suffix):
    old = valid_set(seed=1)
    path = ns.save(old, tmp_path / f"s{suffix}")
    _broken_writer(monkeypatch, "to_netcdf" if suffix == ".nc" else "to_zarr", OSError("disk full"))
    with pytest.raises(OSError, match="disk full"):
        ns.save(valid_set(seed=2), path, overwrite=True)
    monkeypatch.undo()
    xr.testing.assert_identical(ns.load(path), old)
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_bad_values_found_during_the_write_leave_the_old_file(tmp_path, suffix):
    """The value check runs while the file is written; its failure deletes the temporary file."""
    old = valid_set(seed=1)
    path = ns.save(old, tmp_path / f"s{suffix}")
    bad = valid_set(seed=2)
    bad["responses"][1, 2, 3] = -np.inf
    with pytest.raises(FormatError, match=r"'responses' values: found 1 ±inf values"):
        ns.save(bad, path, overwrite=True)
    with pytest.raises(FormatError, match=r"±inf"):
        ns.save(bad, tmp_path / f"new{suffix}")
    assert os.listdir(tmp_path) == [path.name]
    xr.testing.assert_identical(ns.load(path), old)


def test_overwrite_replaces_a_zarr_directory_completely(tmp_path):
    old = valid_set().assign(extra=(("unit",), np.arange(4.0)))
    path = ns.save(old, tmp_path / "s.zarr")
    assert (path / "extra").is_dir()
    new = valid_set(seed=3, stimuli=False)
    ns.save(new, path, overwrite=True)
    assert not (path / "extra").exists() and not (path / "stimuli").exists()
    xr.testing.assert_identical(ns.load(path), new)
    assert os.listdir(tmp_path) == ["s.zarr"]  # the old directory was moved aside and deleted


@pytest.mark.parametrize(("first", "second"), [(".nc", ".zarr"), (".zarr", ".nc")])
def test_overwrite_across_kinds_of_path(tmp_path, first, second):
    """A file where a directory was (or the reverse), e.g. a .nc folder replaced by a netCDF file."""
    target = tmp_path / f"s{second}"
    ns.save(valid_set(seed=1), tmp_path / f"s{first}")
    os.replace(tmp_path / f"s{first}", target)  # the wrong kind of thing under the target name
    ns.save(valid_set(seed=2), target, overwrite=True)
    xr.testing.assert_identical(ns.load(target), valid_set(seed=2))
    assert os.listdir(tmp_path) == [target.name]


# ------------------------------------------------------------------------------------- malformed files
def _truncated_nc(tmp_path: Path) -> Path:
    path = ns.save(valid_set(n_stimulus=40, n_unit=30), tmp_path / "s.nc")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _zarr_with(tmp_path: Path, damage) -> Path:
    path = ns.save(valid_set(), tmp_path / "s.zarr")
    damage(path)
    return path


def _text_file(path: Path) -> Path:
    path.write_text("hello")
    return path


def _garble(path: Path) -> None:
    path.write_bytes(b"\x00garbled" * 3)


#: name -> (make the bad path, kwargs of load, regex)
FILE_CASES = {
    "unknown suffix": (lambda p: p / "s.csv", r"suffix '\.csv'.*'set\.nc'"),
    "no suffix": (lambda p: p / "set", r"suffix '\(none\)'"),
    "missing file": (lambda p: p / "absent.nc", r"absent\.nc.*no such file"),
    "missing zarr": (lambda p: p / "absent.zarr", r"absent\.zarr.*no such file"),
    "truncated netCDF": (_truncated_nc, r"cannot be read as netcdf.*truncated or corrupted"),
    "not HDF5 at all": (lambda p: _text_file(p / "t.nc"), r"cannot be read as netcdf"),
    "garbled zarr chunk": (
        lambda p: _zarr_with(p, lambda z: _garble(z / "responses" / "0.0.0")),
        r"cannot be read as zarr",
    ),
    "deleted zarr chunk": (
        lambda p: _zarr_with(p, lambda z: (z / "responses" / "0.0.0").unlink()),
        r"'responses' has 0 of its 1 chunk files",
    ),
    "garbled zarr metadata": (lambda p: _zarr_with(p, lambda z: _garble(z / ".zmetadata")), r"cannot be read as zarr"),
    "zarr metadata deleted": (
        lambda p: _zarr_with(p, lambda z: [(z / f).unlink() for f in (".zmetadata", ".zattrs", ".zgroup")]),
        r"cannot be read as zarr",
    ),
    "a folder named .nc": (lambda p: (p / "d.nc").mkdir() or p / "d.nc", r"cannot be read as netcdf"),
    "netCDF without responses": (
        lambda p: xr.Dataset({"x": ("a", [1.0])}).to_netcdf(p / "x.nc") or p / "x.nc",
        r"x\.nc' does not hold a valid ResponseSet.*variable 'responses'",
    ),
}


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_malformed_file_raises_format_error(tmp_path, name):
    make, match = FILE_CASES[name]
    with pytest.raises(FormatError, match=match) as info:
        ns.load(make(tmp_path))
    assert "found" in str(info.value) and "Fix:" in str(info.value)


def test_file_opened_with_plain_xarray_is_flagged(tmp_path):
    path = ns.save(valid_set().assign_attrs(flag=True), tmp_path / "s.nc")
    with pytest.raises(FormatError, match=r"neurosuper_json_attrs.*neurosuper\.load\(path\)"):
        ns.validate(xr.open_dataset(path, engine="h5netcdf").load())


@pytest.mark.parametrize(
    ("make", "kwargs", "match"),
    [
        (lambda p: p / "s.csv", {}, r"suffix '\.csv'"),
        (lambda p: ns.save(valid_set(), p / "s.nc"), {}, r"s\.nc': found an existing file.*overwrite=True"),
        (lambda p: ns.save(valid_set(), p / "s.zarr"), {}, r"found an existing file"),
        (lambda p: p / "missing" / "s.nc", {}, r"found no folder"),
        (lambda p: p / "s.nc", {"bad": True}, r"system='mouse'"),
    ],
)
def test_malformed_save_raises_format_error(tmp_path, make, kwargs, match):
    path = make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    ds = valid_set().assign_attrs(system="mouse") if kwargs else valid_set()
    with pytest.raises(FormatError, match=match):
        ns.save(ds, path)
    assert sorted(os.listdir(tmp_path)) == before


# ------------------------------------------------------------------------------------- nothing lost (issue 10)
def _plain_zarr_with_files(path: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text("my notes")
    return path


#: name -> make something that is not a neurosuper file/store under the target path; regex of the refusal
NOT_OURS = {
    "a folder of files": (
        lambda p: _plain_zarr_with_files(p / "s.zarr"),
        r"a folder that is not a zarr store "
        r"\(it holds 'notes\.txt'\)",
    ),
    "a text file": (lambda p: _text_file(p / "s.nc"), r"a file that is not a netCDF4/HDF5 file"),
    "another tool's netCDF": (
        lambda p: xr.Dataset({"x": ("a", [1.0])}).to_netcdf(p / "s.nc", engine="h5netcdf") or p / "s.nc",
        r"an HDF5 file neurosuper did not write",
    ),
    "another tool's zarr": (
        lambda p: xr.Dataset({"x": ("a", [1.0])}).to_zarr(p / "s.zarr", zarr_format=2) and p / "s.zarr",
        r"a zarr store neurosuper did not write",
    ),
    "a folder at a .nc path": (lambda p: _plain_zarr_with_files(p / "s.nc"), r"not a zarr store"),
}


@pytest.mark.parametrize("name", sorted(NOT_OURS))
@pytest.mark.parametrize("writer", ["save", "save_result"])
def test_overwrite_refuses_what_neurosuper_did_not_write(tmp_path, name, writer):
    make, match = NOT_OURS[name]
    path = make(tmp_path)
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    write = ns.save if writer == "save" else ns.save_result
    with pytest.raises(FormatError, match=match) as info:
        write(valid_set(), path, overwrite=True)
    assert "expected a ResponseSet or result file/store written by neurosuper" in str(info.value)
    assert "Fix:" in str(info.value)
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()} == before  # all kept


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_overwrite_replaces_what_is_recognisably_a_set_or_result(tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    path.mkdir()  # an empty folder holds nothing to lose
    ns.save(valid_set(seed=1), path, overwrite=True)
    ns.save_result(xr.DataArray(np.ones(3), dims="rank", name="spectrum"), path, overwrite=True)  # a set -> result
    ns.save(valid_set(seed=2), path, overwrite=True)  # a result -> a set
    plain = tmp_path / f"plain{suffix}"  # a ResponseSet written by plain xarray: it holds 'responses'
    ds = valid_set(seed=3)
    ds.to_netcdf(plain, engine="h5netcdf") if suffix == ".nc" else ds.to_zarr(plain, zarr_format=2)
    ns.save(valid_set(seed=4), plain, overwrite=True)
    xr.testing.assert_identical(ns.load(path), valid_set(seed=2))
    xr.testing.assert_identical(ns.load(plain), valid_set(seed=4))
    assert sorted(os.listdir(tmp_path)) == [f"plain{suffix}", f"s{suffix}"]


def test_two_concurrent_saves_to_a_new_path_exactly_one_wins(tmp_path, monkeypatch):
    """Both saves pass the existence check and write their file; the second rename must not replace the first."""
    import threading

    barrier = threading.Barrier(2, timeout=30)
    real = xr.Dataset.to_netcdf

    def slow(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        barrier.wait()  # both files are complete before either is renamed
        return out

    monkeypatch.setattr(xr.Dataset, "to_netcdf", slow)
    path = tmp_path / "s.nc"
    results = {}

    def run(seed):
        try:
            ns.save(valid_set(seed=seed), path)
            results[seed] = "ok"
        except FormatError as err:
            results[seed] = err

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (winner,) = [s for s, r in results.items() if r == "ok"]
    (error,) = [r for r in results.values() if r != "ok"]
    assert "found an existing file" in str(error) and ".tmp-" not in str(error)
    monkeypatch.undo()
    xr.testing.assert_identical(ns.load(path), valid_set(seed=winner))
    assert os.listdir(tmp_path) == ["s.nc"]


_KILLED_SAVE = r"""
import sys, time
import numpy as np
import xarray as xr
import neurosuper as ns

path, method = sys.argv[1], sys.argv[2]
real = getattr(xr.Dataset, method)

def write_then_hang(self, *args, **kwargs):
    real(self, *args, **kwargs)
    print("written", flush=True)
    time.sleep(120)  # killed here: the file is complete under its temporary name, not yet renamed

setattr(xr.Dataset, method, write_then_hang)
rng = np.random.default_rng(0)
ds = ns.from_array(rng.standard_normal((3, 40, 30)), dims=("repeat", "stimulus", "unit"), system="brain",
                   measure="dff")
ns.save(ds, path, overwrite=True)
"""


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_killed_save_leaves_a_temporary_the_next_save_removes(tmp_path, suffix):
    import subprocess
    import sys

    path = tmp_path / f"s{suffix}"
    ns.save(valid_set(seed=1), path)
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SAVE, str(path), "to_netcdf" if suffix == ".nc" else "to_zarr"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "written"
    finally:
        proc.kill()  # SIGKILL mid-save
        proc.wait()
    left = sorted(os.listdir(tmp_path))
    assert len(left) == 2 and left[0].startswith(f".s{suffix}.tmp-")  # what the killed save left
    xr.testing.assert_identical(ns.load(path), valid_set(seed=1))  # the old file is intact
    ns.save(valid_set(seed=2), path, overwrite=True)
    assert os.listdir(tmp_path) == [path.name]  # the leftover of the dead writer is gone
    xr.testing.assert_identical(ns.load(path), valid_set(seed=2))


def test_interrupted_zarr_replace_is_reported_by_load_and_undone_by_save(tmp_path):
    """Killed between moving the old store aside and moving the new one in (the portable path, where no
    atomic exchange exists): load says where the old store is; the next save moves it back first."""
    import subprocess

    from neurosuper import NeurosuperWarning
    from neurosuper import _atomic as atomic

    path = ns.save(valid_set(seed=1), tmp_path / "s.zarr")
    proc = subprocess.Popen(["true"])  # a writer that has exited
    proc.wait()
    old = path.with_name(f".s.zarr.old-{proc.pid}-{atomic._HOST}-0000abcd")
    os.rename(path, old)  # the state a SIGKILL between the two renames leaves
    with pytest.raises(
        FormatError,
        match=r"no such file, but its previous version at .*\.s\.zarr\.old-.*"
        r"interrupted.*Fix: move it back: mv ",
    ):
        ns.load(path)
    with pytest.warns(NeurosuperWarning, match="interrupted"):
        ns.save(valid_set(seed=2), path, overwrite=True)
    xr.testing.assert_identical(ns.load(path), valid_set(seed=2))
    assert os.listdir(tmp_path) == ["s.zarr"]


def test_write_errors_name_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    import errno

    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    with pytest.raises(OSError, match="no space left on the disk") as info:  # a DiskFullError, also an OSError
        ns.save(valid_set(), tmp_path / "s.nc")
    assert info.value.filename == str(tmp_path / "s.nc") and ".tmp-" not in str(info.value)
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, ns.errors.FormatError)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------------- values edited after save
def _edit(path: Path, edit) -> None:
    """Change the stored 'responses' values in place, as another tool would (the checked flag stays)."""
    if path.suffix == ".nc":
        import h5py

        with h5py.File(path, "r+") as f:
            values = f["responses"][...]
            edit(values)
            f["responses"][...] = values
    else:
        import zarr

        arr = zarr.open_array(str(path / "responses"), mode="r+")
        values = arr[...]
        edit(values)
        arr[...] = values


def _set_inf(v):
    v[0, 1, 2] = np.inf


def _kill_unit(v):
    v[..., 3] = np.nan  # unit 'u3' all NaN


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize(
    ("edit", "eager", "lazy"),
    [
        (
            _set_inf,
            r"1 ±inf values",
            r"±inf values in the chunk read, e\.g\. at \(repeat 0, stimulus 's1', unit 'u2'\)",
        ),
        (_kill_unit, r"unit 'u3' with no valid value", r"NaN outside whole missing repeats in unit 'u3'"),
    ],
)
def test_values_edited_after_save_are_caught(tmp_path, suffix, edit, eager, lazy):
    ds = valid_set(repeat=2, n_stimulus=6, n_unit=5)
    path = ns.save(ds, tmp_path / f"s{suffix}")
    _edit(path, edit)
    with pytest.raises(FormatError, match=rf"s{suffix}' does not hold a valid ResponseSet.*{eager}"):
        ns.load(path)  # the stale checked flag is not trusted: the fingerprint differs
    opened = ns.load(path, lazy=True)  # opening reads no data ...
    assert nsformat.is_lazy(opened)
    for compute in (lambda: opened["responses"].mean("repeat").values, lambda: opened.load()):
        with pytest.raises(FormatError, match=rf"file '.*s{suffix}': 'responses' values: found .*{lazy}.*Fix:"):
            compute()  # ... but computing on the values names them


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_lazy_value_guard_accepts_whole_missing_repeats_and_costs_one_sum_per_chunk(tmp_path, suffix):
    ds = rich_set()  # NaN = two whole missing repeats
    lazy = ns.load(ns.save(ds, tmp_path / f"s{suffix}"), lazy=True)
    np.testing.assert_array_equal(lazy["responses"].values, ds["responses"].values)
    clean = ns.load(ns.save(valid_set(), tmp_path / f"c{suffix}"), lazy=True)
    xr.testing.assert_identical(clean.compute(), valid_set())


def test_fingerprint_is_independent_of_memory_order_and_batches():
    from neurosuper.storage import bit_sum, fingerprint, values_fingerprint

    a = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    assert values_fingerprint(a) == values_fingerprint(np.ascontiguousarray(a.transpose(2, 0, 1)))
    assert fingerprint(a.dtype, a.size, bit_sum(a[:1]) + bit_sum(a[1:])) == values_fingerprint(a)
    b = a.copy()
    b[1, 2, 3] = np.nan
    assert values_fingerprint(b) != values_fingerprint(a)
    assert values_fingerprint(np.array(["a"])) is None


# ------------------------------------------------------------------------------------- load messages
def test_load_messages_for_folders_and_unreadable_files_do_not_blame_corruption(tmp_path, monkeypatch):
    folder = tmp_path / "d.nc"
    folder.mkdir()
    with pytest.raises(FormatError, match=r"a folder, which cannot be read as netcdf") as info:
        ns.load(folder)
    store = ns.save(valid_set(), tmp_path / "z.zarr")
    os.rename(store, tmp_path / "z.nc")
    with pytest.raises(FormatError, match=r"it holds a zarr store.*Fix: rename the folder to end in \.zarr"):
        ns.load(tmp_path / "z.nc")
    nc = ns.save(valid_set(), tmp_path / "f.nc")
    os.rename(nc, tmp_path / "f.zarr")
    with pytest.raises(FormatError, match=r"a file, which cannot be read as zarr.*netCDF4/HDF5.*end in \.nc"):
        ns.load(tmp_path / "f.zarr")
    plain = tmp_path / "p.zarr"
    plain.mkdir()
    (plain / "a.txt").write_text("x")
    with pytest.raises(FormatError, match=r"a folder without zarr metadata"):
        ns.load(plain)
    messages = [str(info.value)]
    path = ns.save(valid_set(), tmp_path / "s.nc")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # as a user without read permission
    with pytest.raises(FormatError, match=r"cannot be read \(permission denied\).*chmod") as info:
        ns.load(path)
    messages.append(str(info.value))
    monkeypatch.undo()
    import h5py

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(h5py.File, "__init__", denied)
    with pytest.raises(FormatError, match=r"permission denied") as info:
        ns.load(path)
    messages.append(str(info.value))
    assert not any("truncated or corrupted" in m for m in messages), messages


def test_torch_zarr_stream_is_marked_complete_and_checked(tmp_path):
    torch = pytest.importorskip("torch")
    from neurosuper.storage import _VALUES_CHECKED, _ZARR_COMPLETE

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU())
    inputs = torch.randn(12, 6)
    store = tmp_path / "acts.zarr"
    streamed = ns.from_torch(model, inputs, layers=["0"], store=store, batch_size=5, progress=False)
    import zarr

    attrs = zarr.open_group(str(store), mode="r").attrs
    assert attrs[_ZARR_COMPLETE] == 1 and attrs[_VALUES_CHECKED].startswith("v1:")
    assert os.listdir(tmp_path) == ["acts.zarr"]
    eager = ns.load(store)  # the fingerprint matches: values not checked twice, the same set
    xr.testing.assert_identical(eager, streamed.compute())
    (store / "responses" / "1.0").unlink()  # a lost chunk is found now that the marker is written
    with pytest.raises(FormatError, match="'responses' has 2 of its 3 chunk files"):
        ns.load(store)
    with pytest.raises(FormatError, match=r"found an existing"):
        ns.from_torch(model, inputs, layers=["0"], store=store, progress=False)
