"""NWB loading speed and memory (issue 3): neurosuper.load_nwb against pynapple on one generated file.

The file: 1,000 units, ~20 million spikes, 50,000 presentations (5,000 stimuli x 10 repeats), written by
neurosuper's own writer from ``simulate_session`` (known planted counts). Each contender runs in a fresh
subprocess: imports, one warm-up call on a tiny file (first-call costs: numba compilation, pynwb type maps), then
the peak-RSS mark is reset and the clock starts: "open the file -> finished counts" in a fixed window (the
presentation, 0-0.25 s). Peak memory = the peak RSS (``VmHWM``) minus the RSS before the call (Linux only).

- neurosuper: ``load_nwb(path, stimulus="presentations", window=(0, 0.25))`` -> (repeat, stimulus, unit) counts;
- pynapple: ``nap.load_file(path)["units"].count(ep=IntervalSet(onsets, onsets + 0.25))`` (its own way);
- bound: the raw h5py read of every spike time (no counting at all).

Counts must agree with each other and with the planted truth. pynapple is optional (install it in a separate
environment: ``pip install pynapple``); without it that row is skipped.

Usage::

    python benchmarks/bench_nwb.py [--scale 1.0] [--runs 3] [--workdir /tmp/nsbench]
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

WINDOW = (0.0, 0.25)

_PRELUDE = """
import gc, json, sys, time
import numpy as np
{imports}

def run(path):
{body}
    return counts

def rss(field):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field))

path, warm, out = sys.argv[1], sys.argv[2], sys.argv[3]
run(warm)  # first-call costs (numba compilation, pynwb type maps) are paid on a small file first
gc.collect()
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak-RSS mark (VmHWM) to the current RSS
    fh.write("5")
base = rss("VmRSS:")
t0 = time.perf_counter()
counts = run(path)
seconds = time.perf_counter() - t0
peak = rss("VmHWM:")
np.save(out, counts)
print(json.dumps({{"seconds": seconds, "peak_above_baseline": peak - base, "baseline": base}}))
"""

CONTENDERS = {
    "neurosuper": dict(
        imports="from neurosuper.io.nwb import load_nwb",
        body=f"    ds = load_nwb(path, stimulus='presentations', window={WINDOW}, progress=False)\n"
        "    counts = ds['responses'].values",
    ),
    "pynapple": dict(
        imports="import pynapple as nap",
        body="    data = nap.load_file(path)\n    units = data['units']\n    pres = data['presentations']\n"
        f"    ep = nap.IntervalSet(start=pres.start + {WINDOW[0]}, end=pres.start + {WINDOW[1]})\n"
        "    counts = units.count(ep=ep).values",
    ),
    "h5py_read_all_spikes": dict(
        imports="import h5py",
        body="    with h5py.File(path, 'r') as fh:\n        spikes = fh['units/spike_times'][:]\n"
        "    counts = np.zeros(1)",
    ),
}


def _available(name: str) -> bool:
    module = {"neurosuper": "neurosuper", "pynapple": "pynapple", "h5py_read_all_spikes": "h5py"}[name]
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


def make_file(workdir: Path, scale: float) -> tuple[Path, dict]:
    """Write the benchmark session (cached in workdir) and its truth."""
    from neurosuper.io.nwb import simulate_session

    n_units, n_stimuli = max(2, int(1000 * scale)), max(2, int(5000 * scale))
    path = workdir / f"bench_{n_units}x{n_stimuli}.nwb"
    truth = workdir / f"bench_{n_units}x{n_stimuli}_truth.npy"
    order = workdir / f"bench_{n_units}x{n_stimuli}_order.npz"
    if not path.exists():
        # rates uniform in 0-2.4 Hz during the 0.25 s presentations, 0.4 Hz in the 0.25 s gaps: per unit
        # 50,000 x 0.25 s x (1.2 + 0.4) Hz = 20,000 spikes, so 20 M spikes for 1,000 units
        sim = simulate_session(
            n_units=n_units,
            n_stimuli=n_stimuli,
            n_repeats=10,
            duration=0.25,
            gap=0.25,
            max_rate=2.4,
            baseline_rate=0.4,
            image_shape=(2, 2),
            seed=0,
        )
        sim.write(path, images=False, overwrite=True)
        np.save(truth, sim.counts)
        codes = np.searchsorted(sim.stimulus_ids, sim.presentations.stimulus.to_numpy())
        np.savez(order, repeat=sim.presentations.repeat.to_numpy(), code=codes)
    with np.load(order) as z:
        meta = {"repeat": z["repeat"], "code": z["code"]}
    return path, {"truth": np.load(truth), **meta}


def run_one(name: str, path: Path, warm: Path, workdir: Path) -> dict:
    script = _PRELUDE.format(**CONTENDERS[name])
    out = workdir / f"counts_{name}.npy"
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path), str(warm), str(out)], capture_output=True, text=True
    )
    if proc.returncode:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["counts_file"] = str(out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of units and stimuli (1.0 = issue size)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "neurosuper_bench_nwb"))
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    path, truth = make_file(workdir, args.scale)
    warm, _ = make_file(workdir, 0.002)
    import h5py

    with h5py.File(path, "r") as fh:
        n_spikes = int(fh["units/spike_times"].shape[0])
        n_units = int(fh["units/id"].shape[0])
        n_pres = int(fh["intervals/presentations/id"].shape[0])
    expected = truth["truth"]
    bound_bytes = 8 * n_spikes + 8 * expected.size
    names = [n for n in CONTENDERS if _available(n)]
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for _ in range(args.runs):  # interleaved, so load on the shared machine hits every contender alike
        for name in names:
            runs[name].append(run_one(name, path, warm, workdir))
    ours = np.load(runs["neurosuper"][0]["counts_file"])
    assert np.array_equal(ours, expected, equal_nan=True), "neurosuper counts differ from the planted truth"
    report = {
        "file": {
            "units": n_units,
            "spikes": n_spikes,
            "presentations": n_pres,
            "size_MB": round(path.stat().st_size / 1e6, 1),
        },
        "memory_bound_MB": round(1.5 * bound_bytes / 1e6, 1),
        "contenders": {},
    }
    if "pynapple" in runs:
        theirs = np.load(runs["pynapple"][0]["counts_file"])  # (presentations in file order, units)
        same = np.array_equal(ours[truth["repeat"], truth["code"]], theirs)
        assert same, "pynapple and neurosuper counts differ"
        report["same_counts_as_pynapple"] = same
    for name, rs in runs.items():
        secs = sorted(r["seconds"] for r in rs)
        peaks = [r["peak_above_baseline"] for r in rs]
        report["contenders"][name] = {
            "seconds_median": round(float(np.median(secs)), 3),
            "seconds_all": [round(s, 3) for s in secs],
            "peak_above_baseline_MB": round(max(peaks) / 1e6, 1),
        }
    ns = report["contenders"]["neurosuper"]
    ns["peak_over_bound"] = round(ns["peak_above_baseline_MB"] * 1e6 / bound_bytes, 3)
    if "pynapple" in report["contenders"]:
        ns["speedup_vs_pynapple"] = round(report["contenders"]["pynapple"]["seconds_median"] / ns["seconds_median"], 2)
        # the same ratio within each interleaved round (both ran back to back), less sensitive to load drift
        per_round = [p["seconds"] / n["seconds"] for p, n in zip(runs["pynapple"], runs["neurosuper"], strict=True)]
        ns["speedup_vs_pynapple_per_round"] = [round(r, 2) for r in per_round]
        ns["speedup_vs_pynapple_best"] = round(
            min(r["seconds"] for r in runs["pynapple"]) / min(r["seconds"] for r in runs["neurosuper"]), 2
        )
    if "h5py_read_all_spikes" in report["contenders"]:
        ns["time_over_raw_read"] = round(
            ns["seconds_median"] / report["contenders"]["h5py_read_all_spikes"]["seconds_median"], 2
        )
    report["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "numpy": np.__version__,
    }
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
