"""Real data: 171 macaque M1 neurons × 15,536 bins of 50 ms with hand kinematics (Stevenson et al. 2011,
datasets/real/m1). Time bins play the stimuli; groups of neurons play subjects/areas; kinematics a "model"."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import rsatoolbox as rsa
from _format_helpers import make_set
from rsatoolbox.inference import boot_noise_ceiling

from neurosuper import compare as cmp
from neurosuper.errors import NeurosuperWarning

pytestmark = pytest.mark.filterwarnings("ignore:Noise ceiling for tau:UserWarning")


@pytest.fixture(scope="module")
def m1(real_data):
    from scipy.io import loadmat

    mat = loadmat(real_data / "m1" / "m1_stevenson_2011.mat")
    spikes = mat["spikes"].T.astype(np.float64)  # (15536, 171)
    kin = np.concatenate([mat["handVel"], mat["handPos"]]).T  # (15536, 6)
    keep = spikes.sum(axis=0) > 0
    return spikes[:, keep], kin


_brain = functools.partial(make_set, system="brain", measure="spike_count")


def test_m1_rdm_and_noise_ceiling_equal_rsatoolbox(m1):
    spikes, _ = m1
    bins = np.arange(0, 15_000, 50)[:300]  # 300 bins 2.5 s apart
    x = spikes[bins]
    ids = [f"t{b}" for b in bins]
    ours = cmp.rdm(_brain(x, stimulus=ids))
    ref = rsa.rdm.calc_rdm(rsa.data.Dataset(x), method="correlation")
    np.testing.assert_allclose(ours.values, ref.get_matrices()[0], atol=1e-12)
    # four random quarters of the population as four "subjects" sharing the population's code
    quarters = np.array_split(np.random.default_rng(0).permutation(x.shape[1]), 4)
    rdms = [cmp.rdm(_brain(x[:, q], stimulus=ids)) for q in quarters]
    for method, m in (("spearman", "spearman"), ("pearson", "corr")):
        nc = cmp.noise_ceiling(rdms, method=method)
        lo, hi = boot_noise_ceiling(rsa.rdm.RDMs(np.stack([r.values for r in rdms])), method=m)
        assert float(nc["lower"]) == pytest.approx(lo, abs=1e-12) and float(nc["upper"]) == pytest.approx(hi, abs=1e-12)
        assert 0.05 < lo < hi < 1


def test_m1_population_halves_share_structure_beyond_shuffles(m1):
    spikes, _ = m1
    x = spikes[:3000]
    ids = [f"t{i}" for i in range(3000)]
    order = np.random.default_rng(1).permutation(x.shape[1])
    half_a, half_b = order[: len(order) // 2], order[len(order) // 2 :]
    a = _brain(x[:, half_a], stimulus=ids)
    b = _brain(x[:, half_b], stimulus=ids)
    shuffled = _brain(x[np.random.default_rng(2).permutation(3000)][:, half_b], stimulus=ids)
    matched = float(cmp.cka(a, b, debiased=True)["cka"])
    control = float(cmp.cka(a, shuffled, debiased=True)["cka"])
    assert matched > 0.05 and abs(control) < 0.01 and matched > 10 * abs(control)
    assert float(cmp.cka(a, b)["cka"]) > float(cmp.cka(a, shuffled)["cka"])  # the biased estimate too, less cleanly
    d_matched = float(cmp.procrustes(a, b)["distance"])
    d_control = float(cmp.procrustes(a, shuffled)["distance"])
    assert d_matched < d_control < np.pi / 2


def test_m1_neurons_are_predicted_by_hand_kinematics(m1):
    """Ridge from hand velocity and position (6 features) to each neuron: held-out r well above the
    time-shuffled control, which sits at zero."""
    spikes, kin = m1
    n = 4000
    ids = [f"t{i}" for i in range(n)]
    brain = _brain(spikes[:n], stimulus=ids)
    model = make_set(kin[:n], stimulus=ids)
    control = make_set(kin[np.random.default_rng(3).permutation(n)], stimulus=ids)
    # 7 of the neurons are silent in these 4,000 bins: their r is NaN, left out of the median, and said so
    with pytest.warns(NeurosuperWarning, match="7 of 171 neurons are constant across stimuli"):
        res = cmp.predictivity(model, brain, n_splits=5)
    with pytest.warns(NeurosuperWarning, match="7 of 171 neurons are constant across stimuli"):
        null = cmp.predictivity(control, brain, n_splits=5)
    assert float(res["median"]) > 0.05 and abs(float(null["median"])) < 0.02
    assert np.nanpercentile(res["r"].values, 90) > 0.2  # the best-tuned neurons
    assert res.attrs["n_neurons"] == spikes.shape[1]
