"""concat: pooling sessions (units on shared stimuli) or stimulus blocks (shared units)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _format_helpers import valid_set

import neurosuper as ns
from neurosuper import FormatError, NeurosuperWarning


def _session(seed: int, *, units: list[str], animal: str, depth: int, **kwargs) -> xr.Dataset:
    ds = valid_set(n_unit=len(units), seed=seed, **kwargs).assign_coords(unit=units)
    return ds.assign_attrs(animal=animal, depth=depth, lab="L1", window=(0.05, 0.2))


def test_pooling_units_realigns_shuffled_stimuli():
    a = _session(1, units=["a0", "a1", "a2"], animal="m1", depth=100)
    b = _session(2, units=["b0", "b1"], animal="m2", depth=250)
    order = [3, 0, 5, 1, 4, 2]
    b_shuffled = b.isel(stimulus=order)
    before = b_shuffled.copy(deep=True)
    pooled = ns.concat({"day1": a, "day2": b_shuffled})
    xr.testing.assert_identical(b_shuffled, before)  # inputs untouched
    assert pooled["responses"].dims == ("repeat", "stimulus", "unit")
    assert pooled["stimulus"].values.tolist() == a["stimulus"].values.tolist()
    expected = np.concatenate([a["responses"].values, b["responses"].values], axis=2)
    np.testing.assert_array_equal(pooled["responses"].values, expected)
    assert pooled["session"].values.tolist() == ["day1"] * 3 + ["day2"] * 2
    assert pooled["animal"].values.tolist() == ["m1"] * 3 + ["m2"] * 2
    assert pooled["depth"].dtype == np.int64 and pooled["depth"].values.tolist() == [100] * 3 + [250] * 2
    assert pooled.attrs["lab"] == "L1" and pooled.attrs["window"] == (0.05, 0.2)
    assert "animal" not in pooled.attrs and "depth" not in pooled.attrs
    assert pooled["area"].values.tolist() == ["V1", "V2", "V1", "V1", "V2"]
    np.testing.assert_array_equal(pooled["stimuli"].values, a["stimuli"].values)  # shared, from the first set
    np.testing.assert_array_equal(pooled["label"].values, a["label"].values)


def test_labels_come_from_attrs_then_position():
    a = valid_set(seed=1).assign_attrs(session="s-A")
    b = valid_set(seed=2).assign_attrs(source="rec.nwb")
    c = valid_set(seed=3)
    del c.attrs["source"]
    pooled = ns.concat([a, b, c])
    assert list(dict.fromkeys(pooled["session"].values.tolist())) == ["s-A", "rec.nwb", "2"]
    # an attr equal in every set (source="simulated") does not label them
    same = ns.concat([valid_set(seed=1), valid_set(seed=2)])
    assert list(dict.fromkeys(same["session"].values.tolist())) == ["0", "1"]
    # the unit ids u0..u3 collide in all three sets: every id is prefixed with its set's label
    assert pooled["unit"].values.tolist()[:5] == ["s-A/u0", "s-A/u1", "s-A/u2", "s-A/u3", "rec.nwb/u0"]
    assert pooled.sizes["unit"] == 12


def test_pooling_stimuli_of_the_same_units():
    a = valid_set(seed=1)
    b = valid_set(seed=2, n_stimulus=4).assign_coords(stimulus=["t0", "t1", "t2", "t3"])
    b_shuffled = b.isel(unit=[2, 0, 3, 1])
    pooled = ns.concat([a, b_shuffled], dim="stimulus", name="block")
    assert pooled.sizes["stimulus"] == 10 and pooled["unit"].values.tolist() == ["u0", "u1", "u2", "u3"]
    np.testing.assert_array_equal(
        pooled["responses"].sel(stimulus=["t0", "t1", "t2", "t3"]).values, b["responses"].values
    )
    assert pooled["block"].values.tolist() == ["0"] * 6 + ["1"] * 4
    assert pooled["stimuli"].sizes["stimulus"] == 10  # stimuli lie along the pooled dim: concatenated
    np.testing.assert_array_equal(pooled["stimuli"].values[6:], b["stimuli"].values)


def test_missing_repeats_are_padded_with_nan():
    a = valid_set(repeat=3, seed=1).assign_coords(unit=["a0", "a1", "a2", "a3"])
    b = valid_set(repeat=2, seed=2).assign_coords(unit=["b0", "b1", "b2", "b3"])
    pooled = ns.concat([a, b])
    assert pooled.sizes["repeat"] == 3
    assert pooled["responses"].sel(repeat=2, unit=["b0", "b1", "b2", "b3"]).isnull().all()
    np.testing.assert_array_equal(pooled["responses"].sel(unit=["a0", "a1", "a2", "a3"]).values, a["responses"].values)
    assert int(pooled["responses"].isnull().sum()) == 6 * 4


def test_mixed_id_kinds_become_strings():
    a = valid_set(seed=1).assign_coords(unit=[0, 1, 2, 3])
    b = valid_set(seed=2).assign_coords(unit=["x", "y", "z", "w"])
    pooled = ns.concat([a, b])
    assert pooled["unit"].dtype.kind == "U" and pooled["unit"].values.tolist()[:5] == ["0", "1", "2", "3", "x"]


def test_variables_missing_from_a_set_are_dropped_with_a_warning():
    a = valid_set(seed=1).assign_coords(unit=["a0", "a1", "a2", "a3"], snr=("unit", np.arange(4.0)))
    b = valid_set(seed=2, stimuli=False).assign_coords(unit=["b0", "b1", "b2", "b3"])
    with pytest.warns(NeurosuperWarning, match=r"dropped 1 variable.*\['snr'\]"):
        pooled = ns.concat([a, b])
    assert "snr" not in pooled.coords and "stimuli" in pooled  # stimuli come from the first set that has them


def test_lazy_sets_stay_lazy():
    a = valid_set(seed=1).chunk().assign_coords(unit=["a0", "a1", "a2", "a3"])
    b = valid_set(seed=2).chunk().assign_coords(unit=["b0", "b1", "b2", "b3"])
    pooled = ns.concat([a, b])
    assert ns.format.is_lazy(pooled)
    expected = np.concatenate([valid_set(seed=1)["responses"].values, valid_set(seed=2)["responses"].values], 2)
    np.testing.assert_array_equal(pooled["responses"].values, expected)


def _bad_concat(kind: str):
    a = valid_set(seed=1)
    b = valid_set(seed=2).assign_coords(unit=["b0", "b1", "b2", "b3"])
    cases = {
        "stimulus ids differ": lambda: ns.concat([a, b.assign_coords(stimulus=list("abcdef"))]),
        "stimulus count differs": lambda: ns.concat([a, b.isel(stimulus=slice(0, 5))]),
        "mixed systems": lambda: ns.concat([a, b.assign_attrs(system="network")]),
        "mixed measures": lambda: ns.concat([a, b.assign_attrs(measure="spike_count")]),
        "different dims": lambda: ns.concat([a, b.isel(repeat=0)]),
        "bad dim": lambda: ns.concat([a, b], dim="repeat"),
        "no sets": lambda: ns.concat([]),
        "one Dataset": lambda: ns.concat(a),
        "invalid member": lambda: ns.concat({"ok": a, "broken": b.assign_attrs(system="mouse")}),
        "time coord in one set": lambda: ns.concat(
            [valid_set(time=2, seed=1), valid_set(time=2, seed=2).drop_vars("time")]
        ),
    }
    return cases[kind]


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("stimulus ids differ", r"concat: stimulus ids of set '1'.*'a', 'b'.*s\.sel\(stimulus=shared_ids\)"),
        ("stimulus count differs", r"stimulus ids of set '1': found 5 ids differing from the first set's 6"),
        ("mixed systems", r"attr 'system': found systems \['brain', 'network'\].*neurosuper\.compare"),
        ("mixed measures", r"attr 'measure': found measures \['dff', 'spike_count'\]"),
        ("different dims", r"set '1': found 'responses' dims \('stimulus', 'unit'\)"),
        ("bad dim", r"concat dim: found 'repeat'"),
        ("no sets", r"found no sets"),
        ("one Dataset", r"found a single Dataset"),
        ("invalid member", r"concat: set 'broken': attr 'system': found system='mouse'"),
        ("time coord in one set", r"'time' coord of set '1': found a coord in one set only"),
    ],
)
def test_concat_rejects_bad_input(kind, match):
    with pytest.raises(FormatError, match=match):
        _bad_concat(kind)()
