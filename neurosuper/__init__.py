"""neurosuper: brains and networks in one xarray format, and the analyses that compare them.

The common format is the ResponseSet (:mod:`neurosuper.format`); see ``docs/format.md``.
"""

from . import datasets
from ._version import __version__
from .errors import AnalysisError, FormatError, NeurosuperError, NeurosuperWarning, NWBLayoutError
from .format import FORMAT_VERSION, concat, from_array, validate
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
    "save",
    "load",
    "save_result",
    "datasets",
]
