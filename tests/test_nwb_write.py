"""Writing NWB (sessions, ResponseSets, imaging) and reading it back; the simulator's truth; CLI and demo step."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from _nwb_helpers import add_units, brute_count, new_nwbfile, write

import neurosuper as ns
from neurosuper.io.nwb import load_nwb, save_nwb, simulate_session, write_imaging_session, write_session


def test_simulator_plants_known_rates_and_exact_counts():
    rates = np.array([[10.0, 40.0], [0.0, 20.0]])
    sim = simulate_session(
        n_units=2, n_stimuli=2, n_repeats=400, duration=0.5, gap=0.5, rates=rates, baseline_rate=4.0, seed=7
    )
    table = sim.presentations
    codes = np.searchsorted(sim.stimulus_ids, table.stimulus.to_numpy())
    for u, train in enumerate(sim.spike_times):  # planted counts, re-counted directly in [start, stop)
        a, b = table.start_time.to_numpy(), table.stop_time.to_numpy()
        direct = np.searchsorted(train, b) - np.searchsorted(train, a)
        np.testing.assert_array_equal(direct, sim.counts[table.repeat.to_numpy(), codes, u])
    mean = np.nanmean(sim.counts, axis=0)  # (stimulus, unit) ~ rate * duration, Poisson SE sqrt(lam / n)
    lam = rates * 0.5
    assert np.all(np.abs(mean - lam) <= 4 * np.sqrt(np.maximum(lam, 1e-9) / 400) + 1e-12)
    assert np.all(sim.counts[:, 1, 0] == 0)  # a 0 Hz stimulus gives no spike in its window
    outside = sim.n_spikes - np.nansum(sim.counts)
    expected = 4.0 * (1.0 + 0.5 * len(table)) * 2
    assert abs(outside - expected) < 4 * np.sqrt(expected)


def test_simulator_drop_gives_unequal_repeats_and_is_seeded():
    a = simulate_session(n_units=3, n_stimuli=5, n_repeats=4, drop=0.3, seed=1)
    b = simulate_session(n_units=3, n_stimuli=5, n_repeats=4, drop=0.3, seed=1)
    np.testing.assert_array_equal(a.counts, b.counts)
    n_rep = (~np.isnan(a.counts[:, :, 0])).sum(axis=0)
    np.testing.assert_array_equal(n_rep, [4, 4, 2, 3, 3])
    assert len(a.presentations) == 16
    with pytest.raises(ns.NWBLayoutError, match="rates"):
        simulate_session(n_units=2, n_stimuli=2, rates=np.ones((3, 2)))
    many = simulate_session(n_units=1, n_stimuli=1001, n_repeats=1, seed=0).stimulus_ids
    assert many[1000] == "img1000" and list(np.sort(many)) == list(many)  # sorted ids = stimulus order


def test_write_session_is_atomic_and_refuses_to_overwrite(tmp_path, monkeypatch):
    sim = simulate_session(n_units=2, n_stimuli=3, n_repeats=2, seed=0)
    path = sim.write(tmp_path / "s.nwb")
    with pytest.raises(ns.FormatError, match="existing file.*overwrite=True"):
        sim.write(path)
    before = path.read_bytes()

    import pynwb

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pynwb.NWBHDF5IO, "write", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        sim.write(path, overwrite=True)
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nwb"]  # no temporary left behind


def test_write_session_with_ids_rgb_images_and_no_stop_times(tmp_path):
    rng = np.random.default_rng(4)
    trains = {7: np.sort(rng.uniform(0, 20, 200)), 3: np.sort(rng.uniform(0, 20, 150))}
    onset = np.arange(1.0, 19.0, 1.5)
    stim = np.asarray(["b", "a", "c"] * 4)
    images = {s: rng.integers(0, 255, (4, 6, 3)).astype(np.uint8) for s in "abc"}
    path = write_session(tmp_path / "rgb.nwb", trains, {"start_time": onset, "stimulus": stim}, images)
    ds = load_nwb(path, window=(0.1, 0.6), progress=False)
    assert ds["unit"].values.tolist() == [7, 3] and list(ds["stimulus"].values) == ["a", "b", "c"]
    assert ds["stimuli"].dims == ("stimulus", "y", "x", "channel")
    np.testing.assert_array_equal(ds["stimuli"].values, np.stack([images[s] for s in "abc"]))
    for s, sid in enumerate("abc"):
        for r, t in enumerate(onset[stim == sid]):
            expected = [brute_count(trains[u], t + 0.1, t + 0.6) for u in (7, 3)]
            np.testing.assert_array_equal(ds["responses"].values[r, s], expected)
    with pytest.raises(ns.NWBLayoutError, match="without a stop time"):
        load_nwb(path, stimulus="presentations")
    with pytest.raises(ns.NWBLayoutError, match="2 images for 3 distinct stimulus ids"):
        write_session(tmp_path / "x.nwb", trains, {"start_time": onset, "stimulus": stim}, np.zeros((2, 3, 3)))


def _counts_set(rng, unit_ids):
    counts = rng.poisson(4.0, (3, 6, len(unit_ids))).astype(float)
    counts[2, [0, 4]] = np.nan  # stimuli 0 and 4 had 2 repeats only
    return ns.from_array(
        counts,
        system="brain",
        measure="spike_count",
        stimulus=np.arange(6) * 10,
        unit=unit_ids,
        stimuli=rng.random((6, 5, 7)),
        area=("unit", ["VISp", "VISl", "VISp", "VISl"]),
        label=("stimulus", list("uvwxyz")),
        attrs={"window": [0.05, 0.25], "subject_id": "mouse7", "species": "Mus musculus"},
    )


@pytest.mark.parametrize("unit_ids", [[11, 12, 13, 14], ["n1", "n2", "n3", "n4"]])
def test_save_nwb_round_trips_a_set_of_counts(tmp_path, unit_ids):
    ds = _counts_set(np.random.default_rng(9), unit_ids)
    path = save_nwb(ds, tmp_path / "set.nwb")
    back = load_nwb(path, stimulus="presentations", progress=False)
    np.testing.assert_array_equal(back["responses"].values, ds["responses"].values)
    np.testing.assert_array_equal(back["stimulus"].values, ds["stimulus"].values)
    np.testing.assert_allclose(back["stimuli"].values, ds["stimuli"].values)
    assert list(back["label"].values) == list("uvwxyz") and list(back["area"].values) == list(ds["area"].values)
    assert back.attrs["subject_id"] == "mouse7"
    if isinstance(unit_ids[0], str):
        assert list(back["unit_name"].values) == unit_ids and back["unit"].values.tolist() == [0, 1, 2, 3]
    else:
        assert back["unit"].values.tolist() == unit_ids
    # the IndexSeries route gives the same counts and integer ids (image names "0", "10", ...)
    via_images = load_nwb(path, window=(0.0, 0.2), progress=False)
    np.testing.assert_array_equal(via_images["stimulus"].values, ds["stimulus"].values)
    np.testing.assert_array_equal(via_images["responses"].values, ds["responses"].values)
    bare = save_nwb(ds, tmp_path / "bare.nwb", images=False)
    assert [c.kind for c in ns.nwb_sources(bare)] == ["TimeIntervals"]
    plain = load_nwb(bare, progress=False)
    assert "stimuli" not in plain
    np.testing.assert_array_equal(plain["responses"].values, ds["responses"].values)


def test_save_nwb_refuses_what_spike_trains_cannot_hold(tmp_path):
    rng = np.random.default_rng(0)
    rates = ns.from_array(rng.random((5, 3)), system="brain", measure="spike_rate")
    with pytest.raises(ns.NWBLayoutError, match="measure='spike_rate'"):
        save_nwb(rates, tmp_path / "r.nwb")
    frac = ns.from_array(rng.random((5, 3)), system="brain", measure="spike_count")
    with pytest.raises(ns.NWBLayoutError, match="non-integer"):
        save_nwb(frac, tmp_path / "f.nwb")
    psth = ns.from_array(np.ones((2, 5, 4, 3)), system="brain", measure="spike_count")
    with pytest.raises(ns.NWBLayoutError, match="'time'"):
        save_nwb(psth, tmp_path / "p.nwb")


def test_old_style_index_series_over_an_image_series(tmp_path):
    from pynwb.image import ImageSeries, IndexSeries

    nwbfile = new_nwbfile()
    train = np.linspace(0, 10, 100)
    add_units(nwbfile, [train])
    frames = np.random.default_rng(1).random((3, 4, 5))
    template = ImageSeries(name="frames", data=frames, unit="n.a.", rate=1.0, description="movie frames")
    nwbfile.add_stimulus_template(template)
    series = IndexSeries.__new__(IndexSeries, in_construct_mode=True)  # pynwb 4 only reads this layout (NWB <= 2.4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series.__init__(
            name="shown",
            data=np.array([0, 2, 1, 2, 0], dtype=np.uint32),
            indexed_timeseries=template,
            timestamps=np.arange(5) * 2.0 + 0.5,
            unit="N/A",
        )
    series._in_construct_mode = False
    nwbfile.add_stimulus(series)
    ds = load_nwb(write(nwbfile, tmp_path / "old.nwb"), window=(0.0, 1.3), progress=False)
    assert ds["stimulus"].values.tolist() == [0, 1, 2] and ds.attrs["stimulus_template"] == "frames"
    np.testing.assert_array_equal(ds["stimuli"].values, frames)
    onsets = {0: [0.5, 8.5], 1: [4.5], 2: [2.5, 6.5]}
    for s, ts in onsets.items():
        np.testing.assert_array_equal(
            ds["responses"].values[: len(ts), s, 0], [brute_count(train, t, t + 1.3) for t in ts]
        )


@pytest.fixture(scope="module")
def imaging(tmp_path_factory):
    rng = np.random.default_rng(6)
    rate, n_frames = 20.0, 1200
    traces = rng.normal(size=(n_frames, 5))
    start = np.arange(2.0, 56.0, 1.5)
    pres = {"start_time": start, "stop_time": start + 0.6, "stimulus": np.arange(start.size) % 4}
    rois = pd.DataFrame({"cell_type": ["pyr", "pv", "pyr", "sst", "pyr"], "snr": np.linspace(1, 5, 5)})
    folder = tmp_path_factory.mktemp("ophys")
    # frames at 0.5125 + k / 20 s never coincide with a window edge (multiples of 0.1 s)
    dff = write_imaging_session(folder / "dff.nwb", traces, pres, rate=rate, starting_time=0.5125, rois=rois)
    fluo = write_imaging_session(
        folder / "f.nwb", traces + 10, pres, rate=rate, starting_time=0.0125, kind="fluorescence"
    )
    return traces, 0.5125 + np.arange(n_frames) / rate, pres, dff, fluo


def test_imaging_means_per_window_and_bin(imaging):
    traces, t, pres, dff, _ = imaging
    ds = load_nwb(dff, measure="dff", progress=False)
    assert ds.attrs["measure"] == "dff" and ds.attrs["roi_series"] == "ophys/DfOverF/dff"
    assert ds["cell_type"].values.tolist() == ["pyr", "pv", "pyr", "sst", "pyr"]
    assert set(ds["area"].values) == {"VISp"} and ds["unit"].values.tolist() == [0, 1, 2, 3, 4]
    for i, (a, b) in enumerate(zip(pres["start_time"], pres["stop_time"], strict=True)):
        expected = traces[(t >= a) & (t < b)].mean(axis=0)
        np.testing.assert_allclose(ds["responses"].values[i // 4, i % 4], expected)
    binned = load_nwb(dff, measure="dff", window=(-0.2, 0.6), bin_size=0.2, progress=False)
    a = pres["start_time"][5]
    for k in range(4):
        lo, hi = a - 0.2 + 0.2 * k, a + 0.2 * k
        np.testing.assert_allclose(binned["responses"].values[1, 1, k], traces[(t >= lo) & (t < hi)].mean(axis=0))
    pyr = load_nwb(dff, measure="dff", units=lambda df: df.cell_type == "pyr", progress=False)
    np.testing.assert_allclose(pyr["responses"].values, ds["responses"].values[..., [0, 2, 4]])


def test_imaging_measure_chooses_the_container(imaging):
    traces, t, pres, dff, fluo = imaging
    ds = load_nwb(fluo, measure="fluorescence", progress=False)
    assert ds.attrs["measure"] == "fluorescence"
    tf = 0.0125 + np.arange(traces.shape[0]) / 20.0
    a, b = pres["start_time"][0], pres["stop_time"][0]
    np.testing.assert_allclose(ds["responses"].values[0, 0], traces[(tf >= a) & (tf < b)].mean(axis=0) + 10)
    with pytest.raises(ns.NWBLayoutError, match="no DfOverF RoiResponseSeries.*measure='fluorescence'"):
        load_nwb(fluo, measure="dff")
    with pytest.raises(ns.NWBLayoutError, match="no units table.*measure='dff'"):
        load_nwb(dff)
    with pytest.raises(ns.NWBLayoutError, match="roi_series='raw'"):
        load_nwb(dff, measure="dff", roi_series="raw")
    with pytest.raises(ns.NWBLayoutError, match="without any imaging frame"):
        load_nwb(dff, measure="dff", window=(0.0, 0.01))


def test_written_files_pass_nwbinspector_without_critical_issues(tmp_path, imaging):
    inspector = pytest.importorskip("nwbinspector")
    paths = [
        simulate_session(seed=0).write(tmp_path / "sim.nwb"),
        save_nwb(_counts_set(np.random.default_rng(1), [1, 2, 3, 4]), tmp_path / "set.nwb"),
        imaging[3],
    ]
    for path in paths:
        messages = list(inspector.inspect_nwbfile(nwbfile_path=str(path)))
        bad = [m for m in messages if m.importance.name in ("CRITICAL", "PYNWB_VALIDATION", "ERROR")]
        assert not bad, [(m.check_function_name, m.message) for m in bad]


@pytest.fixture
def cli_main(monkeypatch):
    """``neurosuper.cli.main`` with the ``nwb`` command registered (the lead adds it to COMMANDS)."""
    import neurosuper.cli as cli

    if "nwb" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + ("nwb",))
    return cli.main


def test_cli_lists_sources_and_converts(tmp_path, capsys, cli_main):
    main = cli_main
    sim = simulate_session(n_units=3, n_stimuli=4, n_repeats=2, seed=8)
    path = sim.write(tmp_path / "s.nwb")
    assert main(["nwb", str(path), "--sources", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in found] == ["presentations_index", "presentations"]
    out = tmp_path / "s.nc"
    assert main(["nwb", str(path), "--stimulus", "presentations:stimulus", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sizes"] == {"repeat": 2, "stimulus": 4, "unit": 3}
    np.testing.assert_array_equal(ns.load(out)["responses"].values, sim.counts)
    assert main(["nwb", str(path)]) == 2  # the IndexSeries has no stop times: window required
    assert "neurosuper: error:" in capsys.readouterr().err


def test_demo_step_round_trips_the_brain_through_nwb(tmp_path):
    from neurosuper.pipeline import Context, data, run_steps

    brain = _counts_set(np.random.default_rng(3), ["a", "b", "c", "d"])
    original = brain.copy(deep=True)
    ctx = Context(out=tmp_path, data={"brain_simulated": brain, "network": None}, progress=False)
    (result,) = run_steps(ctx, [data.NWB])
    assert result.status == "ran" and result.data and result.summary == ctx.summary["nwb"]
    assert (tmp_path / "demo_brain.nwb").is_file() and result.files == ["demo_brain.nwb"]
    assert ctx.summary["nwb"]["counts_identical"] is True and ctx.summary["nwb"]["images_in_file"] is True
    loaded = ctx.data["brain"]  # provided by the step, never replacing data
    assert loaded.attrs["loader"] == "neurosuper.load_nwb" and loaded.attrs["nwb_file"] == "demo_brain.nwb"
    np.testing.assert_array_equal(loaded["responses"].values, brain["responses"].values)
    assert loaded["unit"].values.tolist() == ["a", "b", "c", "d"] and "stimuli" in loaded
    assert ctx.summary["nwb"]["n_spikes"] == int(np.nansum(brain["responses"].values))
    assert ctx.data["brain_simulated"].identical(original)  # the simulated set is left as it was
