"""The one thread policy (neurosuper._threads, issue 22 §1).

- the budget: ``threads(n)`` > ``set_threads(n)`` > ``$NEUROSUPER_THREADS`` > the cores available (affinity, cgroup
  quota, and the runtimes' own variables found at import); the default never exceeds the cores available;
- it is applied where it says: threadpoolctl's view of every loaded BLAS/OpenMP runtime and torch's thread count
  inside a block, each step of the pipeline, the dask tasks of ``_gram.map_tasks`` (tasks × BLAS ≤ budget), dask
  workers (threads per worker × BLAS ≤ the worker's cores), a runtime first loaded inside a block;
- everything is restored after a block (also when it raises) and after ``set_threads(None)``;
- bad values (``NEUROSUPER_THREADS=abc``, 0, -1, 1.5, True) are a ``ThreadsError`` (a NeurosuperError) naming the
  value and the fix;
- results are equal with 1 and 2 threads to 1e-12 (cvPCA spectrum, CKA, an RDM comparison).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from threadpoolctl import threadpool_info

import neurosuper as ns
from neurosuper import _threads
from neurosuper.errors import NeurosuperError

RUNTIME_VARS = (*_threads.COUNT_ENV, _threads.ENV)


def _counts() -> set[int]:
    """The thread counts of every loaded BLAS/OpenMP runtime."""
    return {int(i["num_threads"]) for i in threadpool_info()}


@pytest.fixture
def clean_env(monkeypatch):
    """No thread variable, no runtime limit found at import: the default is the cores available."""
    for var in RUNTIME_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_threads, "_USER_RUNTIME_LIMIT", None)
    monkeypatch.setattr(_threads, "busy_elsewhere", lambda: 0)  # a quiet machine (the load is tested below)
    yield monkeypatch
    ns.set_threads(None) if _threads._process_setting is not None else None


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


# ------------------------------------------------------------------------------------------------ the budget
def test_default_is_the_cores_available(clean_env):
    cores = len(os.sched_getaffinity(0))
    assert _threads.available_cores() == cores
    assert ns.get_threads() == _threads.budget() == cores


def test_default_never_exceeds_the_affinity_or_the_runtime_variables(clean_env):
    clean_env.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    clean_env.delattr(os, "process_cpu_count", raising=False)
    assert _threads.available_cores() == 1
    assert ns.get_threads() == 1
    clean_env.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert ns.get_threads() == 16
    clean_env.setattr(_threads, "_USER_RUNTIME_LIMIT", 3)  # OMP_NUM_THREADS=3 when neurosuper was imported
    assert ns.get_threads() == 3
    for tasks in range(1, 9):  # the split: tasks × BLAS threads ≤ budget while the budget allows one per task
        assert _threads.blas_threads(tasks) * min(tasks, 3) <= 3
        assert _threads.parallel_tasks(tasks) == min(tasks, 3)


def test_default_leaves_the_cores_that_others_use(clean_env):
    clean_env.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    clean_env.delattr(os, "process_cpu_count", raising=False)
    for others, expected in [(0, 8), (3, 5), (7, 1), (8, 1), (20, 1)]:
        clean_env.setattr(_threads, "busy_elsewhere", lambda others=others: others)
        assert ns.get_threads() == expected
    clean_env.setenv("NEUROSUPER_THREADS", "4")  # an explicit count is kept whatever the load
    assert ns.get_threads() == 4


def test_busy_elsewhere_counts_other_runnable_threads(monkeypatch, tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\nprocs_running 5\nprocs_blocked 0\n")
    assert _threads._running(str(stat)) == 5
    assert _threads._running(str(tmp_path / "absent")) is None
    monkeypatch.setattr(_threads, "_busy_cache", (-1.0, 0))
    monkeypatch.setattr(_threads, "_running", lambda: 5)
    monkeypatch.setattr(_threads, "_own_running", lambda: 1)
    assert _threads.busy_elsewhere() == 4
    monkeypatch.setattr(_threads, "_running", lambda: 9)
    assert _threads.busy_elsewhere() == 4  # reused for BUSY_TTL seconds
    monkeypatch.setattr(_threads, "_busy_cache", (-1.0, 0))
    assert _threads.busy_elsewhere() == 8
    monkeypatch.setattr(_threads, "_busy_cache", (-1.0, 0))
    monkeypatch.setattr(_threads, "_running", lambda: None)  # no /proc: nothing known, nothing subtracted
    assert _threads.busy_elsewhere() == 0
    assert _threads._own_running() >= 1  # this thread, reading


def test_busy_elsewhere_sees_cpu_bound_processes():
    monkey = pytest.MonkeyPatch()
    monkey.setattr(_threads, "_busy_cache", (-1.0, 0))
    before = _threads.busy_elsewhere()
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        import time

        time.sleep(0.5)
        monkey.setattr(_threads, "_busy_cache", (-1.0, 0))
        during = _threads.busy_elsewhere()
    finally:
        for p in procs:
            p.kill()
            p.wait()
        monkey.undo()
    assert during >= 2 or during > before  # the two spinning processes are runnable whenever sampled


def test_runtime_variables_read_as_a_limit(monkeypatch):
    for var in _threads.COUNT_ENV:
        monkeypatch.delenv(var, raising=False)
    assert _threads._runtime_env_limit() is None
    monkeypatch.setenv("OMP_NUM_THREADS", "4,1")  # a nested OpenMP list: the outer level counts
    monkeypatch.setenv("MKL_NUM_THREADS", "2")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "junk")  # not a number: ignored (the runtime ignores it too)
    assert _threads._runtime_env_limit() == 2


def test_cgroup_quota(tmp_path):
    assert _threads._cgroup_quota(tmp_path) is None  # no cgroup files
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _threads._cgroup_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # 1.5 cores → 2 threads
    assert _threads._cgroup_quota(tmp_path) == 2
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert _threads._cgroup_quota(tmp_path) == 1


def test_env_variable_is_honoured(clean_env, torch):
    clean_env.setenv("NEUROSUPER_THREADS", "1")
    assert ns.get_threads() == 1
    with ns.threads() as n:
        assert n == 1 and _counts() == {1} and torch.get_num_threads() == 1
    clean_env.setenv("NEUROSUPER_THREADS", " 2 ")
    with ns.threads() as n:
        assert n == 2 and _counts() == {2} and torch.get_num_threads() == 2


def test_argument_is_honoured_nested_and_restored(clean_env, torch):
    before, torch_before, budget_before = threadpool_info(), torch.get_num_threads(), ns.get_threads()
    with ns.threads(1) as one:
        assert one == 1 and ns.get_threads() == 1 and _counts() == {1} and torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"  # a runtime loaded here starts with one thread
        with ns.threads(2):
            assert ns.get_threads() == 2 and _counts() == {2} and torch.get_num_threads() == 2
        assert ns.get_threads() == 1 and _counts() == {1} and torch.get_num_threads() == 1
    assert threadpool_info() == before and torch.get_num_threads() == torch_before
    assert ns.get_threads() == budget_before and "OMP_NUM_THREADS" not in os.environ


def test_restored_when_the_block_raises(clean_env, torch):
    before, torch_before = threadpool_info(), torch.get_num_threads()
    with pytest.raises(KeyError), ns.threads(1):
        raise KeyError("boom")
    assert threadpool_info() == before and torch.get_num_threads() == torch_before and not _threads._stack


def test_set_threads_and_back_to_the_default(clean_env, torch):
    before, torch_before = _counts(), torch.get_num_threads()
    ns.set_threads(1)
    try:
        assert ns.get_threads() == 1 and _counts() == {1} and torch.get_num_threads() == 1
        with ns.threads(2):
            assert _counts() == {2}
        assert _counts() == {1}
    finally:
        ns.set_threads(None)
    assert ns.get_threads() == len(os.sched_getaffinity(0))
    assert _counts() == before and torch.get_num_threads() in (torch_before, ns.get_threads())


def test_limits_never_raise_a_limit_set_outside(clean_env):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), _threads.limits() as n:  # a caller's (or a test's) limit is kept
        assert n == 1 and _counts() == {1}
    with ns.threads(1), _threads.limits(tasks=4) as n:
        assert n == 1


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "two"])
def test_bad_env_value_is_a_clear_error(clean_env, value):
    clean_env.setenv("NEUROSUPER_THREADS", value)
    with pytest.raises(_threads.ThreadsError) as err:
        ns.get_threads()
    msg = str(err.value)
    assert isinstance(err.value, NeurosuperError)
    assert "NEUROSUPER_THREADS" in msg and repr(value) in msg and "Fix:" in msg and "positive whole number" in msg
    with pytest.raises(_threads.ThreadsError):
        with ns.threads():
            pass


@pytest.mark.parametrize("value", [0, -1, 1.5, "x", True])
def test_bad_argument_is_a_clear_error(clean_env, value):
    with pytest.raises(_threads.ThreadsError, match="positive whole number"):
        with ns.threads(value):
            pass
    with pytest.raises(_threads.ThreadsError, match="set_threads: found"):
        ns.set_threads(value)
    assert not _threads._stack and _threads._process_setting is None


def test_empty_env_value_means_the_default(clean_env):
    clean_env.setenv("NEUROSUPER_THREADS", "")
    assert ns.get_threads() == len(os.sched_getaffinity(0))


# ----------------------------------------------------------------------------------------- where it is applied
def test_runtime_loaded_inside_a_block_starts_with_its_count():
    code = (
        "import neurosuper as ns\n"
        "from threadpoolctl import threadpool_info\n"
        "with ns.threads(1):\n"
        "    import sklearn.cluster  # loads scikit-learn's OpenMP runtime inside the block\n"
        "print(sorted({(i['internal_api'], i['num_threads']) for i in threadpool_info()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in RUNTIME_VARS}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "('openmp', 1)" in out, out


def test_configure_process_sets_passive_waits_and_the_budget():
    code = (
        "import os\n"
        "from neurosuper._threads import configure_process\n"
        "n = configure_process()\n"
        "print(n, *(os.environ[k] for k in ('OMP_WAIT_POLICY', 'OPENBLAS_THREAD_TIMEOUT', 'OMP_NUM_THREADS')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (*RUNTIME_VARS, "OMP_WAIT_POLICY")}
    env["NEUROSUPER_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "PASSIVE", "4", "1"]
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # a user's own setting wins
    env["OMP_NUM_THREADS"] = "2"  # NEUROSUPER_THREADS wins over the runtimes' variables
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "ACTIVE", "4", "1"]
    del env["NEUROSUPER_THREADS"]  # without it, the default respects them (never raised)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    n = out.split()[0]  # the cores available that other processes leave free now, at least 1
    assert 1 <= int(n) <= min(2, len(os.sched_getaffinity(0))) and out.split()[1:] == ["ACTIVE", "4", n]


def test_the_command_line_applies_the_policy(monkeypatch, tmp_path):
    import neurosuper.cli as cli

    calls = []
    monkeypatch.setattr(cli, "configure_process", lambda: calls.append(1) or 1)
    assert cli.main(["demo", "--out", str(tmp_path / "o"), "--set", "nosuchstep.x=1"]) == 2  # refused after it
    assert calls == [1]


def test_every_pipeline_step_runs_inside_the_policy(clean_env, tmp_path):
    from neurosuper.pipeline.core import Context, Step, run_steps

    seen: list[set[int]] = []

    def look(ctx):
        seen.append(_counts())

    clean_env.setenv("NEUROSUPER_THREADS", "1")
    run_steps(Context(out=tmp_path, data={"brain": 1, "network": 2}, progress=False), [Step("look", look)])
    assert seen == [{1}]


def test_parallel_tasks_split_the_budget(clean_env):
    from neurosuper import _gram

    clean_env.setattr(_gram, "PARALLEL_TASKS", True)

    def task(item):  # the BLAS runtimes' counts: their limit is process-wide. An OpenMP runtime's count is a
        # per-thread setting that a pool thread created earlier keeps (what the tasks' eigh calls use is OpenBLAS)
        return item, {int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"}

    with ns.threads(2):
        out = _gram.map_tasks(task, [0, 1, 2, 3])
    assert [o[0] for o in out] == [0, 1, 2, 3]
    assert all(o[1] == {1} for o in out)  # two tasks side by side, one BLAS thread each
    with ns.threads(4):
        assert _threads.parallel_tasks(4) == 4 and _threads.blas_threads(4) == 1
        assert _threads.blas_threads(2) == 2


def test_dask_worker_policy():
    distributed = pytest.importorskip("distributed")
    assert _threads.cluster_threads(cores=4) == (4, 1)
    assert _threads.cluster_threads(2, cores=4) == (2, 2)
    assert _threads.cluster_threads(8, cores=2) == (2, 1)
    env = _threads.worker_env(2, cores=4)
    assert env["OMP_NUM_THREADS"] == "2" and env["NEUROSUPER_THREADS"] == "4" and env["OMP_WAIT_POLICY"] == "PASSIVE"
    before = threadpool_info()
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        client.register_plugin(_threads.worker_policy())  # the worker's cores: its 2 threads → 1 BLAS thread each

        def inside():  # BLAS limits are process-wide; OpenMP's are per thread (worker processes: worker_env)
            worker = distributed.get_worker()
            return worker.neurosuper_threads, sorted(
                {int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"}
            )

        assert client.submit(inside, pure=False).result() == (1, [1])
        client.register_plugin(_threads.worker_policy(cores=4))  # 4 cores / 2 threads → 2 BLAS threads each
        assert client.submit(inside, pure=False).result() == (2, [2])
    assert threadpool_info() == before  # the plugin's teardown restored the shared process


# ------------------------------------------------------------------------------------- same results, 1 or 2 threads
def _population(n_stim=300, n_units=200, reps=2, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_stim, n_units)) * np.arange(1, n_units + 1) ** -0.5
    signal = latent @ np.linalg.qr(rng.standard_normal((n_units, n_units)))[0]
    x = signal[None] + 0.5 * rng.standard_normal((reps, n_stim, n_units))
    return ns.from_array(x, dims=("repeat", "stimulus", "unit"), system="brain", measure="dff")


def test_results_equal_with_one_and_two_threads():
    from neurosuper import compare, spectral

    ds = _population()
    other = _population(seed=1)
    out = {}
    for n in (1, 2):
        with ns.threads(n):
            spec = spectral.eigenspectrum(ds, n_shuffles=3, progress=False)
            cka = compare.cka(ds.mean("repeat"), other.mean("repeat"), debiased=True, progress=False)
            rdm_a = compare.rdm(ds.mean("repeat"), progress=False)
            rdm_b = compare.rdm(other.mean("repeat"), progress=False)
            rsa = compare.compare_rdms(rdm_a, rdm_b, method="spearman", n_boot=20, seed=0)
        out[n] = (spec, cka, rsa)
    for one, two in zip(out[1], out[2], strict=True):
        for name in one.data_vars if isinstance(one, xr.Dataset) else [None]:
            a = one[name] if name else one
            b = two[name] if name else two
            if np.issubdtype(a.dtype, np.number):
                np.testing.assert_allclose(a.values, b.values, rtol=1e-12, atol=1e-12, err_msg=str(name))
