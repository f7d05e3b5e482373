"""``neurosuper cohort`` (issue 21 §2): the report of a cohort — the per-session table with failed sessions and their
reasons, per-subject results, the inter-animal ceilings and a network's layers next to them — from a saved cohort
and from NWB files written by ``write_session`` (loaded by ``load_cohort``), with ``--strict`` stopping instead."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import neurosuper as ns
from neurosuper.cli import main
from neurosuper.io.nwb import simulate_session, write_session

sys.path.insert(0, str(Path(__file__).parent))
from test_cohort_analyses import _layer, shared_signal_cohort  # noqa: E402

QUICK = ["--skip", "interpret", "directions", "capacity", "--quiet"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A saved 4-subject cohort (one failed session recorded as load_cohort does) and a network with a layer built
    from the shared signal and a random layer."""
    root = tmp_path_factory.mktemp("saved")
    cohort, latent = shared_signal_cohort(1.0, n_units=30, n_stim=150)
    cohort.attrs["failed_sessions"] = [{"session": "mouse9-1", "path": "mouse9-1.nwb", "reason": "no such file"}]
    rng = np.random.default_rng(5)
    net = ns.concat(
        [
            _layer(latent @ rng.standard_normal((3, 20)), cohort.stimulus.values, "signal"),
            _layer(rng.standard_normal((150, 20)), cohort.stimulus.values, "random"),
        ],
        name="model",
    )
    ns.save(cohort, root / "cohort.nc")
    ns.save(net, root / "net.nc")
    return root, cohort, net


def test_saved_cohort_report_has_sessions_ceilings_and_layers(saved, tmp_path, capsys):
    root, cohort, _ = saved
    out = tmp_path / "report"
    args = ["cohort", str(root / "cohort.nc"), "--network", str(root / "net.nc"), "--out", str(out)]
    code = main([*args, *QUICK[:-1], "compare", "--quiet"])  # the pooled comparison is the report's (tested there)
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert (out / "report.html").is_file() and (out / "cohort_profile_rsa.png").is_file()
    assert "mouse9-1 |  | 0 | 0 | failed: no such file" in printed
    block = json.loads((out / "summary.json").read_text())["cohort"]
    assert block["n_sessions"] == 4 and block["n_failed"] == 1 and block["n_subjects"] == 4
    assert [r["session"] for r in block["sessions"]] == ["mouse1-1", "mouse2-1", "mouse3-1", "mouse4-1", "mouse9-1"]
    assert block["sessions"][-1]["reason"] == "no such file"
    # the ceilings are the library's, with the step's settings (5 folds)
    for kind in ("rsa", "predictivity"):
        ia = ns.compare.inter_animal(cohort, kind=kind, n_splits=5, progress=False)
        row = next(r for r in block["inter_animal"] if r["kind"] == kind)
        assert row["value"] == pytest.approx(float(ia["value"]), abs=1e-4)
        assert row["ci_lower"] == pytest.approx(float(ia["ci"][0]), abs=1e-4)
        assert row["best_layer"] == "signal"
        assert block["subjects"]["mouse2"][f"inter_animal_{kind}"] == pytest.approx(
            float(ia["subject_value"].sel(subject="mouse2")), abs=1e-4
        )
        layers = {r["layer"]: r for r in block["layers_vs_ceiling"] if r["kind"] == kind}
        assert 0.85 < layers["signal"]["normalized"] < 1.2
        assert abs(layers["random"]["normalized"]) < 0.2
    assert any("of the inter-animal consistency" in line for line in printed.splitlines())
    html = (out / "report.html").read_text()
    assert "Cohort: sessions, subjects and the inter-animal ceiling" in html and "mouse9-1" in html


def test_a_set_without_subjects_fails_the_cohort_step_with_the_fix(saved, tmp_path, capsys):
    root, cohort, _ = saved
    plain = cohort.drop_vars(["subject", "session"])
    plain.attrs.pop("failed_sessions")
    ns.save(plain, tmp_path / "plain.nc")
    code = main(["cohort", str(tmp_path / "plain.nc"), "--out", str(tmp_path / "r"), *QUICK])
    printed = capsys.readouterr().out
    assert code == 0
    assert "failed cohort: no analysed set has 'session' or 'subject' unit coords" in printed
    assert "load_cohort" in printed


def test_one_subject_says_the_ceiling_needs_two(saved, tmp_path, capsys):
    root, cohort, _ = saved
    one = cohort.isel(unit=cohort["subject"].values == "mouse1")
    ns.save(one, tmp_path / "one.nc")
    assert main(["cohort", str(tmp_path / "one.nc"), "--out", str(tmp_path / "r"), *QUICK]) == 0
    block = json.loads((tmp_path / "r" / "summary.json").read_text())["cohort"]
    assert "at least 2" in block["inter_animal_skipped"] and block["inter_animal"] == []


def test_bad_flags_exit_2_before_loading(saved, tmp_path, capsys):
    root, _, _ = saved
    cohort = str(root / "cohort.nc")
    with pytest.raises(SystemExit) as exc:  # argparse: one of the two
        main(["cohort", cohort, "--out", str(tmp_path / "a"), "--scheduler", "tcp://x:1", "--workers", "2"])
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err
    assert main(["cohort", cohort, "--out", str(tmp_path / "b"), "--window", "0", "0.2"]) == 2
    assert "saved cohort" in capsys.readouterr().err
    assert main(["cohort", cohort, "--out", str(tmp_path / "c"), "--skip", "spectra"]) == 2
    assert main(["cohort", cohort, "--out", str(tmp_path / "d"), "--set", "cohort.n_splits=1"]) == 2
    assert "cohort.n_splits" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["cohort", cohort, "--out", str(tmp_path / "file")]) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "d").exists()


# ----------------------------------------------------------------------------------------- NWB sessions
N_STIM, N_UNITS = 60, 20


@pytest.fixture(scope="module")
def nwb_cohort(tmp_path_factory):
    """Four mice, one session each, shown the same 60 images; their rates share a 3-dim stimulus signal (Poisson
    spike counts in 0.2 s windows, 3 repeats); plus a truncated file."""
    root = tmp_path_factory.mktemp("nwb")
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((N_STIM, 3))
    images = rng.random((N_STIM, 6, 6))
    paths = []
    for m in range(4):
        w = rng.standard_normal((3, N_UNITS))
        rates = np.clip(20 + 12 * latent @ w / np.linalg.norm(w, axis=0), 0, None)
        sim = simulate_session(n_units=N_UNITS, n_stimuli=N_STIM, n_repeats=3, rates=rates, seed=m)
        path = root / f"mouse{m + 1}_s1.nwb"
        write_session(
            path, sim.spike_times, sim.presentations, images, units=sim.units, subject={"subject_id": f"mouse{m + 1}"}
        )
        paths.append(path)
    corrupt = root / "broken.nwb"
    corrupt.write_bytes(paths[0].read_bytes()[:4000])
    return paths, corrupt


LOADER = ["--stimulus", "presentations_index", "--window", "0", "0.2"]


def test_nwb_sessions_with_a_corrupt_one(nwb_cohort, tmp_path, capsys):
    paths, corrupt = nwb_cohort
    out = tmp_path / "r"
    sources = [str(p) for p in paths[:2]] + [str(corrupt)] + [str(p) for p in paths[2:]]
    code = main(["cohort", *sources, "--out", str(out), "--workers", "0", *LOADER, *QUICK])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "skipped session 'broken'" in captured.err
    block = json.loads((out / "summary.json").read_text())["cohort"]
    assert block["n_sessions"] == 4 and block["n_failed"] == 1
    rows = {r["session"]: r for r in block["sessions"]}
    assert rows["broken"]["status"] == "failed" and "corrupted" in rows["broken"]["reason"]
    assert rows["mouse3_s1"] == {
        "session": "mouse3_s1",
        "subject": "mouse3",
        "units": N_UNITS,
        "stimuli": N_STIM,
        "status": "loaded",
        "reason": "",
        "alpha": rows["mouse3_s1"]["alpha"],
        "signal_fraction": rows["mouse3_s1"]["signal_fraction"],
    }
    assert 0.3 < rows["mouse3_s1"]["signal_fraction"] < 1  # 3 repeats of tuned Poisson neurons
    assert 0.3 < block["subjects"]["mouse2"]["signal_fraction"] < 1
    # the same numbers as the library on the same cohort
    cohort = ns.load_cohort(paths, client=False, stimulus="presentations_index", window=(0, 0.2), progress=False)
    ia = ns.compare.inter_animal(cohort, kind="predictivity", groupby="area", n_splits=5, progress=False)
    rows = {r["area"]: r for r in block["inter_animal"] if r["kind"] == "predictivity"}
    assert sorted(rows) == ["VISl", "VISp"]  # simulate_session's two areas: one ceiling each
    for area in ("VISp", "VISl"):
        assert rows[area]["value"] == pytest.approx(float(ia["value"].sel(area=area)), abs=1e-4)
        assert rows[area]["value"] > 0.3


def test_strict_stops_at_the_corrupt_session(nwb_cohort, tmp_path, capsys):
    paths, corrupt = nwb_cohort
    out = tmp_path / "r"
    code = main(["cohort", str(paths[0]), str(corrupt), "--out", str(out), "--workers", "0", "--strict", *LOADER])
    assert code == 2
    assert "broken" in capsys.readouterr().err
    assert not (out / "report.html").exists()


@pytest.mark.slow
def test_a_local_cluster_and_a_scheduler_give_the_sequential_report(nwb_cohort, tmp_path, capsys):
    import distributed

    paths, _ = nwb_cohort
    blocks = []
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        runs = {"w0": ["--workers", "0"], "w2": ["--workers", "2"], "sched": ["--scheduler", cluster.scheduler_address]}
        for name, where in runs.items():
            out = tmp_path / name
            assert main(["cohort", *map(str, paths), "--out", str(out), *where, *LOADER, *QUICK]) == 0
            blocks.append(json.loads((out / "summary.json").read_text())["cohort"])
    for key in ("sessions", "subjects", "inter_animal"):
        assert blocks[0][key] == blocks[1][key] == blocks[2][key]
