"""Benchmark of a bare ``import neurosuper`` (issue 18): must stay under 1 s on a quiet machine.

    python benchmarks/bench_import.py                   # 15 rounds
    python benchmarks/bench_import.py --repeats 31      # steadier medians on a busy machine

Each round starts fresh interpreters (``python -c ...``, so nothing is cached in-process; the OS file cache is
warm after the first, uncounted, warm-up round) and times, in alternating order:

- ``floor``:  ``import numpy, xarray`` — what any xarray-based package pays; neurosuper cannot be cheaper;
- ``python``: ``pass`` — the interpreter's own start-up;
- ``neurosuper``: ``import neurosuper``.

Wall time of each child process is measured from the parent (start-up included, as a user sees it), and the
table reports medians and minima, the start-up-corrected import costs (median minus python's median) and the
ratio neurosuper / floor. The heavy optional libraries (sklearn, distributed, matplotlib, pynwb, torch, ...)
are listed if a bare import loaded any of them; the test ``tests/test_import.py`` keeps them out.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

SNIPPETS = {
    "python": "pass",
    "floor": "import numpy, xarray",
    "neurosuper": "import neurosuper",
}
HEAVY = ("distributed", "sklearn", "matplotlib", "seaborn", "pynwb", "hdmf", "h5py", "torch", "skimage", "zarr")


def _run(code: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15, help="timed rounds (one warm-up round is not counted)")
    args = ap.parse_args(argv)

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    names = list(SNIPPETS)
    for name in names:  # warm-up: bytecode caches and the OS file cache
        _run(SNIPPETS[name], env)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.repeats):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(_run(SNIPPETS[name], env))

    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, neurosuper; print(*[m for m in {HEAVY!r} if m in sys.modules])"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.split()

    med = {name: statistics.median(ts) for name, ts in times.items()}
    base = med["python"]
    print(f"{args.repeats} rounds; Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    try:
        print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    except OSError:
        pass
    print("| command | median wall | min wall | median minus interpreter start-up |")
    print("|---|---|---|---|")
    for name in names:
        code = SNIPPETS[name]
        print(f'| `python -c "{code}"` | {med[name]:.3f} s | {min(times[name]):.3f} s | {med[name] - base:.3f} s |')
    ratio = (med["neurosuper"] - base) / (med["floor"] - base)
    print(f"neurosuper / floor (start-up subtracted): {ratio:.2f}")
    print(f"heavy optional libraries loaded by `import neurosuper`: {', '.join(loaded) or 'none'}")
    verdict = "OK" if med["neurosuper"] < 1.0 else "OVER the 1 s budget"
    print(f"`import neurosuper` median {med['neurosuper']:.3f} s (start-up included): {verdict}")


if __name__ == "__main__":
    main()
