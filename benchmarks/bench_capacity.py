"""Benchmark of feature capacity (issue 12): ``capacity.capacity`` / ``block_structure`` on large W.

    python benchmarks/bench_capacity.py [--features 8000] [--dim 256] [--repeats 3]

Peer, measured in the same run: the one-line formula of the papers' notebooks on the full Gram matrix,
``G = W Wᵀ; C = diag(G)² / (G²).sum(1)`` (numpy, float64) — the same numbers (checked to 1e-12), but an
n × n matrix in memory. neurosuper forms the Gram matrix in row chunks (64 MB each). Reported: best-of-N time and
peak traced memory (tracemalloc) of each. ``block_structure`` is timed on a planted block-diagonal W of the same
number of features (square antiprisms: blocks of 8 features in 3 dims, each rotated), with its planted block count
checked.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc

import numpy as np
from scipy.stats import ortho_group

from neurosuper import capacity


def _timed(fn, repeats: int) -> tuple[float, float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak / 2**20, out


def naive(w: np.ndarray) -> np.ndarray:
    g = w @ w.T
    return np.diag(g) ** 2 / (g**2).sum(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=8000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, d = args.features, args.dim
    w = np.random.default_rng(0).standard_normal((n, d))
    t_ours, m_ours, c = _timed(lambda: capacity.capacity(w).values, args.repeats)
    t_peer, m_peer, c_peer = _timed(lambda: naive(w), args.repeats)
    assert np.allclose(c, c_peer, rtol=1e-12, atol=0)
    n_blocks = n // 8
    prism = capacity.polytope("square_antiprism")  # 8 features in 3 dims, a tight frame (C = 3/8 each)
    planted = np.zeros((n_blocks * 8, n_blocks * 3))
    for k in range(n_blocks):
        planted[8 * k : 8 * k + 8, 3 * k : 3 * k + 3] = prism @ ortho_group.rvs(3, random_state=k)
    t_blocks, m_blocks, bs = _timed(lambda: capacity.block_structure(planted, tol=1e-6), 1)
    print(
        json.dumps(
            {
                "machine": platform.machine(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "W": [n, d],
                "capacity_s": round(t_ours, 3),
                "capacity_peak_MB": round(m_ours, 1),
                "notebook_formula_s": round(t_peer, 3),
                "notebook_formula_peak_MB": round(m_peer, 1),
                "ratio_time": round(t_ours / t_peer, 3),
                "ratio_memory": round(m_ours / m_peer, 3),
                "block_structure_W": list(planted.shape),
                "block_structure_s": round(t_blocks, 3),
                "block_structure_peak_MB": round(m_blocks, 1),
                "blocks_found": int(bs.sizes["block"]),
                "blocks_planted": n_blocks,
                "all_tight": bool(bs["tight"].values.all()),
                "capacity_sum_equals_dim": bool(abs(float(bs["total_capacity"]) - planted.shape[1]) < 1e-6),
            }
        )
    )


if __name__ == "__main__":
    main()
