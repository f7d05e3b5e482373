"""Published RDMs: a model scored against subject RDMs with their noise ceiling in one call
(:func:`neurosuper.compare.score_against`), RDM files (:func:`neurosuper.load_rdms`) and ``neurosuper compare SET
RDM_FILE`` — on Kriegeskorte et al. 2008's 92-image human and monkey IT RDMs (datasets/real/kriegeskorte2008, from
rsatoolbox's demo data) against rsatoolbox, and on simulated subjects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rsatoolbox as rsa
import xarray as xr
from _format_helpers import make_set
from rsatoolbox.inference import boot_noise_ceiling, eval_fixed

import neurosuper as ns
from neurosuper import compare as cmp
from neurosuper.cli import main
from neurosuper.errors import FormatError

pytestmark = [
    pytest.mark.filterwarnings("ignore:Noise ceiling for tau:UserWarning"),
    pytest.mark.usefixtures("one_thread"),
]

DATA = Path(__file__).resolve().parents[1] / "datasets" / "real" / "kriegeskorte2008"
RSATOOLBOX = {"spearman": "spearman", "pearson": "corr", "kendall_tau_a": "tau-a", "cosine": "cosine"}


def _upper(da: xr.DataArray) -> np.ndarray:
    return np.asarray(da.values)[np.triu_indices(da.shape[-1], 1)]


@pytest.fixture(scope="module")
def published():
    return {name: ns.load_rdms(DATA / f"{name}.nc") for name in ("hIT_subjects", "hIT", "mIT")}


def test_the_files_hold_the_published_rdms(published):
    subjects, hit, mit = published["hIT_subjects"], published["hIT"], published["mIT"]
    assert subjects.dims == ("subject", "stimulus_a", "stimulus_b") and subjects.shape == (4, 92, 92)
    assert subjects["subject"].values.tolist() == ["BE", "KO", "SN", "TI"]
    assert hit.dims == mit.dims == ("stimulus_a", "stimulus_b") and hit["stimulus_a"].values[0] == "img01"
    assert int(hit["animate"].sum()) == 48 and (hit["category"].values == "human face").sum() == 12
    for r in (hit, mit, *subjects):
        cmp.check_rdm(r)
    # the Fig. 1 group RDM of human IT is the mean of the 8 session RDMs (4 subjects x 2): rank-identical to the
    # mean of the subject RDMs
    assert cmp.compare_rdms(hit, subjects.mean("subject"), n_boot=0)["value"] > 0.9999


def test_monkey_and_human_it_correlate_as_published(published):
    """Kriegeskorte et al. 2008 (Neuron 60:1126), Fig. 1: the monkey-IT (674 neurons) and human-IT (316 voxels)
    RDMs of the 92 images correlate (the paper's main finding); r = 0.491 here, and rsatoolbox's compare gives
    the same number to 1e-12."""
    mit, hit = published["mIT"], published["hIT"]
    r = float(cmp.compare_rdms(mit, hit, method="pearson", n_boot=0)["value"])
    assert round(r, 2) == 0.49
    ref = rsa.rdm.compare(rsa.rdm.RDMs(_upper(mit)[None]), rsa.rdm.RDMs(_upper(hit)[None]), method="corr")
    assert r == pytest.approx(float(ref[0, 0]), abs=1e-12)


@pytest.mark.parametrize("method", list(RSATOOLBOX))
def test_score_against_subjects_equals_rsatoolbox(published, method):
    """Monkey IT as the model, the 4 human subjects as the data: score (eval_fixed mean), per-subject values, SEM
    and the noise ceiling (boot_noise_ceiling) equal rsatoolbox's to 1e-12."""
    subjects, mit = published["hIT_subjects"], published["mIT"]
    res = cmp.score_against(mit, subjects, method=method, n_boot=200)
    data = rsa.rdm.RDMs(np.stack([_upper(r) for r in subjects]))
    ref = eval_fixed(rsa.model.ModelFixed("mIT", _upper(mit)), data, method=RSATOOLBOX[method])
    assert float(res["value"]) == pytest.approx(float(ref.get_means()[0]), abs=1e-12)
    np.testing.assert_allclose(res["value_each"].values, ref.evaluations[0, 0], atol=1e-12)
    assert float(res["sem"]) == pytest.approx(float(ref.get_sem()[0]), abs=1e-12)
    lower, upper = boot_noise_ceiling(data, method=RSATOOLBOX[method])
    assert res["ceiling"].sel(bound="lower").item() == pytest.approx(lower, abs=1e-12)
    assert res["ceiling"].sel(bound="upper").item() == pytest.approx(upper, abs=1e-12)
    lo, hi = res["ci"].values
    assert lo <= float(res["value"]) <= hi
    assert res["rdm"].values.tolist() == ["BE", "KO", "SN", "TI"] and res.attrs["n_rdms"] == 4


def test_hit_ceiling_and_where_monkey_it_and_the_group_rdm_fall(published):
    """On the stimuli's own scale: monkey IT explains human IT (CI above 0) but less than the subjects explain
    each other (below the lower bound); the published group RDM (the subjects' pool) sits at the upper bound."""
    subjects, hit, mit = published["hIT_subjects"], published["hIT"], published["mIT"]
    res = cmp.score_against(mit, subjects, method="spearman")
    lower, upper = res["ceiling"].values
    assert res["ci"].values[0] > 0 and float(res["value"]) < lower < upper
    assert (round(lower, 3), round(upper, 3)) == (0.372, 0.666) and round(float(res["value"]), 3) == 0.296
    group = cmp.score_against(hit, subjects, method="spearman", n_boot=0)
    assert abs(float(group["value"]) - upper) < 0.01
    summary = cmp.summary(res)
    assert summary["ceiling"] == [0.3723, 0.6657] and summary["ceiling_kind"] == "leave-one-out"
    json.dumps(summary)


def _simulated_subjects(rng, n_subjects=6, n_stimuli=40, n_units=30, noise=1.0):
    truth = rng.normal(size=(n_stimuli, n_units))
    ids = [f"s{i:02d}" for i in range(n_stimuli)]
    true_rdm = cmp.rdm(make_set(truth, stimulus=ids), progress=False)
    subjects = [
        cmp.rdm(make_set(truth + noise * rng.normal(size=truth.shape), stimulus=ids), progress=False)
        for _ in range(n_subjects)
    ]
    stack = xr.concat(subjects, dim="subject").assign_coords(subject=[f"p{i}" for i in range(n_subjects)])
    return truth, ids, true_rdm, stack


def test_simulated_subjects_true_model_within_the_ceiling_unrelated_model_at_zero():
    """Subjects = one true code + independent noise: the true model's score lies between the lower and upper bound
    (Nili et al.'s bounds bracket it), an unrelated model's CI contains 0 and lies below the lower bound, in every
    simulated data set; and the numbers equal rsatoolbox's."""
    rng = np.random.default_rng(19)
    for _ in range(5):
        truth, ids, true_rdm, stack = _simulated_subjects(rng)
        res = cmp.score_against(true_rdm, stack, method="pearson", n_boot=200)
        lower, upper = res["ceiling"].values
        assert lower < float(res["value"]) < upper
        unrelated = make_set(rng.normal(size=truth.shape), stimulus=ids)
        null = cmp.score_against(unrelated, stack, method="pearson", n_boot=200, progress=False)
        lo, hi = null["ci"].values
        assert lo < 0 < hi and hi < lower
    data = rsa.rdm.RDMs(np.stack([_upper(r) for r in stack]))
    ref = eval_fixed(rsa.model.ModelFixed("true", _upper(true_rdm)), data, method="corr")
    assert float(res["value"]) == pytest.approx(float(ref.get_means()[0]), abs=1e-12)
    assert res["ceiling"].values == pytest.approx(np.array(boot_noise_ceiling(data, method="corr")), abs=1e-12)


def test_score_and_ceiling_use_the_stimuli_every_input_shares():
    """A model that lacks some stimuli, subjects in shuffled orders: score and ceiling are both computed on the
    shared stimuli (the ceiling equals noise_ceiling of the subjects restricted to them)."""
    rng = np.random.default_rng(3)
    truth, ids, true_rdm, stack = _simulated_subjects(rng, n_subjects=4)
    model = make_set(truth[5:] + rng.normal(size=truth[5:].shape), stimulus=ids[5:])
    shuffled = [r.isel(stimulus_a=p, stimulus_b=p) for r, p in ((r, rng.permutation(40)) for r in stack)]
    with pytest.warns(ns.NeurosuperWarning, match="compared on the 35 stimuli all inputs share"):
        res = cmp.score_against(model, shuffled, method="spearman", n_boot=0, progress=False)
    assert res.attrs["n_stimuli"] == 35
    kept = [r.sel(stimulus_a=ids[5:], stimulus_b=ids[5:]) for r in stack]
    nc = cmp.noise_ceiling(kept, method="spearman")
    assert res["ceiling"].values == pytest.approx([float(nc["lower"]), float(nc["upper"])], abs=1e-12)
    same = cmp.score_against(model, stack.sel(stimulus_a=ids[5:], stimulus_b=ids[5:]), n_boot=0, progress=False)
    assert float(same["value"]) == float(res["value"])


def test_one_data_rdm_is_scored_without_a_ceiling(published):
    res = cmp.score_against(published["mIT"], published["hIT"], method="pearson", n_boot=0)
    assert round(float(res["value"]), 2) == 0.49
    assert np.isnan(res["ceiling"].values).all() and np.isnan(float(res["sem"]))
    assert "no noise ceiling" in res.attrs["ceiling_note"] and res.attrs["ceiling_kind"] == "none"


def test_rdm_files_round_trip_and_load_names_them(tmp_path, published):
    r = cmp.as_rdm(np.arange(10.0), stimulus=list("abcde"), metric="euclidean")
    path = ns.save_result(r, tmp_path / "r.nc")
    back = ns.load_rdms(path)
    assert back.dims == ("stimulus_a", "stimulus_b") and np.array_equal(back.values, r.values)
    assert back.attrs["metric"] == "euclidean"
    with pytest.raises(FormatError, match=r"found RDMs \(variable 'rdm'.*load_rdms") as err:
        ns.load(DATA / "hIT_subjects.nc")
    assert "rename" not in str(err.value)
    ds = make_set(np.random.default_rng(0).normal(size=(6, 3)))
    ns.save(ds, tmp_path / "set.nc")
    with pytest.raises(FormatError, match=r"found a ResponseSet.*expected an RDM file"):
        ns.load_rdms(tmp_path / "set.nc")


# ---------------------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def network(tmp_path_factory, published):
    """A two-layer 'network' on the 92 image ids: an early layer of noise and a late layer whose units carry the
    human-IT geometry (the classical MDS embedding of the group RDM) plus noise."""
    rng = np.random.default_rng(92)
    d = published["hIT"].values
    j = np.eye(92) - 1 / 92
    vals, vecs = np.linalg.eigh(-0.5 * j @ d @ j)
    embed = vecs[:, -20:] * np.sqrt(np.clip(vals[-20:], 0, None))
    late = embed @ rng.normal(size=(20, 40)) + 0.02 * rng.normal(size=(92, 40))
    ds = ns.from_activations(
        {"early": rng.normal(size=(92, 30)), "late": late}, stimulus=published["hIT"]["stimulus_a"].values
    )
    path = tmp_path_factory.mktemp("net") / "net.nc"
    ns.save(ds, path)
    return path


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_compare_a_network_against_subject_rdms(network, capsys):
    code, out, err = _run(["compare", str(network), str(DATA / "hIT_subjects.nc"), "--n-boot", "100", "--json"], capsys)
    assert code == 0, err
    s = json.loads(out)
    ref = cmp.score_against(ns.load(network), ns.load_rdms(DATA / "hIT_subjects.nc"), n_boot=100, progress=False)
    assert s["value"] == cmp.summary(ref)["value"] and s["ceiling"] == [0.3723, 0.6657] and s["n_rdms"] == 4
    layers = s["layers"]
    assert set(layers["score"]) == {"early", "late"} and layers["ceiling"] == s["ceiling"]
    assert layers["score"]["late"] > s["ceiling"][0] > 0.3 > abs(layers["score"]["early"])
    assert layers["best"] == "late" and layers["best_status"] == "best"
    code, out, err = _run(["compare", str(network), str(DATA / "hIT_subjects.nc"), "--n-boot", "50"], capsys)
    assert code == 0 and "noise ceiling: 0.372 - 0.666 (leave-one-out)" in out and "layer late: RSA = " in out


def test_cli_compare_against_one_published_rdm_and_rdm_against_rdms(network, tmp_path, capsys):
    code, out, err = _run(["compare", str(network), str(DATA / "hIT.nc"), "--n-boot", "0", "--groupby", "none"], capsys)
    assert code == 0, err
    assert "1 RDM" in out and "noise ceiling: n/a (one data RDM" in out and "layer" not in out
    figure, saved = tmp_path / "rdms.png", tmp_path / "score.nc"
    argv = ["compare", str(DATA / "mIT.nc"), str(DATA / "hIT_subjects.nc"), "--n-boot", "100", "--json"]
    code, out, err = _run([*argv, "--figure", str(figure), "--out", str(saved)], capsys)
    assert code == 0, err
    s = json.loads(out)
    assert s["value"] == 0.2963 and s["ceiling"] == [0.3723, 0.6657] and "layers" not in s
    assert figure.stat().st_size > 1000 and ns.load(saved, validate_set=False)["value"] == pytest.approx(0.29632, 1e-4)


def test_cli_compare_rdm_errors_name_the_fix(network, capsys):
    subjects, mit = str(DATA / "hIT_subjects.nc"), str(DATA / "mIT.nc")
    code, _, err = _run(["compare", subjects, mit], capsys)
    assert code == 2 and "expected the model first" in err and f"Fix: neurosuper compare {mit} {subjects}" in err
    code, _, err = _run(["spectrum", str(DATA / "hIT.nc")], capsys)
    assert code == 2 and "found RDMs" in err and "neurosuper compare SET RDM_FILE" in err and "rename" not in err
