"""Analyses across the sessions and animals of a cohort (issue 21 §2): every analysis that groups units runs per
``session``/``subject`` with the planted per-group truth recovered; the inter-animal consistency (RSA and
predictivity, leave-one-animal-out) matches its simulated expectation, and ``compare.profile(...,
ceiling="inter_animal")`` reads a layer against it."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import neurosuper as ns
from neurosuper.errors import AnalysisError

N_STIM = 300


def _ids(n: int) -> list[str]:
    return [f"img{i:04d}" for i in range(n)]


def _session(data: np.ndarray, subject: str, session: str, **kw) -> xr.Dataset:
    n_units = data.shape[-1]
    ds = ns.from_array(
        data,
        system="brain",
        measure="dff",
        stimulus=_ids(data.shape[-2]),
        unit=[f"{session}/u{u}" for u in range(n_units)],
        **kw,
    )
    ds = ds.assign_coords(subject=("unit", np.full(n_units, subject)))
    ds.attrs["session"] = session
    return ds


def _powerlaw_session(alpha: float, seed: int, n_stim: int = 400, n_units: int = 60) -> np.ndarray:
    """Two repeats of a signal whose covariance eigenspectrum is ``n ** -alpha`` (random rotation), noise 0.3×."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_stim, n_units)) * np.arange(1, n_units + 1) ** (-alpha / 2)
    q, _ = np.linalg.qr(rng.standard_normal((n_units, n_units)))
    signal = z @ q.T
    sd = 0.3 * signal.std()
    return np.stack([signal + sd * rng.standard_normal(signal.shape) for _ in range(2)])


ALPHAS = {"m1": 1.0, "m2": 1.0, "m3": 2.0, "m4": 2.0}


@pytest.fixture(scope="module")
def alpha_cohort() -> xr.Dataset:
    """4 animals × 2 sessions; m1, m2 planted α = 1, m3, m4 α = 2."""
    images = np.random.default_rng(0).random((400, 6, 6))
    sets = [
        _session(_powerlaw_session(a, 10 * i + s), m, f"{m}-s{s}", stimuli=images)
        for i, (m, a) in enumerate(ALPHAS.items())
        for s in range(2)
    ]
    return ns.concat(sets)


def shared_signal_cohort(
    noise: float | list[float], *, n_subjects: int = 4, n_units: int = 40, n_stim: int = N_STIM, k: int = 3, seed=0
) -> tuple[xr.Dataset, np.ndarray]:
    """Subjects sharing a k-dim stimulus-driven signal: neuron j of subject s is ``latent @ w_j + noise_s · ε``
    with ``|w_j| = 1`` and unit-variance latents (signal variance 1), so its responses correlate with its own
    signal at ``ρ_s = 1 / √(1 + noise_s²)``. One session per subject."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_stim, k))
    noises = [noise] * n_subjects if np.isscalar(noise) else list(noise)
    sets = []
    for s, sd in enumerate(noises):
        w = rng.standard_normal((k, n_units))
        w /= np.linalg.norm(w, axis=0)
        y = latent @ w + sd * rng.standard_normal((n_stim, n_units))
        sets.append(_session(y, f"mouse{s + 1}", f"mouse{s + 1}-1"))
    return ns.concat(sets), latent


def _layer(data: np.ndarray, stimulus, name: str) -> xr.Dataset:
    return ns.from_array(
        data,
        system="network",
        measure="activation",
        stimulus=stimulus,
        unit=[f"{name}{u}" for u in range(data.shape[1])],
        layer=("unit", np.full(data.shape[1], name)),
    )


# ------------------------------------------------------------------------------------ per-group analyses
@pytest.mark.parametrize("groupby", ["subject", "session"])
def test_eigenspectrum_alpha_per_group_as_planted(alpha_cohort, groupby):
    spec = ns.spectral.eigenspectrum(alpha_cohort, method="pca", groupby=groupby, progress=False)
    fit = ns.spectral.powerlaw(spec, ranks=(2, 15))  # 60 units per session: the leading ranks
    labels = [str(v) for v in fit[groupby].values]
    truth = np.array([ALPHAS[lab.split("-")[0]] for lab in labels])
    np.testing.assert_allclose(fit["alpha"].values, truth, atol=0.15)
    assert len(labels) == (4 if groupby == "subject" else 8)


def test_reliability_per_subject_follows_planted_noise():
    cohort, _ = shared_signal_cohort([0.5, 1.0, 2.0])
    reps = []
    rng = np.random.default_rng(3)
    # two repeats per subject with noise sd 0.5/1/2 on a unit-variance signal: reliability of the mean of 2 =
    # 2ρ²/(1+ρ²) with ρ² = 1/(1+sd²)
    signal = cohort["responses"].values
    for s, sd in zip(["mouse1", "mouse2", "mouse3"], [0.5, 1.0, 2.0], strict=True):
        cols = cohort["subject"].values == s
        reps.append(np.stack([signal[:, cols] + sd * rng.standard_normal((N_STIM, cols.sum())) for _ in range(2)]))
    data = np.concatenate(reps, axis=-1)
    ds = ns.from_array(data, system="brain", measure="dff", stimulus=cohort.stimulus.values, unit=cohort.unit.values)
    ds = ds.assign_coords(subject=("unit", cohort["subject"].values))
    rel = ns.spectral.reliability(ds, groupby="subject")
    # the per-unit values keep the unit ids; the subject labels are a dim of the per-group values
    subj = ds["subject"].values
    median = [np.median(rel["reliability"].values[subj == s]) for s in ["mouse1", "mouse2", "mouse3"]]
    # each repeat = (signal incl. the cohort's own noise, var 1 + sd²) + fresh noise sd²: ρ² = (1 + sd²)/(1 + 2sd²)
    sds = np.array([0.5, 1.0, 2.0])
    rho2 = (1 + sds**2) / (1 + 2 * sds**2)
    np.testing.assert_allclose(median, 2 * rho2 / (1 + rho2), atol=0.03)
    assert list(rel["signal_fraction"]["subject"].values) == ["mouse1", "mouse2", "mouse3"]


def test_interpretability_and_directions_and_capacity_per_subject(alpha_cohort):
    ii = ns.interpret.interpretability_index(alpha_cohort, k=3, n_null=50, progress=False)
    stats = ns.interpret.group_stats(ii, groupby="subject")
    assert list(stats["group"].values) == list(ALPHAS) and (stats["n"].values == 120).all()
    assert stats.attrs["grouped_by"] == "subject"
    summary = ns.interpret.summary(ii, groupby="subject")
    assert set(summary["by_subject"]) == set(ALPHAS)

    d = ns.directions.find(alpha_cohort, "pca", 3, groupby="subject")
    assert d.sizes["direction"] == 12
    for m in ALPHAS:
        rows = d.sel(direction=d["group"] == m)
        outside = rows.sel(unit=alpha_cohort["subject"].values != m)
        assert np.all(outside.values == 0)  # each subject's directions live on its own units only
        np.testing.assert_allclose(np.linalg.norm(rows.values, axis=1), 1.0, atol=1e-12)

    cap = ns.capacity.feature_capacity(alpha_cohort, "pca", groupby="subject", progress=False)
    assert list(cap["group"].values) == list(ALPHAS)
    np.testing.assert_allclose(cap["capacity_sum"].values, 120.0, atol=1e-6)  # PCA: one monosemantic per unit


def test_cka_per_subject_finds_the_subject_a_layer_was_built_from():
    cohort, latent = shared_signal_cohort(1.0, n_units=30)
    rng = np.random.default_rng(7)
    mine = cohort["responses"].values[:, cohort["subject"].values == "mouse2"]
    rotation, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    net = _layer(2.5 * mine @ rotation, cohort.stimulus.values, "copy")  # linear CKA: invariant to both
    res = ns.compare.cka(cohort, net, groupby="subject", progress=False)
    assert float(res["cka"].sel(subject="mouse2")) == pytest.approx(1.0, abs=1e-12)
    assert int(np.argmax(res["cka"].values)) == 1 and res["cka"].sel(subject="mouse1") < 0.9


# ------------------------------------------------------------------------------------- inter-animal ceiling
@pytest.mark.parametrize("noise", [0.5, 1.0])
def test_inter_animal_predictivity_matches_the_signal_correlation(noise):
    # a target neuron correlates with its own signal at 1/sqrt(1 + noise²); the others pooled (120 units) recover
    # the 3-dim signal almost exactly, so the leave-one-animal-out predictivity sits just below it (ridge
    # estimation and per-fold r on 30 stimuli cost ≈ 0.01-0.03)
    cohort, _ = shared_signal_cohort(noise)
    res = ns.compare.inter_animal(cohort, kind="predictivity", progress=False)
    expected = 1 / np.sqrt(1 + noise**2)
    assert expected - 0.05 < float(res["value"]) < expected + 0.01
    assert res.sizes["subject"] == 4 and res.attrs["n_subjects"] == 4
    lo, hi = res["ci"].values
    assert lo <= float(res["value"]) <= hi
    v = res["subject_value"].values
    assert float(res["sd"]) == pytest.approx(np.std(v, ddof=1))
    from scipy import stats

    half = stats.t.ppf(0.975, 3) * np.std(v, ddof=1) / 2
    assert hi - lo == pytest.approx(2 * half)


def test_inter_animal_per_subject_follows_each_animals_noise():
    noises = [0.3, 1.0, 2.0]
    cohort, _ = shared_signal_cohort(noises, n_units=50)
    res = ns.compare.inter_animal(cohort, kind="predictivity", progress=False)
    expected = 1 / np.sqrt(1 + np.square(noises))
    np.testing.assert_allclose(res["subject_value"].values, expected, atol=0.07)
    assert np.all(np.diff(res["subject_value"].values) < 0)


def test_inter_animal_rsa_is_leave_one_out_against_the_others_pooled():
    cohort, _ = shared_signal_cohort(1.0, n_units=25, n_stim=80)
    res = ns.compare.inter_animal(cohort, kind="rsa", metric="correlation", method="spearman", progress=False)
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    x = cohort["responses"].values
    subj = cohort["subject"].values
    by_hand = [
        spearmanr(pdist(x[:, subj == s], "correlation"), pdist(x[:, subj != s], "correlation"))[0]
        for s in ["mouse1", "mouse2", "mouse3", "mouse4"]
    ]
    np.testing.assert_allclose(res["subject_value"].values, by_hand, atol=1e-12)
    assert float(res["value"]) == pytest.approx(np.mean(by_hand), abs=1e-12)


def test_inter_animal_rsa_rises_with_signal_to_noise():
    values = [
        float(ns.compare.inter_animal(shared_signal_cohort(sd, n_stim=80)[0], progress=False)["value"])
        for sd in (0.5, 1.0, 3.0)
    ]
    assert values[0] > values[1] > values[2]
    assert values[2] < 0.6 and values[0] > 0.8


def test_inter_animal_per_area():
    cohort, _ = shared_signal_cohort(1.0, n_units=40, n_stim=80)
    area = np.tile(np.repeat(["VISp", "VISl"], 20), 4)
    res = ns.compare.inter_animal(cohort.assign_coords(area=("unit", area)), groupby="area", progress=False)
    assert res["value"].dims == ("area",) and res["subject_value"].dims == ("area", "subject")
    assert (res["n_units"].values == 20).all()
    assert np.all(res["value"].values > 0.5)


@pytest.mark.parametrize("kind", ["rsa", "predictivity"])
def test_profile_inter_animal_signal_layer_at_ceiling_random_layer_at_zero(kind):
    cohort, latent = shared_signal_cohort(1.0, n_stim=N_STIM if kind == "predictivity" else 120)
    rng = np.random.default_rng(5)
    n = cohort.sizes["stimulus"]
    net = ns.concat(
        [
            _layer(latent @ rng.standard_normal((3, 20)), cohort.stimulus.values, "signal"),
            _layer(rng.standard_normal((n, 20)), cohort.stimulus.values, "random"),
        ],
        name="model",
    )
    prof = ns.compare.profile(net, cohort, kind=kind, ceiling="inter_animal", n_boot=0, progress=False)
    ia = ns.compare.inter_animal(cohort, kind=kind, progress=False)
    assert float(prof["ceiling_value"]) == pytest.approx(float(ia["value"]), abs=1e-12)
    np.testing.assert_allclose(prof["ceiling"].values, ia["ci"].values)
    np.testing.assert_allclose(prof["ceiling_subject"].values, ia["subject_value"].values)
    assert prof.attrs["ceiling_kind"] == "inter-animal"
    normalized = prof["normalized"].sel(layer=["signal", "random"]).values
    assert 0.9 < normalized[0] < 1.15  # the noise-free shared signal: as close as the animals are to each other
    assert abs(normalized[1]) < 0.15  # a random layer: ~0
    assert prof["score_subject"].dims == ("layer", "subject")
    np.testing.assert_allclose(prof["subject_mean"].values, prof["score_subject"].mean("subject").values)
    if kind == "rsa":  # the score is the mean over subjects of the similarity with each subject's RDM
        np.testing.assert_allclose(prof["score"].values, prof["subject_mean"].values, atol=1e-12)


def test_profile_default_ceiling_unchanged():
    cohort, latent = shared_signal_cohort(1.0, n_stim=60)
    net = _layer(latent, cohort.stimulus.values, "signal")
    a = ns.compare.profile(net, cohort, n_boot=0, progress=False)
    assert "ceiling_value" not in a and a.attrs["ceiling_kind"] == "none"


def test_inter_animal_errors_name_the_fix():
    cohort, latent = shared_signal_cohort(1.0, n_stim=60)
    net = _layer(latent, cohort.stimulus.values, "signal")
    with pytest.raises(AnalysisError, match="no 'subject' coord.*load_cohort"):
        ns.compare.inter_animal(cohort.drop_vars("subject"))
    with pytest.raises(AnalysisError, match="no 'subject' coord.*load_cohort"):
        ns.compare.profile(net, cohort.drop_vars("subject"), ceiling="inter_animal", n_boot=0, progress=False)
    one = cohort.isel(unit=cohort["subject"].values == "mouse1")
    with pytest.raises(AnalysisError, match="1 subject.*at least 2 subjects.*other animals"):
        ns.compare.inter_animal(one)
    with pytest.raises(AnalysisError, match="ceiling"):
        ns.compare.profile(net, cohort, ceiling="animals", n_boot=0, progress=False)
    rdm = ns.compare.rdm(cohort)
    with pytest.raises(AnalysisError, match="ceiling='inter_animal'.*RDMs"):
        ns.compare.profile(net, [rdm, rdm], ceiling="inter_animal", n_boot=0, progress=False)


def test_stimuli_missing_from_a_session_are_left_out_with_a_warning():
    cohort, _ = shared_signal_cohort(1.0, n_stim=60)
    data = cohort["responses"].values.copy()
    data[:5, cohort["subject"].values == "mouse3"] = np.nan  # 5 stimuli not shown to mouse3
    reps = ns.from_array(
        np.stack([data, data]), system="brain", measure="dff", stimulus=cohort.stimulus.values, unit=cohort.unit.values
    ).assign_coords(subject=("unit", cohort["subject"].values))
    with pytest.warns(ns.NeurosuperWarning, match="left out 5 of 60 stimuli"):
        res = ns.compare.inter_animal(reps, progress=False)
    assert res.attrs["n_stimuli"] == 55


def test_summary_of_inter_animal_and_of_an_inter_animal_profile():
    cohort, latent = shared_signal_cohort(1.0, n_stim=60, n_units=20)
    ia = ns.compare.inter_animal(cohort, progress=False)
    s = ns.compare.summary(ia)
    assert s["kind"] == "rsa" and s["n_subjects"] == 4
    assert s["value"] == pytest.approx(float(ia["value"]), abs=1e-4)
    assert set(s["subject_value"]) == {"mouse1", "mouse2", "mouse3", "mouse4"}
    prof = ns.compare.profile(
        _layer(latent, cohort.stimulus.values, "signal"), cohort, ceiling="inter_animal", n_boot=0, progress=False
    )
    p = ns.compare.summary(prof)
    assert p["ceiling_kind"] == "inter-animal" and p["ceiling_value"] == pytest.approx(s["value"], abs=1e-4)
    assert p["normalized"]["signal"] == pytest.approx(float(prof["normalized"].item()), abs=1e-4)
    assert "ceiling_value" not in ns.compare.summary(
        ns.compare.profile(_layer(latent, cohort.stimulus.values, "signal"), cohort, n_boot=0, progress=False)
    )
    from neurosuper.plot.compare import plot_profile

    fig = plot_profile(prof)  # the inter-animal interval is drawn as the ceiling band
    assert "inter-animal" in " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())


def test_participation_ratio_projection_procrustes_and_figures_per_subject():
    # isotropic noise adds dimensions: the participation ratio per subject follows the planted noise (3-dim signal)
    cohort, latent = shared_signal_cohort([0.3, 1.0, 2.0, 1.0], n_units=30, n_stim=200)
    spec = ns.spectral.eigenspectrum(cohort, method="pca", groupby="subject", progress=False)
    pr = ns.spectral.summary(spec)["participation_ratio"]
    assert pr["mouse1"] < 4 < pr["mouse2"] < pr["mouse3"] and pr["mouse4"] < pr["mouse3"]
    proj = ns.spectral.random_projection(cohort, groupby="subject")
    assert proj.sizes["subject"] == 4
    shape = ns.compare.procrustes(cohort, _layer(latent, cohort.stimulus.values, "signal"), groupby="subject")
    assert int(np.argmin(shape["distance"].values)) == 0  # the least noisy animal is closest to the signal
    from neurosuper.plot.spectral import plot_spectrum

    assert len(plot_spectrum(spec).axes[0].get_lines()) >= 4  # one spectrum per subject
