"""The spectrum's bootstrap streams its replicates (issue 23 §5): on the unit side a batch of at most
``_BOOT_BATCH_BYTES`` of Grams is held at once and reduced to its eigenvalues before the next, so memory no longer
grows as replicates x units² — and the numbers are the same, bit for bit, whatever the batch."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import neurosuper as ns
from neurosuper.errors import NeurosuperWarning
from neurosuper.spectral import eigen

GB = 1e9


@pytest.mark.parametrize(
    ("n", "p", "method"),
    [(5000, 4000, "pca"), (5000, 4000, "cvpca"), (200_000, 512, "pca"), (200_000, 512, "cvpca")],
)
def test_the_memory_estimate_of_the_issues_sets_is_under_a_gigabyte(n, p, method):
    """Were 6.5 GB (5,000 x 4,000, 50 replicates, one 128 MB Gram each) and 21 GB for cvPCA's three. cvPCA holds
    three float64 units x units Grams of one replicate at least (3 x 128 MB at 4,000 units) with their
    accumulators: bounded, but above 1 GB at 4,000 units."""
    need = eigen.replicate_bytes(n, p, method=method, side="auto", n_boot=50, n_shuffles=5, k=None)
    assert need < (1.25 if method == "cvpca" and p == 4000 else 1) * GB
    # and it no longer grows with the Grams of every replicate (8 p² bytes each): only with its indices and rows
    more = eigen.replicate_bytes(n, p, method=method, side="auto", n_boot=500, n_shuffles=5, k=None)
    assert more - need < 450 * (24 * n + 64 * min(n, p) + 1000)


def _set(repeats: bool) -> ns.ResponseSet:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 240, 60) if repeats else (240, 60)) @ rng.standard_normal((60, 60))
    return ns.from_array(x, system="network", measure="activation")


@pytest.mark.parametrize("method", ["pca", "cvpca"])
def test_streamed_batches_give_the_same_numbers(monkeypatch, method):
    ds = _set(method == "cvpca")
    results = []
    for batch in (2**40, 1, 3 * 8 * 60 * 60 * 2):  # all at once (as before), one at a time, two at a time
        monkeypatch.setattr(eigen, "_BOOT_BATCH_BYTES", batch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeurosuperWarning)
            results.append(
                ns.spectral.eigenspectrum(
                    ds, method=method, n_boot=9, n_shuffles=3, side="unit", groupby=None, progress=False
                )
            )
    for other in results[1:]:
        for name in ("variance", "variance_boot"):
            np.testing.assert_array_equal(other[name].values, results[0][name].values)


@pytest.mark.parametrize("method", ["pca", "cvpca"])
def test_grams_held_at_once_do_not_grow_with_the_replicates(monkeypatch, method):
    """One replicate's Grams per batch: the traced peak stays far below what 40 replicates' Grams take."""
    ds = _set(method == "cvpca")
    p = 60
    gram = 8 * p * p * (3 if method == "cvpca" else 1)
    monkeypatch.setattr(eigen, "_BOOT_BATCH_BYTES", gram)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        tracemalloc.start()
        try:
            ns.spectral.eigenspectrum(ds, method=method, n_boot=40, side="unit", groupby=None, progress=False)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # measured: 0.6 MB (PCA) and 1.5 MB (cvPCA); the code before streaming held all 41 replicates' Grams: 3.8 and 5.8 MB
    assert peak < 20 * gram + 2 * ds["responses"].nbytes
