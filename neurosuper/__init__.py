"""neurosuper: brains and networks in one xarray format, and the analyses that compare them.

The common format is the ResponseSet (:mod:`neurosuper.format`); see ``docs/format.md``.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._concat import concat
from ._threads import get_threads, set_threads, threads
from ._version import __version__
from .errors import AnalysisError, FormatError, NeurosuperError, NeurosuperWarning, NWBLayoutError
from .format import FORMAT_VERSION, from_array, validate
from .io.activations import from_activations, from_sklearn
from .io.files import load_activations
from .io.rdms import load_rdms
from .io.torch import from_torch
from .storage import load, save, save_result

if TYPE_CHECKING:
    from . import capacity, compare, datasets, directions, interpret, models, spectral, toy
    from .io.cohort import load_cohort
    from .io.nwb import load_nwb, nwb_sources, save_nwb

#: Public names imported on first access (``ns.spectral``, ``from neurosuper import load_nwb``): name -> module.
#: A bare ``import neurosuper`` then costs little more than ``import numpy, xarray`` — ``directions`` alone would
#: add scikit-learn (with scipy.stats and scipy.sparse), more than doubling it, and the analysis packages and the
#: NWB reader are some hundred modules. tests/test_import.py checks what a bare import loads (no scikit-learn,
#: distributed, matplotlib, pynwb, torch, ...); benchmarks/bench_import.py measures it.
_LAZY = {
    "capacity": ".capacity",
    "compare": ".compare",
    "datasets": ".datasets",
    "directions": ".directions",
    "interpret": ".interpret",
    "models": ".models",
    "pipeline": ".pipeline",
    "report": ".report",
    "spectral": ".spectral",
    "toy": ".toy",
    "load_nwb": ".io.nwb",
    "load_cohort": ".io.cohort",
    "nwb_sources": ".io.nwb",
    "save_nwb": ".io.nwb",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name], __name__)
    value = module if _LAZY[name] == f".{name}" else getattr(module, name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "FORMAT_VERSION",
    "NeurosuperError",
    "FormatError",
    "NWBLayoutError",
    "AnalysisError",
    "NeurosuperWarning",
    "validate",
    "from_array",
    "concat",
    "from_activations",
    "from_sklearn",
    "from_torch",
    "load_activations",
    "load_rdms",
    "save",
    "load",
    "save_result",
    "load_nwb",
    "load_cohort",
    "nwb_sources",
    "save_nwb",
    "threads",
    "set_threads",
    "get_threads",
    "datasets",
    "directions",
    "models",
    "interpret",
    "spectral",
    "compare",
    "capacity",
    "toy",
]
