"""II on a real population: macaque M1 during reaching (Stevenson et al. 2011), movement direction as stimulus."""

from __future__ import annotations

import numpy as np
import pytest

import neurosuper as ns
from neurosuper.interpret import interpretability_index


@pytest.fixture(scope="module")
def m1(real_data):
    import scipy.io

    mat = scipy.io.loadmat(real_data / "m1" / "m1_stevenson_2011.mat")
    spikes, vel = mat["spikes"], mat["handVel"][:2]
    n = spikes.shape[1] // 10  # 0.5 s segments of 10 bins of 50 ms
    counts = spikes[:, : n * 10].reshape(spikes.shape[0], n, 10).sum(-1).T.astype(float)
    velocity = vel[:, : n * 10].reshape(2, n, 10).mean(-1).T
    return counts, velocity


def _ii(counts, features):
    ds = ns.from_array(counts, system="brain", measure="spike_count", stimuli=features)
    # a few of M1's units fire above their floor in fewer than k=5 of the 1,553 segments: the index says so
    with pytest.warns(ns.NeurosuperWarning, match="5 of 171 units respond above their minimum to fewer than k=5"):
        return interpretability_index(ds, null="random_stimuli", progress=False)


def test_m1_direction_tuning_is_interpretable(m1):
    counts, velocity = m1
    assert counts.shape == (1553, 171)
    direction = velocity / np.linalg.norm(velocity, axis=1, keepdims=True)
    # real spike counts tie constantly: most units tie at their 5th MEI, and the selection stays deterministic
    top = -np.sort(-counts, axis=0)
    assert np.mean(top[4] == top[5]) > 0.5
    res = _ii(counts, direction)
    assert res.attrs["similarity"] == "features"
    perm = np.random.default_rng(0).permutation(len(counts))
    shuffled = _ii(counts, direction[perm])
    above = np.mean(res["ii"].values > shuffled["ii"].values)
    assert above > 0.6  # 0.66 with this seed
    assert res["ii"].mean() > shuffled["ii"].mean() + 0.15
    assert res["ii_z"].mean() > 1.0 and abs(float(shuffled["ii_z"].mean())) < 0.3
    again = _ii(counts, direction)
    np.testing.assert_array_equal(again["mei"].values, res["mei"].values)


def test_m1_raw_velocity_counter_example(m1):
    """With raw velocity as features, speed dominates the distance and the effect vanishes (docs/interpret.md)."""
    counts, velocity = m1
    res = _ii(counts, velocity)
    perm = np.random.default_rng(0).permutation(len(counts))
    shuffled = _ii(counts, velocity[perm])
    assert np.mean(res["ii"].values > shuffled["ii"].values) < 0.6
    assert abs(float(res["ii_z"].mean())) < 0.5
