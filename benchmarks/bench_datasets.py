"""Demo data: build time against the 30 s budget, and opening the cache against plain xarray.

``python benchmarks/bench_datasets.py [--repeats N]``. First the cold first call: a new Python process that
imports neurosuper and builds one set into an empty cache (what a new user waits). Then each set is built afresh
N times in this process (best time, ratio to the 30 s budget of issue 2), then opened from the cache N times with
``demo_*()`` and, in the same run and interleaved, with ``xarray.open_dataset(path, engine="h5netcdf").load()``
on the same file (the peer: reading without validation or attr decoding). Uses temporary cache folders.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import xarray as xr

BUDGET_S = 30.0


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def cold(name: str, cache: str) -> float:
    """Wall time of a new Python process that imports neurosuper and builds one set into an empty cache."""
    env = {**os.environ, "NEUROSUPER_CACHE": cache}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import neurosuper; neurosuper.datasets.{name}()"], env=env, check=True)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["NEUROSUPER_CACHE"] = cache
        from neurosuper import datasets

        print(
            f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for name in ("demo_brain", "demo_network"):
            with tempfile.TemporaryDirectory() as empty:
                print(f"cold first call (new process, imports included, empty cache): {name} {cold(name, empty):.1f} s")
        print(
            "| set | fresh build (best) | ratio to 30 s budget | open cache via demo_*() | plain xarray open+load "
            "| ratio | file size |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, fn in (("demo_brain", datasets.demo_brain), ("demo_network", datasets.demo_network)):
            build = best(lambda fn=fn: fn(cache=False), args.repeats)
            fn()  # write the cache
            path = next(
                os.path.join(cache, f)
                for f in sorted(os.listdir(cache))
                if f.startswith(f"{name}-") and f.endswith(".nc")
            )
            ours, peer = [], []
            for _ in range(args.repeats):  # interleaved
                ours.append(best(fn, 1))
                peer.append(best(lambda path=path: xr.open_dataset(path, engine="h5netcdf").load(), 1))
            o, p = min(ours), min(peer)
            print(
                f"| {name} | {build:.2f} s | {build / BUDGET_S:.2f} | {o:.3f} s | {p:.3f} s | {o / p:.2f} | "
                f"{os.path.getsize(path) / 1e6:.0f} MB |"
            )


if __name__ == "__main__":
    main()
