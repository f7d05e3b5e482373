"""Every real-data number the docs quote, computed by running the docs' own examples on the data shipped in
``datasets/real`` (as a user of a fresh clone would, from its root) and compared with the docs' text at the precision
the docs print. A doc number that drifts from the code fails here; so does an example that stops running.

The M1 direction-comparison table of docs/directions.md is checked in tests/test_directions_realdata.py (it reuses
that test's 50-second comparison)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _docs_numbers import code_blocks, flat, prints_as, run_example, section, table, working_folder

import neurosuper as ns
from neurosuper.cli import main

pytestmark = [pytest.mark.realdata, pytest.mark.usefixtures("one_thread", "real_data")]


def _fmt(x: float, decimals: int) -> str:
    """A number as the docs' prose prints it (Unicode minus)."""
    return f"{x:.{decimals}f}".replace("-", "−")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    with working_folder(tmp_path_factory.mktemp("docs_realdata")) as path:
        yield path


# ------------------------------------------------------------------------------------------- docs/spectral.md
def test_spectral_m1_example(folder):
    text = section("spectral.md", "### On a real recording")
    (block,) = code_blocks(text)
    env = run_example(block)  # loads datasets/real/m1/..., eigenspectrum with n_boot=50
    spec = env["spec"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.NeurosuperWarning)  # the default fit is clean
        fit = ns.spectral.powerlaw(spec)
    a, (lo, hi), r2 = fit["alpha"].item(), fit["alpha_ci"].values, fit["r2"].item()
    assert fit.attrs["ranks"] == [11, 42] and fit.attrs["N"] == 171
    assert f"# alpha {a:.3f}, CI [{lo:.3f}, {hi:.3f}], r² {r2:.3f} over ranks 11..42 (N = 171)" in block
    prose = flat(text)
    f100 = ns.spectral.powerlaw(spec, ranks=(11, 100))
    assert (
        f"Over ranks 11–100 the same spectrum gives α = {f100['alpha'].item():.2f} (r² {f100['r2'].item():.2f})"
        in prose
    )
    with pytest.warns(ns.NeurosuperWarning, match="a poor fit") as record:
        f171 = ns.spectral.powerlaw(spec, ranks=(11, 171))
    quoted = f"a poor fit: r² = {f171['r2'].item():.2f} < 0.9"
    assert quoted in str(record[0].message) and f'("{quoted}")' in prose
    assert f"α = {f171['alpha'].item():.2f} with r² {f171['r2'].item():.2f}" in prose
    rules = flat(section("spectral.md", "### The default range: ranks 11..min(500, N // 4)"))
    assert f"(the M1 recording over 11–171: r² {f171['r2'].item():.2f})" in rules
    assert f"participation ratio is {ns.spectral.participation_ratio(spec).item():.1f}" in prose
    # "the spectrum bends down steeply after rank ~80": the local slope beyond it is over twice the fitted α
    v = spec["variance"].values
    slope = -np.polyfit(np.log(np.arange(80, 101)), np.log(v[79:100]), 1)[0]
    before = -np.polyfit(np.log(np.arange(60, 80)), np.log(v[59:79]), 1)[0]
    assert "bends down steeply after rank ~80" in prose and slope > 2 * a and slope > 1.5 * before


# -------------------------------------------------------------------------------------------- docs/compare.md
def test_compare_m1_example(folder):
    text = section("compare.md", "## Real data: macaque M1 (Stevenson et al. 2011)")
    (block,) = code_blocks(text)
    with pytest.warns(ns.NeurosuperWarning, match="7 of 171 neurons are constant across stimuli"):
        env = run_example(block)
    assert "7 of the 171 neurons are silent in the first 4,000 bins" in flat(text)
    cmp, a, b, shuffled = ns.compare, env["a"], env["b"], env["shuffled"]
    code = flat(block)
    deb, deb0 = (float(cmp.cka(a, x, debiased=True)["cka"]) for x in (b, shuffled))
    assert f'cka(a, b, debiased=True)["cka"] # {deb:.3f} (shuffled: {deb0:.4f})' in code
    biased, biased0 = (float(cmp.cka(a, x)["cka"]) for x in (b, shuffled))
    assert f'cka(a, b)["cka"] # {biased:.3f} (shuffled: {biased0:.3f} —' in code
    d, d0 = (float(cmp.procrustes(a, x)["distance"]) for x in (b, shuffled))
    assert f'procrustes(a, b)["distance"] # {d:.2f} rad (shuffled: {d0:.2f})' in code
    kin, set_of, spikes = env["kin"], env["set_of"], env["spikes"]
    control = set_of(kin[np.random.default_rng(3).permutation(4000)], system="network")
    with pytest.warns(ns.NeurosuperWarning, match="7 of 171"):
        r = float(cmp.predictivity(env["kinematics"], set_of(spikes[:4000]), n_splits=5)["median"])
    with pytest.warns(ns.NeurosuperWarning, match="7 of 171"):
        r0 = float(cmp.predictivity(control, set_of(spikes[:4000]), n_splits=5)["median"])
    assert f'n_splits=5)["median"] # {r:.3f} (shuffled: {r0:.3f})' in code


def test_compare_kriegeskorte_example(folder, capsys):
    text = section("compare.md", "## Published RDMs: monkey IT against human IT (Kriegeskorte et al. 2008)")
    (block,) = code_blocks(text)
    env = run_example(block, skip=("network",))  # the page's last line scores the reader's own network
    cmp, mit, hit, subjects = ns.compare, env["mit"], env["hit"], env["subjects"]
    r = float(cmp.compare_rdms(mit, hit, method="pearson", n_boot=0)["value"])
    assert f'n_boot=0)["value"] # {r:.3f} (rsatoolbox: the same)' in flat(block)
    printed = flat(" ".join(line.strip().lstrip("#") for line in block.splitlines() if line.strip().startswith("#")))
    s = cmp.summary(env["res"])
    for key in ("value", "ci", "sem", "value_each", "ceiling", "ceiling_kind", "n_stimuli"):
        assert f"{key!r}: {s[key]!r}" in printed, key
    prose = flat(text)
    lo, hi = env["res"]["ci"].values
    assert f"(CI {lo:.2f}–{hi:.2f})" in prose
    assert f"noise ceiling ({s['ceiling'][0]:.3f}–{s['ceiling'][1]:.3f})" in prose
    group = float(cmp.score_against(hit, subjects, method="spearman", n_boot=0)["value"])
    assert f"scores {group:.3f}, at the upper bound" in prose
    tau = cmp.score_against(mit, subjects, method="kendall_tau_a", n_boot=0)
    t_lo, t_hi = tau["ceiling"].values
    assert f"monkey IT {float(tau['value']):.3f}, ceiling {t_lo:.3f}–{t_hi:.3f}" in prose
    # the command-line transcript
    (shell,) = code_blocks(text, lang="")
    assert (
        main(["compare", "datasets/real/kriegeskorte2008/mIT.nc", "datasets/real/kriegeskorte2008/hIT_subjects.nc"])
        == 0
    )
    out = flat(capsys.readouterr().out)
    for line in shell.splitlines():
        if line.startswith("#   ") and not line.startswith("#   ..."):
            assert flat(line[1:]) in out, line
    assert flat("4 RDMs (mean over them), 92 shared stimuli") in out


# ------------------------------------------------------------------------------------------- docs/interpret.md
@pytest.fixture(scope="module")
def interpret_example(folder):
    text = section("interpret.md", "## II is only as meaningful as its similarity space — a real example")
    (block,) = code_blocks(text)
    with pytest.warns(ns.NeurosuperWarning, match="5 of 171 units respond above their minimum to fewer than k=5"):
        env = run_example(block)
    return text, env


def _ii(counts, features):
    ds = ns.from_array(counts, system="brain", measure="spike_count", stimuli=features)
    with pytest.warns(ns.NeurosuperWarning, match="5 of 171 units respond above their minimum"):
        return ns.interpret.interpretability_index(ds, null="random_stimuli", progress=False)


@pytest.mark.parametrize("row", ["movement **direction**", "raw **velocity**"])
def test_interpret_m1_table(interpret_example, row):
    text, env = interpret_example
    counts, vel = env["counts"], env["vel"]
    features = env["direction"] if "direction" in row else vel
    res = env["res"] if "direction" in row else _ii(counts, vel)
    shuffled = [_ii(counts, features[np.random.default_rng(s).permutation(len(counts))]) for s in range(5)]
    above = [100 * np.mean(res["ii"].values > sh["ii"].values) for sh in shuffled]
    cells = table(text, row)
    share = f"{above[0]:.0f} % ({min(above):.0f}–{max(above):.0f} % over 5 shuffles)"
    decimals = 2 if "direction" in row else 3
    mean_ii = f"{_fmt(float(res['ii'].mean()), decimals)} vs {_fmt(float(shuffled[0]['ii'].mean()), decimals)}"
    mean_z = f"{_fmt(float(res['ii_z'].mean()), 2)} vs {_fmt(float(shuffled[0]['ii_z'].mean()), 2)}"
    assert cells[1:] == [share, mean_ii, mean_z]
    assert "`np.random.default_rng(0).permutation(1553)` (seeds 0–4" in flat(text)


def test_interpret_m1_ties_and_sparse_units(interpret_example):
    _, env = interpret_example
    counts = env["counts"]
    top = -np.sort(-counts, axis=0)
    tie = 100 * np.mean(top[4] == top[5])  # tied at the 5th MEI: the 5th and 6th largest responses are equal
    notes = flat(section("interpret.md", "## The interpretability index"))
    assert f"on the M1 data below {tie:.0f} % of the neurons tie at their 5th MEI" in notes
    assert "(5 of the 171 M1 neurons below)" in notes  # the count of the warning run_example matched


# ------------------------------------------------------------------------------------------- docs/capacity.md
CAPACITY = "### Example on real data: macaque M1 (Stevenson et al. 2011)"


def _rows_print(text, runs):
    """Each run prints as its row of the capacity table: directions, Σ C, mean C, mono / poly / ignored."""
    for row, res in runs.items():
        s = ns.capacity.summary(res)
        cells = table(text, row)
        n = s["n_directions"]
        assert int(cells[1]) == n, row
        assert prints_as(s["capacity_sum"], cells[2]) and prints_as(s["capacity_sum"] / n, cells[3]), (row, s)
        assert cells[4] == f"{s['n_monosemantic']} / {s['n_polysemantic']} / {s['n_ignored']}", (row, s)


@pytest.mark.slow
def test_capacity_m1_table_and_prose(folder):
    text = section("capacity.md", CAPACITY)
    (block,) = code_blocks(text)
    env = run_example(block)  # the 2x overcomplete centred dictionary (~25 s)
    ds = env["ds"]
    _rows_print(
        text,
        {
            "`sparse_coding`, 2× overcomplete": env["res"],
            "`units`": ns.capacity.feature_capacity(ds, "units", center=True, progress=False),
            "`pca`": ns.capacity.feature_capacity(ds, "pca", center=True, progress=False),
            "`random`": ns.capacity.feature_capacity(ds, "random", center=True, progress=False),
            "`ica`": ns.capacity.feature_capacity(ds, "ica", center=True, max_iter=1000, progress=False),
        },
    )
    res = env["res"]
    c, norm = res["capacity"].values, res["norm"].values
    prose = flat(text)
    assert f"together they use {c.sum():.0f} of 171" in prose
    p10, p90 = np.percentile(c, [10, 90])
    assert f"median atom gets {np.median(c):.3f} of a dimension (10th–90th percentile {p10:.3f}–{p90:.3f})" in prose
    assert f"(correlation of C with log ‖W_i‖: {np.corrcoef(c, np.log(norm))[0, 1]:.2f})" in prose
    first, second = np.argsort(-c)[:2]
    biggest = int(np.argmax(norm))
    assert set(np.argsort(-norm)[:5]) >= {first, second}
    assert (
        f"the two largest capacities, {c[first]:.2f} and {c[second]:.2f}, go to two of the five largest atoms "
        f"(‖W_i‖ {norm[first]:.2f} and {norm[second]:.2f}; the largest, {norm[biggest]:.2f}, gets {c[biggest]:.2f})"
    ) in prose
    # the figure's band: ≈ 0.02 at ‖W_i‖ ≈ 0.4, ≈ 0.2 at ‖W_i‖ ≈ 2, the ignored atoms at the small end
    assert "a band rising from ≈ 0.02 at ‖W_i‖ ≈ 0.4 to ≈ 0.2 at ‖W_i‖ ≈ 2" in prose
    assert round(float(np.median(c[(norm > 0.3) & (norm < 0.5)])), 2) == 0.02
    assert round(float(np.median(c[(norm > 1.8) & (norm < 2.4)])), 1) == 0.2
    ignored = c <= 0.02
    assert f"the {ignored.sum()} ignored ones (C ≤ 0.02) at the small end" in prose
    assert norm[ignored].max() < np.median(norm)


@pytest.mark.slow
def test_capacity_m1_uncentred_row(folder):
    """The table's last row: the same dictionary on uncentred counts, warned, and Σ C collapsing."""
    text = section("capacity.md", CAPACITY)
    (block,) = code_blocks(text)
    assert block.count("center=True") == 1
    with pytest.warns(ns.NeurosuperWarning, match="the mean response holds 89 % of the responses' energy"):
        res = run_example(block.replace("center=True", "center=False"))["res"]
    assert "(warned: the mean holds 89 % of the energy)" in text
    _rows_print(text, {"`sparse_coding`, 2× overcomplete, **uncentred**": res})
    assert f"Σ C collapses to {float(res['capacity_sum']):.1f}" in flat(text)


# ------------------------------------------------------------------------------------------ docs/directions.md
@pytest.mark.slow
def test_directions_sae_dead_latents_on_m1(interpret_example):
    """docs/directions.md (SAE): on the M1 segments, the pre-encoder mean keeps the latents alive."""
    _, env = interpret_example
    ds = env["ds"]
    centred = ns.directions.fit_directions(ds, "sae")
    with pytest.warns(ns.NeurosuperWarning, match="latents are dead"):
        raw = ns.directions.fit_directions(ds, "sae", center=False)
    n = raw.components_.shape[0]
    said = "without it no latent" if raw.n_dead_ == 0 else f"without it {raw.n_dead_} of {n} latents never fired"
    alive = "none" if centred.n_dead_ == 0 else str(centred.n_dead_)
    text = flat(section("directions.md", "## Direction finders"))
    assert f"{said}, with it {alive} (" in text


# ------------------------------------------------------------------------------------------------ docs/nwb.md
def test_nwb_examples_on_the_shipped_files(folder):
    (block, *_) = code_blocks(section("nwb.md", "# NWB recordings"))
    lines = [line for line in block.splitlines() if "datasets/real" in line]
    assert len(lines) == 2  # the ALM trials example and the pynapple epoch example
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.NeurosuperWarning)  # the examples as written warn about nothing
        env = run_example(block, skip=('"session.nwb"',))
    ds = env["ds"]  # the last one: the pynapple file in 50 ms bins
    assert f"# (stimulus: {ds.sizes['stimulus']}, unit: {ds.sizes['unit']})" in block
    assert f"every one of the file's {int(ds['responses'].sum()):,} spikes counted once" in block
    alm = ns.load_nwb(
        "datasets/real/nwb/sub-anm369963_ses-20170228.nwb",
        stimulus=("trials", ["type", "response"]),
        align="cue_start_time",
        align_relative=True,
        window=(-0.5, 1.0),
        rows=lambda t: t.is_good == 1,
    )
    sizes = ", ".join(f"{d}: {n}" for d, n in alm["responses"].sizes.items())
    assert (
        f"# ({sizes}): {alm.sizes['stimulus']} type|response combinations ('{alm['stimulus'].values[0]}', ...)" in block
    )


# ------------------------------------------------------------------------------------- docs/getting-started.md
@pytest.mark.slow
def test_getting_started_m1_report_transcript(folder, capsys):
    text = section("getting-started.md", "## A real recording")
    (block,) = code_blocks(text)
    run_example(block)  # writes m1.nc in the working folder
    (transcript,) = code_blocks(text, lang="")
    command, *expected = transcript.strip().splitlines()
    assert command == "$ neurosuper report m1.nc --out m1-report"
    code = main(command.split()[2:])  # "$ neurosuper report ..." → ["report", ...]
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert out[0].startswith("neurosuper report: ") and out[0].endswith(expected[0].split(": ", 1)[1])
    assert out[1:] == expected[1:]
