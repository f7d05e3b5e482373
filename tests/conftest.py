"""Shared fixtures: the real-data folder, small simulated sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

#: Property tests draw the same examples on every run (no test can go red at random); locally
#: ``--hypothesis-profile=explore`` (or ``HYPOTHESIS_PROFILE=explore``) searches with fresh random examples.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# A fixed thread budget for the whole suite (neurosuper/_threads.py): without it the default follows how busy the
# machine is, so sums could be split over another number of threads from one run to the next — the same numbers to
# 1e-12, not the same bits. Tests of the default itself unset it (tests/test_threads.py).
os.environ.setdefault("NEUROSUPER_THREADS", "1")


#: ``datasets/real`` of the repository: the real recordings and matrices the docs quote, shipped with every clone
#: (sources, citations and licences in its README.md).
REAL_DATA = Path(__file__).resolve().parents[1] / "datasets" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Path of ``datasets/real``. A clone always has it, so no test skips for want of real data: when the folder
    is missing the test fails, saying so."""
    if not (REAL_DATA / "m1").is_dir() or not (REAL_DATA / "nwb").is_dir():
        pytest.fail(
            f"real data folder {REAL_DATA} lacks m1/ or nwb/: they are part of the repository; "
            "restore them with `git checkout -- datasets/real`"
        )
    return REAL_DATA


@pytest.fixture(scope="session")
def shared_data(real_data: Path) -> Path:
    """The former name of :func:`real_data` (tests written before the data moved into the repository use it)."""
    return real_data


_REAL_DATA_FIXTURES = ("real_data", "shared_data")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in _REAL_DATA_FIXTURES):
            item.add_marker(pytest.mark.realdata)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def one_thread():
    """One BLAS/OpenMP thread for a whole test module: small matrices run fastest, and identically, on one thread,
    and a shared machine is not oversubscribed. Module-scoped, so it also covers the module's own module-scoped
    fixtures; a module opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def pytest_configure(config):
    """With one test process per core (pyproject's ``-n auto``), each process starts its BLAS/OpenMP runtimes with one
    thread: the variables are set here, in the controlling process, before the workers start and import numpy."""
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
