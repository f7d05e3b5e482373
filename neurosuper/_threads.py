"""The one thread policy: how many threads each layer may use (issue 22 §1).

Every thread count the package uses is decided here — nowhere else calls ``threadpool_limits``,
``torch.set_num_threads`` or sizes a pool of its own.

**The budget** (:func:`budget`) is the number of threads this process may keep busy at once:

1. inside ``with neurosuper.threads(n):`` — ``n``;
2. else after ``neurosuper.set_threads(n)`` — ``n``;
3. else the environment variable ``NEUROSUPER_THREADS`` (a positive integer) — read each time, so it can be set
   after import;
4. else (the default) the cores available to this process (:func:`available_cores`: its CPU affinity mask, and a
   cgroup CPU quota when one is set — a container's or a batch job's share, not the machine's core count; fewer
   if ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or ``MKL_NUM_THREADS`` said so when neurosuper was imported: a
   job scheduler's setting is never raised) **minus the cores other processes keep busy now**
   (:func:`busy_elsewhere`), at least 1.

**The split** (:func:`blas_threads`): when ``tasks`` pieces of work run side by side (dask tasks, worker threads),
each gets ``max(1, budget // tasks)`` BLAS/OpenMP/torch threads, so BLAS threads × parallel tasks ≤ the budget —
the default never oversubscribes the cores the process has, nor the cores that other jobs are using: on a machine
whose cores are taken, BLAS threads that wait for each other cost far more than they save (measured here: a 2,000²
``eigh`` took 6× the CPU and 6× the time with 2 OpenBLAS threads instead of 1 while other jobs ran;
``docs/performance.md``). So the default thread count can differ between runs; sums split over a different number of
threads differ only in the last bits (spectra, CKA and RSA agree to 1e-12 with 1 and 2 threads,
``tests/test_threads.py``). Set ``NEUROSUPER_THREADS`` for the same thread count — and the same bits — every time.

**Where it is applied** (:func:`limits`): to every loaded BLAS and OpenMP runtime (numpy's and scipy's OpenBLAS,
scikit-learn's and torch's OpenMP) through threadpoolctl, to torch's intra-op threads when torch is imported, and —
through ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS`` set for the duration — to a runtime first
loaded inside the block. The main job (:func:`neurosuper.pipeline.run_steps`) runs every step inside it; the
command line applies it to the whole process at start (:func:`configure_process`), together with passive waiting
(:data:`WAIT_ENV`); dask workers get it through :func:`worker_policy`.

**Spin-waits.** Idle OpenMP and OpenBLAS threads spin before sleeping (libgomp up to ~300,000 iterations,
OpenBLAS 2^28 cycles ≈ 0.1 s after every call). On a busy machine the spinning threads take the cores that the
working ones wait for. :data:`WAIT_ENV` makes them sleep at once; it must be in the environment before the runtime
loads, so the ``neurosuper`` command sets it (``os.environ.setdefault``: a user's own setting wins) and
:func:`worker_policy`'s nanny environment does it for dask worker processes.

References: threadpoolctl (https://github.com/joblib/threadpoolctl), the OpenMP 5.2 specification §6 (OMP_WAIT_POLICY,
OMP_NUM_THREADS), OpenBLAS's USAGE notes (OPENBLAS_NUM_THREADS, OPENBLAS_THREAD_TIMEOUT), PyTorch's CPU threading
notes (torch.set_num_threads / set_num_interop_threads), dask.distributed's WorkerPlugin.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import NeurosuperError, fail

__all__ = [
    "ENV",
    "WAIT_ENV",
    "ThreadsError",
    "available_cores",
    "budget",
    "default_budget",
    "busy_elsewhere",
    "blas_threads",
    "parallel_tasks",
    "limits",
    "threads",
    "set_threads",
    "get_threads",
    "configure_process",
    "worker_policy",
    "cluster_threads",
]

#: The environment variable that overrides the default budget (a positive integer).
ENV = "NEUROSUPER_THREADS"
#: Thread-count variables of the runtimes, set to the budget so that one loaded later starts with it.
COUNT_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Passive waiting: idle OpenMP threads sleep at once (OMP_WAIT_POLICY implies GOMP_SPINCOUNT=0 in libgomp), and
#: idle OpenBLAS threads sleep after 2^4 cycles instead of 2^28 (its minimum). Read when the runtime loads.
WAIT_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}


class ThreadsError(NeurosuperError, ValueError):
    """A thread count (``NEUROSUPER_THREADS``, ``threads(n)``, ``set_threads(n)``) that is not a positive integer."""


_lock = threading.RLock()
_process_setting: int | None = None  # set_threads(n)
_stack: list[int] = []  # threads(n) blocks, innermost last
_torch_interop_done = False


def _runtime_env_limit() -> int | None:
    """The smallest positive ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS`` in the environment."""
    found = []
    for k in COUNT_ENV:
        with contextlib.suppress(ValueError):
            v = int(os.environ.get(k, "").split(",")[0])  # OMP_NUM_THREADS may be a nested list "4,1"
            if v >= 1:
                found.append(v)
    return min(found) if found else None


#: The runtimes' thread variables as the process started (read once, before the package sets any of them).
_USER_RUNTIME_LIMIT = _runtime_env_limit()


# ------------------------------------------------------------------------------------------------- the budget
def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Cores allowed by a cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), rounded up; None if none."""
    candidates = [
        (root / "cpu.max", None),
        (root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"),
    ]
    for quota_file, period_file in candidates:
        try:
            if period_file is None:
                quota, period = quota_file.read_text().split()[:2]
            else:
                quota, period = quota_file.read_text().strip(), period_file.read_text().strip()
            if quota in ("max", "-1"):
                return None
            return max(1, math.ceil(int(quota) / int(period)))
        except (OSError, ValueError):
            continue
    return None


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (``os.process_cpu_count`` on Python ≥ 3.13,
    ``os.sched_getaffinity`` before; ``os.cpu_count`` where neither exists), capped by a cgroup CPU quota."""
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        cores = counter() or 1
    elif hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0)) or 1
    else:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, quota) if quota else cores)


def _check(n: Any, where: str) -> int:
    """``n`` as a positive int, or a :class:`ThreadsError` that says what was found and how to fix it."""
    fix = (
        f"unset {ENV} or set it to a positive whole number, e.g. {ENV}=1 on a busy machine"
        if where == ENV
        else "pass a positive whole number of threads (None for the default: the cores available)"
    )
    value: int | None = None
    if isinstance(n, str):
        try:
            value = int(n.strip())
        except ValueError:
            value = None
    elif isinstance(n, int) and not isinstance(n, bool):
        value = n
    elif hasattr(n, "__index__") and not isinstance(n, bool):  # numpy integers
        value = int(n.__index__())
    if value is None or value < 1:
        raise fail(where, repr(n), "a positive whole number of threads", fix, ThreadsError)
    return value


def _from_env() -> int | None:
    raw = os.environ.get(ENV)
    if raw is None or raw.strip() == "":
        return None
    return _check(raw, ENV)


def budget() -> int:
    """The threads this process may keep busy now: the innermost ``threads(n)`` block, else ``set_threads(n)``,
    else ``$NEUROSUPER_THREADS``, else :func:`available_cores`."""
    with _lock:
        if _stack:
            return _stack[-1]
        if _process_setting is not None:
            return _process_setting
    return _from_env() or default_budget()


def default_budget() -> int:
    """The budget with nothing set: the cores available to the process (:func:`available_cores`, capped by the
    runtimes' thread variables found at import, ``OMP_NUM_THREADS`` …) that other processes are not using now
    (:func:`busy_elsewhere`), at least 1."""
    cores = available_cores()
    if _USER_RUNTIME_LIMIT:
        cores = min(cores, _USER_RUNTIME_LIMIT)
    return max(1, min(cores, cores - busy_elsewhere()))


_busy_cache: tuple[float, int] = (-1.0, 0)
#: Seconds a reading of :func:`busy_elsewhere` is reused.
BUSY_TTL = 2.0


def _running(path: str = "/proc/stat") -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("procs_running "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _own_running() -> int:
    """Threads of this process in state R (running or runnable) now."""
    n = 0
    try:
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError, IndexError):
                with open(f"/proc/self/task/{tid}/stat") as f:
                    n += f.read().rsplit(")", 1)[1].split()[0] == "R"
    except OSError:
        return 1
    return max(1, n)


def busy_elsewhere() -> int:
    """Cores other processes keep busy now: the kernel's count of runnable threads (``procs_running`` in
    ``/proc/stat``) minus this process's own, the median of 5 readings 2 ms apart, reused for :data:`BUSY_TTL`
    seconds; 0 where ``/proc`` is not available (macOS, Windows)."""
    global _busy_cache
    now = time.monotonic()
    stamp, value = _busy_cache
    if 0 <= now - stamp < BUSY_TTL:
        return value
    readings = []
    for i in range(5):
        total = _running()
        if total is None:
            return 0
        readings.append(max(0, total - _own_running()))
        if i < 4:
            time.sleep(0.002)
    value = sorted(readings)[2]
    _busy_cache = (now, value)
    return value


def blas_threads(tasks: int = 1) -> int:
    """BLAS/OpenMP/torch threads for each of ``tasks`` pieces of work run side by side: ``max(1, budget // tasks)``
    (threads × tasks ≤ the budget whenever the budget allows one thread per task)."""
    return max(1, budget() // max(1, int(tasks)))


def parallel_tasks(n_items: int) -> int:
    """How many of ``n_items`` independent pieces of work to run side by side: ``min(n_items, budget)``, at least 1."""
    return max(1, min(int(n_items), budget()))


def get_threads() -> int:
    """The number of threads neurosuper lets BLAS/OpenMP and torch use now (see ``docs/performance.md``,
    "Threads and shared machines"): inside ``with neurosuper.threads(n)`` it is ``n``, else the value of
    :func:`set_threads`, else ``$NEUROSUPER_THREADS``, else the cores available to this process."""
    return budget()


# ------------------------------------------------------------------------------------------------ applying it
def _torch() -> Any:
    return sys.modules.get("torch")


def _set_torch(n: int) -> int | None:
    """Set torch's intra-op threads to ``n`` (and, once, its inter-op threads) if torch is imported; the old value."""
    global _torch_interop_done
    torch = _torch()
    if torch is None or not hasattr(torch, "set_num_threads"):
        return None
    old = int(torch.get_num_threads())
    if old != n:
        torch.set_num_threads(n)
    if not _torch_interop_done:
        _torch_interop_done = True
        with contextlib.suppress(RuntimeError):  # only possible before torch's first inter-op work
            torch.set_num_interop_threads(max(1, min(n, int(torch.get_num_interop_threads()))))
    return old


@contextlib.contextmanager
def _count_env(n: int) -> Iterator[None]:
    """``OMP_NUM_THREADS`` etc. = n for the block (a runtime first loaded in it starts with n threads); restored."""
    old = {k: os.environ.get(k) for k in COUNT_ENV}
    for k in COUNT_ENV:
        os.environ[k] = str(n)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def limits(n: int | None = None, *, tasks: int = 1) -> Iterator[int]:
    """Run the block with ``n`` threads in every loaded BLAS/OpenMP runtime (threadpoolctl), torch (if imported)
    and runtimes loaded inside the block; everything is restored on exit. Yields the thread count applied.

    ``n=None``: :func:`blas_threads` of ``tasks``, but never more than the loaded runtimes use already (a limit set
    outside — a test's, a user's ``threadpool_limits`` — is kept). The package's own way to limit threads:
    ``limits(1)`` where one thread is the fastest or is needed for bit-reproducible data."""
    from threadpoolctl import threadpool_info, threadpool_limits

    if n is None:
        count = blas_threads(tasks)
        current = [int(i["num_threads"]) for i in threadpool_info() if i.get("num_threads")]
        torch = _torch()
        if torch is not None and hasattr(torch, "get_num_threads"):
            current.append(int(torch.get_num_threads()))
        if current:
            count = max(1, min(count, max(current)))
    else:
        count = _check(n, "threads")

    with _count_env(count), threadpool_limits(limits=count):
        old = _set_torch(count)
        try:
            yield count
        finally:
            torch = _torch()
            if old is not None and torch is not None:
                torch.set_num_threads(old)


@contextlib.contextmanager
def threads(n: int | None = None) -> Iterator[int]:
    """Use at most ``n`` threads inside the block: BLAS/OpenMP (numpy, scipy, scikit-learn), torch, and the
    package's own parallel work (which splits ``n`` between its tasks); restored on exit.

    ``with neurosuper.threads(1): ...`` is the setting for a machine shared with other jobs. ``None`` uses the
    default budget (``$NEUROSUPER_THREADS``, else the cores available to the process). Yields the count applied.
    The policy and measurements: ``docs/performance.md``, "Threads and shared machines". A count that is not a
    positive integer raises :class:`ThreadsError`.
    """
    count = budget() if n is None else _check(n, "threads")
    with _lock:
        _stack.append(count)
    try:
        with limits(count) as applied:
            yield applied
    finally:
        with _lock:
            _stack.pop()


_process_limits: Any = None  # the threadpoolctl limits set by set_threads / configure_process
_process_saved: dict[str, Any] = {}  # what they replaced: the runtimes' variables and torch's count


def _apply_process(n: int) -> None:
    """Apply ``n`` to the whole process (undoing a previous application first); the caller holds the lock."""
    global _process_limits
    from threadpoolctl import threadpool_limits

    _undo_process()
    _process_saved["env"] = {k: os.environ.get(k) for k in COUNT_ENV}
    _process_limits = threadpool_limits(limits=n)
    for k in COUNT_ENV:
        os.environ[k] = str(n)
    _process_saved["torch"] = _set_torch(n)


def _undo_process() -> None:
    global _process_limits
    if _process_limits is not None:
        _process_limits.restore_original_limits()
        _process_limits = None
    for k, v in _process_saved.pop("env", {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    old, torch = _process_saved.pop("torch", None), _torch()
    if old is not None and torch is not None:
        torch.set_num_threads(old)


def set_threads(n: int | None) -> None:
    """Set the number of threads neurosuper uses for the rest of the process (BLAS/OpenMP, torch and its own
    parallel work): what ``with neurosuper.threads(n)`` does for a block. Runtimes loaded later start with the same
    count (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` are set). ``None`` undoes it: the
    runtimes, those variables and torch get their previous values back and the budget is the default again
    (``$NEUROSUPER_THREADS``, else the cores available). A count that is not a positive integer raises
    :class:`ThreadsError`."""
    global _process_setting
    count = None if n is None else _check(n, "set_threads")
    with _lock:
        _process_setting = count
        if count is None:
            _undo_process()
        else:
            _apply_process(count)


def configure_process(*, passive_wait: bool = True) -> int:
    """For a process that neurosuper runs from start to end (the ``neurosuper`` command): passive waiting
    (:data:`WAIT_ENV`, unless the user set them) and the budget applied to every loaded runtime and, through
    ``OMP_NUM_THREADS`` etc., to those loaded later (the default budget already respects those variables as found
    at import; ``NEUROSUPER_THREADS`` wins over them). Imports no numerical library. Returns the budget."""
    if passive_wait:
        for k, v in WAIT_ENV.items():
            os.environ.setdefault(k, v)
    with _lock:
        n = budget()
        _apply_process(n)
    return n


def restore_process() -> None:
    """Undo :func:`configure_process`: the runtimes' thread counts, the thread variables and torch's count as they
    were (a :func:`set_threads` count stays). The ``neurosuper`` command calls it when a command ends, so that
    ``neurosuper.cli.main`` called from Python leaves the process as it found it."""
    with _lock:
        if _process_setting is None:
            _undo_process()
        else:
            _apply_process(_process_setting)


# ---------------------------------------------------------------------------------------------------- dask
def cluster_threads(n_workers: int | None = None, *, cores: int | None = None) -> tuple[int, int]:
    """``(n_workers, threads_per_worker)`` for a local dask cluster on ``cores`` (default :func:`budget`) so that
    workers × threads ≤ cores: ``n_workers`` defaults to ``cores`` (one single-threaded worker per core — the
    analyses hold the GIL in Python between BLAS calls, so processes scale better than threads)."""
    total = budget() if cores is None else _check(cores, "cores")
    workers = total if n_workers is None else _check(n_workers, "n_workers")
    workers = min(workers, total)
    return workers, max(1, total // workers)


def worker_policy(cores: int | None = None) -> Any:
    """A ``distributed.WorkerPlugin`` that applies the thread policy inside every dask worker: each of the worker's
    task threads gets ``max(1, cores // nthreads)`` BLAS/OpenMP/torch threads, where ``cores`` is the worker's share
    of the machine (default: ``$NEUROSUPER_THREADS`` in the worker's environment, else the worker's ``nthreads`` —
    what the cluster gave it), so threads per worker × BLAS threads ≤ the worker's cores. Passive waiting
    (:data:`WAIT_ENV`) is set for runtimes loaded later in the worker. Register it with
    ``client.register_plugin(neurosuper._threads.worker_policy())``; for worker *processes* started by a
    LocalCluster, also pass ``env=neurosuper._threads.worker_env()`` so the runtimes start that way.
    Teardown restores the worker process's previous limits (workers sharing the client's process). OpenMP's
    thread count is per thread (``omp_set_num_threads``): the task threads of a worker *process* get it from the
    environment (``worker_env``); those of a worker in the client's process (``processes=False``) keep the
    process's."""
    from distributed import WorkerPlugin

    share = None if cores is None else _check(cores, "cores")

    class ThreadPolicy(WorkerPlugin):
        name = "neurosuper-threads"  # registering another one replaces it (its teardown runs first)

        def __init__(self) -> None:
            self.cores = share
            self.applied: int | None = None
            self._limits: Any = None
            self._torch_old: int | None = None

        def setup(self, worker: Any) -> None:
            nthreads = int(getattr(getattr(worker, "state", worker), "nthreads", 1) or 1)
            cores = self.cores or _from_env() or nthreads
            n = max(1, cores // nthreads)
            for k, v in WAIT_ENV.items():
                os.environ.setdefault(k, v)
            from threadpoolctl import threadpool_limits

            self._limits = threadpool_limits(limits=n)
            self._torch_old = _set_torch(n)
            self.applied = n
            worker.neurosuper_threads = n  # readable from a task: get_worker().neurosuper_threads

        def teardown(self, worker: Any) -> None:
            if self._limits is not None:
                self._limits.restore_original_limits()
            torch = _torch()
            if self._torch_old is not None and torch is not None:
                torch.set_num_threads(self._torch_old)

    return ThreadPolicy()


def worker_env(threads_per_worker: int = 1, *, cores: int | None = None) -> dict[str, str]:
    """Environment for dask worker processes (``LocalCluster(env=...)``, ``dask-worker`` jobs): each runtime
    starts with ``max(1, cores // threads_per_worker)`` threads (``cores`` default: ``threads_per_worker``, i.e. one
    BLAS thread per task thread) and waits passively."""
    tpw = _check(threads_per_worker, "threads_per_worker")
    n = max(1, (tpw if cores is None else _check(cores, "cores")) // tpw)
    return {**WAIT_ENV, **{k: str(n) for k in COUNT_ENV}, ENV: str(n * tpw)}
