"""neurosuper: brains and networks in one xarray format, and the analyses that compare them.

The common format is the ResponseSet (:mod:`neurosuper.format`); see ``docs/format.md``.
"""

import importlib
from typing import TYPE_CHECKING, Any

from . import capacity, compare, datasets, interpret, models, spectral, toy
from ._concat import concat
from ._version import __version__
from .errors import AnalysisError, FormatError, NeurosuperError, NeurosuperWarning, NWBLayoutError
from .format import FORMAT_VERSION, from_array, validate
from .io.activations import from_activations, from_sklearn
from .io.files import load_activations
from .io.nwb import load_nwb, nwb_sources, save_nwb
from .io.torch import from_torch
from .storage import load, save, save_result

if TYPE_CHECKING:
    from . import directions

# Subpackages imported on first attribute access (``ns.directions``, ``from neurosuper import directions``):
# ``directions`` subclasses scikit-learn's estimators, and importing scikit-learn (with scipy.stats and
# scipy.sparse) would more than double the cost of a bare ``import neurosuper``. tests/test_import.py checks that
# it stays out, with the other heavy optional libraries (distributed, matplotlib, pynwb, torch, ...).
_LAZY_SUBPACKAGES = frozenset({"directions"})


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")  # the import also binds it here: called once
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_SUBPACKAGES)


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
    "save",
    "load",
    "save_result",
    "load_nwb",
    "nwb_sources",
    "save_nwb",
    "datasets",
    "directions",
    "models",
    "interpret",
    "spectral",
    "compare",
    "capacity",
    "toy",
]
