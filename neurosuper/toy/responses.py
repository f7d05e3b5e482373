"""A trained toy model as a ResponseSet: its activations on inputs sampled from its own input distribution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from .._validation import check_int
from ..errors import AnalysisError, fail
from ..format import from_array
from . import kernels

__all__ = ["response_set", "LAYERS"]

LAYERS = ("hidden", "output")


def response_set(
    result: xr.Dataset, *, n_stimuli: int = 2000, seed: int = 0, layers: Sequence[str] = ("hidden",)
) -> xr.Dataset:
    """The ResponseSet of a model from :func:`~neurosuper.toy.train` (``system="network"``, ``measure="activation"``).

    Stimuli are ``n_stimuli`` inputs drawn (``seed``) from the model's input distribution (Elhage's sparse U[0, 1]
    features at its ``density``; the quadratic model's sparse ±1/√p inputs at its kurtosis), stored as the set's
    ``stimuli`` (stimulus, feature). Units are the ``hidden`` activations ``h = Wx`` (m units) and, when asked, the
    ``output`` layer ``x'`` (ReLU(Wᵀh + b) for relu, Wᵀh + b for linear; for the quadratic model the single output
    ŷ); a ``layer`` coord on ``unit`` names them. Spectra, the interpretability index and direction finders then
    run on the toy model unchanged.
    """
    if not isinstance(result, xr.Dataset) or "W" not in result or result.attrs.get("analysis") != "toy.train":
        raise fail(
            "toy.response_set: result",
            f"a {type(result).__name__} (analysis={getattr(result, 'attrs', {}).get('analysis')!r})",
            "the Dataset toy.train returns",
            "pass r = neurosuper.toy.train(...) (for a sweep, select one setting and train it)",
            AnalysisError,
        )
    n_stimuli = check_int("n_stimuli", n_stimuli, low=2, caller="toy.response_set")
    seed = check_int("seed", seed, low=0, caller="toy.response_set")
    bad = [x for x in layers if x not in LAYERS]
    if bad or not layers:
        raise fail(
            "toy.response_set: layers",
            repr(list(layers)),
            f"a non-empty subset of {list(LAYERS)}",
            "pass layers=('hidden',) or layers=('hidden', 'output')",
            AnalysisError,
        )
    model = result.attrs["model"]
    w = result["W"].transpose("feature", "hidden").values[None]
    b = np.asarray(result["b"].values)[None]
    rng = np.random.default_rng(seed)
    shape = (1, n_stimuli, w.shape[1])
    if model == "quadratic":
        x = kernels.sample_kurtotic(rng, np.array([float(result["kurtosis"])]), shape)
    else:
        x = kernels.sample_sparse(rng, np.array([float(result["density"])]), shape)
    h = np.matmul(x, w)
    blocks, names, layer = [], [], []
    if "hidden" in layers:
        blocks.append(h[0])
        names += [f"hidden{k}" for k in range(h.shape[2])]
        layer += ["hidden"] * h.shape[2]
    if "output" in layers:
        if model == "quadratic":
            out = kernels.quadratic_predict(w, b, x)[0][:, None]
            names.append("output")
        else:
            out = kernels.elhage_forward(w, b, x, relu=model == "relu")[1][0]
            names += [f"output{i}" for i in range(out.shape[1])]
        blocks.append(out)
        layer += ["output"] * out.shape[1]
    data = np.concatenate(blocks, axis=1)
    stimuli = xr.DataArray(x[0], dims=("stimulus", "feature"), coords={"feature": np.arange(x.shape[2])})
    return from_array(
        data,
        unit=names,
        system="network",
        measure="activation",
        stimuli=stimuli,
        layer=("unit", np.asarray(layer)),
        attrs={"source": f"neurosuper.toy {model} model (n={w.shape[1]}, m={w.shape[2]})", "toy_seed": seed},
    )
