"""Benchmarks of ``from_torch`` (issue 4).

(a) overhead against a bare loop of forward passes collecting the same (mean-pooled) layer outputs, same model,
    same data, alternating repetitions in one run — target: at most 10 %;
(b) streaming a 200,000 × 4,096 float32 activation set to zarr — peak resident memory, measured in a fresh
    subprocess (``resource.getrusage`` max RSS) — target: under 1 GB.

    python benchmarks/bench_torch.py            # both
    python benchmarks/bench_torch.py --only a   # overhead only
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time


def _cnn():
    import torch

    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, 10),
    ).eval()


def overhead(n: int, repeats: int) -> dict:
    import numpy as np
    import torch

    import neurosuper as ns

    torch.set_num_threads(2)
    model = _cnn()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((n, 3, 32, 32), dtype=np.float32))
    layers = ["1", "4", "7"]
    mods = dict(model.named_modules())

    def bare():
        outs = {name: [] for name in layers}
        hooks = [
            mods[name].register_forward_hook(lambda m, a, o, name=name: outs[name].append(o.mean(dim=(2, 3)).numpy()))
            for name in layers
        ]
        with torch.no_grad():
            for i in range(0, n, 256):
                model(x[i : i + 256])
        for h in hooks:
            h.remove()
        return {k: np.concatenate(v) for k, v in outs.items()}

    def ours():
        return ns.from_torch(model, x, layers=layers, batch_size=256, progress=False)

    ours(), bare()  # warm up
    t_bare, t_ours = [], []
    for _ in range(repeats):
        for fn, store in ((bare, t_bare), (ours, t_ours)):
            t0 = time.perf_counter()
            fn()
            store.append(time.perf_counter() - t0)
    ratio = statistics.median(o / b for o, b in zip(t_ours, t_bare, strict=True))
    return {
        "n_images": n,
        "bare_s": statistics.median(t_bare),
        "from_torch_s": statistics.median(t_ours),
        "ratio": ratio,
    }


_STREAM = r"""
import json, resource, sys, time, numpy as np, torch
import neurosuper as ns
n, width, store = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, width), torch.nn.ReLU())
x = torch.randn(n, 64)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
ds = ns.from_torch(model, x, layers=["1"], batch_size=2048, store=store, progress=False)
elapsed = time.perf_counter() - t0
first = float(ds["responses"][0, :5].sum())
print(json.dumps({"shape": list(ds["responses"].shape), "seconds": elapsed,
                  "rss_before_mb": base, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "set_gb": n * width * 4 / 1e9, "check": first}))
"""


def streaming(n: int, width: int) -> dict:
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _STREAM, str(n), str(width), f"{tmp}/acts.zarr"],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["a", "b"])
    parser.add_argument("--n-images", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-stream", type=int, default=200_000)
    parser.add_argument("--width", type=int, default=4096)
    args = parser.parse_args()
    if args.only in (None, "a"):
        print("overhead", json.dumps(overhead(args.n_images, args.repeats)))
    if args.only in (None, "b"):
        print("streaming", json.dumps(streaming(args.n_stream, args.width)))


if __name__ == "__main__":
    main()
