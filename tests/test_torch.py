"""from_torch: forward hooks on a small CNN trained here on scikit-learn's digits."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import neurosuper as ns  # noqa: E402
from neurosuper.errors import FormatError  # noqa: E402

nn = torch.nn


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.Sequential(nn.Conv2d(8, 12, 3, padding=1), nn.ReLU()),  # nested: "features.2.1"
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(12 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10)
        )

    def forward(self, x):
        return self.head(self.features(x))


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (n, 1, 8, 8)
    return x, d.target


@pytest.fixture(scope="module")
def trained(digits):
    x, y = digits
    torch.manual_seed(0)
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(8):
        for i in range(0, len(x), 128):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[i : i + 128]), yt[i : i + 128])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(xt).argmax(1) == yt).float().mean().item()
    assert accuracy > 0.9  # the network really learned the digits
    model.train()
    return model


def _manual(model, x):
    """The forward pass by hand: every intermediate output we hook."""
    with torch.no_grad():
        t = torch.from_numpy(x)
        c1 = model.features[0](t)
        r1 = torch.relu(c1)
        c2 = model.features[2][0](r1)
        r2 = torch.relu(c2)
        pooled = nn.functional.max_pool2d(r2, 2)
        h = torch.relu(model.head[2](pooled.flatten(1)))
    return {"features.0": c1.numpy(), "features.2.1": r2.numpy(), "head.3": h.numpy()}


def test_activations_equal_manual_forward(trained, digits):
    x = digits[0][:300]
    layers = ["features.0", "features.2.1", "head.3"]
    ds = ns.from_torch(trained, x, layers=layers, batch_size=64, progress=False)
    manual = _manual(trained, x)
    assert ds.attrs["system"] == "network" and ds.attrs["measure"] == "activation"
    assert trained.training  # the training flag is restored
    for name in layers:
        got = ds["responses"].sel(unit=ds["layer"] == name).values
        ref = manual[name]
        ref = ref.mean(axis=(2, 3)) if ref.ndim == 4 else ref
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert ds.sizes["unit"] == 8 + 12 + 32
    assert list(ds["unit"].values[:2]) == ["features.0/0", "features.0/1"]


@pytest.mark.parametrize("spatial", ["center", "max", "flatten"])
def test_spatial_options_match_numpy(trained, digits, spatial):
    x = digits[0][:50]
    ds = ns.from_torch(trained, x, layers=["features.2.1"], spatial=spatial, progress=False)
    ref = _manual(trained, x)["features.2.1"]  # (n, 12, 8, 8)
    expected = {"center": ref[:, :, 4, 4], "max": ref.max(axis=(2, 3)), "flatten": ref.reshape(50, -1)}[spatial]
    np.testing.assert_allclose(ds["responses"].values, expected, rtol=1e-5, atol=1e-6)
    if spatial == "flatten":
        assert {"channel", "y", "x"} <= set(ds.coords)
        k = 12 * 64 - 1  # last unit: channel 11, y 7, x 7
        assert (int(ds["channel"][k]), int(ds["y"][k]), int(ds["x"][k])) == (11, 7, 7)


def test_input_kinds_agree(trained, digits):
    x = digits[0][:130]
    ref = ns.from_torch(trained, x, layers=["head.3"], batch_size=50, progress=False)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.zeros(len(x)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=40)
    batches = [torch.from_numpy(x[i : i + 30]) for i in range(0, len(x), 30)]
    for inputs in (torch.from_numpy(x), dataset, loader, iter(batches)):
        ds = ns.from_torch(trained, inputs, layers="head.3", batch_size=50, progress=False)
        np.testing.assert_allclose(ds["responses"].values, ref["responses"].values, rtol=1e-6)


def test_zarr_stream_equals_memory(trained, digits, tmp_path):
    x = digits[0][:203]  # not a multiple of the batch size
    ids = [f"img{i:04d}" for i in range(len(x))]
    layers = ["features.0", "head.3"]
    mem = ns.from_torch(trained, x, layers=layers, batch_size=64, stimulus=ids, keep_stimuli=True, progress=False)
    lazy = ns.from_torch(
        trained,
        x,
        layers=layers,
        batch_size=64,
        stimulus=ids,
        keep_stimuli=True,
        store=tmp_path / "acts.zarr",
        progress=False,
    )
    assert hasattr(lazy["responses"].data, "dask")
    assert lazy["responses"].data.chunks[0][0] == 64
    np.testing.assert_allclose(lazy["responses"].values, mem["responses"].values, rtol=1e-6)
    np.testing.assert_array_equal(lazy["stimulus"].values, np.array(ids))
    np.testing.assert_array_equal(lazy["layer"].values, mem["layer"].values)
    np.testing.assert_array_equal(lazy["stimuli"].values, x[:, 0])
    assert [p.name for p in tmp_path.iterdir()] == ["acts.zarr"]  # no temporary left behind
    assert ns.load(tmp_path / "acts.zarr")["responses"].shape == (203, 8 + 32)


def test_hooks_removed_when_model_raises(trained, digits, tmp_path):
    class Boom(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.calls = inner, 0

        def forward(self, x):
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("boom")
            return self.inner(x)

    model = Boom(trained)
    with pytest.raises(RuntimeError, match="boom"):
        ns.from_torch(
            model, digits[0][:100], layers=["inner.head.3"], batch_size=40, store=tmp_path / "a.zarr", progress=False
        )
    assert all(not m._forward_hooks for m in model.modules())
    assert list(tmp_path.iterdir()) == []  # the partial store was removed


def test_unknown_layer_lists_closest_names(trained, digits):
    with pytest.raises(FormatError, match=r"unknown module name\(s\) \['head.33'\].*closest first: \['head.3'"):
        ns.from_torch(trained, digits[0][:10], layers=["head.33"], progress=False)


def test_bad_inputs(trained, digits):
    x = digits[0][:20]
    with pytest.raises(FormatError, match="found 19 ids for 20 inputs"):
        ns.from_torch(trained, x, layers=["head.3"], stimulus=list(range(19)), progress=False)
    with pytest.raises(FormatError, match="found 0 samples"):
        ns.from_torch(trained, x[:0], layers=["head.3"], progress=False)
    bad = x.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(FormatError, match=r"non-finite values .*'features.0': \d+"):
        ns.from_torch(trained, bad, layers=["features.0", "head.3"], progress=False)
    with pytest.raises(FormatError, match="spatial"):
        ns.from_torch(trained, x, layers=["head.3"], spatial="sum", progress=False)
