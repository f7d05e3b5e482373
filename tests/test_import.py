"""What a bare ``import neurosuper`` loads (issue 18): the heavy optional libraries load where they are used.

Each check runs a fresh interpreter (the test process has long imported everything) and reads ``sys.modules``;
no timing is asserted — ``benchmarks/bench_import.py`` measures the time. The analysis subpackages (the
scikit-learn-based ``directions`` among them) and the NWB reader are imported on first access
(``neurosuper.__getattr__``); inside them, the heavy libraries are imported by the functions that need them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Not loaded by ``import neurosuper``. numpy, pandas, xarray (the format itself) and tqdm are.
LAZY = (
    "distributed",
    "dask",
    "sklearn",
    "scipy",
    "matplotlib",
    "seaborn",
    "pynwb",
    "hdmf",
    "h5py",
    "h5netcdf",
    "zarr",
    "torch",
    "skimage",
    "PIL",
)


def _run(code: str) -> object:
    """Run ``code`` in a fresh interpreter; it prints one JSON value, returned."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _loaded_after(code: str) -> list[str]:
    """The libraries of :data:`LAZY` present in ``sys.modules`` after running ``code``."""
    return _run(f"import json, sys\n{code}\nprint(json.dumps([m for m in {LAZY!r} if m in sys.modules]))")


def test_bare_import_loads_no_heavy_optional_library():
    assert _loaded_after("import neurosuper") == []


def test_the_check_sees_a_heavy_import():
    # the rule can fail: a module-level import of any of these would show up exactly like this
    assert "distributed" in _loaded_after("import neurosuper, distributed")
    assert "sklearn" in _loaded_after("import neurosuper\nneurosuper.directions")


@pytest.mark.parametrize(
    "code",
    [
        "import neurosuper as ns\nx = ns.directions.find",
        "from neurosuper import directions\nx = directions.find",
        "import neurosuper.directions\nx = neurosuper.directions.find",
        "from neurosuper import *\nx = directions.find",
    ],
)
def test_lazy_subpackage_is_the_public_api(code):
    out = _run(f"{code}\nimport json, neurosuper\nprint(json.dumps([x.__module__, 'directions' in dir(neurosuper)]))")
    assert out == ["neurosuper.directions.find", True]


def test_lazy_function_is_the_public_api():
    out = _run(
        "import json, neurosuper as ns\nfrom neurosuper import save_nwb\nimport neurosuper.io.nwb as nwb\n"
        "undir = sorted(set(ns.__all__) - set(dir(ns)))\n"
        "print(json.dumps([ns.load_nwb is nwb.load_nwb, save_nwb is nwb.save_nwb, undir]))"
    )
    assert out == [True, True, []]


def test_every_public_name_resolves_and_unknown_names_raise():
    out = _run(
        "import json, neurosuper as ns\n"
        "missing = [n for n in ns.__all__ if not hasattr(ns, n)]\n"
        "try:\n    ns.no_such_name\n    err = None\nexcept AttributeError as e:\n    err = str(e)\n"
        "print(json.dumps([missing, err]))"
    )
    assert out == [[], "module 'neurosuper' has no attribute 'no_such_name'"]
