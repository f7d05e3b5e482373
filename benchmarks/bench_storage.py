"""Benchmark of save/load (issue 2): neurosuper against plain xarray on the same 1 GB float32 set, same run.

    python benchmarks/bench_storage.py                          # (2, 5000, 25000) float32 = 1.0 GB, 1 + 5 rounds
    python benchmarks/bench_storage.py --shape 2 500 2500 --repeats 3      # quick

Peers (what neurosuper wraps): ``ds.to_netcdf(p, engine="h5netcdf")`` + ``xr.open_dataset(p,
engine="h5netcdf").load()``, and ``ds.to_zarr(p, zarr_format=2, consolidated=True)`` + ``xr.open_zarr(p).load()``.
Each round runs the save/load pairs of one format in alternating order (neurosuper first in even rounds,
xarray first in odd ones), writing a fresh path each time (deleted and ``os.sync()``-ed, untimed, before the next
step), after uncounted warm-up rounds; the table reports
medians (and minima) of wall time and the median CPU time (all threads: on a shared machine the more stable
measure of the work done) and the ratios neurosuper / xarray of save, load and save + load. neurosuper's extra work:
validate() (structure; the value sum runs in a thread during the write; load does not repeat it for a file
save checked), attr encoding, a rename, and on zarr a chunk-file count.

Then, on the zarr just written: ``validate(load(p, lazy=True))`` timed and the dask tasks it runs counted
(a dask callback; 0 = no chunk read), and the opt-in ``validate(..., check_values=True)`` for comparison.
Finally tracemalloc's peak of one neurosuper save and load against xarray's (numpy registers its buffers with
tracemalloc, so a hidden copy of the array would show as +1 GB). Files live in a fresh folder under /tmp
(``--dir``), deleted at the end.

The one-writer costs (issues 9, 10), each against its own baseline in the same run:
``--fsync``: neurosuper's save with and without the ``fsync`` of the temporary output (``_atomic`` patched),
alternating; ``--guard``: a full reduction (``responses.sum()``, dask threads) over ``load(p, lazy=True)``,
whose chunks are value-checked as they are read, against the same reduction over xarray's lazy open with the
same chunks, on the clean set and on one with 1 % of its presentations missing (whole NaN repeats: the checked
slow path); and the fingerprint ``load`` compares (one bit-sum pass over the loaded array).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import dask
import numpy as np
import xarray as xr
from dask.callbacks import Callback

import neurosuper as ns
from neurosuper import _atomic
from neurosuper.storage import values_fingerprint


def _make_set(shape: tuple[int, ...], seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape, dtype=np.float32)
    dims = {2: ("stimulus", "unit"), 3: ("repeat", "stimulus", "unit")}[len(shape)]
    n_unit = shape[-1]
    return ns.from_array(
        data,
        dims=dims,
        system="brain",
        measure="dff",
        stimulus=[f"img{i:05d}" for i in range(shape[-2])],
        area=("unit", np.where(np.arange(n_unit) < n_unit // 2, "V1", "LM")),
        attrs={"source": "bench", "window_start": 0.05},
    )  # attrs plain xarray can write


def _timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of all this process's threads, result)."""
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def _peers(fmt: str):
    """(save, load) of plain xarray and of neurosuper for one format."""
    if fmt == "nc":

        def xr_save(ds, p):
            ds.to_netcdf(p, engine="h5netcdf")

        def xr_load(p):
            with xr.open_dataset(p, engine="h5netcdf") as ds:
                return ds.load()
    else:

        def xr_save(ds, p):
            ds.to_zarr(p, zarr_format=2, consolidated=True)

        def xr_load(p):
            return xr.open_zarr(p).load()

    return {"xarray": (xr_save, xr_load), "neurosuper": (lambda ds, p: ns.save(ds, p), ns.load)}


def bench_format(
    ds: xr.Dataset, fmt: str, folder: Path, repeats: int, warmup: int
) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """{peer: {"save"|"load": [(wall s, cpu s), ...]}} over ``repeats`` counted rounds."""
    times: dict[str, dict[str, list[tuple[float, float]]]] = {
        who: {"save": [], "load": []} for who in ("xarray", "neurosuper")
    }
    peers = _peers(fmt)
    for r in range(-warmup, repeats):
        order = ("neurosuper", "xarray") if r % 2 == 0 else ("xarray", "neurosuper")
        for who in order:
            save, load = peers[who]
            path = folder / f"{who}-{r}.{fmt}"
            *t_save, _ = _timed(lambda save=save, path=path: save(ds, path))
            *t_load, back = _timed(lambda load=load, path=path: load(path))
            assert back["responses"].shape == ds["responses"].shape
            del back
            if r >= 0:
                times[who]["save"].append(tuple(t_save))
                times[who]["load"].append(tuple(t_load))
            _remove(path)
            os.sync()  # settle the page cache's write-back before the next timed step (untimed)
    return times


def _table_rows(fmt: str, times: dict[str, dict[str, list[tuple[float, float]]]]) -> list[str]:
    rows = []
    for who, t in times.items():
        t["save + load"] = [(a[0] + b[0], a[1] + b[1]) for a, b in zip(t["save"], t["load"], strict=True)]
        print(
            f"raw {fmt} {who} (wall/cpu s): "
            + "; ".join(f"{k} " + " ".join(f"{w:.2f}/{c:.2f}" for w, c in v) for k, v in t.items()),
            flush=True,
        )
    for step in ("save", "load", "save + load"):
        (xw, xc), (nw, nc) = ([[p[i] for p in times[who][step]] for i in (0, 1)] for who in ("xarray", "neurosuper"))
        med = statistics.median
        bold = "**" if step == "save + load" else ""
        rows.append(
            f"| {fmt} | {step} | {med(xw):.2f} ({min(xw):.2f}) | {med(nw):.2f} ({min(nw):.2f}) | "
            f"{bold}{med(nw) / med(xw):.3f}{bold} ({min(nw) / min(xw):.3f}) | {med(xc):.2f} | {med(nc):.2f} | "
            f"{med(nc) / med(xc):.3f} |"
        )
    return rows


class _CountTasks(Callback):
    def __init__(self):
        super().__init__()
        self.tasks = 0

    def _posttask(self, key, result, dsk, state, id):
        self.tasks += 1


def bench_lazy_validate(ds: xr.Dataset, folder: Path) -> dict[str, float]:
    path = ns.save(ds, folder / "lazy.zarr")
    lazy = ns.load(path, lazy=True)
    n_chunks = lazy["responses"].data.npartitions
    with _CountTasks() as counter:
        t_meta = statistics.median(_timed(lambda: ns.validate(lazy))[0] for _ in range(20))
    meta_tasks = counter.tasks
    with _CountTasks() as counter:
        with dask.config.set(scheduler="threads"):
            t_values, _, _ = _timed(lambda: ns.validate(lazy, check_values=True))
    _remove(path)
    return {
        "chunks": n_chunks,
        "validate_s": t_meta,
        "validate_tasks": meta_tasks,
        "check_values_s": t_values,
        "check_values_tasks": counter.tasks,
    }


def bench_memory(ds: xr.Dataset, folder: Path) -> dict[str, float]:
    """Peak traced memory (MB) of one save and one load, neurosuper vs xarray, netCDF."""
    out = {}
    xr_save, xr_load = _peers("nc")["xarray"]
    for who, save, load in (("xarray", xr_save, xr_load), ("neurosuper", ns.save, ns.load)):
        path = folder / f"mem-{who}.nc"
        tracemalloc.start()
        save(ds, path)
        out[f"{who}_save_MB"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.reset_peak()
        back = load(path)
        out[f"{who}_load_MB"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        del back
        _remove(path)
    return out


def _alternate(fns: dict[str, object], repeats: int) -> dict[str, list[float]]:
    """Wall seconds of each zero-argument callable, ``repeats`` rounds alternating the order (1 warm-up)."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(-1, repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            wall = _timed(fns[name])[0]
            if r >= 0:
                out[name].append(wall)
    return out


def bench_fsync(ds: xr.Dataset, folder: Path, fmt: str, repeats: int) -> dict[str, list[float]]:
    """neurosuper save with and without the fsync of its temporary output."""
    real = _atomic._fsync_tree

    def save(sync: bool) -> None:
        path = folder / f"fsync.{fmt}"
        _atomic._fsync_tree = real if sync else (lambda p: None)
        try:
            ns.save(ds, path)
        finally:
            _atomic._fsync_tree = real
        _remove(path)
        os.sync()

    return _alternate({"with fsync": lambda: save(True), "without fsync": lambda: save(False)}, repeats)


def bench_guard(ds: xr.Dataset, folder: Path, fmt: str, repeats: int) -> dict[str, list[float]]:
    """A full reduction over neurosuper's value-checked lazy load vs xarray's lazy open (same chunks)."""
    path = ns.save(ds, folder / f"guard.{fmt}")

    def xr_open():
        if fmt == "nc":
            return xr.open_dataset(path, engine="h5netcdf", chunks="auto")
        return xr.open_zarr(path)

    def reduce(open_) -> float:
        with dask.config.set(scheduler="threads"):
            return float(open_()["responses"].sum().compute())

    def ours():
        return ns.load(path, lazy=True)

    out = _alternate({"xarray": lambda: reduce(xr_open), "neurosuper": lambda: reduce(ours)}, repeats)
    _remove(path)
    return out


def _with_missing_repeats(ds: xr.Dataset, fraction: float = 0.01) -> xr.Dataset:
    resp = ds["responses"].values.copy()
    rng = np.random.default_rng(1)
    n_rep, n_stim = resp.shape[:2]
    cells = rng.choice(n_rep * n_stim, size=max(1, int(fraction * n_rep * n_stim)), replace=False)
    for c in cells:
        resp[c // n_stim, c % n_stim] = np.nan
    return ds.assign(responses=(ds["responses"].dims, resp))


def _med(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape",
        type=int,
        nargs="+",
        default=[2, 5000, 25000],
        help="(stimulus, unit) or (repeat, stimulus, unit); default 1.0 GB of float32",
    )
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds per format")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first (page cache, imports)")
    parser.add_argument("--formats", nargs="+", default=["nc", "zarr"], choices=["nc", "zarr"])
    parser.add_argument("--dir", default=None, help="scratch folder (default: a new folder under /tmp)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--no-writer", action="store_true", help="skip the fsync/guard/fingerprint passes")
    parser.add_argument("--writer-repeats", type=int, default=3, help="rounds of the fsync and guard passes")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="neurosuper-bench-", dir=args.dir or "/tmp"))
    try:
        ds = _make_set(tuple(args.shape))
        gb = ds["responses"].nbytes / 1e9
        print(f"set {dict(ds.sizes)} float32 = {gb:.2f} GB; {args.repeats} alternating rounds; folder {folder}")
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; numpy {np.__version__}, xarray {xr.__version__}"
        )
        table = [
            "| format | step | xarray wall, median (min) s | neurosuper wall, median (min) s | wall ratio of "
            "medians (of minima) | xarray CPU s | neurosuper CPU s | CPU ratio |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for fmt in args.formats:
            table += _table_rows(fmt, bench_format(ds, fmt, folder, args.repeats, args.warmup))
        print("\n" + "\n".join(table))
        lazy = bench_lazy_validate(ds, folder)
        print(
            f"\nvalidate(load(zarr, lazy=True)) over {lazy['chunks']} chunks: {lazy['validate_s'] * 1e3:.2f} ms "
            f"(median of 20), dask tasks run: {lazy['validate_tasks']}; check_values=True: "
            f"{lazy['check_values_s']:.2f} s, {lazy['check_values_tasks']} tasks"
        )
        if not args.no_writer:
            print("\n| pass | format | baseline wall, median (min) s | neurosuper wall s | ratio of medians |")
            print("|---|---|---|---|---|")
            for fmt in args.formats:
                t = bench_fsync(ds, folder, fmt, args.writer_repeats)
                base, new = t["without fsync"], t["with fsync"]
                print(
                    f"| save: with fsync vs without | {fmt} | {_med(base)} | {_med(new)} | "
                    f"{statistics.median(new) / statistics.median(base):.3f} |",
                    flush=True,
                )
            for label, data in (("clean", ds), ("1 % missing repeats", _with_missing_repeats(ds))):
                for fmt in args.formats:
                    t = bench_guard(data, folder, fmt, args.writer_repeats)
                    print(
                        f"| lazy sum, checked chunks vs xarray ({label}) | {fmt} | {_med(t['xarray'])} | "
                        f"{_med(t['neurosuper'])} | "
                        f"{statistics.median(t['neurosuper']) / statistics.median(t['xarray']):.3f} |",
                        flush=True,
                    )
            values = ds["responses"].values
            t_fp = statistics.median(_timed(lambda: values_fingerprint(values))[0] for _ in range(5))
            print(
                f"\nfingerprint of the loaded array (load's check of the saved flag): {t_fp:.3f} s for "
                f"{values.nbytes / 1e9:.2f} GB"
            )
        if not args.no_memory:
            mem = bench_memory(ds, folder)
            print("peak traced memory (netCDF): " + ", ".join(f"{k} {v:.0f}" for k, v in mem.items()))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
