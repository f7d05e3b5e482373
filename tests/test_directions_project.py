"""find / project / groupby / orientation on ResponseSets (repeats, time, missing repeats, dask), summary, the
figures and the ``neurosuper directions`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy.stats import skew

import neurosuper as ns
from neurosuper.directions import find, fit_directions, project, summary
from neurosuper.errors import AnalysisError, NeurosuperWarning

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def layered():
    """3 repeats × 120 stimuli × 2 time bins × 24 units in two layers; one missing repeat; image stimuli."""
    rng = np.random.default_rng(1)
    latent = rng.exponential(1.0, (120, 6)) * (rng.random((120, 6)) < 0.3)
    W = np.abs(rng.standard_normal((6, 24)))
    rates = latent @ W + 0.1
    data = rng.poisson(np.broadcast_to(rates[None, :, None, :], (3, 120, 2, 24))).astype(float)
    data[2, 5] = np.nan  # repeat 3 of stimulus 5 is missing
    images = rng.random((120, 12, 12))
    return ns.from_array(
        data,
        system="brain",
        measure="spike_count",
        stimuli=images,
        area=("unit", ["V1"] * 14 + ["V2"] * 10),
        time=[0.05, 0.15],
    )


def test_find_returns_unit_norm_directions_with_provenance(layered):
    D = find(layered, "nmf", 4, seed=2, groupby=None)
    assert D.dims == ("direction", "unit") and D.sizes["direction"] == 4
    np.testing.assert_allclose(np.linalg.norm(D.values, axis=1), 1.0)
    assert list(D["direction"].values) == [f"nmf/{i}" for i in range(4)]
    assert (D["method"].values == "nmf").all() and "area" in D.coords
    assert D.attrs["analysis"] == "directions.find" and json.loads(D.attrs["options"])["method"] == "nmf"
    assert "neurosuper_version" in D.attrs and "Klindt" in D.attrs["reference"]
    xr.testing.assert_identical(find(layered, "nmf", 4, seed=2, groupby=None), D)
    s = summary(D)
    json.dumps(s)
    assert s["n_directions"] == 4 and s["method"] == "nmf"


def test_find_orients_arbitrary_signs_to_positive_skew(layered):
    R = ns.prep.trial_average(layered).values
    for method in ("pca", "ica", "sparse_coding"):
        D = find(layered, method, 5, groupby=None, **({"max_iter": 20} if method == "sparse_coding" else {}))
        est = fit_directions(layered, method, 5, **({"max_iter": 20} if method == "sparse_coding" else {}))
        raw = est.transform(R)
        flipped = D["flipped"].values
        assert D.attrs["n_flipped"] == int(flipped.sum())
        sk = skew(raw, axis=0)
        np.testing.assert_array_equal(flipped, sk < 0)
        sign = np.where(flipped, -1.0, 1.0)
        np.testing.assert_allclose(D.values, est.components_ * sign[:, None], atol=1e-12)
    assert not find(layered, "kmeans", 4, n_init=1)["flipped"].any()  # k-means signs mean something


def test_orientation_of_a_large_set_reads_every_kth_sample(monkeypatch):
    """Above ORIENT_MAX_SAMPLES the skew is taken over every ⌈n / max⌉-th sample (a strided view): planted sources
    whose skew has one sign on those samples and the other on the rest are oriented by those samples, with or
    without the fitted data's checks skipped."""
    import sys

    find_module = sys.modules["neurosuper.directions.find"]
    monkeypatch.setattr(find_module, "ORIENT_MAX_SAMPLES", 100)
    rng = np.random.default_rng(3)
    n = 350  # every 4th sample: 88 of them
    src = rng.standard_normal((n, 3))
    kept = np.zeros(n, dtype=bool)
    kept[::4] = True
    src[kept, 0] = rng.exponential(1.0, kept.sum())  # positive skew where read, negative elsewhere
    src[~kept, 0] = -rng.exponential(3.0, (~kept).sum())
    X = src @ rng.standard_normal((3, 8))
    est = fit_directions(ns.from_array(X, system="network", measure="activation"), "pca", 3)
    A = est.transform(X[::4])
    expected = np.where(skew(A, axis=0) < 0, -1.0, 1.0)
    assert not np.array_equal(expected, np.where(skew(est.transform(X), axis=0) < 0, -1.0, 1.0))
    np.testing.assert_array_equal(find_module.orientation(est, X), expected)
    np.testing.assert_array_equal(find_module.orientation(est, X, checked=True), expected)


def test_project_keeps_repeats_time_stimuli_and_missing_repeats(layered):
    est = fit_directions(layered, "kmeans", 5, n_init=2)
    out = project(layered, est)
    ns.validate(out)
    assert out["responses"].dims == ("repeat", "stimulus", "time", "unit")
    assert list(out["unit"].values) == [f"kmeans/{i}" for i in range(5)]
    assert (out["method"].values == "kmeans").all()
    xr.testing.assert_identical(out["stimuli"], layered["stimuli"])
    assert np.isnan(out["responses"].values[2, 5]).all() and np.isfinite(out["responses"].values[:2]).all()
    x = layered["responses"].values[1, 7, 0]
    np.testing.assert_allclose(out["responses"].values[1, 7, 0], est.transform(x[None])[0])
    D = find(layered, "kmeans", 5, n_init=2, groupby=None)
    lin = project(layered, D)  # a DataArray: the linear projection
    np.testing.assert_allclose(lin["responses"].values[0, 3, 1], layered["responses"].values[0, 3, 1] @ D.values.T)
    assert lin.attrs["directions_by"] == "projection" and out.attrs["directions_by"] == "transform"
    assert summary(out)["method"] == "kmeans"


def test_projected_sets_run_through_other_analyses(layered):
    D = find(layered, "pca", 6, groupby=None)
    out = project(layered, D)
    res = ns.interpret.interpretability_index(out, similarity="pixels", progress=False)
    assert res.sizes["unit"] == 6 and np.isfinite(res["ii"]).all()
    spec = ns.spectral.eigenspectrum(out, method="pca", n_boot=0, progress=False)
    assert spec.sizes["rank"] >= 1


def test_groupby_fits_one_set_per_area(layered):
    D = find(layered, "kmeans", 3, groupby="area", n_init=1)
    assert D.sizes["direction"] == 6 and list(D["group"].values) == ["V1"] * 3 + ["V2"] * 3
    assert D.attrs["groupby"] == "area"
    v1 = layered["area"].values == "V1"
    assert np.all(D.values[:3][:, ~v1] == 0) and np.all(D.values[3:][:, v1] == 0)
    solo = find(layered.isel(unit=np.flatnonzero(v1)), "kmeans", 3, n_init=1)
    np.testing.assert_allclose(D.values[:3][:, v1], solo.values, atol=1e-12)
    fitted = {
        area: fit_directions(layered.isel(unit=layered["area"].values == area), "kmeans", 3, n_init=1)
        for area in ("V1", "V2")
    }
    with pytest.raises(AnalysisError, match="groupby"):
        fit_directions(layered, "kmeans", 3, groupby="area")  # one estimator per call: no groupby
    out = project(layered, fitted)
    assert list(out["area"].values) == ["V1"] * 3 + ["V2"] * 3
    lin = project(layered, D)
    assert list(lin["area"].values) == ["V1"] * 3 + ["V2"] * 3
    grouped = ns.interpret.interpretability_index(out, similarity="pixels", progress=False)
    assert "area" in grouped.coords


@pytest.mark.filterwarnings("ignore:sae. .* latents are dead")
def test_project_stays_lazy_on_dask(layered):
    lazy = layered.chunk({"stimulus": 40})
    est = fit_directions(layered, "sae", 8, n_steps=50)
    out = project(lazy, est)
    assert hasattr(out["responses"].data, "dask")
    eager = project(layered, est)
    np.testing.assert_allclose(out["responses"].values, eager["responses"].values, atol=1e-10)
    D = find(lazy, "pca", 3)
    assert hasattr(project(lazy, D)["responses"].data, "dask")


def test_project_refuses_directions_of_other_units(layered):
    D = find(layered, "pca", 3)
    other = layered.assign_coords(unit=[f"x{i}" for i in range(24)])
    with pytest.raises(AnalysisError, match="missing from the set"):
        project(other, D)
    with pytest.raises(AnalysisError, match="Fix:"):
        project(layered, object())


def test_stimuli_without_any_valid_repeat_are_left_out(layered):
    """A set refuses such a stimulus (validate); a bare responses DataArray may carry one: it is left out."""
    resp = layered["responses"].copy()
    resp[:, 9] = np.nan
    with pytest.raises(ns.FormatError, match="no valid value"):
        find(layered.assign(responses=resp), "pca", 3)
    with pytest.warns(NeurosuperWarning, match="left out 1 of 120 stimuli"):
        D = find(resp, "pca", 3)
    np.testing.assert_allclose(
        np.abs(D.values), np.abs(find(layered.drop_sel(stimulus=9), "pca", 3).values), atol=1e-10
    )


def test_compare_methods_skips_what_the_data_cannot_support(layered):
    signed = layered.copy()
    signed["responses"] = signed["responses"] - 3.0
    with pytest.warns(NeurosuperWarning, match="left out 'nmf'"):
        res = ns.directions.compare_methods(signed, ("units", "nmf", "pca"), similarity="pixels", progress=False)
    assert json.loads(res.attrs["skipped"]).keys() == {"nmf"}
    assert set(res["method"].values) == {"units", "pca"}
    assert "nmf" in summary(res)["skipped"]
    with pytest.raises(AnalysisError, match="negative"):
        ns.directions.compare_methods(
            signed, ("units", "nmf"), similarity="pixels", skip_unsupported=False, progress=False
        )
    with pytest.raises(AnalysisError, match="n_inits"):
        ns.directions.compare_methods(signed, ("kmeans",), options={"kmeans": {"n_inits": 2}}, progress=False)


def test_figures_and_the_command(layered, tmp_path, capsys):
    from neurosuper.cli import main
    from neurosuper.plot.directions import plot_direction_meis, plot_methods, plot_recovery

    res = ns.directions.compare_methods(
        layered,
        ("units", "kmeans", "pca", "random"),
        similarity="pixels",
        options={"kmeans": {"n_init": 1}},
        progress=False,
    )
    fig = plot_methods({"a": res, "b": res})
    assert len(fig.axes) == 2
    fig = plot_direction_meis(layered, res)
    assert len(fig.axes) == 4 * 5
    planted, truth = ns.directions.planted_superposition(n_features=8, n_units=4, n_samples=300, seed=0)
    rec = {m: ns.directions.feature_recovery(find(planted, m), truth) for m in ("units", "pca")}
    assert len(plot_recovery(rec).axes) == 1
    path = tmp_path / "set.nc"
    ns.save(layered, path)
    code = main(
        [
            "directions",
            str(path),
            "--methods",
            "units",
            "pca",
            "--similarity",
            "pixels",
            "--out",
            str(tmp_path / "r.nc"),
            "--figure",
            str(tmp_path / "ii.png"),
            "--mei-figure",
            str(tmp_path / "m.png"),
        ]
    )
    assert code == 0
    for name in ("r.nc", "ii.png", "m.png"):
        assert (tmp_path / name).exists()
    back = ns.load(tmp_path / "r.nc", validate_set=False)
    assert set(back["method"].values) == {"units", "pca"}
    capsys.readouterr()
    assert main(["directions", str(path), "--methods", "units", "nmf", "--similarity", "pixels", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["methods"]) == {"units", "nmf"} and out["analysis"] == "directions.compare_methods"
    assert main(["directions", str(tmp_path / "missing.nc")]) == 2
    assert main(["directions", str(path), "--out", str(tmp_path / "r.nc")]) == 2  # exists, no --overwrite


def test_compare_methods_warnings_name_the_method(layered):
    """A warning raised while scoring one method's directions says which method: "units" in an II warning may
    be any method's directions."""
    import warnings

    dead = layered.copy()
    dead["responses"] = dead["responses"].copy()
    dead["responses"][..., 0] = 1.0  # a dead unit: its II is NaN, with a warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns.directions.compare_methods(dead, ("units", "pca"), similarity="pixels", progress=False)
    texts = [str(w.message) for w in caught if issubclass(w.category, NeurosuperWarning)]
    dead_units = [t for t in texts if "dead" in t]
    assert any(
        t.startswith("compare_methods: units directions: interpretability_index: 1 of 24 units are dead")
        for t in dead_units
    )
    # PCA of 23 varying units gives one null direction among its 24: dead too, and said to be PCA's
    assert all(
        t.startswith(("compare_methods: units directions:", "compare_methods: pca directions:")) for t in dead_units
    )
