"""A model scored against several subjects' RDMs and their noise ceiling, in one call — rsatoolbox's convention.

:func:`score_against` puts the model's score and the data's noise ceiling on one scale: the score is the mean over
the subject RDMs of the model RDM's similarity with each (rsatoolbox ``eval_fixed``), the ceiling is Nili et al.
2014's leave-one-out bounds of the same subject RDMs (rsatoolbox ``boot_noise_ceiling``), both on the stimuli all
inputs share. A model at or above the lower bound explains the data as well as the subjects explain each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from ..errors import AnalysisError, fail
from .align import align
from .rdm import check_rdm, condensed, rdm
from .rsa import compare_rdms, noise_ceiling, rdm_stack
from .rsakernels import similarity

__all__ = ["score_against"]

REFERENCE_SCORE = (
    "Nili et al. 2014 PLoS Comput Biol 10:e1003553 (model RDM vs subject RDMs with the noise ceiling; rsatoolbox "
    "inference.eval_fixed: mean similarity over subject RDMs, SEM over subjects, boot_noise_ceiling)"
)


def _data_rdms(rdms: Any, caller: str) -> list[xr.DataArray]:
    if isinstance(rdms, (xr.DataArray, list, tuple)):
        return rdm_stack(rdms, caller=caller, name="rdms")
    raise fail(
        f"{caller}: rdms",
        f"a {type(rdms).__name__}",
        "the data's RDMs: a list of RDMs (one per subject or session) or a DataArray (subject, stimulus_a, "
        "stimulus_b), e.g. from neurosuper.load_rdms(path)",
        "pass [rdm_subject1, rdm_subject2, ...]",
        AnalysisError,
    )


def score_against(
    model: Any,
    rdms: Any,
    *,
    method: str = "spearman",
    n_boot: int = 1000,
    ci: float = 0.95,
    n_perm: int = 0,
    seed: int = 0,
    metric: str = "correlation",
    time: Any = None,
    progress: bool = True,
) -> xr.Dataset:
    """Score a model against the data's RDMs, with a CI and the data's noise ceiling on the same scale.

    Parameters
    ----------
    model
        The model: a ResponseSet (its RDM with ``metric``, all units together; per layer see
        :func:`~neurosuper.compare.profile`) or one RDM (:func:`~neurosuper.compare.rdm`,
        :func:`~neurosuper.compare.as_rdm`).
    rdms
        The data: several RDMs of the same stimuli, one per subject (or session) — a list, or a DataArray
        (subject, stimulus_a, stimulus_b) such as :func:`neurosuper.load_rdms` reads. One RDM (e.g. a published
        group-average RDM) is scored too, but no noise ceiling can be estimated from it (NaN, said in attrs
        ``ceiling_note``). Every input is matched on the stimulus ids all of them share, in any order.
    method
        ``"spearman"``, ``"kendall_tau_a"``, ``"pearson"`` or ``"cosine"`` (as :func:`compare_rdms`). The ceiling
        pools the subject RDMs the way ``method`` needs (rsatoolbox ``pool_rdm``).
    metric, time
        The model set's RDM: its distance and time window (as :func:`~neurosuper.compare.rdm`).
    n_boot, ci, n_perm, seed
        As :func:`compare_rdms`: percentile bootstrap over stimuli (stimuli as the random effect, as Nili et al.
        2014 did with 4 subjects; it always contains ``value``) and an optional stimulus-label permutation
        p-value.
    progress
        Show a progress bar while the model set's RDM is computed.

    Returns
    -------
    xarray.Dataset
        ``value`` — the mean over the data RDMs of the model's similarity with each (rsatoolbox ``eval_fixed``);
        ``value_each(rdm)``; ``sem`` — the standard error over the data RDMs, ``std(ddof=1) / √n``, as rsatoolbox's
        ``eval_fixed(...).get_sem()`` (NaN with one RDM); ``ci(bound)``;
        ``ceiling(bound)`` (``lower``, ``upper``: Nili et al.'s leave-one-out bounds, rsatoolbox
        ``boot_noise_ceiling``) and ``ceiling_each(rdm, bound)``; with ``n_perm`` also ``p_value``.
        Dimensionless (the units of ``method``). attrs ``method``, ``n_stimuli``, ``n_rdms``, ``ceiling_kind``,
        ``ceiling_note``, ``convention``.

    Examples
    --------
    >>> import neurosuper as ns                                                            # doctest: +SKIP
    >>> subjects = ns.load_rdms("datasets/real/kriegeskorte2008/hIT_subjects.nc")          # doctest: +SKIP
    >>> res = ns.compare.score_against(network, subjects, method="spearman")              # doctest: +SKIP
    >>> float(res["value"]), res["ceiling"].values                                         # doctest: +SKIP

    References
    ----------
    Nili et al. 2014 PLoS Comput Biol 10:e1003553; Kriegeskorte et al. 2008 Neuron 60:1126 (the 92-image data
    this is checked on, ``tests/test_compare_published_rdms.py``).
    """
    caller = "score_against"
    stack = _data_rdms(rdms, caller)
    if isinstance(model, xr.Dataset) or (isinstance(model, xr.DataArray) and "unit" in model.dims):
        (model,) = align(model, names=["model"], caller=caller)  # canonical stimulus order, as compare_rdms
        model_rdm = rdm(model, metric=metric, time=time, progress=progress)
    else:
        model_rdm = check_rdm(model, caller=caller, name="model")
    names = ["model"] + [f"rdms[{i}]" for i in range(len(stack))]
    aligned = align(model_rdm, *stack, names=names, caller=caller)
    data = list(aligned[1:])
    res = compare_rdms(
        aligned[0], data if len(data) > 1 else data[0], method=method, n_boot=n_boot, ci=ci, n_perm=n_perm, seed=seed
    )
    x = condensed(aligned[0])
    each = np.array([similarity(x, condensed(r), method) for r in data])
    labels = _labels(rdms, len(data))
    out = xr.Dataset(
        {
            "value": res["value"],
            "value_each": ("rdm", each),
            "sem": float(np.std(each, ddof=1) / np.sqrt(len(each))) if len(each) > 1 else np.nan,
            "ci": res["ci"],
        },
        coords={"rdm": labels},
    )
    for name in ("value_boot", "p_value"):
        if name in res:
            out[name] = res[name]
    if len(data) > 1:
        nc = noise_ceiling(data, method=method)
        ceiling = [float(nc["lower"]), float(nc["upper"])]
        each_ceiling = np.stack([nc["lower_each"].values, nc["upper_each"].values], axis=1)
        kind, note, definition = "leave-one-out", "none", nc.attrs["definition"]
    else:
        ceiling = [np.nan, np.nan]
        each_ceiling = np.full((1, 2), np.nan)
        kind, definition = "none", "none"
        note = (
            "one data RDM: no noise ceiling can be estimated from it; pass the subjects' (or sessions') RDMs, "
            "one per subject, for Nili et al.'s bounds"
        )
    out["ceiling"] = xr.DataArray(ceiling, dims="bound", coords={"bound": ["lower", "upper"]})
    out["ceiling_each"] = xr.DataArray(each_ceiling, dims=("rdm", "bound"), coords={"bound": ["lower", "upper"]})
    keep = (
        "method",
        "n_stimuli",
        "n_pairs",
        "n_rdms",
        "metric_a",
        "ci_level",
        "ci_method",
        "ci_note",
        "n_boot",
        "ci_bias_shift",
        "n_perm",
        "p_method",
    )
    out.attrs.update({k: res.attrs[k] for k in keep if k in res.attrs})
    out.attrs.update(
        {
            "metric_model": aligned[0].attrs.get("metric", "unknown"),
            "metric_data": aligned[1].attrs.get("metric", "unknown"),
            "ceiling_kind": kind,
            "ceiling_note": note,
            "ceiling_definition": definition,
            "convention": "value: mean over the data RDMs of the model's similarity with each (rsatoolbox "
            "eval_fixed); ceiling: leave-one-out bounds of the same RDMs on the same stimuli (boot_noise_ceiling)",
        }
    )
    out.attrs.pop("metric_a", None)
    return stamp(
        out,
        analysis="compare.score",
        reference=REFERENCE_SCORE,
        options={"method": method, "n_boot": n_boot, "ci": ci, "n_perm": n_perm, "seed": seed, "metric": metric},
    )


def _labels(rdms: Any, n: int) -> np.ndarray:
    """The data RDMs' labels: the values of a stacked DataArray's extra dim (``subject``), else 0..n-1."""
    if isinstance(rdms, xr.DataArray) and rdms.ndim == 3:
        extra = next(d for d in rdms.dims if d not in ("stimulus_a", "stimulus_b"))
        if extra in rdms.coords:
            return np.asarray(rdms[extra].values)
    return np.arange(n)
