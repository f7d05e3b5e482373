"""Benchmarks of the main job (issue 14): ``neurosuper demo`` and ``neurosuper report``.

    python benchmarks/bench_report.py demo [--runs 1]              # `neurosuper demo`, cold cache then warm
    python benchmarks/bench_report.py report [--stimuli 2800 --units 10000]   # report vs its steps called directly
    python benchmarks/bench_report.py report --stimuli 700 --units 2500       # quick
    python benchmarks/bench_report.py report --skip directions                # without a step (in both runs)
    python benchmarks/bench_report.py directions --max-units 128 256          # the demo's directions step, per size

``directions``: the ``compare_methods`` calls of the demo's directions step (both demo sets, the step's settings,
one BLAS thread) for each ``--max-units``: seconds per set and per method, and each set's median II per method —
what the choice of the step's reduced settings rests on.

``demo``: runs ``neurosuper demo --out DIR --quiet`` in a subprocess with ``NEUROSUPER_CACHE`` pointing to a new
empty folder (cold cache: the demo data are generated, as on a first run), then again with the cache filled
(warm). Reports wall time, the child's CPU time (user + sys) and the load average before and after (the machine
may be shared), and the per-step seconds the demo recorded in ``summary.json``.

``report``: a synthetic set of ``stimuli`` × ``units`` × 2 repeats (float32 spike counts of a linear–nonlinear
population with a power-law latent spectrum, 16 × 16 images as its stimuli) saved as netCDF; then, in one run,
(a) ``neurosuper report FILE --out DIR --quiet`` in a subprocess (wall and CPU), and (b) in a fresh subprocess the
same steps called directly — ``load`` and each step function of ``report_steps()`` on a plain
:class:`~neurosuper.pipeline.Context`, without the report step — each timed. The ratio is (a) / (b); with
``--runs 2`` the second round runs (b) first. ``overhead_ratio`` is (a)'s wall time over the time its own steps
took inside it (startup, loading, hashing the input, validation and writing the page are the difference).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``cmd``; its wall time, CPU time (user + sys of the child) and the load average around it."""
    before, cpu0 = _load(), _child_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)} (exit {proc.returncode})")
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(_child_cpu() - cpu0, 1),
        "load_before": before,
        "load_after": _load(),
        "stdout": proc.stdout,
    }


def machine() -> str:
    import numpy
    import xarray

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy "
        f"{numpy.__version__}, xarray {xarray.__version__}"
    )


# ---------------------------------------------------------------------------------------------------- demo
def bench_demo(runs: int) -> dict:
    exe = shutil.which("neurosuper") or sys.executable
    base = [exe] if exe.endswith("neurosuper") else [exe, "-m", "neurosuper"]
    results = []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="ns-bench-demo-") as tmp:
            cache = Path(tmp) / "cache"
            cache.mkdir()
            for kind in ("cold", "warm"):
                out = Path(tmp) / f"out-{kind}"
                r = _run([*base, "demo", "--out", str(out), "--quiet"], env={"NEUROSUPER_CACHE": str(cache)})
                summary = json.loads((out / "summary.json").read_text())
                r.pop("stdout")
                r.update(
                    kind=kind,
                    run=i,
                    steps=summary.get("step_seconds"),
                    skipped=[e["name"] for e in summary.get("steps", []) if e["status"] == "skipped"],
                    report_MB=round((out / "report.html").stat().st_size / 1e6, 2),
                )
                print(json.dumps(r), flush=True)
                results.append(r)
    return {"demo": results}


# -------------------------------------------------------------------------------------------------- report
def make_set(n_stim: int, n_units: int, seed: int = 0):
    """A population with a power-law latent spectrum seeing smooth random 16x16 images; 2 repeats of counts."""
    import neurosuper as ns

    rng = np.random.default_rng(seed)
    white = rng.standard_normal((n_stim, 20, 20)).astype(np.float32)
    k = np.exp(-0.5 * (np.arange(-2, 3) / 1.2) ** 2)
    k /= k.sum()
    smooth = white
    for axis in (1, 2):
        smooth = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), axis, smooth)
    imgs = smooth[:, 2:18, 2:18].astype(np.float32)
    imgs /= imgs.std()
    n_latent = 128
    proj = rng.standard_normal((256, n_latent)).astype(np.float32) / 16
    latent = (imgs.reshape(n_stim, -1) @ proj) * (np.arange(1, n_latent + 1, dtype=np.float32) ** -0.5)
    mix = rng.standard_normal((n_latent, n_units)).astype(np.float32)
    rate = np.maximum(latent @ mix, 0)
    rate *= 2.0 / max(rate.mean(), 1e-6)
    counts = rng.poisson(np.broadcast_to(rate, (2, n_stim, n_units))).astype(np.float32)
    area = np.where(np.arange(n_units) < n_units // 2, "V1", "V2")
    return ns.from_array(
        counts,
        system="brain",
        measure="spike_count",
        stimuli=imgs,
        area=("unit", area),
        attrs={"source": "bench_report synthetic population"},
    )


DIRECT = r"""
import json, sys, time
t0 = time.perf_counter()
from neurosuper.pipeline import Context, report_steps
from neurosuper.storage import load
path, out, skip = sys.argv[1], sys.argv[2], set(sys.argv[3:])
t = time.perf_counter(); ds = load(path); seconds = {"load": time.perf_counter() - t}
ctx = Context(out=out, data={"brain": ds}, set_names=("brain",), progress=False)
for step in report_steps():
    if step.name in skip or step.unavailable() or step.min_sets > 1:
        continue
    ctx.current = step
    t = time.perf_counter(); step.run(ctx); seconds[step.name] = time.perf_counter() - t
seconds["process"] = time.perf_counter() - t0
print(json.dumps({k: round(v, 2) for k, v in seconds.items()}))
"""


def bench_report(n_stim: int, n_units: int, skip: list[str], rounds: int = 1) -> dict:
    """``rounds`` rounds of (report, direct); odd rounds run the direct steps first, so that a change of the
    machine's load during a round does not always favour the same side."""
    import neurosuper as ns

    exe = shutil.which("neurosuper")
    out: dict = {"set": [n_stim, n_units, 2], "skipped_on_request": skip, "rounds": []}
    with tempfile.TemporaryDirectory(prefix="ns-bench-report-") as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        ds = make_set(n_stim, n_units)
        ns.save(ds, tmp / "big.nc")
        del ds
        print(
            f"set {n_stim} x {n_units} x 2 written in {time.perf_counter() - t:.1f} s "
            f"({(tmp / 'big.nc').stat().st_size / 1e6:.0f} MB)",
            flush=True,
        )

        def run_report(i: int) -> dict:
            dest = tmp / f"report{i}"
            rep = _run(
                [
                    exe,
                    "report",
                    str(tmp / "big.nc"),
                    "--out",
                    str(dest),
                    "--quiet",
                    *(["--skip", *skip] if skip else []),
                ]
            )
            summary = json.loads((dest / "summary.json").read_text())
            rep.pop("stdout")
            rep["steps"] = summary.get("step_seconds")
            rep["report_MB"] = round((dest / "report.html").stat().st_size / 1e6, 2)
            rep["statuses"] = {e["name"]: e["status"] for e in summary.get("steps", [])}
            # the report's own cost: its wall time against the time its steps took inside it
            rep["overhead_ratio"] = round(rep["wall_s"] / sum(rep["steps"].values()), 3)
            print("report:", json.dumps(rep), flush=True)
            return rep

        def run_direct(i: int) -> dict:
            dest = tmp / f"direct{i}"
            dest.mkdir()
            direct = _run([sys.executable, "-c", DIRECT, str(tmp / "big.nc"), str(dest), *skip])
            direct["steps"] = json.loads(direct.pop("stdout").strip().splitlines()[-1])
            print("direct:", json.dumps(direct), flush=True)
            return direct

        for i in range(rounds):
            if i % 2 == 0:
                rep, direct = run_report(i), run_direct(i)
            else:
                direct, rep = run_direct(i), run_report(i)
            total_direct = sum(v for k, v in direct["steps"].items() if k != "process")
            out["rounds"].append(
                {
                    "report": rep,
                    "direct": direct,
                    "ratio_wall": round(rep["wall_s"] / direct["wall_s"], 3),
                    "ratio_vs_sum_of_steps": round(rep["wall_s"] / total_direct, 3),
                    "ratio_cpu": round(rep["cpu_s"] / max(direct["cpu_s"], 1e-9), 3),
                }
            )
    return out


def bench_directions(max_units: list[int]) -> dict:
    import warnings

    from threadpoolctl import threadpool_limits

    from neurosuper import datasets
    from neurosuper.directions import DEFAULT_METHODS
    from neurosuper.pipeline import Context
    from neurosuper.pipeline.directions import SETTINGS as DEMO_SETTINGS
    from neurosuper.pipeline.directions import _compare_one

    sets = {"brain": datasets.demo_brain(progress=False), "network": datasets.demo_network(progress=False)}
    out: dict = {}
    for n in max_units:
        cfg = {**DEMO_SETTINGS, "max_units": n}
        rows = {}
        for label, ds in sets.items():
            per_method = {}
            for method in DEFAULT_METHODS:  # one method (and the units) at a time: its own cost
                t0 = time.perf_counter()
                with warnings.catch_warnings(), threadpool_limits(1):
                    warnings.simplefilter("ignore")
                    entry, _, _ = _compare_one(
                        Context(out=Path(tempfile.mkdtemp()), progress=False),
                        label,
                        ds,
                        {**cfg, "methods": ("units", method) if method != "units" else ("units",)},
                    )
                per_method[method] = {
                    "s": round(time.perf_counter() - t0, 2),
                    "median_ii": entry.get("methods", {}).get(method, {}).get("median_ii"),
                }
            rows[label] = per_method
        total = round(sum(v["s"] for r in rows.values() for v in r.values()), 1)
        out[str(n)] = {"total_s_with_units_repeated": total, "sets": rows}
        print(json.dumps({"max_units": n, "total_s": total}), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["demo", "report", "directions"])
    parser.add_argument("--max-units", type=int, nargs="+", default=[128, 256], help="directions: unit subsets")
    parser.add_argument("--runs", type=int, default=1, help="demo: cold+warm runs; report: rounds (alternating order)")
    parser.add_argument("--stimuli", type=int, default=2800)
    parser.add_argument("--units", type=int, default=10000)
    parser.add_argument("--skip", nargs="*", default=[], help="report: steps left out of both runs")
    args = parser.parse_args()
    print("machine:", machine(), "load:", _load(), flush=True)
    if args.what == "demo":
        result = bench_demo(args.runs)
    elif args.what == "directions":
        result = bench_directions(args.max_units)
    else:
        result = bench_report(args.stimuli, args.units, args.skip, args.runs)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
