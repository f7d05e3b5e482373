"""Kernels against their floor and a peer, in the same run (issue 22 §2).

    python benchmarks/bench_kernels.py all [--repeats 3]
    python benchmarks/bench_kernels.py spearman | cka | cvpca | pca [--repeats 3]

Every process here is limited to one BLAS/OpenMP thread (``OMP/OPENBLAS/MKL_NUM_THREADS=1`` set before numpy is
imported, and ``threadpoolctl``), for ours, the peer and the floor alike. Timings are wall-clock; each repeat
runs ours, the peer and the floor one after the other (interleaved: ABAB…), the table gives the medians over the
repeats and the ratios of the medians. On a shared machine the load changes during a run: compare ratios, not
seconds. A warm-up call of each side precedes the clock (the first touch of fresh memory is slow on VMs).

``spearman``: two condensed RDMs of 5,000 stimuli (12,497,500 pairs; correlation distance of 5,000 × 100
patterns, the second a noisy copy). Ours ``neurosuper.compare.rsakernels.similarity(x, y, "spearman")`` (what
``compare_rdms(method="spearman")`` runs, plus ``compare_rdms(..., n_boot=0)`` end to end on the RDM
DataArrays); peer rsatoolbox's ``compare(RDMs, RDMs, "spearman")`` on ``RDMs`` built from the same vectors before
the clock; floor two in-place ``np.sort`` of 64-bit integer copies of the vectors (the ranks need one sort each).
Bootstrap: per resample, ours ``SpearmanPlan.boot`` (weighted ranks, no re-sort) vs rsatoolbox's
``subsample_pattern`` + ``compare`` on the same drawn stimuli; every value checked equal to 1e-12.

``cka``: linear CKA of 5,000 × 2,048 vs 5,000 × 512 (float64 data), biased and debiased. Ours
``neurosuper.compare.cka(a, b, precision=…)``; peer Kornblith et al.'s ``feature_space_linear_cka`` (float64);
floor the products it cannot avoid, ``XᵀX``, ``YᵀY``, ``XᵀY`` of the centred data in float32 (and in float64).

``cvpca``: cvPCA at Stringer's scale (2 × 2,800 × 10,000 float32, 10 shuffles) — ours
``eigenspectrum(method="cvpca", n_shuffles=10)`` vs neuropop's ``shuff_cvPCA`` (GPL; ``pip install --no-deps
--target /tmp/neuropop-env neuropop``, as benchmarks/bench_spectral.py); floor 10 ``scipy.linalg.eigh`` of one
2,800² float32 stimulus Gram; α of both.

``pca``: ``directions.find(ds, "pca", 64)`` on 50,000 × 512 float32 vs ``sklearn.decomposition.PCA(64)`` on the
same array (as benchmarks/bench_directions.py), interleaved ABAB; floor one float32 ``XᵀX`` + ``eigh``.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import neurosuper as ns  # noqa: E402
from neurosuper import compare as cmp  # noqa: E402

ROWS: list[dict] = []


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _run(sides: dict, repeats: int, warm: bool = True) -> tuple[dict, dict]:
    """Interleaved repeats of each named callable: ``({name: [seconds]}, {name: last output})``."""
    times: dict = {k: [] for k in sides}
    outs: dict = {}
    if warm:
        for k, fn in sides.items():
            outs[k] = fn()
    for rep in range(repeats):
        for k, fn in sides.items():
            dt, outs[k] = _timed(fn)
            times[k].append(dt)
        print(
            f"  repeat {rep}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in times.items()), file=sys.stderr, flush=True
        )
    return times, outs


def _row(case: str, times: dict, ours: str, peer: str | None, floor: str | None, **extra) -> dict:
    med = {k: statistics.median(v) for k, v in times.items()}
    row = {
        "case": case,
        "ours": ours,
        "ours_s": med[ours],
        "peer_s": med[peer] if peer else None,
        "floor_s": med[floor] if floor else None,
        "speedup_vs_peer": med[peer] / med[ours] if peer else None,
        "ours_over_floor": med[ours] / med[floor] if floor else None,
        "times": {k: [round(t, 4) for t in v] for k, v in times.items()},
        **extra,
    }
    ROWS.append(row)
    return row


# -------------------------------------------------------------------------------------------------- spearman
def _rdm_vectors(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pat = rng.normal(size=(n, 100))
    noisy = pat + rng.normal(size=pat.shape)
    iu = np.triu_indices(n, 1)
    out = []
    for p in (pat, noisy):
        out.append((1 - np.corrcoef(p))[iu])
    return out[0], out[1]


def bench_spearman(repeats: int, n: int = 5000, n_boot_peer: int = 1) -> None:
    import rsatoolbox as rsa

    from neurosuper.compare.rsakernels import SpearmanPlan, bootstrap_counts, similarity

    x, y = _rdm_vectors(n)
    ra, rb = rsa.rdm.RDMs(x[None]), rsa.rdm.RDMs(y[None])
    kx, ky = x.view(np.uint64).copy(), y.view(np.uint64).copy()
    buf = np.empty_like(kx)

    def floor():
        for k in (kx, ky):
            np.copyto(buf, k)
            buf.sort()

    print(f"spearman: {x.size:,} pairs", file=sys.stderr, flush=True)

    def ours(n_threads: int):
        with ns.threads(n_threads):
            return similarity(x, y, "spearman")

    times, outs = _run(
        {
            "ours": lambda: ours(1),
            "ours, 2 threads": lambda: ours(2),
            "rsatoolbox": lambda: float(rsa.rdm.compare(ra, rb, "spearman")[0, 0]),
            "floor": floor,
        },
        repeats,
    )
    diff = abs(outs["ours"] - outs["rsatoolbox"])
    assert diff < 1e-12, diff
    assert outs["ours, 2 threads"] == outs["ours"]
    for side in ("ours", "ours, 2 threads"):
        _row(
            f"Spearman ρ of two {n:,}-stimulus RDMs ({x.size:,} pairs) vs rsatoolbox compare ({side}; "
            "floor: two in-place np.sort of the 64-bit patterns, one thread)",
            times,
            side,
            "rsatoolbox",
            "floor",
            value=outs[side],
            abs_diff=diff,
        )
    # end to end on RDM DataArrays (align, condensed, checks) with n_boot=0
    stim = np.arange(n)
    from scipy.spatial.distance import squareform

    da = cmp.as_rdm(squareform(x), stimulus=stim, metric="correlation")
    db = cmp.as_rdm(squareform(y), stimulus=stim, metric="correlation")

    def end_to_end(n_threads: int) -> float:
        with ns.threads(n_threads):
            return float(cmp.compare_rdms(da, db, n_boot=0)["value"])

    times, outs = _run(
        {
            "ours": lambda: end_to_end(1),
            "ours, 2 threads": lambda: end_to_end(2),
            "rsatoolbox": lambda: float(rsa.rdm.compare(ra, rb, "spearman")[0, 0]),
        },
        repeats,
    )
    for side in ("ours", "ours, 2 threads"):
        _row(
            f"compare_rdms(n_boot=0) end to end, {n:,} stimuli, vs rsatoolbox compare ({side})",
            times,
            side,
            "rsatoolbox",
            None,
            abs_diff=abs(outs[side] - outs["rsatoolbox"]),
        )
    # bootstrap: per resample
    counts = bootstrap_counts(n, max(4, n_boot_peer), 0)
    plan = SpearmanPlan(x, y[None])

    def ours_boot():
        return plan.boot(counts[:4])

    def peer_boot():
        out = []
        for k in range(n_boot_peer):
            idx = np.repeat(np.arange(n), counts[k])
            sa, sb = ra.subsample_pattern("index", idx), rb.subsample_pattern("index", idx)
            out.append(rsa.rdm.compare(sa, sb, "spearman")[0, 0])
        return np.array(out)

    times, outs = _run({"ours (4 resamples)": ours_boot, "rsatoolbox": peer_boot}, repeats, warm=False)
    diff = float(np.abs(outs["ours (4 resamples)"][:n_boot_peer] - outs["rsatoolbox"]).max())
    assert diff < 1e-12, diff
    per = {
        "ours": [t / 4 for t in times["ours (4 resamples)"]],
        "rsatoolbox": [t / n_boot_peer for t in times["rsatoolbox"]],
    }
    _row(
        f"bootstrap Spearman, per resample, {n:,} stimuli, vs rsatoolbox subsample_pattern + compare",
        per,
        "ours",
        "rsatoolbox",
        None,
        abs_diff=diff,
    )


# ------------------------------------------------------------------------------------------------------ main
# ------------------------------------------------------------------------------------------------------- CKA
def _kornblith_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al. 2019's ``feature_space_linear_cka`` (their reference code, biased), float64."""
    x = x - np.mean(x, 0, keepdims=True)
    y = y - np.mean(y, 0, keepdims=True)
    return float(np.linalg.norm(x.T.dot(y)) ** 2 / (np.linalg.norm(x.T.dot(x)) * np.linalg.norm(y.T.dot(y))))


def bench_cka(repeats: int) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5000, 2048))
    y = np.tanh(x[:, :512] @ rng.normal(size=(512, 512)) / 16) + 0.3 * rng.normal(size=(5000, 512))
    a = ns.from_array(x, system="network", measure="activation")
    b = ns.from_array(y, system="network", measure="activation")
    xc, yc = x - x.mean(0), y - y.mean(0)
    x32, y32 = xc.astype(np.float32), yc.astype(np.float32)

    def ours(precision):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(cmp.cka(a, b, precision=precision, progress=False)["cka"])

    print("cka: 5,000 × 2,048 vs 5,000 × 512", file=sys.stderr, flush=True)
    times, outs = _run(
        {
            "ours float64": lambda: ours("float64"),
            "ours float32": lambda: ours("float32"),
            "Kornblith float64": lambda: _kornblith_cka(x, y),
            "floor float32": lambda: (x32.T @ x32, y32.T @ y32, x32.T @ y32),
            "floor float64": lambda: (xc.T @ xc, yc.T @ yc, xc.T @ yc),
        },
        repeats,
    )
    ref = outs["Kornblith float64"]
    for prec in ("float64", "float32"):
        _row(
            f"linear CKA 5,000 × 2,048 vs 5,000 × 512, precision={prec} vs Kornblith's float64 reference "
            f"(floor: the three products in {prec})",
            times,
            f"ours {prec}",
            "Kornblith float64",
            f"floor {prec}",
            value=outs[f"ours {prec}"],
            abs_diff_vs_reference=abs(outs[f"ours {prec}"] - ref),
        )


# ----------------------------------------------------------------------------------------------------- cvPCA
def bench_cvpca(repeats: int, n: int = 2800, p: int = 10_000, shuffles: int = 10) -> None:
    from scipy.linalg import eigh

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_spectral import _neuropop, _stringer_data

    from neurosuper import spectral

    nd = _neuropop()
    x = _stringer_data(n, p)
    ds = ns.from_array(x, system="brain", measure="dff")
    g = ((x[0] @ x[0].T) / n).astype(np.float32)
    state = {"rep": 0}

    def ours():
        spec = spectral.eigenspectrum(ds, method="cvpca", n_shuffles=shuffles, seed=0, progress=False)
        return float(spectral.powerlaw(spec)["alpha"])

    def theirs():
        import xarray as xr

        np.random.seed(state["rep"])  # noqa: NPY002 -- neuropop draws its swaps from numpy's global generator
        state["rep"] += 1
        mean = nd.shuff_cvPCA(x, nshuff=shuffles).mean(axis=0) / n
        da = xr.DataArray(mean, dims="rank", coords={"rank": np.arange(1, len(mean) + 1)})
        return float(spectral.powerlaw(da)["alpha"])

    def floor():
        for _ in range(shuffles):
            eigh(g, check_finite=False, driver="evd")

    def floor_with_product():  # each shuffle also needs G₁₂ᵀV (n × n × n) for the cross-validated projections
        for _ in range(shuffles):
            _, vecs = eigh(g, check_finite=False, driver="evd")
            g.T @ vecs

    sides = {"ours": ours, "floor": floor, "floor eigh + product": floor_with_product}
    if nd is not None:
        sides["neuropop"] = theirs
    print(f"cvpca: 2 × {n:,} × {p:,}, {shuffles} shuffles", file=sys.stderr, flush=True)
    times, outs = _run(sides, repeats, warm=False)
    _row(
        f"cvPCA 2 × {n:,} × {p:,} float32, {shuffles} shuffles vs neuropop shuff_cvPCA "
        f"(floor: {shuffles} × eigh of the {n:,}² float32 Gram)",
        times,
        "ours",
        "neuropop" if nd is not None else None,
        "floor",
        alpha_ours=outs["ours"],
        alpha_neuropop=outs.get("neuropop"),
        ours_over_floor_with_product=statistics.median(times["ours"])
        / statistics.median(times["floor eigh + product"]),
    )


# ------------------------------------------------------------------------------------------------------- PCA
def bench_pca(repeats: int) -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    n, d, k = 50_000, 512, 64
    x = rng.standard_normal((n, 48), dtype=np.float32) @ rng.standard_normal((48, d), dtype=np.float32)
    x += 0.5 * rng.standard_normal((n, d), dtype=np.float32)
    ds = ns.from_array(x, system="network", measure="activation")

    def floor():
        c = x.T @ x
        return np.linalg.eigh(c)

    print("pca: 50,000 × 512 float32, 64 directions", file=sys.stderr, flush=True)
    times, outs = _run(
        {
            "find": lambda: ns.directions.find(ds, "pca", k),
            "sklearn": lambda: PCA(n_components=k, random_state=0).fit(x),
            "floor": floor,
        },
        max(repeats, 7),
    )
    diff = float(np.abs(np.abs(outs["find"].values) - np.abs(outs["sklearn"].components_)).max())
    _row(
        "directions.find(ds, 'pca', 64) on 50,000 × 512 float32 vs sklearn PCA(64).fit (floor: XᵀX + eigh)",
        times,
        "find",
        "sklearn",
        "floor",
        max_abs_diff_up_to_sign=diff,
        find_over_sklearn=statistics.median(times["find"]) / statistics.median(times["sklearn"]),
    )


def _fmt(v, unit=""):
    return "—" if v is None else f"{v:.3g}{unit}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("case", choices=["all", "spearman", "cka", "cvpca", "pca"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args()
    from threadpoolctl import threadpool_limits

    cases = {name: globals()[f"bench_{name}"] for name in ("spearman", "cka", "cvpca", "pca")}
    load0 = os.getloadavg()
    with threadpool_limits(1):
        for name, fn in cases.items():
            if args.case in ("all", name):
                fn(args.repeats)
    machine = {
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas_threads": 1,
        "load_average_start": [round(v, 2) for v in load0],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
    }
    print("| case | ours (median s) | peer (median s) | floor (median s) | peer / ours | ours / floor |")
    print("|---|---|---|---|---|---|")
    for r in ROWS:
        print(
            f"| {r['case']} | {_fmt(r['ours_s'])} | {_fmt(r['peer_s'])} | {_fmt(r['floor_s'])} | "
            f"{_fmt(r['speedup_vs_peer'], '×')} | {_fmt(r['ours_over_floor'])} |"
        )
    print(json.dumps(machine))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": ROWS, "machine": machine}, indent=2, default=float))


if __name__ == "__main__":
    warnings.simplefilter("default")
    main()
