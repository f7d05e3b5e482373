"""neurosuper: brains and networks in one xarray format, and the analyses that compare them.

The common format is the ResponseSet (:mod:`neurosuper.format`); see ``docs/format.md``.
"""

from . import capacity, compare, datasets, directions, interpret, models, spectral, toy
from ._concat import concat
from ._version import __version__
from .errors import AnalysisError, FormatError, NeurosuperError, NeurosuperWarning, NWBLayoutError
from .format import FORMAT_VERSION, from_array, validate
from .io.activations import from_activations, from_sklearn
from .io.files import load_activations
from .io.nwb import load_nwb, nwb_sources, save_nwb
from .io.torch import from_torch
from .storage import load, save, save_result

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
