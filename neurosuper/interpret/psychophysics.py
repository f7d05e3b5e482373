"""In-silico psychophysics: the 2AFC task of Zimmermann et al. / Borowski et al., with a similarity observer.

Per unit and trial (Klindt et al. 2023 §3.2; Zimmermann et al. 2023, the IMI task; Borowski et al. 2021):
the references are the unit's ``n_references`` (9) most activating stimuli; one *high* query is drawn from the
stimuli whose activation rank lies in the quantile range ``high`` (never a reference) and one *low* query from
the range ``low`` (quantile 0 = least, 1 = most activating; ranks use a stable order, ties to the lowest stimulus
index). The observer picks the query most similar to the references — the smaller of
``min over references of distance(query, reference)`` — and is correct when it picks the high query (a tie
counts ½). ``accuracy(unit)`` is the mean over ``n_trials`` trials: 1 for a perfectly selective unit whose top
stimuli share what the similarity space measures, ½ for a unit without such structure. This is
``observer="nearest"`` (the default).

``observer="klindt2023"`` is the observer of Klindt et al.'s released code (``psychophysics/psychophysics.py`` of
david-klindt/Superposition), which differs in every part: stimuli are first restricted to activations between the
unit's ``center`` and ``1 − center`` quantiles (their code runs 0 and 0.25); with T = ``n_trials`` (20) and
R = ``n_references`` (9), trial t uses as *top references* the stimuli at activation ranks T·j + t (j = 1 … R:
every T-th rank from rank T, 0 = most activating) and as *bottom references* the same ranks from the bottom,
and as queries one of the T most activating and one of the T least activating stimuli (each a random permutation
of those T over the trials). The 2R × 2 similarities (− distance) between references and queries are z-scored
together; the evidence for the right assignment is ``mean z(top refs, top query) + mean z(bottom refs, bottom
query)``, for the wrong one the two cross terms, and a softmax over the two gives the probability of a correct
answer, which is ``correct(unit, trial)``; ``accuracy`` is its mean. A perfect label-selective unit scores
``1 / (1 + e⁻⁴) = 0.982`` (z = ±1 everywhere), not 1. Ranks follow a stable sort by decreasing activation (ties
to the lowest stimulus index); bottom ranks read that order from its end.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._progress import progress_bar
from .._provenance import stamp
from ..errors import AnalysisError
from ..format import validate
from ..prep import trial_average, unit_coords
from ._topk import BLOCK_ELEMENTS
from .similarity import Space, resolve_similarity

__all__ = ["psychophysics_2afc", "OBSERVERS", "klindt_trials"]

OBSERVERS = ("nearest", "klindt2023")
REFERENCES = "Borowski et al. 2021; Zimmermann et al. 2023; Klindt et al. 2023 arXiv:2310.11431"


def _ranges(
    n_valid: np.ndarray, n_ref: int, high: tuple[float, float], low: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
        raise AnalysisError(
            f"{name}: found {q!r}; expected a quantile range (lo, hi) with 0 <= lo < hi <= 1. "
            f"Fix: e.g. {name}={example}."
        )
    return a, b


def klindt_trials(
    space: Space, order: np.ndarray, n_valid: np.ndarray, n_trials: int, n_references: int, rng: np.random.Generator
) -> np.ndarray:
    """P(correct) of Klindt et al.'s softmax observer, (unit, trial), for units whose valid stimuli are ranked.

    ``order`` (unit, stimulus): stimulus positions by decreasing activation (valid ones first, ``n_valid`` per
    unit). Top ranks are ``order[:, r]``, bottom ranks ``order[:, n_valid - 1 - r]``. Per unit one permutation of
    the T top and one of the T bottom query ranks is drawn, for all units at once (top first, then bottom).
    """
    n_u, T, R = order.shape[0], n_trials, n_references
    u = np.arange(n_u)[:, None, None]
    q_top = rng.permuted(np.tile(np.arange(T), (n_u, 1)), axis=1)  # (unit, trial) ranks among the top T
    q_bot = rng.permuted(np.tile(np.arange(T), (n_u, 1)), axis=1)
    ref_rank = T * np.arange(1, R + 1)[None, None, :] + np.arange(T)[None, :, None]  # (1, trial, ref)
    last = (n_valid - 1)[:, None, None]
    refs_top = order[u, ref_rank]  # (unit, trial, ref)
    refs_bot = order[u, last - ref_rank]
    qt = order[u[..., 0], q_top][..., None]  # (unit, trial, 1)
    qb = order[u[..., 0], last[..., 0] - q_bot][..., None]
    shape = refs_top.shape
    sim = -np.stack(
        [
            space.distances(refs_top, np.broadcast_to(qt, shape)),  # top refs vs top query
            space.distances(refs_bot, np.broadcast_to(qb, shape)),  # bottom refs vs bottom query
            space.distances(refs_top, np.broadcast_to(qb, shape)),  # top refs vs bottom query
            space.distances(refs_bot, np.broadcast_to(qt, shape)),
        ]
    )  # bottom refs vs top query
    mean = sim.mean(axis=(0, 3), keepdims=True)
    sd = sim.std(axis=(0, 3), keepdims=True)
    z = (sim - mean) / np.where(sd > 0, sd, 1.0)
    ev = z.mean(axis=3)  # (4, unit, trial)
    right, wrong = ev[0] + ev[1], ev[2] + ev[3]
    return 1.0 / (1.0 + np.exp(wrong - right))


def psychophysics_2afc(
    ds: xr.Dataset,
    *,
    similarity: Any = "auto",
    observer: str = "nearest",
    n_trials: int = 20,
    n_references: int = 9,
    high: tuple[float, float] = (0.9, 1.0),
    low: tuple[float, float] = (0.0, 0.1),
    center: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> xr.Dataset:
    """Accuracy of a similarity observer in the 2AFC interpretability task, per unit.

    Parameters
    ----------
    ds
        ResponseSet (responses averaged over ``repeat``/``time``; a unit's NaN stimuli are skipped). Dask-backed
        responses are loaded: the trial average is held in memory as one (stimulus, unit) float64 array.
    similarity
        As in :func:`interpretability_index` (name, backend or callable).
    observer
        ``"nearest"`` (default): references = the top ``n_references``, queries from the ``high``/``low``
        quantile ranges, pick the query with the smaller minimum distance to a reference (ties ½).
        ``"klindt2023"``: Klindt et al.'s released code — 9 top and 9 bottom references at every
        ``n_trials``-th rank from rank ``n_trials``, queries among the ``n_trials`` most / least activating
        stimuli, z-scored similarities, softmax (see the module docstring); ``high``/``low`` are not used.
    n_trials
        Trials per unit (``klindt2023``: also the rank step between references).
    n_references
        Reference stimuli (the paper: 9; ``klindt2023``: 9 top and 9 bottom).
    high, low
        ``nearest``: activation-rank quantile ranges the high and low queries are drawn from.
    center
        ``klindt2023``: keep only stimuli whose activation lies between the unit's ``center`` and
        ``1 − center`` quantiles first (Klindt et al. run 0 and 0.25); must be < 0.5.
    seed
        Seeds the query draws.
    progress
        Show a tqdm bar over blocks of units.

    Returns
    -------
    xarray.Dataset
        ``accuracy(unit)`` and ``correct(unit, trial)`` (``nearest``: 1, 0, or ½ for a tie; ``klindt2023``: the
        softmax probability of a correct answer); attrs record the settings and the provenance.

    References
    ----------
    Borowski et al. 2021 (ICLR), Zimmermann et al. 2023 (NeurIPS, the IMI data), Klindt et al. 2023
    (arXiv:2310.11431, in-silico 2AFC with LPIPS; code david-klindt/Superposition).
    """
    ds = validate(ds)
    if observer not in OBSERVERS:
        raise AnalysisError(
            f"observer: found {observer!r}; expected one of {list(OBSERVERS)}. "
            "Fix: observer='nearest' or observer='klindt2023'."
        )
    high, low = _check_quantiles("high", high), _check_quantiles("low", low)
    if n_trials < 1 or n_references < 1:
        raise AnalysisError(
            f"n_trials={n_trials}, n_references={n_references}: expected both >= 1. Fix: n_trials=20, n_references=9."
        )
    if not 0.0 <= center < 0.5:
        raise AnalysisError(
            f"center: found {center!r}; expected a quantile 0 <= center < 0.5. Fix: center=0.0 "
            "(or 0.25, Klindt et al.'s second setting)."
        )
    space, sim_name, auto = resolve_similarity(ds, similarity)
    R = np.asarray(trial_average(ds["responses"]).data, dtype=np.float64)
    n_stim, n_unit = R.shape
    rng = np.random.default_rng(seed)
    correct = np.full((n_unit, n_trials), np.nan)
    step = max(1, BLOCK_ELEMENTS // max(n_stim, 1))
    for u0 in progress_bar(range(0, n_unit, step), progress=progress, desc="2afc", unit="block"):
        X = R[:, u0 : u0 + step].T
        valid = ~np.isnan(X)
        if observer == "klindt2023" and center > 0:
            with np.errstate(invalid="ignore"):
                qlo, qhi = np.nanquantile(X, [center, 1 - center], axis=1)
            valid &= (X >= qlo[:, None]) & (X <= qhi[:, None])
        n_valid = valid.sum(axis=1)
        order = np.argsort(-np.where(valid, X, -np.inf), axis=1, kind="stable")
        if observer == "klindt2023":
            need = 2 * n_trials * (n_references + 1)
            if np.any(n_valid < need):
                bad = int(np.sum(n_valid < need))
                raise AnalysisError(
                    f"psychophysics_2afc(observer='klindt2023'): found {bad} units with "
                    f"{int(n_valid.min())} usable stimuli; expected at least 2 · n_trials · "
                    f"(n_references + 1) = {need} (disjoint top and bottom reference ranks). "
                    "Fix: lower n_trials or n_references, lower center, or use observer='nearest'."
                )
            correct[u0 : u0 + step] = klindt_trials(space, order, n_valid, n_trials, n_references, rng)
            continue
        hi0, hi1, lo0, lo1 = _ranges(n_valid, n_references, high, low)
        if np.any(lo1 <= lo0) or np.any(n_valid < n_references + 2):
            bad = int(np.sum((lo1 <= lo0) | (n_valid < n_references + 2)))
            raise AnalysisError(
                f"psychophysics_2afc: found {bad} units whose valid stimuli ({int(n_valid.min())} at "
                f"least) leave no room for {n_references} references and disjoint high {high} / "
                f"low {low} query pools; expected more stimuli. Fix: lower n_references or widen "
                "the quantile ranges."
            )
        u = np.arange(X.shape[0])[:, None]
        pos_hi = hi0[:, None] + (rng.random((X.shape[0], n_trials)) * (hi1 - hi0)[:, None]).astype(int)
        pos_lo = lo0[:, None] + (rng.random((X.shape[0], n_trials)) * (lo1 - lo0)[:, None]).astype(int)
        refs = order[:, :n_references][:, None, :]
        q_hi = order[u, pos_hi][:, :, None]
        q_lo = order[u, pos_lo][:, :, None]
        shape = (X.shape[0], n_trials, n_references)
        d_hi = space.distances(np.broadcast_to(q_hi, shape), np.broadcast_to(refs, shape)).min(axis=2)
        d_lo = space.distances(np.broadcast_to(q_lo, shape), np.broadcast_to(refs, shape)).min(axis=2)
        correct[u0 : u0 + step] = np.where(d_hi < d_lo, 1.0, np.where(d_hi == d_lo, 0.5, 0.0))
    out = xr.Dataset(
        {"accuracy": ("unit", correct.mean(axis=1)), "correct": (("unit", "trial"), correct)},
        coords={**unit_coords(ds), "trial": np.arange(n_trials)},
    )
    out.attrs = {
        "similarity": sim_name,
        "similarity_auto": bool(auto),
        "observer": observer,
        "n_trials": int(n_trials),
        "n_references": int(n_references),
        "seed": int(seed),
    }
    if observer == "nearest":
        out.attrs.update(high=list(high), low=list(low))
    else:
        out.attrs["center"] = float(center)
    options = {
        "similarity": sim_name,
        "observer": observer,
        "n_trials": n_trials,
        "n_references": n_references,
        "high": high,
        "low": low,
        "center": center,
        "seed": seed,
    }
    return stamp(out, analysis="psychophysics_2afc", reference=REFERENCES, options=options, inputs_from=ds)
