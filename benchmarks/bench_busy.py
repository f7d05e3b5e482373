"""`neurosuper demo` on a quiet and on a busy machine (issue 22 §1): every step's seconds, busy / quiet.

    python benchmarks/bench_busy.py                       # cold quiet, warm quiet, warm busy: one markdown table
    python benchmarks/bench_busy.py --runs cold warm busy-cold busy
    python benchmarks/bench_busy.py --source /tmp/old     # the same with another checkout's package (before/after)
    python benchmarks/bench_busy.py --env NEUROSUPER_THREADS=2   # a setting passed to the demo
    python benchmarks/bench_busy.py --blas 2              # one eigh, 1 vs 2 BLAS threads, spinning vs passive waits

Each run is ``python -m neurosuper demo --out TMP --quiet`` in a fresh subprocess, so the demo runs exactly as a
user's would: the environment's thread variables (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``MKL_NUM_THREADS``, ``NEUROSUPER_THREADS``, ...) are removed from the child's environment unless ``--keep-env``
(the library's default thread policy is what is measured), ``NEUROSUPER_CACHE`` points to the benchmark's own
cache folder: empty for a *cold* run (the demo data are generated), filled by the first run for a *warm* one.

*Busy* runs start two CPU-bound processes (``python -c "while True: pass"``, ``--burners``) before the demo and kill
them by PID afterwards (always, in a ``finally``) — on this 2-core machine the demo then gets about a third of the
cores, so ≈ 3× its quiet time is the share of the cores it is left (the issue's bound is busy ≤ 3× quiet).

Per run: wall seconds (from the parent), CPU seconds of the demo process (user + system, ``getrusage`` of the
children, read before the burners are reaped so their time is not counted), the load average before the run, and
each step's seconds from the demo's ``summary.json`` (``step_seconds``). The table ends with busy / quiet ratios per
step (the busy run against the warm quiet one; busy-cold against cold).
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

#: Environment variables that set thread counts: removed from the demo's environment unless ``--keep-env``.
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NEUROSUPER_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
)
RUNS = ("cold", "warm", "busy-cold", "busy")

#: ``--blas``: one 2,000² ``scipy.linalg.eigh`` and 20 × 50 small (200²) products with Python work between them,
#: in a fresh process per setting; prints the two timings.
BLAS_CODE = r"""
import time, numpy as np, scipy.linalg
rng = np.random.default_rng(0)
x = rng.standard_normal((2000, 2000)); a = x @ x.T
small = [rng.standard_normal((200, 200)) for _ in range(50)]
t = time.perf_counter(); scipy.linalg.eigh(a); t1 = time.perf_counter() - t
t = time.perf_counter()
for _ in range(20):
    for s in small:
        s @ s.T
    sum(range(20000))
print(t1, time.perf_counter() - t)
"""
#: ``--blas`` settings: BLAS threads and waiting (each variable in the child's environment from its start).
BLAS_SETTINGS = {
    "1 thread": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    "2 threads": {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
    "2 threads, passive wait": {
        "OPENBLAS_NUM_THREADS": "2",
        "OMP_NUM_THREADS": "2",
        "OMP_WAIT_POLICY": "PASSIVE",
        "OPENBLAS_THREAD_TIMEOUT": "4",
    },
}


def blas_table(env: dict[str, str], burners: int, rounds: int) -> None:
    """``--blas``: quiet and busy, each setting ``rounds`` times (interleaved); wall, CPU, eigh, small products."""
    print("| machine | setting | wall s | CPU s | eigh 2,000² s | small products s | load |")
    print("|---|---|---|---|---|---|---|")
    for busy in (False, True):
        procs = _burners(burners) if busy else []
        try:
            time.sleep(1.0 if procs else 0.0)
            for _ in range(rounds):
                for name, extra in BLAS_SETTINGS.items():
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    t0 = time.perf_counter()
                    out = subprocess.run(
                        [sys.executable, "-c", BLAS_CODE], env={**env, **extra}, capture_output=True, text=True
                    ).stdout
                    wall = time.perf_counter() - t0
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                    eigh, loop = (float(v) for v in out.split())
                    print(
                        f"| {'busy' if busy else 'quiet'} | {name} | {wall:.2f} | {cpu:.2f} | {eigh:.2f} | {loop:.2f}"
                        f" | {os.getloadavg()[0]:.1f} |",
                        flush=True,
                    )
        finally:
            _stop(procs)


def _burners(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:  # by PID, each one we started
        if p.poll() is None:
            os.kill(p.pid, 9)
    for p in procs:
        p.wait()


def _demo(env: dict[str, str], out: Path, timeout: float) -> dict[str, object]:
    """One ``neurosuper demo`` in a subprocess: wall, CPU, per-step seconds."""
    load = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "neurosuper", "demo", "--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"neurosuper demo failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "load": load,
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "steps": dict(summary.get("step_seconds", {})),
        "seconds": summary.get("seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", choices=RUNS, default=["cold", "warm", "busy"], help="runs, in this order")
    ap.add_argument("--burners", type=int, default=2, help="CPU-bound processes during busy runs (default 2)")
    ap.add_argument("--source", help="a checkout whose neurosuper package the demo runs (put first on PYTHONPATH)")
    ap.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE", help="extra environment for the demo")
    ap.add_argument("--keep-env", action="store_true", help="keep the caller's thread variables (OMP_NUM_THREADS…)")
    ap.add_argument("--label", default="", help="a word in the table's first column (e.g. before/after)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds before a demo run is abandoned")
    ap.add_argument("--cache", help="a cache folder for the warm runs, kept (filled first if empty) — to reuse")
    ap.add_argument("--blas", type=int, metavar="ROUNDS", help="instead: 2,000² eigh, 1 vs 2 threads, spin vs passive")
    args = ap.parse_args(argv)

    env = dict(os.environ)
    if not args.keep_env:
        for var in THREAD_VARS:
            env.pop(var, None)
    if args.source:
        src = str(Path(args.source).resolve())
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    if args.blas:
        blas_table(env, args.burners, args.blas)
        return

    results: dict[str, dict[str, object]] = {}
    root = Path(tempfile.mkdtemp(prefix="bench_busy-"))
    warm_cache = Path(args.cache) if args.cache else root / "cache-warm"
    if args.cache and warm_cache.exists() and not any(warm_cache.iterdir()):
        warm_cache.rmdir()
    burners: list[subprocess.Popen[bytes]] = []
    try:
        for i, run in enumerate(args.runs):
            cold = run in ("cold", "busy-cold")
            cache = root / f"cache-cold-{i}" if cold else warm_cache
            if not cold and not warm_cache.exists():  # fill the warm cache first (not timed)
                _demo({**env, "NEUROSUPER_CACHE": str(warm_cache)}, root / "fill", args.timeout)
            burners = _burners(args.burners) if run.startswith("busy") else []
            try:
                time.sleep(1.0 if burners else 0.0)  # let the burners reach full speed
                results[run] = _demo({**env, "NEUROSUPER_CACHE": str(cache)}, root / f"out-{i}", args.timeout)
            finally:
                _stop(burners)
                burners = []
            if cold and not warm_cache.exists():
                shutil.copytree(cache, warm_cache)
            r = results[run]
            print(f"# {run}: wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s", file=sys.stderr, flush=True)
    finally:
        _stop(burners)
        shutil.rmtree(root, ignore_errors=True)

    steps: list[str] = []
    for r in results.values():
        steps += [s for s in r["steps"] if s not in steps]  # type: ignore[attr-defined]
    label = f"{args.label} " if args.label else ""
    print(f"| run | load before | wall s | CPU s | {' | '.join(steps)} |")
    print("|---|---|---|---|" + "---|" * len(steps))
    for run, r in results.items():
        load = " / ".join(f"{x:.1f}" for x in r["load"])  # type: ignore[attr-defined]
        cells = [f"{r['steps'].get(s, float('nan')):.1f}" for s in steps]  # type: ignore[attr-defined]
        print(f"| {label}{run} | {load} | **{r['wall']:.1f}** | {r['cpu']:.1f} | {' | '.join(cells)} |")
    for busy, quiet in (("busy", "warm"), ("busy-cold", "cold")):
        if busy in results and quiet in results:
            b, q = results[busy], results[quiet]
            ratios = [
                f"{b['steps'].get(s, float('nan')) / q['steps'][s]:.2f}" if q["steps"].get(s) else "–"  # type: ignore[attr-defined]
                for s in steps
            ]
            wall = b["wall"] / q["wall"]  # type: ignore[operator]
            cpu = b["cpu"] / q["cpu"]  # type: ignore[operator]
            print(f"| {label}{busy} / {quiet} | | **{wall:.2f}×** | {cpu:.2f}× | {' | '.join(ratios)} |")
    import numpy as np

    print(
        f"\n{platform.machine()}, {len(os.sched_getaffinity(0))} cores available, Python {platform.python_version()},"
        f" numpy {np.__version__}; {args.burners} burners in busy runs; thread variables "
        f"{'kept' if args.keep_env else 'removed'}; extra env {args.env or 'none'}"
    )


if __name__ == "__main__":
    main()
