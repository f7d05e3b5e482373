"""Benchmarks of the toy models (issue 12): neurosuper.toy against a plain batched PyTorch loop of the same model.

    python benchmarks/bench_toy.py                       # both benchmarks, paper sizes
    python benchmarks/bench_toy.py --only pentagon --repeats 3
    python benchmarks/bench_toy.py --only sweep --sweep-steps 1000

``pentagon``: Elhage et al.'s ReLU-output model, n = 5, m = 2, density 0.05, 10,000 AdamW steps (lr 1e-3), batch
1,024, 8 seeds as one batched model. ``sweep``: n = 20, m = 5, importance 0.7^i, 20 densities (1 … 0.01,
geometric) × 8 seeds = 160 instances as one batched model, batch 1,024, ``--sweep-steps`` steps (default 1,000 —
each step moves 3.3 M inputs; 10,000 steps would take ~10× as long on both sides, the ratio does not depend on it).

Peer: the reference notebook's loop written plainly in PyTorch — ``torch.rand`` batches, ``x' = ReLU(x W Wᵀ + b)``
with batched ``matmul``, the importance-weighted MSE, ``loss.backward()``, ``torch.optim.AdamW`` — in float64 (our
precision) and float32, with one intra-op thread; the ratio is taken against the FASTEST of those torch variants.
torch's default threads are far slower on a busy machine (they spin waiting for each other), so that variant is
timed on a short run (pentagon 200 steps, sweep 1/50 of the steps), scaled, and reported outside the ratio.
neurosuper's time is ``toy.train`` / ``toy.sweep`` (numpy backend) end to end,
including its final loss on 16,384 fresh samples per instance and the capacities. Both sides' results are checked:
the pentagon's capacities (0.4 ± 0.03) from each. Interleaved repeats, best time of each; wall-clock time decides
the ratio, and the CPU time of the process (``time.process_time``; torch runs one thread) is reported beside it,
since on a shared machine the wall clock also measures the neighbours.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from neurosuper import toy
from neurosuper.capacity.geometry import capacities


def torch_loop(
    n: int,
    m: int,
    density: np.ndarray,
    importance: np.ndarray,
    *,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    dtype: str,
    threads: int | None,
) -> tuple[float, float, np.ndarray]:
    """(wall seconds, CPU seconds, W (I, n, m)) of a plain batched PyTorch training loop of Elhage's ReLU-output
    model."""
    import torch

    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        dt = {"float64": torch.float64, "float32": torch.float32}[dtype]
        torch.manual_seed(seed)
        n_inst = len(density)
        w = torch.empty(n_inst, n, m, dtype=dt)
        torch.nn.init.normal_(w, std=float(np.sqrt(2 / (n + m))))
        w.requires_grad_(True)
        b = torch.zeros(n_inst, n, dtype=dt, requires_grad=True)
        opt = torch.optim.AdamW([w, b], lr=lr, weight_decay=0.01)
        p = torch.tensor(density, dtype=dt)[:, None, None]
        imp = torch.tensor(importance, dtype=dt)[:, None, :]
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            feat = torch.rand(n_inst, batch, n, dtype=dt)
            x = torch.where(torch.rand(n_inst, batch, n, dtype=dt) <= p, feat, torch.zeros((), dtype=dt))
            out = torch.relu((x @ w) @ w.transpose(1, 2) + b[:, None, :])
            loss = (imp * (x - out) ** 2).mean(dim=(1, 2)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return seconds, cpu, w.detach().double().numpy()
    finally:
        torch.set_num_threads(old)


def run_pentagon(repeats: int) -> dict:
    n, m, seeds, steps, batch = 5, 2, 8, 10_000, 1024
    dens, imp = np.full(seeds, 0.05), np.ones((seeds, n))
    ours, ours_cpu, peers, peers_cpu = [], [], {}, {}
    ours_caps = peer_caps = None
    variants = [("float64", 1), ("float32", 1)]
    for rep in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        r = toy.train(n, m, density=0.05, n_seeds=seeds, steps=steps, batch_size=batch, seed=rep, progress=False)
        ours.append(time.perf_counter() - t0)
        ours_cpu.append(time.process_time() - c0)
        ours_caps = r["capacity"].values
        for dtype, threads in variants:
            secs, cpu, w = torch_loop(
                n, m, dens, imp, steps=steps, batch=batch, lr=1e-3, seed=rep, dtype=dtype, threads=threads
            )
            peers.setdefault(f"torch {dtype}, {threads or 'default'} thread(s)", []).append(secs)
            peers_cpu.setdefault(f"torch {dtype}, {threads or 'default'} thread(s)", []).append(cpu)
            if dtype == "float64":
                best_inst = np.argmax([abs(capacities(wi) - 0.4).max() < 0.03 for wi in w])
                peer_caps = capacities(w[best_inst])
    short = 200  # torch's default intra-op threads: timed on a short run, scaled to the full length
    secs, _, _ = torch_loop(n, m, dens, imp, steps=short, batch=batch, lr=1e-3, seed=0, dtype="float64", threads=None)
    extrapolated = {
        f"torch float64, default threads ({short} steps x {steps // short})": round(secs * steps / short, 2)
    }
    best_peer = min(peers, key=lambda k: min(peers[k]))
    return {
        "benchmark": "pentagon",
        "n": n,
        "m": m,
        "seeds": seeds,
        "steps": steps,
        "batch": batch,
        "neurosuper_s": round(min(ours), 2),
        "peers_s": {k: round(min(v), 2) for k, v in peers.items()},
        "fastest_peer": best_peer,
        "ratio": round(min(ours) / min(peers[best_peer]), 3),
        "neurosuper_cpu_s": round(min(ours_cpu), 2),
        "peers_cpu_s": {k: round(min(v), 2) for k, v in peers_cpu.items()},
        "cpu_ratio": round(min(ours_cpu) / min(min(v) for v in peers_cpu.values()), 3),
        "not_in_ratio": extrapolated,
        "neurosuper_capacities": np.round(ours_caps, 3).tolist(),
        "torch_capacities (a pentagon seed)": np.round(peer_caps, 3).tolist(),
    }


def run_sweep(repeats: int, steps: int) -> dict:
    n, m, seeds, batch = 20, 5, 8, 1024
    densities = np.geomspace(1.0, 0.01, 20)
    dens = np.repeat(densities, seeds)
    imp = np.tile(0.7 ** np.arange(n), (len(dens), 1))
    ours, ours_cpu, peers, peers_cpu = [], [], {}, {}
    variants = [("float64", 1), ("float32", 1)]
    for rep in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        s = toy.sweep(
            n,
            m,
            density=list(densities),
            importance_ratio=[0.7],
            n_seeds=seeds,
            steps=steps,
            batch_size=batch,
            seed=rep,
            progress=False,
        )
        ours.append(time.perf_counter() - t0)
        ours_cpu.append(time.process_time() - c0)
        for dtype, threads in variants:
            secs, cpu, _ = torch_loop(
                n, m, dens, imp, steps=steps, batch=batch, lr=1e-3, seed=rep, dtype=dtype, threads=threads
            )
            peers.setdefault(f"torch {dtype}, {threads or 'default'} thread(s)", []).append(secs)
            peers_cpu.setdefault(f"torch {dtype}, {threads or 'default'} thread(s)", []).append(cpu)
    short = max(1, steps // 50)  # default threads: a short run, scaled (see the pentagon)
    secs, _, _ = torch_loop(n, m, dens, imp, steps=short, batch=batch, lr=1e-3, seed=0, dtype="float64", threads=None)
    extrapolated = {
        f"torch float64, default threads ({short} steps x {steps / short:g})": round(secs * steps / short, 2)
    }
    best_peer = min(peers, key=lambda k: min(peers[k]))
    c = s["capacity"].isel(importance_ratio=0).values
    return {
        "benchmark": "sweep",
        "n": n,
        "m": m,
        "densities": 20,
        "seeds": seeds,
        "instances": len(dens),
        "steps": steps,
        "batch": batch,
        "neurosuper_s": round(min(ours), 2),
        "peers_s": {k: round(min(v), 2) for k, v in peers.items()},
        "fastest_peer": best_peer,
        "ratio": round(min(ours) / min(peers[best_peer]), 3),
        "not_in_ratio": extrapolated,
        "neurosuper_cpu_s": round(min(ours_cpu), 2),
        "peers_cpu_s": {k: round(min(v), 2) for k, v in peers_cpu.items()},
        "cpu_ratio": round(min(ours_cpu) / min(min(v) for v in peers_cpu.values()), 3),
        "capacity_sum_dense_vs_sparsest": [round(float(c[0].sum()), 2), round(float(c[-1].sum()), 2)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["pentagon", "sweep"])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--sweep-steps", type=int, default=1000)
    args = ap.parse_args()
    import torch

    print(
        json.dumps(
            {
                "machine": platform.machine(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
            }
        )
    )
    if args.only in (None, "pentagon"):
        print(json.dumps(run_pentagon(args.repeats)), flush=True)
    if args.only in (None, "sweep"):
        print(json.dumps(run_sweep(args.repeats, args.sweep_steps)), flush=True)


if __name__ == "__main__":
    main()
