"""Loading a cohort (issue 21 §1, §3): many NWB sessions, local or streamed over HTTP, into one ResponseSet.

Truth: every session is simulated with known planted spike counts (``simulate_session``), so the pooled set must
hold exactly those counts, per session, in the order of the sources — whichever way the sessions were loaded (one
after the other, on a LocalCluster, with a worker killed mid-run) and wherever they were read from (a local file, a
local HTTP server with Range requests that counts the bytes it sends).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper.errors import FormatError, NeurosuperWarning
from neurosuper.io.cohort import SessionLoadError, load_cohort, session_specs
from neurosuper.io.nwb import simulate_session, write_session
from neurosuper.io.remote import RemoteReadError, resolve_url

sys.path.insert(0, str(Path(__file__).parent))
from _range_server import RangeServer  # noqa: E402

WINDOW = (0.0, 0.2)
OPTION = {"stimulus": "presentations_index"}  # the IndexSeries every good session has
N_STIM = 8


def _write(
    path: Path, seed: int, subject: str, *, n_units: int = 6, images=None, keep=None, rename=None, name="presentations"
) -> dict:
    """Write a simulated session; return its planted counts ``(repeat, stimulus, unit)`` and images."""
    sim = simulate_session(n_units=n_units, n_stimuli=N_STIM, n_repeats=3, seed=seed)
    table = sim.presentations
    ids = sim.stimulus_ids
    counts = sim.counts
    imgs = sim.images if images is None else images
    if keep is not None:  # only these stimuli shown
        table = table[table.stimulus.isin(ids[keep])].reset_index(drop=True)
        counts, imgs, ids = counts[:, keep], imgs[keep], ids[keep]
    if rename is not None:
        table = table.assign(stimulus=[rename + s for s in table.stimulus])
        ids = np.asarray([rename + s for s in ids])
    write_session(path, sim.spike_times, table, imgs, units=sim.units, subject={"subject_id": subject}, name=name)
    return {"counts": counts, "ids": ids, "units": sim.unit_ids, "images": imgs}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Four sessions of two mice, all shown the same 8 images (same pixels under each id)."""
    root = tmp_path_factory.mktemp("cohort")
    images = simulate_session(n_stimuli=N_STIM, seed=99).images
    truth = {}
    for i in range(4):
        name = f"m{i // 2}_s{i}"
        truth[name] = _write(root / f"{name}.nwb", seed=i, subject=f"mouse{i // 2}", images=images)
    return root, truth, images


def _expected(truth: dict, names: list[str]) -> np.ndarray:
    return np.concatenate([truth[n]["counts"] for n in names], axis=-1)


def test_a_cohort_pools_the_planted_counts_with_session_and_subject(cohort):
    root, truth, images = cohort
    ds = load_cohort(str(root / "*.nwb"), client=False, window=WINDOW, progress=False)
    names = sorted(truth)
    ns.validate(ds, check_values=True)
    assert ds["responses"].dims == ("repeat", "stimulus", "unit")
    np.testing.assert_array_equal(ds["responses"].values, _expected(truth, names))
    assert ds["unit"].values.tolist() == [f"{n}/{u}" for n in names for u in truth[n]["units"].tolist()]
    assert ds["session"].values.tolist() == [n for n in names for _ in truth[n]["units"]]
    assert ds["subject"].values.tolist() == [f"mouse{n[1]}" for n in names for _ in truth[n]["units"]]
    assert ds["unit_id"].values.tolist() == [u for n in names for u in truth[n]["units"].tolist()]
    np.testing.assert_array_equal(ds["stimuli"].values, images)
    assert "onset" not in ds and "n_repeats" not in ds.coords
    assert ds.attrs["failed_sessions"] == [] and ds.attrs["n_sessions"] == 4
    for entry, name in zip(ds.attrs["sessions"], names, strict=True):
        path = root / f"{name}.nwb"
        assert entry["session"] == name and entry["path"] == str(path.resolve())
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["n_units"] == 6
    assert [i["sha256"] for i in ds.attrs["inputs"]] == [s["sha256"] for s in ds.attrs["sessions"]]
    # the pooled set round-trips (attrs JSON-safe)
    ns.save(ds, root.parent / "pooled.nc", overwrite=True)
    back = ns.load(root.parent / "pooled.nc")
    assert back.attrs["sessions"] == ds.attrs["sessions"] and back.attrs["failed_sessions"] == []


def test_a_list_of_paths_keeps_its_order_and_the_public_name(cohort):
    root, truth, _ = cohort
    names = ["m1_s3", "m0_s0"]
    ds = ns.load_cohort([root / f"{n}.nwb" for n in names], client=False, window=WINDOW, progress=False)
    np.testing.assert_array_equal(ds["responses"].values, _expected(truth, names))
    assert list(dict.fromkeys(ds["session"].values.tolist())) == names


def test_a_manifest_gives_labels_options_and_extra_columns(cohort, tmp_path):
    root, truth, _ = cohort
    manifest = tmp_path / "cohort.tsv"
    rows = ["path\tsubject\tsession\twindow\tgenotype"]
    rows.append(f"{root / 'm0_s0.nwb'}\tA\tday1\t\twt")
    rows.append(f"{os.path.relpath(root / 'm0_s1.nwb', tmp_path)}\tB\tday2\t0,0.1\tko")
    manifest.write_text("\n".join(rows) + "\n")
    ds = load_cohort(str(manifest), client=False, window=WINDOW, progress=False)
    assert list(dict.fromkeys(ds["session"].values.tolist())) == ["day1", "day2"]
    assert sorted(set(ds["subject"].values.tolist())) == ["A", "B"]
    assert ds["genotype"].values.tolist() == ["wt"] * 6 + ["ko"] * 6
    np.testing.assert_array_equal(ds["responses"].sel(unit=ds.session == "day1").values, truth["m0_s0"]["counts"])
    short = ns.load_nwb(root / "m0_s1.nwb", window=(0.0, 0.1), progress=False)  # the row's own window
    np.testing.assert_array_equal(
        ds["responses"].sel(unit=ds.session == "day2").values, short["responses"].transpose(*ds["responses"].dims)
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("file,subject\nx.nwb,A\n")
    with pytest.raises(FormatError, match="expected a 'path' column"):
        load_cohort(str(bad), client=False)


def test_sources_that_name_nothing_are_refused(tmp_path):
    with pytest.raises(FormatError, match="glob matching no file"):
        session_specs(str(tmp_path / "*.nwb"))
    with pytest.raises(FormatError, match="empty list"):
        session_specs([])
    specs = session_specs([tmp_path / "a" / "s.nwb", tmp_path / "b" / "s.nwb", "https://h.org/dandi/x.nwb?v=1"])
    assert [s.session for s in specs] == ["s#0", "s#1", "x"]


def test_stimuli_not_shown_everywhere_are_dropped_with_a_count(cohort, tmp_path):
    root, truth, images = cohort
    part = _write(tmp_path / "partial.nwb", seed=7, subject="mouse9", images=images, keep=np.arange(5))
    with pytest.warns(NeurosuperWarning, match=r"kept the 5 stimuli shown in every session; dropped 3 .*m0_s0 3"):
        ds = load_cohort([root / "m0_s0.nwb", tmp_path / "partial.nwb"], client=False, window=WINDOW, progress=False)
    assert ds["stimulus"].values.tolist() == part["ids"].tolist()
    np.testing.assert_array_equal(ds["responses"].values[..., :6], truth["m0_s0"]["counts"][:, :5])
    np.testing.assert_array_equal(ds["responses"].values[..., 6:], part["counts"])


def test_sessions_disagreeing_about_an_image_warn_and_keep_the_first(cohort, tmp_path):
    root, _, images = cohort
    other = images.copy()
    other[2] = 1.0 - other[2]
    _write(tmp_path / "odd.nwb", seed=5, subject="mouse9", images=other)
    with pytest.warns(
        NeurosuperWarning, match=r"disagrees with session 'm0_s0' about 'stimuli' of 1 stimuli \('img002'"
    ):
        ds = load_cohort([root / "m0_s0.nwb", tmp_path / "odd.nwb"], client=False, window=WINDOW, progress=False)
    np.testing.assert_array_equal(ds["stimuli"].values, images)


@pytest.fixture(scope="module")
def faulty(cohort, tmp_path_factory):
    """Two good sessions, a corrupt file, a missing file, a session whose stimuli match none of the others and
    one without the stimulus source asked for (``stimulus=OPTION``)."""
    root, truth, images = cohort
    where = tmp_path_factory.mktemp("faults")
    good = [root / "m0_s0.nwb", root / "m1_s2.nwb"]
    corrupt = where / "corrupt.nwb"
    corrupt.write_bytes(good[0].read_bytes()[:4000])  # truncated: an HDF5 signature, then nothing
    _write(where / "other_stimuli.nwb", seed=3, subject="mouse5", images=images, rename="x")
    _write(where / "no_source.nwb", seed=4, subject="mouse6", images=images, name="gratings")
    sources = [good[0], corrupt, where / "missing.nwb", where / "other_stimuli.nwb", where / "no_source.nwb", good[1]]
    return sources, truth


def test_sessions_that_fail_are_skipped_with_their_reason(faulty):
    sources, truth = faulty
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_cohort(sources, client=False, window=WINDOW, progress=False, **OPTION)
    np.testing.assert_array_equal(ds["responses"].values, _expected(truth, ["m0_s0", "m1_s2"]))
    failed = {f["session"]: f for f in ds.attrs["failed_sessions"]}
    assert sorted(failed) == ["corrupt", "missing", "no_source", "other_stimuli"]
    assert "truncated or corrupted" in failed["corrupt"]["reason"]
    assert "no such file" in failed["missing"]["reason"]
    assert "no stimulus id in common" in failed["other_stimuli"]["reason"]
    assert "presentations_index" in failed["no_source"]["reason"]
    assert failed["missing"]["path"] == str(sources[2])
    skipped = [str(w.message) for w in caught if "skipped session" in str(w.message)]
    assert len(skipped) == 4 and all(issubclass(w.category, NeurosuperWarning) for w in caught)
    assert ds.attrs["n_sessions"] == 2


@pytest.mark.parametrize("index", [1, 2, 3, 4])
def test_strict_raises_naming_the_session(faulty, index):
    sources, _ = faulty
    name = Path(sources[index]).stem
    with pytest.raises(SessionLoadError, match=rf"(?s)session '{name}'.*strict=True"):
        load_cohort(sources[:1] + [sources[index]], client=False, strict=True, window=WINDOW, progress=False, **OPTION)


def test_no_session_loading_is_an_error(tmp_path):
    with pytest.raises(SessionLoadError, match="no session that loads"):
        load_cohort([tmp_path / "a.nwb", tmp_path / "b.nwb"], client=False, progress=False)


# ------------------------------------------------------------------------------------------------ remote files
@pytest.fixture(scope="module")
def big_session(tmp_path_factory):
    """A 600-unit session (~25 MB, spike times 94% of it) served by a local Range server."""
    root = tmp_path_factory.mktemp("served")
    sim = simulate_session(n_units=600, n_stimuli=50, n_repeats=20, seed=1)
    sim.write(root / "big.nwb")
    return root, root / "big.nwb"


def test_a_url_streams_only_what_a_subset_of_units_needs(big_session):
    root, path = big_session
    size = path.stat().st_size
    local = ns.load_nwb(path, window=WINDOW, progress=False)
    with RangeServer(root) as server:
        subset = ns.load_nwb(server.url("big.nwb"), window=WINDOW, units=list(range(1, 11)), progress=False)
        part = server.bytes_served
        server.reset()
        whole = ns.load_nwb(server.url("big.nwb"), window=WINDOW, progress=False)
        everything = server.bytes_served
    xr.testing.assert_equal(subset["responses"], local["responses"].isel(unit=slice(0, 10)))
    xr.testing.assert_equal(whole["responses"], local["responses"])
    assert part < 0.35 * size, (part, size)  # 10 of 600 units: metadata and a few blocks, not the file
    assert everything <= size * 1.01  # the block cache never fetches a byte twice
    assert subset.attrs["source"] == server.url("big.nwb")


def test_a_cohort_of_urls_equals_the_local_cohort(cohort):
    root, truth, _ = cohort
    names = sorted(truth)
    with RangeServer(root) as server:
        ds = load_cohort([server.url(f"{n}.nwb") for n in names], client=False, window=WINDOW, progress=False)
    np.testing.assert_array_equal(ds["responses"].values, _expected(truth, names))
    entry = ds.attrs["sessions"][0]
    assert entry["path"] == server.url("m0_s0.nwb") and entry["sha256"] is None
    assert entry["size"] == (root / "m0_s0.nwb").stat().st_size


def test_a_missing_url_and_a_dropped_connection_are_clear_errors(big_session):
    root, path = big_session
    with RangeServer(root) as server:
        with pytest.raises(FormatError, match=r"found no such file \(HTTP 404\)"):
            ns.load_nwb(server.url("nope.nwb"), window=WINDOW)
    with RangeServer(root, drop_after=path.stat().st_size // 4) as server:  # opens, then drops mid-read
        with pytest.raises(RemoteReadError, match=r"the connection failed while reading bytes \d+\.\.\d+") as err:
            ns.load_nwb(server.url("big.nwb"), window=WINDOW, progress=False)
    assert "Fix: retry" in str(err.value) and isinstance(err.value, OSError)
    with RangeServer(root, ranges=False) as server:
        with pytest.raises(FormatError, match="ignores HTTP Range requests.*Fix: download it first"):
            ns.load_nwb(server.url("big.nwb"), window=WINDOW, progress=False)
    with RangeServer(root) as server:  # a server that is gone: not a 404, a connection that cannot be made
        url = server.url("big.nwb")
    with pytest.raises(RemoteReadError, match="could not connect to the server") as err:
        ns.load_nwb(url, window=WINDOW, progress=False)
    assert "404" not in str(err.value) and "check the host and port" in str(err.value)


def test_s3_urls_read_a_public_bucket_over_https(cohort, monkeypatch):
    root, truth, _ = cohort
    monkeypatch.setattr("neurosuper.io.remote._have_s3fs", lambda: False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert resolve_url("s3://dandiarchive/blobs/abc") == "https://dandiarchive.s3.amazonaws.com/blobs/abc"
    with RangeServer(root.parent) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url().rstrip("/"))
        ds = ns.load_nwb(f"s3://{root.name}/m0_s0.nwb", window=WINDOW, progress=False)
    np.testing.assert_array_equal(ds["responses"].values, truth["m0_s0"]["counts"])


# ------------------------------------------------------------------------------------------------ dask
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


class KillOnce:
    """A ``units=`` callable that SIGKILLs the worker process running it the first time (a marker file says it
    happened), and keeps every unit."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self, meta):
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return np.ones(len(meta), dtype=bool)
        os.kill(os.getpid(), signal.SIGKILL)  # mid-task: this session's load dies with its worker
        return None  # pragma: no cover


@pytest.mark.slow
def test_a_local_cluster_gives_the_sequential_result(cohort, client):
    root, truth, _ = cohort
    sources = str(root / "*.nwb")
    seq = load_cohort(sources, client=False, window=WINDOW, progress=False)
    par = load_cohort(sources, client=client, window=WINDOW, progress=False)
    xr.testing.assert_identical(par, seq)
    assert par.attrs == seq.attrs


@pytest.mark.slow
def test_a_worker_killed_mid_run_does_not_change_the_result(cohort, client, tmp_path):
    import cloudpickle

    root, truth, _ = cohort
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    marker = tmp_path / "killed"
    before = set(client.run(os.getpid).values())
    try:
        par = load_cohort(
            str(root / "*.nwb"), client=client, window=WINDOW, units=KillOnce(str(marker)), progress=False
        )
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert marker.exists()  # a worker did die loading a session
    client.wait_for_workers(2, timeout=60)
    after = set(client.run(os.getpid).values())
    assert before - after, "the killed worker's process is gone (its nanny started a new one)"
    seq = load_cohort(str(root / "*.nwb"), client=False, window=WINDOW, progress=False)
    xr.testing.assert_identical(par, seq)
    assert par.attrs["failed_sessions"] == []
