"""The `neurosuper` command: version, info, exit codes, the output flags every command shares (demo is tested in
test_demo.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import neurosuper as ns
from neurosuper.cli import main


@pytest.fixture
def saved(tmp_path):
    counts = np.random.default_rng(1).poisson(2.0, size=(2, 40, 25))
    ds = ns.from_array(
        counts,
        system="brain",
        measure="spike_count",
        area=("unit", ["V1"] * 15 + ["LM"] * 10),
        attrs={"source": "sim", "window": [0.05, 0.25]},
    )
    path = ns.save(ds, tmp_path / "s.nc")
    return ds, path


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"neurosuper {ns.__version__}"


def test_info_json_describes_the_set(saved, capsys):
    ds, path = saved
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sizes"] == {"repeat": 2, "stimulus": 40, "unit": 25}
    assert info["dims"] == ["repeat", "stimulus", "unit"]
    assert info["system"] == "brain" and info["measure"] == "spike_count"
    assert info["coords"]["area"]["values"] == ["LM", "V1"]
    assert info["attrs"]["window"] == [0.05, 0.25]
    assert info["nbytes"] == ds.nbytes


def test_info_text(saved, capsys):
    _, path = saved
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "system:   brain" in out and "'repeat': 2" in out and "area" in out


@pytest.mark.parametrize("make", ["missing", "suffix", "truncated"])
def test_bad_input_exits_2_with_one_line(tmp_path, saved, make):
    _, good = saved
    if make == "missing":
        target = tmp_path / "nope.nc"
    elif make == "suffix":
        target = tmp_path / "set.csv"
        target.write_text("a,b\n")
    else:
        target = tmp_path / "cut.nc"
        target.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    proc = subprocess.run([sys.executable, "-m", "neurosuper.cli", "info", str(target)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurosuper: error:")


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_info_opens_result_files_too(saved, tmp_path, capsys):
    ds, _ = saved
    from neurosuper import spectral

    spec = spectral.eigenspectrum(ds, method="pca", progress=False)
    path = ns.save_result(spec, tmp_path / "spectrum.nc")
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "result" and info["sizes"]["rank"] == spec.sizes["rank"]
    assert "variance" in info["variables"]
    assert main(["info", str(path)]) == 0
    assert "result of:" in capsys.readouterr().out


def _subcommands():
    from neurosuper.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return {name: {flag for a in p._actions for flag in a.option_strings} for name, p in sub.choices.items()}


def test_every_command_that_writes_takes_out_and_overwrite():
    """The same output flags in every command: --out and --overwrite where files are written, --figure where a
    single figure is drawn (compare's --plot and spectrum's --plot are gone)."""
    flags = _subcommands()
    writes = {"demo", "nwb", "spectrum", "interpret", "directions", "capacity", "toy", "report", "compare", "cohort"}
    draws = {"spectrum", "interpret", "directions", "capacity", "toy", "compare"}
    assert writes | {"info"} == set(flags)
    for name in writes:
        assert {"--out", "--overwrite"} <= flags[name], name
    for name in draws:
        assert "--figure" in flags[name], name
    assert not any("--plot" in f for f in flags.values())
    assert {"--metric", "--method"} <= flags["compare"] and not {"--rdm", "--compare"} & flags["compare"]
    assert {"--n-features", "--n-hidden", "--n-seeds"} <= flags["toy"]
    assert not {"--features", "--hidden", "--seeds"} & flags["toy"]


@pytest.mark.parametrize("command", ["spectrum", "interpret", "capacity", "nwb"])
def test_out_equal_to_the_input_is_refused_in_every_command(saved, capsys, command):
    """--out naming the command's input file is refused with exit 2, --overwrite or not, and the file is kept."""
    _, path = saved
    before = path.read_bytes()
    assert main([command, str(path), "--out", str(path), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and "input" in err, err
    assert path.read_bytes() == before
