"""save/load: exact round trips, atomic writes, lazy loading, and the file-level malformed inputs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_format import valid_set

import neurosuper as ns
import neurosuper.format as nsformat
from neurosuper import FormatError
from neurosuper._attrs import JSON_ATTR, decode_attrs, encode_attrs

SUFFIXES = (".nc", ".zarr")

#: attrs of every kind the format promises to keep, incl. names xarray's CF decoder would act on
RICH_ATTRS = {
    "source": "simulated", "n": 3, "big": 2**70, "x": 0.25, "nan": float("nan"), "flag": True, "none": None,
    "window": (0.05, 0.2), "nested": [1, [2.5, "a"], {"k": (1, None)}], "d": {"a": {"b": [True, False]}},
    "tagged": {"__tuple__": [1]}, "np_int": np.int16(-3), "np_float": np.float32(0.5), "np_bool": np.bool_(True),
    "np_str": np.str_("V1"), "array": np.arange(6, dtype=np.uint8).reshape(2, 3), "empty": "", "nul": "a\x00b",
    "unicode": "µm²", "units": "seconds since 2000-01-01", "coordinates": "area", "_private": 1, "dtype": "bool",
}


def rich_set() -> xr.Dataset:
    ds = valid_set(repeat=3, time=2).assign_attrs(RICH_ATTRS)
    ds["responses"][2, :2] = np.nan  # two stimuli missed their third repeat
    ds["responses"].attrs.update({"units": "dF/F", "_FillValue_like": [1, 2], "scale_factor": 2.0})
    ds["time"].attrs.update({"units": "seconds", "calendar": "none"})
    ds["area"].attrs["missing_value"] = "V1"
    return ds.assign_coords(depth=("unit", np.array([10.5, np.nan, 30.0, 40.0])),
                            good=("unit", np.array([True, False, True, True])),
                            code=("stimulus", np.arange(6, dtype=np.int32)),
                            name=("stimulus", np.array(["a", "bb", "", "µ", "e e", "f"], dtype=object)))


def assert_same_attrs(a, b):
    """Exact equality of attr values *and types* (NaN equal to NaN; arrays by dtype, shape and values)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert set(a) == set(b), (a, b)
        for k in a:
            assert_same_attrs(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_attrs(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    elif isinstance(a, float | np.floating) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def assert_round_trip(ds: xr.Dataset, back: xr.Dataset) -> None:
    """Identical after the documented normalisation: strings come back as numpy unicode (`<U`)."""
    expected = ds.copy()
    for name, var in ds.variables.items():
        if var.dtype.kind in "OU":
            expected[name] = var.astype(str)
    # attrs are compared strictly below (xarray's own comparison fails on NaN or arrays nested in dicts)
    xr.testing.assert_identical(back.drop_attrs(), expected.drop_attrs())
    assert set(back.variables) == set(expected.variables)
    for name, var in expected.variables.items():
        got = back.variables[name]
        assert got.dims == var.dims
        assert got.dtype.kind == "U" if var.dtype.kind == "U" else got.dtype == var.dtype, (name, got.dtype)
        assert_same_attrs(dict(got.attrs), dict(var.attrs))
    assert_same_attrs(dict(back.attrs), dict(ds.attrs))


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
    real = nsformat._check_values
    ds, lazy = valid_set(), valid_set().chunk()
    monkeypatch.setattr(nsformat, "_check_values", lambda resp: calls.append(resp.shape) or real(resp))
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
    spectrum = xr.DataArray(np.linspace(1, 0.1, 5), dims="rank", coords={"rank": np.arange(1, 6)},
                            name="eigenvalues", attrs={"alpha": 1.02, "fit_range": (11, 500), "cv": True})
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
    "garbled zarr chunk": (lambda p: _zarr_with(p, lambda z: _garble(z / "responses" / "0.0.0")),
                           r"cannot be read as zarr"),
    "deleted zarr chunk": (lambda p: _zarr_with(p, lambda z: (z / "responses" / "0.0.0").unlink()),
                           r"'responses' has 0 of its 1 chunk files"),
    "garbled zarr metadata": (lambda p: _zarr_with(p, lambda z: _garble(z / ".zmetadata")),
                              r"cannot be read as zarr"),
    "zarr metadata deleted": (lambda p: _zarr_with(p, lambda z: [(z / f).unlink() for f in (".zmetadata",
                                                                                            ".zattrs", ".zgroup")]),
                              r"cannot be read as zarr"),
    "a folder named .nc": (lambda p: (p / "d.nc").mkdir() or p / "d.nc", r"cannot be read as netcdf"),
    "netCDF without responses": (lambda p: xr.Dataset({"x": ("a", [1.0])}).to_netcdf(p / "x.nc") or p / "x.nc",
                                 r"x\.nc' does not hold a valid ResponseSet.*variable 'responses'"),
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


@pytest.mark.parametrize(("make", "kwargs", "match"), [
    (lambda p: p / "s.csv", {}, r"suffix '\.csv'"),
    (lambda p: ns.save(valid_set(), p / "s.nc"), {}, r"s\.nc': found an existing file.*overwrite=True"),
    (lambda p: ns.save(valid_set(), p / "s.zarr"), {}, r"found an existing file"),
    (lambda p: p / "missing" / "s.nc", {}, r"found no folder"),
    (lambda p: p / "s.nc", {"bad": True}, r"system='mouse'"),
])
def test_malformed_save_raises_format_error(tmp_path, make, kwargs, match):
    path = make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    ds = valid_set().assign_attrs(system="mouse") if kwargs else valid_set()
    with pytest.raises(FormatError, match=match):
        ns.save(ds, path)
    assert sorted(os.listdir(tmp_path)) == before
