"""The `neurosuper` command: version, info, exit codes (demo is tested in test_demo.py)."""

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
