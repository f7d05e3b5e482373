"""Peak memory of the spectrum's bootstrap (issue 23 §5): each case in a fresh subprocess, its peak RSS (VmHWM)
minus its RSS with the data already in memory (or, for a lazy zarr set, minus the data's bytes), i.e. the
memory the bootstrap needs above the data.

    python benchmarks/bench_memory.py                                  # defaults below, ~10 min on a busy machine
    python benchmarks/bench_memory.py --units 4000 --n-boot 5          # the issue's 5,000 x 4,000 shape
    python benchmarks/bench_memory.py --cases pca cvpca --n-boot 10    # quick
    python benchmarks/bench_memory.py --cases cvpca --units 1500 --n-boot 5 --batch-bytes 1   # one Gram at a time

Cases (float32 data, seed 0, ``groupby=None``, ``side="auto"``: these shapes have more stimuli than units, so the
bootstrap builds a units x units Gram per replicate — the path whose memory grew as replicates x units²):
``pca``: ``eigenspectrum(method="pca", n_boot=N)`` of a ``stimuli x units`` in-memory set; ``cvpca``: the same
with two repeats (``method="cvpca"``, ``--n-shuffles`` shuffles, default 10 as ``eigenspectrum``'s, and 3 Grams
per replicate); ``zarr``: ``eigenspectrum(load(p, lazy=True), method="pca", n_boot=N)`` of a ``zarr_stimuli x
zarr_units`` set saved to a zarr store under /tmp.

The bound is 1 GB above the data. PCA holds the Grams of at most ``_BOOT_BATCH_BYTES`` (128 MB) of replicates at
once; cvPCA holds one replicate's three Grams (or a batch of replicates' when three fit in ``_BOOT_BATCH_BYTES``),
and above that one Gram at a time (``neurosuper.spectral.cvpca.cv_unit_streamed``). ``--batch-bytes`` overrides
``_BOOT_BATCH_BYTES`` in the child (e.g. 1: cvPCA one Gram at a time at any size).
``neurosuper.spectral.eigen.replicate_bytes`` (with the data's itemsize) is the estimate the memory check uses,
printed beside each measurement; it leaves out the one-off passes before the replicates (unit means, variances).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, os, sys, time, warnings
import numpy as np

def rss(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0

import neurosuper as ns
from neurosuper.spectral import eigen
from neurosuper.spectral.eigen import replicate_bytes
case, n, p, n_boot, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
n_shuffles, batch = int(sys.argv[6]), int(sys.argv[7])
if batch:
    eigen._BOOT_BATCH_BYTES = batch
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
if case == "zarr":
    ds = ns.load(path, lazy=True)
    data = n * p * 4
else:
    shape = (2, n, p) if case == "cvpca" else (n, p)
    ds = ns.from_array(rng.standard_normal(shape, dtype=np.float32), system="network", measure="activation")
    data = int(ds["responses"].nbytes)
base = rss("VmRSS")
t = time.perf_counter()
spec = ns.spectral.eigenspectrum(ds, method="cvpca" if case == "cvpca" else "pca", n_boot=n_boot, groupby=None,
                                 n_shuffles=n_shuffles, progress=False)
seconds = time.perf_counter() - t
peak = rss("VmHWM")
est = replicate_bytes(n, p, method="cvpca" if case == "cvpca" else "pca", side="auto", n_boot=n_boot,
                      n_shuffles=n_shuffles if case == "cvpca" else 0, k=None, itemsize=4)
above = peak - base - (data if case == "zarr" else 0)
print(json.dumps({"case": case, "data_mb": data / 1e6, "base_mb": base / 1e6, "peak_mb": peak / 1e6,
                  "above_data_mb": above / 1e6, "estimate_mb": est / 1e6, "seconds": seconds,
                  "side": spec.attrs["side"]}))
"""


def run(case: str, n: int, p: int, n_boot: int, path: str, n_shuffles: int = 10, batch: int = 0) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, case, str(n), str(p), str(n_boot), path, str(n_shuffles), str(batch)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        return {"case": case, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stimuli", type=int, default=5000)
    ap.add_argument("--units", type=int, default=1500, help="units of the in-memory sets (the issue: 4000)")
    ap.add_argument("--zarr-stimuli", type=int, default=200_000)
    ap.add_argument("--zarr-units", type=int, default=512)
    ap.add_argument("--n-boot", type=int, default=50)
    ap.add_argument("--n-shuffles", type=int, default=10, help="cvPCA's shuffles (eigenspectrum's default: 10)")
    ap.add_argument("--batch-bytes", type=int, default=0, help="override _BOOT_BATCH_BYTES (0: keep 128 MB)")
    ap.add_argument("--cases", nargs="+", default=["pca", "cvpca", "zarr"], choices=["pca", "cvpca", "zarr"])
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="bench_memory_")
    path = os.path.join(folder, "big.zarr")
    try:
        if "zarr" in args.cases:
            import numpy as np

            import neurosuper as ns

            rng = np.random.default_rng(0)
            values = rng.standard_normal((args.zarr_stimuli, args.zarr_units), dtype=np.float32)
            ns.save(ns.from_array(values, system="network", measure="activation"), path)
            del values
        machine = f"{platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        print(f"# {machine}, python {sys.version.split()[0]}")
        batch = f"; _BOOT_BATCH_BYTES={args.batch_bytes}" if args.batch_bytes else ""
        print(
            f"# n_boot={args.n_boot}, n_shuffles={args.n_shuffles}{batch}; 1 BLAS thread; "
            f"started {time.strftime('%Y-%m-%d %H:%M:%S')}"
        )
        print("| case | shape | data MB | peak RSS MB | above the data MB | estimate MB | seconds |")
        print("|---|---|---|---|---|---|---|")
        for case in args.cases:
            n, p = (args.zarr_stimuli, args.zarr_units) if case == "zarr" else (args.stimuli, args.units)
            r = run(case, n, p, args.n_boot, path, args.n_shuffles, args.batch_bytes)
            if "error" in r:
                print(f"| {case} | {n} x {p} | error: {r['error']} |")
                continue
            shape = f"{'2 x ' if case == 'cvpca' else ''}{n:,} x {p:,}"
            print(
                f"| {case} | {shape} | {r['data_mb']:.0f} | {r['peak_mb']:.0f} | {r['above_data_mb']:.0f} | "
                f"{r['estimate_mb']:.0f} | {r['seconds']:.1f} |",
                flush=True,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
