"""How cost grows (issue 22 §3): time and peak memory of the main analyses at three sizes, and the fitted exponent.

    python benchmarks/bench_scaling.py all [--repeats 1] [--json out.json] [--figure benchmarks/scaling.png]
    python benchmarks/bench_scaling.py pca cvpca ii_units ...     # some cases only
    python benchmarks/bench_scaling.py point <case> <size>        # one point in this process (what `all` spawns)

Every point runs in a **fresh subprocess** with ``OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = 1``
(and torch's threads 1), so BLAS threads never compete with the rest of a shared machine and the points are
comparable. Inside the child: the seeded data are built, the call is run once untimed on a small set of the same
shape family (imports, lazy initialisation, scikit-learn/threadpool start-up are not in the timing), the kernel's
peak-RSS mark is reset (``/proc/self/clear_refs`` ← 5), then the call is timed (wall ``perf_counter``, CPU
``process_time``) and the peak RSS read from ``/proc/self/status`` (``VmHWM``; it sees BLAS and every other
allocation, which ``tracemalloc`` does not). Memory is reported as the **peak during the call above the RSS just
before it** (the input set is already resident; the child runs with a fixed glibc mmap threshold and a
``malloc_trim`` before the call, so freed arrays are not recycled inside the heap out of RSS's sight) and as the
whole process's peak. With ``--repeats R`` each point runs in R fresh processes and the minimum of each measure
is kept (on a busy machine the minimum is the least disturbed).

The exponent is the least-squares slope of log(cost) on log(size) over the three sizes; ``last`` is the slope
between the two largest sizes (closest to the asymptote). The verdict uses CPU seconds: every point is
single-threaded, so CPU time is the work done, while wall time on a shared machine also counts the time other
jobs held the core. Each case names the scaled variable, what is held fixed, and the algorithm's expected
exponent. ``--from-json a.json b.json`` redraws the table and figure (a later file's case replaces an earlier's).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class Case:
    name: str  # row label
    variable: str  # what grows
    sizes: tuple[int, int, int]
    warm: int  # the warm-up size
    fixed: str  # what is held fixed, and the options
    expected_time: str  # the algorithm's exponent (text)
    expected_slope: float  # the reference line drawn in the figure
    expected_memory: str
    build: Callable[[int], Any]  # size -> input
    run: Callable[[Any], Any]  # input -> result


# --------------------------------------------------------------------------------------------------- inputs
def _set(x: np.ndarray, **kw: Any) -> Any:
    import neurosuper as ns

    return ns.from_array(x, system="network", measure="activation", **kw)


def _spectrum_data(n: int, p: int, *, repeats: int = 0, seed: int = 0) -> np.ndarray:
    """Responses with a power-law (alpha = 1) signal spectrum plus noise: (stimulus, unit) or (repeat, ...)."""
    rng = np.random.default_rng(seed)
    r = min(n, p, 256)
    basis = np.linalg.qr(rng.standard_normal((p, r)))[0]  # (p, r) orthonormal
    sig = rng.standard_normal((n, r)) * np.arange(1, r + 1) ** -0.5
    s = sig @ basis.T
    if not repeats:
        return s + 0.1 * rng.standard_normal((n, p))
    return np.stack([s + 0.3 * rng.standard_normal((n, p)) for _ in range(repeats)])


def _ii_input(n: int, p: int) -> Any:
    rng = np.random.default_rng(1)
    feats = rng.standard_normal((n, 32))
    w = rng.standard_normal((32, p))
    x = np.maximum(feats @ w + rng.standard_normal((n, p)), 0)
    import xarray as xr

    stim = xr.DataArray(feats, dims=("stimulus", "feature"))
    return _set(x, stimuli=stim)


def _planted(n: int, p: int, n_features: int) -> Any:
    from neurosuper.directions.simulate import planted_superposition

    return planted_superposition(n_features=n_features, n_units=p, n_samples=n, p_active=5 / n_features, seed=0)[0]


def _rdm_input(n: int) -> Any:
    return _set(np.random.default_rng(2).standard_normal((n, 1000)))


def _two_rdms(n: int) -> Any:
    from neurosuper import compare as cmp

    rng = np.random.default_rng(3)
    z = rng.standard_normal((n, 50))
    a = _set(np.hstack([z, rng.standard_normal((n, 50))]))
    b = _set(np.hstack([z, 2 * rng.standard_normal((n, 50))]))
    return cmp.rdm(a, progress=False), cmp.rdm(b, progress=False)


def _pair(n: int, pa: int, pb: int) -> Any:
    rng = np.random.default_rng(4)
    z = rng.standard_normal((n, 64))
    a = z @ rng.standard_normal((64, pa)) + rng.standard_normal((n, pa))
    b = z @ rng.standard_normal((64, pb)) + rng.standard_normal((n, pb))
    return _set(a), _set(b)


# ---------------------------------------------------------------------------------------------------- cases
def _cases() -> dict[str, Case]:
    def spectral():
        from neurosuper import spectral

        return spectral

    def compare():
        from neurosuper import compare

        return compare

    def find(ds: Any, method: str, **kw: Any) -> Any:
        from neurosuper import directions

        return directions.find(ds, method, groupby=None, **kw)

    def interpret():
        from neurosuper import interpret

        return interpret

    return {
        "pca": Case(
            "eigenspectrum (PCA)",
            "units",
            (500, 1000, 2000),
            100,
            "4,000 stimuli, unit side (units < stimuli)",
            "n·p² + p³ → 2 to 3",
            2.0,
            "n·p + p² → 1 to 2",
            lambda p: _set(_spectrum_data(4000, p)),
            lambda ds: spectral().eigenspectrum(ds, method="pca", progress=False),
        ),
        "cvpca": Case(
            "eigenspectrum (cvPCA)",
            "stimuli",
            (1000, 4000, 16000),
            200,
            "500 units, 2 repeats, 10 shuffles (defaults)",
            "n·p² per shuffle → 1",
            1.0,
            "n·p → 1",
            lambda n: _set(_spectrum_data(n, 500, repeats=2)),
            lambda ds: spectral().eigenspectrum(ds, method="cvpca", progress=False),
        ),
        "ii_units": Case(
            "interpretability_index",
            "units",
            (1000, 4000, 16000),
            50,
            "2,000 stimuli, 32 features (cosine), k = 5, random-stimulus null (defaults)",
            "n·p (top-k) + p·k² → 1",
            1.0,
            "n·p → 1",
            lambda p: _ii_input(2000, p),
            lambda ds: interpret().interpretability_index(ds, similarity="features", progress=False),
        ),
        "ii_stimuli": Case(
            "interpretability_index",
            "stimuli",
            (2000, 8000, 32000),
            200,
            "1,000 units, 32 features (cosine), k = 5, random-stimulus null (defaults)",
            "n·p (top-k) → 1",
            1.0,
            "n·p → 1",
            lambda n: _ii_input(n, 1000),
            lambda ds: interpret().interpretability_index(ds, similarity="features", progress=False),
        ),
        "kmeans": Case(
            "find kmeans",
            "stimuli",
            (2000, 8000, 32000),
            200,
            "64 units, 64 directions, n_init = 10, planted set (128 features)",
            "n·k·p·iters → 1",
            1.0,
            "n·p → 1",
            lambda n: _planted(n, 64, 128),
            lambda ds: find(ds, "kmeans"),
        ),
        "sae": Case(
            "find sae",
            "units",
            (64, 128, 256),
            16,
            "10,000 stimuli, 2× latents, 2,000 steps of 128 (defaults), planted set (2× units features)",
            "steps·batch·k·p, k = 2p → 2",
            2.0,
            "n·p + k·p → 1 to 2",
            lambda p: _planted(10000, p, 2 * p),
            lambda ds: find(ds, "sae", progress=False),
        ),
        "rdm": Case(
            "rdm (correlation)",
            "stimuli",
            (1000, 2000, 4000),
            100,
            "1,000 units",
            "n²·p → 2",
            2.0,
            "n² (the RDM itself) → 2",
            _rdm_input,
            lambda ds: compare().rdm(ds, progress=False),
        ),
        "rsa": Case(
            "compare_rdms (spearman)",
            "stimuli",
            (500, 1000, 2000),
            50,
            "n_boot = 50",
            "n_boot·n² log n → 2 (+log)",
            2.0,
            "n² → 2",
            _two_rdms,
            lambda ab: compare().compare_rdms(ab[0], ab[1], method="spearman", n_boot=50),
        ),
        "cka": Case(
            "cka (linear)",
            "stimuli",
            (5000, 20000, 80000),
            200,
            "512 vs 256 units, biased",
            "n·(p_a + p_b)² → 1",
            1.0,
            "n·p → 1",
            lambda n: _pair(n, 512, 256),
            lambda ab: compare().cka(ab[0], ab[1], progress=False),
        ),
        "predictivity": Case(
            "predictivity (ridge)",
            "stimuli",
            (1000, 4000, 16000),
            200,
            "256 network units → 64 neurons, 10 folds, RidgeCV over the default alphas",
            "folds·n·p² → 1",
            1.0,
            "n·p → 1",
            lambda n: _pair(n, 256, 64),
            lambda ab: compare().predictivity(ab[0], ab[1], progress=False),
        ),
    }


# ---------------------------------------------------------------------------------------------- one point
def _status(key: str) -> int:
    """A ``/proc/self/status`` field in bytes (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def run_point(key: str, size: int) -> dict[str, Any]:
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    case = _cases()[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings (e.g. a capped n_directions) are not what is measured
        case.run(case.build(case.warm))  # imports and lazy initialisation, untimed
        data = case.build(size)
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed heap back: RSS = what is live
        before = _status("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
            f.write("5")
        t0, c0 = time.perf_counter(), time.process_time()
        case.run(data)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status("VmHWM")
    return {
        "case": key,
        "size": size,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_above_mb": max(peak - before, 0) / 2**20,
        "rss_before_mb": before / 2**20,
        "peak_rss_mb": peak / 2**20,
    }


def _spawn(key: str, size: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.update({v: "1" for v in THREAD_VARS})
    env["NEUROSUPER_THREADS"] = "1"
    # a fixed mmap threshold: every large array is its own mapping, returned to the system when freed, so the peak
    # RSS counts what is live (glibc's adaptive threshold would otherwise recycle freed arrays inside the heap)
    env["MALLOC_MMAP_THRESHOLD_"] = str(1 << 20)
    out = subprocess.run(
        [sys.executable, __file__, "point", key, str(size)], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise RuntimeError(f"{key} at {size} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------- analysis
def slope(x: list[float], y: list[float]) -> tuple[float, float]:
    """(least-squares slope of log y on log x, slope between the two largest x)."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.maximum(np.asarray(y, float), 1e-9))
    return float(np.polyfit(lx, ly, 1)[0]), float((ly[-1] - ly[-2]) / (lx[-1] - lx[-2]))


def _fmt_sizes(sizes: list[int]) -> str:
    return " / ".join(f"{s // 1000}k" if s >= 1000 and s % 1000 == 0 else str(s) for s in sizes)


def _series(pts: list[dict[str, Any]], key: str) -> list[float]:
    return [r[key] for r in pts]


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: CPU seconds (the work: one thread, so CPU time is what other jobs cannot inflate as
    much as wall time) with its exponent, wall seconds with theirs, peak memory above the input with its exponent."""
    cases = _cases()
    lines = [
        "| analysis | grows | sizes | fixed | CPU s | **CPU exp.** (last pair) | wall s | wall exp. | expected "
        "(time) | peak above input, MB | memory exp. (last) | expected (memory) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in dict.fromkeys(r["case"] for r in rows):
        pts = sorted((r for r in rows if r["case"] == key), key=lambda r: r["size"])
        c = cases[key]
        sizes = _series(pts, "size")
        cpu, wall, mem = _series(pts, "cpu_s"), _series(pts, "wall_s"), _series(pts, "peak_above_mb")
        sc, sc_last = slope(sizes, cpu)
        sw, _ = slope(sizes, wall)
        sm, sm_last = slope(sizes, mem)
        lines.append(
            f"| {c.name} | {c.variable} | {_fmt_sizes(sizes)} | {c.fixed} | "
            + " / ".join(f"{v:.3g}" for v in cpu)
            + f" | **{sc:.2f}** ({sc_last:.2f}) | "
            + " / ".join(f"{v:.3g}" for v in wall)
            + f" | {sw:.2f} | {c.expected_time} | "
            + " / ".join(f"{m:.0f}" for m in mem)
            + f" | {sm:.2f} ({sm_last:.2f}) | {c.expected_memory} |"
        )
    return "\n".join(lines)


def figure(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cases = _cases()
    keys = list(dict.fromkeys(r["case"] for r in rows))
    ncol = 4 if len(keys) > 6 else 3
    nrow = -(-len(keys) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.6 * nrow), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        c = cases[key]
        pts = sorted((r for r in rows if r["case"] == key), key=lambda r: r["size"])
        x = np.array([r["size"] for r in pts], float)
        t = np.array([r["wall_s"] for r in pts])
        cpu = np.array([r["cpu_s"] for r in pts])
        m = np.array([r["peak_above_mb"] for r in pts])
        st, _ = slope(list(x), list(t))
        sc, _ = slope(list(x), list(cpu))
        ax.loglog(x, cpu, "o-", color="C0", label=f"CPU time (slope {sc:.2f})")
        ax.loglog(x, t, "^-", color="C2", alpha=0.7, label=f"wall time (slope {st:.2f})")
        ax.loglog(
            x,
            cpu[0] * (x / x[0]) ** c.expected_slope,
            ":",
            color="C0",
            alpha=0.6,
            label=f"slope {c.expected_slope:g} (algorithm)",
        )
        ax.set_xlabel(f"{c.variable} (count)")
        ax.set_ylabel("time (s)", color="C0")
        ax.set_title(f"{c.name}: {c.variable} grow", fontsize=10)
        ax2 = ax.twinx()
        sm, _ = slope(list(x), list(m))
        m = np.maximum(m, 1e-1)
        ax2.loglog(x, m, "s--", color="C3", label=f"peak memory above input (slope {sm:.2f})")
        ax2.set_ylabel("peak memory above input (MB)", color="C3")
        # both y axes span the same number of decades: equal visual slopes are equal exponents
        times = np.concatenate([cpu, t])
        span = max(np.log10(times.max() / times.min()), np.log10(m.max() / m.min()), 1.5) + 0.5
        for axis, vals in ((ax, times), (ax2, m)):
            mid = 0.5 * (np.log10(vals.max()) + np.log10(vals.min()))
            axis.set_ylim(10 ** (mid - span / 2), 10 ** (mid + span / 2))
        ax.set_xticks(x, [_fmt_sizes([int(v)]) for v in x])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlim(x[0] / 1.4, x[-1] * 1.4)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left")
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(
        "How cost grows (log-log): one fresh process per point, BLAS/OpenMP/torch threads = 1, "
        "on a busy shared 2-core machine; dotted: the algorithm's slope through the first CPU point",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="+", help="'all', case names, or 'point <case> <size>'")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--figure", default=None)
    ap.add_argument(
        "--from-json",
        nargs="+",
        default=None,
        help="redraw the table and figure from --json files; a later file's case replaces an earlier one's",
    )
    a = ap.parse_args()
    if a.from_json:
        merged: dict[str, list[dict[str, Any]]] = {}
        for path in a.from_json:
            with open(path) as f:
                saved = json.load(f)
            print(path, json.dumps(saved["meta"]))
            for key in dict.fromkeys(r["case"] for r in saved["rows"]):
                merged[key] = [r for r in saved["rows"] if r["case"] == key]
        order = [k for k in _cases() if k in merged]
        rows = [r for k in order for r in merged[k]]
        print(table(rows))
        if a.figure:
            figure(rows, a.figure)
        return
    if a.what[0] == "point":
        print(json.dumps(run_point(a.what[1], int(a.what[2]))))
        return
    keys = list(_cases()) if a.what == ["all"] else a.what
    rows = []
    t_all = time.perf_counter()
    for key in keys:
        for size in _cases()[key].sizes:
            runs = [_spawn(key, size) for _ in range(a.repeats)]
            best = min(runs, key=lambda r: r["cpu_s"])
            best["wall_s"] = min(r["wall_s"] for r in runs)
            best["peak_above_mb"] = min(r["peak_above_mb"] for r in runs)
            best["wall_all_s"] = [round(r["wall_s"], 3) for r in runs]
            best["cpu_all_s"] = [round(r["cpu_s"], 3) for r in runs]
            rows.append(best)
            print(json.dumps(best), flush=True)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    meta = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "load_average_at_end": load,
        "threads": "OMP/OPENBLAS/MKL/NUMEXPR/torch = 1",
        "repeats": a.repeats,
        "total_s": round(time.perf_counter() - t_all, 1),
    }
    print(json.dumps(meta))
    print(table(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    if a.figure:
        figure(rows, a.figure)


if __name__ == "__main__":
    main()
