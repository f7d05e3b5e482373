"""Sizes are checked before anything large is allocated: a result that cannot fit is an NWBLayoutError saying how
many GiB it would need and how to shrink it (Python arguments, or CLI flags through the CLI)."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

import neurosuper as ns
from neurosuper.cli import main
from neurosuper.io.nwb import counting, load_nwb, simulate_session

GIB = 2**30


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return simulate_session(n_units=3, n_stimuli=4, n_repeats=2, seed=40).write(
        tmp_path_factory.mktemp("sizes") / "sim.nwb"
    )


@pytest.fixture
def eight_gib(monkeypatch):
    """The same verdict on every machine: 8 GiB available."""
    monkeypatch.setattr(counting, "available_memory", lambda: 8 * GIB)


def test_millisecond_bins_over_a_1e5_s_window_raise_before_allocating(sim_path, eight_gib):
    tracemalloc.start()
    try:
        with pytest.raises(ns.NWBLayoutError) as err:
            load_nwb(sim_path, stimulus="presentations", window=(0.0, 1e5), bin_size=1e-3, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # nothing near the 1e8 bins x 8 presentations was allocated
    msg = str(err.value)
    # 3 units x 8 presentations (4 stimuli x 2 repeats) x 1e8 bins x 8 bytes = 17.9 GiB of responses
    assert "3 units x 8 presentations x 100,000,000 bins" in msg and "the responses alone 17.9 GiB" in msg
    needed = float(re.search(r"would need ([\d,.]+) GiB", msg).group(1).replace(",", ""))
    assert needed == pytest.approx((8 * 3 * 8 * 1e8 + 5 * 8 * 8 * (1e8 + 1)) / GIB, rel=1e-3)
    assert "8 GiB are available" in msg and "expected a result that fits in memory" in msg
    fix = msg.split("Fix:")[1]  # 47.7 GiB must shrink 11.9 times to fit in half of the 8 GiB
    assert "a larger bin_size (e.g. bin_size=0.02)" in fix and "a shorter window (e.g. window=(0, 5000))" in fix
    assert "fewer units (units=...)" in fix
    assert "--bin-size" not in msg


def test_the_suggested_bin_size_fits(sim_path, eight_gib):
    with pytest.raises(ns.NWBLayoutError, match=r"bin_size=0\.02\)") as err:
        load_nwb(sim_path, stimulus="presentations", window=(0.0, 1e5), bin_size=1e-3, progress=False)
    shorter = re.search(r"window=\(0, ([\d.e+]+)\)", str(err.value).split("Fix:")[1]).group(1)
    # both suggestions pass the check (which runs before any allocation) with the same 8 GiB
    counting._check_size(8, int(1e5 / 0.02), 3, 8, (0.0, 1e5), 0.02)
    counting._check_size(8, int(float(shorter) / 1e-3), 3, 8, (0.0, float(shorter)), 1e-3)


def test_time_bins_over_a_long_epoch_raise_before_allocating(sim_path, eight_gib):
    with pytest.raises(ns.NWBLayoutError) as err:
        load_nwb(sim_path, stimulus="bins", bin_size=1e-6, epochs=(0.0, 1e5), progress=False)
    msg = str(err.value)
    assert "stimulus='bins', bin_size=1e-06 over epochs=(0.0, 100000.0)" in msg
    assert "100,000,000,000 bins x 3 units" in msg and "GiB" in msg and "a larger bin_size (e.g. bin_size=" in msg


def test_a_result_that_fits_is_loaded(sim_path, monkeypatch):
    monkeypatch.setattr(counting, "available_memory", lambda: 10**6)  # 1 MB: 3 x 8 x 1000 x 8 bytes fit
    ds = load_nwb(sim_path, stimulus="presentations", window=(0.0, 1.0), bin_size=1e-3, progress=False)
    assert ds.sizes["time"] == 1000
    monkeypatch.setattr(counting, "available_memory", lambda: 10**5)
    needed = 3 * 8 * 1000 * 8 + 5 * 8 * 8 * 1001  # responses + edges and their working copies
    with pytest.raises(ns.NWBLayoutError, match=f"would need {needed / GIB:.3g} GiB"):
        load_nwb(sim_path, stimulus="presentations", window=(0.0, 1.0), bin_size=1e-3, progress=False)


def test_available_memory_is_read_on_this_machine():
    avail = counting.available_memory()
    assert avail is None or avail > 0


def test_cli_size_error_is_written_as_flags(sim_path, eight_gib, capsys):
    code = main(["nwb", str(sim_path), "--stimulus", "presentations", "--window", "0", "100000", "--bin-size", "0.001"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosuper: error: --bin-size 0.001 over --window 0 100000: found") and "GiB" in err
    assert "--bin-size 0.02" in err and "--window 0 5000" in err and "bin_size=" not in err and "load_nwb" not in err


def test_nice_number():
    assert [counting.nice_number(v) for v in (0.0101, 0.3, 1.0, 4.2, 7.0, 12.0)] == [
        "0.02",
        "0.5",
        "1",
        "5",
        "10",
        "20",
    ]
    assert [counting.nice_number(v, down=True) for v in (0.0101, 0.3, 1.0, 4.2, 8389.0)] == [
        "0.01",
        "0.2",
        "1",
        "2",
        "5000",
    ]
    assert np.isclose(float(counting.nice_number(1e-3 * 17.3)), 0.02)
