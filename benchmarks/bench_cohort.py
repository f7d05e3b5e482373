"""Loading a cohort on dask.distributed (issue 21 §3): sequential vs a LocalCluster vs a real scheduler + workers.

The cohort: 4 subjects x 8 sessions = 32 NWB files written by ``simulate_session`` + ``write_session`` (200 units,
100 stimuli x 50 repeats = 5,000 presentations each; ~43 MB and ~5 million spikes per file), cached in
``--workdir`` between runs. Three ways to load it with ``neurosuper.load_cohort(..., window=(0, 0.2))``:

1. ``client=False``: one session after the other in this process (the sequential loop);
2. a ``LocalCluster`` of 2 worker processes x 1 thread (``client=cluster_client``);
3. a real ``dask scheduler`` and 2 ``dask worker`` processes started here on 127.0.0.1 as subprocesses (always
   terminated in a ``finally``), reached through their scheduler file.

Each way is warmed up first (the loader's imports in every process: pynwb's type map) and then timed from the call
to the pooled set, in ``--rounds`` interleaved rounds (sequential, LocalCluster, real cluster, again...) so that a
drifting machine load hits every way alike; the best round of each is compared, every round is reported, and dask's
task stream gives each task's compute time on its worker, and the CPU seconds the loading processes used (this
process; the workers) tell a busy machine (less CPU per second of wall time) from overhead (more CPU). The three
sets must be identical (max |difference| of the responses <= 1e-12, and ``xarray.testing.assert_identical``). Peak
memory per worker is each worker process's peak RSS (``VmHWM``, reset after the warm-up) after the runs, set
against the largest session (its file and its loaded set). The paper-scale figure (58 sessions x 3 GB on N workers)
is a projection from the measured cost per byte of NWB file, not a measurement.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_cohort.py [--sessions-per-subject 8] [--units 200] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WINDOW = (0.0, 0.2)


def write_cohort(root: Path, subjects: int, per_subject: int, units: int, stimuli: int, repeats: int) -> list[Path]:
    from neurosuper.io.nwb import simulate_session, write_session

    root.mkdir(parents=True, exist_ok=True)
    images = simulate_session(n_stimuli=stimuli, n_units=1, n_repeats=1, seed=10_000, image_shape=(8, 8)).images
    paths = []
    for s in range(subjects):
        for k in range(per_subject):
            path = root / f"sub-{s}_ses-{k}.nwb"
            paths.append(path)
            if path.exists():
                continue
            sim = simulate_session(n_units=units, n_stimuli=stimuli, n_repeats=repeats, seed=100 * s + k)
            write_session(
                path,
                sim.spike_times,
                sim.presentations,
                images,
                units=sim.units,
                subject={"subject_id": f"mouse{s}"},
                session_id=f"sub-{s}_ses-{k}",
            )
    return paths


def _warm() -> float:
    """Import the loader, then reset this process's peak-RSS mark; returns the RSS now (MB)."""
    import pynwb  # noqa: F401

    import neurosuper.io.nwb  # noqa: F401

    with open("/proc/self/clear_refs", "w") as fh:  # Linux: "5" resets VmHWM to the current RSS
        fh.write("5")
    return _status_mb("VmRSS")


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    """Peak RSS (MB) since the last :func:`_warm` (VmHWM)."""
    return _status_mb("VmHWM")


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _task_seconds(stream: list[dict]) -> list[float]:
    """Compute time of each load task on its worker, from dask's task stream."""
    out = []
    for task in stream:
        if "_load_one" in str(task.get("key", "")) or "neurosuper-session" in str(task.get("key", "")):
            out += [s["stop"] - s["start"] for s in task.get("startstops", ()) if s.get("action") == "compute"]
    return out


def timed(label: str, fn, results: dict) -> object:
    t0 = time.perf_counter()
    out = fn()
    results[label] = time.perf_counter() - t0
    print(f"{label}: {results[label]:.1f} s", flush=True)
    return out


def start_real_cluster(workdir: Path, n_workers: int) -> tuple[list[subprocess.Popen], Path]:
    sched_file = workdir / "scheduler.json"
    sched_file.unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log = open(workdir / "dask.log", "w")  # noqa: SIM115 - closed with the processes
    procs = [
        subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
             str(sched_file)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    ]  # fmt: skip
    deadline = time.time() + 120
    while not sched_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    for _ in range(n_workers):
        procs.append(
            subprocess.Popen(
                ["dask", "worker", "--scheduler-file", str(sched_file), "--host", "127.0.0.1", "--nthreads", "1",
                 "--nworkers", "1", "--no-dashboard"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        )  # fmt: skip
    return procs, sched_file


def stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in reversed(procs):
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--sessions-per-subject", type=int, default=8)
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--stimuli", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "neurosuper_bench_cohort"))
    args = ap.parse_args()

    import distributed
    import xarray as xr

    import neurosuper as ns

    workdir = Path(args.workdir)
    shape = (args.subjects, args.sessions_per_subject, args.units, args.stimuli, args.repeats)
    root = workdir / "x".join(map(str, shape))
    results: dict[str, float] = {}
    paths = timed(
        "write cohort (or reuse)",
        lambda: write_cohort(root, args.subjects, args.sessions_per_subject, args.units, args.stimuli, args.repeats),
        results,
    )
    sizes = [p.stat().st_size for p in paths]
    sources = [str(p) for p in paths]
    opts = {"window": WINDOW, "progress": False}

    ns.load_nwb(paths[0], window=WINDOW, progress=False)  # warm-up: imports, pynwb type maps
    rss0 = _warm()
    runs: dict[str, list[float]] = {"sequential": [], "LocalCluster": [], "dask scheduler": []}
    task_s: dict[str, list[float]] = {"LocalCluster": [], "dask scheduler": []}
    cpu: dict[str, list[float]] = {k: [] for k in runs}  # CPU seconds of the loading processes per run
    sets: dict[str, object] = {}
    worker_rss: dict[str, list[float]] = {}
    procs: list[subprocess.Popen] = []
    try:
        t0 = time.perf_counter()
        cluster = distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        local_client = distributed.Client(cluster)
        local_client.wait_for_workers(args.workers)
        worker_base = {"LocalCluster": sorted(local_client.run(_warm).values())}
        results["LocalCluster start + warm-up"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        procs, sched_file = start_real_cluster(workdir, args.workers)
        real_client = distributed.Client(scheduler_file=str(sched_file), timeout="120s")
        real_client.wait_for_workers(args.workers, timeout=180)
        worker_base["dask scheduler"] = sorted(real_client.run(_warm).values())
        results["dask scheduler + workers start + warm-up"] = time.perf_counter() - t0
        clients = {"LocalCluster": local_client, "dask scheduler": real_client}
        for r in range(args.rounds):  # interleaved: the machine's load drifts, every way sees the same drift
            for name in runs:
                t0 = time.perf_counter()
                if name == "sequential":
                    c0 = _cpu_s()
                    sets[name] = ns.load_cohort(sources, client=False, **opts)
                    cpu[name].append(_cpu_s() - c0)
                else:
                    c0 = sum(clients[name].run(_cpu_s).values())
                    with distributed.get_task_stream(clients[name]) as ts:
                        sets[name] = ns.load_cohort(sources, client=clients[name], **opts)
                    task_s[name] += _task_seconds(ts.data)
                    cpu[name].append(sum(clients[name].run(_cpu_s).values()) - c0)
                runs[name].append(time.perf_counter() - t0)
                print(f"round {r}: {name}: {runs[name][-1]:.1f} s", flush=True)
        seq_peak = _peak_rss_mb()
        for name, c in clients.items():
            worker_rss[name] = sorted(c.run(_peak_rss_mb).values())
        real_client.close()
        local_client.close()
        cluster.close()
    finally:
        stop(procs)
    seq, local, real = sets["sequential"], sets["LocalCluster"], sets["dask scheduler"]
    diffs = {}
    for name, other in (("LocalCluster", local), ("dask scheduler", real)):
        diffs[name] = float(np.nanmax(np.abs(other["responses"].values - seq["responses"].values)))
        assert diffs[name] <= 1e-12, (name, diffs[name])
        xr.testing.assert_identical(other, seq)
        assert other.attrs == seq.attrs
    largest = int(np.argmax(sizes))
    one = ns.load_nwb(paths[largest], window=WINDOW, progress=False)
    best = {k: min(v) for k, v in runs.items()}
    t_seq = best["sequential"]
    per_session = t_seq / len(paths)
    per_gb = t_seq / (sum(sizes) / 1e9)
    report = {
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, load average {os.getloadavg()}",
        "cohort": {
            "sessions": len(paths),
            "units_per_session": args.units,
            "presentations_per_session": args.stimuli * args.repeats,
            "file_MB_mean": float(np.mean(sizes) / 1e6),
            "file_MB_largest": sizes[largest] / 1e6,
            "loaded_set_MB_largest_session": one["responses"].nbytes / 1e6,
            "pooled_set_MB": seq["responses"].nbytes / 1e6,
            "pooled_shape": dict(seq["responses"].sizes),
        },
        "seconds_setup": results,
        "seconds_per_run": runs,
        "seconds_best": best,
        "speed_up_best": {k: t_seq / v for k, v in best.items()},
        "speed_up_per_round": {k: [a / b for a, b in zip(runs["sequential"], v, strict=True)] for k, v in runs.items()},
        "task_compute_s_mean": {k: float(np.mean(v)) for k, v in task_s.items() if v},
        "cpu_s_per_run": cpu,
        "cpu_share_of_wall_per_run": {k: [c / w for c, w in zip(cpu[k], runs[k], strict=True)] for k in runs},
        "max_abs_difference_vs_sequential": diffs,
        "rss_MB": {
            "sequential_process_after_warmup_and_peak": [rss0, seq_peak],
            "workers_after_warmup": worker_base,
            "workers_peak": worker_rss,
        },
        "per_session_s": per_session,
        "seconds_per_GB_of_NWB": per_gb,
        "projection_58x3GB_hours": {n: 58 * 3 * per_gb / min(n, 58) / 3600 for n in (1, 2, 8, 16, 58)},
    }
    print(json.dumps(report, indent=1))
    (workdir / "bench_cohort.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    sys.exit(main())
