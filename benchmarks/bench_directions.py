"""Benchmark: direction finding (issue 11).

    python benchmarks/bench_directions.py pca        # find(ds, "pca", 64) vs sklearn PCA, 50,000 x 512 float32
    python benchmarks/bench_directions.py sae        # SAE vs MiniBatchDictionaryLearning (tuned alpha), planted set
    python benchmarks/bench_directions.py memory     # SAE on a 200,000 x 512 zarr-backed set: peak RSS
    python benchmarks/bench_directions.py recovery   # every method on the test suite's planted set (docs table)
    python benchmarks/bench_directions.py all

``pca``: both sides get the same float32 array (``X``, C order); the peer is ``sklearn.decomposition.PCA(64,
random_state=0).fit(X)``, the measured call the whole ``neurosuper.directions.find(ds, "pca", 64)`` on the
ResponseSet wrapping ``X`` (validation, trial averaging (a no-op without repeats), the fit, orienting each axis by
the skew of its scores, the DataArray). Best of ``--repeats`` interleaved runs; the result's dtype is reported.

``sae``: a planted set of 5,000 samples x 256 units with 512 features (each active with p = 5/512, about 5 per
sample, amplitude U[0, 1], noise 0.01). The SAE runs with its defaults (512 latents = 2x the units); the peer is
MiniBatchDictionaryLearning on the same data scaled to unit RMS norm, coordinate descent, with alpha tuned over
a grid (the time reported is one fit at the best alpha, not the grid). Recovery = share of true features whose
best |cosine| with a found direction exceeds 0.9.

``memory``: a 200,000 x 512 float32 planted set (1,024 features) is written to a zarr store chunk by chunk, then a
fresh process opens it lazily (``dask.array.from_zarr``, chunks of 10,000 rows) and fits the SAE (float32, the
given steps); its peak RSS (``resource.getrusage``) must stay under 1 GB — the array alone is 410 MB in float32,
820 MB as float64.
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
import warnings

import numpy as np


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, load {os.getloadavg()[0]:.1f}"
    )


def bench_pca(repeats: int) -> dict:
    from sklearn.decomposition import PCA

    import neurosuper as ns

    rng = np.random.default_rng(0)
    n, d, k = 50_000, 512, 64
    X = rng.standard_normal((n, 48), dtype=np.float32) @ rng.standard_normal(
        (48, d), dtype=np.float32
    ) + 0.5 * rng.standard_normal((n, d), dtype=np.float32)
    ds = ns.from_array(X, system="network", measure="activation")
    t_sk, t_ns = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref = PCA(n_components=k, random_state=0).fit(X)
        t_sk.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        D = ns.directions.find(ds, "pca", k)
        t_ns.append(time.perf_counter() - t0)
    same = float(np.abs(np.abs(D.values) - np.abs(ref.components_)).max())
    return {
        "shape": [n, d],
        "n_directions": k,
        "sklearn_s": round(min(t_sk), 3),
        "find_s": round(min(t_ns), 3),
        "ratio": round(min(t_ns) / min(t_sk), 3),
        "find_dtype": str(D.dtype),
        "max_abs_diff_vs_sklearn_up_to_sign": same,
        "machine": machine(),
    }


def bench_sae(alphas: tuple[float, ...]) -> dict:
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.exceptions import ConvergenceWarning

    import neurosuper as ns
    from neurosuper.directions import SAEDirections, feature_recovery

    ds, truth = ns.directions.planted_superposition(
        n_features=512, n_units=256, n_samples=5000, p_active=5 / 512, noise=0.01, seed=1
    )
    X = ds["responses"].values
    out: dict = {"set": "5,000 x 256, 512 planted features, p=5/512, U[0,1], noise 0.01", "machine": machine()}
    runs = {}
    for dtype in ("float64", "float32"):
        t0 = time.perf_counter()
        est = SAEDirections(dtype=dtype).fit(X)
        runs[f"sae_{dtype}"] = {
            "s": round(time.perf_counter() - t0, 2),
            "recovered": feature_recovery(est.components_, truth).attrs["fraction_recovered"],
            "n_dead": est.n_dead_,
            "l0": round(est.l0_, 2),
            "fve": round(est.fve_, 3),
        }
    s = np.sqrt(np.mean(np.sum(X**2, axis=1)))
    best = None
    for alpha in alphas:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mb = MiniBatchDictionaryLearning(n_components=512, alpha=alpha, fit_algorithm="cd", random_state=0).fit(
                X / s
            )
        rec = feature_recovery(mb.components_, truth).attrs["fraction_recovered"]
        entry = {"s": round(time.perf_counter() - t0, 2), "recovered": rec}
        runs[f"mbdl_alpha_{alpha}"] = entry
        if best is None or rec > runs[best]["recovered"]:
            best = f"mbdl_alpha_{alpha}"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mb = MiniBatchDictionaryLearning(n_components=512, random_state=0).fit(X)
    runs["mbdl_sklearn_defaults"] = {
        "s": round(time.perf_counter() - t0, 2),
        "recovered": feature_recovery(mb.components_, truth).attrs["fraction_recovered"],
    }
    out["runs"] = runs
    out["mbdl_tuned"] = best
    out["sae_vs_tuned_time_ratio"] = round(runs["sae_float64"]["s"] / runs[best]["s"], 2)
    out["sae32_vs_tuned_time_ratio"] = round(runs["sae_float32"]["s"] / runs[best]["s"], 2)
    return out


MEMORY_CHILD = r"""
import json, resource, sys, time, warnings
import dask.array as da
from neurosuper.directions import SAEDirections
path, steps = sys.argv[1], int(sys.argv[2])
X = da.from_zarr(path)
t0 = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    est = SAEDirections(dtype="float32", n_steps=steps).fit(X)
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"shape": list(X.shape), "chunks_rows": X.chunks[0][0], "n_latents": int(est.components_.shape[0]),
                  "n_steps": est.n_steps_, "s": round(seconds, 1), "peak_rss_mb": round(peak_mb, 1),
                  "fve": round(est.fve_, 3), "l0": round(est.l0_, 2), "n_dead": est.n_dead_,
                  "warnings": [str(w.message)[:120] for w in caught]}))
"""


def bench_memory(steps: int, rows: int = 200_000, units: int = 512) -> dict:
    import zarr

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "planted.zarr")
        chunk = 10_000
        rng = np.random.default_rng(0)
        F = rng.standard_normal((2 * units, units)).astype(np.float32)
        F /= np.linalg.norm(F, axis=1, keepdims=True)
        z = zarr.open(path, mode="w", shape=(rows, units), chunks=(chunk, units), dtype="float32")
        for a in range(0, rows, chunk):
            A = (rng.random((chunk, 2 * units)) < 5 / (2 * units)) * rng.random((chunk, 2 * units))
            z[a : a + chunk] = (A.astype(np.float32) @ F + 0.01 * rng.standard_normal((chunk, units))).astype(
                np.float32
            )
        proc = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, path, str(steps)], capture_output=True, text=True, check=True
        )
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["array_mb_float32"] = round(rows * units * 4 / 1e6, 1)
    out["limit_mb"] = 1024
    out["machine"] = machine()
    return out


def bench_recovery() -> dict:
    import neurosuper as ns
    from neurosuper.directions import feature_recovery, find

    ds, truth = ns.directions.planted_superposition()  # the tests' set: 64 features in 32 units, 20,000 samples
    nonneg, truth_nn = ns.directions.planted_superposition(nonnegative=True)
    out = {"set": "64 features in 32 units, 20,000 samples, p=0.05, U[0,1], noise 0.01", "n_directions": 64}
    for method in ("kmeans", "sae", "sparse_coding", "ica", "pca", "nmf", "random", "units"):
        data, tr = (nonneg, truth_nn) if method == "nmf" else (ds, truth)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = None if method in ("ica", "pca", "units") else 64
            D = find(data, method, n)
        out[method] = {
            "recovered": feature_recovery(D, tr).attrs["fraction_recovered"],
            "n_directions": int(D.sizes["direction"]),
            "s": round(time.perf_counter() - t0, 2),
        }
        if method == "nmf":
            out[method]["note"] = "on the non-negative variant (nonnegative=True): NMF refuses signed data"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for other in ("kmeans", "sae"):
                    out[method][f"{other}_on_same_set"] = feature_recovery(find(nonneg, other, 64), truth_nn).attrs[
                        "fraction_recovered"
                    ]
    out["machine"] = machine()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["pca", "sae", "memory", "recovery", "all"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3])
    parser.add_argument("--steps", type=int, default=1000, help="SAE steps in the memory benchmark")
    args = parser.parse_args()
    todo = ["pca", "sae", "memory", "recovery"] if args.which == "all" else [args.which]
    for which in todo:
        if which == "pca":
            result = bench_pca(args.repeats)
        elif which == "sae":
            result = bench_sae(tuple(args.alphas))
        elif which == "memory":
            result = bench_memory(args.steps)
        else:
            result = bench_recovery()
        print(json.dumps({which: result}, indent=2), flush=True)


if __name__ == "__main__":
    main()
