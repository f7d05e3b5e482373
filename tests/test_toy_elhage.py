"""Elhage et al. 2022 (Toy Models of Superposition): the ReLU-output model's known geometries.

Paper settings (AdamW lr 1e-3, batch 1,024, 10,000 steps) for the pentagon; the sweeps use fewer steps and a higher
rate so the file stays fast — the phases they must show are the paper's.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurosuper import capacity, toy


def test_pentagon_uniform_importance():
    r = toy.train(5, 2, density=0.05, importance=1.0, n_seeds=4, progress=False)  # paper settings, <= 8 seeds
    d = capacity.dimensionality_per_feature(r["W"]).values
    np.testing.assert_allclose(d, 0.40, atol=0.02)
    assert d.sum() == pytest.approx(2.0, abs=0.05)
    assert (r["b"].values < 0).all()
    np.testing.assert_allclose(r["capacity"].values, d, atol=1e-12)
    assert int(r["best_seed"]) == int(np.argmin(r["loss_seed"].values))
    assert float(r["loss"]) == pytest.approx(float(r["loss_seed"].min()))
    assert r.attrs["weight_decay"] == 0.01 and r.attrs["analysis"] == "toy.train"
    s = toy.summary(r)
    assert s["n_polysemantic"] == 5 and s["capacity_sum"] == pytest.approx(2.0, abs=0.05)
    # the pentagon is block-semi-orthogonal: one tight block of rank 2
    bs = capacity.block_structure(r["W"], tol=0.05)
    assert bs.sizes["block"] == 1 and int(bs["block_rank"][0]) == 2 and bool(bs["tight"][0])


def test_importance_decay_phases_with_density():
    s = toy.sweep(
        5,
        2,
        density=[1.0, 0.2, 0.05],
        importance_ratio=[0.9],
        n_seeds=3,
        steps=4000,
        batch_size=512,
        lr=3e-3,
        progress=False,
    )
    c = s["capacity"].sel(importance_ratio=0.9).values
    np.testing.assert_allclose(c[0], [1, 1, 0, 0, 0], atol=0.02)  # dense: the two most important, orthogonal
    np.testing.assert_allclose(c[1], [0.5, 0.5, 0.5, 0.5, 0], atol=0.02)  # antipodal pairs, least important dropped
    np.testing.assert_allclose(c[2], 0.4, atol=0.02)  # the pentagon
    np.testing.assert_allclose(s["importance"].values[0, 0], 0.9 ** np.arange(5))
    # antipodal: each represented feature has a partner at -1 cosine
    w = s["W"].isel(density=1, importance_ratio=0).values[:4]
    cos = (w / np.linalg.norm(w, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=1, keepdims=True)).T
    assert np.allclose(np.sort(cos, axis=1)[:, 0], -1, atol=0.02)


def test_dense_pca_like_regime():
    r = toy.train(
        20, 5, density=1.0, importance=0.7 ** np.arange(20), steps=3000, batch_size=512, lr=3e-3, progress=False
    )
    sup = capacity.superposition(r["W"])
    np.testing.assert_allclose(r["capacity"].values[:5], 1.0, atol=0.02)
    assert (r["capacity"].values[5:] < 0.02).all()
    assert np.linalg.norm(r["W"].values[5:], axis=1).max() < 0.05
    assert (int(sup["n_monosemantic"]), int(sup["n_polysemantic"]), int(sup["n_ignored"])) == (5, 0, 15)
