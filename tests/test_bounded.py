"""Memory and time stay bounded (issue 23 §3): requests sized beyond the memory available are refused before
anything is allocated, with the estimate and a fix; a FIFO or a device given as input is refused instead of read
for ever; a 100,000-character label is drawn short.

No test allocates much: the memory available is patched down (``neurosuper._memory.available_memory``) and the
refusals come before any array of the request exists (tracemalloc's peak says so)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc

import matplotlib
import numpy as np
import pytest

import neurosuper as ns
from neurosuper import _memory
from neurosuper.cli import main
from neurosuper.errors import AnalysisError, FormatError

matplotlib.use("Agg")

GIB = 2**30
MB = 10**6


@pytest.fixture
def one_gib(monkeypatch):
    """The same verdict on every machine: 1 GiB available to every size check."""
    monkeypatch.setattr(_memory, "available_memory", lambda: GIB)


def _needed(msg: str) -> float:
    return float(re.search(r"would need ([\d,.]+) GiB", msg).group(1).replace(",", ""))


class _Peak:
    """tracemalloc's peak (bytes) over the block."""

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# ------------------------------------------------------------------------------------ the one helper
def test_available_memory_is_the_smaller_of_free_memory_and_the_address_space_limit(monkeypatch):
    monkeypatch.setattr(_memory, "_free_memory", lambda: 16 * GIB)
    monkeypatch.setattr(_memory, "_address_space_left", lambda: 3 * GIB)
    assert _memory.available_memory() == 3 * GIB
    monkeypatch.setattr(_memory, "_address_space_left", lambda: None)  # ulimit -v unlimited
    assert _memory.available_memory() == 16 * GIB


def test_the_address_space_limit_is_read_with_getrlimit(monkeypatch):
    import resource

    soft = 1 << 46  # 64 TiB: above any process's current size
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, resource.RLIM_INFINITY))
    left = _memory._address_space_left()
    assert left is not None and 0 < left < soft  # the limit less what the process already uses
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert _memory._address_space_left() is None


def test_nwb_loading_asks_the_same_helper():
    from neurosuper.io.nwb import counting

    assert counting.available_memory is _memory.available_memory


# ------------------------------------------------------------------------------------ spectrum --n-boot
def _set(tmp_path, n=200, units=6):
    x = np.random.default_rng(0).standard_normal((n, units))
    ds = ns.from_array(x, system="network", measure="activation", label=("stimulus", ["a", "b"] * (n // 2)))
    return ds, ns.save(ds, tmp_path / "set.nc")


def test_spectrum_refuses_20_million_bootstrap_replicates_before_drawing_one(tmp_path, one_gib):
    ds, _ = _set(tmp_path)
    with _Peak() as p, pytest.raises(AnalysisError) as err:
        ns.spectral.eigenspectrum(ds, n_boot=20_000_000, progress=False)
    assert p.peak < 50 * MB
    msg = str(err.value)
    assert msg.startswith("eigenspectrum: n_boot: found a request that would need")
    assert "20,000,000 bootstrap replicates of 200 stimuli x 6 units" in msg and "but 1 GiB are available" in msg
    assert _needed(msg) > 30  # 200 stimuli: >= 1.6 kB of indices per replicate
    fits = int(re.search(r"n_boot=(\d+)", msg.split("Fix:")[1]).group(1))
    assert 0 < fits < 20_000_000
    ns.spectral.eigenspectrum(ds, n_boot=min(fits, 20), progress=False)  # a request that fits runs


def test_cli_spectrum_n_boot_refused_with_exit_2(tmp_path, one_gib, capsys):
    _, path = _set(tmp_path)
    assert main(["spectrum", str(path), "--n-boot", "20000000"]) == 2
    err = capsys.readouterr().err
    assert "would need" in err and "GiB of memory" in err and "--n-boot " in err and "n_boot=" not in err


# ------------------------------------------------------------------------------------ --n-directions
def test_sparse_coding_refuses_100000_directions_before_fitting(tmp_path, one_gib):
    from neurosuper.directions import fit_directions

    ds, _ = _set(tmp_path)
    with _Peak() as p, pytest.raises(AnalysisError) as err:
        fit_directions(ds, "sparse_coding", 100_000)
    assert p.peak < 50 * MB
    msg = str(err.value)
    assert "sparse_coding: n_directions: found a request that would need" in msg
    assert "100,000 directions of 6 units fitted on 200 samples" in msg
    assert _needed(msg) == pytest.approx(74.8, abs=0.1)  # sklearn's k x k statistics alone: 74.5 GiB
    assert re.search(r"Fix: pass fewer directions \(n_directions=\d+\)", msg)


def test_nmf_refuses_its_k_by_k_products(tmp_path, one_gib):
    from neurosuper.directions import fit_directions

    ds, _ = _set(tmp_path)
    with pytest.raises(AnalysisError, match=r"nmf: n_directions: found a request that would need 7[45]\.\d GiB"):
        fit_directions(ds.assign(responses=abs(ds["responses"])), "nmf", 100_000)


def test_cli_capacity_n_directions_refused_with_exit_2(tmp_path, one_gib, capsys):
    _, path = _set(tmp_path)
    assert main(["capacity", str(path), "--n-directions", "100000"]) == 2
    err = capsys.readouterr().err
    assert "would need 74.8 GiB of memory" in err and "--n-directions " in err


# ------------------------------------------------------------------------------------ toy sizes
def test_toy_refuses_100_million_features_before_allocating(one_gib):
    with _Peak() as p, pytest.raises(AnalysisError) as err:
        ns.toy.train(100_000_000, 2, steps=1, progress=False)
    assert p.peak < 50 * MB  # not even the importance (800 MB) was allocated
    msg = str(err.value)
    assert msg.startswith("toy.train: n_features and n_hidden: found a request that would need")
    assert "1 model(s) of 100,000,000 features in 2 hidden dims" in msg
    assert _needed(msg) > 1e6  # the n x n products of the numpy path alone: 8e16 bytes each
    n_fit = int(re.search(r"n_features=(\d+)", msg).group(1))
    assert ns.toy.engine.memory_bytes("relu", n_fit, 2, 1, 1024, "numpy") <= GIB / 2


def test_toy_sweep_counts_every_setting(one_gib):
    with pytest.raises(AnalysisError, match="would need"):
        ns.toy.sweep(3000, 2, density=[0.1, 0.2, 0.3], n_seeds=10, steps=1, progress=False)


def test_cli_toy_n_hidden_refused_with_exit_2(one_gib, capsys):
    assert main(["toy", "--n-features", "20000", "--n-hidden", "20000", "--steps", "1"]) == 2
    err = capsys.readouterr().err  # the n x n products alone need 9 GiB: fewer hidden dims would not do
    assert "would need 24.6 GiB" in err and "--n-features " in err and "--n-hidden" not in err.split("Fix:")[1]
    assert main(["toy", "--n-hidden", "20000000", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "would need" in err and re.search(r"fewer hidden dims \(--n-hidden \d+\)", err)


def test_toy_final_loss_is_measured_in_bounded_chunks_of_hidden_activations():
    """Many hidden dims (m > n) made the final loss allocate 16,384 x m activations at once (2.6 GB at m=20,000)."""
    from neurosuper.toy import engine

    p = engine.Problem(
        model="relu",
        n_features=5,
        n_hidden=2000,
        importance=np.ones((1, 5)),
        density=np.full(1, 0.1),
        kurtosis=None,
        steps=1,
        batch_size=8,
        lr=1e-3,
        weight_decay=0.0,
        seed=0,
    )
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1, 5, 2000)) * 0.01
    with _Peak() as peak:
        loss = engine.evaluate(p, w, np.zeros((1, 5)), rng)
    assert np.isfinite(loss).all()
    assert peak.peak < 120 * MB  # 16,384 x 2,000 x 8 bytes = 262 MB before


# ------------------------------------------------------------------------------------ FIFOs and devices
def _cli(*argv, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "neurosuper", *argv], cwd=cwd, capture_output=True, text=True, timeout=30, env=env
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.parametrize(
    "name, argv",
    [
        ("set.nc", ["spectrum"]),
        ("set.zarr", ["spectrum"]),
        ("session.nwb", ["nwb"]),
        ("acts.npz", ["report", "--out", "rep", "--quiet"]),
    ],
)
def test_a_fifo_input_is_refused_not_read_for_ever(tmp_path, name, argv):
    os.mkfifo(tmp_path / name)
    proc = _cli(*argv[:1], name, *argv[1:], cwd=tmp_path)  # a hang would raise TimeoutExpired
    assert proc.returncode == 2, proc.stderr
    assert f"path '{name}': found a FIFO (named pipe), which cannot be read" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_load_activations_refuses_a_fifo(tmp_path):
    from neurosuper.io.files import load_activations

    os.mkfifo(tmp_path / "acts.npy")
    with pytest.raises(FormatError, match="found a FIFO"):
        load_activations(tmp_path / "acts.npy")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_behind_a_set_name_is_refused(tmp_path):
    (tmp_path / "set.nc").symlink_to("/dev/zero")
    with pytest.raises(FormatError, match="found a character device, which cannot be read"):
        ns.load(tmp_path / "set.nc")


# ------------------------------------------------------------------------------------ long labels
def _images(units):
    rng = np.random.default_rng(0)
    n = 48
    return ns.from_array(
        np.abs(rng.standard_normal((n, len(units)))),
        system="brain",
        measure="spike_rate",
        unit=units,
        stimuli=rng.standard_normal((n, 8, 8)),
        area=("unit", ["V1" * 50_000, "V4", "V4"]),
    )


def test_a_100000_character_unit_id_is_drawn_short():
    from neurosuper.interpret import interpretability_index
    from neurosuper.plot.interpret import plot_ii, plot_mei_grid

    long_id = "U" * 100_000
    ds = _images([long_id, "u1", "u2"])
    result = interpretability_index(ds, similarity="pixels", null="none", k=3)
    fig = plot_mei_grid(ds, result, units=[long_id])
    label = fig.axes[0].get_ylabel()
    assert len(label) < 100 and "(100,000 characters)" in label and label.startswith("UUUU")
    fig = plot_ii(result, groupby="area")
    fig.canvas.draw()
    texts = [t.get_text() for t in fig.axes[0].get_xticklabels()] + [fig.axes[0].get_title()]
    assert max(len(t) for t in texts) < 200 and any("(100,000 characters)" in t for t in texts)


def test_short_label():
    from neurosuper.plot._labels import short_label

    assert short_label("V1") == "V1"
    s = short_label("a" * 30 + "b" * 70)
    assert s.startswith("a" * 26) and s.endswith("b" * 13 + " (100 characters)") and "…" in s
