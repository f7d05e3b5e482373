"""``neurosuper demo`` end to end (on small stand-ins for the demo data, so the test stays quick): every step of
DEMO_STEPS that exists in this version runs, the report has every section, every embedded image decodes."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from _format_helpers import brain_and_network

from neurosuper import datasets, pipeline
from neurosuper.cli import main


def _small_demo_data(n: int = 80, seed: int = 0):
    """A small brain (spike counts, 2 repeats, images) and network (two layers) on the same 16x16 images."""
    return brain_and_network(n, n_net=16, areas=(("V1", 24),), layers=(("hidden1", 8), ("hidden2", 8)), seed=seed)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    brain, net = _small_demo_data()
    patch = pytest.MonkeyPatch()
    patch.setattr(datasets, "planted_brain", lambda **kw: brain)
    patch.setattr(datasets, "planted_network", lambda **kw: net)
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    capture = io.StringIO()
    try:
        from contextlib import redirect_stdout

        with redirect_stdout(capture):
            code = main(["demo", "--out", str(out), "--quiet"])
    finally:
        patch.undo()
    return code, out, capture.getvalue()


def test_demo_runs_every_step_and_prints_where_the_report_is(demo_run):
    code, out, printed = demo_run
    assert code == 0
    assert printed.splitlines()[0].startswith(f"neurosuper demo: the report is {out / 'report.html'}")
    summary = json.loads((out / "summary.json").read_text())
    for sentence in summary["headline"]:
        assert f"  {sentence}" in printed
    assert summary["headline"] and (out / "summary.md").read_text().count("\n- ") == len(summary["headline"])
    status = {e["name"]: e["status"] for e in summary["steps"]}
    for step in pipeline.DEMO_STEPS:
        reason = step.unavailable()
        assert status[step.name] == ("skipped" if reason else "ran"), (step.name, reason)
    assert list(status) == [s.name for s in pipeline.DEMO_STEPS] + ["report"]


def test_demo_report_has_every_section(demo_run):
    _, out, _ = demo_run
    html = (out / "report.html").read_text(encoding="utf-8")
    ids = re.findall(r"<section id='([^']+)'>", html)
    analyses = [s.name for s in pipeline.DEMO_STEPS if not s.data and not s.unavailable()]
    assert ids == ["summary", "inputs", "steps", *analyses, "provenance"]
    assert {"spectrum", "interpret"} <= set(analyses)
    for sid in ids:
        assert f"<li><a href='#{sid}'>" in html
    from neurosuper._provenance import file_sha256

    assert file_sha256(out / "demo_brain.nwb") in html  # the brain analysed is the one read back from NWB
    for section in ("spectrum", "interpret", "capacity"):  # and every brain result's provenance names the file
        prov = html.split(f"<section id='{section}'>")[1].split("</section>")[0].split("Provenance of these")[1]
        assert file_sha256(out / "demo_brain.nwb") in prov, section
    assert "How the demo data were made" in html and "counts_identical" in html
    reduced = [s for s in pipeline.DEMO_STEPS if s.reduced and s.name in analyses]
    assert html.count("<strong>Reduced settings:</strong>") == len(reduced) >= 1
    assert (out / "report.html").stat().st_size <= 5_000_000


def test_every_embedded_image_decodes(demo_run):
    from PIL import Image

    _, out, _ = demo_run
    html = (out / "report.html").read_text(encoding="utf-8")
    found = re.findall(r'<img src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)" width="(\d+)" height="(\d+)"', html)
    assert len(found) == html.count("<img ") >= 3
    for mime, data, w, h in found:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as img:
            img.load()
            assert Image.MIME[img.format] == mime and img.size == (int(w), int(h))
            assert np.asarray(img.convert("L")).std() > 5  # a drawing, not a blank image


def test_demo_out_an_existing_file_or_a_full_folder(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    assert main(["demo", "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurosuper: error: --out") and "an existing file" in err and "\n" not in err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path / "full")]) == 2
    err = capsys.readouterr().err.strip()
    assert "a folder that is not empty" in err and "--overwrite" in err
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"


def test_demo_returns_the_same_results_it_wrote(demo_run, tmp_path):
    """neurosuper.report.demo() returns the typed results of every step; summary.json holds the same numbers."""
    _, out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text())
    brain, net = _small_demo_data()
    patch = pytest.MonkeyPatch()
    patch.setattr(datasets, "planted_brain", lambda **kw: brain)
    patch.setattr(datasets, "planted_network", lambda **kw: net)
    try:
        from neurosuper.report import demo

        run = demo(out=tmp_path / "again", progress=False, settings={"toy": {"steps": 300}})
    finally:
        patch.undo()
    assert [s.name for s in run.steps] == [e["name"] for e in summary["steps"]]
    assert run["spectrum"].summary["brain"]["alpha"] == summary["spectrum"]["brain"]["alpha"]
    assert run["toy"].summary["settings"]["steps"] == 300 and summary["toy"]["settings"]["steps"] == 1500
    assert run["interpret"].figures and all(f.path.exists() for f in run["interpret"].figures)


def test_every_demo_figure_says_what_it_shows(demo_run):
    """Each figure of the demo report has a caption sentence, not only its file name; the sets are the demo's."""
    _, out, _ = demo_run
    html = (out / "report.html").read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", html)
    assert len(captions) == html.count("<img ") >= 3
    for caption in captions:
        sentence = caption.split("<span class='mono'>")[0].strip()
        assert len(sentence) > 40 and sentence.endswith("."), caption
    summary = json.loads((out / "summary.json").read_text())
    assert any("the demo brain" in s for s in summary["headline"])
