"""Calibration of the comparison's conclusions (issue 19 §2, §4): the "significantly best" layer on simulations
where no layer is better (false-positive rate) and with a planted matching layer (power); the normalised
predictivity of a perfect model; the chance level of biased CKA.

    python benchmarks/bench_compare_calibration.py                       # everything (~15 min on one core)
    python benchmarks/bench_compare_calibration.py best --runs 200 --kinds rsa
    python benchmarks/bench_compare_calibration.py normalized cka

``best``: ``profile(net, brain, kind=..., n_boot=200)`` on three layers of 8 units against a brain of 12 neurons,
on 30 and 60 stimuli. No-signal situations: ``none`` (brain and layers independent noise) and ``equal`` (every
layer = the brain's 3-D signal + noise of SD 2, through the same projection: in the population no layer is
better). Power: ``planted`` — only layer c carries the signal, with noise of SD 1, 2 or 4 (layers a and b are
noise). Reported: the share of data sets in which the top layer is called significantly best (for planted: in
which c is).

``normalized``: a perfect model (the noise-free signal, one latent dimension scaled per neuron; 300 stimuli,
100 neurons, 5-fold ridge) against brains of 2, 3 or 4 repeats whose averaged responses have reliability 0.8,
0.5 or 0.2: mean and SD over 10 simulations of ``normalized`` (and of the retired median(r) / median(reliability)).
Also a model whose readout must be learned (5 latent units predicting 100 neurons of a 5-D signal).

``cka``: biased and debiased linear CKA of independent Gaussian sets (n stimuli × p units each), mean over 20,
against the chance level that ``cka`` states.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np

import neurosuper as ns
from neurosuper import compare as cmp


def _net(x, **kw):
    return ns.from_array(x, system="network", measure="activation", **kw)


def _brain(x, **kw):
    return ns.from_array(x, system="brain", measure="dff", **kw)


def layers_world(rng, scenario, n, planted_noise=1.0, p=12, q=8):
    signal = rng.normal(size=(n, 3)) @ rng.normal(size=(3, p))
    brain = rng.normal(size=(n, p)) if scenario == "none" else signal + rng.normal(size=(n, p))
    noise = {"none": (None, None, None), "equal": (2.0, 2.0, 2.0), "planted": (None, None, planted_noise)}[scenario]
    projection = rng.normal(size=(p, q))
    layers = [
        (rng.normal(size=(n, p)) if s is None else signal + s * rng.normal(size=(n, p))) @ projection for s in noise
    ]
    return _net(np.concatenate(layers, axis=1), layer=("unit", np.repeat(["a", "b", "c"], q))), _brain(brain)


def best(runs: int, kinds: list[str]) -> None:
    print("| kind | stimuli | situation | runs | 'significantly best' fires |")
    print("|---|---|---|---|---|")
    for kind in kinds:
        for n in (30, 60):
            cases = [("none", {}), ("equal", {})] + [
                (f"planted (noise SD {s:g})", {"planted_noise": s}) for s in (1, 2, 4)
            ]
            for name, world in cases:
                scenario = name.split()[0]
                rng = np.random.default_rng(0)
                fired = 0
                t = time.perf_counter()
                for k in range(runs):
                    net, brain = layers_world(rng, scenario, n, **world)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        prof = cmp.profile(net, brain, kind=kind, n_boot=200, seed=k, n_splits=5)
                    fired += bool(prof["best_significant"]) and (
                        scenario != "planted" or str(prof["best"].values) == "c"
                    )
                rate = fired / runs
                se = np.sqrt(rate * (1 - rate) / runs)
                print(
                    f"| {kind} | {n} | {name} | {runs} | {100 * rate:.1f} % (± {100 * se:.1f}) |"
                    f"  <!-- {time.perf_counter() - t:.0f} s -->"
                )


def normalized() -> None:
    print("| repeats | reliability | perfect model: normalized (mean ± SD) | old: median r / median reliability |")
    print("|---|---|---|---|")
    for n_rep in (2, 3, 4):
        for reliability in (0.8, 0.5, 0.2):
            rng = np.random.default_rng(n_rep)
            new, old = [], []
            for _ in range(10):
                s = rng.normal(size=300)
                s = (s - s.mean()) / s.std()
                scale = rng.choice([-1.0, 1.0], size=100) * rng.uniform(0.5, 2.0, size=100)
                sd = np.abs(scale) * np.sqrt(n_rep * (1 / reliability - 1))
                resp = np.outer(s, scale)[None] + sd * rng.normal(size=(n_rep, 300, 100))
                res = cmp.predictivity(_net(s[:, None]), _brain(resp), n_splits=5)
                new.append(float(res["normalized"]))
                old.append(float(res["median"]) / float(res["ceiling_median"]))
            print(f"| {n_rep} | {reliability} | {np.mean(new):.3f} ± {np.std(new):.3f} | {np.mean(old):.3f} |")
    print("\nlearned readout (5 latent units → 100 neurons of a 5-D signal, 4 repeats, 240 stimuli):")
    for reliability in (0.8, 0.5, 0.2):
        rng = np.random.default_rng(1)
        vals = []
        for _ in range(5):
            lat = rng.normal(size=(240, 5))
            sig = lat @ rng.normal(size=(5, 100))
            sig = (sig - sig.mean(0)) / sig.std(0)
            resp = sig[None] + np.sqrt(4 * (1 / reliability - 1)) * rng.normal(size=(4, 240, 100))
            vals.append(float(cmp.predictivity(_net(lat), _brain(resp), n_splits=5)["normalized"]))
        print(f"  reliability {reliability}: normalized {np.mean(vals):.3f} ± {np.std(vals):.3f}")


def cka() -> None:
    print("| stimuli × units | biased CKA (mean of 20) | stated chance level | debiased CKA |")
    print("|---|---|---|---|")
    for n, p in ((30, 500), (64, 200), (92, 1000), (200, 50), (500, 30)):
        rng = np.random.default_rng(0)
        b, c, d = [], [], []
        for _ in range(20):
            x, y = _net(rng.normal(size=(n, p))), _brain(rng.normal(size=(n, p)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = cmp.cka(x, y, groupby=None, progress=False)
                deb = cmp.cka(x, y, groupby=None, debiased=True, progress=False)
            val = res["cka"] if "cka" in getattr(res, "data_vars", {}) else res
            dval = deb["cka"] if "cka" in getattr(deb, "data_vars", {}) else deb
            b.append(float(val))
            c.append(res.attrs["chance"])
            d.append(float(dval))
        print(f"| {n} × {p} | {np.mean(b):.3f} | {np.mean(c):.3f} | {np.mean(d):+.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="*", default=["best", "normalized", "cka"], choices=["best", "normalized", "cka"])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--kinds", nargs="+", default=list(cmp.KINDS), choices=list(cmp.KINDS))
    args = parser.parse_args()
    print(f"neurosuper {ns.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}")
    for what in args.what:
        print(f"\n## {what}\n")
        if what == "best":
            best(args.runs, args.kinds)
        elif what == "normalized":
            normalized()
        else:
            cka()


if __name__ == "__main__":
    main()
