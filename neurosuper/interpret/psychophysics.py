"""In-silico psychophysics: the 2AFC task of Zimmermann et al. / Borowski et al., with a similarity observer.

Per unit and trial (Klindt et al. 2023 §3.2; Zimmermann et al. 2023, the IMI task; Borowski et al. 2021):
the references are the unit's ``n_references`` (9) most activating stimuli; one *high* query is drawn from the
stimuli whose activation rank lies in the quantile range ``high`` (never a reference) and one *low* query from
the range ``low`` (quantile 0 = least, 1 = most activating; ranks use a stable order, ties to the lowest stimulus
index). The observer picks the query most similar to the references — the smaller of
``min over references of distance(query, reference)`` — and is correct when it picks the high query (a tie
counts ½). ``accuracy(unit)`` is the mean over ``n_trials`` trials: 1 for a perfectly selective unit whose top
stimuli share what the similarity space measures, ½ for a unit without such structure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ..errors import AnalysisError
from ..format import validate
from ..prep import trial_average, unit_coords
from ._topk import BLOCK_ELEMENTS
from .similarity import resolve_similarity

__all__ = ["psychophysics_2afc"]


def _ranges(n_valid: np.ndarray, n_ref: int, high: tuple[float, float], low: tuple[float, float]):
    """Per-unit [start, stop) rank positions (0 = most activating) of the high and low query pools."""
    hi0 = np.maximum(np.floor((1 - high[1]) * n_valid).astype(int), n_ref)
    hi1 = np.maximum(np.ceil((1 - high[0]) * n_valid).astype(int), hi0 + 1)
    lo0 = np.floor((1 - low[1]) * n_valid).astype(int)
    lo1 = np.minimum(np.ceil((1 - low[0]) * n_valid).astype(int), n_valid)
    lo0 = np.maximum(lo0, hi1)
    return hi0, hi1, lo0, lo1


def _check_quantiles(name: str, q: Any) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in q)
    except (TypeError, ValueError):
        a, b = np.nan, np.nan
    if not (0.0 <= a < b <= 1.0):
        example = "(0.9, 1.0)" if name == "high" else "(0.0, 0.1)"
        raise AnalysisError(f"{name}: found {q!r}; expected a quantile range (lo, hi) with 0 <= lo < hi <= 1. "
                            f"Fix: e.g. {name}={example}.")
    return a, b


def psychophysics_2afc(
    ds: xr.Dataset,
    *,
    similarity: Any = "auto",
    n_trials: int = 20,
    n_references: int = 9,
    high: tuple[float, float] = (0.9, 1.0),
    low: tuple[float, float] = (0.0, 0.1),
    seed: int = 0,
    progress: bool = True,
) -> xr.Dataset:
    """Accuracy of a similarity observer in the 2AFC interpretability task, per unit.

    Parameters
    ----------
    ds
        ResponseSet (responses averaged over ``repeat``/``time``; a unit's NaN stimuli are skipped).
    similarity
        As in :func:`interpretability_index` (name, backend or callable).
    n_trials
        Trials per unit.
    n_references
        Reference stimuli (the top ones; the paper: 9).
    high, low
        Activation-rank quantile ranges the high and low queries are drawn from.
    seed
        Seeds the query draws.
    progress
        Show a tqdm bar over blocks of units.

    Returns
    -------
    xarray.Dataset
        ``accuracy(unit)`` and ``correct(unit, trial)`` (1, 0, or ½ for a tie); attrs record the settings.

    References
    ----------
    Borowski et al. 2021 (ICLR), Zimmermann et al. 2023 (NeurIPS, the IMI data), Klindt et al. 2023
    (arXiv:2310.11431, in-silico 2AFC with LPIPS).
    """
    ds = validate(ds)
    high, low = _check_quantiles("high", high), _check_quantiles("low", low)
    if n_trials < 1 or n_references < 1:
        raise AnalysisError(f"n_trials={n_trials}, n_references={n_references}: expected both >= 1. "
                            "Fix: n_trials=20, n_references=9.")
    space, sim_name, auto = resolve_similarity(ds, similarity)
    R = np.asarray(trial_average(ds["responses"]).data, dtype=np.float64)
    n_stim, n_unit = R.shape
    rng = np.random.default_rng(seed)
    correct = np.full((n_unit, n_trials), np.nan)
    step = max(1, BLOCK_ELEMENTS // max(n_stim, 1))
    for u0 in tqdm(range(0, n_unit, step), disable=not progress, desc="2afc", unit="block"):
        X = R[:, u0:u0 + step].T
        valid = ~np.isnan(X)
        n_valid = valid.sum(axis=1)
        order = np.argsort(-np.where(valid, X, -np.inf), axis=1, kind="stable")
        hi0, hi1, lo0, lo1 = _ranges(n_valid, n_references, high, low)
        if np.any(lo1 <= lo0) or np.any(n_valid < n_references + 2):
            bad = int(np.sum((lo1 <= lo0) | (n_valid < n_references + 2)))
            raise AnalysisError(f"psychophysics_2afc: found {bad} units whose valid stimuli ({int(n_valid.min())} at "
                                f"least) leave no room for {n_references} references and disjoint high {high} / "
                                f"low {low} query pools; expected more stimuli. Fix: lower n_references or widen "
                                "the quantile ranges.")
        u = np.arange(X.shape[0])[:, None]
        pos_hi = hi0[:, None] + (rng.random((X.shape[0], n_trials)) * (hi1 - hi0)[:, None]).astype(int)
        pos_lo = lo0[:, None] + (rng.random((X.shape[0], n_trials)) * (lo1 - lo0)[:, None]).astype(int)
        refs = order[:, :n_references][:, None, :]
        q_hi = order[u, pos_hi][:, :, None]
        q_lo = order[u, pos_lo][:, :, None]
        shape = (X.shape[0], n_trials, n_references)
        d_hi = space.distances(np.broadcast_to(q_hi, shape), np.broadcast_to(refs, shape)).min(axis=2)
        d_lo = space.distances(np.broadcast_to(q_lo, shape), np.broadcast_to(refs, shape)).min(axis=2)
        correct[u0:u0 + step] = np.where(d_hi < d_lo, 1.0, np.where(d_hi == d_lo, 0.5, 0.0))
    out = xr.Dataset({"accuracy": ("unit", correct.mean(axis=1)), "correct": (("unit", "trial"), correct)},
                     coords={**unit_coords(ds), "trial": np.arange(n_trials)})
    out.attrs = {"analysis": "psychophysics_2afc", "similarity": sim_name, "similarity_auto": bool(auto),
                 "n_trials": int(n_trials), "n_references": int(n_references), "high": list(high),
                 "low": list(low), "seed": int(seed),
                 "reference": "Borowski et al. 2021; Zimmermann et al. 2023; Klindt et al. 2023 arXiv:2310.11431"}
    return out
