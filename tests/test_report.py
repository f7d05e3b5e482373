"""The report: the pipeline contract it relies on (skips, failures, sets), the HTML (sections, provenance, embedded
images, size budget, no remote resource) and ``neurosuper report`` (inputs, exit codes checked before computing)."""

from __future__ import annotations

import base64
import io
import json
import re
from html import escape

import numpy as np
import pytest
from _format_helpers import brain_and_network

import neurosuper as ns
from neurosuper import pipeline
from neurosuper.cli import main
from neurosuper.errors import AnalysisError, NeurosuperWarning, NotEnoughData
from neurosuper.pipeline import SETS, Context, Run, Step, StepError, StepFigure, StepResult, run_steps
from neurosuper.pipeline.headline import headline
from neurosuper.report import prepare_sets, report, set_labels, write_report


def _steps(names):
    return [s for s in pipeline.DEMO_STEPS if s.name in names]


def _status(results):
    return {r.name: r.status for r in results}


def _quick_spectrum(ctx):
    """A quick stand-in for the spectrum step (PCA, no bootstrap): stamped results, a line-plot figure."""
    import warnings

    from neurosuper.plot.spectral import plot_spectrum

    block = {}
    for label, ds in ctx.sets.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeurosuperWarning)
            spec = ns.spectral.eigenspectrum(ds, method="pca", n_boot=0, groupby=None, progress=False)
            try:
                fit = ns.spectral.powerlaw(spec)
            except NotEnoughData as err:  # as the real step: the spectrum, and "not enough data" for α
                fit = None
                block[label] = {**ns.spectral.summary(spec), "alpha": None, "not_enough_data": err.as_entry()}
            else:
                block[label] = ns.spectral.summary(spec, fit)
        block[label]["files"] = [ns.storage.save_result(spec, ctx.path(f"spectrum_{label}.nc"), overwrite=True).name]
        block[label]["figure"] = ctx.figure(
            f"spectrum_{label}.png", plot_spectrum(spec, fit, title=label), f"The spectrum of {label}.", dpi=80
        )
    ctx.results["spectrum"] = {}
    ctx.summary["spectrum"] = block


def _quick_interpret(ctx):
    """A quick stand-in for the interpret step (pixel similarity, no null): stamped results kept in ctx.results,
    MEI grids (photographs)."""
    from neurosuper.plot.interpret import plot_mei_grid

    block, results = {}, {}
    for label, ds in ctx.sets.items():
        results[label] = ns.interpret.interpretability_index(ds, similarity="pixels", null="none", progress=False)
        block[label] = ns.interpret.summary(results[label])
        block[label]["mei_grid"] = ctx.figure(
            f"interpret_{label}_meis.png", plot_mei_grid(ds, results[label], n_units=4), "MEIs.", dpi=80
        )
    ctx.results["interpret"] = results
    ctx.summary["interpret"] = block


#: Quick steps for the page tests: stand-ins for the spectrum (drawings) and interpret (MEI photographs) steps.
#: The real steps run in tests/test_demo.py.
QUICK = (
    Step("spectrum", _quick_spectrum, title="Spectra", description="quick PCA spectra"),
    Step("interpret", _quick_interpret, title="Interpretability", description="quick II"),
)


def _sets(n: int = 60, seed: int = 0, *, big: bool = False):
    """A brain (2 repeats, two areas, images) and a network (two layers) seeing the same random 16x16 images;
    ``big``: 48 units each, so that their spectra have the ranks a power law needs (MIN_FIT_RANKS)."""
    if big:
        return brain_and_network(
            n, n_brain=48, areas=(("V1", 32), ("V2", 16)), n_net=48, layers=(("l1", 24), ("l2", 24)), seed=seed
        )
    return brain_and_network(n, seed=seed)


def _images(html: str) -> list[tuple[str, bytes, int, int]]:
    found = re.findall(r'<img src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)" width="(\d+)" height="(\d+)"', html)
    return [(mime, base64.b64decode(data), int(w), int(h)) for mime, data, w, h in found]


def _section_ids(html: str) -> list[str]:
    return re.findall(r"<section id='([^']+)'>", html)


# ------------------------------------------------------------------------------------------------ pipeline
def test_steps_needing_what_is_not_installed_are_skipped_with_the_reason(tmp_path):
    ran = []
    steps = [
        Step("deps", lambda ctx: ran.append("deps"), requires=("neurosuper_no_such_package",)),
        Step("ok", lambda ctx: ran.append(len(ctx.sets))),
    ]
    ctx = Context(out=tmp_path, data={"brain": 1, "network": 2}, progress=False)
    results = run_steps(ctx, steps)
    assert ran == [2]
    assert _status(results) == {"deps": "skipped", "ok": "ran"}
    assert "needs 'neurosuper_no_such_package', which is not installed" in results[0].reason
    assert results[0].seconds is None and results[1].seconds is not None


def test_a_step_result_is_typed_and_complete(tmp_path):
    """A step's numbers, results, figures (with captions), warnings, files and provenance are on its StepResult."""
    brain, _ = _sets(60, big=True)
    (result,) = run_steps(
        Context(out=tmp_path, data={"brain": brain}, set_names=("brain",), progress=False),
        [Step("spectrum", _quick_spectrum, title="Spectra")],
    )
    assert isinstance(result, StepResult) and result.status == "ran" and result.title == "Spectra"
    spec = ns.spectral.eigenspectrum(brain, method="pca", n_boot=0, groupby=None, progress=False)
    with pytest.warns(NeurosuperWarning, match="fitted the leading ranks 1..12"):  # N = 48: too few for 11..
        assert result.summary["brain"]["alpha"] == ns.spectral.summary(ns.spectral.powerlaw(spec))["alpha"]
    (fig,) = result.figures
    assert isinstance(fig, StepFigure) and fig.name == "spectrum_brain.png" and fig.caption == "The spectrum of brain."
    assert fig.path == tmp_path / "spectrum_brain.png" and fig.path.exists() and fig.figure is not None
    assert result.files == ["spectrum_brain.nc"] and (tmp_path / "spectrum_brain.nc").exists()
    assert result.headline and result.headline[0].startswith("The brain: the covariance spectrum decays")
    assert result.entry() == {
        "name": "spectrum",
        "status": "ran",
        "title": "Spectra",
        "description": "",
        "seconds": result.seconds,
    }


def test_a_step_needing_two_sets_is_skipped_for_one(tmp_path):
    ctx = Context(out=tmp_path, data={"brain": 1}, set_names=("brain",), progress=False)
    (result,) = run_steps(ctx, [Step("pair", lambda ctx: None, min_sets=2)])
    assert (result.status, result.reason) == ("skipped", "needs 2 sets; 1 given")


def test_failures_are_recorded_for_reports_and_raised_for_the_demo(tmp_path):
    def bad(ctx):
        raise AnalysisError("too few stimuli: found 3; expected 5. Fix: more.")

    steps = [Step("bad", bad), Step("after", lambda ctx: ctx.summary.update(after=True))]
    ctx = Context(out=tmp_path, data={"brain": 1, "network": 2}, progress=False)
    results = run_steps(ctx, steps, errors="record")
    assert _status(results) == {"bad": "failed", "after": "ran"} and ctx.summary["after"]
    assert results[0].reason == "too few stimuli: found 3; expected 5. Fix: more."
    assert results[0].summary == {"error": results[0].reason} and results[0].warnings == [results[0].reason]
    with pytest.raises(AnalysisError):
        run_steps(Context(out=tmp_path, data={"brain": 1, "network": 2}, progress=False), steps)
    with pytest.raises(NotImplementedError):  # a bug is never swallowed
        run_steps(
            Context(out=tmp_path, data={"brain": 1}, set_names=("brain",), progress=False),
            [Step("bug", lambda ctx: (_ for _ in ()).throw(NotImplementedError()))],
            errors="record",
        )


def test_contract_reads_provides_and_never_replaces(tmp_path):
    ctx = Context(out=tmp_path, data={"brain_simulated": 1, "network": 2}, progress=False)
    with pytest.raises(StepError, match="reads"):
        run_steps(ctx, [Step("early", lambda ctx: None)])  # reads SETS: brain is not provided yet
    run_steps(ctx, [Step("nwb", lambda ctx: ctx.provide("brain", 3), reads=("brain_simulated",), provides=("brain",))])
    assert ctx.sets == {"brain": 3, "network": 2}
    with pytest.raises(StepError, match="replace"):
        run_steps(ctx, [Step("again", lambda ctx: ctx.provide("brain", 4), reads=(SETS,))])


def test_sets_are_the_analysed_names_in_order(tmp_path):
    two = Context(out=tmp_path, data={"s2": "b", "s1": "a", "x": 0}, set_names=("s1", "s2"), progress=False)
    assert list(two.sets) == ["s1", "s2"]
    assert Context(out=tmp_path, data={"s1": "a"}, set_names=("s1", "s2"), progress=False).sets == {"s1": "a"}


def test_the_report_runs_the_demo_steps_without_the_data_steps_and_the_toy_model():
    names = [s.name for s in pipeline.report_steps()]
    assert names == [s.name for s in pipeline.DEMO_STEPS if s.name not in ("data", "nwb", "toy", "truth")]
    assert names == ["spectrum", "interpret", "directions", "capacity", "compare"]
    assert [s.name for s in pipeline.DEMO_STEPS][-1] == "truth"  # the demo's planted truth, after every analysis
    assert all(callable(s.run) for s in pipeline.DEMO_STEPS)  # functions, imported normally: no string targets
    reduced = {s.name: s.reduced for s in pipeline.DEMO_STEPS if s.reduced}
    assert "20 resamples" in reduced["spectrum"]


# ------------------------------------------------------------------------------------------------- labels
def test_labels_and_groupby():
    brain, net = _sets(30)
    assert set_labels([brain, net]) == ["brain", "network"]
    assert set_labels([brain, brain], ["V1 day 1", "V1 day 2"]) == ["V1_day_1", "V1_day_2"]
    assert set_labels([brain, brain]) == ["brain_1", "brain_2"]
    none = prepare_sets([brain, net], groupby="none")
    assert "area" not in none[0].coords and "layer" not in none[1].coords and "area" in brain.coords
    assert "area" in prepare_sets([brain], groupby="area")[0].coords
    with pytest.raises(ns.NeurosuperError, match="groupby: found 'layer'"):
        prepare_sets([brain], groupby="layer")


# --------------------------------------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def pair_report(tmp_path_factory):
    brain, net = _sets(big=True)
    out = tmp_path_factory.mktemp("pair") / "report"
    run = report(brain, net, out=out, steps=QUICK, progress=False)
    return run.report, run.report.read_text(encoding="utf-8"), json.loads((out / "summary.json").read_text()), run


def test_report_has_a_contents_table_and_a_section_per_analysis(pair_report):
    path, html, summary, _ = pair_report
    assert path.name == "report.html" and html.startswith("<!DOCTYPE html>")
    ids = _section_ids(html)
    ran = [e["name"] for e in summary["steps"] if e["status"] in ("ran", "failed") and e["name"] != "report"]
    assert ids == ["summary", "inputs", "steps", *ran, "provenance"]
    assert {"spectrum", "interpret"} <= set(ran)
    nav = html[html.index("<nav") : html.index("</nav>")]
    assert all(f"href='#{i}'" in nav for i in ids)
    assert summary["report"]["sections"] == ran
    assert "<h2>Spectra</h2>" in html and "<h2>Interpretability</h2>" in html  # the titles of the steps that ran
    assert "Reduced settings:" not in html  # none of these steps declares any


def test_report_returns_what_it_wrote(pair_report):
    """report() returns the typed results; summary.json, summary.md and the page say the same."""
    path, html, summary, run = pair_report
    assert (
        isinstance(run, Run)
        and run.report == path
        and [s.name for s in run.steps] == ["spectrum", "interpret", "report"]
    )
    assert summary["headline"] == run.headline and run.headline
    assert summary["spectrum"] == json.loads(json.dumps(run["spectrum"].summary))
    md = (path.parent / "summary.md").read_text()
    assert all(f"- {line}" in md for line in run.headline)
    assert [e["name"] for e in summary["steps"]] == [s.name for s in run.steps]
    for fig in run["interpret"].figures:
        assert fig.caption in html and fig.name in html


def test_report_states_headline_settings_and_inputs(pair_report):
    _, html, summary, _ = pair_report
    sentences = headline(summary, labels=["brain", "network"])
    assert sentences and all(escape(s) in html for s in sentences)
    assert "the covariance spectrum decays as a power law with α" in html
    for text in ("spike_count", "activation", "units per area.V1", "units per layer.l1"):
        assert text in html


def test_report_shows_the_provenance_of_its_numbers(pair_report):
    path, html, _, _ = pair_report
    res = ns.interpret.interpretability_index(_sets()[0], similarity="pixels", null="none", progress=False)
    assert res.attrs["analysis"] in html and escape(res.attrs["reference"]) in html
    assert escape(json.dumps(ns._provenance.options_of(res), sort_keys=True)) in html
    assert "Provenance of these numbers" in html
    from importlib.metadata import version

    for pkg in ("numpy", "xarray", "scikit-learn", "matplotlib"):
        assert f"<td>{pkg}</td><td class='mono'>{version(pkg)}</td>" in html


def test_every_embedded_image_decodes_and_nothing_is_fetched(pair_report):
    from PIL import Image

    path, html, _, _ = pair_report
    images = _images(html)
    assert len(images) == html.count("<img ") >= 4
    for mime, data, w, h in images:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            assert img.size == (w, h) and Image.MIME[img.format] == mime
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert path.stat().st_size < 5_000_000


def _selectivity_step(ctx):
    """A quick stand-in analysis step: selectivity of each set (a stamped result kept in ctx.results)."""
    results = {label: ns.interpret.selectivity(ds) for label, ds in ctx.sets.items()}
    ctx.results["selectivity"] = results
    ctx.summary["selectivity"] = {label: ns.interpret.summary(r) for label, r in results.items()}
    for label, r in results.items():
        ns.storage.save_result(r, ctx.path(f"selectivity_{label}.nc"), overwrite=True)


def test_one_set_no_comparison_and_input_file_hashes(tmp_path, capsys, monkeypatch):
    brain, _ = _sets()
    ns.save(brain, tmp_path / "session.nc")
    steps = (Step("selectivity", _selectivity_step), *_steps(("spectrum", "compare")))
    monkeypatch.setattr(pipeline.steps, "DEMO_STEPS", steps)
    assert (
        main(["report", str(tmp_path / "session.nc"), "--out", str(tmp_path / "r"), "--quiet", "--skip", "spectrum"])
        == 0
    )
    out = capsys.readouterr().out
    assert f"neurosuper report: {tmp_path / 'r' / 'report.html'}" in out
    assert "skipped spectrum: skipped on request" in out
    assert "skipped compare: needs 2 sets; 1 given" in out
    html = (tmp_path / "r" / "report.html").read_text()
    assert _section_ids(html) == ["summary", "inputs", "steps", "selectivity", "provenance"]
    from neurosuper._provenance import file_sha256

    assert file_sha256(tmp_path / "session.nc") in html and "session.nc" in html
    saved = ns.load(tmp_path / "r" / "selectivity_brain.nc", validate_set=False)
    assert saved.attrs.get("inputs") and saved.attrs["inputs"][0]["sha256"] == file_sha256(tmp_path / "session.nc")


def test_npz_and_nwb_inputs(tmp_path, capsys, monkeypatch):
    from neurosuper.io.nwb import save_nwb

    brain, net = _sets(40)
    monkeypatch.setattr(pipeline.steps, "DEMO_STEPS", (Step("selectivity", _selectivity_step),))
    np.savez(tmp_path / "acts.npz", l1=net["responses"].values[:, :5], l2=net["responses"].values[:, 5:])
    assert main(["report", str(tmp_path / "acts.npz"), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    html = (tmp_path / "a" / "report.html").read_text()
    assert "units per layer.l1" in html and "acts.npz" in html
    save_nwb(brain, tmp_path / "s.nwb", overwrite=True, seed=0)
    assert (
        main(
            [
                "report",
                str(tmp_path / "s.nwb"),
                "--stimulus",
                "presentations",
                "--out",
                str(tmp_path / "b"),
                "--quiet",
                "--groupby",
                "none",
            ]
        )
        == 0
    )
    html = (tmp_path / "b" / "report.html").read_text()
    assert "s.nwb" in html and "units per area" not in html
    capsys.readouterr()


# ------------------------------------------------------------------------------------------- bad input
def _bad(argv, capsys) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("neurosuper: error:") and "\n" not in err, err
    assert "Traceback" not in captured.err
    return err


@pytest.fixture
def never_compute(monkeypatch):
    """Any step running would fail the test: bad input must be caught before computing."""

    def boom(*args, **kwargs):
        raise AssertionError("a step ran on bad input")

    monkeypatch.setattr(pipeline.runner, "run_steps", boom)


def test_bad_files_and_out(tmp_path, capsys, never_compute):
    brain, _ = _sets(20)
    ns.save(brain, tmp_path / "a.nc")
    err = _bad(["report", str(tmp_path / "missing.nc"), "--out", str(tmp_path / "r")], capsys)
    assert "missing.nc" in err and "no such file" in err
    (tmp_path / "notes.txt").write_text("x")
    err = _bad(["report", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "r")], capsys)
    assert "suffix '.txt'" in err and ".nwb, .nc, .zarr, .npz" in err and "Fix:" in err
    (tmp_path / "taken").write_text("x")
    err = _bad(["report", str(tmp_path / "a.nc"), "--out", str(tmp_path / "taken")], capsys)
    assert "an existing file" in err and "Fix: --out taken-report" in err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("x")
    err = _bad(["report", str(tmp_path / "a.nc"), "--out", str(tmp_path / "full")], capsys)
    assert "a folder that is not empty" in err and "--overwrite" in err and "overwrite=True" not in err
    err = _bad(["report", str(tmp_path / "a.nc"), "--out", str(tmp_path / "a.nc")], capsys)
    assert "the command's input file" in err
    err = _bad(["report", str(tmp_path / "a.nc"), "--out", str(tmp_path / "r"), "--groupby", "layer"], capsys)
    assert "groupby" in err and "area" in err
    err = _bad(["report", str(tmp_path / "a.nc"), "--out", str(tmp_path / "r"), "--stimulus", "trials"], capsys)
    assert "no .nwb file among the inputs" in err
    err = _bad(["report", str(tmp_path / "a.nc"), "--out", str(tmp_path / "r"), "--bin-size", "0.1"], capsys)
    assert err.startswith("neurosuper: error: --bin-size: found no .nwb file among the inputs")
    err = _bad(["report", str(tmp_path / "a.nc"), "--out", str(tmp_path / "r"), "--skip", "spectra"], capsys)
    assert "skip: found 'spectra'; expected names of analysis steps: spectrum, interpret" in err
    assert not (tmp_path / "r").exists()


def test_two_sets_without_shared_stimuli(tmp_path, capsys, never_compute):
    brain, net = _sets(20)
    ns.save(brain, tmp_path / "a.nc")
    ns.save(net.assign_coords(stimulus=[f"other{i}" for i in range(20)]), tmp_path / "b.nc")
    err = _bad(["report", str(tmp_path / "a.nc"), str(tmp_path / "b.nc"), "--out", str(tmp_path / "r")], capsys)
    assert "found 0 shared" in err and "only in network: 'other0'" in err and "Fix:" in err
    assert not (tmp_path / "r").exists()


def test_nwb_file_needing_stimulus(tmp_path, capsys, never_compute):
    from pynwb import NWBHDF5IO

    from neurosuper.io.nwb import save_nwb

    brain, _ = _sets(12)
    path = save_nwb(brain, tmp_path / "s.nwb", overwrite=True, seed=0, images=False)
    with NWBHDF5IO(str(path), "a") as nwb_io:  # a second, different source of presentations: a trials table
        nwbfile = nwb_io.read()
        nwbfile.add_trial_column(name="stimulus", description="s")
        for i in range(4):
            nwbfile.add_trial(start_time=1000.0 + 2 * i, stop_time=1001.0 + 2 * i, stimulus="ab"[i % 2])
        nwb_io.write(nwbfile)
    err = _bad(["report", str(path), "--out", str(tmp_path / "r")], capsys)
    assert "presentation sources" in err and "--stimulus" in err


# ------------------------------------------------------------------------------------------- budget
def test_figures_shrink_to_fit_the_size_budget(tmp_path):
    from matplotlib.figure import Figure

    from neurosuper._atomic import save_figure

    rng = np.random.default_rng(0)
    fig = Figure(figsize=(4, 3))
    fig.subplots().imshow(rng.random((60, 90)), cmap="viridis")
    path = save_figure(fig, tmp_path / "noise.png", dpi=80)
    step = StepResult(
        "noise",
        "ran",
        description="a noisy figure",
        summary={"value": 1.5},
        figures=[StepFigure("noise.png", "Noise.", fig, path)],
    )
    run = Run(out=tmp_path, steps=[step], sets={})
    write_report(run)
    full = run["report"].summary
    assert full["figure_scale"] == 1.0
    write_report(run, max_bytes=int(full["size_MB"] * 1e6 * 0.6))
    assert run["report"].summary["figure_scale"] < 1.0 and [s.name for s in run.steps] == ["noise", "report"]
    assert (tmp_path / "report.html").stat().st_size <= full["size_MB"] * 1e6 * 0.6
    with pytest.warns(NeurosuperWarning, match="even with figures shrunk"):
        write_report(run, max_bytes=1000)
    assert "noise" in _section_ids((tmp_path / "report.html").read_text())


def test_photographs_become_jpeg_and_drawings_stay_png(tmp_path):
    from PIL import Image
    from skimage import data

    from neurosuper.report._images import encode

    Image.fromarray(data.astronaut()).resize((900, 900)).save(tmp_path / "photo.png")
    drawing = Image.new("RGB", (900, 600), "white")
    drawing.paste((30, 90, 160), (100, 100, 800, 120))
    drawing.save(tmp_path / "drawing.png")
    assert encode(tmp_path / "photo.png").mime == "image/jpeg"
    small = encode(tmp_path / "drawing.png")
    assert small.mime == "image/png" and (small.width, small.height) == (900, 600)
    assert encode(tmp_path / "drawing.png", scale=0.5).width == 700


def test_headline_sentences_name_the_sets():
    summary = {
        "spectrum": {
            "brain": {"alpha": 1.04, "alpha_ci": [0.98, 1.1], "r2": 0.99, "ranks": [11, 500], "alpha_true": 1.0},
            "s2": {"alpha": 0.5},
        },
        "interpret": {
            "brain": {
                "p_population": 0.001,
                "n_permutations": 1000,
                "n_units_significant": 25,
                "n_units_scored": 100,
                "null": "random_stimuli",
                "mean_ii": 0.61,
                "similarity": "gabor",
            }
        },
        "compare": {"headline": "Layer l2 matches the brain best."},
    }
    lines = headline(summary, labels=["brain", "s2"], demo=True)
    assert lines[0] == (
        "The demo brain: the covariance spectrum decays as a power law with α = 1.04 (95% CI "
        "0.98–1.10), fit r² = 0.99 over ranks 11–500; the simulation's generating α is 1.00."
    )
    assert lines[1].startswith("Set 's2': the covariance spectrum decays as a power law with α = 0.50")
    assert lines[2].startswith("The units of the demo brain are more interpretable than chance as a population")
    assert lines[3] == "Layer l2 matches the brain best."


def test_a_users_report_never_calls_its_sets_the_demo_data(tmp_path):
    """Sentences and figure titles come from Context.noun: "the demo brain" only when the sets are the demo's."""
    from neurosuper.pipeline.directions import _headline, _noun

    entry = {
        "n_score": 40,
        "n_groups": 10,
        "methods": {"units": {"median_ii": -1.0}, "kmeans": {"median_ii": -0.5, "p_vs_units_holm": 0.001}},
    }
    user = Context(out=tmp_path, data={"brain": 1, "s2": 2}, set_names=("brain", "s2"), progress=False)
    demo = Context(out=tmp_path, data={"brain": 1}, set_names=("brain",), progress=False, demo=True)
    assert _headline(_noun(user, "brain"), entry).startswith("In the brain, scored on 40 held-out stimuli, kmeans")
    assert _headline(_noun(user, "s2"), entry).startswith("In set 's2', scored on 40")
    assert _headline(_noun(demo, "brain"), entry).startswith("In the demo brain, scored on 40")
    entry["best_method"] = "nmf"  # a higher median than k-means', but not significantly above the units
    assert "kmeans directions are the most interpretable of those significantly above the units" in _headline(
        "the brain", entry
    )
    assert "demo" not in " ".join(headline({"interpret": {"brain": {"p_population": 0.5}}}, labels=["brain"]))


def _profile_summary(ci_best):
    return {
        "compare": {
            "profile": {
                "kind": "rsa",
                "method": "spearman",
                "groupby": "layer",
                "best": "l1",
                "score": {"l1": 0.02, "l2": 0.01},
                "ci": {"l1": ci_best, "l2": [-0.01, 0.03]},
                "ci_level": 0.95,
                "ceiling": [0.10, 0.32],
                "ceiling_kind": "split-half",
                "margin": 0.01,
                "p_best": 0.76,
            }
        }
    }


def test_comparison_headline_says_when_the_best_layer_is_not_above_chance():
    (line,) = headline(_profile_summary([-0.005, 0.05]), labels=["brain", "network"])
    assert line.startswith(
        "No layer of the model matches the other set better than chance: the best, l1, has RSA, "
        "spearman 0.020 with a 95% bootstrap CI of -0.005–0.050, which includes 0"
    )
    assert "noise ceiling is 0.10–0.32, above that CI" in line and "matches it best" not in line
    (line,) = headline(_profile_summary([0.01, 0.03]), labels=["brain", "network"])
    assert line.startswith("Of the layers compared with the other set, l1 scores highest but not significantly")
    assert "matches it best" not in line  # not significantly above the runner-up: never called best
    summary = _profile_summary([0.01, 0.03])
    summary["compare"]["profile"].update(best_significant=True, runner_up="l2", margin_ci=[0.004, 0.016])
    (line,) = headline(summary, labels=["brain", "network"])
    assert line.startswith("Of the layers compared with the other set, l1 matches it best (RSA, spearman 0.020")
    assert "(95% CI of the difference 0.004–0.016)" in line


def test_figure_captions_and_warnings_name_their_set(tmp_path):
    from neurosuper.plot.spectral import plot_spectrum

    brain, _ = _sets()

    def step(ctx):
        spec = ns.spectral.eigenspectrum(brain, method="pca", n_boot=0, groupby=None, progress=False)
        fig = ctx.figure("s.png", plot_spectrum(spec, None, title="b"), "Variance against rank, log-log.", dpi=60)
        ctx.summary["spectrum"] = {"brain": {"figure": fig, "warnings": ["3 units are constant"]}}

    ctx = Context(out=tmp_path, data={"brain": brain}, set_names=("brain",), progress=False)
    run = Run(out=tmp_path, steps=run_steps(ctx, [Step("spectrum", step, title="Spectra")]), sets=ctx.sets)
    assert run["spectrum"].warnings == ["brain: 3 units are constant"]
    write_report(run)
    html = (tmp_path / "report.html").read_text()
    assert "<figcaption>Variance against rank, log-log. <span class='mono'>s.png</span></figcaption>" in html
    assert "brain: 3 units are constant" in html


def _per_set_step(outcomes):
    """A step that catches its errors per set, as the analysis steps do: ``outcomes`` {label: error or None}."""

    def step(ctx):
        ctx.summary["per_set"] = {
            label: ({"error": outcomes[label]} if outcomes[label] else {"value": 1.0}) for label in ctx.sets
        }

    return Step("per_set", step, title="Per set")


def test_a_step_that_failed_on_every_set_is_recorded_as_failed(tmp_path):
    ctx = Context(out=tmp_path, data={"a": 1, "b": 2}, set_names=("a", "b"), progress=False)
    (entry,) = run_steps(ctx, [_per_set_step({"a": "too few units", "b": "no stimuli"})], errors="record")
    assert entry.status == "failed" and entry.reason == "a: too few units; b: no stimuli"
    ctx = Context(out=tmp_path, data={"a": 1, "b": 2}, set_names=("a", "b"), progress=False)
    (entry,) = run_steps(ctx, [_per_set_step({"a": "too few units", "b": None})], errors="record")
    assert entry.status == "ran" and entry.reason is None  # one set is enough to show


def test_report_of_a_real_recording_without_stimuli(shared_data, tmp_path, capsys):
    """pynapple's postsubiculum file (3 units, no stimulus table), binned as --stimulus bins --bin-size 0.5: the
    analyses that need stimuli or more units fail with their reason in the Steps table, α and capacity say "not
    enough data" (3 ranks, 3 units) instead of a number, and the report says first that nothing was found."""
    path = shared_data / "nwb" / "A8604-211122.nwb"
    out = tmp_path / "r"
    assert (
        main(
            [
                "report",
                str(path),
                "--stimulus",
                "bins",
                "--bin-size",
                "0.5",
                "--out",
                str(out),
                "--quiet",
                "--skip",
                "directions",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    status = {e["name"]: (e["status"], e.get("reason", "")) for e in summary["steps"]}
    assert status["spectrum"][0] == "ran"  # the spectrum of 3 units is shown, α is not
    short = summary["spectrum"]["brain"]["not_enough_data"]
    assert summary["spectrum"]["brain"]["alpha"] is None and (short["found"], short["needed"]) == (0, 10)
    assert status["interpret"][0] == "failed" and "no 'stimuli' variable" in status["interpret"][1]
    assert status["capacity"][0] == "failed" and "3 units; expected at least 8" in status["capacity"][1]
    assert summary["capacity"]["brain"]["not_enough_data"]["found"] == 3 and "capacity_sum" not in summary["capacity"]
    head = summary["headline"]  # before: "Σ C = 2.9 of 3 dimensions", the only sentence, read like a result
    assert head[0].startswith("No analysis produced a result on these data, so nothing here is a finding")
    assert not any(number in " ".join(head) for number in ("α =", "Σ C =", "mean II"))
    assert any("not enough data for feature capacity — 3 units" in line for line in head)
    html = (out / "report.html").read_text()
    summary_section = html[html.index("<section id='summary'>") : html.index("<section id='inputs'>")]
    assert "<p class='fail'>No analysis produced a result" in summary_section
    assert "not enough data for the power-law exponent α" in summary_section
    assert "This step could not run on these data: brain: feature_capacity" in html
    from neurosuper._provenance import file_sha256

    assert file_sha256(path) in html


def test_a_long_list_of_warnings_is_folded(tmp_path):
    from neurosuper.report._render import _NOTES_SHOWN

    def step(ctx):
        ctx.summary["noisy"] = {"brain": {"value": 1.0, "warnings": [f"warning number {i}" for i in range(9)]}}

    ctx = Context(out=tmp_path, data={"brain": _sets(20)[0]}, set_names=("brain",), progress=False)
    write_report(Run(out=tmp_path, steps=run_steps(ctx, [Step("noisy", step)]), sets=ctx.sets))
    html = (tmp_path / "report.html").read_text()
    shown, folded = html.split(f"<details><summary>{9 - _NOTES_SHOWN} more warnings</summary>")
    assert all(f"brain: warning number {i}<" in shown for i in range(_NOTES_SHOWN))
    assert all(f"brain: warning number {i}<" in folded.split("</details>")[0] for i in range(_NOTES_SHOWN, 9))


def test_interpretability_headline_says_what_was_tested_and_when_it_is_chance():
    """The headline quotes the calibrated tests (issue 19 §1): the population's permutation test and the units
    found at a 5% false discovery rate, never a share above the 95th percentile as if it were a finding."""
    base = {"null": "random_stimuli", "mean_ii": -1.0, "similarity": "gabor", "mean_ii_z": 0.47, "n_units_scored": 500}
    chance = {"p_population": 0.35, "n_permutations": 1000, "n_units_significant": 0, "fdr": 0.05}
    (line,) = headline({"interpret": {"brain": {**base, **chance}}}, labels=["brain"])
    assert line.startswith("The units of the brain are not shown to be more interpretable than chance")
    assert "mean II z-score 0.47" in line and "1,000 random relabellings of the stimuli" in line and "p = 0.35" in line
    assert "0 of 500 units (Benjamini–Hochberg, 5% false discovery rate" in line and "95th" not in line
    above = {"p_population": 1 / 1001, "n_permutations": 1000, "n_units_significant": 61, "fdr": 0.05}
    (line,) = headline({"interpret": {"brain": {**base, **above}}}, labels=["brain"])
    assert line.startswith("The units of the brain are more interpretable than chance as a population")
    assert "p = 0.001, the smallest 1,000 relabellings can give" in line and "61 of 500 units" in line
    assert headline({"interpret": {"brain": {**base, "fraction_above_null": 0.61}}}, labels=["brain"]) == []


def test_table_names_explain_themselves(pair_report):
    """The numbers' names carry the glossary's sentence as a tooltip; every glossary sentence is a sentence."""
    from neurosuper.report.glossary import GLOSSARY, explain

    _, html, _, _ = pair_report
    assert f"<span class='term' title='{escape(GLOSSARY['alpha'], quote=True)}'>alpha</span>" in html
    assert explain("profile.ceiling") == GLOSSARY["ceiling"] and explain("not_a_key") is None
    assert all(len(text) > 15 and text.endswith(".") for text in GLOSSARY.values())


def test_report_settings_override_a_steps_reduced_settings(tmp_path):
    """report(settings=...) reaches the step: the directions step runs on the units and methods asked for, and
    the report states the settings as run."""
    brain, net = _sets()
    path = report(
        brain,
        net,
        out=tmp_path / "r",
        steps=_steps(("directions",)),
        progress=False,
        settings={"directions": {"max_units": 6, "methods": ["units", "pca"], "k": 3}},
    ).report
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    block = summary["directions"]
    assert block["settings"]["max_units"] == 6 and block["settings"]["methods"] == ["units", "pca"]
    for label, n_units in (("brain", 24), ("network", 10)):
        assert block[label]["n_units_used"] == 6 and block[label]["n_units"] == n_units
        assert set(block[label]["methods"]) == {"units", "pca"} and block[label]["k"] == 3
    html = path.read_text()
    assert "<td><span class='term' title=" in html and ">max_units</td><td class='num'>6</td>" in html


def test_set_overrides_settings_and_refuses_misspelt_ones(tmp_path, capsys, never_compute):
    """--set STEP.KEY=VALUE reaches report(settings=...); a step or setting the report does not have stops the
    command before computing, suggesting the closest name (a misspelt setting is never ignored in silence)."""
    from neurosuper.pipeline import check_settings, parse_settings

    assert parse_settings(["directions.max_units=512", "interpret.similarity=pixels"]) == {
        "directions": {"max_units": 512},
        "interpret": {"similarity": "pixels"},
    }
    assert parse_settings(["toy.model=linear"], pipeline.DEMO_STEPS) == {"toy": {"model": "linear"}}
    with pytest.raises(ns.errors.FormatError, match="step 'toy'"):  # a report on a user's data trains no toy
        parse_settings(["toy.model=linear"])
    brain, _ = _sets(20)
    ns.save(brain, tmp_path / "a.nc")
    base = ["report", str(tmp_path / "a.nc"), "--out", str(tmp_path / "r"), "--set"]
    err = _bad(base + ["directions.max_unit=64"], capsys)
    assert "found directions.max_unit" in err and "Fix: --set directions.max_units=64" in err
    err = _bad(base + ["spectra.n_boot=5"], capsys)
    assert "found step 'spectra'" in err and "Fix: --set spectrum.n_boot=5" in err
    err = _bad(base + ["n_boot=5"], capsys)
    assert "expected STEP.KEY=VALUE" in err
    assert not (tmp_path / "r").exists()
    with pytest.raises(ns.errors.FormatError, match="interpret.kk"):
        check_settings({"interpret": {"kk": 3}})


def test_a_step_refuses_a_setting_it_does_not_read(tmp_path):
    from neurosuper.pipeline import spectrum

    ctx = Context(
        out=tmp_path,
        data={"brain": _sets(20)[0]},
        set_names=("brain",),
        progress=False,
        settings={"spectrum": {"nboot": 5}},
    )
    with pytest.raises(AnalysisError, match="'nboot'.*n_boot"):
        run_steps(ctx, [spectrum.STEP])


def test_predictivity_headline_reads_against_zero_and_the_ceiling():
    pred = {
        "kind": "predictivity",
        "groupby": "layer",
        "best": "l1",
        "score": {"l1": 0.0134, "l2": 0.01},
        "ci": {"l1": [0.007, 0.019], "l2": [-0.002, 0.02]},
        "ceiling": [0.21, 0.46],
        "ceiling_kind": "split-half",
        "best_significant": True,
    }
    (line,) = headline({"compare": {"predictivity": pred}}, labels=["brain", "network"])
    assert line == (
        "A cross-validated ridge readout of l1, the best-predicting layer, predicts the other set's units "
        "with median r = 0.013 (95% CI 0.007–0.019); the noise ceiling (split-half) is 0.21–0.46, far "
        "above it: most of what the units reliably do, this model does not predict."
    )
    pred = {**pred, "best": "l2", "ceiling": None, "best_significant": False}
    (line,) = headline({"compare": {"predictivity": pred}}, labels=["brain", "network"])
    assert line.endswith("(95% CI -0.002–0.020, which includes 0).")
    assert "l2, the highest-scoring layer, not significantly above the next," in line and "best" not in line
