"""Calibration of the interpretability tests (issue 19 §1): false-positive rate on no-signal populations, power on
planted interpretable units.

    python benchmarks/bench_interpret_calibration.py                 # 400 populations per situation (~10 min)
    python benchmarks/bench_interpret_calibration.py --populations 200 --situations independent_500 label

Every population goes through the public path, ``interpretability_index(ds, null="random_stimuli")`` and
``summary()``, with the defaults (k = 5, 10,000 random stimulus sets, 1,000 relabellings). Stimuli: 100 points of a
2-D feature space (Euclidean similarity), or 100 stimuli in 10 labels of 10 (label similarity: distances 0 or 1, so
II values tie). No-signal situations (responses independent of the stimuli's features):

* ``independent_500`` / ``independent_2000``: i.i.d. Gaussian responses of 500 / 2,000 units;
* ``correlated``: 500 units that mix 3 shared latent responses (plus noise of SD 0.5): units share top stimuli;
* ``label``: 500 i.i.d. units, label similarity.

Planted situations (power): ``planted_10pct`` — 500 units of which 50 are tuned to the 2-D feature (a Gaussian bump
of width 0.7 around a random preferred point, amplitude 3, on top of the unit-SD noise); ``planted_2pct`` — 10 of
500 such units; ``planted_label`` — 50 of 500 units respond 1.5 SD more to one label.

Per situation it reports, at level 0.05: the rate at which the population test (``p_population``) rejects; the rate
at which Benjamini–Hochberg finds at least one unit (with no signal: its family-wise error, equal to its FDR); the
mean false discovery proportion and the share of planted units found; and the retired test — the one-sided
binomial test of the share of units above the null's 95th percentile against 5 % (``p_above_chance``) — on the
same populations.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings

import numpy as np

import neurosuper as ns
from neurosuper.interpret import interpretability_index, summary

SITUATIONS = (
    "independent_500",
    "independent_2000",
    "correlated",
    "label",
    "planted_10pct",
    "planted_2pct",
    "planted_label",
)
N_STIM = 100


def population(situation: str, rng: np.random.Generator) -> tuple[ns.xr.Dataset, np.ndarray]:
    """One simulated population and the mask of its planted (truly interpretable) units."""
    feats = rng.standard_normal((N_STIM, 2))
    labels = np.repeat(np.arange(10), N_STIM // 10).astype(str)
    m = 2000 if situation == "independent_2000" else 500
    R = rng.standard_normal((N_STIM, m))
    planted = np.zeros(m, dtype=bool)
    if situation == "correlated":
        R = rng.standard_normal((N_STIM, 3)) @ rng.standard_normal((3, m)) + 0.5 * R
    elif situation in ("planted_10pct", "planted_2pct"):
        n_tuned = 50 if situation == "planted_10pct" else 10
        planted[:n_tuned] = True
        centre = rng.standard_normal((n_tuned, 2))
        d2 = ((feats[:, None, :] - centre[None]) ** 2).sum(-1)
        R[:, :n_tuned] += 3.0 * np.exp(-d2 / (2 * 0.7**2))
    elif situation == "planted_label":
        planted[:50] = True
        pref = rng.integers(0, 10, 50)
        R[:, :50] += 1.5 * (labels[:, None] == pref[None].astype(str))
    kw = {"label": ("stimulus", labels)} if "label" in situation else {"stimuli": feats}
    ds = ns.from_array(R, system="network", measure="activation", **kw)
    return ds, planted


def old_binomial_p(res) -> float:
    """The retired ``p_above_chance``: one-sided binomial test of #{percentile > 95} against 5 % of the units."""
    from scipy.stats import binomtest

    pct = res["ii_percentile"].values
    ok = np.isfinite(pct)
    return float(binomtest(int((pct[ok] > 95).sum()), int(ok.sum()), 0.05, alternative="greater").pvalue)


def run(situation: str, n_pop: int, seed: int, alpha: float = 0.05) -> dict:
    rng = np.random.default_rng([seed, SITUATIONS.index(situation)])
    rej_pop = rej_bh = rej_old = 0
    fdp, tpr, frac_p05 = [], [], []
    t0 = time.perf_counter()
    for i in range(n_pop):
        ds, planted = population(situation, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = interpretability_index(ds, seed=i, duplicates=None, progress=False)
        s = summary(res)
        rej_pop += s["p_population"] < alpha
        sig = res["ii_significant"].values
        rej_bh += bool(sig.any())
        rej_old += old_binomial_p(res) < alpha
        fdp.append(float((sig & ~planted).sum() / max(sig.sum(), 1)))
        if planted.any():
            tpr.append(float(sig[planted].mean()))
        frac_p05.append(float((res["ii_p"].values[~planted] <= alpha).mean()))
    out = {
        "situation": situation,
        "populations": n_pop,
        "p_population_rejects": round(rej_pop / n_pop, 4),
        "bh_any_discovery": round(rej_bh / n_pop, 4),
        "bh_mean_fdp": round(float(np.mean(fdp)), 4),
        "null_units_with_p_le_0.05": round(float(np.mean(frac_p05)), 4),
        "retired_binomial_rejects": round(rej_old / n_pop, 4),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if tpr:
        out["bh_share_of_planted_found"] = round(float(np.mean(tpr)), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--populations", type=int, default=400)
    p.add_argument("--situations", nargs="+", default=list(SITUATIONS), choices=SITUATIONS)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for situation in args.situations:
        print(json.dumps(run(situation, args.populations, args.seed)), flush=True)
    print(json.dumps({"machine": f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}"}))


if __name__ == "__main__":
    main()
