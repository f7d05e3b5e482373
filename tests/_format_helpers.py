"""Shared test builders: a small valid set and the catalogue of corruptions every validator must catch.

Used by test_format.py, test_format_properties.py, test_concat.py and test_storage.py, (``brain_and_network``)
by the report and demo tests, and (``make_set``, ``as_spectrum``) by the analysis tests — test modules never
import each other, so a builder two of them need lives here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

import neurosuper as ns
from neurosuper.format import FORMAT_VERSION


def valid_set(
    *,
    repeat: int = 2,
    time: int = 0,
    n_stimulus: int = 6,
    n_unit: int = 4,
    dtype: str = "float32",
    stimuli: bool = True,
    seed: int = 0,
) -> xr.Dataset:
    """A small valid set: string ids, an `area` coord, a `label` coord, (stimulus, feature) stimuli."""
    rng = np.random.default_rng(seed)
    dims = (("repeat",) if repeat else ()) + ("stimulus",) + (("time",) if time else ()) + ("unit",)
    sizes = {"repeat": repeat, "stimulus": n_stimulus, "time": time, "unit": n_unit}
    data = rng.normal(size=[sizes[d] for d in dims]).astype(dtype)
    coords = {
        "area": ("unit", np.array(["V1", "V2"])[np.arange(n_unit) % 2]),
        "label": ("stimulus", np.arange(n_stimulus) % 3),
    }
    if time:
        coords["time"] = np.arange(time) * 0.05
    return ns.from_array(
        data,
        dims=dims,
        stimulus=[f"s{i}" for i in range(n_stimulus)],
        unit=[f"u{i}" for i in range(n_unit)],
        system="brain",
        measure="dff",
        stimuli=rng.normal(size=(n_stimulus, 3)) if stimuli else None,
        attrs={"source": "simulated"},
        **coords,
    )


def make_set(values, stimuli=None, *, system: str = "network", measure: str = "activation", **coords) -> xr.Dataset:
    """``ns.from_array(values, ...)`` with a default system and measure: the set an analysis test builds from its
    array (``stimuli`` and every other keyword, e.g. ``layer=("unit", [...])``, passed on)."""
    return ns.from_array(values, system=system, measure=measure, stimuli=stimuli, **coords)


def as_spectrum(values) -> xr.DataArray:
    """``values`` as a float64 spectrum over ``rank`` 1..n, the input powerlaw and the dimensionality measures take."""
    values = np.asarray(values, dtype=np.float64)
    return xr.DataArray(values, dims="rank", coords={"rank": np.arange(1, len(values) + 1)})


# ------------------------------------------------------------------------------------- corruptions of a set
def set_value(ds: xr.Dataset, value: float, rng: np.random.Generator, **where: int) -> xr.Dataset:
    """Copy of ``ds`` with ``responses`` = value at a random position (or the slice given by ``where``)."""
    out = ds.copy(deep=True)
    data = out["responses"].values
    index = tuple(
        where.get(d, rng.integers(n) if not where else slice(None))
        for d, n in zip(out["responses"].dims, data.shape, strict=True)
    )
    data[index] = value
    return out


def with_attrs(ds: xr.Dataset, **attrs) -> xr.Dataset:
    out = ds.copy()
    out.attrs.update(attrs)
    return out


def _without(ds: xr.Dataset, key: str) -> xr.Dataset:
    out = ds.copy()
    del out.attrs[key]
    return out


def duplicate_id(ds: xr.Dataset, dim: str) -> xr.Dataset:
    ids = ds[dim].values.copy()
    ids[-1] = ids[0]
    return ds.assign_coords({dim: ids})


def _multiindex(ds: xr.Dataset) -> xr.Dataset:
    mi = pd.MultiIndex.from_arrays([ds["unit"].values, np.arange(ds.sizes["unit"])], names=("uid", "pos"))
    return ds.drop_vars("unit").assign_coords(xr.Coordinates.from_pandas_multiindex(mi, "unit"))


def _all_nan(ds: xr.Dataset, dim: str, rng: np.random.Generator) -> xr.Dataset:
    return set_value(ds, np.nan, rng, **{dim: int(rng.integers(ds.sizes[dim]))})


def _nan_without_repeat(ds: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
    single = ds.isel(repeat=0, drop=True) if "repeat" in ds.dims else ds
    return set_value(single, np.nan, rng)


def _stimuli_wrong_dims(ds: xr.Dataset) -> xr.Dataset:
    out = ds.drop_vars("stimuli", errors="ignore")
    out["stimuli"] = (("feature", "stimulus"), np.zeros((2, ds.sizes["stimulus"])))
    return out


#: name -> (corruption(ds, rng) of any valid set, regex the FormatError message must match).
CORRUPTIONS = {
    "missing responses": (lambda ds, rng: ds.rename(responses="rates"), r"variable 'responses'.*'rates'"),
    "unknown dim": (lambda ds, rng: ds.rename(unit="neuron"), r"unknown dims \['neuron'\].*rename"),
    "duplicate stimulus ids": (lambda ds, rng: duplicate_id(ds, "stimulus"), r"coordinate 'stimulus'.*duplicate"),
    "integer dtype": (lambda ds, rng: ds.assign(responses=ds["responses"].fillna(0).astype("int64")), r"integer int64"),
    "complex dtype": (lambda ds, rng: ds.assign(responses=ds["responses"] * 1j), r"complex"),
    "string dtype": (lambda ds, rng: ds.assign(responses=ds["responses"].astype(str)), r"non-numeric"),
    "+inf": (lambda ds, rng: set_value(ds, np.inf, rng), r"1 ±inf values"),
    "-inf": (lambda ds, rng: set_value(ds, -np.inf, rng), r"1 ±inf values"),
    "unit all-NaN": (lambda ds, rng: _all_nan(ds, "unit", rng), r"'unit' values.*no valid value"),
    "stimulus all-NaN": (lambda ds, rng: _all_nan(ds, "stimulus", rng), r"'stimulus' values.*no valid value"),
    "NaN without repeat": (_nan_without_repeat, r"1 NaN values in a set without a 'repeat' dim"),
    "empty unit dim": (lambda ds, rng: ds.isel(unit=[]), r"empty dims \['unit'\]"),
    "one stimulus": (lambda ds, rng: ds.isel(stimulus=[0]), r"'stimulus' dim: found 1 stimulus"),
    "system missing": (lambda ds, rng: _without(ds, "system"), r"no 'system' attr"),
    "system mouse": (lambda ds, rng: with_attrs(ds, system="mouse"), r"system='mouse'"),
    "measure missing": (lambda ds, rng: _without(ds, "measure"), r"attr 'measure'"),
    "format_version newer": (
        lambda ds, rng: with_attrs(ds, format_version=FORMAT_VERSION + 1),
        r"format_version.*at most 1",
    ),
    "unserialisable attr": (lambda ds, rng: with_attrs(ds, bad=object()), r"attr 'bad' of the set.*object"),
    "MultiIndex": (lambda ds, rng: _multiindex(ds), r"MultiIndex"),
    "stimuli wrong first dim": (lambda ds, rng: _stimuli_wrong_dims(ds), r"variable 'stimuli'.*'feature'"),
    "not a Dataset": (lambda ds, rng: ds["responses"], r"found a DataArray"),
}


# ------------------------------------------------------------------------------------- round trips
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


def brain_and_network(
    n: int = 60,
    *,
    side: int = 16,
    n_brain: int = 24,
    n_latent: int = 12,
    n_net: int = 10,
    areas: tuple = (("V1", 16), ("V2", 8)),
    layers: tuple = (("l1", 5), ("l2", 5)),
    seed: int = 0,
) -> tuple[xr.Dataset, xr.Dataset]:
    """A brain (Poisson counts, 2 repeats, ``areas``) and a network (ReLU units, ``layers``) seeing the same random
    ``side`` × ``side`` images: the brain's rates rectify random linear features of the pixels with a power-law
    gain, the network mixes the first ``n_latent`` of those features. For the report and demo tests."""
    rng = np.random.default_rng(seed)
    imgs = rng.standard_normal((n, side, side)).astype("float32")
    feats = imgs.reshape(n, -1) @ rng.standard_normal((side * side, n_brain)) / side
    rates = np.maximum(feats, 0) * np.arange(1, n_brain + 1) ** -0.5 * 3 + 0.5
    brain = ns.from_array(
        rng.poisson(np.repeat(rates[None], 2, axis=0)).astype("float32"),
        system="brain",
        measure="spike_count",
        stimuli=imgs,
        area=("unit", [name for name, k in areas for _ in range(k)]),
    )
    net = ns.from_array(
        np.maximum(feats[:, :n_latent] @ rng.standard_normal((n_latent, n_net)), 0).astype("float32"),
        system="network",
        measure="activation",
        stimuli=imgs,
        layer=("unit", [name for name, k in layers for _ in range(k)]),
    )
    return brain, net


def assert_same_by_id(a: xr.Dataset, b: xr.Dataset, *, atol: float = 0.0) -> None:
    """Two results hold the same numeric variables with the same dims and values (exactly, or to ``atol``), once
    their stimulus-indexed variables are put in the order of the stimulus ids (``prep.by_stimulus_id``)."""
    from neurosuper.prep import by_stimulus_id

    a, b = by_stimulus_id(a), by_stimulus_id(b)
    na = {k for k, v in a.data_vars.items() if v.dtype.kind in "fiub"}
    assert na == {k for k, v in b.data_vars.items() if v.dtype.kind in "fiub"}
    for key in sorted(na):
        assert a[key].dims == b[key].dims, key
        np.testing.assert_allclose(a[key].values, b[key].values, rtol=0, atol=atol, err_msg=key)
