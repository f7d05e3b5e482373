"""Property-based tests (hypothesis): valid sets round-trip exactly, corrupted sets raise FormatError.

Generated sets cover: with/without ``repeat`` and ``time``; float32/float64; string or integer ids; extra
coords of str/int/float/bool along ``unit``/``stimulus``; NaN only at whole missing repeats; attrs (on the set,
on ``responses`` and on a coord) of every JSON-safe kind — None, bool, big ints, floats incl. NaN/inf, text,
numpy scalars and arrays, nested lists/tuples/dicts, and names netCDF/CF reserve (``units``, ``_x``, ...).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _format_helpers import CORRUPTIONS, assert_round_trip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import neurosuper as ns
from neurosuper import FormatError
from neurosuper._attrs import JSON_ATTR

ROUND_TRIP = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CORRUPT = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_text = st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=6)
_any_text = st.text(max_size=6)  # attrs may hold NUL characters: they are JSON-encoded
_numpy_scalars = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(np.int32),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.floats(width=32).map(np.float32),
    st.floats().map(np.float64),
    st.booleans().map(np.bool_),
    _text.filter(lambda t: not t.endswith("\x00")).map(np.str_),
)
_numpy_arrays = hnp.arrays(
    st.sampled_from([np.int16, np.uint8, np.float64, np.float32, np.bool_]),
    hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    _any_text,
    _numpy_scalars,
    _numpy_arrays,
)
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(
            st.one_of(_any_text, st.sampled_from(["__tuple__", "__dict__", "__ndarray__"])), inner, max_size=3
        ),
    ),
    max_leaves=8,
)
_keys = st.one_of(
    _any_text,
    st.sampled_from(
        [
            "units",
            "coordinates",
            "_FillValue",
            "dtype",
            "_x",
            "calendar",
            "scale_factor",
            "missing_value",
            "source",
            "window",
        ]
    ),
)
_attrs = st.dictionaries(
    _keys.filter(lambda k: k not in ("system", "measure", "format_version", JSON_ATTR)), _values, max_size=5
)


@st.composite
def _ids(draw, n: int) -> np.ndarray:
    if draw(st.booleans()):
        return np.array(draw(st.lists(_text, min_size=n, max_size=n, unique=True)), dtype=str)
    return np.array(
        draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n, unique=True)), dtype=np.int64
    )


@st.composite
def _coord_values(draw, n: int) -> np.ndarray:
    kind = draw(st.sampled_from(["str", "int", "float", "bool"]))
    element = {"str": _text, "int": st.integers(-(2**63), 2**63 - 1), "float": st.floats(), "bool": st.booleans()}
    values = draw(st.lists(element[kind], min_size=n, max_size=n))
    return np.array(values, dtype={"str": str, "int": np.int64, "float": np.float64, "bool": bool}[kind])


@st.composite
def response_sets(draw, *, min_units: int = 1, min_stimuli: int = 2) -> xr.Dataset:
    """A valid ResponseSet built with plain xarray (not from_array), so validate sees arbitrary layouts.

    Missing repeats leave at least ``min_stimuli - 1`` stimuli of every repeat present, so a corruption that
    empties one unit or one stimulus empties nothing else (with ``min_units=2``, ``min_stimuli=3``).
    """
    sizes = {
        "repeat": draw(st.sampled_from([0, 1, 2, 3])),
        "stimulus": draw(st.integers(min_stimuli, 6)),
        "time": draw(st.sampled_from([0, 0, 1, 3])),
        "unit": draw(st.integers(min_units, 5)),
    }
    dims = tuple(d for d in ("repeat", "stimulus", "time", "unit") if sizes[d])
    shape = tuple(sizes[d] for d in dims)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    width = 32 if dtype == np.float32 else 64
    values = draw(hnp.arrays(dtype, shape, elements=st.floats(-(2.0**100), 2.0**100, width=width)))
    last = sizes["stimulus"] - max(1, min_stimuli - 1)  # stimuli from here on are never missing
    if sizes["repeat"] >= 2 and last > 0:  # missing repeats: whole (repeat, stimulus) slabs, never repeat 0
        missing = draw(st.lists(st.tuples(st.integers(1, sizes["repeat"] - 1), st.integers(0, last - 1)), max_size=4))
        for r, s in missing:
            values[r, s] = np.nan
    coords = {"stimulus": draw(_ids(sizes["stimulus"])), "unit": draw(_ids(sizes["unit"]))}
    if sizes["repeat"] and draw(st.booleans()):
        coords["repeat"] = np.arange(sizes["repeat"])
    if sizes["time"]:
        coords["time"] = np.sort(
            draw(st.lists(st.floats(-1, 1), min_size=sizes["time"], max_size=sizes["time"], unique=True))
        )
    for name in draw(st.lists(st.sampled_from(["area", "depth", "label", "good"]), max_size=3, unique=True)):
        dim = draw(st.sampled_from(["unit", "stimulus"]))
        coords[name] = (dim, draw(_coord_values(sizes[dim])))
    ds = xr.Dataset(
        {"responses": (dims, values)},
        coords=coords,
        attrs={
            **draw(_attrs),
            "system": draw(st.sampled_from(["brain", "network"])),
            "measure": draw(st.sampled_from(["spike_count", "dff", "activation", "bold"])),
        },
    )
    if draw(st.booleans()):
        ds["stimuli"] = (("stimulus", "y", "x"), np.arange(sizes["stimulus"] * 4, dtype=np.uint8).reshape(-1, 2, 2))
    ds["responses"].attrs.update(draw(_attrs))
    ds["unit"].attrs.update(draw(_attrs))
    return ds


@ROUND_TRIP
@given(ds=response_sets())
def test_every_valid_set_round_trips_exactly_in_both_formats(ds):
    valid = ns.validate(ds)  # the generator only builds valid sets
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".nc", ".zarr"):
            back = ns.load(ns.save(valid, Path(tmp) / f"set{suffix}"))
            assert_round_trip(valid, back)


@CORRUPT
@given(
    ds=response_sets(min_units=2, min_stimuli=3),
    name=st.sampled_from(sorted(CORRUPTIONS)),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_corruption_raises_format_error(ds, name, seed):
    corrupt, match = CORRUPTIONS[name]
    with np.errstate(all="ignore"):
        bad = corrupt(ds, np.random.default_rng(seed))
    with pytest.raises(FormatError, match=match):
        ns.validate(bad)


@settings(max_examples=12, deadline=None)
@given(ds=response_sets(), cut=st.floats(0.0, 0.999), suffix=st.sampled_from([".nc", ".zarr"]))
def test_every_damaged_file_raises_format_error(ds, cut, suffix):
    """Cut a netCDF file anywhere, or garble any file a zarr read uses (consolidated metadata or a chunk;
    the per-array .zarray/.zattrs copies are not read when consolidated metadata exists)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = ns.save(ds, Path(tmp) / f"set{suffix}")
        files = (
            [path]
            if suffix == ".nc"
            else sorted(
                p for p in path.rglob("*") if p.is_file() and (p.name == ".zmetadata" or not p.name.startswith("."))
            )
        )
        victim = files[int(cut * len(files))]
        data = victim.read_bytes()
        if suffix == ".nc":
            victim.write_bytes(data[: int(cut * len(data))])
        else:
            victim.write_bytes(b"\xff\x00garbled" + data[::-1])
        with pytest.raises(FormatError, match=r"file .*set\.(nc|zarr)"):
            ns.load(path)
