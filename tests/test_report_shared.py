"""A report made to be shared (issue 23, §4–§5): no absolute path, command line or kernel/C library version unless
asked (``full_paths`` / ``--full-paths``), bidirectional control characters shown escaped, and a step that failed
as a whole (the comparison) reported as failed in the page, ``summary.json`` and the terminal."""

from __future__ import annotations

import json
import os
import platform
import sys

import pytest
from _format_helpers import brain_and_network

import neurosuper as ns
from neurosuper import pipeline
from neurosuper._provenance import file_sha256, path_prefixes, redact_paths, shown_path
from neurosuper.cli import main
from neurosuper.pipeline import Step
from neurosuper.report import report
from neurosuper.report._render import esc


def _selectivity_step(ctx):
    """A quick analysis step: selectivity of each set (a stamped result, saved in the output folder)."""
    results = {label: ns.interpret.selectivity(ds) for label, ds in ctx.sets.items()}
    ctx.results["selectivity"] = results
    ctx.summary["selectivity"] = {label: ns.interpret.summary(r) for label, r in results.items()}


QUICK = (Step("selectivity", _selectivity_step, title="Selectivity"),)


def _leaks(text: str, folder) -> list[str]:
    home = os.path.expanduser("~")
    found = [s for s in (str(folder), os.path.realpath(folder), sys.executable, platform.platform()) if s in text]
    return found + ([home] if f"{home}/" in text else [])


@pytest.fixture(scope="module")
def saved_pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared")
    brain, net = brain_and_network(40)
    (root / "data").mkdir()
    ns.save(brain, root / "data" / "brain.nc")
    ns.save(net, root / "data" / "net.nc")
    return root


def test_a_report_names_its_inputs_by_name_and_sha256_only(saved_pair, capsys, monkeypatch):
    monkeypatch.setattr(pipeline.steps, "DEMO_STEPS", QUICK)
    out = saved_pair / "r"
    assert main(["report", str(saved_pair / "data" / "brain.nc"), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    html = (out / "report.html").read_text(encoding="utf-8")
    summary = (out / "summary.json").read_text() + (out / "summary.md").read_text()
    assert _leaks(html, saved_pair) == [] and _leaks(summary, saved_pair) == []
    assert "<td class='mono'>brain.nc</td>" in html and file_sha256(saved_pair / "data" / "brain.nc") in html
    assert ">command<" not in html and f"{platform.system()} {platform.machine()}" in html
    assert "<td>numpy</td>" in html  # what a reader needs: the package versions


def test_full_paths_keeps_them_when_asked(saved_pair, capsys, monkeypatch):
    monkeypatch.setattr(pipeline.steps, "DEMO_STEPS", QUICK)
    out = saved_pair / "full"
    path = saved_pair / "data" / "brain.nc"
    assert main(["report", str(path), "--out", str(out), "--quiet", "--full-paths"]) == 0
    capsys.readouterr()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert str(path.resolve()) in html and ">command<" in html and platform.platform() in html
    assert sys.executable in html


def _nc_attrs(out) -> dict[str, str]:
    """The attrs of every result file (``.nc``) a report wrote in ``out``, as text, by file name."""
    return {
        f.name: json.dumps({k: str(v) for k, v in ns.load(f, validate_set=False).attrs.items()})
        for f in sorted(out.glob("*.nc"))
    }


def test_full_paths_reach_the_result_files_too(saved_pair, capsys, monkeypatch):
    """``--full-paths`` also keeps the input files' absolute paths in the steps' result files (they named them
    relatively before, whatever the flag); without it no absolute path is in them."""
    monkeypatch.setattr(pipeline.steps, "DEMO_STEPS", (pipeline.spectrum.STEP,))
    path = saved_pair / "data" / "brain.nc"
    for flags, out in ((["--full-paths"], saved_pair / "nc_full"), ([], saved_pair / "nc_shared")):
        argv = ["report", str(path), "--out", str(out), "--quiet", "--set", "spectrum.n_boot=0", *flags]
        assert main(argv) == 0
        capsys.readouterr()
        files = _nc_attrs(out)
        assert "spectrum_brain.nc" in files
        for name in files:
            inputs = ns.load(out / name, validate_set=False).attrs["inputs"]
            assert [i["path"] for i in inputs] == ([str(path.resolve())] if flags else ["brain.nc"]), name
            assert inputs[0]["sha256"] == file_sha256(path)
        if not flags:
            assert all(_leaks(text, saved_pair) == [] for text in files.values())
    run = report(
        ns.load(path),
        out=saved_pair / "nc_lib",
        steps=(pipeline.spectrum.STEP,),
        progress=False,
        settings={"spectrum": {"n_boot": 0}},
        full_paths=True,
    )
    assert ns.load(run.out / "spectrum_brain.nc", validate_set=False).attrs["inputs"][0]["path"] == str(path.resolve())


def test_the_library_keeps_paths_out_by_default(saved_pair):
    brain = ns.load(saved_pair / "data" / "brain.nc")
    net = ns.load(saved_pair / "data" / "net.nc")
    run = report(brain, net, out=saved_pair / "lib", steps=QUICK, progress=False)
    text = run.report.read_text(encoding="utf-8") + json.dumps(run.summary)
    assert _leaks(text, saved_pair) == [] and "net.nc" in text
    run = report(brain, net, out=saved_pair / "lib_full", steps=QUICK, progress=False, full_paths=True)
    assert str((saved_pair / "data" / "net.nc").resolve()) in run.report.read_text(encoding="utf-8")


def test_shown_path_and_redaction(tmp_path):
    assert shown_path(tmp_path / "r" / "sub" / "x.nc", out=tmp_path / "r") == "sub/x.nc"
    assert shown_path(tmp_path / "data" / "x.nc", out=tmp_path / "r") == "x.nc"
    prefixes = path_prefixes(out=tmp_path / "r", files=[tmp_path / "data" / "x.nc"])
    text = f"could not read {tmp_path / 'data' / 'x.nc'}; wrote {tmp_path / 'r' / 'a.nc'}"
    assert redact_paths({"e": [text]}, prefixes) == {"e": ["could not read x.nc; wrote a.nc"]}
    home = os.path.expanduser("~")
    assert redact_paths(f"{home}/.cache/neurosuper/demo.nc", prefixes) == "<cache>/neurosuper/demo.nc"
    assert redact_paths("/elsewhere/deep/secret.nc", prefixes) == "secret.nc"
    assert redact_paths("ratio 1/2 of /", prefixes) == "ratio 1/2 of /"


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f"])
def test_bidirectional_controls_are_shown_escaped(char):
    shown = esc(f"unit{char}gnp.exe")
    assert char not in shown and f"\\u{ord(char):04x}" in shown and shown.startswith("unit")


def test_a_spoofed_name_is_escaped_in_the_page(tmp_path):
    brain, _ = brain_and_network(40)
    brain = brain.assign_coords(unit=[f"u{i}\u202eexe.png" for i in range(brain.sizes["unit"])])
    run = report(brain, out=tmp_path / "r", steps=QUICK, progress=False, title="set \u202egnp.exe")
    html = run.report.read_text(encoding="utf-8")
    assert "\u202e" not in html and "set \\u202egnp.exe" in html


# ----------------------------------------------------------------------------- a step that failed as a whole
def _failing_pair():
    """Two sets whose comparison fails (a stimulus pattern constant across units: its correlation distance is
    undefined) while each set's own analyses run."""
    return brain_and_network(6)


def test_a_comparison_that_failed_is_failed_in_the_report_and_summary(tmp_path):
    brain, net = _failing_pair()
    steps = [s for s in pipeline.DEMO_STEPS if s.name == "compare"]
    run = report(brain, net, out=tmp_path / "r", steps=(*QUICK, *steps), progress=False)
    step = run["compare"]
    assert step.status == "failed" and "rdm" in step.reason and step.reason == step.summary["error"]
    assert run["selectivity"].status == "ran"
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    (entry,) = [e for e in summary["steps"] if e["name"] == "compare"]
    assert entry["status"] == "failed" and "rdm" in entry["reason"]
    html = run.report.read_text(encoding="utf-8")
    assert "<span class='status-failed'>failed</span>" in html


def test_the_terminal_says_the_comparison_failed(tmp_path, capsys, monkeypatch):
    brain, net = _failing_pair()
    ns.save(brain, tmp_path / "a.nc")
    ns.save(net, tmp_path / "b.nc")
    monkeypatch.setattr(pipeline.steps, "DEMO_STEPS", tuple(s for s in pipeline.DEMO_STEPS if s.name == "compare"))
    code = main(["report", str(tmp_path / "a.nc"), str(tmp_path / "b.nc"), "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 0
    assert "failed compare: rdm" in capsys.readouterr().out
