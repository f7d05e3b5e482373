"""Calibration of "directions vs units" (issue 19 §1): false-positive rate when no method's directions are more
interpretable than the units, power when they are; the retired Mann–Whitney test on the same populations.

    python benchmarks/bench_directions_calibration.py                       # both parts (~20 min on a busy core)
    python benchmarks/bench_directions_calibration.py --part kernel --populations 1000
    python benchmarks/bench_directions_calibration.py --part compare_methods --populations 200

The test (``neurosuper.directions.method_stats``): gain = mean II of a method's directions − mean II of the units on
the held-out stimuli; standard error from a delete-a-group jackknife over 10 random groups of the held-out stimuli;
one-sided t with 9 degrees of freedom; Holm across methods for "significantly above the units".

``kernel``: 400 stimuli (200 to fit, 200 held out), 32 units mixing ``n_latent`` shared latent responses that ignore
the stimuli (plus noise), similarity on 2-D features or 8 labels (half the populations each); methods: PCA axes
fitted on the fit half, and a random rotation; scored with the kernels ``compare_methods`` uses. Situations:
``one_factor`` (1 latent, noise 0.3: units strongly correlated), ``three_factors`` (3 latents, noise 0.5),
``independent`` (i.i.d. units); power: ``planted`` — every stimulus shows one of 8 label features (amplitude U[0,1])
and each unit mixes all 8 with weights ±1 (+ noise of SD 0.05; ``planted_noisy``: 0.8); an "oracle" method's
directions unmix them (random rotations of such balanced units are more interpretable too: they weigh the features
unequally).

``compare_methods``: the public path, ``compare_methods(ds, ("units", "pca", "random", "kmeans", "ica"))`` on 400
stimuli × 32 units (2-D features), ``correlated`` (3 latents + noise 0.5) or ``independent``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings

import numpy as np
from scipy.stats import mannwhitneyu

import neurosuper as ns
from neurosuper.directions import compare_methods, method_stats
from neurosuper.directions.compare import _group_ii, _holm, _jackknife_test, _stimulus_groups
from neurosuper.interpret.similarity import CodeSpace, EmbeddingSpace

K = 5
KERNEL = {
    "one_factor": {"n_latent": 1, "noise": 0.3},
    "three_factors": {"n_latent": 3, "noise": 0.5},
    "independent": {"n_latent": 0, "noise": 1.0},
    "planted": {"n_latent": 0, "noise": 0.05, "planted": True},
    "planted_noisy": {"n_latent": 0, "noise": 0.8, "planted": True},
}


def _world(rng, *, n_latent, noise, planted=False, n_fit=200, n_score=200, m=32):
    n = n_fit + n_score
    labels = rng.integers(0, 8, n)
    extra = {}
    if planted:
        W = rng.choice([-1.0, 1.0], (8, m)) / np.sqrt(8)
        R = ((labels[:, None] == np.arange(8)) * rng.random((n, 1))) @ W + noise * rng.standard_normal((n, m))
        extra = {"oracle": np.linalg.pinv(W)}
    else:
        R = rng.standard_normal((n, n_latent)) @ rng.standard_normal((n_latent, m))
        R = R + noise * rng.standard_normal((n, m))
    fit, score = R[:n_fit], R[n_fit:]
    pcs = np.linalg.svd(fit - fit.mean(0), full_matrices=False)[2].T
    dirs = {"units": np.eye(m), "pca": pcs, "random": np.linalg.qr(rng.standard_normal((m, m)))[0], **extra}
    if planted or rng.random() < 0.5:
        space = CodeSpace(labels[n_fit:])
    else:
        F = rng.standard_normal((n_score, 2))
        space = EmbeddingSpace(lambda pos: F[pos])
    return {name: score @ D for name, D in dirs.items()}, space, n_score


def kernel(situation: str, n_pop: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, list(KERNEL).index(situation)])
    rej: dict[str, list[int]] = {}
    any_holm = any_mw = 0
    t0 = time.perf_counter()
    for _ in range(n_pop):
        acts, space, n = _world(rng, **KERNEL[situation])
        every = np.arange(n)
        groups = _stimulus_groups(n, K, None, int(rng.integers(2**31)), "bench")
        rest = [np.setdiff1d(every, g) for g in groups]
        ii = {k: _group_ii(space, A, [every], K)[:, 0] for k, A in acts.items()}
        loo = {k: np.nanmean(_group_ii(space, A, rest, K), axis=0) for k, A in acts.items()}
        ps, mws = [], []
        for name in acts:
            if name == "units":
                continue
            p = _jackknife_test(np.nanmean(ii[name]) - np.nanmean(ii["units"]), loo[name] - loo["units"])
            a, b = ii[name][np.isfinite(ii[name])], ii["units"][np.isfinite(ii["units"])]
            mw = mannwhitneyu(a, b, alternative="greater").pvalue
            r = rej.setdefault(name, [0, 0])
            r[0] += p < 0.05
            r[1] += mw < 0.05
            ps.append(p)
            mws.append(mw)
        any_holm += bool((_holm(np.array(ps)) < 0.05).any())
        any_mw += bool((np.array(mws) < 0.05).any())
    return {
        "part": "kernel",
        "situation": situation,
        "populations": n_pop,
        "rejects_p_lt_0.05": {m: round(v[0] / n_pop, 4) for m, v in rej.items()},
        "any_method_holm_lt_0.05": round(any_holm / n_pop, 4),
        "retired_mann_whitney_rejects": {m: round(v[1] / n_pop, 4) for m, v in rej.items()},
        "retired_any_method": round(any_mw / n_pop, 4),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def public(situation: str, n_pop: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, 7 if situation == "correlated" else 8])
    methods = ("units", "pca", "random", "kmeans", "ica")
    rej: dict[str, list[int]] = {}
    any_holm = any_mw = 0
    t0 = time.perf_counter()
    for i in range(n_pop):
        R = rng.standard_normal((400, 32))
        if situation == "correlated":
            R = rng.standard_normal((400, 3)) @ rng.standard_normal((3, 32)) + 0.5 * R
        ds = ns.from_array(R, system="network", measure="activation", stimuli=rng.standard_normal((400, 2)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = compare_methods(ds, methods, seed=i, null=None, progress=False, options={"kmeans": {"n_init": 1}})
        ms = method_stats(res)
        base = res["ii"].values[res["method"].values == "units"]
        h = m_any = False
        for j, m in enumerate(ms["method"].values.tolist()):
            if m == "units":
                continue
            v = res["ii"].values[res["method"].values == m]
            mw = mannwhitneyu(v[np.isfinite(v)], base[np.isfinite(base)], alternative="greater").pvalue
            r = rej.setdefault(m, [0, 0])
            r[0] += float(ms["p_vs_units"].values[j]) < 0.05
            r[1] += mw < 0.05
            h |= float(ms["p_vs_units_holm"].values[j]) < 0.05
            m_any |= mw < 0.05
        any_holm += h
        any_mw += m_any
    return {
        "part": "compare_methods",
        "situation": situation,
        "populations": n_pop,
        "rejects_p_lt_0.05": {m: round(v[0] / n_pop, 4) for m, v in rej.items()},
        "any_method_holm_lt_0.05": round(any_holm / n_pop, 4),
        "retired_mann_whitney_rejects": {m: round(v[1] / n_pop, 4) for m, v in rej.items()},
        "retired_any_method": round(any_mw / n_pop, 4),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("kernel", "compare_methods", "both"), default="both")
    p.add_argument("--populations", type=int, default=None, help="default: 1000 (kernel), 200 (compare_methods)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--situations", nargs="+", choices=list(KERNEL), default=list(KERNEL), help="kernel part only")
    args = p.parse_args()
    if args.part in ("kernel", "both"):
        for situation in args.situations:
            print(json.dumps(kernel(situation, args.populations or 1000, args.seed)), flush=True)
    if args.part in ("compare_methods", "both"):
        for situation in ("correlated", "independent"):
            print(json.dumps(public(situation, args.populations or 200, args.seed)), flush=True)
    print(json.dumps({"machine": f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}"}))


if __name__ == "__main__":
    main()
