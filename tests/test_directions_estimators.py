"""Direction finders: the scikit-learn contract, equality with the estimators they wrap, the SAE's two backends and
its chunked training, and bad input."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import neurosuper as ns
from neurosuper.directions import METHODS, NotFittedError, SAEDirections, find, fit_directions
from neurosuper.errors import AnalysisError, NeurosuperError, NeurosuperWarning

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def planted():
    return ns.directions.planted_superposition(n_features=16, n_units=8, n_samples=600, p_active=0.1, seed=3)


@pytest.fixture(scope="module")
def X(planted):
    return planted[0]["responses"].values


FAST = {"sae": {"n_steps": 200}, "kmeans": {"n_init": 2}, "sparse_coding": {"max_iter": 5}}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_sklearn_contract(method, X):
    cls = METHODS[method]
    est = cls(**FAST.get(method, {}))
    with pytest.raises(NotFittedError) as err:
        est.transform(X)
    assert isinstance(err.value, AnalysisError) and "Fix:" in str(err.value)
    from sklearn.exceptions import NotFittedError as SkNotFitted

    assert isinstance(err.value, SkNotFitted)
    params = est.get_params()
    assert params["random_state"] == 0 and "n_directions" in params
    twin = clone(est)
    assert twin.get_params() == params
    twin.set_params(random_state=7)
    assert twin.random_state == 7 and est.random_state == 0
    assert "components_" not in vars(est)  # __init__ stores parameters only
    Xin = np.abs(X) if method == "nmf" else X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurosuperWarning)
        A = est.fit_transform(Xin)
    assert est.components_.shape[1] == X.shape[1]
    np.testing.assert_allclose(np.linalg.norm(est.components_, axis=1), 1.0, rtol=1e-6)
    assert A.shape == (X.shape[0], est.components_.shape[0])
    np.testing.assert_allclose(est.transform(Xin), A, rtol=1e-6, atol=1e-9)
    other = Xin.astype(np.float32 if Xin.dtype == np.float64 else np.float64)  # data in the other float dtype
    B = est.transform(other)
    assert B.dtype == other.dtype
    np.testing.assert_allclose(B, A, rtol=1e-3, atol=1e-3 * float(np.abs(A).max()))
    again = clone(est).fit(Xin)
    np.testing.assert_array_equal(again.components_, est.components_)  # same seed, same directions


def test_units_reproduce_the_input(planted):
    ds, _ = planted
    est = fit_directions(ds, "units")
    np.testing.assert_array_equal(est.components_, np.eye(ds.sizes["unit"]))
    out = ns.directions.project(ds, est)
    np.testing.assert_array_equal(out["responses"].values, ds["responses"].values)
    np.testing.assert_array_equal(out["unit"].values, ds["unit"].values)
    D = find(ds, "units")
    np.testing.assert_array_equal(ns.directions.project(ds, D)["responses"].values, ds["responses"].values)


def test_equal_to_scikit_learn(X):
    from sklearn.cluster import KMeans
    from sklearn.decomposition import NMF, PCA, FastICA, MiniBatchDictionaryLearning

    pca = METHODS["pca"](n_directions=5).fit(X)
    ref = PCA(n_components=5, random_state=0).fit(X)
    np.testing.assert_allclose(pca.components_, ref.components_, atol=1e-12)
    np.testing.assert_allclose(pca.transform(X), ref.transform(X), atol=1e-12)

    ica = METHODS["ica"](n_directions=6, random_state=2).fit(X)
    ref = FastICA(n_components=6, whiten="unit-variance", max_iter=200, random_state=2).fit(X)
    np.testing.assert_allclose(ica.transform(X), ref.transform(X), atol=1e-10)
    unmix = ref.components_ / np.linalg.norm(ref.components_, axis=1, keepdims=True)
    np.testing.assert_allclose(ica.components_, unmix, atol=1e-10)
    np.testing.assert_allclose(ica.atoms_, ref.mixing_.T, atol=1e-10)

    P = np.abs(X)
    nmf = METHODS["nmf"](n_directions=5).fit(P)
    ref = NMF(n_components=5, init="nndsvda", max_iter=500, random_state=0).fit(P)
    np.testing.assert_allclose(nmf.transform(P), ref.transform(P), atol=1e-10)
    over = METHODS["nmf"](n_directions=12).fit(P)  # more directions than units: a random init
    assert over.init_used_ == "random" and over.components_.shape == (12, 8)

    km = METHODS["kmeans"](n_directions=10, n_init=3, random_state=1).fit(X)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    ref = KMeans(n_clusters=10, n_init=3, random_state=1).fit(Xn)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, atol=1e-12)
    C = ref.cluster_centers_ / np.linalg.norm(ref.cluster_centers_, axis=1, keepdims=True)
    np.testing.assert_allclose(km.transform(X), Xn @ C.T, atol=1e-12)
    dist = METHODS["kmeans"](n_directions=10, n_init=3, random_state=1, activation="distance").fit(X)
    np.testing.assert_allclose(dist.transform(X), -ref.transform(Xn), atol=1e-12)
    axes = METHODS["kmeans"](init="units").fit(X)  # Klindt et al.: one run from the unit axes
    ref = KMeans(n_clusters=8, init=np.eye(8), n_init=1).fit(Xn)
    np.testing.assert_allclose(axes.cluster_centers_, ref.cluster_centers_, atol=1e-12)

    sc = METHODS["sparse_coding"](n_directions=10, max_iter=5, random_state=4).fit(X)
    s = np.sqrt(np.mean(np.sum(X**2, axis=1)))
    ref = MiniBatchDictionaryLearning(
        n_components=10,
        alpha=0.2,
        batch_size=256,
        max_iter=5,
        fit_algorithm="cd",
        transform_algorithm="lasso_cd",
        transform_alpha=0.2,
        random_state=4,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X / s)
        np.testing.assert_allclose(sc.transform(X), ref.transform(X / s) * s, atol=1e-10)
    np.testing.assert_allclose(sc.components_, ref.components_, atol=1e-12)


def test_sae_numpy_and_torch_agree(X):
    pytest.importorskip("torch")
    a = SAEDirections(n_directions=16, n_steps=100, batch_size=64, random_state=5).fit(X)
    b = SAEDirections(n_directions=16, n_steps=100, batch_size=64, random_state=5, backend="torch").fit(X)
    np.testing.assert_allclose(b.components_, a.components_, atol=1e-10)
    np.testing.assert_allclose(b.encoder_weight_, a.encoder_weight_, atol=1e-10)
    np.testing.assert_allclose(b.transform(X), a.transform(X), atol=1e-9)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-10)
    assert a.n_steps_ == b.n_steps_ == 100
    c = SAEDirections(n_directions=16, n_steps=100, batch_size=64, random_state=6).fit(X)
    assert np.abs(c.components_ - a.components_).max() > 1e-3  # the seed matters


def test_sae_reports_dead_latents_l0_and_fve(X):
    est = SAEDirections(n_steps=300, random_state=0).fit(X)
    f = est.transform(X)
    assert est.components_.shape == (16, 8)  # default width 2x the units
    np.testing.assert_array_equal(est.dead_latents_, ~(f > 0).any(axis=0))
    assert est.l0_ == pytest.approx((f > 0).sum(axis=1).mean())
    xhat = f @ est.components_ + est.mean_
    fve = 1 - np.sum((X - xhat) ** 2) / np.sum((X - X.mean(0)) ** 2)
    assert est.fve_ == pytest.approx(fve, rel=1e-9)
    with pytest.warns(NeurosuperWarning, match="dead"):
        wide = SAEDirections(n_directions=64, l1=2.0, lr=1e-2, n_steps=200, random_state=0).fit(X)
    assert wide.n_dead_ > 0


def test_sae_trains_chunk_by_chunk_on_zarr_with_bounded_memory(tmp_path):
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    n, d, chunk = 24_000, 64, 600
    F = rng.standard_normal((96, d))
    X = ((rng.random((n, 96)) < 0.03) * rng.random((n, 96))) @ F
    da.from_array(X, chunks=(chunk, d)).to_zarr(str(tmp_path / "x.zarr"))
    lazy = da.from_zarr(str(tmp_path / "x.zarr"))
    opts = {"n_directions": 32, "n_steps": 400, "batch_size": 128, "random_state": 1}
    ref = SAEDirections(block_size=chunk, **opts).fit(X)  # the same blocks, in memory
    del X
    tracemalloc.start()
    est = SAEDirections(**opts).fit(lazy)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert est.n_epochs_ == 2  # 40 chunks x 5 batches (4 of 128 rows, 1 of 88): 200 steps per epoch
    np.testing.assert_allclose(est.components_, ref.components_, atol=1e-12)
    assert est.fve_ == pytest.approx(ref.fve_, rel=1e-10)
    assert peak < n * d * 8 / 4, f"peak {peak / 1e6:.1f} MB for a {n * d * 8 / 1e6:.1f} MB set"
    out = est.transform(lazy)
    assert hasattr(out, "dask") and out.shape == (n, 32)


@pytest.mark.parametrize(
    "bad",
    [
        "ica_overcomplete",
        "pca_too_many",
        "nmf_negative",
        "nan_unit",
        "one_stimulus",
        "unknown_method",
        "unknown_option",
        "units_count",
        "kmeans_units_init",
    ],
)
def test_bad_input_says_what_to_do(bad, planted):
    ds, _ = planted
    X = ds["responses"].values
    cases = {
        "ica_overcomplete": lambda: find(ds, "ica", 9),
        "pca_too_many": lambda: METHODS["pca"](n_directions=4).fit(X[:3]),
        "nmf_negative": lambda: find(ds, "nmf"),
        "nan_unit": lambda: METHODS["kmeans"]().fit(np.where(np.arange(8) == 2, np.nan, X)),
        "one_stimulus": lambda: find(ds.isel(stimulus=[0]), "pca"),
        "unknown_method": lambda: find(ds, "kmean"),
        "unknown_option": lambda: find(ds, "kmeans", n_inits=3),
        "units_count": lambda: find(ds, "units", 3),
        "kmeans_units_init": lambda: find(ds, "kmeans", 5, init="units"),
    }
    expect = {
        "ica_overcomplete": "cannot be overcomplete",
        "pca_too_many": "at most 3",
        "nmf_negative": "negative",
        "nan_unit": "unit",
        "one_stimulus": "at least 2 stimuli",
        "unknown_method": "one of",
        "unknown_option": "n_inits",
        "units_count": "number of units",
        "kmeans_units_init": "one centroid per unit axis",
    }
    with pytest.raises(NeurosuperError) as err:
        cases[bad]()
    msg = str(err.value)
    assert expect[bad] in msg and "Fix:" in msg, msg


def test_default_directions_are_capped_with_a_warning(planted):
    ds, _ = planted
    few = ds.isel(stimulus=slice(0, 5))
    with pytest.warns(NeurosuperWarning, match="exceeds what the set supports"):
        D = find(few, "pca")
    assert D.sizes["direction"] == 5
    with pytest.warns(NeurosuperWarning, match="using 5"):
        assert find(few, "kmeans", n_init=1).sizes["direction"] == 5
    assert find(ds, "sae", n_steps=20).sizes["direction"] == 16  # 2x the units
    assert find(ds, "sparse_coding", max_iter=2).sizes["direction"] == 8


def test_random_directions_are_haar_orthonormal():
    """The chance baseline draws n ≤ n_units directions orthonormal (Haar: QR of a Gaussian with the sign fix), so
    that random directions are not "polysemantic" by chance; more directions than units are independent uniform
    directions (they must overlap)."""
    X = np.random.default_rng(0).standard_normal((200, 32))
    est = METHODS["random"](n_directions=32, random_state=4).fit(X)
    D = est.components_
    np.testing.assert_allclose(D @ D.T, np.eye(32), atol=1e-12)
    np.testing.assert_allclose(est.transform(X), X @ D.T, atol=1e-12)
    part = METHODS["random"](n_directions=10, random_state=4).fit(X).components_
    np.testing.assert_allclose(part @ part.T, np.eye(10), atol=1e-12)
    # Haar: each direction uniform on the sphere — its first coordinate squared is Beta(1/2, (n-1)/2), mean 1/n
    from scipy.stats import beta, kstest

    first = np.array([METHODS["random"](n_directions=3, random_state=s).fit(X).components_[0, 0] for s in range(400)])
    assert kstest(first**2, beta(0.5, 15.5).cdf).pvalue > 0.01
    assert abs(np.mean(first > 0) - 0.5) < 0.1  # no sign bias (the sign fix of the QR)
    over = METHODS["random"](n_directions=48, random_state=4).fit(X).components_
    np.testing.assert_allclose(np.linalg.norm(over, axis=1), 1.0, atol=1e-12)
    assert over.shape == (48, 32)
    # capacity of random directions: every one monosemantic, Σ C = the number of units
    ds = ns.from_array(X, system="network", measure="activation")
    res = ns.capacity.feature_capacity(ds, "random", progress=False)
    assert float(res["capacity_sum"]) == pytest.approx(32.0, abs=1e-9) and int(res["n_monosemantic"]) == 32


def test_ica_directions_project_onto_the_independent_components():
    """ICA's components_ are the directions whose projections ARE the independent components (the unmixing rows,
    normalised), oriented like the other sign-arbitrary finders (positive skew); the mixing columns (the
    dictionary X ≈ S Aᵀ) are kept as atoms_ for feature capacity."""
    rng = np.random.default_rng(5)
    n, k, d = 3000, 6, 10
    S = rng.exponential(1.0, (n, k)) * (rng.random((n, k)) < 0.2)  # sparse, positively skewed sources
    A = rng.standard_normal((d, k))
    X = S @ A.T + 0.01 * rng.standard_normal((n, d))
    ds = ns.from_array(X, system="network", measure="activation")
    D = find(ds, "ica", k, seed=0)
    proj = ns.directions.project(ds, D)["responses"].values
    corr = np.corrcoef(proj.T, S.T)[:k, k:]
    best = np.abs(corr).max(axis=1)
    assert (best > 0.99).all()
    assert (corr[np.arange(k), np.abs(corr).argmax(axis=1)] > 0).all()  # oriented as the sources
    from scipy.stats import skew

    assert (skew(proj, axis=0) > 0).all()
    est = fit_directions(ds, "ica", k, seed=0)
    U = est.estimator_.components_
    np.testing.assert_allclose(np.abs(est.components_), np.abs(U / np.linalg.norm(U, axis=1, keepdims=True)))
    src = est.transform(X)
    np.testing.assert_allclose(np.abs(np.corrcoef(src.T, (X @ est.components_.T).T)[:k, k:].diagonal()), 1, atol=1e-9)
    np.testing.assert_allclose(est.atoms_, est.estimator_.mixing_.T, atol=1e-12)  # X − mean = sources @ atoms_
    assert np.sqrt(np.mean((src @ est.atoms_ + est.estimator_.mean_ - X) ** 2)) < 0.02  # the noise σ = 0.01
