"""Benchmark of a bare ``import neurosuper`` (issue 18): must stay under 1 s on a quiet machine.

    python benchmarks/bench_import.py                   # 15 rounds
    python benchmarks/bench_import.py --repeats 31      # steadier medians on a busy machine

Each round starts fresh interpreters (``python -c ...``, so nothing is cached in-process; the OS file cache is
warm after the first, uncounted, warm-up round) and times, in alternating order:

- ``floor``:  ``import numpy, xarray`` — what any xarray-based package pays; neurosuper cannot be cheaper;
- ``python``: ``pass`` — the interpreter's own start-up;
- ``neurosuper``: ``import neurosuper``;
- ``eager``: ``from neurosuper import *`` — every public name, so every subpackage (scikit-learn included): what
  a bare import cost before the subpackages were imported on first access.

Wall time of each child process is measured from the parent (start-up included, as a user sees it), with its CPU
time (user + system, from ``getrusage``): on a shared machine the wall time mostly measures the queue, while the CPU
time of the single-threaded import is what its wall time is on a quiet machine. The table reports median and
minimum wall time, median CPU time, and the ratio neurosuper / floor of the CPU times with the interpreter's
start-up subtracted. The heavy optional libraries (sklearn, distributed, matplotlib, pynwb, torch, ...)
are listed if a bare import loaded any of them; the test ``tests/test_import.py`` keeps them out.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

SNIPPETS = {
    "python": "pass",
    "floor": "import numpy, xarray",
    "neurosuper": "import neurosuper",
    "eager": "from neurosuper import *",
}
HEAVY = ("distributed", "sklearn", "matplotlib", "seaborn", "pynwb", "hdmf", "h5py", "torch", "skimage", "zarr")


def _run(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU = user + system) seconds of one fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15, help="timed rounds (one warm-up round is not counted)")
    args = ap.parse_args(argv)

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    names = list(SNIPPETS)
    for name in names:  # warm-up: bytecode caches and the OS file cache
        _run(SNIPPETS[name], env)
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.repeats):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            wall, used = _run(SNIPPETS[name], env)
            times[name].append(wall)
            cpu[name].append(used)

    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, neurosuper; print(*[m for m in {HEAVY!r} if m in sys.modules])"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.split()

    med = {name: statistics.median(ts) for name, ts in times.items()}
    med_cpu = {name: statistics.median(ts) for name, ts in cpu.items()}
    print(f"{args.repeats} rounds; Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| command | median wall | min wall | median CPU (user + sys) |")
    print("|---|---|---|---|")
    for name in names:
        code = SNIPPETS[name].replace("\n", "; ")
        print(f'| `python -c "{code}"` | {med[name]:.3f} s | {min(times[name]):.3f} s | {med_cpu[name]:.3f} s |')
    base = med_cpu["python"]
    ratio = (med_cpu["neurosuper"] - base) / (med_cpu["floor"] - base)
    print(f"neurosuper / floor, CPU with the interpreter's start-up subtracted: {ratio:.2f}")
    print(f"heavy optional libraries loaded by `import neurosuper`: {', '.join(loaded) or 'none'}")
    # On a busy machine wall time measures the queue; the CPU time of the (single-threaded) import is what its wall
    # time is on a quiet one.
    verdict = "OK" if med_cpu["neurosuper"] < 1.0 else "OVER the 1 s budget"
    cost = f"median CPU {med_cpu['neurosuper']:.3f} s, min wall {min(times['neurosuper']):.3f} s"
    print(f"`import neurosuper`: {cost}: {verdict}")


if __name__ == "__main__":
    main()
