"""The planted demo data (``datasets.planted_brain``/``planted_network``) hold the truth they claim, and the demo's
``truth`` step judges found against planted correctly (each tolerance can fail)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

import neurosuper as ns
from neurosuper import datasets
from neurosuper._planted import OBJECTS, PLANTED_BRAIN
from neurosuper.pipeline import truth

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("planted-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(datasets.CACHE_ENV, str(path))
        yield path


@pytest.fixture(scope="module")
def brain(cache):
    return datasets.planted_brain(progress=False)


@pytest.fixture(scope="module")
def network(cache, brain):
    return datasets.planted_network(progress=False)


# --------------------------------------------------------------------------------------------- the data
def test_brain_holds_the_planted_features_in_superposition(brain):
    ns.validate(brain, check_values=True)
    n_units, n_features = brain.sizes["unit"], brain.sizes["feature"]
    assert (n_units, n_features) == (PLANTED_BRAIN["n_units"], 9 * OBJECTS["n_orientations"] * 2)
    assert n_features > n_units and brain.attrs["features_per_unit"] == pytest.approx(n_features / n_units)
    feats = brain["features"].values
    per_stimulus = (feats > 0).sum(axis=1)
    assert set(np.unique(per_stimulus)) == {1, 2}  # one object per patch, two in about a quarter
    assert 0.2 < (per_stimulus == 2).mean() < 0.3
    lo, hi = OBJECTS["contrast_range"]
    assert feats[feats > 0].min() >= lo and feats.max() <= hi
    w = brain["mixing"].values
    np.testing.assert_allclose(np.linalg.norm(w, axis=0), 1.0, atol=1e-12)
    # the rates are the stated model of the features, exactly
    raw = brain.attrs["baseline"] + brain.attrs["gain"] * feats.astype(np.float64) @ w.T
    np.testing.assert_allclose(brain["rates"].values, np.maximum(raw, PLANTED_BRAIN["min_rate"]), rtol=1e-5)
    # Poisson counts around the rates: the mean over presentations matches the mean rate
    counts = brain["responses"].values
    assert abs(counts.mean() - brain["rates"].values.mean()) < 0.02 * brain["rates"].values.mean()


def test_capacity_and_alpha_attrs_are_what_the_analyses_give(brain):
    c = ns.capacity.capacity(brain["mixing"].values.T).values  # Scherlis et al. 2022, features first
    np.testing.assert_allclose(brain["feature_capacity"].values, c, atol=1e-12)
    assert brain.attrs["capacity_total"] == pytest.approx(c.sum()) and c.sum() <= brain.sizes["unit"]
    fit = ns.spectral.powerlaw(brain["true_spectrum"], ranks=tuple(brain.attrs["alpha_ranks"]))
    assert float(fit["alpha"]) == pytest.approx(brain.attrs["alpha_true"], abs=1e-12)
    assert brain.attrs["alpha_true_r2"] > 0.95  # the noiseless spectrum is a power law over the stated ranks


def test_the_objects_are_visible_to_the_similarity_space(brain):
    """A feature's patches look alike in the oriented-energy space (the interpretability index's space): the mean
    distance among patches carrying one object is well below that among random patches — what the planted
    interpretability needs (Gabors of a few px were invisible there)."""
    emb = ns.interpret.gabor_embedding(brain["stimuli"].values[:600])
    feats = brain["features"].values[:600]
    rng = np.random.default_rng(0)
    random = np.mean([pdist(emb[rng.choice(600, 5, replace=False)]).mean() for _ in range(200)])
    within = [
        pdist(emb[np.flatnonzero(feats[:, k] > 0)]).mean()
        for k in range(feats.shape[1])
        if (feats[:, k] > 0).sum() >= 3
    ]
    assert np.median(within) < 0.75 * random


def test_network_has_one_matching_layer(brain, network):
    ns.validate(network, check_values=True)
    assert list(dict.fromkeys(network["layer"].values.tolist())) == ["energy", "objects", "pixels"]
    assert network.attrs["matching_layer"] == "objects"
    np.testing.assert_array_equal(network["stimuli"].values, brain["stimuli"].values)
    ids = np.arange(0, 2000, 5)
    truth_rdm = pdist(brain["rates"].values[ids], "correlation")
    rsa = {}
    for layer in ("energy", "objects", "pixels"):
        x = network["responses"].values[ids][:, network["layer"].values == layer]
        rsa[layer] = spearmanr(pdist(x, "correlation"), truth_rdm).statistic
    assert rsa["objects"] > 0.8 and abs(rsa["pixels"]) < 0.1 and rsa["energy"] < 0.3


def test_builds_are_deterministic(brain):
    """A fresh build (new process state: no memo) equals the cached one (the network's layers are seeded alike)."""
    datasets._PLANTED_MEMO.clear()
    datasets._PATCH_MEMO.clear()
    again = datasets.planted_brain(progress=False, cache=False)
    np.testing.assert_array_equal(again["responses"].values, brain["responses"].values)
    np.testing.assert_array_equal(again["stimuli"].values, brain["stimuli"].values)


# --------------------------------------------------------------------------------------------- the judge
def test_recovery_is_the_best_absolute_cosine():
    rng = np.random.default_rng(1)
    mixing = rng.standard_normal((10, 6))
    exact = -3.0 * mixing[:, :4].T  # 4 features found exactly (any sign and scale), 2 not at all
    best = truth.recovery(np.vstack([exact, np.full((1, 10), np.nan)]), mixing)
    np.testing.assert_allclose(best[:4], 1.0, atol=1e-12)
    assert (best[4:] < 0.99).all()
    assert (truth.recovery(np.empty((0, 10)), mixing) == 0).all()


class _Ctx:
    """The few Context attributes the truth step reads."""

    def __init__(self, sets, summary, results):
        self.sets, self.summary, self.results = sets, summary, results


def _fake_run(brain, *, alpha_found, kmeans_weights, p_kmeans, p_random, best="objects", shuffled_ci=None):
    n = brain.sizes["unit"]
    units = brain["unit"].values
    rng = np.random.default_rng(0)
    w = np.vstack([kmeans_weights, rng.standard_normal((50, n))])
    import xarray as xr

    result = xr.Dataset(
        {"weights": (("direction", "unit"), w)},
        coords={
            "direction": [f"d{i}" for i in range(len(w))],
            "method": ("direction", ["kmeans"] * len(kmeans_weights) + ["random"] * 50),
            "unit": units,
        },
    )
    summary = {
        "spectrum": {"brain": {"alpha": alpha_found, "alpha_true": 0.6, "alpha_true_ranks": [1, 16]}},
        "directions": {
            "brain": {
                "methods": {
                    "units": {"median_ii": -1.7},
                    "kmeans": {"median_ii": -1.0, "p_vs_units_holm": p_kmeans},
                    "random": {"median_ii": -1.6, "p_vs_units_holm": p_random},
                }
            }
        },
    }
    return _Ctx({"brain": brain}, summary, {"directions": {"brain": result}})


def test_truth_step_passes_only_when_every_row_holds(brain):
    mixing = brain["mixing"].values
    good = _fake_run(brain, alpha_found=0.65, kmeans_weights=mixing.T, p_kmeans=1e-6, p_random=0.9)
    truth.run(good)
    table = good.summary["truth"]
    assert table["all_recovered"] and not table["failed"]
    rows = {r["analysis"]: r for r in table["table"]}
    assert rows["directions: kmeans recovers the planted features"]["values"]["share"] == 1.0
    assert rows["directions: random directions find no planted feature"]["verdict"] == "at chance"
    assert {r["control"] for r in table["table"]} >= {"positive control", "negative control"}
    # each tolerance can fail: α off by more than 0.15, half the features missing, a significant random control
    for bad, which in (
        ({"alpha_found": 0.8}, "spectrum: power-law exponent α"),
        ({"kmeans_weights": mixing.T[: mixing.shape[1] // 3]}, "directions: kmeans recovers the planted features"),
        ({"p_random": 0.01}, "directions: random directions vs the neurons"),
        ({"p_kmeans": 0.2}, "directions: more interpretable than the neurons"),
    ):
        kw = {"alpha_found": 0.65, "kmeans_weights": mixing.T, "p_kmeans": 1e-6, "p_random": 0.9, **bad}
        ctx = _fake_run(brain, **kw)
        truth.run(ctx)
        assert not ctx.summary["truth"]["all_recovered"] and ctx.summary["truth"]["failed"] == [which], bad


def test_truth_step_without_planted_truth_says_so():
    import xarray as xr

    ctx = _Ctx({"brain": xr.Dataset()}, {}, {})
    truth.run(ctx)
    assert "no set carries planted truth" in ctx.summary["truth"]["skipped"]
