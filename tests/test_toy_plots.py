"""The capacity and toy-model figures build from their results (and refuse the wrong ones)."""

from __future__ import annotations

import numpy as np
import pytest

from neurosuper import capacity, toy
from neurosuper._atomic import save_figure
from neurosuper.errors import AnalysisError
from neurosuper.plot.capacity import plot_capacity, plot_dimensionality
from neurosuper.plot.toy import plot_geometry, plot_phase_diagram


@pytest.fixture(scope="module")
def sweep():
    return toy.sweep(
        5, 2, density=[1.0, 0.2, 0.05], importance_ratio=[0.9], steps=300, batch_size=128, lr=1e-2, progress=False
    )


def test_geometry_and_dimensionality(sweep, tmp_path):
    fig = plot_geometry(sweep)
    assert len(fig.axes) == 4  # three panels and the colour bar
    assert save_figure(fig, tmp_path / "g.png").stat().st_size > 5000
    one = toy.train(5, 2, density=0.05, steps=300, batch_size=128, lr=1e-2, progress=False)
    assert len(plot_geometry(one).axes) == 2
    fig = plot_dimensionality(sweep)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) >= 7  # six polytope levels and D*
    np.testing.assert_allclose(ax.lines[-1].get_xdata(), [1, 5, 20])
    with pytest.raises(AnalysisError, match="m = 2"):
        plot_geometry(toy.train(4, 3, steps=5, progress=False))
    with pytest.raises(AnalysisError, match="sweep over density"):
        plot_dimensionality(one)


def test_capacity_figure_kinds(sweep):
    r = toy.train(
        20, 5, density=0.1, importance=0.7 ** np.arange(20), steps=300, batch_size=128, lr=1e-2, progress=False
    )
    fig = plot_capacity(r)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "importance" in ax.get_xlabel()
    sup = capacity.superposition(np.vstack([np.eye(3), np.zeros((1, 3))]))
    assert "1 ignored" in plot_capacity(sup).axes[0].get_title()
    with pytest.raises(AnalysisError, match="one setting"):
        plot_capacity(sweep)
    with pytest.raises(AnalysisError, match="one per feature"):
        plot_capacity(sup, importance=[1, 2])


def test_phase_diagram_figure():
    ph = toy.phase_diagram(kurtosis=[2.0, 5.0, 20.0], importance_ratio=[0.2, 0.6], steps=200, progress=False)
    fig = plot_phase_diagram(ph)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "kurtosis" in ax.get_xlabel()
    with pytest.raises(AnalysisError, match="phase_diagram"):
        plot_phase_diagram(ph.drop_vars("represented"))
