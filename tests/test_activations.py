"""Network activations → ResponseSet: from_activations (arrays, mappings, spatial options, dask) and from_sklearn."""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from scipy.special import expit, softmax
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor

import neurosuper as ns
from neurosuper.errors import FormatError, NeurosuperError
from neurosuper.format import is_lazy
from neurosuper.io.activations import layer_unit_coords, layer_units, reduce_spatial

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def mlp(digits):
    X_train, X_test, y_train, y_test = digits
    model = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=600, random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.9  # it really learned the digits
    return model


@pytest.fixture
def conv(rng):
    return rng.standard_normal((12, 5, 7, 6)).astype(np.float32)


def _manual_forward(model, X):
    """The MLP's hidden layers by hand, with numpy."""
    h, out = X, []
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1], strict=True):
        h = np.maximum(h @ W + b, 0.0)
        out.append(h)
    return out


# --------------------------------------------------------------------------------------------- from_sklearn
def test_sklearn_hidden_layers_equal_manual_forward(mlp, digits):
    X = digits[1]
    ids = [f"digit{i}" for i in range(len(X))]
    ds = ns.from_sklearn(mlp, X, stimulus=ids, stimuli=X.reshape(-1, 8, 8))
    manual = _manual_forward(mlp, X)
    assert ds.attrs["system"] == "network" and ds.attrs["measure"] == "activation"
    assert ds.attrs["model"].startswith("MLPClassifier(hidden_layer_sizes=(32, 16)")
    assert ds.attrs["activation"] == "relu"
    assert list(ds["layer"].to_index().unique()) == ["hidden_1", "hidden_2"]
    assert ds.sizes == {"stimulus": len(X), "unit": 48, "y": 8, "x": 8}
    for k, ref in enumerate(manual, start=1):
        got = ds["responses"].sel(unit=ds["layer"] == f"hidden_{k}")
        np.testing.assert_allclose(got.values, ref, rtol=1e-12, atol=1e-12)
        assert list(got["unit"].values[:2]) == [f"hidden_{k}/0", f"hidden_{k}/1"]
    # peer check: the last hidden layer through the output layer gives scikit-learn's own probabilities
    h2 = ds["responses"].sel(unit=ds["layer"] == "hidden_2").values
    proba = softmax(h2 @ mlp.coefs_[-1] + mlp.intercepts_[-1], axis=1)
    np.testing.assert_allclose(proba, mlp.predict_proba(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(ds["stimulus"].values, np.array(ids))
    np.testing.assert_array_equal(ds["stimuli"].values, X.reshape(-1, 8, 8))


@pytest.mark.parametrize("activation", ["tanh", "logistic", "identity", "relu"])
def test_sklearn_uses_the_estimators_activation(digits, activation):
    X, y = digits[0][:300], digits[2][:300].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPRegressor(hidden_layer_sizes=(12, 7, 5), activation=activation, max_iter=30, random_state=1).fit(
            X, y
        )
    ds = ns.from_sklearn(model, X)
    f = {"tanh": np.tanh, "logistic": expit, "identity": lambda z: z, "relu": lambda z: np.maximum(z, 0)}[activation]
    h = X
    for k, (W, b) in enumerate(zip(model.coefs_[:-1], model.intercepts_[:-1], strict=True), start=1):
        h = f(h @ W + b)
        np.testing.assert_allclose(ds["responses"].sel(unit=ds["layer"] == f"hidden_{k}").values, h, rtol=1e-12)
    last = ds["responses"].sel(unit=ds["layer"] == "hidden_3").values
    np.testing.assert_allclose(last @ model.coefs_[-1][:, 0] + model.intercepts_[-1][0], model.predict(X), rtol=1e-10)
    assert ds.attrs["activation"] == activation


def test_sklearn_dask_input_stays_lazy(mlp, digits):
    X = digits[1]
    lazy = ns.from_sklearn(mlp, da.from_array(X, chunks=100))
    assert is_lazy(lazy)
    np.testing.assert_allclose(lazy["responses"].values, ns.from_sklearn(mlp, X)["responses"].values, rtol=1e-12)


def test_sklearn_errors(mlp, digits):
    X = digits[1]
    with pytest.raises(FormatError, match="unfitted MLPClassifier.*fit"):
        ns.from_sklearn(MLPClassifier(), X)
    with pytest.raises(FormatError, match="found a LogisticRegression; expected a fitted scikit-learn MLP"):
        ns.from_sklearn(LogisticRegression(max_iter=500).fit(X, digits[3]), X)
    with pytest.raises(FormatError, match=r"found shape \(10, 63\); expected \(n_stimuli ≥ 1, 64\)"):
        ns.from_sklearn(mlp, X[:10, :63])
    with pytest.raises(FormatError, match=r"found shape \(0, 64\)"):
        ns.from_sklearn(mlp, X[:0])
    with pytest.raises(FormatError, match="found 3 ids for 10 stimuli"):
        ns.from_sklearn(mlp, X[:10], stimulus=["a", "b", "c"])
    bad = X[:10].copy()
    bad[2, 5] = np.nan
    with pytest.raises(FormatError, match=r"X: found 1 NaN/inf values in rows \[2\]"):
        ns.from_sklearn(mlp, bad)
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(
            FormatError,
            match=r"non-finite values per "
            r"layer \(hidden_1: 0 NaN, \d+ inf of 320",
        ),
    ):
        ns.from_sklearn(mlp, X[:10] * 1e308)  # finite inputs, overflowing activations


# --------------------------------------------------------------------------------------------- from_activations
@pytest.mark.parametrize("spatial", ["mean", "center", "max", "flatten"])
def test_spatial_options_match_numpy(conv, spatial):
    ds = ns.from_activations(conv, layer="conv2", spatial=spatial, model="net")
    expected = {
        "mean": conv.mean(axis=(2, 3)),
        "center": conv[:, :, 3, 3],
        "max": conv.max(axis=(2, 3)),
        "flatten": conv.reshape(12, -1),
    }[spatial]
    np.testing.assert_allclose(ds["responses"].values, expected, rtol=1e-6)
    assert ds["responses"].dtype == np.float32
    assert ds.attrs["spatial"] == spatial and ds.attrs["model"] == "net" and ds.attrs["layers"] == ["conv2"]
    if spatial == "flatten":
        # unit k of the flattened layer is channel c, row y, column x of the conv output
        for k in (0, 7, 43, 5 * 7 * 6 - 1):
            c, y, x = np.unravel_index(k, (5, 7, 6))
            unit = ds.isel(unit=k)
            assert str(unit["unit"].values) == f"conv2/{c}/{y}/{x}"
            assert (int(unit["channel"]), int(unit["y"]), int(unit["x"])) == (c, y, x)
            np.testing.assert_array_equal(unit["responses"].values, conv[:, c, y, x])
    else:
        assert list(ds["unit"].values) == [f"conv2/{c}" for c in range(5)]
        np.testing.assert_array_equal(ds["channel"].values, np.arange(5))
        assert "y" not in ds.coords


def test_center_of_even_and_odd_maps(rng):
    acts = rng.standard_normal((3, 2, 4, 5))
    np.testing.assert_array_equal(reduce_spatial(acts, "center"), acts[:, :, 2, 2])


def test_mapping_makes_one_set_with_layer_coord(conv, rng):
    fc = rng.standard_normal((12, 4))
    ds = ns.from_activations({"conv1": conv, "fc": fc}, stimulus=[f"s{i}" for i in range(12)], spatial="max")
    assert ds.sizes["unit"] == 5 + 4
    assert list(ds["unit"].values) == [f"conv1/{c}" for c in range(5)] + [f"fc/{j}" for j in range(4)]
    assert list(ds["layer"].values) == ["conv1"] * 5 + ["fc"] * 4
    np.testing.assert_allclose(ds["responses"].sel(unit=ds["layer"] == "fc").values, fc)
    np.testing.assert_allclose(ds["responses"].sel(unit=ds["layer"] == "conv1").values, conv.max(axis=(2, 3)))
    # "per layer" is a groupby away
    sizes = {str(k): g.sizes["unit"] for k, g in ds["responses"].groupby(ds["layer"])}
    assert sizes == {"conv1": 5, "fc": 4}
    assert ds.attrs["layers"] == ["conv1", "fc"] and ds.attrs["model"] == "unknown"


def test_mapping_layer_selection_and_order(conv, rng):
    acts = {"conv1": conv, "fc": rng.standard_normal((12, 4)), "out": rng.standard_normal((12, 2))}
    ds = ns.from_activations(acts, layer=["out", "conv1"])
    assert list(ds["layer"].to_index().unique()) == ["out", "conv1"]
    assert ns.from_activations(acts, layer="fc").sizes["unit"] == 4
    with pytest.raises(FormatError, match=r"unknown layer name\(s\) \['cnv1'\].*closest first: \['conv1'"):
        ns.from_activations(acts, layer=["cnv1"])


def test_flatten_mixed_layers_and_round_trip(conv, rng, tmp_path):
    fc = rng.standard_normal((12, 3)).astype(np.float32)
    images = rng.random((12, 9, 9, 3)).astype(np.float32)
    ds = ns.from_activations({"conv1": conv, "fc": fc}, spatial="flatten", stimuli=images)
    n_conv = 5 * 7 * 6
    assert ds.sizes["unit"] == n_conv + 3
    np.testing.assert_array_equal(ds["y"].values[n_conv:], [-1, -1, -1])
    assert list(ds["unit"].values[n_conv:]) == ["fc/0", "fc/1", "fc/2"]
    # unit coords y/x live beside the image dims y/x of `stimuli`: both survive save/load
    for name in ("acts.nc", "acts.zarr"):
        back = ns.load(ns.save(ds, tmp_path / name))
        xr.testing.assert_identical(back, ds)


def test_single_2d_array_defaults(rng):
    acts = rng.standard_normal((6, 3))
    ds = ns.from_activations(acts)
    assert list(ds["unit"].values) == ["layer/0", "layer/1", "layer/2"]
    np.testing.assert_array_equal(ds["stimulus"].values, np.arange(6))
    np.testing.assert_array_equal(ds["responses"].values, acts)
    assert ns.from_activations(acts, spatial="flatten").sizes["unit"] == 3  # 2-D layers are kept as they are
    ints = ns.from_activations(np.arange(12).reshape(4, 3))
    assert ints["responses"].dtype == np.float64


@pytest.mark.parametrize("spatial", ["mean", "center", "max", "flatten"])
def test_dask_stays_lazy_and_equals_numpy(conv, rng, spatial):
    fc = rng.standard_normal((12, 4)).astype(np.float32)
    lazy_in = {"conv1": da.from_array(conv, chunks=(5, 5, 7, 6)), "fc": fc}
    lazy = ns.from_activations(lazy_in, spatial=spatial)
    assert is_lazy(lazy)
    eager = ns.from_activations({"conv1": conv, "fc": fc}, spatial=spatial)
    np.testing.assert_allclose(lazy["responses"].values, eager["responses"].values, rtol=1e-6)
    xr.testing.assert_identical(lazy.drop_vars("responses"), eager.drop_vars("responses"))
    wrapped = ns.from_activations(xr.DataArray(lazy_in["conv1"]), layer="conv1", spatial=spatial)  # a DataArray
    assert is_lazy(wrapped)
    np.testing.assert_array_equal(wrapped["unit"].values, eager["unit"].values[: wrapped.sizes["unit"]])


def test_errors(conv, rng):
    fc = rng.standard_normal((12, 4))
    with pytest.raises(FormatError, match="found 3 ids for 12 stimuli"):
        ns.from_activations(fc, stimulus=["a", "b", "c"])
    with pytest.raises(FormatError, match=r"different stimulus counts \{'conv1': 12, 'fc': 11\}"):
        ns.from_activations({"conv1": conv, "fc": fc[:11]})
    bad_conv, bad_fc = conv.copy(), fc.copy()
    bad_conv[0, 0, 0, :2] = np.nan
    bad_conv[1, 0, 0, 0] = np.inf
    bad_fc[3, 3] = -np.inf
    with pytest.raises(FormatError, match=r"conv1: 2 NaN, 1 inf of 2520; fc: 0 NaN, 1 inf of 48"):
        ns.from_activations({"conv1": bad_conv, "fc": bad_fc})
    with pytest.raises(FormatError, match="empty mapping"):
        ns.from_activations({})
    with pytest.raises(FormatError, match=r"empty array of shape \(0, 4\)"):
        ns.from_activations(fc[:0])
    with pytest.raises(FormatError, match=r"found 'avg'.*expected one of \('mean', 'center', 'max', 'flatten'\)"):
        ns.from_activations(conv, spatial="avg")
    with pytest.raises(FormatError, match="did you mean 'max'"):
        reduce_spatial(conv, "maxx")
    with pytest.raises(FormatError, match=r"3-D array of shape \(12, 4, 2\)"):
        ns.from_activations(rng.standard_normal((12, 4, 2)))
    with pytest.raises(FormatError, match="found dtype complex128"):
        ns.from_activations(fc + 1j)
    with pytest.raises(FormatError, match="at least 2 stimuli"):
        ns.from_activations(fc[:1])
    with pytest.raises(FormatError, match="for a single array"):
        ns.from_activations(fc, layer=["a", "b"])
    assert issubclass(FormatError, NeurosuperError)


def test_building_blocks_agree_with_from_activations(conv):
    coords = layer_unit_coords("c", conv.shape[1:], "flatten")
    assert set(coords) == {"unit", "layer", "channel", "y", "x"} and len(coords["unit"]) == 5 * 7 * 6
    da_ = layer_units(conv, layer="c", spatial="flatten")
    ds = ns.from_activations({"c": conv}, spatial="flatten")
    np.testing.assert_array_equal(da_["unit"].values, ds["unit"].values)
    np.testing.assert_array_equal(da_.values, ds["responses"].values)
    # batch by batch (as the torch adapter reduces them) equals reducing all at once
    for spatial in ("mean", "center", "max"):
        parts = np.concatenate([reduce_spatial(conv[i : i + 5], spatial) for i in range(0, 12, 5)])
        np.testing.assert_array_equal(parts, reduce_spatial(conv, spatial))


def test_reduce_spatial_on_torch_tensors(conv):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(conv)
    for spatial in ("mean", "center", "max", "flatten"):
        np.testing.assert_allclose(
            reduce_spatial(t, spatial).numpy(), reduce_spatial(conv, spatial), rtol=1e-5, atol=1e-6
        )


def test_adapters_keep_stimulus_labels_and_refuse_a_wrong_count():
    rng = np.random.default_rng(3)
    acts = rng.random((12, 5))
    labels = np.array(["cat", "dog", "car"])[np.arange(12) % 3]
    ds = ns.from_activations(acts, label=labels)
    assert ds["label"].dims == ("stimulus",) and ds["label"].values.tolist() == labels.tolist()
    with pytest.raises(ns.FormatError, match="found 11 labels for 12 stimuli"):
        ns.from_activations(acts, label=labels[:11])
    from sklearn.neural_network import MLPClassifier

    X, y = rng.normal(size=(40, 4)), np.arange(40) % 2
    mlp = MLPClassifier(hidden_layer_sizes=(6,), max_iter=50, random_state=0).fit(X, y)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ns.from_sklearn(mlp, X, label=y)["label"].values.tolist() == y.tolist()
