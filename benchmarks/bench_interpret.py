"""Benchmark: interpretability index vs its floor, one ``np.argpartition`` top-k pass (issue 6).

    python benchmarks/bench_interpret.py                      # 4,096 units x 50,000 stimuli, 512-d features
    python benchmarks/bench_interpret.py --units 512 --stimuli 5000 --features 64   # quick
    python benchmarks/bench_interpret.py --images            # cost of the near-duplicate MEI check (issue 10)

Both sides get the same float32 responses in unit-contiguous layout (a (unit, stimulus) C array; the ResponseSet
holds its (stimulus, unit) transpose view, no copy). The floor is ``np.argpartition(R, n - k, axis=1)``; the
measured call is the whole ``interpretability_index(ds, similarity="features", k=5)`` (validation, exact top-k
with deterministic ties, gathering the MEIs' features and their k x k distances). Best of ``--repeats`` runs each,
interleaved. Peak traced memory of the call is reported against the size a stimulus x stimulus matrix would have.
Both calls pass ``null=None`` (the default ``"random_stimuli"`` null is a separate cost, not part of the floor).

``--images``: 1,000 units x 2,000 random 48 x 48 grey images (as the demo's), ``similarity="pixels"``; the same
call with ``duplicates=None`` (no check), ``"coords"`` (crop coords on the stimuli) and ``"pixels"`` (FFT
shift-tolerant comparison of every unit's k(k-1)/2 MEI pairs), best of ``--repeats`` interleaved runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc

import numpy as np

import neurosuper as ns
from neurosuper.interpret import interpretability_index


def images(repeats: int) -> None:
    """Time the near-duplicate MEI check against the same call without it."""
    import warnings

    rng = np.random.default_rng(0)
    n, units = 2000, 1000
    imgs = rng.integers(0, 256, (n, 48, 48)).astype(np.uint8)
    R = rng.standard_normal((n, units), dtype=np.float32)
    ds = ns.from_array(
        R,
        system="network",
        measure="activation",
        stimuli=imgs,
        source_image=("stimulus", rng.choice(["a", "b", "c"], n)),
        image_y=("stimulus", rng.integers(0, 400, n)),
        image_x=("stimulus", rng.integers(0, 400, n)),
    )
    times: dict[str, list[float]] = {"none": [], "coords": [], "pixels": []}
    for _ in range(repeats):
        for check in times:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                interpretability_index(
                    ds, similarity="pixels", null=None, duplicates=None if check == "none" else check, progress=False
                )
            times[check].append(time.perf_counter() - t0)
    base = min(times["none"])
    out = {"units": units, "stimuli": n, "image": "48x48", "k": 5, "no_check_s": round(base, 3)}
    for check in ("coords", "pixels"):
        out[f"{check}_s"] = round(min(times[check]), 3)
        out[f"{check}_ratio"] = round(min(times[check]) / base, 2)
    out["machine"] = f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}"
    print(json.dumps(out, indent=2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--units", type=int, default=4096)
    p.add_argument("--stimuli", type=int, default=50_000)
    p.add_argument("--features", type=int, default=512)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--counts", action="store_true", help="Poisson(1) counts (heavy ties) instead of Gaussian")
    p.add_argument("--images", action="store_true", help="time the near-duplicate MEI check instead")
    args = p.parse_args()
    if args.images:
        images(args.repeats)
        return
    rng = np.random.default_rng(0)
    shape = (args.units, args.stimuli)
    R = rng.poisson(1.0, shape).astype(np.float32) if args.counts else rng.standard_normal(shape, dtype=np.float32)
    F = rng.standard_normal((args.stimuli, args.features), dtype=np.float32)
    ds = ns.from_array(R.T, system="network", measure="activation", stimuli=F)
    assert np.shares_memory(np.asarray(ds["responses"].data), R)
    n, k = args.stimuli, args.k
    floor, ours = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        part = np.argpartition(R, n - k, axis=1)[:, n - k :]
        floor.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = interpretability_index(ds, similarity="features", k=k, null=None, progress=False)
        ours.append(time.perf_counter() - t0)
    same = np.array_equal(np.sort(part, axis=1), np.sort(res["mei"].values, axis=1)) if not args.counts else None
    del part
    tracemalloc.start()
    interpretability_index(ds, similarity="features", k=k, null=None, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out = {
        "units": args.units,
        "stimuli": n,
        "features": args.features,
        "k": k,
        "data": "counts" if args.counts else "gaussian",
        "floor_argpartition_s": round(min(floor), 3),
        "interpretability_index_s": round(min(ours), 3),
        "ratio": round(min(ours) / min(floor), 3),
        "same_top_k_sets_as_argpartition": same,
        "peak_traced_MB": round(peak / 1e6, 1),
        "responses_MB": round(R.nbytes / 1e6, 1),
        "stimulus_x_stimulus_matrix_would_be_MB": round(n * n * 4 / 1e6, 1),
        "machine": f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}",
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
