"""Toy models of superposition (``docs/toy.md``).

Elhage et al. 2022 (*Toy Models of Superposition*): the ReLU-output and linear models ``x' = ReLU(WᵀWx + b)`` on
sparse inputs; Scherlis, Sachan, Jermyn, Benton & Shlegeris 2022: the quadratic model ``ŷ = Σ_k (Σ_i W_ki x_i)² + b``
with inputs of kurtosis K and its closed-form loss. Many small models are trained at once as one batched array (an
``instance`` axis: seeds × sweep settings); numpy with analytic gradients by default, torch (autograd) when asked —
the same numbers from the same seed.

>>> import neurosuper as ns
>>> r = ns.toy.train(5, 2, density=0.05, n_seeds=8, progress=False)     # doctest: +SKIP
>>> r["capacity"].values.round(2)                                        # doctest: +SKIP
array([0.4, 0.4, 0.4, 0.4, 0.4])
"""

from .engine import torch_available
from .losses import monte_carlo_loss, quadratic_loss
from .responses import response_set
from .summary import summary
from .sweep import PHASE_REFERENCE, phase_boundary, phase_capacity, phase_diagram, sweep
from .train import DEFAULT_WEIGHT_DECAY, MODELS, OPTIMIZER, REFERENCES, train

__all__ = [
    "train",
    "sweep",
    "phase_diagram",
    "phase_boundary",
    "phase_capacity",
    "quadratic_loss",
    "monte_carlo_loss",
    "response_set",
    "summary",
    "torch_available",
    "MODELS",
    "DEFAULT_WEIGHT_DECAY",
    "OPTIMIZER",
    "REFERENCES",
    "PHASE_REFERENCE",
]
