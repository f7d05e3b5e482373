"""Clear errors instead of crashes (issue 23 §2): data that cannot be analysed (constant, all-zero, overflowing),
settings and flags of the wrong type or range, truncated or corrupt files, labels matplotlib would read as mathtext,
and URLs given as paths each get a typed neurosuper error (exit 2 on the command line) that names what was found
and the fix — never a third-party traceback."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _format_helpers import make_set

import neurosuper as ns
from neurosuper.cli import main
from neurosuper.errors import AnalysisError, FormatError

pytestmark = pytest.mark.usefixtures("one_thread")

N_STIMULI, N_UNITS = 120, 12


def _set(values: np.ndarray) -> ns.format.xr.Dataset:
    labels = [f"c{i % 3}" for i in range(values.shape[0])]
    return make_set(values, label=("stimulus", labels))


def _exit(argv: list[str], capsys) -> tuple[int, str]:
    """(exit code, stderr) of a command."""
    code = main(argv)
    return code, capsys.readouterr().err


# ------------------------------------------------------------------------------ data that cannot be analysed
BAD_DATA = {
    "all_zero": (np.zeros((N_STIMULI, N_UNITS)), "constant data"),
    "constant": (np.full((N_STIMULI, N_UNITS), 3.0), "constant data"),
    "huge": (np.full((N_STIMULI, N_UNITS), 1e300), "values as large as 1e+300"),
    "huge_varying": (np.random.default_rng(0).normal(size=(N_STIMULI, N_UNITS)) * 1e300, "values as large as"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
@pytest.mark.parametrize("analysis", ["fit_directions_ica", "compare_methods", "feature_capacity_ica"])
def test_unanalysable_data_is_refused_with_its_reason(case, analysis):
    """Was: scikit-learn's InvalidParameterError (FastICA n_components=0) or LinAlgError (eigenvalues did not
    converge)."""
    from neurosuper.capacity import feature_capacity
    from neurosuper.directions import compare_methods, fit_directions

    values, found = BAD_DATA[case]
    ds = _set(values)
    with pytest.raises(AnalysisError) as err:
        if analysis == "fit_directions_ica":
            fit_directions(ds, "ica")
        elif analysis == "compare_methods":
            compare_methods(ds, ("units", "ica", "pca"), progress=False)
        else:
            feature_capacity(ds, "ica", progress=False)
    message = str(err.value)
    assert found in message and "Fix:" in message
    assert ("rescale" if "large" in found else "check the data") in message.split("Fix:")[1]


@pytest.mark.parametrize("command", ["directions", "capacity"])
@pytest.mark.parametrize("case", ["all_zero", "huge"])
def test_unanalysable_data_exits_2_on_the_command_line(command, case, tmp_path, capsys):
    values, found = BAD_DATA[case]
    path = tmp_path / "bad.nc"
    ns.save(_set(values), path)
    extra = ["--method", "ica"] if command == "capacity" else ["--methods", "units", "ica"]
    code, err = _exit([command, str(path), *extra], capsys)
    assert code == 2, err
    assert err.startswith("neurosuper: error: ") and found in err and "Traceback" not in err


def test_a_report_on_constant_data_says_why_each_step_failed(tmp_path, capsys):
    """In a report the step is "failed" with its reason; the command still writes the report (exit 0)."""
    path = tmp_path / "zero.nc"
    ns.save(_set(np.zeros((N_STIMULI, N_UNITS))), path)
    out = tmp_path / "r"
    argv = ["report", str(path), "--out", str(out), "--skip", "spectrum", "interpret", "--quiet"]
    code, err = _exit(argv, capsys)
    assert code == 0, err
    steps = {s["name"]: s for s in json.loads((out / "summary.json").read_text())["steps"]}
    for name in ("directions", "capacity"):
        assert steps[name]["status"] == "failed", steps[name]
        assert "constant data" in json.dumps(steps[name])


# ------------------------------------------------------------------------------ --set values
@pytest.mark.parametrize(
    ("item", "found", "expected"),
    [
        ("directions.max_units=abc", "'abc' (text)", "an integer >= 1"),
        ("directions.max_units=-3", "-3", "an integer >= 1"),
        ("directions.max_units=null", "null", "an integer >= 1"),
        ("directions.max_units=2.5", "2.5", "an integer >= 1"),
        ("directions.split=1.5", "1.5", "a number > 0 and < 1 or null"),
        ("directions.pretrained=3", "3", "true or false"),
        ("spectrum.n_boot=abc", "'abc' (text)", "an integer >= 0"),
        ("compare.n_boot=-1", "-1", "an integer >= 0"),
        ("compare.max_stimuli=0", "0", "an integer >= 2 or null"),
        ("capacity.options=3", "3", "a JSON object"),
        ("interpret.similarity=5", "5", "text"),
        ("interpret.k=true", "True", "an integer >= 1"),
        ("directions.methods=null", "null", "a name or a JSON list of names among ica, kmeans"),
        ('directions.methods=["pca","zzz"]', "['pca', 'zzz']", "a name or a JSON list of names among"),
    ],
)
def test_set_values_are_checked_before_anything_runs(item, found, expected, tmp_path, capsys):
    """Was: a TypeError/ValueError traceback from inside the step (or a silently wrong run)."""
    path = tmp_path / "s.nc"
    ns.save(_set(np.random.default_rng(0).normal(size=(N_STIMULI, N_UNITS))), path)
    out = tmp_path / "r"
    code, err = _exit(["report", str(path), "--out", str(out), "--set", item, "--quiet"], capsys)
    assert code == 2, err
    setting, _, _ = item.partition("=")
    assert f"--set {setting}: found {found}; expected {expected}" in err, err
    assert f"Fix: --set {setting}=" in err or f"Fix: --set '{setting}=" in err
    assert not (out / "summary.json").exists()  # nothing was computed


def test_check_settings_refuses_a_bad_value_in_python():
    from neurosuper.pipeline import check_settings

    with pytest.raises(FormatError, match=r"--set toy.lr: found 0; expected a number > 0"):
        check_settings({"toy": {"lr": 0}}, ns.pipeline.DEMO_STEPS)
    check_settings({"toy": {"lr": 0.1, "steps": 10}, "directions": {"split": None}}, ns.pipeline.DEMO_STEPS)


# ------------------------------------------------------------------------------ numeric flags
@pytest.mark.parametrize(
    ("argv", "flag", "found"),
    [
        (["directions", "{f}", "--split", "abc"], "--split", "found 'abc'"),
        (["directions", "{f}", "--split", "2"], "--split", "found '2'"),
        (["directions", "{f}", "--max-units", "-5"], "--max-units", "found '-5'"),
        (["directions", "{f}", "--n-directions", "0"], "--n-directions", "found '0'"),
        (["directions", "{f}", "--seed", "-1"], "--seed", "found '-1'"),
        (["capacity", "{f}", "--n-directions", "x"], "--n-directions", "found 'x'"),
        (["spectrum", "{f}", "--n-boot", "-2"], "--n-boot", "found '-2'"),
        (["interpret", "{f}", "--k", "0"], "--k", "found '0'"),
        (["toy", "--lr", "0"], "--lr", "found '0'"),
        (["toy", "--n-features", "nan"], "--n-features", "found 'nan'"),
        (["toy", "--density", "inf"], "--density", "found 'inf'"),
    ],
)
def test_numeric_flags_are_checked_by_the_parser(argv, flag, found, tmp_path, capsys):
    """Was: ValueError tracebacks (`--split abc`, `--seed -1`) or a negative count passed on (`--max-units -5`)."""
    path = tmp_path / "s.nc"
    argv = [a.format(f=path) for a in argv]
    code, err = _exit(argv, capsys)
    assert code == 2, err
    err = err.strip()
    assert err.startswith(f"neurosuper: error: {flag}: {found}; expected") and "\n" not in err, err
    assert f"Fix: pass {flag} with" in err


def test_split_none_still_means_in_sample():
    from neurosuper.cli._common import fraction_or_none

    assert fraction_or_none()("none") is None and fraction_or_none()("0.25") == 0.25


# ------------------------------------------------------------------------------ truncated or corrupt files
def _npz_claiming(path: Path, shape: tuple[int, ...]) -> Path:
    """An npz whose member's header claims ``shape`` but holds 100 float32 values."""
    a = np.zeros(100, dtype=np.float32)
    header = np.lib.format.header_data_from_array_1_0(a)
    header["shape"] = shape
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("responses.npy", buf.getvalue() + a.tobytes())
    return path


@pytest.mark.parametrize("case", ["truncated", "not_a_zip", "huge_header"])
def test_corrupt_npz_is_a_format_error_naming_the_file(case, tmp_path, capsys):
    """Was: zipfile.BadZipFile, or an attempt to allocate 18.6 GiB for a header claiming 5e9 values."""
    path = tmp_path / "acts.npz"
    if case == "huge_header":
        _npz_claiming(path, (50_000, 100_000))
        found = "header claims shape (50000, 100000) (5,000,000,000 values, 18.6 GiB)"
    else:
        np.savez(path, responses=np.random.default_rng(0).normal(size=(40, 8)))
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if case == "truncated" else b"garbage" * 20)
        found = "BadZipFile"
    with pytest.raises(FormatError) as err:
        ns.load_activations(path)
    assert str(path) in str(err.value) and found in str(err.value) and "Fix:" in str(err.value)
    code, stderr = _exit(["report", str(path), "--out", str(tmp_path / "r"), "--quiet"], capsys)
    assert code == 2 and found in stderr, stderr


def test_a_whole_npz_still_loads(tmp_path):
    path = tmp_path / "acts.npz"
    values = np.random.default_rng(0).normal(size=(40, 8))
    np.savez(path, responses=values)
    np.testing.assert_array_equal(ns.load_activations(path)["responses"].values, values)


def _garbled_zarr(tmp_path: Path) -> Path:
    path = tmp_path / "s.zarr"
    ns.save(_set(np.random.default_rng(0).normal(size=(N_STIMULI, N_UNITS))), path)
    chunks = [p for p in (path / "responses").rglob("*") if p.is_file() and not p.name.startswith((".", "zarr"))]
    assert chunks
    for chunk in chunks:
        data = bytearray(chunk.read_bytes())
        data[16:40] = b"\xff" * 24
        chunk.write_bytes(bytes(data))
    return path


def test_a_garbled_zarr_chunk_read_lazily_is_a_format_error(tmp_path, capsys):
    """Was: RuntimeError: error during blosc decompression (or other values), raised by dask inside the analysis."""
    path = _garbled_zarr(tmp_path)
    ds = ns.load(path, lazy=True)
    with pytest.raises(FormatError) as err:
        ds["responses"].load()
    # the chunk's CRC-32 (written by save) catches the garbled bytes after blosc decompresses them
    message = str(err.value)
    assert str(path) in message and "fail their checksum" in message and "write it again" in message
    code, stderr = _exit(["spectrum", str(path)], capsys)
    assert code == 2 and "fail their checksum" in stderr, stderr


def test_a_lazy_load_of_a_whole_store_reads_the_same_values(tmp_path):
    values = np.random.default_rng(1).normal(size=(N_STIMULI, N_UNITS))
    for name in ("s.zarr", "s.nc"):
        ns.save(_set(values), tmp_path / name)
        lazy = ns.load(tmp_path / name, lazy=True)
        assert hasattr(lazy["responses"].data, "dask")
        np.testing.assert_array_equal(lazy["responses"].values, values)


# ------------------------------------------------------------------------------ labels read as mathtext
MATH_LABELS = [r"$\undefinedcommand$", r"$\frac{", "a $ b $ c"]


@pytest.mark.parametrize("command", ["spectrum", "interpret", "capacity", "directions"])
def test_labels_matplotlib_would_parse_as_math_are_drawn_as_text(command, tmp_path, capsys):
    """Was: ParseFatalException (Unknown symbol: \\undefinedcommand) when the figure was saved."""
    rng = np.random.default_rng(0)
    ds = make_set(
        rng.normal(size=(N_STIMULI, 2 * N_UNITS)),
        label=("stimulus", [MATH_LABELS[i % 3] for i in range(N_STIMULI)]),
        layer=("unit", [MATH_LABELS[0]] * N_UNITS + [MATH_LABELS[1]] * N_UNITS),
    )
    path = tmp_path / "math.nc"
    ns.save(ds, path)
    figure = tmp_path / "f.png"
    extra = ["--methods", "units", "pca"] if command == "directions" else []
    code, err = _exit([command, str(path), "--figure", str(figure), *extra], capsys)
    assert code == 0, err
    assert figure.stat().st_size > 0


def test_plain_escapes_dollars_once():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosuper.plot._text import plain, plain_figure

    assert plain(r"$\frac{$") == r"\$\frac{\$" and plain(plain("$x$")) == plain("$x$")
    fig, ax = plt.subplots()
    ax.set_title(MATH_LABELS[0])
    ax.bar(MATH_LABELS, [1, 2, 3])
    ax.legend([MATH_LABELS[1]])
    with pytest.raises(ValueError):  # as drawn without the helper
        fig.savefig(io.BytesIO(), format="png")
    plain_figure(fig).savefig(io.BytesIO(), format="png")
    plt.close(fig)


# ------------------------------------------------------------------------------ URLs given as paths
@pytest.mark.parametrize(
    "argv",
    [
        ["report", "https://example.org/rec.nwb", "--out", "{out}"],
        ["report", "http://example.org/acts.npz", "--out", "{out}"],
        ["spectrum", "https://example.org/set.nc"],
        ["directions", "s3://bucket/set.zarr"],
    ],
)
def test_a_url_where_a_file_is_read_says_to_download_it(argv, tmp_path, capsys):
    """Was: "no such file" (report) or "Cannot seek streaming HTTP file"; URLs stream in a future version."""
    code, err = _exit([a.format(out=tmp_path / "r") for a in argv], capsys)
    assert code == 2, err
    assert "found a URL" in err and "future version" in err and "Fix: download it first" in err, err


def test_an_nwb_url_that_only_streams_says_to_download_it(monkeypatch):
    """A server without a size or range requests makes fsspec return a file that cannot seek (servers with both
    stream: tests/test_cohort_load.py)."""
    import fsspec

    class Streaming(io.BytesIO):
        def seek(self, loc, whence=0):
            if loc == 0 and whence == 0 and self.tell() == 0:
                return 0
            raise ValueError("Cannot seek streaming HTTP file")

    class FS:
        def open(self, url, mode="rb", **kwargs):
            return Streaming(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)

    monkeypatch.setattr(fsspec, "filesystem", lambda protocol, **kw: FS())
    with pytest.raises(FormatError) as err:
        ns.load_nwb("https://example.org/rec.nwb")
    message = str(err.value)
    assert "Cannot seek streaming HTTP file" in message and "Range requests" in message
    assert "Fix: download it first" in message
