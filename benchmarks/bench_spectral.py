"""Benchmarks of the spectral analyses (issue 5).

    python benchmarks/bench_spectral.py stringer [--repeats 3]     # cvPCA vs neuropop's shuff_cvPCA
    python benchmarks/bench_spectral.py outofcore [--repeats 3]    # 200,000 x 4,096 zarr vs in-memory X.T @ X
    python benchmarks/bench_spectral.py stringer --stimuli 700 --units 2500    # quick

``stringer``: 2,800 stimuli x 10,000 units x 2 repeats, float32, zero-mean per unit in each repeat (a power-law
signal plus independent noise). Peer: Stringer's own ``cvPCA``/``shuff_cvPCA`` from the GPL ``neuropop`` package,
installed only for this benchmark (``pip install --no-deps --target /tmp/neuropop-env neuropop``; found on
``sys.path``, via ``NEUROPOP_PATH`` or in /tmp/neuropop-env; the benchmark skips the peer without it). Its 1.0.1
release forgets to import PCA, so ``neuropop.dimensionality.PCA = sklearn.decomposition.PCA`` is set here.
Checks: without shuffles the same spectrum as ``cvPCA`` up to its normalisation (sum over stimuli instead of the
mean: first 100 ranks within 1e-3 relative, alpha within 0.005); with 10 shuffles alpha within 0.01 of
``shuff_cvPCA``; the speed ratio; the floor (10 x one eigendecomposition of the stimulus Gram).

``outofcore``: writes a 200,000 x 4,096 float32 zarr ResponseSet (~3.3 GB; uncompressed chunks unless
``--compressed``, which uses ``neurosuper.save``'s Blosc lz4) under /tmp, times
``eigenspectrum(load(path, lazy=True), method="pca")`` in a subprocess (imports done before the clock starts; peak
RSS = its VmHWM) and a bare in-memory float32 ``X.T @ X`` on the same data in this process (loading it is not
timed), then deletes the zarr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import neurosuper as ns
from neurosuper import spectral


def _neuropop():
    for extra in (os.environ.get("NEUROPOP_PATH"), "/tmp/neuropop-env"):
        if extra and Path(extra).is_dir() and extra not in sys.path:
            sys.path.append(extra)
    try:
        import neuropop.dimensionality as nd
    except ImportError:
        return None
    import sklearn.decomposition

    nd.PCA = sklearn.decomposition.PCA  # neuropop 1.0.1 forgets this import
    return nd


def _stringer_data(n: int, p: int, seed: int = 0, alpha: float = 1.0, rank: int = 1500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = min(rank, n, p)
    z = rng.standard_normal((n, r), dtype=np.float32) * (np.arange(1, r + 1, dtype=np.float32) ** (-alpha / 2))
    signal = z @ (rng.standard_normal((r, p), dtype=np.float32) / np.float32(np.sqrt(r)))
    x = np.empty((2, n, p), np.float32)
    for i in range(2):
        x[i] = signal + np.float32(0.5 * signal.std()) * rng.standard_normal((n, p), dtype=np.float32)
        x[i] -= x[i].mean(axis=0)
    return x


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def stringer(args: argparse.Namespace) -> dict:
    from scipy.linalg import eigh
    from threadpoolctl import threadpool_limits

    nd = _neuropop()
    x = _stringer_data(args.stimuli, args.units)
    n = args.stimuli
    ds = ns.from_array(x, system="brain", measure="dff")
    res: dict = {"stimuli": n, "units": args.units, "shuffles": args.shuffles}
    # accuracy, no shuffles: the two repeats as given
    ours0 = spectral.eigenspectrum(ds, method="cvpca", n_shuffles=0, progress=False)
    a0 = float(spectral.powerlaw(ours0)["alpha"])
    res["alpha_no_shuffle"] = a0
    if nd is not None:
        theirs0 = nd.cvPCA(x)
        k = 100
        rel = np.abs(ours0["variance"].values[:k] * n - theirs0[:k]) / np.abs(theirs0[:k])
        res["max_rel_diff_first_100"] = float(rel.max())
        ranks = np.arange(1, len(theirs0) + 1)
        import xarray as xr

        a0_theirs = float(spectral.powerlaw(xr.DataArray(theirs0 / n, dims="rank", coords={"rank": ranks}))["alpha"])
        a0_theirs_own, _ = nd.get_powerlaw(theirs0, np.arange(11, 500))
        a0_ours_12 = float(spectral.powerlaw(ours0, ranks=(12, 500))["alpha"])
        res.update({"alpha_no_shuffle_neuropop": a0_theirs,
                    "alpha_no_shuffle_neuropop_get_powerlaw": float(a0_theirs_own),
                    "alpha_no_shuffle_ours_ranks_12_500": a0_ours_12})
    # speed, 10 shuffles, interleaved repeats
    from neurosuper._gram import stimulus_grams

    t_ours, t_theirs, t_eigh, t_eigh1, t_eigh64, t_grams = [], [], [], [], [], []
    g = ((x[0] @ x[0].T) / n).astype(np.float32)
    for rep in range(args.repeats):
        dt, spec = _timed(lambda rep=rep: spectral.eigenspectrum(ds, method="cvpca", n_shuffles=args.shuffles,
                                                                 seed=rep, progress=False))
        t_ours.append(dt)
        res.setdefault("alpha_ours", []).append(float(spectral.powerlaw(spec)["alpha"]))
        t_grams.append(_timed(lambda: stimulus_grams([x[0], x[1]], [(0, 0), (1, 1), (0, 1)]))[0])
        if nd is not None:
            np.random.seed(rep)  # noqa: NPY002 -- neuropop draws its swaps from numpy's global generator
            dt, ss = _timed(lambda: nd.shuff_cvPCA(x, nshuff=args.shuffles))
            t_theirs.append(dt)
            a, _ = nd.get_powerlaw(ss.mean(axis=0), np.arange(11, 500))
            res.setdefault("alpha_neuropop_get_powerlaw", []).append(float(a))
            import xarray as xr

            mean = ss.mean(axis=0) / n
            res.setdefault("alpha_neuropop", []).append(float(spectral.powerlaw(
                xr.DataArray(mean, dims="rank", coords={"rank": np.arange(1, len(mean) + 1)}))["alpha"]))
        t_eigh.append(_timed(lambda: eigh(g, check_finite=False, driver="evd"))[0])
        with threadpool_limits(limits=1, user_api="blas"):
            t_eigh1.append(_timed(lambda: eigh(g, check_finite=False, driver="evd"))[0])
            t_eigh64.append(_timed(lambda: eigh(g.astype(np.float64), check_finite=False, driver="evd"))[0])
        print(f"repeat {rep}: ours {t_ours[-1]:.1f} s, neuropop {t_theirs[-1] if t_theirs else float('nan'):.1f} s, "
              f"eigh {t_eigh[-1]:.2f} s (1 thread {t_eigh1[-1]:.2f} s)", file=sys.stderr, flush=True)
    med = statistics.median
    res.update({"time_ours": t_ours, "time_eigh": t_eigh, "time_eigh_1thread": t_eigh1,
                "time_eigh_float64_1thread": t_eigh64, "time_three_grams": t_grams,
                "median_ours": med(t_ours), "floor_10_eigh": args.shuffles * med(t_eigh),
                "floor_10_eigh_1thread": args.shuffles * med(t_eigh1)})
    if t_theirs:
        res.update({"time_neuropop": t_theirs, "median_neuropop": med(t_theirs),
                    "speedup": med(t_theirs) / med(t_ours),
                    "alpha_diff_10_shuffles": [abs(a - b) for a, b in zip(res["alpha_ours"], res["alpha_neuropop"],
                                                                           strict=True)]})
    res["ours_over_floor"] = med(t_ours) / res["floor_10_eigh"]
    res["ours_over_floor_1thread"] = med(t_ours) / res["floor_10_eigh_1thread"]
    res["ours_minus_grams_over_floor_1thread"] = (med(t_ours) - med(t_grams)) / res["floor_10_eigh_1thread"]
    return res


# ----------------------------------------------------------------------------------------------- out of core
_CHILD = r"""
import json, sys, time
import dask.array, scipy.linalg, zarr  # warm imports: one-time costs are not the reduction's
import neurosuper as ns
t = time.perf_counter()
ds = ns.load(sys.argv[1], lazy=True)
spec = ns.spectral.eigenspectrum(ds, method="pca", progress=False)
dt = time.perf_counter() - t
# VmHWM: peak RSS of this program (ru_maxrss would include the parent's RSS inherited at fork, before exec)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"seconds": dt, "peak_rss_mb": hwm / 1024, "top": spec["variance"].values[:5].tolist()}))
"""


def outofcore(args: argparse.Namespace) -> dict:
    import dask.array as da

    n, p = args.rows, args.cols
    folder = Path(tempfile.mkdtemp(prefix="bench-spectral-", dir="/tmp"))
    path = folder / "big.zarr"
    try:
        rng = da.random.default_rng(0)
        scale = (np.arange(1, p + 1, dtype=np.float32) ** -0.5).astype(np.float32)
        x = rng.standard_normal((n, p), dtype=np.float32, chunks=(args.chunk, p)) * scale
        ds = ns.from_array(x, system="network", measure="activation")
        t = time.perf_counter()
        if args.compressed:  # neurosuper.save's default: Blosc lz4 (random floats barely compress)
            ns.save(ds, path)
        else:  # raw chunks: reading costs a copy from the page cache, not decompression
            ds.to_zarr(path, mode="w-", zarr_format=2, consolidated=True, encoding={"responses": {"compressors": None}})
        write = time.perf_counter() - t
        res: dict = {"rows": n, "cols": p, "chunk_rows": args.chunk, "compressed": args.compressed,
                     "write_seconds": write,
                     "zarr_gb": sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9}
        t_ours, rss, t_bare = [], [], []
        for rep in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True)
            child = json.loads(out.stdout.strip().splitlines()[-1])
            t_ours.append(child["seconds"])
            rss.append(child["peak_rss_mb"])
            xm = ns.load(path, lazy=True)["responses"].values  # 3.3 GB in memory, not timed
            dt, g = _timed(lambda xm=xm: xm.T @ xm)
            t_bare.append(dt)
            ref = np.linalg.eigvalsh(g.astype(np.float64) - np.outer(xm.sum(0, dtype=np.float64),
                                                                     xm.sum(0, dtype=np.float64)) / n)[::-1][:5] / n
            res.setdefault("top5_rel_diff", []).append(float(np.max(np.abs(np.array(child["top"]) - ref) / ref)))
            del xm, g
            print(f"repeat {rep}: eigenspectrum {t_ours[-1]:.1f} s (peak RSS {rss[-1]:.0f} MB), bare X.T @ X "
                  f"{t_bare[-1]:.1f} s", file=sys.stderr, flush=True)
        med = statistics.median
        res.update({"time_ours": t_ours, "peak_rss_mb": rss, "time_bare_xtx": t_bare, "median_ours": med(t_ours),
                    "median_bare": med(t_bare), "ratio": med(t_ours) / med(t_bare), "max_peak_rss_mb": max(rss)})
        return res
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="which", required=True)
    s = sub.add_parser("stringer")
    s.add_argument("--stimuli", type=int, default=2800)
    s.add_argument("--units", type=int, default=10_000)
    s.add_argument("--shuffles", type=int, default=10)
    s.add_argument("--repeats", type=int, default=3)
    o = sub.add_parser("outofcore")
    o.add_argument("--rows", type=int, default=200_000)
    o.add_argument("--cols", type=int, default=4096)
    o.add_argument("--chunk", type=int, default=8192)
    o.add_argument("--repeats", type=int, default=3)
    o.add_argument("--compressed", action="store_true", help="write with neurosuper.save (Blosc lz4) instead of "
                   "uncompressed chunks")
    args = p.parse_args()
    res = stringer(args) if args.which == "stringer" else outofcore(args)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    res["machine"] = {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
                      "loadavg_at_end": load}
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
