"""Interpretability index: exact top-k with ties, II against known truth and scipy, nulls, NaN, bad input."""

from __future__ import annotations

import functools

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from _format_helpers import make_set
from scipy.spatial.distance import pdist

import neurosuper as ns
from neurosuper.errors import AnalysisError, NeurosuperWarning
from neurosuper.interpret import Features, group_stats, interpretability_index
from neurosuper.interpret._topk import topk_rows, topk_units


def _reference_topk(row: np.ndarray, k: int, largest: bool) -> np.ndarray:
    valid = np.flatnonzero(~np.isnan(row))
    key = -row[valid] if largest else row[valid]
    chosen = valid[np.argsort(key, kind="stable")][:k]
    out = np.full(k, -1)
    out[: len(chosen)] = chosen
    return out


@pytest.mark.parametrize("largest", [True, False])
def test_topk_ties_go_to_lowest_index(largest):
    rng = np.random.default_rng(1)
    for trial in range(60):
        n, k = int(rng.integers(6, 60)), int(rng.integers(1, 6))
        X = rng.integers(0, 3, (7, n)).astype(float)  # heavy ties, like spike counts
        if trial % 2:
            X[rng.random(X.shape) < 0.3] = np.nan
        idx, vals = topk_rows(X, k, largest=largest)
        for i in range(len(X)):
            np.testing.assert_array_equal(idx[i], _reference_topk(X[i], k, largest))
        ok = idx >= 0
        np.testing.assert_array_equal(vals[ok], np.take_along_axis(X, np.maximum(idx, 0), 1)[ok])


def test_topk_dask_blocks_equal_numpy():
    rng = np.random.default_rng(2)
    R = rng.poisson(1.0, (97, 13)).astype(float)
    for largest in (True, False):
        a, _ = topk_units(R, 5, largest=largest)
        b, _ = topk_units(da.from_array(R, chunks=(10, 13)), 5, largest=largest)
        np.testing.assert_array_equal(a, b)
        assert np.array_equal(a[:, 0], [_reference_topk(R[:, u], 1, largest)[0] for u in range(13)])


_set = functools.partial(make_set, system="brain", measure="spike_count")  # this file's sets: spike counts


def test_mei_ids_best_first_with_ties():
    r = np.array([3, 5, 5, 1, 5, 5, 5, 0], float)
    R = np.stack([r, -r], axis=1)
    ds = _set(R, np.arange(8.0)[:, None], stimulus=[f"s{i}" for i in range(8)])
    res = interpretability_index(ds, k=3, progress=False)
    assert res["mei"].dims == ("unit", "mei")
    assert list(res["mei"].values[0]) == ["s1", "s2", "s4"]
    assert list(res["mei"].values[1]) == ["s7", "s3", "s0"]
    # features are the stimulus positions: distances 1, 3, 2 -> II = -2
    assert res["ii"].values[0] == pytest.approx(-2.0)
    bottom = interpretability_index(ds, k=3, which="bottom", progress=False)
    assert list(bottom["mei"].values[0]) == ["s7", "s3", "s0"]


def test_identical_top_stimuli_get_the_maximum_ii_and_random_units_sit_in_the_null():
    rng = np.random.default_rng(3)
    n_stim, n_rand = 400, 300
    F = rng.standard_normal((n_stim, 6))
    F[10:15] = F[10]  # five identical stimuli
    R = rng.standard_normal((n_stim, n_rand + 2))
    R[10:15, 0] = 10.0  # unit 0: its top-5 are the identical stimuli
    cluster = np.argsort(np.linalg.norm(F - F[200], axis=1))[:5]
    R[cluster, 1] = 10.0 + np.arange(5)  # unit 1: top-5 are one tight cluster
    res = interpretability_index(_set(R, F), null="random_stimuli", n_null=2000, progress=False)
    ii = res["ii"].values
    assert ii[0] == 0.0  # the maximum possible value (distances are >= 0)
    assert ii[1] > ii[2:].max()
    assert res["ii_percentile"].values[0] == 100.0 and res["ii_percentile"].values[1] == 100.0
    z = res["ii_z"].values[2:]
    assert abs(z.mean()) < 0.15 and 0.8 < z.std() < 1.2
    pct = res["ii_percentile"].values[2:]
    assert abs(np.mean(pct < 50) - 0.5) < 0.1 and abs(np.mean(pct < 10) - 0.1) < 0.05
    # the null is k random stimuli: its mean is - the mean distance of random pairs
    d = pdist(F)
    assert res["ii_null"].mean() == pytest.approx(-d.mean(), rel=0.03)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_ii_equals_minus_mean_pdist_of_the_meis(metric):
    rng = np.random.default_rng(4)
    F, R = rng.standard_normal((120, 7)), rng.standard_normal((120, 25))
    res = interpretability_index(_set(R, F), similarity=Features(metric=metric), k=6, progress=False)
    for u in range(25):
        top = np.argsort(-R[:, u], kind="stable")[:6]
        assert list(res["mei"].values[u]) == list(top)
        assert res["ii"].values[u] == pytest.approx(-pdist(F[top], metric=metric).mean(), rel=1e-10)
    assert res.attrs["similarity"] == "features" and res.attrs["similarity_auto"] is False


def test_label_tuned_unit_scores_high_with_label():
    rng = np.random.default_rng(5)
    labels = np.repeat(np.array(["a", "b", "c", "d", "e"]), 60)
    R = rng.random((300, 40))
    R[labels == "c", 0] += 2.0
    ds = _set(R, label=("stimulus", labels))
    res = interpretability_index(ds, similarity="auto", null="random_stimuli", progress=False)
    assert res.attrs["similarity"] == "label" and res.attrs["similarity_auto"] is True
    assert res["ii"].values[0] == 0.0 and res["ii_z"].values[0] > 2.0
    # random units: mean label disagreement of random pairs 1 - sum p^2 = 0.8
    assert res["ii"].values[1:].mean() == pytest.approx(-0.8, abs=0.05)


def test_which_both_and_random_directions_null():
    rng = np.random.default_rng(6)
    F, R = rng.standard_normal((200, 4)), rng.standard_normal((200, 150))
    ds = _set(R, F)
    both = interpretability_index(ds, which="both", progress=False)
    assert both["ii"].dims == ("which", "unit") and both["mei"].dims == ("which", "unit", "mei")
    neg = interpretability_index(_set(-R, F), progress=False)
    np.testing.assert_array_equal(both["mei"].sel(which="bottom").values, neg["mei"].values)
    np.testing.assert_allclose(both["ii"].sel(which="bottom").values, neg["ii"].values)
    rd = interpretability_index(ds, null="random_directions", n_null=300, progress=False)
    # random units are random directions: z against random directions ~ N(0, 1)
    assert abs(rd["ii_z"].mean()) < 0.2 and rd.sizes["null_sample"] == 300


def test_nan_repeats_are_averaged_over_valid_repeats_and_skipped_per_unit():
    rng = np.random.default_rng(7)
    R = rng.random((2, 30, 3))
    R[0, 4, 0], R[1, 4, 0] = 9.0, np.nan  # mean over valid repeats = 9 -> unit 0's best stimulus
    R[:, 7, 1] = np.nan  # unit 1 never got stimulus 7 ...
    R[0, 7, 2] = 50.0  # ... which is unit 2's best
    F = rng.standard_normal((30, 3))
    ds = _set(R, F)
    res = interpretability_index(ds, k=3, progress=False)
    assert res["mei"].values[0, 0] == 4 and res["mei_response"].values[0, 0] == 9.0
    assert 7 not in res["mei"].values[1] and res["mei"].values[2, 0] == 7
    R2 = rng.random((2, 6, 2))
    R2[:, :4, 1] = np.nan  # unit 1 has only 2 valid stimuli
    with pytest.warns(NeurosuperWarning, match="1 of 2 units"):
        res2 = interpretability_index(_set(R2, rng.standard_normal((6, 2))), k=3, progress=False)
    assert np.isnan(res2["ii"].values[1]) and np.isfinite(res2["ii"].values[0])
    assert res2["mei"].values[1, 2] == -1


def test_dask_backed_set_gives_the_same_result_and_input_is_untouched():
    rng = np.random.default_rng(8)
    R, F = rng.poisson(1.5, (150, 20)).astype(float), rng.standard_normal((150, 5))
    ds = _set(R, F, area=("unit", ["V1"] * 12 + ["V4"] * 8))
    before = ds.copy(deep=True)
    lazy = ds.copy()
    lazy["responses"] = ds["responses"].chunk({"stimulus": 40})
    a = interpretability_index(ds, null="random_stimuli", progress=False)
    b = interpretability_index(lazy, null="random_stimuli", progress=False)
    xr.testing.assert_identical(a, b)
    xr.testing.assert_identical(ds, before)
    g = group_stats(a)
    assert list(g["group"].values) == ["V1", "V4"]
    assert g["mean"].sel(group="V4") == pytest.approx(a["ii"].values[12:].mean())
    assert int(g["n"].sel(group="V1")) == 12


def test_bad_input_messages():
    rng = np.random.default_rng(9)
    ds = _set(rng.random((10, 4)), label=("stimulus", list("aabbccddee")))
    with pytest.raises(AnalysisError, match="k=11 but the set has 10 stimuli"):
        interpretability_index(ds, k=11, similarity="label", progress=False)
    with pytest.raises(AnalysisError, match="k"):
        interpretability_index(ds, k=1, similarity="label", progress=False)
    with pytest.raises(
        AnalysisError, match=r"'pixels' needs a 'stimuli' variable.*similarity='label'.*all that do: label"
    ):
        interpretability_index(ds, similarity="pixels", progress=False)
    with pytest.raises(AnalysisError, match=r"features: found shape \(9, 2\); expected \(10, n_features\)"):
        interpretability_index(ds, similarity=Features(features=np.zeros((9, 2))), progress=False)
    with pytest.raises(AnalysisError, match="which"):
        interpretability_index(ds, similarity="label", which="middle", progress=False)
    with pytest.raises(AnalysisError, match="null"):
        interpretability_index(ds, similarity="label", null="shuffle", progress=False)
    with pytest.raises(AnalysisError, match="'nope'"):
        interpretability_index(ds, similarity="nope", progress=False)
    bare = _set(rng.random((10, 4)))
    with pytest.raises(AnalysisError, match="no 'stimuli' variable and no 'label'"):
        interpretability_index(bare, progress=False)


def test_time_and_repeat_dims_are_averaged():
    rng = np.random.default_rng(10)
    R = rng.random((3, 40, 4, 6))  # repeat, stimulus, time, unit
    F = rng.standard_normal((40, 3))
    full = ns.from_array(R, system="brain", measure="spike_rate", stimuli=F)
    flat = _set(R.mean(axis=(0, 2)), F)
    a = interpretability_index(full, progress=False)
    b = interpretability_index(flat, progress=False)
    np.testing.assert_array_equal(a["mei"].values, b["mei"].values)
    np.testing.assert_allclose(a["ii"].values, b["ii"].values)


# --------------------------------------------------------------------------------------------- issue 10
def test_dead_units_get_nan_not_an_ii_chosen_by_tie_breaking():
    rng = np.random.default_rng(11)
    F, R = rng.standard_normal((60, 3)), rng.random((60, 6))
    R[:, 2] = 0.0  # all zero (a ReLU that never fires)
    R[:, 4] = 3.5  # constant
    with pytest.warns(NeurosuperWarning, match="2 of 6 units are dead"):
        res = interpretability_index(_set(R, F), progress=False)
    for u in (2, 4):
        assert np.isnan(res["ii"].values[u]) and np.isnan(res["ii_z"].values[u])
        assert np.isnan(res["ii_percentile"].values[u]) and list(res["mei"].values[u]) == [-1] * 5
        assert np.isnan(res["mei_response"].values[u]).all()
    assert np.isfinite(res["ii"].values[[0, 1, 3, 5]]).all() and res.attrs["n_dead_units"] == 2
    with pytest.warns(NeurosuperWarning, match="2 of 6 units are dead"):
        both = interpretability_index(_set(R, F), which="both", null=None, progress=False)
    assert np.isnan(both["ii"].values[:, [2, 4]]).all()
    assert ns.interpret.summary(res)["n_dead_units"] == 2 and ns.interpret.summary(res)["n_units_scored"] == 4


def test_units_responding_to_fewer_than_k_stimuli_are_warned():
    rng = np.random.default_rng(12)
    R = rng.random((40, 3))
    R[:, 1] = 0.0
    R[[3, 9], 1] = [2.0, 1.0]  # responds above its floor to 2 stimuli only
    with pytest.warns(NeurosuperWarning, match="1 of 3 units respond above their minimum to fewer than k=5"):
        res = interpretability_index(_set(R, rng.standard_normal((40, 2))), null=None, progress=False)
    assert list(res["mei"].values[1][:2]) == [3, 9] and np.isfinite(res["ii"].values[1])


def _crops(rng, corners, size=16, photo=None):
    photo = rng.integers(0, 256, (64, 64)).astype(float) if photo is None else photo
    return np.stack([photo[y : y + size, x : x + size] for y, x in corners]), photo


def test_near_duplicate_meis_by_source_coords():
    """Overlapping crops of one photo are counted by their coords; overlap = (1 - |dy|/H)(1 - |dx|/W)."""
    rng = np.random.default_rng(13)
    n = 40
    ys, xs = rng.integers(0, 48, n), rng.integers(0, 48, n)
    src = np.array(["a"] * 20 + ["b"] * 20)
    ys[:5], xs[:5], src[:5] = [0, 2, 4, 30, 0], [0, 1, 30, 0, 30], "a"  # unit 0's MEIs
    imgs = rng.random((n, 16, 16))
    R = rng.random((n, 4))
    R[:5, 0] = 10 - np.arange(5)
    ds = _set(R, imgs, source_image=("stimulus", src), image_y=("stimulus", ys), image_x=("stimulus", xs))
    with pytest.warns(NeurosuperWarning, match=r"units have near-duplicate MEIs \(crops of one source_image"):
        res = interpretability_index(ds, similarity="pixels", progress=False)
    # pairs of unit 0 sharing >= 50 %: (0,1): (1-2/16)(1-1/16) = 0.82 and (2,4): (1-4/16)(1-0/16) = 0.75
    expected = sum(
        (max(0, 1 - abs(ys[i] - ys[j]) / 16) * max(0, 1 - abs(xs[i] - xs[j]) / 16)) >= 0.5
        for i in range(5)
        for j in range(i + 1, 5)
    )
    assert expected == 2 and res["mei_duplicates"].values[0] == 2
    assert res.attrs["duplicates"] == "coords"
    other = ds.assign_coords(source_image=("stimulus", np.where(np.arange(n) == 1, "c", src)))
    with pytest.warns(NeurosuperWarning, match=r"units have near-duplicate MEIs \(crops of one source_image"):
        quiet = interpretability_index(other, similarity="pixels", progress=False)  # crop 1 now from another photo
    assert quiet["mei_duplicates"].values[0] == 1
    none = interpretability_index(ds, similarity="pixels", duplicates=None, progress=False)
    assert "mei_duplicates" not in none and none.attrs["duplicates"] == "none"


def test_near_duplicate_meis_in_pixel_space_not_in_the_similarity_space():
    rng = np.random.default_rng(14)
    photo = rng.integers(0, 256, (64, 64)).astype(float)
    # unit 0: crops shifted by 3 px (overlap 0.81) and one identical image; unit 1: crops 10 px apart (0.375)
    dup, _ = _crops(rng, [(0, 0), (3, 0), (20, 20), (40, 40), (0, 0)], photo=photo)
    far, _ = _crops(rng, [(0, 30), (10, 30), (20, 30), (30, 30), (40, 30)], photo=photo)
    rest = rng.integers(0, 256, (30, 16, 16)).astype(float)
    imgs = np.concatenate([dup, far, rest])
    R = rng.random((40, 3))
    R[:5, 0] = 10 - np.arange(5)
    R[5:10, 1] = 10 - np.arange(5)
    labels = np.array(["x"] * 10 + ["y"] * 30)
    ds = _set(R, imgs, label=("stimulus", labels))
    with pytest.warns(NeurosuperWarning, match="1 of 3 units have near-duplicate MEIs"):
        res = interpretability_index(ds, similarity="label", progress=False)
    # unit 0: (0,1) shifted copy, (0,4) identical, (1,4) shifted copy -> 3 pairs; unit 1: none (overlap < 50 %)
    assert list(res["mei_duplicates"].values) == [3, 0, 0] and res.attrs["duplicates"] == "pixels"
    # both units have II 0 in the label space (all MEIs share a label) — that is not what is flagged
    assert res["ii"].values[0] == res["ii"].values[1] == 0.0
    with pytest.warns(NeurosuperWarning, match="2 of 3 units have near-duplicate MEIs .* >= 30% overlap"):
        loose = interpretability_index(ds, similarity="label", duplicate_overlap=0.3, progress=False)
    assert loose["mei_duplicates"].values[1] == 4  # neighbours 10 px apart overlap 0.375 >= 0.3
    big = _set(R, np.repeat(np.repeat(imgs, 8, axis=1), 8, axis=2))  # 128 x 128: above the auto limit
    assert "mei_duplicates" not in interpretability_index(big, similarity="pixels", null=None, progress=False)


def test_null_defaults_to_random_stimuli_and_none_turns_it_off():
    rng = np.random.default_rng(15)
    ds = _set(rng.random((50, 4)), rng.standard_normal((50, 3)))
    res = interpretability_index(ds, progress=False)
    assert res.attrs["null"] == "random_stimuli" and "ii_z" in res
    for off in (None, "none"):
        assert "ii_z" not in interpretability_index(ds, null=off, progress=False)


def _brute_rms_min(A, B, min_overlap):
    h, w = A.shape
    best = np.inf
    for dy in range(-h + 1, h):
        for dx in range(-w + 1, w):
            if (1 - abs(dy) / h) * (1 - abs(dx) / w) < min_overlap:
                continue
            a = A[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)]
            b = B[max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
            best = min(best, np.sqrt(((a - b) ** 2).mean()))
    return best


@pytest.mark.parametrize("min_overlap", [0.3, 0.5, 0.8])
def test_pixel_check_equals_brute_force_over_shifts(min_overlap):
    from neurosuper.interpret.duplicates import pixel_rms_min

    rng = np.random.default_rng(16)
    photo = rng.integers(0, 256, (60, 60)).astype(float)
    imgs = np.stack(
        [photo[10:22, 10:26], photo[13:25, 14:30], rng.integers(0, 256, (12, 16)).astype(float), photo[17:29, 11:27]]
    )
    a, b = np.array([0, 0, 1, 0, 3]), np.array([1, 2, 2, 3, 0])
    got = pixel_rms_min(imgs, a, b, min_overlap=min_overlap)
    expected = [_brute_rms_min(imgs[i], imgs[j], min_overlap) for i, j in zip(a, b, strict=True)]
    np.testing.assert_allclose(got, expected, atol=0.05)  # float32 FFTs: ~1e-3 of the pixel SD (74)


def test_duplicate_check_arguments_are_validated():
    rng = np.random.default_rng(17)
    feats = _set(rng.random((20, 3)), rng.standard_normal((20, 4)))
    with pytest.raises(AnalysisError, match=r"duplicate_overlap: found 0; expected a finite number in \(0.0, 1.0\]"):
        interpretability_index(feats, duplicate_overlap=0, progress=False)
    with pytest.raises(AnalysisError, match="duplicates: found 'yes'"):
        interpretability_index(feats, duplicates="yes", progress=False)
    with pytest.raises(AnalysisError, match="duplicates='pixels': found no image stimuli"):
        interpretability_index(feats, duplicates="pixels", progress=False)
    with pytest.raises(AnalysisError, match="duplicates='coords': found no stimulus coords"):
        interpretability_index(_set(rng.random((20, 3)), rng.random((20, 8, 8))), duplicates="coords", progress=False)
    assert "mei_duplicates" not in interpretability_index(feats, progress=False)  # features: not checked


def test_summary_tests_which_units_and_the_population_against_chance():
    """summary() gives the calibrated tests (see test_interpret_calibration.py): units that respond to a feature of
    the stimuli are discoveries at FDR 5 % and their population is above chance; units that ignore them are not."""
    rng = np.random.default_rng(3)
    theta = rng.uniform(0, 2 * np.pi, 300)  # movement directions, as in M1 (features: unit vectors)
    feats = np.c_[np.cos(theta), np.sin(theta)]
    tuned = np.exp(4 * np.cos(theta[:, None] - rng.uniform(0, 2 * np.pi, 40))) + 0.01 * rng.random((300, 40))
    noise = rng.random((300, 200))
    out = {}
    for name, resp in (("tuned", tuned), ("noise", noise)):
        ds = ns.from_array(resp, system="network", measure="activation", stimuli=feats)
        res = interpretability_index(ds, null="random_stimuli", n_null=200, seed=0, progress=False)
        s = ns.interpret.summary(res)
        assert "p_above_chance" not in s and "fraction_above_null" not in s
        assert s["n_units_significant"] == int(res["ii_significant"].sum()) and s["fdr"] == 0.05
        out[name] = s
    assert out["tuned"]["fraction_significant"] > 0.9 and out["tuned"]["p_population"] == pytest.approx(1 / 1001)
    assert out["noise"]["n_units_significant"] == 0 and out["noise"]["p_population"] > 0.05
