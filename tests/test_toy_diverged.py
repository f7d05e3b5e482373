"""A toy model whose training diverges (``neurosuper toy --lr 1e6``) is said to have diverged — an error when
every seed did (exit 2, with a smaller ``--lr``), a warning and a ``diverged`` flag when some did — instead of
reporting capacities of zero (issue 23, §5)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper.cli import main
from neurosuper.errors import AnalysisError, NeurosuperWarning
from neurosuper.toy.train import check_diverged, diverged


def test_every_seed_diverging_is_an_error_naming_a_smaller_lr():
    with pytest.raises(
        AnalysisError, match=r"diverged for every seed \(2 of 2\).*Fix: lower the learning rate, e\.g\. lr="
    ):
        ns.toy.train(20, 5, steps=100, lr=1e6, n_seeds=2, progress=False)


def test_the_command_exits_2_and_says_so(capsys):
    assert main(["toy", "--n-features", "20", "--n-hidden", "5", "--steps", "100", "--lr", "1e6"]) == 2
    err = capsys.readouterr().err
    assert "diverged" in err and "--lr 0.001" in err


def test_a_healthy_run_has_no_diverged_seed():
    res = ns.toy.train(20, 5, steps=100, lr=1e-3, n_seeds=2, progress=False)
    assert not res["diverged"].any() and "warning" not in res.attrs
    assert ns.toy.summary(res)["n_diverged"] == 0 and "warnings" not in ns.toy.summary(res)


def test_divergence_is_non_finite_or_rising_loss():
    history = np.array([[1.0, 0.5, 0.2], [1.0, np.inf, 0.5], [1.0, 2.0, 3.0], [1.0, 0.9, 0.8]])
    loss = np.array([0.2, 0.5, 3.0, np.nan])
    assert diverged(loss, history).tolist() == [False, True, True, True]


def test_some_seeds_diverging_is_a_warning_in_the_result():
    ds = xr.Dataset({"diverged": ("seed", np.array([True, False, False]))})
    with pytest.warns(NeurosuperWarning, match="1 of 3 seeds diverged"):
        check_diverged(ds, lr=0.5, caller="toy.train")
    assert "1 of 3 seeds diverged" in ds.attrs["warning"]
