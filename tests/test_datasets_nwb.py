"""The demo brain as a real NWB file, read back through the loader."""

from __future__ import annotations

import numpy as np

import neurosuper as ns


def test_demo_brain_nwb_round_trips_the_counts(tmp_path):
    brain = ns.datasets.demo_brain()
    path = ns.datasets.demo_brain_nwb(tmp_path / "demo.nwb")
    back = ns.load_nwb(path, stimulus="presentations")
    assert back.attrs["system"] == "brain" and back.attrs["measure"] == "spike_count"
    # NWB unit ids are integers: the demo's string ids come back in the `unit_name` coord
    back = back.assign_coords(unit=back["unit_name"].values)
    got = back["responses"].sel(stimulus=brain["stimulus"].values, unit=brain["unit"].values)
    np.testing.assert_array_equal(got.values, brain["responses"].values)
    assert [p.name for p in tmp_path.iterdir()] == ["demo.nwb"]
