"""Predictivity (planted linear maps, ceilings, scikit-learn on the same folds), layer profiles on simulations
with a known best layer, the side-by-side table, the overview, summaries and the figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from _format_helpers import make_set
from scipy.spatial.distance import pdist, squareform

from neurosuper import compare as cmp
from neurosuper import prep
from neurosuper._numbers import rounded
from neurosuper.errors import AnalysisError


def _world(rng, n=150, p=40, noise=(3.0, 1.5, 0.3), n_rep=4, brain_noise=1.0, width=20):
    """A brain (repeats) whose signal is a linear map of a latent; three layers of ``width`` units that carry the
    same signal (mixed by a random rotation) with decreasing noise: the last layer is the best model by
    construction."""
    latent = rng.normal(size=(n, 10))
    signal = latent @ rng.normal(size=(10, p))
    brain = make_set(
        signal[None] + brain_noise * rng.normal(size=(n_rep, n, p)),
        system="brain",
        measure="dff",
        area=("unit", np.full(p, "IT")),
        stimuli=latent,
    )
    from scipy.stats import ortho_group

    layers = [
        (signal + s * rng.normal(size=(n, p))) @ ortho_group.rvs(p, random_state=k)[:, :width]
        for k, s in enumerate(noise)
    ]
    net = make_set(np.concatenate(layers, axis=1), layer=("unit", np.repeat(["l1", "l2", "l3"], width)), stimuli=latent)
    return net, brain, signal


# ------------------------------------------------------------------------------------------- predictivity
def test_predictivity_recovers_a_planted_linear_map(rng):
    x = rng.normal(size=(200, 15))
    w = rng.normal(size=(15, 12))
    medians = []
    for noise in (3.0, 1.0, 0.1, 0.0):
        y = x @ w + noise * np.sqrt(15) * rng.normal(size=(200, 12))
        medians.append(
            float(cmp.predictivity(make_set(x), make_set(y, system="brain", measure="dff"), n_splits=5)["median"])
        )
    assert medians == sorted(medians) and medians[-1] > 0.9999 and medians[0] < 0.5
    unrelated = cmp.predictivity(make_set(rng.normal(size=(200, 15))), make_set(x @ w, system="brain", measure="dff"))
    assert abs(float(unrelated["median"])) < 0.1


def test_predictivity_equals_sklearn_on_the_same_folds(rng):
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = rng.normal(size=(120, 8))
    y = np.tanh(x @ rng.normal(size=(8, 5))) + rng.normal(size=(120, 5))
    res = cmp.predictivity(make_set(x), make_set(y, system="brain", measure="dff"), alpha=10.0, n_splits=5, seed=4)
    rs = []
    for train, test in KFold(5, shuffle=True, random_state=4).split(x):
        pred = make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(x[train], y[train]).predict(x[test])
        rs.append([np.corrcoef(y[test, j], pred[:, j])[0, 1] for j in range(5)])
    np.testing.assert_allclose(res["r"].values, np.mean(rs, axis=0), atol=1e-12)
    assert (res["alpha"].values == 10.0).all()


def test_predictivity_ceiling_and_normalisation(rng):
    net, brain, _ = _world(rng)
    res = cmp.predictivity(net, brain, n_boot=50)
    halves = prep.split_repeats(brain["responses"])
    r = np.array([np.corrcoef(halves.r1[:, j], halves.r2[:, j])[0, 1] for j in range(40)])
    np.testing.assert_allclose(res["ceiling"].values, 2 * r / (1 + r), atol=1e-12)
    # normalised by the r a noise-free model reaches, √reliability (tests/test_compare_calibration.py: ≈ 1)
    assert float(res["normalized"]) == pytest.approx(float(res["median"]) / np.median(np.sqrt(2 * r / (1 + r))))
    lo, hi = res["median_ci"].values
    assert lo < hi and 0 < float(res["median"]) < 1
    assert res["r"].dims == ("unit",) and "area" in res.coords


def test_predictivity_order_independent_and_bad_input(rng):
    x = rng.normal(size=(60, 6))
    y = x @ rng.normal(size=(6, 4)) + rng.normal(size=(60, 4))
    ids = np.array([f"s{i:02d}" for i in range(60)])
    perm = rng.permutation(60)
    one = cmp.predictivity(make_set(x, stimulus=ids), make_set(y, stimulus=ids), n_splits=5)
    two = cmp.predictivity(make_set(x[perm], stimulus=ids[perm]), make_set(y, stimulus=ids), n_splits=5)
    np.testing.assert_array_equal(one["r"].values, two["r"].values)
    with pytest.raises(AnalysisError, match="n_splits.*Fix:"):
        cmp.predictivity(make_set(x[:8], stimulus=ids[:8]), make_set(y[:8], stimulus=ids[:8]), n_splits=5)


# ------------------------------------------------------------------------------------------------ profile
def test_rsa_profile_finds_the_planted_best_layer(rng):
    net, brain, _ = _world(rng)
    prof = cmp.profile(net, brain, n_boot=100)
    s = prof["score"].values
    assert list(prof["layer"].values) == ["l1", "l2", "l3"] and s[0] < s[1] < s[2]
    assert str(prof["best"].values) == "l3" and float(prof["margin"]) == pytest.approx(s[2] - s[1])
    assert float(prof["p_best"]) > 0.9
    lo, hi = prof["ceiling"].values
    nc = cmp.noise_ceiling(brain)
    assert (lo, hi) == (float(nc["lower"]), float(nc["upper"])) and prof.attrs["ceiling_kind"] == "split-half"
    assert (prof["ci"].sel(bound="lower") <= prof["score"]).all() and (prof["score"] <= prof["ci"][1]).all()
    # the layer's score equals compare_rdms of its own RDM with the brain's
    one = cmp.compare_rdms(cmp.rdm(net.isel(unit=net.layer == "l2")), cmp.rdm(brain), n_boot=0)
    assert s[1] == pytest.approx(float(one["value"]), abs=1e-12)


def test_profile_against_subject_rdms_and_a_single_rdm(rng):
    net, brain, signal = _world(rng)
    ids = brain["stimulus"].values
    subjects = [cmp.rdm(make_set(signal + 2 * rng.normal(size=signal.shape), stimulus=ids)) for _ in range(4)]
    prof = cmp.profile(net, subjects, method="pearson", n_boot=20)
    nc = cmp.noise_ceiling(subjects, method="pearson")
    assert prof["ceiling"].values.tolist() == [float(nc["lower"]), float(nc["upper"])]
    assert prof.attrs["ceiling_kind"] == "leave-one-out" and str(prof["best"].values) == "l3"
    single = cmp.profile(net, subjects[0], n_boot=0)
    assert np.isnan(single["ceiling"].values).all() and "single RDM" in single.attrs["ceiling_note"]
    no_rep = cmp.profile(net, brain.isel(repeat=0).drop_vars("repeat"), n_boot=0)
    assert np.isnan(no_rep["ceiling"].values).all() and "no repeats" in no_rep.attrs["ceiling_note"]


def test_predictivity_profile(rng):
    net, brain, _ = _world(rng)
    prof = cmp.profile(net, brain, kind="predictivity", n_boot=30, n_splits=5)
    s = prof["score"].values
    assert s[0] < s[2] and str(prof["best"].values) == "l3"
    assert 0 < prof["ceiling"].values[0] < prof["ceiling"].values[1] <= 1
    with pytest.raises(AnalysisError, match="predictivity.*Fix:"):
        cmp.profile(net, cmp.rdm(brain), kind="predictivity")


# ---------------------------------------------------------------------------------------------- overview
def test_overview_whole_and_pairs_and_summary_json(rng):
    net, brain, _ = _world(rng)
    ov = cmp.overview(net, brain, n_boot=50)
    s = cmp.summary(ov)
    json.dumps(s)
    assert {"n_stimuli", "rsa", "cka", "cka_debiased", "procrustes", "pairs"} <= set(s)
    assert set(s["rsa"]) >= {"value", "method", "ci"} and s["n_stimuli"] == 150
    assert [p["a"] for p in s["pairs"]] == ["l1", "l2", "l3"] and all(p["b"] == "IT" for p in s["pairs"])
    whole = cmp.cka(net, brain, groupby=None)["cka"]
    assert s["cka"] == rounded(float(whole))
    l3 = cmp.cka(net.isel(unit=net.layer == "l3"), brain, debiased=True, groupby=None)["cka"]
    assert s["pairs"][2]["cka_debiased"] == rounded(float(l3))
    proc = cmp.procrustes(net.isel(unit=net.layer == "l1"), brain, groupby=None)
    assert s["pairs"][0]["procrustes"] == rounded(float(proc["distance"]))


# ----------------------------------------------------------------------------------------- side by side
def test_side_by_side_table(rng):
    net, brain, _ = _world(rng, n=120, p=48, width=48)  # 48 units: the 10 ranks α needs (MIN_FIT_RANKS)
    table = cmp.side_by_side(net, brain, n_boot=5)
    assert list(table["group"].values) == ["l1", "l2", "l3", "IT"] and list(table["set"].values) == ["a"] * 3 + ["b"]
    assert table["alpha_method"].values.tolist() == ["pca"] * 3 + ["cvpca"]
    for var in ("alpha", "participation_ratio", "median_ii", "rsa", "cka", "predictivity"):
        assert np.isfinite(table[var].values).all(), var
    cka_l2 = cmp.cka(net.isel(unit=net.layer == "l2"), brain, groupby=None)["cka"]
    assert float(table["cka"][1]) == pytest.approx(float(cka_l2), abs=1e-12)
    pred_l3 = cmp.predictivity(net.isel(unit=net.layer == "l3"), brain)
    assert float(table["predictivity"][2]) == pytest.approx(float(pred_l3["median"]), abs=1e-12)
    rows = cmp.summary(table)["rows"]
    json.dumps(rows)
    assert rows[3]["system"] == "brain" and rows[0]["alpha_ci"][0] <= rows[0]["alpha"] <= rows[0]["alpha_ci"][1]
    small = cmp.side_by_side(*_world(rng, n=120)[:2], n_boot=0)  # 20 units per layer: too few ranks for α
    assert np.isnan(small["alpha"].values[:3]).all() and np.isfinite(small["participation_ratio"].values).all()
    assert small["alpha_method"].values.tolist() == ["pca"] * 3 + ["cvpca"]


# ------------------------------------------------------------------------------------------------- figures
def test_figures_render(rng, tmp_path):
    from neurosuper._atomic import save_figure
    from neurosuper.plot.compare import plot_profile, plot_rdm, plot_rdms, plot_side_by_side

    net, brain, _ = _world(rng, n=60)
    cat = np.repeat(["animal", "face", "tool"], 20)
    brain = brain.assign_coords(category=("stimulus", cat))
    r = cmp.rdm(brain)
    fig = plot_rdm(r, order_by="category", rank=True)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["animal", "face", "tool"]
    save_figure(fig, tmp_path / "rdm.png")
    save_figure(plot_rdms({"brain": r, "l3": cmp.rdm(net.isel(unit=net.layer == "l3"))}), tmp_path / "rdms.png")
    prof = cmp.profile(net, brain, n_boot=20)
    fig = plot_profile(prof)
    assert any("noise ceiling" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    save_figure(fig, tmp_path / "profile.png")
    save_figure(plot_side_by_side(cmp.side_by_side(net, brain, n_boot=0, ii=False)), tmp_path / "table.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("rdm.png", "rdms.png", "profile.png", "table.png"))
    with pytest.raises(AnalysisError, match="order_by='nope'.*Fix:"):
        plot_rdm(r, order_by="nope")


def test_plot_rdms_clusters_on_one_rdm_and_orders_every_panel_by_it(rng, monkeypatch):
    """Planted groups, shuffled in storage: ordering by the clustering of one RDM puts each group in one contiguous
    block, in every panel (matched by stimulus id, whatever each panel's own storage order); with and without the
    optimal leaf ordering."""
    import sys

    from neurosuper.plot.compare import plot_rdms

    plot_module = sys.modules["neurosuper.plot.compare"]
    n, groups = 90, 3
    label = np.repeat(np.arange(groups), n // groups)
    centres = rng.normal(size=(groups, 30)) * 3
    x = centres[label] + rng.normal(size=(n, 30))
    perm = rng.permutation(n)
    ids = [f"s{i:02d}" for i in range(n)]
    a = cmp.as_rdm(squareform(pdist(x[perm], "correlation")), stimulus=[ids[i] for i in perm])
    back = np.argsort(perm)[::-1]  # another storage order for the second panel
    b = a.isel(stimulus_a=back, stimulus_b=back)
    for limit in (1000, 10):
        monkeypatch.setattr(plot_module, "OPTIMAL_LEAF_MAX", limit)
        fig = plot_rdms({"brain": a, "copy": b}, cluster_on="brain")
        seq = label[perm][plot_module._cluster_positions(a)]  # the planted group of each row shown
        for ax in fig.axes[:2]:
            shown = np.asarray(ax.images[0].get_array())
            assert ax.get_xlabel() == "stimulus (ordered by clustering of brain)"
            assert (np.diff(seq) != 0).sum() == groups - 1  # each planted group one block
            within = shown[np.equal.outer(seq, seq) & ~np.eye(n, dtype=bool)].mean()
            assert within < 25 < shown[~np.equal.outer(seq, seq)].mean()  # percentiles: groups are close
    with pytest.raises(AnalysisError, match="cluster_on='nope'.*Fix: cluster_on='brain'"):
        plot_rdms({"brain": a}, cluster_on="nope")
    with pytest.raises(AnalysisError, match="order_by.*cluster_on.*Fix:"):
        plot_rdms({"brain": a}, cluster_on="brain", order_by="luminance")
    with pytest.raises(AnalysisError, match="1 stimuli that 'brain' lacks.*Fix:"):
        plot_rdms(
            {"brain": a.isel(stimulus_a=slice(1, None), stimulus_b=slice(1, None)), "copy": b}, cluster_on="brain"
        )


def test_summary_of_every_result(rng):
    net, brain, _ = _world(rng, n=80)  # more stimuli than the network's 60 units, so procrustes does not warn
    results = [
        cmp.rdm(brain),
        cmp.compare_rdms(net, brain, n_boot=10, n_perm=9),
        cmp.noise_ceiling(brain),
        cmp.cka(net, brain, groupby="auto"),
        cmp.procrustes(net, brain),
        cmp.predictivity(net, brain),
        cmp.profile(net, brain, n_boot=10),
    ]
    for res in results:
        s = cmp.summary(res)
        json.dumps(s, allow_nan=False)
        assert s["analysis"] == res.attrs["analysis"]
    with pytest.raises(AnalysisError, match="summary.*Fix:"):
        cmp.summary(xr.Dataset())
