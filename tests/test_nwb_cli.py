"""`neurosuper nwb`: the loader's errors and warnings reach the shell with their fixes written as this command's
flags (never as Python arguments), exit 2 and one line per message."""

from __future__ import annotations

import json

import pytest

from neurosuper.cli import main
from neurosuper.io.nwb import simulate_session


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return simulate_session(n_units=3, n_stimuli=4, n_repeats=2, seed=50).write(
        tmp_path_factory.mktemp("cli") / "sim.nwb"
    )


@pytest.mark.parametrize(
    "flags,found,fix",
    [
        (["--stimulus", "presentations_index"], "8 of 8 presentations without a stop time", "--window 0.0 0.5"),
        (["--window", "0.3", "0.1"], "stop <= start", "--window 0.05 0.25"),
        (["--window", "0", "0.25", "--bin-size", "0.1"], "not a whole number of bins", "--window 0.0 0.2"),
    ],
)
def test_window_errors_are_written_as_flags(sim_path, capsys, flags, found, fix):
    assert main(["nwb", str(sim_path), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosuper: error:") and found in err and f"Fix: e.g. {fix}" in err
    assert "window=" not in err and "bin_size=" not in err


def test_python_messages_stay_python(sim_path):
    import neurosuper as ns
    from neurosuper.io.nwb import load_nwb

    with pytest.raises(ns.NWBLayoutError, match=r"and no window=; expected window=\(start, stop\)") as err:
        load_nwb(sim_path, stimulus="presentations_index")
    assert "--window" not in str(err.value) and "--window 0.0 0.5" in err.value.cli_message


def test_alm_file_through_the_cli(shared_data, capsys):
    path = shared_data / "nwb" / "sub-anm369963_ses-20170228.nwb"
    assert main(["nwb", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no --stimulus choice" in err and "--stimulus trials:type" in err and "stimulus=" not in err
    assert (
        main(
            [
                "nwb",
                str(path),
                "--stimulus",
                "trials:type,response",
                "--align",
                "cue_start_time",
                "--window",
                "-0.5",
                "1.0",
                "--json",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert summary["sizes"] == {"repeat": 69, "stimulus": 8, "unit": 1} and summary["total"] == 180.0
    assert "--align-relative true" in summary["warnings"][0] and "open-ended where stop_time is NaN" in out.err
    assert (
        main(
            [
                "nwb",
                str(path),
                "--stimulus",
                "trials:type,response",
                "--align",
                "cue_start_time",
                "--window",
                "-0.5",
                "1.0",
                "--align-relative",
                "true",
                "--json",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert json.loads(out.out)["total"] == 180.0 and out.err == ""
