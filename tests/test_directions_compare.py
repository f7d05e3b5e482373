"""compare_methods, synergy and feature_recovery on known truth: planted features in superposition are recovered
by the default finders, their directions are more interpretable (cross-validated II, rank test) than the units and
random directions, a planted synergistic pair of units is found (Klindt et al. 2023), and a direction that is one
unit says so."""

from __future__ import annotations

import numpy as np
import pytest

import neurosuper as ns
from neurosuper.directions import compare_methods, feature_recovery, find, method_stats, summary, synergy

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def planted():
    """64 sparse features in 32 units, 20,000 samples, p = 5 %, amplitude U[0, 1], σ = 0.01."""
    return ns.directions.planted_superposition(
        n_features=64, n_units=32, n_samples=20_000, p_active=0.05, noise=0.01, seed=0
    )


@pytest.mark.parametrize("method", ["kmeans", "sae"])
def test_default_finders_recover_the_planted_features(planted, method):
    ds, truth = planted
    D = find(ds, method, 64)  # default options
    rec = feature_recovery(D, truth)
    assert rec.attrs["fraction_recovered"] >= 0.9, rec.attrs  # measured: kmeans 0.94, sae 0.94 (seeds 1, 2: 0.98, 0.97)
    assert float(rec["best_cosine"].median()) > 0.97


def test_units_pca_and_random_do_not_recover_them(planted):
    ds, truth = planted
    for method in ("units", "pca", "random"):
        rec = feature_recovery(find(ds, method), truth)
        assert rec.attrs["fraction_recovered"] < 0.1, (method, rec.attrs)


def test_recovered_directions_are_more_interpretable_cross_validated(planted):
    ds, _ = planted
    sub = ds.isel(stimulus=slice(0, 8000))
    res = compare_methods(
        sub,
        ("units", "kmeans", "sae", "random"),
        split=0.5,
        seed=0,
        progress=False,
        options={"kmeans": {"n_directions": 64, "n_init": 3}, "sae": {"n_steps": 1500}},
    )
    assert res.attrs["similarity"] == "label" and res.attrs["n_fit"] == res.attrs["n_score"] == 4000
    ms = method_stats(res)
    for m in ("kmeans", "sae"):
        assert float(ms["p_vs_units"].sel({"method": m})) < 1e-4
        assert float(ms["auc_vs_units"].sel({"method": m})) > 0.8
        mine = res["ii"].values[res["method"].values == m]
        rand = res["ii"].values[res["method"].values == "random"]
        from scipy.stats import mannwhitneyu

        assert mannwhitneyu(mine, rand, alternative="greater").pvalue < 1e-4
    assert float(ms["p_vs_units"].sel({"method": "random"})) > 0.05
    assert float(ms["median_ii"].sel({"method": "kmeans"})) > float(ms["median_ii"].sel({"method": "units"}))
    out = summary(res)
    assert out["best_method"] in ("kmeans", "sae") and out["methods"]["units"]["p_vs_units"] is None
    assert out["best_method_significant"] is True and set(out["methods_above_units"]) >= {"kmeans", "sae"}
    import json

    json.dumps(out)


def test_in_sample_scoring_favours_kmeans(planted):
    """k-means' top stimuli are its own cluster members: in-sample (the paper's way) its II can only look better."""
    ds, _ = planted
    sub = ds.isel(stimulus=slice(0, 4000))
    kw = {"seed": 1, "progress": False, "null": None, "options": {"kmeans": {"n_init": 2}}}
    cv = compare_methods(sub, ("kmeans",), split=0.5, **kw)
    ins = compare_methods(sub, ("kmeans",), split=None, **kw)
    assert ins.attrs["in_sample"] and ins.attrs["n_fit"] == ins.attrs["n_score"] == 4000
    assert float(ins["ii"].mean()) >= float(cv["ii"].mean())


def test_synergy_finds_the_planted_pair():
    """Units a = A + B and b = A + C: each alone mixes two classes; (z_a + z_b)/√2 codes class A only."""
    rng = np.random.default_rng(0)
    n, classes = 600, np.array(list("ABCDEF"))
    label = classes[rng.integers(0, 6, n)]
    onehot = (label[:, None] == classes[None, :]).astype(float)
    amp = rng.uniform(0.5, 1.0, n)[:, None] * onehot
    mix = rng.random((6, 20)) * (rng.random((6, 20)) < 0.4)  # 20 other units: random mixtures of classes
    mix[:, 0] = [1, 1, 0, 0, 0, 0]  # unit 0 = A + B
    mix[:, 1] = [1, 0, 1, 0, 0, 0]  # unit 1 = A + C
    R = amp @ mix + 0.05 * rng.standard_normal((n, 20))
    ds = ns.from_array(R, system="brain", measure="spike_rate", label=("stimulus", label))
    res = synergy(ds, k=5, low_quantile=1.0, n_pairs=5, progress=False)
    assert res.attrs["similarity"] == "label"
    assert {int(res["unit_a"].values[0]), int(res["unit_b"].values[0])} == {0, 1}
    assert float(res["ii_pair"].values[0]) == 0.0  # all five top stimuli are class A
    assert float(res["gain"].values[0]) > 0.3
    assert max(float(res["ii_a"].values[0]), float(res["ii_b"].values[0])) <= -0.4
    assert summary(res)["top_pairs"][0]["ii_pair"] == 0.0


# ------------------------------------------------------------------------------ a direction that is one unit
@pytest.fixture(scope="module")
def dominated():
    """30 untuned noisy units and one (u07) that fires strongly, and only, for class-A stimuli."""
    rng = np.random.default_rng(0)
    n, classes = 400, np.array(list("ABCDEF"))
    label = classes[rng.integers(0, 6, n)]
    R = rng.gamma(2.0, 0.5, (n, 31))
    R[:, 7] = np.where(label == "A", rng.uniform(5, 20, n), 0.0) + 0.1 * rng.random(n)
    return ns.from_array(
        R, system="brain", measure="spike_rate", unit=[f"u{i:02d}" for i in range(31)], label=("stimulus", label)
    )


def test_a_direction_that_is_one_unit_is_recorded_and_marked(dominated):
    """The demo brain's "best direction" of units, ICA, PCA and NMF showed the same five patches with the same II
    (−0.6922) because one large, sparse, high-variance unit (n0323: SD 4.0 against a median 0.8 over the 128 units
    compared) is PCA's first axis, an ICA component and an NMF atom. compare_methods records each direction's
    nearest unit and the figure marks such rows and repeated stimulus sets."""
    from neurosuper.plot.directions import plot_direction_meis

    res = compare_methods(dominated, ("units", "pca", "nmf"), k=5, seed=0, null=None, progress=False)
    assert {"nearest_unit", "nearest_unit_r"} <= set(res.data_vars)
    pc0 = res.sel(direction="pca/0")
    assert str(pc0["nearest_unit"].values) == "u07" and float(pc0["nearest_unit_r"]) > 0.99
    unit = res.sel(direction="units/u07")
    assert str(unit["nearest_unit"].values) == "u07" and float(unit["nearest_unit_r"]) == pytest.approx(1.0)
    # the same k stimuli, so the same II: the number repeats because the direction is the unit
    assert set(pc0["top_stimuli"].values.tolist()) == set(unit["top_stimuli"].values.tolist())
    assert float(pc0["ii"]) == float(unit["ii"]) == 0.0
    r = res["nearest_unit_r"].values
    assert np.all((np.abs(r) <= 1 + 1e-12) | np.isnan(r))
    fig = plot_direction_meis(dominated, res)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    pca_row = next(t for t in labels if t.startswith("pca/0"))
    assert "≈ unit u07 (r 1.00)" in pca_row and "= units/u07" in pca_row
    unit_row = next(t for t in labels if t.startswith("units/u07"))
    assert "≈" not in unit_row and "=" not in unit_row  # the unit itself is not "like a unit"
    assert "≈ unit" in fig._suptitle.get_text()
