"""Figures with a strip of points (seaborn's jitter) are the same on every run: the jitter is seeded, and the
caller's global random state is left as it was (issue 23, §5 "two figures change on every run")."""

from __future__ import annotations

import numpy as np
import pytest

import neurosuper as ns


def _points(fig) -> list[np.ndarray]:
    return [np.asarray(c.get_offsets()).copy() for ax in fig.axes for c in ax.collections if len(c.get_offsets())]


def _twice(draw) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two drawings with numpy's global stream (the one seaborn's jitter reads) in different states."""
    np.random.seed(1)  # noqa: NPY002
    first = _points(draw())
    np.random.seed(2)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    second = _points(draw())
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002  (the caller's state is untouched)
    return first, second


def _patches(n: int = 120, units: int = 12):
    rng = np.random.default_rng(0)
    imgs = rng.standard_normal((n, 16, 16))
    resp = np.abs(rng.standard_normal((n, units)))
    return ns.from_array(
        resp, system="brain", measure="spike_rate", stimuli=imgs, area=("unit", ["V1"] * 8 + ["V4"] * (units - 8))
    )


def _ii():
    from neurosuper.plot.interpret import plot_ii

    res = ns.interpret.interpretability_index(_patches(), similarity="pixels", null="none", progress=False)
    return lambda: plot_ii(res)


def _recovery():
    from neurosuper.plot.directions import plot_recovery

    planted, truth = ns.directions.planted_superposition(n_features=8, n_units=4, n_samples=300, seed=0)
    rec = {m: ns.directions.feature_recovery(ns.directions.find(planted, m), truth) for m in ("units", "pca")}
    return lambda: plot_recovery(rec)


def _methods():
    from neurosuper.plot.directions import plot_methods

    res = ns.directions.compare_methods(_patches(), ("units", "pca"), similarity="pixels", progress=False)
    return lambda: plot_methods({"a": res})


@pytest.mark.parametrize("make", [_ii, _recovery, _methods], ids=["plot_ii", "plot_recovery", "plot_methods"])
def test_a_strip_plot_is_the_same_on_every_run(make):
    first, second = _twice(make())
    assert first and len(first) == len(second)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
