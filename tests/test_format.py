"""The ResponseSet format: validate(), from_array(), the malformed-input catalogue.

Shared builders (``valid_set``, ``CORRUPTIONS``) live in _format_helpers.py.
"""

from __future__ import annotations

import itertools

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from _format_helpers import CORRUPTIONS, duplicate_id, set_value, valid_set, with_attrs

import neurosuper as ns
from neurosuper import FormatError, NeurosuperError
from neurosuper._attrs import JSON_ATTR
from neurosuper.format import CANONICAL_DIMS, FORMAT_VERSION


def _responses_as(ds: xr.Dataset, data: np.ndarray) -> xr.Dataset:
    return ds.assign(responses=(ds["responses"].dims, data))


def _var_attr(ds: xr.Dataset, var: str, **attrs) -> xr.Dataset:
    out = ds.copy()
    out[var] = out[var].copy()
    out[var].attrs.update(attrs)
    return out


#: Cases needing a particular set (a repeat or time dim, several units): name -> (thunk, regex).
_SET = valid_set()
_SET_T = valid_set(repeat=0, time=3)
MORE_CASES = {
    "responses as coord": (lambda: _SET.set_coords("responses"), r"'responses'.*a coordinate.*reset_coords"),
    "missing unit dim": (lambda: _SET.isel(unit=0), r"without \['unit'\]"),
    "missing stimulus dim": (lambda: _SET.isel(stimulus=0), r"without \['stimulus'\]"),
    "duplicate unit ids": (lambda: duplicate_id(_SET, "unit"), r"coordinate 'unit'.*duplicate ids 'u0'"),
    "missing unit coord": (lambda: _SET.drop_vars(["unit", "area"]), r"coordinate 'unit': found none"),
    "float unit ids": (lambda: _SET.assign_coords(unit=np.arange(4) + 0.5), r"coordinate 'unit'.*float64 ids"),
    "object ids of mixed type": (
        lambda: _SET.assign_coords(unit=np.array([1, "a", 2.5, "b"], dtype=object)),
        r"coordinate 'unit'.*ids of type float",
    ),
    "time coord of strings": (lambda: _SET_T.assign_coords(time=["a", "b", "c"]), r"coordinate 'time'"),
    "boolean dtype": (lambda: _responses_as(_SET, _SET["responses"].values > 0), r"boolean bool"),
    "float16 dtype": (lambda: _responses_as(_SET, _SET["responses"].values.astype("f2")), r"float16"),
    "repeat all-NaN": (lambda: set_value(_SET, np.nan, None, repeat=1), r"repeat 1 with no valid value"),
    "time bin all-NaN": (lambda: set_value(_SET_T, np.nan, None, time=2), r"time 0.1 with no valid value"),
    "empty repeat dim": (lambda: _SET.isel(repeat=[]), r"empty dims \['repeat'\]"),
    "measure empty": (lambda: with_attrs(_SET, measure=""), r"attr 'measure': found measure=''"),
    "measure not a string": (lambda: with_attrs(_SET, measure=3), r"attr 'measure': found measure=3"),
    "format_version a string": (lambda: with_attrs(_SET, format_version="1"), r"attr 'format_version': found '1'"),
    "stimuli 1-D": (lambda: _SET.assign(stimuli=("stimulus", np.arange(6.0))), r"variable 'stimuli'.*dims"),
    "stimuli of strings": (
        lambda: _SET.assign(stimuli=(("stimulus", "feature"), np.full((6, 2), "x"))),
        r"variable 'stimuli'.*dtype <U1",
    ),
    "stimuli as coord": (lambda: _SET.set_coords("stimuli"), r"variable 'stimuli'.*a coordinate"),
    "set attr of type set": (lambda: with_attrs(_SET, tags={"a"}), r"attr 'tags'.*set"),
    "dict attr with int keys": (lambda: with_attrs(_SET, window={1: 2}), r"attr 'window'.*non-string keys \[1\]"),
    "datetime attr": (lambda: with_attrs(_SET, when=np.datetime64("2020-01-01")), r"attr 'when'.*datetime64"),
    "variable attr unserialisable": (
        lambda: _var_attr(_SET, "responses", bad=object()),
        r"attr 'bad' of variable 'responses'",
    ),
    "coord attr unserialisable": (lambda: _var_attr(_SET, "area", bad=b"bytes"), r"attr 'bad' of variable 'area'"),
    "non-string attr key": (lambda: _SET.assign_attrs({1: "x"}), r"non-string key 1"),
    "reserved storage attr": (lambda: with_attrs(_SET, **{JSON_ATTR: "{}"}), r"neurosuper_json_attrs.*neurosuper.load"),
    "NUL in a string coord": (
        lambda: _SET.assign_coords(area=("unit", ["V1", "V\x002", "a", "b"])),
        r"coordinate 'area'.*NUL",
    ),
    "lone surrogate in ids": (
        lambda: _SET.assign_coords(unit=["a", "b", "c", "\ud800"]),
        r"coordinate 'unit'.*surrogate",
    ),
    "a dict": (lambda: {"responses": _SET["responses"].values}, r"found a dict.*plain xarray.Dataset"),
    "a Dataset subclass": (lambda: type("Sub", (xr.Dataset,), {"__slots__": ()})(dict(_SET.data_vars)), r"found a Sub"),
}


def _from_array(data=None, **kwargs):
    base = {"system": "brain", "measure": "dff"}
    return ns.from_array(np.ones((4, 3)) if data is None else data, **{**base, **kwargs})


#: from_array given bad arguments: name -> (thunk, regex).
FROM_ARRAY_CASES = {
    "stimuli count mismatch (array)": (
        lambda: _from_array(stimuli=np.zeros((5, 2))),
        r"stimuli: found an array of shape \(5, 2\); expected \(4, features\)",
    ),
    "stimuli count mismatch (DataArray)": (
        lambda: _from_array(stimuli=xr.DataArray(np.zeros((5, 2)), dims=("stimulus", "f"))),
        r"stimuli: found 5 stimuli; expected 4",
    ),
    "stimuli ids differing": (
        lambda: _from_array(
            stimulus=list("abcd"),
            stimuli=xr.DataArray(np.zeros((4, 2)), dims=("stimulus", "f"), coords={"stimulus": list("abcz")}),
        ),
        r"stimuli ids.*'d', 'z'",
    ),
    "stimuli DataArray without stimulus dim": (
        lambda: _from_array(stimuli=xr.DataArray(np.zeros((4, 2)))),
        r"stimuli: found a DataArray with dims \('dim_0', 'dim_1'\)",
    ),
    "wrong dims length": (
        lambda: _from_array(dims=("stimulus", "time", "unit")),
        r"dims: found 3 names .* for a 2-D array",
    ),
    "5-D data without dims": (lambda: _from_array(np.ones((2, 2, 2, 2, 2))), r"data: found 5-D array"),
    "coord length mismatch": (lambda: _from_array(area=("unit", ["V1", "V2"])), r"coords: found a mismatch"),
    "stimulus ids count": (lambda: _from_array(stimulus=["a", "b", "c"]), r"stimulus ids: found 3 ids; expected 4"),
    "ragged data": (lambda: _from_array([[1.0, 2.0], [3.0]]), r"data: found an object numpy cannot convert"),
    "coord without dim": (lambda: _from_array(depth=[1, 2, 3]), r"coord 'depth': found values without a dim"),
    "unit ids without unit dim": (
        lambda: _from_array(dims=("stimulus", "time"), unit=[1, 2, 3]),
        r"unit ids: found ids but dims",
    ),
    "string data": (lambda: _from_array(np.array([["a", "b"], ["c", "d"]])), r"non-numeric <U1"),
}


# ------------------------------------------------------------------------------------- the catalogue
@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_raises_format_error(name):
    corrupt, match = CORRUPTIONS[name]
    bad = corrupt(valid_set(), np.random.default_rng(1))
    with pytest.raises(FormatError, match=match) as info:
        ns.validate(bad)
    assert "found" in str(info.value) and "expected" in str(info.value) and "Fix:" in str(info.value)


@pytest.mark.parametrize("name", sorted(MORE_CASES) + sorted(FROM_ARRAY_CASES))
def test_malformed_case_raises_format_error(name):
    thunk, match = {**MORE_CASES, **FROM_ARRAY_CASES}[name]
    with pytest.raises(FormatError, match=match) as info:
        ns.validate(thunk()) if name in MORE_CASES else thunk()
    assert "found" in str(info.value) and "expected" in str(info.value) and "Fix:" in str(info.value)


def test_catalogue_size_and_error_hierarchy():
    assert len(CORRUPTIONS) + len(MORE_CASES) + len(FROM_ARRAY_CASES) >= 60
    assert issubclass(FormatError, NeurosuperError)


def test_unknown_dim_message_suggests_the_rename():
    with pytest.raises(FormatError, match=r"ds = ds.rename\(\{'neuron': 'unit'\}\)"):
        ns.validate(valid_set().rename(unit="neuron"))


# ------------------------------------------------------------------------------------- canonical order, no mutation
@pytest.mark.parametrize("time", [0, 3])
def test_validate_transposes_every_order_to_canonical(time):
    ds = valid_set(time=time)
    dims = ds["responses"].dims
    assert dims == tuple(d for d in CANONICAL_DIMS if d in dims)
    for order in itertools.permutations(dims):
        shuffled = ds.assign(responses=ds["responses"].transpose(*order))
        out = ns.validate(shuffled)
        assert out["responses"].dims == dims
        np.testing.assert_array_equal(out["responses"].values, ds["responses"].values)
        assert shuffled["responses"].dims == order  # the input keeps its order


def test_validate_never_modifies_its_input():
    ds = valid_set().transpose("unit", "stimulus", "repeat", ...)
    del ds.attrs["format_version"]
    attrs, data, resp_attrs = dict(ds.attrs), ds["responses"].data, dict(ds["responses"].attrs)
    before = ds.copy(deep=True)
    out = ns.validate(ds)
    assert out is not ds
    assert ds.attrs == attrs and "format_version" not in ds.attrs and out.attrs["format_version"] == FORMAT_VERSION
    assert ds["responses"].data is data and ds["responses"].attrs == resp_attrs
    assert ds["responses"].dims == ("unit", "stimulus", "repeat")
    xr.testing.assert_identical(ds, before)
    # a canonical set is returned without copying its data
    assert np.shares_memory(ns.validate(before)["responses"].data, before["responses"].data)


def test_all_nan_slices_are_found_in_every_memory_layout():
    """The in-memory slow path reduces along the contiguous axis first: check it for every axis order."""
    base = valid_set(repeat=3, time=3, n_stimulus=5, n_unit=4)
    base["responses"][2, 1] = np.nan  # a legitimately missing repeat, so validation takes the slow path
    for order, contiguous in itertools.product(itertools.permutations(base["responses"].dims), (True, False)):
        transposed = base["responses"].transpose(*order).values  # a strided view of the base array
        layout = base.assign(responses=(order, np.ascontiguousarray(transposed) if contiguous else transposed))
        ns.validate(layout)
        for dim, index in (("repeat", 1), ("stimulus", 3), ("time", 2), ("unit", 0)):
            bad = layout.copy(deep=True)
            bad["responses"].loc[{dim: bad[dim].values[index]}] = np.nan
            label = repr(bad[dim].values[index].item())
            with pytest.raises(FormatError, match=rf"'{dim}' values: found {dim} {label} with no valid value"):
                ns.validate(bad)
        poked = layout.copy(deep=True)
        poked["responses"][{"repeat": 0, "stimulus": 0, "time": 0, "unit": 3}] = -np.inf
        with pytest.raises(FormatError, match="1 ±inf"):
            ns.validate(poked)


def test_scalar_coords_named_like_dims_are_fine():
    one_repeat = valid_set().isel(repeat=0)  # keeps a scalar `repeat` coord
    out = ns.validate(one_repeat)
    assert out["responses"].dims == ("stimulus", "unit") and int(out["repeat"]) == 0
    one_bin = ns.validate(valid_set(time=3).sel(time=0.05))
    assert one_bin["responses"].dims == ("repeat", "stimulus", "unit") and float(one_bin["time"]) == 0.05


def test_validate_accepts_missing_repeats_as_nan():
    ds = valid_set(repeat=3)
    ds["responses"][2, :3] = np.nan  # stimuli s0..s2 got only two repeats
    ds["responses"][1, 0, 1] = np.nan  # one unit lost one repeat of s0 (a pooled session)
    assert ns.validate(ds)["responses"].isnull().sum() == 3 * 4 + 1


# ------------------------------------------------------------------------------------- lazy sets
def _counting_dask_set(values: np.ndarray, calls: list) -> xr.Dataset:
    """A set whose responses are 3 dask blocks along `stimulus`; computing a block appends to ``calls``."""

    def block(i):
        calls.append(i)
        return values[:, 2 * i : 2 * i + 2]

    blocks = [
        dsa.from_delayed(dask.delayed(block)(i), shape=(values.shape[0], 2, values.shape[2]), dtype=values.dtype)
        for i in range(3)
    ]
    ds = valid_set(n_stimulus=6)
    return ds.assign(responses=(ds["responses"].dims, dsa.concatenate(blocks, axis=1)))


def test_validate_reads_only_metadata_of_a_dask_set():
    calls: list = []
    values = valid_set(n_stimulus=6)["responses"].values.copy()
    lazy = _counting_dask_set(values, calls).transpose("unit", ...)
    out = ns.validate(lazy)
    assert calls == []
    assert out["responses"].dims == ("repeat", "stimulus", "unit") and ns.format.is_lazy(out)
    ns.validate(lazy, check_values=True)
    assert sorted(calls) == [0, 1, 2]  # the finite fast path: one pass, each block once


@pytest.mark.parametrize(("poke", "match"), [((0, 3, 1), "1 ±inf"), ((slice(None), slice(None), 2), "unit 'u2'")])
def test_check_values_finds_problems_in_a_dask_set(poke, match):
    calls: list = []
    values = valid_set(n_stimulus=6)["responses"].values.copy()
    values[poke] = np.inf if match.startswith("1") else np.nan
    lazy = _counting_dask_set(values, calls)
    ns.validate(lazy)  # metadata only: passes
    assert calls == []
    with pytest.raises(FormatError, match=match):
        ns.validate(lazy, check_values=True)


def test_check_values_false_skips_in_memory_values():
    bad = valid_set()
    bad["responses"][0, 0, 0] = np.inf
    assert ns.validate(bad, check_values=False) is not None
    with pytest.raises(FormatError):
        ns.validate(bad)


@pytest.mark.filterwarnings("error")
def test_float32_overflowing_sum_is_not_an_error():
    ds = valid_set(repeat=0, n_stimulus=2, n_unit=2)
    ds["responses"][:] = np.float32(3e38)  # finite values whose float32 sum overflows to inf
    out = ns.validate(ds)  # no RuntimeWarning either
    with np.errstate(over="ignore"):
        assert np.isinf(ds["responses"].values.sum())
    assert np.isfinite(out["responses"].values).all()


# ------------------------------------------------------------------------------------- from_array
def test_from_array_defaults_and_conversions():
    counts = np.random.default_rng(0).poisson(2.0, (2, 50, 30))
    ds = ns.from_array(counts, system="brain", measure="spike_count", area=("unit", ["V1"] * 20 + ["V2"] * 10))
    assert ds["responses"].dims == ("repeat", "stimulus", "unit")
    assert ds["responses"].dtype == np.float64
    np.testing.assert_array_equal(ds["responses"].values, counts)
    np.testing.assert_array_equal(ds["stimulus"].values, np.arange(50))
    np.testing.assert_array_equal(ds["repeat"].values, [0, 1])
    assert ds.attrs["system"] == "brain" and ds.attrs["format_version"] == FORMAT_VERSION
    assert list(ds["area"].values[[0, 29]]) == ["V1", "V2"]
    half = ns.from_array(np.ones((3, 2), dtype=np.float16), system="network", measure="activation")
    assert half["responses"].dtype == np.float32


def test_from_array_with_time_dims_and_dask():
    data = dsa.ones((5, 4, 3), chunks=(5, 2, 3), dtype="f4")
    ds = ns.from_array(
        data,
        dims=("stimulus", "time", "unit"),
        system="network",
        measure="activation",
        time=[0.0, 0.1, 0.2, 0.3],
        layer=("unit", ["a", "a", "b"]),
    )
    assert ds["responses"].dims == ("stimulus", "time", "unit")
    assert ns.format.is_lazy(ds) and ds["responses"].data.chunks == ((5,), (2, 2), (3,))
    np.testing.assert_allclose(ds["time"].values, [0.0, 0.1, 0.2, 0.3])


def test_from_array_aligns_stimuli_by_id_and_reads_dataarrays():
    ids = ["c", "a", "b"]
    images = xr.DataArray(
        np.arange(3 * 2 * 2).reshape(3, 2, 2), dims=("stimulus", "y", "x"), coords={"stimulus": ["a", "b", "c"]}
    )
    ds = ns.from_array(np.arange(6.0).reshape(3, 2), stimulus=ids, system="brain", measure="dff", stimuli=images)
    np.testing.assert_array_equal(ds["stimuli"].sel(stimulus="c").values, images.sel(stimulus="c").values)
    assert ds["stimuli"].dims == ("stimulus", "y", "x")
    da = xr.DataArray(np.ones((2, 3)), dims=("unit", "stimulus"), coords={"unit": ["x", "y"]})
    out = ns.from_array(da, system="network", measure="activation")
    assert out["responses"].dims == ("stimulus", "unit") and list(out["unit"].values) == ["x", "y"]
    rgb = ns.from_array(np.ones((3, 2)), system="brain", measure="dff", stimuli=np.zeros((3, 4, 4, 3), "u1"))
    assert rgb["stimuli"].dims == ("stimulus", "y", "x", "channel") and rgb["stimuli"].dtype == np.uint8


# ------------------------------------------------------------------------------ issue 10: silent misreadings
def test_a_neurons_by_bins_matrix_passed_as_is_warns_that_it_looks_transposed():
    counts = np.random.default_rng(0).poisson(2.0, (171, 3_500)).astype(float)  # neurons x time bins (M1-like)
    with pytest.warns(ns.NeurosuperWarning, match=r"171 stimuli x 3500 units.*data\.T"):
        ns.from_array(counts, system="brain", measure="spike_count")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ns.from_array(counts.T, system="brain", measure="spike_count")  # the right way round: silent
        ns.from_array(counts, system="network", measure="activation")  # networks may have more units


def test_a_nan_time_bin_inside_a_valid_repeat_is_refused_so_averages_cannot_disagree():
    ds = valid_set(repeat=2, time=3)
    data = ds["responses"].values.copy()
    data[0, 1, 2, 0] = np.nan  # one time bin of one presentation
    with pytest.raises(FormatError, match=r"1 presentations with NaN in some time bins only.*stimulus 's1'"):
        ns.validate(ds.assign(responses=(ds["responses"].dims, data)))
    data[0, 1, :, 0] = np.nan  # the whole presentation of that unit: a missing repeat, allowed
    ok = ns.validate(ds.assign(responses=(ds["responses"].dims, data)))
    from neurosuper.prep import trial_average

    mean = trial_average(ok)
    expected = np.nanmean(data.mean(axis=2), axis=0)  # per repeat over time, then over valid repeats
    np.testing.assert_allclose(mean.values, expected, rtol=1e-6)
