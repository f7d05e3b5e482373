"""Capacity, D_i, D*, interference, superposition and block structure against the papers' exact results.

Scherlis et al. 2022 (arXiv 2210.01892): polytope capacities, Σ C ≤ dim with equality for block-semi-orthogonal W;
Elhage et al. 2022: D_i equals C_i.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy.linalg import block_diag
from scipy.stats import ortho_group

import neurosuper as ns
from neurosuper import capacity as cap
from neurosuper.errors import AnalysisError

EXPECTED = {
    "orthogonal": 1.0,
    "antipodal": 0.5,
    "triangle": 2 / 3,
    "square": 0.5,
    "pentagon": 0.4,
    "tetrahedron": 0.75,
    "square_antiprism": 3 / 8,
}


def _rotate(w: np.ndarray, seed: int, dim: int | None = None) -> np.ndarray:
    d = dim or w.shape[1]
    full = np.zeros((len(w), d))
    full[:, : w.shape[1]] = w
    return full @ ortho_group.rvs(d, random_state=seed)


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_polytope_capacities_any_rotation(name, seed):
    w = _rotate(cap.polytope(name), seed, dim=None if seed == 0 else 6)  # rotated, also inside a larger space
    c = cap.capacity(w).values
    np.testing.assert_allclose(c, EXPECTED[name], atol=1e-12, rtol=0)
    np.testing.assert_allclose(cap.dimensionality_per_feature(w).values, EXPECTED[name], atol=1e-12, rtol=0)
    assert cap.POLYTOPES[name] == pytest.approx(EXPECTED[name], abs=1e-15)


def test_square_antiprism_is_the_stated_geometry():
    w = cap.polytope("square_antiprism")
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1, atol=1e-15)
    np.testing.assert_allclose(np.abs(w[:, 2]), 1 / np.sqrt(3), atol=1e-15)
    np.testing.assert_allclose(w.T @ w, 8 / 3 * np.eye(3), atol=1e-12)  # a tight frame


@pytest.mark.parametrize("shape", [(7, 3), (40, 10), (5, 12), (200, 3)])
def test_random_w_capacity_equals_dimensionality_and_bounded(shape):
    rng = np.random.default_rng(shape[0])
    w = rng.standard_normal(shape) * rng.gamma(1.0, size=(shape[0], 1))
    c = cap.capacity(w).values
    d = cap.dimensionality_per_feature(w).values
    np.testing.assert_allclose(c, d, atol=1e-12, rtol=0)
    assert np.all((c >= 0) & (c <= 1 + 1e-15))
    assert c.sum() <= shape[1] + 1e-12
    # the notebook formula, written out independently: (W_i·W_i)² / Σ_j (W_i·W_j)²
    g = w @ w.T
    np.testing.assert_allclose(c, np.diag(g) ** 2 / (g**2).sum(1), rtol=1e-12)
    # scale-free, and an all-scale change of one feature matters
    np.testing.assert_allclose(cap.capacity(w * 1e-150).values, c, rtol=1e-12)


def test_zero_vectors_get_zero_and_others_unaffected():
    w = np.vstack([np.eye(3), np.zeros((2, 3))])
    out = cap.capacity(w)
    np.testing.assert_array_equal(out.values, [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(cap.dimensionality_per_feature(w).values, [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(cap.interference(w).values, 0)


def test_d_star_and_interference_of_a_pentagon():
    w = 2.0 * cap.polytope("pentagon")
    assert float(cap.D_star(w)) == pytest.approx(2 / (5 * 4), abs=1e-15)  # m / ‖W‖²_F = 2 / 20
    # Σ_{j≠i} (Ŵ_i·W_j)² = 4 (2 cos² 72° + 2 cos² 144°) = 4 · 1.5
    np.testing.assert_allclose(cap.interference(w).values, 6.0, atol=1e-12)
    assert np.isinf(float(cap.D_star(np.zeros((3, 2)))))


def _planted(seed: int, tight_pentagon: bool = True) -> tuple[np.ndarray, list[int], list[int], np.ndarray]:
    """Pentagon (2-D) ⊕ tetrahedron (3-D) ⊕ one orthogonal feature ⊕ square antiprism (3-D) = 9 dims, rotated,
    each block with its own scale."""
    pent = (
        cap.polytope("pentagon")
        if tight_pentagon
        else np.array([[1, 0], [0.9, 0.4], [0.2, 1], [-0.6, 0.7], [-1, -0.3]], dtype=float)
    )
    blocks = [3.0 * pent, 0.5 * cap.polytope("tetrahedron"), np.array([[2.0]]), cap.polytope("square_antiprism")]
    w = block_diag(*blocks)
    perm = np.random.default_rng(seed).permutation(len(w))
    return _rotate(w[perm], seed), [5, 4, 1, 8], [2, 3, 1, 3], perm


def test_block_semi_orthogonal_w_fills_every_dimension():
    w, sizes, ranks, _ = _planted(3)
    c = cap.capacity(w).values
    assert c.sum() == pytest.approx(9.0, abs=1e-12)
    s = cap.superposition(w)
    assert float(s["capacity_sum"]) == pytest.approx(9.0, abs=1e-12)
    assert float(s["capacity_fraction"]) == pytest.approx(1.0, abs=1e-12)


def test_non_tight_block_falls_short():
    w, *_ = _planted(4, tight_pentagon=False)
    total = cap.capacity(w).values.sum()
    assert total < 9.0 - 0.05  # the irregular pentagon gets less than its 2 dimensions
    bs = cap.block_structure(w, tol=1e-6)
    five = int(np.flatnonzero(bs["size"].values == 5)[0])
    assert not bool(bs["tight"].values[five])
    assert float(bs["capacity_sum"].values[five]) < 2.0 - 0.05
    assert not bool(bs["block_semi_orthogonal"])


def test_block_structure_recovers_planted_blocks():
    w, sizes, ranks, perm = _planted(5)
    bs = cap.block_structure(w, tol=1e-6)
    assert bs.sizes["block"] == 4
    found = sorted(zip(bs["size"].values.tolist(), bs["block_rank"].values.tolist(), strict=True))
    assert found == sorted(zip(sizes, ranks, strict=True))
    assert bs["tight"].values.all()
    np.testing.assert_allclose(bs["capacity_sum"].values, bs["block_rank"].values, atol=1e-10)
    assert bool(bs["block_semi_orthogonal"])
    # each feature's block: the planted membership (block_diag rows, then permuted)
    planted = np.repeat(np.arange(4), sizes)[perm]
    labels = bs["feature_block"].values
    for b in range(4):
        assert len(set(planted[labels == b])) == 1
    summ = cap.summary(bs)
    json.dumps(summ)
    assert summ["n_blocks"] == 4 and summ["block_semi_orthogonal"] is True


def test_block_structure_ignored_features_and_scale():
    w = np.vstack([cap.polytope("triangle"), np.zeros((1, 2)), 1e-9 * np.ones((1, 2))])
    bs = cap.block_structure(1e5 * w, tol=1e-3)
    np.testing.assert_array_equal(bs["feature_block"].values, [0, 0, 0, -1, -1])
    assert bs["size"].values.tolist() == [3] and bs["block_rank"].values.tolist() == [2]
    assert cap.summary(bs)["n_ignored"] == 2


def test_superposition_counts_and_tolerance():
    w = np.zeros((7, 3))
    w[0] = [1, 0, 0]  # monosemantic
    w[1:6, 1:] = cap.polytope("pentagon")  # 5 polysemantic (0.4)
    s = cap.superposition(w)  # w[6] = 0: ignored
    assert (int(s["n_monosemantic"]), int(s["n_polysemantic"]), int(s["n_ignored"])) == (1, 5, 1)
    assert s["kind"].values.tolist() == ["monosemantic"] + ["polysemantic"] * 5 + ["ignored"]
    assert float(s["capacity_sum"]) == pytest.approx(3.0, abs=1e-12) and int(s["n_dims"]) == 3
    # a looser tolerance moves 0.4-capacity features nowhere; a feature at 0.99 is mono only with tol >= 0.01
    near = np.array([[1.0, 0.0], [0.1, 0.0]])
    c0 = cap.capacity(near).values[0]
    assert cap.superposition(near, tol=1.001 * (1 - c0))["kind"].values[0] == "monosemantic"
    assert cap.superposition(near, tol=0.999 * (1 - c0))["kind"].values[0] == "polysemantic"
    out = cap.summary(s)
    json.dumps(out)
    assert out["n_polysemantic"] == 5 and out["capacity_sum"] == 3.0


def test_named_dims_are_kept_and_found():
    w = cap.polytope("square")
    da = xr.DataArray(w, dims=("direction", "unit"), coords={"direction": list("abcd"), "unit": ["u0", "u1"]})
    out = cap.capacity(da)
    assert out.dims == ("direction",) and out["direction"].values.tolist() == list("abcd")
    np.testing.assert_allclose(out.values, 0.5, atol=1e-12)
    # features second: still found by name
    out2 = cap.capacity(xr.DataArray(w.T, dims=("hidden", "feature")))
    np.testing.assert_allclose(out2.values, 0.5, atol=1e-12)
    assert out.attrs["analysis"] == "capacity.capacity" and "Scherlis" in out.attrs["reference"]
    assert cap.summary(out)["sum"] == pytest.approx(2.0)


def test_top_level_names():
    assert ns.capacity is cap  # the module, not the function
    assert callable(ns.capacity.capacity)
    assert ns.toy.train is not None


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cap.capacity(np.array([[1.0, np.nan], [0, 1]])), "NaN"),
        (lambda: cap.capacity(np.ones(4)), "1-D"),
        (lambda: cap.capacity(np.ones((2, 2, 2))), "3-D"),
        (lambda: cap.capacity(xr.DataArray(np.ones((2, 2)), dims=("a", "b"))), "feature"),
        (lambda: cap.capacity(np.array([["a", "b"]])), "dtype"),
        (lambda: cap.capacity(xr.Dataset({"W": (("feature", "dim"), np.ones((2, 2)))})), "Dataset"),
        (lambda: cap.block_structure(np.eye(3), tol=0), "tol"),
        (lambda: cap.block_structure(np.eye(3), tol=-1e-3), "tol"),
        (lambda: cap.superposition(np.eye(3), tol=0.0), "tol"),
        (lambda: cap.superposition(np.eye(3), tol=0.7), "tol"),
        (lambda: cap.polytope("hexagon"), "hexagon"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(AnalysisError, match=match) as info:
        call()
    assert "Fix:" in str(info.value) and "found" in str(info.value)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_capacity_is_scale_free_at_any_scale(scale):
    """Capacity is scale-free, so every function gives the same answer for W and 1e-200·W or 1e300·W (W·W
    under- or overflows in float64 there: the rows are normalised before any product)."""
    w, *_ = _planted(6)
    c = cap.capacity(w).values
    np.testing.assert_allclose(cap.capacity(scale * w).values, c, rtol=1e-12, atol=0)
    np.testing.assert_allclose(cap.dimensionality_per_feature(scale * w).values, c, rtol=1e-12, atol=0)
    assert float(cap.superposition(scale * w)["capacity_sum"]) == pytest.approx(9.0, abs=1e-12)
    bs = cap.block_structure(scale * w, tol=1e-6)
    assert sorted(bs["size"].values.tolist()) == [1, 4, 5, 8] and bool(bs["block_semi_orthogonal"])


def test_block_structure_keeps_a_small_tight_block_next_to_a_large_one():
    """Tolerances relative to each feature's norm: a tight triangle of norm 0.4 orthogonal to a pentagon of norm 2
    is a block of its own at the documented tol = 0.05 (it used to be dropped as "ignored", because 0.4² was below
    tol · 2²), and the exactly block-semi-orthogonal W is called so."""
    w = _rotate(block_diag(2.0 * cap.polytope("pentagon"), 0.4 * cap.polytope("triangle")), seed=7)
    assert cap.capacity(w).values.sum() == pytest.approx(4.0, abs=1e-12)
    bs = cap.block_structure(w, tol=0.05)
    assert (bs["feature_block"].values >= 0).all()
    assert bs["size"].values.tolist() == [5, 3] and bs["block_rank"].values.tolist() == [2, 2]
    assert bs["tight"].values.all() and bool(bs["block_semi_orthogonal"])
    # a small feature at |cos| = 0.1 to a large one is linked to it (|W_i·W_j| > tol ‖W_i‖ ‖W_j‖): one block,
    # not tight, Σ C < 2 — not two orthogonal blocks
    pair = np.array([[2.0, 0.0], [0.4 * 0.1, 0.4 * np.sqrt(0.99)]])
    bs = cap.block_structure(pair, tol=0.05)
    assert bs.sizes["block"] == 1 and not bool(bs["tight"][0]) and not bool(bs["block_semi_orthogonal"])


def test_ignored_has_one_definition():
    """ "Ignored" means C_i <= tol in superposition and in block_structure (the same tol gives the same features):
    a zero vector and a tiny vector overlapping a large one are ignored; a tiny vector orthogonal to the rest has
    a dimension to itself (C = 1) and is a block of its own, not ignored."""
    w = np.zeros((5, 3))
    w[0, 0], w[1, 1] = 2.0, 1.0
    w[2, :2] = 0.01 / np.sqrt(2)  # overlaps features 0 and 1: C ≈ 1e-4
    w[4, 2] = 1e-3  # orthogonal to everything: C = 1
    for tol in (1e-3, 0.02, 0.05):
        s = cap.superposition(w, tol=tol)
        bs = cap.block_structure(w, tol=tol)
        ignored = s["kind"].values == "ignored"
        np.testing.assert_array_equal(ignored, [False, False, True, True, False])
        np.testing.assert_array_equal(bs["feature_block"].values < 0, ignored)
        assert cap.summary(bs)["n_ignored"] == int(s["n_ignored"]) == 2
        assert bs["size"].values.tolist() == [1, 1, 1] and bool(bs["block_semi_orthogonal"])
