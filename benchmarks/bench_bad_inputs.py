"""Re-run a representative sweep of bad inputs, faults and attacks against every command (issue 23 §6) and classify
each outcome.

    python benchmarks/bench_bad_inputs.py              # every case, ~5-10 min on a busy 2-core machine
    python benchmarks/bench_bad_inputs.py --only toy   # the cases whose name contains 'toy'
    python benchmarks/bench_bad_inputs.py --list       # the table of cases without running them

Each case runs ``python -m neurosuper ARGS`` in a fresh subprocess, in a fresh folder, with a time limit
(``--timeout``, 180 s) and an address-space limit (``--memory``, 6 GiB: a request that tries to allocate more dies
with MemoryError instead of swapping the machine). Every file the case created before the command (its inputs, a
user's files in an output folder) is hashed before and after. Outcomes:

* ``clear error`` — exit 2, one line ``neurosuper: error: ...`` that names the path or flag of the case;
* ``unclear error`` — exit 2 without naming it;
* ``ok`` — exit 0 where the case is valid input (``expect="ok"``: e.g. mathtext labels drawn as text);
* ``silently accepted`` — exit 0 where an error was expected (a silently wrong or unchecked result);
* ``traceback`` — any other exit code, or a Python traceback on stderr;
* ``unbounded allocation`` — MemoryError, or killed by the memory limit;
* ``hang`` — the time limit passed;
* ``data loss`` — a file the user had is changed or gone (counted whatever the exit code).

Prints one row per case (case, command, outcome, the first line of stderr) and the counts. The target is 0 data
loss, 0 tracebacks, 0 silently accepted, 0 unbounded allocations, 0 hangs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_STIMULI, N_UNITS = 40, 12


@dataclass
class Case:
    name: str
    argv: list[str]  # {d} is the case's folder
    setup: Callable[[Path], None] = lambda d: None
    names: tuple[str, ...] = ()  # what a clear error must name ({d} expanded); empty: any exit-2 error
    expect: str = "error"  # "ok" (valid input), or "either" (a clear error or a run that loses nothing)


# ----------------------------------------------------------------------------------------------- inputs
def _set(values: np.ndarray, **coords):  # a ResponseSet with random images as stimuli
    import neurosuper as ns

    rng = np.random.default_rng(0)
    n = values.shape[-2]
    return ns.from_array(
        values,
        system="network",
        measure="activation",
        stimuli=rng.standard_normal((n, 8, 8)).astype("float32"),
        **coords,
    )


def good(d: Path, name: str = "s.nc") -> None:
    import neurosuper as ns

    rng = np.random.default_rng(1)
    ns.save(_set(np.abs(rng.normal(size=(N_STIMULI, N_UNITS))), label=("stimulus", _labels())), d / name)


def _labels() -> list[str]:
    return [f"c{i % 4}" for i in range(N_STIMULI)]


def two(d: Path) -> None:
    good(d, "a.nc")
    good(d, "b.nc")


def brain_with_repeats(d: Path) -> None:
    import neurosuper as ns

    rng = np.random.default_rng(2)
    ns.save(
        ns.from_array(
            rng.poisson(3.0, size=(2, N_STIMULI, N_UNITS)).astype("float32"), system="brain", measure="spike_count"
        ),
        d / "s.nc",
    )


def constant(d: Path) -> None:
    import neurosuper as ns

    ns.save(_set(np.zeros((N_STIMULI, N_UNITS)), label=("stimulus", _labels())), d / "s.nc")


def huge_values(d: Path) -> None:
    import neurosuper as ns

    rng = np.random.default_rng(3)
    ns.save(_set(rng.normal(size=(N_STIMULI, N_UNITS)) * 1e300, label=("stimulus", _labels())), d / "s.nc")


def math_labels(d: Path) -> None:
    import neurosuper as ns

    labels = [r"$\undefinedcommand$", r"$\frac{", "a $ b $ c"]
    rng = np.random.default_rng(4)
    ns.save(
        _set(
            rng.normal(size=(N_STIMULI, N_UNITS)),
            label=("stimulus", [labels[i % 3] for i in range(N_STIMULI)]),
            layer=("unit", [labels[0]] * (N_UNITS // 2) + [labels[1]] * (N_UNITS - N_UNITS // 2)),
        ),
        d / "s.nc",
    )


def long_label(d: Path) -> None:
    import neurosuper as ns

    rng = np.random.default_rng(5)
    units = [f"u{i}" for i in range(N_UNITS)]
    units[0] = "x" * 100_000
    ns.save(
        _set(np.abs(rng.normal(size=(N_STIMULI, N_UNITS))), label=("stimulus", _labels())).assign_coords(unit=units),
        d / "s.nc",
    )


def npz_good(d: Path) -> None:
    np.savez(d / "acts.npz", responses=np.random.default_rng(0).normal(size=(N_STIMULI, 8)))


def npz_truncated(d: Path) -> None:
    npz_good(d)
    data = (d / "acts.npz").read_bytes()
    (d / "acts.npz").write_bytes(data[: len(data) // 2])


def npz_huge_header(d: Path) -> None:
    a = np.zeros(100, dtype=np.float32)
    header = np.lib.format.header_data_from_array_1_0(a)
    header["shape"] = (50_000, 100_000)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(d / "acts.npz", "w") as zf:
        zf.writestr("responses.npy", buf.getvalue() + a.tobytes())


def zarr_garbled(d: Path) -> None:
    import neurosuper as ns

    ns.save(_set(np.random.default_rng(0).normal(size=(N_STIMULI, N_UNITS))), d / "s.zarr")
    for chunk in (d / "s.zarr" / "responses").rglob("*"):
        if chunk.is_file() and not chunk.name.startswith((".", "zarr")):
            data = bytearray(chunk.read_bytes())
            data[16:40] = b"\xff" * 24
            chunk.write_bytes(bytes(data))


def nc_flipped(d: Path) -> None:
    import neurosuper as ns

    ns.save(_set(np.random.default_rng(0).normal(size=(400, 300))), d / "s.nc")
    size = (d / "s.nc").stat().st_size
    with open(d / "s.nc", "r+b") as f:
        f.seek(size // 2)
        chunk = f.read(4)
        f.seek(size // 2)
        f.write(bytes(b ^ 0x5A for b in chunk))


def fifo(d: Path) -> None:
    os.mkfifo(d / "s.nc")


def folder_named_nc(d: Path) -> None:
    (d / "s.nc").mkdir()
    (d / "s.nc" / "mine.txt").write_text("user data")


def user_dirs_in_out(d: Path) -> None:
    good(d)
    for name in ("spectrum.png", "summary.json"):
        (d / "out" / name).mkdir(parents=True)
        (d / "out" / name / "mine.txt").write_text("user data")


def user_files_in_out(d: Path) -> None:
    good(d)
    (d / "out").mkdir()
    (d / "out" / "report.html").write_text("<p>my own report</p>")
    (d / "out" / "summary.json").write_text("{}")


def input_named_like_a_result(d: Path) -> None:
    (d / "out").mkdir()
    good(d / "out", "interpret_s.nc")


def user_file_at_out(d: Path) -> None:
    good(d)
    (d / "result.nc").write_text("my notes, not a result")


S, A, B = "{d}/s.nc", "{d}/a.nc", "{d}/b.nc"
Q = ["--quiet"]
SKIP_REPORT = ["--skip", "interpret", "directions", "capacity", "--quiet"]

CASES = [
    # 1. never overwrite what the user did not ask to overwrite
    Case("spectrum --out its input", ["spectrum", S, "--out", S], good, (S,)),
    Case("spectrum --out its input --overwrite", ["spectrum", S, "--out", S, "--overwrite"], good, (S,)),
    Case("compare --out its 2nd input", ["compare", A, B, "--out", B, "--overwrite"], two, (B,)),
    Case("report: user dirs named like outputs", ["report", S, "--out", "{d}/out", *Q], user_dirs_in_out, ("{d}/out",)),
    Case(
        "report --overwrite: user dirs",
        ["report", S, "--out", "{d}/out", "--overwrite", *Q],
        user_dirs_in_out,
        ("{d}/out",),
    ),
    Case("report: user report.html in --out", ["report", S, "--out", "{d}/out", *Q], user_files_in_out, ("{d}/out",)),
    Case(
        "report --overwrite: user report.html",
        ["report", S, "--out", "{d}/out", "--overwrite", *Q],
        user_files_in_out,
        ("{d}/out",),
    ),
    Case(
        "report: input inside --out named like a result",
        ["report", "{d}/out/interpret_s.nc", "--out", "{d}/out", "--overwrite", *Q],
        input_named_like_a_result,
        ("{d}/out",),
        expect="either",
    ),
    Case(
        "interpret --out a user's file",
        ["interpret", S, "--out", "{d}/result.nc", "--overwrite"],
        user_file_at_out,
        ("{d}/result.nc",),
    ),
    # 2. clear errors: --set values and flags
    Case(
        "--set directions.max_units=abc",
        ["report", S, "--out", "{d}/r", "--set", "directions.max_units=abc", *Q],
        good,
        ("--set directions.max_units",),
    ),
    Case(
        "--set directions.max_units=-3",
        ["report", S, "--out", "{d}/r", "--set", "directions.max_units=-3", *Q],
        good,
        ("--set directions.max_units",),
    ),
    Case(
        "--set directions.max_units=null",
        ["report", S, "--out", "{d}/r", "--set", "directions.max_units=null", *Q],
        good,
        ("--set directions.max_units",),
    ),
    Case(
        "--set spectrum.n_boot=abc",
        ["report", S, "--out", "{d}/r", "--set", "spectrum.n_boot=abc", *Q],
        good,
        ("--set spectrum.n_boot",),
    ),
    Case(
        "--set compare.metric=manhattan",
        ["report", A, B, "--out", "{d}/r", "--set", "compare.metric=manhattan", *Q],
        two,
        ("--set compare.metric",),
    ),
    Case("--set unknown step", ["report", S, "--out", "{d}/r", "--set", "spectra.n_boot=3", *Q], good, ("--set",)),
    Case("directions --split abc", ["directions", S, "--split", "abc"], good, ("--split",)),
    Case("directions --max-units -5", ["directions", S, "--max-units", "-5"], good, ("--max-units",)),
    Case("spectrum --n-boot -1", ["spectrum", S, "--n-boot", "-1"], good, ("--n-boot",)),
    Case("toy --lr nan", ["toy", "--lr", "nan"], None, ("--lr",)),
    # 2. clear errors: data that cannot be analysed
    Case("spectrum of all-zero data", ["spectrum", S], constant, ()),
    Case("directions of all-zero data", ["directions", S, "--methods", "units", "ica"], constant, ()),
    Case("capacity of all-zero data", ["capacity", S], constant, ()),
    Case("spectrum of values near 1e300", ["spectrum", S], huge_values, ()),
    Case("report of all-zero data", ["report", S, "--out", "{d}/r", *Q], constant, (), expect="ok"),
    # 2. clear errors: truncated or corrupt files, not files, URLs
    Case("truncated npz", ["report", "{d}/acts.npz", "--out", "{d}/r", *Q], npz_truncated, ("{d}/acts.npz",)),
    Case(
        "npz header claiming 5e9 values",
        ["report", "{d}/acts.npz", "--out", "{d}/r", *Q],
        npz_huge_header,
        ("{d}/acts.npz",),
    ),
    Case("garbled zarr chunk", ["spectrum", "{d}/s.zarr"], zarr_garbled, ("{d}/s.zarr",)),
    Case("netCDF with a flipped byte", ["spectrum", S], nc_flipped, (S,)),
    Case("FIFO as input", ["spectrum", S], fifo, (S,)),
    Case("folder named s.nc", ["spectrum", S], folder_named_nc, (S,)),
    Case("missing file", ["spectrum", "{d}/nope.nc"], None, ("{d}/nope.nc",)),
    Case("unknown suffix", ["spectrum", "{d}/s.txt"], lambda d: (d / "s.txt").write_text("x"), ("{d}/s.txt",)),
    Case("URL to nwb", ["nwb", "http://127.0.0.1:9/x.nwb", "--out", "{d}/x.nc"], None, ("http://127.0.0.1:9/x.nwb",)),
    Case("URL to spectrum", ["spectrum", "https://127.0.0.1:9/s.nc"], None, ("https://127.0.0.1:9/s.nc",)),
    # 2. labels read as mathtext; a 100,000-character unit id (drawn as text, bounded time)
    Case("mathtext labels: interpret figure", ["interpret", S, "--figure", "{d}/f.png"], math_labels, (), expect="ok"),
    Case("mathtext labels: spectrum figure", ["spectrum", S, "--figure", "{d}/f.png"], math_labels, (), expect="ok"),
    Case(
        "100,000-character unit id: report",
        ["report", S, "--out", "{d}/r", "--skip", "capacity", "directions", *Q],
        long_label,
        (),
        expect="ok",
    ),
    # 3. memory and time bounded
    Case("spectrum --n-boot 20000000", ["spectrum", S, "--n-boot", "20000000"], good, ("n_boot", "--n-boot")),
    Case(
        "directions --n-directions 100000",
        ["directions", S, "--methods", "pca", "ica", "--n-directions", "100000"],
        good,
        ("--n-directions",),
    ),
    Case(
        "sae with 100000 latents",
        ["directions", S, "--methods", "sae", "--n-directions", "100000"],
        good,
        ("--n-directions",),
    ),
    Case("toy --n-features 100000000", ["toy", "--n-features", "100000000"], None, ("--n-features",)),
    Case(
        "toy --n-hidden 20000",
        ["toy", "--n-features", "20000", "--n-hidden", "20000"],
        None,
        ("--n-hidden", "--n-features"),
    ),
    # 5. silently wrong
    Case(
        "toy --lr 1e6 (diverges)",
        ["toy", "--n-features", "20", "--n-hidden", "5", "--steps", "100", "--lr", "1e6"],
        None,
        ("--lr",),
    ),
    Case(
        "report on a set with repeats: runs",
        ["report", S, "--out", "{d}/r", *SKIP_REPORT],
        brain_with_repeats,
        (),
        expect="ok",
    ),
]


# ---------------------------------------------------------------------------------------------- running
def _hash(path: Path) -> str | None:
    if path.is_fifo():
        return "fifo"
    if path.is_dir():
        h = hashlib.sha256()
        for p in sorted(path.rglob("*")):
            h.update(str(p.relative_to(path)).encode())
            if p.is_file():
                h.update(p.read_bytes())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _user_files(d: Path) -> dict[str, str | None]:
    return {str(p): _hash(p) for p in sorted(d.rglob("*")) if not p.is_dir() or not any(p.iterdir())}


def _limit(memory: int) -> Callable[[], None]:
    def pre() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return pre


def run_case(case: Case, root: Path, timeout: float, memory: int) -> tuple[str, str, float]:
    d = root / "".join(c if c.isalnum() else "_" for c in case.name)[:60]
    d.mkdir()
    if case.setup is not None:
        case.setup(d)
    before = _user_files(d)
    argv = [a.replace("{d}", str(d)) for a in case.argv]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "neurosuper", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=d,
            preexec_fn=_limit(memory),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return "hang", f"no exit after {timeout:.0f} s", time.perf_counter() - t
    seconds = time.perf_counter() - t
    after = {k: _hash(Path(k)) for k in before}
    err = proc.stderr.strip()
    first = err.splitlines()[-1] if err else ""
    if any(before[k] != after[k] for k in before):
        changed = [Path(k).relative_to(d).as_posix() for k in before if before[k] != after[k]]
        return "data loss", f"changed or removed: {', '.join(changed)}", seconds
    if "MemoryError" in err or proc.returncode in (-9, 137):
        return "unbounded allocation", first, seconds
    if "Traceback (most recent call last)" in err or proc.returncode not in (0, 2):
        return "traceback", f"exit {proc.returncode}: {first}", seconds
    if proc.returncode == 0:
        return ("ok" if case.expect in ("ok", "either") else "silently accepted"), first or "exit 0", seconds
    names = [n.replace("{d}", str(d)) for n in case.names]
    lines = [x for x in err.splitlines() if x.startswith("neurosuper: error:")]
    clear = bool(lines) and (not names or any(n in lines[0] for n in names))
    if case.expect == "ok":
        return "unexpected error", lines[0] if lines else first, seconds
    return ("clear error" if clear else "unclear error"), (lines[0] if lines else first), seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--memory", type=float, default=6.0, help="address-space limit of each command, GiB")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    cases = [c for c in CASES if args.only in c.name]
    if args.list:
        for c in cases:
            print(f"{c.name}\tneurosuper {' '.join(c.argv)}")
        return
    print(f"# {platform.platform()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} (shared, busy machine)")
    print(f"# {len(cases)} cases; time limit {args.timeout:.0f} s, address space {args.memory:g} GiB each")
    print("| case | command | outcome | seconds | first line of stderr |")
    print("|---|---|---|---|---|")
    counts: Counter[str] = Counter()
    root = Path(tempfile.mkdtemp(prefix="bench_bad_inputs_"))
    try:
        for case in cases:
            outcome, detail, seconds = run_case(case, root, args.timeout, int(args.memory * 2**30))
            counts[outcome] += 1
            command = "neurosuper " + " ".join(a.replace("{d}/", "") for a in case.argv)
            detail = detail.replace(str(root), "<tmp>").replace("|", "\\|")
            detail = detail if len(detail) <= 160 else detail[:157] + "..."
            print(f"| {case.name} | `{command}` | {outcome} | {seconds:.0f} | {detail} |", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    order = [
        "clear error",
        "ok",
        "unclear error",
        "unexpected error",
        "silently accepted",
        "traceback",
        "unbounded allocation",
        "hang",
        "data loss",
    ]
    print("counts: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in order))


if __name__ == "__main__":
    main()
