"""Benchmarks of the spectral analyses (issue 5).

    python benchmarks/bench_spectral.py stringer [--repeats 3]     # cvPCA vs neuropop's shuff_cvPCA
    python benchmarks/bench_spectral.py outofcore [--repeats 3]    # 200,000 x 4,096 zarr vs in-memory X.T @ X
    python benchmarks/bench_spectral.py stringer --stimuli 700 --units 2500    # quick
    python benchmarks/bench_spectral.py coverage [--reps 100]      # does alpha_ci cover the generating alpha?
    python benchmarks/bench_spectral.py twonn [--reps 200]         # coverage of TwoNN's d_ci (split vs gamma)

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

``coverage``: the bootstrap interval of α (``powerlaw(eigenspectrum(ds, n_boot=50))["alpha_ci"]``, default fit
range) on simulated populations with a known population spectrum n^(−α): units with independent Gaussian
responses of variance n^(−α) (1,000 stimuli × 500 units, N = 499, ranks 11..124). Scenario ``pca``: the noiseless
responses, PCA; scenario ``cvpca``: two repeats with independent Gaussian noise (SD = ``--noise`` × the signal's),
cvPCA (5 shuffles). For each simulated set it records whether the interval contains (a) the generating α, (b) the
α of the same sample's noiseless spectrum over the same ranks (what cvPCA estimates), and (c) the mean estimate
over all simulated sets (what the procedure gives on average), plus the demo brain's interval against its
generating spectrum fitted over the same ranks. ``twonn``: coverage of ``intrinsic_dimension``'s interval, split
(default) and gamma, on flat tori and Gaussian clouds of known dimension.
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
        res.update(
            {
                "alpha_no_shuffle_neuropop": a0_theirs,
                "alpha_no_shuffle_neuropop_get_powerlaw": float(a0_theirs_own),
                "alpha_no_shuffle_ours_ranks_12_500": a0_ours_12,
            }
        )
    # speed, 10 shuffles, interleaved repeats
    from neurosuper._gram import stimulus_grams

    t_ours, t_theirs, t_eigh, t_eigh1, t_eigh64, t_grams = [], [], [], [], [], []
    g = ((x[0] @ x[0].T) / n).astype(np.float32)
    for rep in range(args.repeats):
        dt, spec = _timed(
            lambda rep=rep: spectral.eigenspectrum(
                ds, method="cvpca", n_shuffles=args.shuffles, seed=rep, progress=False
            )
        )
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
            res.setdefault("alpha_neuropop", []).append(
                float(
                    spectral.powerlaw(xr.DataArray(mean, dims="rank", coords={"rank": np.arange(1, len(mean) + 1)}))[
                        "alpha"
                    ]
                )
            )
        t_eigh.append(_timed(lambda: eigh(g, check_finite=False, driver="evd"))[0])
        with threadpool_limits(limits=1, user_api="blas"):
            t_eigh1.append(_timed(lambda: eigh(g, check_finite=False, driver="evd"))[0])
            t_eigh64.append(_timed(lambda: eigh(g.astype(np.float64), check_finite=False, driver="evd"))[0])
        print(
            f"repeat {rep}: ours {t_ours[-1]:.1f} s, neuropop {t_theirs[-1] if t_theirs else float('nan'):.1f} s, "
            f"eigh {t_eigh[-1]:.2f} s (1 thread {t_eigh1[-1]:.2f} s)",
            file=sys.stderr,
            flush=True,
        )
    med = statistics.median
    res.update(
        {
            "time_ours": t_ours,
            "time_eigh": t_eigh,
            "time_eigh_1thread": t_eigh1,
            "time_eigh_float64_1thread": t_eigh64,
            "time_three_grams": t_grams,
            "median_ours": med(t_ours),
            "floor_10_eigh": args.shuffles * med(t_eigh),
            "floor_10_eigh_1thread": args.shuffles * med(t_eigh1),
        }
    )
    if t_theirs:
        res.update(
            {
                "time_neuropop": t_theirs,
                "median_neuropop": med(t_theirs),
                "speedup": med(t_theirs) / med(t_ours),
                "alpha_diff_10_shuffles": [
                    abs(a - b) for a, b in zip(res["alpha_ours"], res["alpha_neuropop"], strict=True)
                ],
            }
        )
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
        res: dict = {
            "rows": n,
            "cols": p,
            "chunk_rows": args.chunk,
            "compressed": args.compressed,
            "write_seconds": write,
            "zarr_gb": sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9,
        }
        t_ours, rss, t_bare = [], [], []
        for rep in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True)
            child = json.loads(out.stdout.strip().splitlines()[-1])
            t_ours.append(child["seconds"])
            rss.append(child["peak_rss_mb"])
            xm = ns.load(path, lazy=True)["responses"].values  # 3.3 GB in memory, not timed
            dt, g = _timed(lambda xm=xm: xm.T @ xm)
            t_bare.append(dt)
            ref = (
                np.linalg.eigvalsh(
                    g.astype(np.float64) - np.outer(xm.sum(0, dtype=np.float64), xm.sum(0, dtype=np.float64)) / n
                )[::-1][:5]
                / n
            )
            res.setdefault("top5_rel_diff", []).append(float(np.max(np.abs(np.array(child["top"]) - ref) / ref)))
            del xm, g
            print(
                f"repeat {rep}: eigenspectrum {t_ours[-1]:.1f} s (peak RSS {rss[-1]:.0f} MB), bare X.T @ X "
                f"{t_bare[-1]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        med = statistics.median
        res.update(
            {
                "time_ours": t_ours,
                "peak_rss_mb": rss,
                "time_bare_xtx": t_bare,
                "median_ours": med(t_ours),
                "median_bare": med(t_bare),
                "ratio": med(t_ours) / med(t_bare),
                "max_peak_rss_mb": max(rss),
            }
        )
        return res
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- coverage
def _coverage_set(alpha: float, n: int, p: int, noise: float, seed: int):
    rng = np.random.default_rng([seed, 10])
    signal = rng.standard_normal((n, p)) * np.arange(1, p + 1) ** (-alpha / 2)
    if noise == 0:
        return signal, None
    sd = noise * signal.std()
    reps = signal[None] + sd * rng.standard_normal((2, n, p))
    return signal, reps


def coverage(args: argparse.Namespace) -> dict:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # many small eigendecompositions: one thread each is fastest
        return _coverage(args)


def _coverage(args: argparse.Namespace) -> dict:
    import warnings

    from neurosuper import NeurosuperWarning

    res: dict = {
        "alpha": args.alpha,
        "stimuli": args.stimuli,
        "units": args.units,
        "n_boot": args.n_boot,
        "noise_sd_over_signal_sd": args.noise,
        "reps": args.reps,
        "ci": 0.95,
    }
    for scenario in ("pca", "cvpca"):
        rows = []
        t0 = time.perf_counter()
        for r in range(args.reps if scenario == "pca" else args.reps_cv):
            signal, reps = _coverage_set(
                args.alpha, args.stimuli, args.units, 0.0 if scenario == "pca" else args.noise, r
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NeurosuperWarning)
                clean = spectral.eigenspectrum(
                    ns.from_array(signal, system="brain", measure="dff"), method="pca", progress=False
                )
                if scenario == "pca":
                    spec = spectral.eigenspectrum(
                        ns.from_array(signal, system="brain", measure="dff"),
                        method="pca",
                        n_boot=args.n_boot,
                        seed=r,
                        progress=False,
                    )
                else:
                    spec = spectral.eigenspectrum(
                        ns.from_array(reps, system="brain", measure="dff"),
                        method="cvpca",
                        n_shuffles=5,
                        n_boot=args.n_boot,
                        seed=r,
                        progress=False,
                    )
                fit = spectral.powerlaw(spec)
                ranks = tuple(fit.attrs["ranks"])
                sample = float(spectral.powerlaw(clean, ranks=ranks)["alpha"])
            lo, hi = (float(v) for v in fit["alpha_ci"].values)
            rows.append(
                {
                    "alpha": float(fit["alpha"]),
                    "lo": lo,
                    "hi": hi,
                    "sample": sample,
                    "ranks": list(ranks),
                    "boot_sd": float(np.nanstd(fit["alpha_boot"].values)),
                }
            )
            print(
                f"{scenario} {r}: alpha {rows[-1]['alpha']:.3f} [{lo:.3f}, {hi:.3f}] sample {sample:.3f}",
                file=sys.stderr,
                flush=True,
            )
        est = np.array([x["alpha"] for x in rows])
        lo = np.array([x["lo"] for x in rows])
        hi = np.array([x["hi"] for x in rows])
        sample = np.array([x["sample"] for x in rows])
        mean = float(est.mean())
        res[scenario] = {
            "n_sets": len(rows),
            "ranks": rows[0]["ranks"],
            "mean_alpha": mean,
            "sd_alpha": float(est.std(ddof=1)),
            "mean_boot_sd": float(np.mean([x["boot_sd"] for x in rows])),
            "mean_width": float((hi - lo).mean()),
            "mean_sample_alpha": float(sample.mean()),
            "coverage_generating": float(((lo <= args.alpha) & (args.alpha <= hi)).mean()),
            "coverage_sample": float(((lo <= sample) & (sample <= hi)).mean()),
            "coverage_mean_estimate": float(((lo <= mean) & (mean <= hi)).mean()),
            "seconds": time.perf_counter() - t0,
        }
    if args.demo:
        from neurosuper import datasets

        brain = datasets.demo_brain()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeurosuperWarning)
            spec = spectral.eigenspectrum(brain, n_boot=args.n_boot, groupby=None, progress=False)
            out = {}
            for label, ranks in (("default", None), ("11-500", (11, 500))):
                fit = spectral.powerlaw(spec, ranks=ranks)
                used = tuple(fit.attrs["ranks"])
                true = float(spectral.powerlaw(brain["true_spectrum"], ranks=used)["alpha"])
                lo, hi = (float(v) for v in fit["alpha_ci"].values)
                out[label] = {
                    "ranks": list(used),
                    "alpha": float(fit["alpha"]),
                    "ci": [lo, hi],
                    "generating_same_ranks": true,
                    "covered": lo <= true <= hi,
                }
        res["demo_brain"] = out
    return res


def twonn(args: argparse.Namespace) -> dict:
    res: dict = {"reps": args.reps, "points": args.points, "ci": 0.95, "cases": []}
    for shape in ("torus", "gauss"):
        for d in (1, 2, 4):
            hits = {"split": 0, "gamma": 0}
            widths: dict = {"split": [], "gamma": []}
            est = []
            for r in range(args.reps):
                rng = np.random.default_rng([r, d, args.points])
                if shape == "torus":
                    a = rng.uniform(0, 2 * np.pi, (args.points, d))
                    x = np.concatenate([np.cos(a), np.sin(a)], axis=1)
                else:
                    x = rng.standard_normal((args.points, d))
                for method in hits:
                    out = spectral.intrinsic_dimension(x, ci_method=method, seed=r)
                    lo, hi = out["d_ci"].values
                    hits[method] += bool(lo <= d <= hi)
                    widths[method].append(float(hi - lo))
                est.append(float(out["d"]))
            res["cases"].append(
                {
                    "shape": shape,
                    "d": d,
                    "mean_d": float(np.mean(est)),
                    "sd_d": float(np.std(est)),
                    **{f"coverage_{m}": hits[m] / args.reps for m in hits},
                    **{f"mean_width_{m}": float(np.mean(widths[m])) for m in widths},
                }
            )
            print(res["cases"][-1], file=sys.stderr, flush=True)
    return res


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
    o.add_argument(
        "--compressed",
        action="store_true",
        help="write with neurosuper.save (Blosc lz4) instead of uncompressed chunks",
    )
    c = sub.add_parser("coverage")
    c.add_argument("--alpha", type=float, default=1.0)
    c.add_argument("--stimuli", type=int, default=1000)
    c.add_argument("--units", type=int, default=500)
    c.add_argument("--noise", type=float, default=1.0)
    c.add_argument("--n-boot", type=int, default=50)
    c.add_argument("--reps", type=int, default=100, help="simulated sets, PCA scenario")
    c.add_argument("--reps-cv", type=int, default=60, help="simulated sets, cvPCA scenario")
    c.add_argument("--demo", action="store_true", help="also the demo brain's interval")
    t = sub.add_parser("twonn")
    t.add_argument("--reps", type=int, default=200)
    t.add_argument("--points", type=int, default=1000)
    args = p.parse_args()
    res = {"stringer": stringer, "outofcore": outofcore, "coverage": coverage, "twonn": twonn}[args.which](args)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    res["machine"] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "loadavg_at_end": load,
    }
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
