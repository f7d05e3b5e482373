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
    ("n", "p", "method"), [(5000, 4000, "pca"), (5000, 4000, "cvpca"), (200_000, 512, "pca"), (200_000, 512, "cvpca")]
)
def test_the_memory_estimate_of_the_issues_sets_is_under_a_gigabyte(n, p, method):
    """Were 6.5 GB (5,000 x 4,000, 50 replicates, one 128 MB Gram each) and 21 GB for cvPCA's three; then 1.16 GB for
    cvPCA at 4,000 units (three float64 Grams of one replicate held at once, measured 1.30 GB). Now cvPCA forms one
    Gram at a time above ``_BOOT_BATCH_BYTES`` of three, and the shuffled repeats are formed one block of rows at a
    time (in memory they were two copies of the data: 1.2 GB for 200,000 x 512); the issue's sets are float32."""
    need = eigen.replicate_bytes(n, p, method=method, side="auto", n_boot=50, n_shuffles=10, k=None, itemsize=4)
    assert need < (0.8 if method == "cvpca" else 1) * GB
    # and it no longer grows with the Grams of every replicate (8 p² bytes each): only with its indices and rows
    more = eigen.replicate_bytes(n, p, method=method, side="auto", n_boot=500, n_shuffles=10, k=None, itemsize=4)
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


@pytest.mark.parametrize(("n", "p", "dtype"), [(600, 400, np.float32), (100, 400, np.float32), (600, 400, np.float64)])
def test_cvpca_holds_one_units_gram_at_a_time(monkeypatch, n, p, dtype):
    """The unit-side cvPCA replicate of a large set (three Grams above ``_BOOT_BATCH_BYTES``: forced here) forms
    S11, eigendecomposes it, then S12 and S22, each freed before the next (``cvpca.cv_unit_streamed``).

    Bound, with G = 8 p² (one float64 Gram) and D = n p itemsize (one shuffled repeat): 2.5 G for float32 data
    (forming a Gram: its float64 sum, the block products in float32 and their stacked copy, beside the float32
    eigenvectors), 3.5 G for float64 (the products are float64 too), plus 6 D (both shuffled repeats and, in
    ``unit_grams``, a block's shifted and weighted copies of each; one block here). Measured: 6.1 G, 2.5 G and 12.1 G
    (600 x 400 float32, 100 x 400 float32, 600 x 400 float64); the code before held the three Grams of a
    replicate and a copy of the data: 10.6 G, 6.9 G and 21.1 G. The traced peak also stays within
    ``replicate_bytes`` (the memory check's estimate)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, n, p)) @ rng.standard_normal((p, p)) / 20).astype(dtype)
    ds = ns.from_array(x, system="network", measure="activation")
    monkeypatch.setattr(eigen, "_BOOT_BATCH_BYTES", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        # once untraced first: what a first call allocates for good (imports, caches) is not the replicates'
        ns.spectral.eigenspectrum(ds, method="cvpca", n_boot=1, n_shuffles=1, side="unit", groupby=None, progress=False)
        tracemalloc.start()
        try:
            ns.spectral.eigenspectrum(
                ds, method="cvpca", n_boot=3, n_shuffles=2, side="unit", groupby=None, progress=False
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    g, d = 8 * p * p, n * p * x.itemsize
    assert peak <= (2.5 if dtype == np.float32 else 3.5) * g + 6 * d
    estimate = eigen.replicate_bytes(
        n, p, method="cvpca", side="unit", n_boot=3, n_shuffles=2, k=None, itemsize=x.itemsize
    )
    assert peak <= estimate


@pytest.mark.parametrize("batch", [2**40, 1])
def test_cvpca_of_a_tall_set_forms_its_shuffled_repeats_block_by_block(monkeypatch, batch):
    """Many stimuli, few units: the shuffled repeats were two copies of the data (2 D above it, D = one repeat's
    bytes); now each is formed one block of rows at a time as its Gram reads it (``cvpca.ShuffledRows``), so the
    traced peak stays below one repeat's size — batched or one Gram at a time — with ``BLOCK_BYTES`` shrunk so the
    set spans many blocks."""
    from neurosuper import _gram

    rng = np.random.default_rng(2)
    n, p = 40_000, 24
    x = (rng.standard_normal((2, n, p)) @ rng.standard_normal((p, p))).astype(np.float32)
    ds = ns.from_array(x, system="network", measure="activation")
    monkeypatch.setattr(eigen, "_BOOT_BATCH_BYTES", batch)
    monkeypatch.setattr(_gram, "BLOCK_BYTES", 2**16)
    monkeypatch.setattr(_gram, "SUB_BYTES", 2**16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        kw = {"method": "cvpca", "side": "unit", "groupby": None, "progress": False}
        ns.spectral.eigenspectrum(ds, n_boot=1, n_shuffles=1, **kw)
        tracemalloc.start()
        try:
            ns.spectral.eigenspectrum(ds, n_boot=2, n_shuffles=2, **kw)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    d = n * p * x.itemsize  # 3.8 MB
    assert peak < 0.5 * d + 24 * n  # the per-replicate vectors (indices, counts, weights) are 8–24 bytes a stimulus


def test_cvpca_one_gram_at_a_time_gives_the_same_numbers_as_a_batch(monkeypatch):
    """The streamed replicate (one Gram at a time) and the batched one (three Grams from one pass, eigendecomposed
    as tasks) give the same numbers bit for bit — with z-scoring, a spontaneous projection and a constant unit."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 200, 40)) @ rng.standard_normal((40, 40))
    x[:, :, 3] = 1.5
    ds = ns.from_array(x.astype(np.float32), system="network", measure="activation")
    spont = ns.from_array(rng.standard_normal((300, 40)).astype(np.float32), system="network", measure="activation")
    runs = []
    for batch in (2**40, 1):
        monkeypatch.setattr(eigen, "_BOOT_BATCH_BYTES", batch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeurosuperWarning)
            runs.append(
                [
                    ns.spectral.eigenspectrum(
                        ds, method="cvpca", n_boot=4, n_shuffles=3, side="unit", groupby=None, progress=False, **kw
                    )
                    for kw in ({}, {"zscore": True}, {"remove_pcs_of": spont, "n_pcs": 3})
                ]
            )
    for a, b in zip(*runs, strict=True):
        for name in ("variance", "noise", "variance_boot", "noise_boot"):
            np.testing.assert_array_equal(a[name].values, b[name].values)
