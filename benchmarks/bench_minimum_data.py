"""The measurements behind each analysis's minimum data (issue 19 §3; ``benchmarks/RESULTS.md``, "Minimum data").

1. Power law: the spread of α fitted over n ranks (Stringer's weighted least squares, ranks 11..10 + n) on sample
   spectra of a power law (α = 1, as many Gaussian units as stimuli, the fewest the default rule needs for that
   range) → ``neurosuper.spectral.fit.MIN_FIT_RANKS``.
2. Capacity, units: Σ C / D of a dictionary of 2·D random unit atoms (no structure) against D →
   ``neurosuper.capacity.MIN_UNITS_PER_GROUP``.
3. Capacity, stimuli: Σ C / D of sparse coding (2·D atoms, 3 iterations, centred, as the report's step) on isotropic
   noise against stimuli per unit → ``neurosuper.capacity.MIN_STIMULI_PER_UNIT``.
4. Interpretability: the share of units tuned to a 2-d stimulus feature (30 % noise) whose II beats the random-
   stimulus null (permutation p < 0.05, 1,000 null draws), k = 5, against stimuli per MEI →
   ``neurosuper.interpret.minimum``.

``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_minimum_data.py`` (a few minutes on one core).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import neurosuper as ns


def alpha_spread(n_ranks: int, n_draws: int = 200, seed: int = 0) -> tuple[float, float]:
    """(mean, half the central 95 % range) of α over ranks 11..10 + n_ranks."""
    rng = np.random.default_rng([seed, n_ranks])
    first, last = 11, 10 + n_ranks
    big_n = 4 * last
    r = np.arange(first, last + 1)
    design = np.stack([-np.log(r), np.ones(len(r))], axis=1)
    w = 1 / r
    out = []
    for _ in range(n_draws):
        x = rng.standard_normal((big_n + 1, big_n)) * np.arange(1, big_n + 1) ** -0.5
        x -= x.mean(axis=0)
        ev = np.linalg.eigvalsh(x.T @ x / (big_n + 1))[::-1]
        coef = np.linalg.solve(design.T @ (design * w[:, None]), (w[:, None] * design).T @ np.log(ev[r - 1]))
        out.append(coef[0])
    lo, hi = np.percentile(out, [2.5, 97.5])
    return float(np.mean(out)), float(hi - lo) / 2


def random_dictionary(d: int, n_draws: int = 500, seed: int = 0) -> tuple[float, float]:
    """Central 95 % range of Σ C / D for 2·D random unit atoms in D dimensions."""
    from neurosuper.capacity.measures import superposition_of

    rng = np.random.default_rng([seed, d])
    vals = []
    for _ in range(n_draws):
        w = rng.standard_normal((2 * d, d))
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        vals.append(superposition_of(w, 0.05)["capacity_sum"] / d)
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def sparse_coding_on_noise(d: int, per_unit: float, n_sets: int = 5, seed: int = 0) -> float:
    """Mean Σ C / D of the report step's sparse coding on isotropic noise of per_unit · D stimuli."""
    rng = np.random.default_rng([seed, d, int(per_unit * 10)])
    vals = []
    for t in range(n_sets):
        ds = ns.from_array(rng.standard_normal((int(per_unit * d), d)), system="network", measure="activation")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ns.capacity.feature_capacity(
                ds, "sparse_coding", 2 * d, center=True, groupby=None, progress=False, seed=t, max_iter=3
            )
        vals.append(float(res["capacity_sum"]) / d)
    return float(np.mean(vals))


def tuned_units_found(n_stimuli: int, k: int = 5, n_sets: int = 10, seed: int = 0) -> tuple[float, float]:
    """(share of tuned units with II permutation p < 0.05, mean II z-score) on n_stimuli stimuli."""
    rng = np.random.default_rng([seed, n_stimuli])
    share, z = [], []
    for _ in range(n_sets):
        feats = rng.random((n_stimuli, 2))
        pref = rng.random((40, 2))
        resp = -np.linalg.norm(feats[:, None, :] - pref[None], axis=2)
        resp = resp + 0.3 * resp.std() * rng.standard_normal(resp.shape)
        ds = ns.from_array(resp, system="network", measure="activation", stimuli=feats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ns.interpret.interpretability_index(  # 1,000 null draws: the numbers in the docs
                ds, similarity="features", k=k, progress=False, n_null=1000, n_permutations=0
            )
        share.append(float(np.nanmean(res["ii_p"].values < 0.05)))
        z.append(float(np.nanmean(res["ii_z"].values)))
    return float(np.mean(share)), float(np.mean(z))


def main() -> None:
    from neurosuper.capacity import MIN_STIMULI_PER_UNIT, MIN_UNITS_PER_GROUP
    from neurosuper.interpret.minimum import MIN_STIMULI_PER_K
    from neurosuper.spectral.fit import MIN_FIT_RANKS

    t0 = time.perf_counter()
    print(f"1. alpha over n ranks (MIN_FIT_RANKS = {MIN_FIT_RANKS})")
    for n in (5, 7, 10, 15, 20, 30):
        mean, half = alpha_spread(n)
        print(f"   {n:3d} ranks (N = {4 * (10 + n)}): mean {mean:.3f}, 95 % of fits within ±{half:.2f}")
    print(f"2. random dictionary, Σ C / D (MIN_UNITS_PER_GROUP = {MIN_UNITS_PER_GROUP})")
    for d in (2, 4, 8, 16, 32):
        lo, hi = random_dictionary(d)
        print(f"   D = {d:2d}: {lo:.2f}–{hi:.2f}")
    print(f"3. sparse coding on isotropic noise, Σ C / D (MIN_STIMULI_PER_UNIT = {MIN_STIMULI_PER_UNIT})")
    for d in (8, 16):
        row = ", ".join(f"{a:g}/unit {sparse_coding_on_noise(d, a):.2f}" for a in (1, 2, 4, 8, 16))
        print(f"   D = {d:2d}: {row}")
    print(f"4. tuned units found by the II, k = 5 (MIN_STIMULI_PER_K = {MIN_STIMULI_PER_K})")
    for n in (8, 10, 15, 20, 30, 40, 50):
        share, z = tuned_units_found(n)
        print(f"   {n:3d} stimuli ({n / 5:g} per MEI): {100 * share:.0f} % found, mean II z {z:.2f}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
