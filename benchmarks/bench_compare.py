"""Benchmarks of neurosuper.compare (issue 13), each against its peer or reference in the same run.

    python benchmarks/bench_compare.py all [--repeats 3]
    python benchmarks/bench_compare.py rdm | boot | cka | procrustes [--repeats 3]

``rdm``: correlation RDM of 1,000 stimuli × 2,000 units (float64) — ``neurosuper.compare.rdm`` vs rsatoolbox's
``calc_rdm(Dataset(X), method="correlation")``; the values must agree to 1e-12.

``boot``: bootstrap comparison of two 92-stimulus RDMs, 1,000 resamples — ``compare_rdms(n_boot=1000)`` vs a loop
over rsatoolbox's ``compare`` on ``RDMs.subsample_pattern`` of the *same* resamples (so every bootstrap value is
checked equal, to 1e-12), for Spearman and Kendall τ_a with a categorical model RDM (ties) against a data RDM,
and Kendall τ_a between two tie-free data RDMs (the sign-matrix route).

``cka``: linear CKA of 5,000 × 512 vs 5,000 × 256 (float64), biased and debiased — ``neurosuper.compare.cka`` vs
Kornblith et al.'s ``feature_space_linear_cka`` (their reference code, copied below, verbatim in substance).

``procrustes``: angular Procrustes distance of 2,000 × 2,048 vs 2,000 × 2,048 — ``neurosuper.compare.procrustes``
vs the direct reference: centre, unit Frobenius norm, ``scipy.linalg.orthogonal_procrustes``, arccos of the inner
product.

Timings are wall-clock medians over ``--repeats`` interleaved runs (ours, then the reference, repeated); the set
wrapping (``from_array``) is done before the clock, inputs are the same arrays. ``--threads N`` caps the BLAS
threads of both sides alike (on a shared machine one thread each gives steadier ratios).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings

import numpy as np

import neurosuper as ns
from neurosuper import compare as cmp
from neurosuper.compare.rsakernels import bootstrap_counts


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _interleaved(ours, ref, repeats):
    t_ours, t_ref, out_ours, out_ref = [], [], None, None
    for _ in range(repeats):
        t, out_ours = _timed(ours)
        t_ours.append(t)
        t, out_ref = _timed(ref)
        t_ref.append(t)
    return t_ours, t_ref, out_ours, out_ref


def _row(name, t_ours, t_ref, **extra):
    m_ours, m_ref = statistics.median(t_ours), statistics.median(t_ref)
    return {
        "case": name,
        "ours_s": [round(t, 4) for t in t_ours],
        "reference_s": [round(t, 4) for t in t_ref],
        "ours_median_s": round(m_ours, 4),
        "reference_median_s": round(m_ref, 4),
        "speedup": round(m_ref / m_ours, 2),
        **extra,
    }


def bench_rdm(repeats):
    import rsatoolbox as rsa

    x = np.random.default_rng(0).normal(size=(1000, 2000))
    ds = ns.from_array(x, system="network", measure="activation")
    dataset = rsa.data.Dataset(x)
    t_o, t_r, ours, ref = _interleaved(
        lambda: cmp.rdm(ds), lambda: rsa.rdm.calc_rdm(dataset, method="correlation"), repeats
    )
    err = float(np.abs(ours.values - ref.get_matrices()[0]).max())
    assert err < 1e-12, err
    return [_row("correlation RDM 1,000 × 2,000 vs rsatoolbox calc_rdm", t_o, t_r, max_abs_diff=err)]


def bench_boot(repeats, n_boot=1000):
    import rsatoolbox as rsa

    rng = np.random.default_rng(1)
    n = 92
    cat = np.repeat(np.arange(4), 23)
    signal = rng.normal(size=(n, 50)) + 2 * np.eye(4)[cat] @ rng.normal(size=(4, 50))
    data = cmp.rdm(ns.from_array(signal + rng.normal(size=signal.shape), system="brain", measure="dff"))
    model = cmp.as_rdm(
        (cat[:, None] != cat[None, :]).astype(float), stimulus=data["stimulus_a"].values, metric="categorical"
    )
    counts = bootstrap_counts(n, n_boot, 0)
    other = cmp.rdm(ns.from_array(signal + rng.normal(size=signal.shape), system="brain", measure="dff"))
    rows = []
    cases = (
        ("spearman", "spearman", model, "categorical model vs data"),
        ("kendall_tau_a", "tau-a", model, "categorical model vs data"),
        ("kendall_tau_a", "tau-a", other, "two data RDMs, no ties"),
    )
    for method, m, first, what in cases:
        ra, rb = rsa.rdm.RDMs(first.values[None]), rsa.rdm.RDMs(data.values[None])

        def ours(method=method, first=first):
            return cmp.compare_rdms(first, data, method=method, n_boot=n_boot, seed=0)

        def ref(m=m, ra=ra, rb=rb):
            out = np.empty(n_boot)
            for k in range(n_boot):
                idx = np.repeat(np.arange(n), counts[k])
                sa, sb = ra.subsample_pattern("index", idx), rb.subsample_pattern("index", idx)
                out[k] = rsa.rdm.compare(sa, sb, m)[0, 0]
            return out

        t_o, t_r, res, boot = _interleaved(ours, ref, repeats)
        err = float(np.abs(res["value_boot"].values - boot).max())
        assert err < 1e-12, err
        rows.append(
            _row(
                f"bootstrap {method} ({what}), {n_boot} resamples of 92 stimuli vs loop over rsatoolbox compare",
                t_o,
                t_r,
                max_abs_diff=err,
            )
        )
    return rows


# Kornblith et al. 2019, reference code (github.com/google-research/google-research/blob/master/
# representation_similarity/Demo.ipynb), feature-space linear CKA.
def _debiased_dot_product_similarity_helper(
    xty, sum_squared_rows_x, sum_squared_rows_y, squared_norm_x, squared_norm_y, n
):
    return (
        xty
        - n / (n - 2.0) * sum_squared_rows_x.dot(sum_squared_rows_y)
        + squared_norm_x * squared_norm_y / ((n - 1) * (n - 2))
    )


def feature_space_linear_cka(features_x, features_y, debiased=False):
    features_x = features_x - np.mean(features_x, 0, keepdims=True)
    features_y = features_y - np.mean(features_y, 0, keepdims=True)
    dot_product_similarity = np.linalg.norm(features_x.T.dot(features_y)) ** 2
    normalization_x = np.linalg.norm(features_x.T.dot(features_x))
    normalization_y = np.linalg.norm(features_y.T.dot(features_y))
    if debiased:
        n = features_x.shape[0]
        sum_squared_rows_x = np.einsum("ij,ij->i", features_x, features_x)
        sum_squared_rows_y = np.einsum("ij,ij->i", features_y, features_y)
        squared_norm_x = np.sum(sum_squared_rows_x)
        squared_norm_y = np.sum(sum_squared_rows_y)
        dot_product_similarity = _debiased_dot_product_similarity_helper(
            dot_product_similarity, sum_squared_rows_x, sum_squared_rows_y, squared_norm_x, squared_norm_y, n
        )
        normalization_x = np.sqrt(
            _debiased_dot_product_similarity_helper(
                normalization_x**2, sum_squared_rows_x, sum_squared_rows_x, squared_norm_x, squared_norm_x, n
            )
        )
        normalization_y = np.sqrt(
            _debiased_dot_product_similarity_helper(
                normalization_y**2, sum_squared_rows_y, sum_squared_rows_y, squared_norm_y, squared_norm_y, n
            )
        )
    return dot_product_similarity / (normalization_x * normalization_y)


def bench_cka(repeats):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5000, 512))
    y = np.tanh(x[:, :256] @ rng.normal(size=(256, 256)) / 16) + 0.3 * rng.normal(size=(5000, 256))
    a = ns.from_array(x, system="network", measure="activation")
    b = ns.from_array(y, system="network", measure="activation")
    rows = []
    for debiased in (False, True):
        t_o, t_r, ours, ref = _interleaved(
            lambda d=debiased: float(cmp.cka(a, b, debiased=d)["cka"]),
            lambda d=debiased: feature_space_linear_cka(x, y, debiased=d),
            repeats,
        )
        assert abs(ours - ref) < 1e-10, (ours, ref)
        rows.append(
            _row(
                f"linear CKA{' (debiased)' if debiased else ''} 5,000 × 512 vs 5,000 × 256 vs Kornblith's "
                "feature_space_linear_cka",
                t_o,
                t_r,
                value=ours,
                abs_diff=abs(ours - ref),
            )
        )
    return rows


def _reference_procrustes(x, y):
    from scipy.linalg import orthogonal_procrustes

    x = x - x.mean(0)
    y = y - y.mean(0)
    x /= np.linalg.norm(x)
    y /= np.linalg.norm(y)
    q, _ = orthogonal_procrustes(y, x)
    return float(np.arccos(np.clip(np.sum(x * (y @ q)), -1, 1)))


def bench_procrustes(repeats):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 2048))
    y = x @ (np.eye(2048) + 0.05 * rng.normal(size=(2048, 2048))) + rng.normal(size=(2000, 2048))
    a = ns.from_array(x, system="network", measure="activation")
    b = ns.from_array(y, system="network", measure="activation")

    def ours():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # units >= stimuli: the documented degeneracy warning
            return float(cmp.procrustes(a, b)["distance"])

    t_o, t_r, d_ours, d_ref = _interleaved(ours, lambda: _reference_procrustes(x, y), repeats)
    assert abs(d_ours - d_ref) < 1e-9, (d_ours, d_ref)
    return [
        _row(
            "Procrustes (angular) 2,000 × 2,048 vs scipy orthogonal_procrustes reference",
            t_o,
            t_r,
            value=d_ours,
            abs_diff=abs(d_ours - d_ref),
        )
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("case", choices=["all", "rdm", "boot", "cka", "procrustes"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.add_argument("--threads", type=int, help="BLAS threads for both sides (threadpoolctl); default: the library's")
    args = p.parse_args()
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(args.threads, user_api="blas") if args.threads else None
    cases = {"rdm": bench_rdm, "boot": bench_boot, "cka": bench_cka, "procrustes": bench_procrustes}
    rows = []
    for name, fn in cases.items():
        if args.case in ("all", name):
            rows += fn(args.repeats)
    if limits is not None:
        limits.unregister()
    machine = {
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas_threads": args.threads or "default",
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    for r in rows:
        print(
            f"{r['case']}: ours {r['ours_median_s']} s, reference {r['reference_median_s']} s, "
            f"speedup {r['speedup']}x  (ours {r['ours_s']}, reference {r['reference_s']})"
        )
    print(json.dumps(machine))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "machine": machine}, fh, indent=2)


if __name__ == "__main__":
    main()
