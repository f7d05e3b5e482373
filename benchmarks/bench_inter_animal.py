"""Inter-animal consistency (issue 21 §2): accuracy against the simulated truth, and cost against its floor.

Cohort: 4 subjects × 40 neurons, 300 stimuli; every neuron = a unit-norm mixture of a shared 3-dim stimulus signal
(unit variance) + Gaussian noise of sd σ, so a neuron correlates with its own signal at ρ = 1/√(1 + σ²) — the
predictivity a noise-free model can reach. Printed per σ: the inter-animal predictivity and RSA, ρ, and a
noise-free layer built from the signal (profile(..., ceiling="inter_animal")) as a fraction of the ceiling.

Cost: ``inter_animal(kind="predictivity")`` against its floor, the same leave-one-animal-out done by hand with
``compare.predictivity`` (4 calls), measured in the same run (ratio ≈ 1: no overhead beyond the regressions).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_inter_animal.py
"""

from __future__ import annotations

import time

import numpy as np

import neurosuper as ns


def cohort(noise: float, n_subjects: int = 4, n_units: int = 40, n_stim: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_stim, 3))
    sets = []
    for s in range(n_subjects):
        w = rng.standard_normal((3, n_units))
        w /= np.linalg.norm(w, axis=0)
        y = latent @ w + noise * rng.standard_normal((n_stim, n_units))
        ds = ns.from_array(
            y,
            system="brain",
            measure="dff",
            stimulus=[f"i{k:04d}" for k in range(n_stim)],
            unit=[f"m{s}u{u}" for u in range(n_units)],
        )
        sets.append(ds.assign_coords(subject=("unit", np.full(n_units, f"m{s}"))))
    return ns.concat(sets), latent


def main() -> None:
    print("sigma  rho    ia_pred  ia_rsa  layer/ceiling(pred)  layer/ceiling(rsa)  random/ceiling(pred)")
    for sigma in (0.5, 1.0, 2.0):
        c, latent = cohort(sigma)
        rng = np.random.default_rng(1)
        net = ns.concat(
            [
                ns.from_array(
                    latent @ rng.standard_normal((3, 20)),
                    system="network",
                    measure="activation",
                    stimulus=c.stimulus.values,
                    unit=[f"s{u}" for u in range(20)],
                    layer=("unit", np.full(20, "signal")),
                ),
                ns.from_array(
                    rng.standard_normal((c.sizes["stimulus"], 20)),
                    system="network",
                    measure="activation",
                    stimulus=c.stimulus.values,
                    unit=[f"r{u}" for u in range(20)],
                    layer=("unit", np.full(20, "random")),
                ),
            ],
            name="model",
        )
        pred = ns.compare.profile(net, c, kind="predictivity", ceiling="inter_animal", n_boot=0, progress=False)
        rsa = ns.compare.profile(net, c, kind="rsa", ceiling="inter_animal", n_boot=0, progress=False)
        print(
            f"{sigma:<6} {1 / np.sqrt(1 + sigma**2):.3f}  {float(pred['ceiling_value']):.3f}    "
            f"{float(rsa['ceiling_value']):.3f}   {float(pred['normalized'].sel(layer='signal')):.3f}"
            f"                {float(rsa['normalized'].sel(layer='signal')):.3f}"
            f"               {float(pred['normalized'].sel(layer='random')):.3f}"
        )
    c, _ = cohort(1.0)
    subj = c["subject"].values
    t_ia, t_floor = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        ns.compare.inter_animal(c, kind="predictivity", progress=False)
        t_ia.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for s in np.unique(subj):
            ns.compare.predictivity(c.isel(unit=subj != s), c.isel(unit=subj == s), progress=False)
        t_floor.append(time.perf_counter() - t0)
    a, f = min(t_ia), min(t_floor)
    print(f"inter_animal(predictivity) {a:.2f} s; by hand (4 x predictivity) {f:.2f} s; ratio {a / f:.2f} (best of 3)")


if __name__ == "__main__":
    main()
