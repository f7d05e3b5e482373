"""In-silico 2AFC, human validation (IMI csv), selectivity and polysemanticity against known truth and peers."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import xarray as xr
from _format_helpers import make_set
from sklearn.metrics import roc_auc_score

from neurosuper.errors import AnalysisError, FormatError, NeurosuperWarning
from neurosuper.interpret import (
    polysemanticity,
    psychophysics_2afc,
    read_imi_responses,
    selectivity,
    validate_against_humans,
)

_set = functools.partial(make_set, system="brain", measure="spike_rate")  # this file's sets: spike rates


def test_2afc_selective_unit_near_one_random_unit_near_half():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 6)) * 5
    cls = np.repeat(np.arange(5), 100)
    F = centres[cls] + rng.standard_normal((500, 6)) * 0.3
    R = rng.random((500, 201))
    R[:, 0] = np.where(cls == 2, 1 + rng.random(500), 0.1 * rng.random(500))  # responds to cluster 2 only
    res = psychophysics_2afc(_set(R, F), n_trials=50, progress=False)
    assert res["accuracy"].values[0] == 1.0
    assert res["accuracy"].values[1:].mean() == pytest.approx(0.5, abs=0.03)
    assert res["correct"].dims == ("unit", "trial") and res.attrs["n_references"] == 9
    with pytest.raises(AnalysisError, match="quantile range"):
        psychophysics_2afc(_set(R, F), high=(0.9, 0.5), progress=False)
    with pytest.raises(AnalysisError, match="leave no room"):
        psychophysics_2afc(_set(R[:10, :3], F[:10]), progress=False)  # 3 units: 201 would look transposed


# --------------------------------------------------------------------------------------------- humans
def _imi_trials(rng, n_units=60, per_unit=40, slope=2.0, models=("resnet50", "clip")):
    rows, scores = [], []
    for m in models:
        for u in range(n_units):
            layer, channel = f"layer{u % 3}", u
            s = rng.standard_normal()
            scores.append((m, layer, channel, s))
            p = 1 / (1 + np.exp(-(0.8 + slope * s)))
            for t in range(per_unit):
                rows.append(
                    {
                        "correct": bool(rng.random() < p),
                        "confidence": int(rng.integers(1, 4)),
                        "rt": float(rng.uniform(0.5, 3)),
                        "model": m,
                        "layer": layer,
                        "channel": channel,
                        "batch": 0,
                        "mode": "natural",
                        "task_id": f"task-{u}-{t}",
                    }
                )
    return pd.DataFrame(rows), pd.DataFrame(scores, columns=["model", "layer", "channel", "score"])


def test_read_imi_drops_catch_and_demo_trials(tmp_path):
    rng = np.random.default_rng(1)
    trials, _ = _imi_trials(rng, n_units=5, per_unit=4, models=("m",))
    df = trials.copy()
    df["catch_trial"] = ["True" if i % 7 == 0 else "False" for i in range(len(df))]
    df["is_demo"] = [i < 3 for i in range(len(df))]
    df.to_csv(tmp_path / "responses_main.csv", index=False)
    out = read_imi_responses(tmp_path / "responses_main.csv")
    catch, demo = np.arange(len(df)) % 7 == 0, np.arange(len(df)) < 3
    assert out.sizes["trial"] == int((~(catch | demo)).sum())
    assert out.attrs["n_catch_dropped"] == int(catch.sum())
    assert out.attrs["n_demo_dropped"] == int((demo & ~catch).sum())
    assert out["correct"].dtype == bool and out["channel"].dtype == np.int64
    np.testing.assert_array_equal(out["rt"].values, df.loc[~(catch | demo), "rt"].to_numpy())
    # other spelling: flags in task_id, or is_catch / demo columns
    alt = trials.copy()
    alt.loc[:4, "task_id"] = ["catch-1", "CATCH-2", "demo-1", "Demo", "demo-x"]
    alt.to_csv(tmp_path / "alt.csv", index=False)
    got = read_imi_responses(tmp_path / "alt.csv")
    assert got.sizes["trial"] == len(trials) - 5 and got.attrs["n_catch_dropped"] == 2
    alt2 = trials.copy()
    alt2["is_catch"], alt2["demo"] = 0, 0
    alt2.loc[0, "is_catch"], alt2.loc[1, "demo"] = 1, 1
    alt2.to_csv(tmp_path / "alt2.csv", index=False)
    assert read_imi_responses(tmp_path / "alt2.csv").sizes["trial"] == len(trials) - 2
    trials.drop(columns=["rt"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(FormatError, match=r"missing \['rt'\]"):
        read_imi_responses(tmp_path / "bad.csv")


def test_validate_against_humans_matches_sklearn_and_scipy(tmp_path):
    rng = np.random.default_rng(2)
    trials, scores = _imi_trials(rng)
    trials.to_csv(tmp_path / "r.csv", index=False)
    resp = read_imi_responses(tmp_path / "r.csv")
    res = validate_against_humans(scores, resp, n_boot=300)
    merged = trials.merge(scores, on=["model", "layer", "channel"])
    for model, layer in [("all", "all"), ("clip", "all"), ("resnet50", "layer1")]:
        sub = merged[((merged.model == model) | (model == "all")) & ((merged.layer == layer) | (layer == "all"))]
        g = res.sel(group=f"{model}/{layer}")
        assert float(g["auc"]) == pytest.approx(roc_auc_score(sub["correct"], sub["score"]), rel=1e-12)
        assert float(g["spearman"]) == pytest.approx(scipy.stats.spearmanr(sub["score"], sub["correct"])[0], rel=1e-10)
        per_unit = sub.groupby(["model", "layer", "channel"]).agg(s=("score", "first"), a=("correct", "mean"))
        assert float(g["spearman_units"]) == pytest.approx(scipy.stats.spearmanr(per_unit.s, per_unit.a)[0], rel=1e-10)
        assert int(g["n_trials"]) == len(sub)
    # a planted association is found, with a CI excluding chance
    allg = res.sel(group="all/all")
    assert float(allg["auc"]) > 0.7 and float(allg["auc_low"]) > 0.6
    assert float(allg["auc_low"]) <= float(allg["auc"]) <= float(allg["auc_high"])
    # no association: AUC near 0.5 and inside the CI
    flat, fscores = _imi_trials(np.random.default_rng(3), slope=0.0)
    flat.to_csv(tmp_path / "f.csv", index=False)
    res0 = validate_against_humans(fscores, read_imi_responses(tmp_path / "f.csv"), n_boot=300).sel(group="all/all")
    assert float(res0["auc_low"]) < 0.5 < float(res0["auc_high"]) and abs(float(res0["auc"]) - 0.5) < 0.05


def test_validate_scores_as_dataarray_and_unscored_trials(tmp_path):
    rng = np.random.default_rng(4)
    trials, scores = _imi_trials(rng, n_units=30, models=("net",))
    trials.to_csv(tmp_path / "r.csv", index=False)
    resp = read_imi_responses(tmp_path / "r.csv")
    keep = scores.iloc[:20]
    da = xr.DataArray(
        keep["score"].to_numpy(),
        dims="unit",
        coords={"unit": np.arange(20), "layer": ("unit", keep["layer"]), "channel": ("unit", keep["channel"])},
        attrs={"model": "net"},
    )
    with pytest.warns(NeurosuperWarning, match="400 of 1200 trials"):
        res = validate_against_humans(da, resp, n_boot=50)
    sub = trials.merge(keep, on=["model", "layer", "channel"])
    assert float(res.sel(group="all/all")["auc"]) == pytest.approx(roc_auc_score(sub["correct"], sub["score"]))
    with pytest.raises(AnalysisError, match="no trial"):
        validate_against_humans(da.assign_attrs(model="other"), resp)


# --------------------------------------------------------------------------------------------- selectivity
def test_selectivity_known_values_and_scipy_kurtosis():
    rng = np.random.default_rng(5)
    R = rng.gamma(0.5, 2.0, (200, 4))
    R[:, 0] = 0.0
    R[17, 0] = 3.0  # responds to one stimulus only
    R[:, 1] = 2.5  # constant
    res = selectivity(_set(R))
    assert res["lifetime_sparseness"].values[0] == pytest.approx(1.0)
    assert res["lifetime_sparseness"].values[1] == pytest.approx(0.0, abs=1e-12)
    r = R[:, 2]
    n = len(r)
    expected = (1 - (r.mean() ** 2) / (r**2).mean()) / (1 - 1 / n)
    assert res["lifetime_sparseness"].values[2] == pytest.approx(expected)
    np.testing.assert_allclose(
        res["kurtosis"].values[[0, 2, 3]], scipy.stats.kurtosis(R[:, [0, 2, 3]], axis=0, fisher=True, bias=True)
    )
    pop = R[5]
    assert res["population_sparseness"].values[5] == pytest.approx((1 - pop.mean() ** 2 / (pop**2).mean()) / 0.75)
    with pytest.raises(AnalysisError, match="negative responses"):
        selectivity(_set(R - 1))
    with pytest.warns(NeurosuperWarning, match="clipped"):
        clipped = selectivity(_set(R - 1), rectify=True)
    assert clipped.attrs["rectified"] == int((R - 1 < 0).sum())


def test_polysemanticity_labels_and_clusters():
    rng = np.random.default_rng(6)
    labels = np.repeat(np.array(list("abcde")), 40)
    R = rng.random((200, 3))
    R[labels == "b", 0] += 5  # one class
    R[(labels == "a") | (labels == "d"), 1] += 5 + rng.random(80)  # two classes, 20 of each likely in top-20
    top1 = np.argsort(-R[:, 1], kind="stable")[:20]
    _, counts = np.unique(labels[top1], return_counts=True)
    p = counts / 20
    res = polysemanticity(_set(R, label=("stimulus", labels)), k=20)
    assert res.attrs["method"] == "labels"
    assert res["polysemanticity"].values[0] == pytest.approx(1.0)
    assert res["polysemanticity"].values[1] == pytest.approx(np.exp(-(p * np.log(p)).sum()))
    assert 1.8 < res["polysemanticity"].values[1] <= 2.0 and res["n_groups"].values[1] == 2
    # clusters in feature space: 4 tight clusters; a unit driven by two of them in equal parts
    centres = rng.standard_normal((4, 5)) * 10
    cl = np.repeat(np.arange(4), 50)
    F = centres[cl] + rng.standard_normal((200, 5)) * 0.2
    Q = rng.random((200, 2))
    Q[cl == 0, 0] += 5
    Q[cl == 1, 1] += 5
    Q[np.flatnonzero(cl == 3)[:10], 1] += 6  # top-20 of unit 1: 10 from cluster 3, 10 from cluster 1
    res2 = polysemanticity(_set(Q, F), k=20)
    assert res2.attrs["method"] == "clusters"
    assert res2["polysemanticity"].values[0] == pytest.approx(1.0)
    assert res2["polysemanticity"].values[1] == pytest.approx(2.0)
    assert res2["entropy_bits"].values[1] == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------- Klindt's observer
def _klindt_reference(F, act, perm_top, perm_bot, T=20, R=9):
    """Klindt et al.'s run_single_unit_psychophysics (quantile 0, zscore=True, pool=mean), one unit, as a loop."""
    top = np.argsort(-act, kind="stable")
    bottom = top[::-1]
    scores = []
    for t in range(T):
        refs = np.concatenate([top[T + np.arange(R) * T + t], bottom[T + np.arange(R) * T + t]])
        queries = [top[:T][perm_top[t]], bottom[:T][perm_bot[t]]]
        sim = -np.linalg.norm(F[refs][:, None] - F[queries][None], axis=-1)  # (2R, 2)
        sim = (sim - sim.mean()) / (sim.std() or 1.0)
        right = sim[:R, 0].mean() + sim[R:, 1].mean()
        wrong = sim[:R, 1].mean() + sim[R:, 0].mean()
        scores.append(np.exp(right) / (np.exp(right) + np.exp(wrong)))
    return np.array(scores)


def test_klindt2023_observer_matches_a_loop_over_their_algorithm():
    rng = np.random.default_rng(7)
    F = rng.standard_normal((450, 4))
    R = rng.standard_normal((450, 6))
    R[:, 0] = F[:, 0] + 0.3 * rng.standard_normal(450)  # tuned to feature 0
    res = psychophysics_2afc(_set(R, F), observer="klindt2023", seed=3, progress=False)
    draw = np.random.default_rng(3)  # the documented draws: top permutations of all units, then bottom ones
    perm_top = draw.permuted(np.tile(np.arange(20), (6, 1)), axis=1)
    perm_bot = draw.permuted(np.tile(np.arange(20), (6, 1)), axis=1)
    for u in range(6):
        np.testing.assert_allclose(
            res["correct"].values[u], _klindt_reference(F, R[:, u], perm_top[u], perm_bot[u]), rtol=1e-10
        )
    assert res["accuracy"].values[0] > 0.8 and res.attrs["observer"] == "klindt2023"
    # z-scored similarities: the same answer in a space stretched by any factor
    scaled = psychophysics_2afc(_set(R, 7.0 * F), observer="klindt2023", seed=3, progress=False)
    np.testing.assert_allclose(scaled["correct"].values, res["correct"].values, rtol=1e-10)


def test_klindt2023_observer_known_values():
    """A perfectly label-selective unit: z = ±1 everywhere, P(correct) = 1 / (1 + e^-4) on every trial."""
    rng = np.random.default_rng(8)
    labels = np.repeat(np.array(list("ABC")), 200)
    R = rng.random((600, 101))
    R[:, 0] = np.where(
        labels == "A", 2 + rng.random(600), np.where(labels == "B", rng.random(600) - 2, rng.random(600))
    )
    ds = _set(R, label=("stimulus", labels))
    res = psychophysics_2afc(ds, observer="klindt2023", progress=False)
    np.testing.assert_allclose(res["correct"].values[0], 1 / (1 + np.exp(-4)), rtol=1e-12)
    assert abs(res["accuracy"].values[1:].mean() - 0.5) < 0.02  # untuned units: chance
    nearest = psychophysics_2afc(ds, progress=False)  # the default observer is sure: 1.0
    assert nearest["accuracy"].values[0] == 1.0 and nearest.attrs["observer"] == "nearest"
    # center=0.25 keeps the middle half (300 stimuli): too few for 2 * 20 * (9 + 1) = 400 disjoint ranks
    with pytest.raises(AnalysisError, match="expected at least 2 · n_trials · \\(n_references \\+ 1\\) = 400"):
        psychophysics_2afc(ds, observer="klindt2023", center=0.25, progress=False)
    mid = psychophysics_2afc(ds, observer="klindt2023", center=0.25, n_trials=10, n_references=4, progress=False)
    assert mid.attrs["center"] == 0.25 and mid["correct"].shape == (101, 10)
    with pytest.raises(AnalysisError, match="observer"):
        psychophysics_2afc(ds, observer="humans", progress=False)
