"""Fixes a user can type (issue 19 §5): every "Fix:" the command line prints names the command's own flags (or
``--set STEP.KEY=VALUE`` in a report), never a flag the command does not have, and proposes something that works —
run with bad input, the advice followed, the command gets past the error."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _format_helpers import make_set

import neurosuper as ns
from neurosuper.cli import build_parser, main
from neurosuper.cli._common import cli_wording
from neurosuper.errors import FormatError

pytestmark = pytest.mark.usefixtures("one_thread")


def _flags_of(command: str) -> set[str]:
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return {o for a in sub.choices[command]._actions for o in a.option_strings if o.startswith("--")}


def _error(argv: list[str], capsys) -> str:
    """The one-line error of a command that must fail with exit code 2; every flag it names is the command's."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurosuper: error: ") and "\n" not in err, err
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", err))
    assert named <= _flags_of(argv[0]), f"{argv[0]} has no {sorted(named - _flags_of(argv[0]))}: {err}"
    return err


def _labelled(n: int, rng: np.random.Generator, **kw):
    return make_set(np.abs(rng.normal(size=(n, 12))), label=("stimulus", [f"c{i % 3}" for i in range(n)]), **kw)


@pytest.fixture
def small(tmp_path, rng):
    path = tmp_path / "small.nc"
    ns.save(_labelled(8, rng), path)
    return str(path)


# ------------------------------------------------------------------------------------------- the wording
def test_cli_wording_names_only_the_commands_flags():
    flags = {"split": "--split", "k": "--k", "layers": "--layers", "zscore": "--zscore", "similarity": "--similarity"}
    text = (
        "x: found 1; expected 2. Fix: pass split=0.3, split=None, k=4, layers=['conv', 'fc'], zscore=True, "
        "ds = ds.assign_coords(stimulus=ids), or similarity=Features(features=...)"
    )
    got = cli_wording(text, flags)
    assert "--split 0.3, --split none, --k 4, --layers conv fc, --zscore" in got
    assert "assign_coords(stimulus=ids)" in got and "--stimulus" not in got  # no such flag: Python stays Python
    assert "similarity=Features(features=...)" in got and "--similarity" not in got  # a Python object: no flag


def test_cli_wording_of_report_settings_in_the_fix_only():
    flags = {"split": "--set directions.split=", "k": "--set directions.k="}
    got = cli_wording("for k=5 stimuli: found 4. Fix: pass split=0.38, k=4 or split=None", flags)
    assert got == (
        "for k=5 stimuli: found 4. Fix: pass --set directions.split=0.38, --set directions.k=4 or "
        "--set directions.split=null"
    )


# ------------------------------------------------------------------------------------------ the commands
def test_directions_split_fix_is_a_split_that_works(small, capsys):
    """Was: "Fix: pass --split 0.5 or --split None" when --split already was 0.5."""
    err = _error(["directions", small, "--methods", "pca"], capsys)
    assert "split 0.5: found 4 stimuli to fit and 4 to score (of 8)" in err
    assert "--split 0.5" not in err.split("Fix:")[1]
    assert "--split 0.38 (3 to fit, 5 to score)" in err and "--k 4" in err and "--split none" in err
    for advice in (["--split", "0.38"], ["--k", "4"], ["--split", "none"]):
        code = main(["directions", small, "--methods", "pca", *advice, "--json"])
        out, err = capsys.readouterr()
        assert "to fit and" not in err, (advice, err)  # past the split check (8 stimuli may fail later checks)
        assert code in (0, 2)


def test_directions_split_fix_when_no_split_can_work(tmp_path, rng, capsys):
    path = tmp_path / "six.nc"
    ns.save(_labelled(6, rng), path)
    err = _error(["directions", str(path), "--methods", "pca"], capsys)
    assert "--split 0." not in err and "--k 3" in err and "--split none" in err and "at least 7 stimuli" in err


def test_interpret_k_larger_than_the_stimuli(tmp_path, rng, capsys):
    """Was: "Fix: pass k <= 40" (Python, and '--k <= 40' after rewording)."""
    path = tmp_path / "n40.nc"
    ns.save(_labelled(40, rng), path)
    err = _error(["interpret", str(path), "--k", "100"], capsys)
    assert "Fix: pass --k 5 (the paper's value) or any k from 2 to 40" in err and "<=" not in err.split("Fix:")[1]


def test_interpret_without_stimuli_offers_no_python_object_as_a_flag(tmp_path, rng, capsys):
    path = tmp_path / "bare.nc"
    ns.save(make_set(rng.normal(size=(60, 5))), path)
    err = _error(["interpret", str(path)], capsys)
    assert "--similarity Features" not in err and "--similarity=" not in err
    assert "in Python, pass similarity=Features(features=...)" in err


def test_compare_names_no_flag_it_does_not_have(tmp_path, rng, capsys):
    """Was: "e.g. ds = ds.assign_coords(--stimulus ids)": compare has no --stimulus."""
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    ns.save(make_set(rng.normal(size=(10, 4))), a)
    ns.save(make_set(rng.normal(size=(10, 4)), stimulus=[f"s{i}" for i in range(10)]), b)
    err = _error(["compare", str(a), str(b)], capsys)
    assert "ds.assign_coords(stimulus=ids)" in err


@pytest.mark.parametrize("command", ["spectrum", "compare"])
def test_unknown_groupby_fix_is_groupby_none(tmp_path, rng, capsys, command):
    """Was: "no --groupby", which means --groupby auto (the default), not none."""
    path = tmp_path / "s.nc"
    ns.save(make_set(rng.normal(size=(30, 6))), path)
    argv = [command, str(path)] + ([str(path)] if command == "compare" else []) + ["--groupby", "nope"]
    err = _error(argv, capsys)
    assert "--groupby none" in err and "no --groupby" not in err


# ------------------------------------------------------------------- activations with metadata arrays
@pytest.fixture
def npz_with_metadata(tmp_path, rng):
    path = tmp_path / "acts.npz"
    np.savez(
        path,
        conv=rng.normal(size=(10, 4, 3, 3)),
        fc=rng.normal(size=(10, 5)),
        labels=np.arange(10),
        image_size=np.array(224),
        names=np.array([f"img{i}" for i in range(10)]),
    )
    return path


def test_load_activations_with_metadata_arrays_names_the_layers(npz_with_metadata):
    """Was: "convert the activations to float" (strings) or "reshape it" (integer labels): the fix is layers=."""
    with pytest.raises(FormatError) as err:
        ns.load_activations(npz_with_metadata)
    text = str(err.value)
    assert "'labels': int64 (10,)" in text and "'image_size': int64 ()" in text and "'names': <U4 (10,)" in text
    assert text.endswith("Fix: read just the layers: pass layers=['conv', 'fc'].")
    assert "convert" not in text and "reshape" not in text
    ds = ns.load_activations(npz_with_metadata, layers=["conv", "fc"])
    assert ds.attrs["layers"] == ["conv", "fc"] and ds.sizes["unit"] == 9


def test_hdf5_with_metadata_and_several_layers(tmp_path, rng):
    """Every dataset of an HDF5 file is found (the visit used to stop at the first), metadata named."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "acts.h5"
    with h5py.File(path, "w") as f:
        f["block1/conv"] = rng.normal(size=(10, 4))
        f["head/fc"] = rng.normal(size=(10, 3))
        f["meta/labels"] = np.arange(10)
    with pytest.raises(FormatError, match=r"pass layers=\['block1/conv', 'head/fc'\]"):
        ns.load_activations(path)
    assert ns.load_activations(path, layers=["block1/conv", "head/fc"]).attrs["layers"] == ["block1/conv", "head/fc"]


def test_report_on_activations_with_metadata_takes_layers(npz_with_metadata, tmp_path, capsys):
    skip = ["--skip", "spectrum", "interpret", "directions", "capacity", "--quiet"]
    err = _error(["report", str(npz_with_metadata), "--out", str(tmp_path / "r1"), *skip], capsys)
    assert "Fix: read just the layers: pass --layers conv fc." in err
    assert main(["report", str(npz_with_metadata), "--layers", "conv", "fc", "--out", str(tmp_path / "r2"), *skip]) == 0
    capsys.readouterr()
    path = tmp_path / "set.nc"
    ns.save(make_set(np.ones((5, 2)) * np.arange(2)), path)
    err = _error(["report", str(path), "--layers", "conv", "--out", str(tmp_path / "r3")], capsys)
    assert "--layers: found no .npz file among the inputs" in err


def test_report_step_failures_say_the_set_flag(tmp_path, rng, capsys):
    """A step's failure printed by `neurosuper report` words its fix as --set STEP.KEY=VALUE, and the advice works:
    40 stimuli leave 20 held out, too few for k = 5 most exciting stimuli (40 needed), enough for k = 2."""
    path = tmp_path / "forty.nc"
    ns.save(_labelled(40, rng), path)
    skip = ["--skip", "spectrum", "interpret", "capacity", "--quiet"]
    assert main(["report", str(path), "--out", str(tmp_path / "r"), *skip]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("failed directions"))
    assert "--set directions.k=2" in line and " k=2" not in line.replace("directions.k=2", "")
    assert main(["report", str(path), "--out", str(tmp_path / "r2"), *skip, "--set", "directions.k=2"]) == 0
    out = capsys.readouterr().out
    assert "failed directions" not in out


def test_demo_report_and_cohort_word_their_outcome_alike(capsys):
    """The three main-job commands print skipped/failed steps and headlines through one helper: a step's setting is
    worded as its --set flag for the command's own steps (the demo's and the cohort's included), a ran step is not
    listed, the command's flags are used."""
    from types import SimpleNamespace

    from neurosuper.cli._common import print_outcome
    from neurosuper.pipeline.cohort import cohort_steps
    from neurosuper.pipeline.steps import DEMO_STEPS

    def step(name, status, reason=None):
        return SimpleNamespace(name=name, status=status, reason=reason)

    result = SimpleNamespace(
        steps=[
            step("spectrum", "ran"),
            step("directions", "failed", "found 4 held-out stimuli. Fix: pass k=2"),
            step("cohort", "skipped", "one session. Fix: pass n_splits=2 with more sessions"),
        ],
        headline=["all good; rerun with seed=3"],
    )
    print_outcome(result, {"seed": "--seed"}, steps=DEMO_STEPS)
    demo_out = capsys.readouterr().out.splitlines()
    assert demo_out[0] == "  failed directions: found 4 held-out stimuli. Fix: pass --set directions.k=2"
    assert demo_out[1].startswith("  skipped cohort: one session. Fix: pass n_splits=2")  # not a demo step
    assert demo_out[2] == "  all good; rerun with --seed 3" and len(demo_out) == 3
    print_outcome(result, {}, steps=cohort_steps())
    cohort_out = capsys.readouterr().out.splitlines()
    assert "--set cohort.n_splits=2" in cohort_out[1] and "--set directions.k=2" in cohort_out[0]


def test_unavailable_similarity_names_one_that_works(tmp_path, rng, capsys):
    """Was: "use a backend that works on this set: ['label']" — now the flag and value to type."""
    path = tmp_path / "labelled.nc"
    ns.save(_labelled(60, rng), path)
    err = _error(["interpret", str(path), "--similarity", "gabor"], capsys)
    assert "pass --similarity label, a backend that works on this set" in err


def test_a_bare_python_argument_becomes_its_flag(capsys):
    """Was: "Fix: pass density= instead" (a Python keyword with no value)."""
    err = _error(["toy", "--kurtosis", "-1"], capsys)
    assert "pass --density instead" in err and "density=" not in err


def test_python_calls_in_a_fix_stay_python_even_when_the_command_has_the_flag(tmp_path, rng, capsys):
    """Was: "ds = ds.assign_coords(--stimulus ids)" from `report`, which has --stimulus (an NWB loader flag)."""
    flags = {"stimulus": "--stimulus", "method": "--method"}
    text = "eigenspectrum(method='cvpca'): found 1. Fix: ds.drop_sel(stimulus=[1, 2]) or stimulus='trials'"
    assert cli_wording(text, flags) == (
        "eigenspectrum(--method cvpca): found 1. Fix: ds.drop_sel(stimulus=[1, 2]) or --stimulus trials"
    )
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    ns.save(make_set(rng.normal(size=(10, 4))), a)
    ns.save(make_set(rng.normal(size=(10, 4)), stimulus=[f"s{i}" for i in range(10)]), b)
    err = _error(["report", str(a), str(b), "--out", str(tmp_path / "r"), "--quiet"], capsys)
    assert "ds = ds.assign_coords(stimulus=ids)" in err
