"""Human validation: the IMI judgements of Zimmermann et al. 2023 and how well a score predicts them.

The file format (``responses_main.csv`` of the IMI data): one row per trial with at least ``correct, confidence,
rt, model, layer, channel, batch, mode, task_id``. Catch trials (attention checks) and demo (practice) trials are
dropped: they are flagged by a boolean column, ``catch_trial`` (also accepted: ``is_catch_trial``, ``is_catch``,
``catch``) and ``is_demo`` (also: ``demo``), as in the released file; when no flag column exists, a ``task_id``
containing ``catch`` or ``demo`` (any case) marks them. Booleans may be written True/False, true/false, 1/0, yes/no.

:func:`validate_against_humans` scores each trial with the score of its unit (matched on model, layer and
channel) and reports, per group (all trials; each model; each model × layer):

* ``auc`` — ROC-AUC of the score for predicting a correct trial (Mann–Whitney form, ties count ½);
* ``spearman`` — Spearman rank correlation between score and correctness (0/1) over trials (mid-ranks);
* ``spearman_units`` — Spearman correlation between score and each unit's human accuracy;

each with a percentile bootstrap CI that resamples *units* (all trials of a drawn unit come along: trials of one
unit are not independent). Klindt et al. 2023 report ROC-AUC ≈ 0.6 and trial-level r ≈ 0.1 for LPIPS-based II.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._provenance import stamp
from ..errors import AnalysisError, FormatError, NeurosuperWarning

__all__ = ["read_imi_responses", "validate_against_humans", "IMI_COLUMNS"]

IMI_COLUMNS = ("correct", "confidence", "rt", "model", "layer", "channel", "batch", "mode", "task_id")
CATCH_COLUMNS = ("catch_trial", "is_catch_trial", "is_catch", "catch")
DEMO_COLUMNS = ("is_demo", "demo")
_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "0.0", "", "nan"}


def _bool_column(values: pd.Series, name: str) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    bad = sorted(set(text) - _TRUE - _FALSE)
    if bad:
        raise FormatError(
            f"column {name!r}: found values {bad[:5]}; expected booleans (True/False, 1/0, yes/no). "
            "Fix: write the flag as True/False."
        )
    return text.isin(_TRUE).to_numpy()


def _flag(df: pd.DataFrame, columns: tuple[str, ...], word: str) -> np.ndarray:
    for c in columns:
        if c in df.columns:
            return _bool_column(df[c], c)
    return df["task_id"].astype(str).str.lower().str.contains(word).to_numpy()


def read_imi_responses(path: str | os.PathLike) -> xr.Dataset:
    """Read an IMI human-judgement csv (Zimmermann et al. 2023) into a Dataset along ``trial``.

    Catch and demo trials are dropped (see the module docstring for how they are recognised); the counts are in
    attrs ``n_catch_dropped`` / ``n_demo_dropped``. Every column becomes a variable along ``trial``; ``correct`` is
    bool, ``channel`` int, ``model``/``layer`` strings. Raises :class:`FormatError` for a missing file or column.
    """
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise FormatError(
            f"IMI responses {str(path)!r}: could not be read ({type(err).__name__}: {err}); expected "
            "a csv file with a header row. Fix: check the path."
        ) from err
    missing = [c for c in IMI_COLUMNS if c not in df.columns]
    if missing:
        raise FormatError(
            f"IMI responses {str(path)!r}: found columns {list(df.columns)}, missing {missing}; "
            f"expected {list(IMI_COLUMNS)}. Fix: use the responses_main.csv format."
        )
    catch = _flag(df, CATCH_COLUMNS, "catch")
    demo = _flag(df, DEMO_COLUMNS, "demo")
    kept = df.loc[~(catch | demo)].reset_index(drop=True)
    kept["correct"] = _bool_column(kept["correct"], "correct")
    kept["channel"] = pd.to_numeric(kept["channel"], errors="raise").astype(np.int64)
    for c in ("model", "layer", "mode", "task_id"):
        kept[c] = kept[c].astype(str)
    out = xr.Dataset({c: ("trial", kept[c].to_numpy()) for c in kept.columns}, coords={"trial": np.arange(len(kept))})
    out.attrs = {
        "source": os.fspath(path),
        "n_catch_dropped": int(catch.sum()),
        "n_demo_dropped": int((demo & ~catch).sum()),
        "format": "IMI responses_main.csv",
    }
    return out


# --------------------------------------------------------------------------------------------- scores
def _scores_frame(scores: Any, var: str | None) -> pd.DataFrame:
    if isinstance(scores, pd.DataFrame):
        name = var or ("score" if "score" in scores else "ii" if "ii" in scores else None)
        if name is None or not {"model", "layer", "channel"} <= set(scores.columns):
            raise AnalysisError(
                f"scores: found columns {list(scores.columns)}; expected model, layer, channel and "
                "a score column ('score' or 'ii', or pass var=). Fix: rename the columns."
            )
        df = scores[["model", "layer", "channel", name]].rename(columns={name: "score"})
    else:
        if isinstance(scores, xr.Dataset):
            name = var or ("ii" if "ii" in scores else None)
            if name is None:
                raise AnalysisError(
                    f"scores: found a Dataset with {list(scores.data_vars)}; expected an 'ii' "
                    "variable or var=. Fix: pass var='...'."
                )
            scores = scores[name]
        if not isinstance(scores, xr.DataArray) or scores.dims != ("unit",):
            raise AnalysisError(
                f"scores: found {type(scores).__name__} {getattr(scores, 'dims', '')}; expected a "
                "DataArray over 'unit' (or a DataFrame with model, layer, channel, score). Fix: "
                "select one score per unit."
            )
        n = scores.sizes["unit"]

        def coord(name: str, fallback: Any) -> np.ndarray:
            if name in scores.coords:
                return np.asarray(scores[name].values)
            return np.asarray(fallback if np.ndim(fallback) else np.full(n, fallback))

        model = scores.attrs.get("model", scores.attrs.get("source", ""))
        df = pd.DataFrame(
            {
                "model": coord("model", model),
                "layer": coord("layer", ""),
                "channel": coord("channel", scores["unit"].values),
                "score": scores.values,
            }
        )
    df = df.astype({"model": str, "layer": str})
    df["channel"] = pd.to_numeric(df["channel"], errors="raise").astype(np.int64)
    return df.dropna(subset=["score"]).drop_duplicates(["model", "layer", "channel"])


def _midranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mid-ranks of values ``x`` (unit) under weights ``w`` (boot, unit): ties share their mean rank."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    group = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    W = np.add.reduceat(w[:, order], starts, axis=1)
    before = np.cumsum(W, axis=1) - W
    rank_sorted = (before + (W + 1) / 2)[:, group]
    out = np.empty_like(rank_sorted)
    out[:, order] = rank_sorted
    return out


def _wcorr(rx: np.ndarray, ry: np.ndarray, w: np.ndarray) -> np.ndarray:
    N = w.sum(axis=1, keepdims=True)
    mx = (w * rx).sum(1, keepdims=True) / N
    my = (w * ry).sum(1, keepdims=True) / N
    cov = (w * (rx - mx) * (ry - my)).sum(1)
    vx, vy = (w * (rx - mx) ** 2).sum(1), (w * (ry - my) ** 2).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt(vx * vy)


def _stats(score: np.ndarray, pos: np.ndarray, neg: np.ndarray, m: np.ndarray) -> dict[str, np.ndarray]:
    """AUC, trial-level and unit-level Spearman for per-unit (score, #correct, #incorrect), unit weights m."""
    w1, w0 = m * pos, m * neg
    N1, N0 = w1.sum(1), w0.sum(1)
    order = np.argsort(score, kind="stable")
    ss = score[order]
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    G1 = np.add.reduceat(w1[:, order], starts, axis=1)
    G0 = np.add.reduceat(w0[:, order], starts, axis=1)
    below0 = np.cumsum(G0, axis=1) - G0
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (G1 * (below0 + 0.5 * G0)).sum(1) / (N1 * N0)
    r_s = _midranks(score, w1 + w0)
    r0, r1 = (N0 + 1) / 2, N0 + (N1 + 1) / 2
    rs_trials = np.concatenate([r_s, r_s], axis=1)
    rc_trials = np.concatenate([np.broadcast_to(r1[:, None], w1.shape), np.broadcast_to(r0[:, None], w0.shape)], 1)
    spearman = _wcorr(rs_trials, rc_trials, np.concatenate([w1, w0], axis=1))
    acc = pos / (pos + neg)
    spearman_units = _wcorr(_midranks(score, m), _midranks(acc, m), m)
    return {"auc": auc, "spearman": spearman, "spearman_units": spearman_units}


def validate_against_humans(
    scores: Any,
    responses: xr.Dataset,
    *,
    var: str | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """ROC-AUC and Spearman correlation between a per-unit score and human 2AFC correctness, with bootstrap CIs.

    Parameters
    ----------
    scores
        One score per unit: an II result (``var`` defaults to ``ii``), a DataArray over ``unit`` with ``layer`` /
        ``channel`` (default: the unit id) / ``model`` (default: attr ``model`` or ``source``) coords, or a
        DataFrame with columns ``model, layer, channel, score``.
    responses
        Trials from :func:`read_imi_responses`.
    n_boot, ci, seed
        Bootstrap resamples (over units), interval coverage, seed.

    Returns
    -------
    xarray.Dataset
        Along ``group`` (coords ``model``, ``layer``; ``"all"`` for pooled): ``auc``, ``spearman``,
        ``spearman_units`` and ``*_low`` / ``*_high`` CI bounds, ``n_trials``, ``n_units``. Trials whose unit
        has no score are dropped (warned, counted in attr ``n_trials_unscored``).

    References
    ----------
    Zimmermann et al. 2023 (NeurIPS), the IMI dataset; Klindt et al. 2023 arXiv:2310.11431 (ROC-AUC ≈ 0.6).
    """
    if not (0 < ci < 1) or n_boot < 1:
        raise AnalysisError(f"ci={ci}, n_boot={n_boot}: expected 0 < ci < 1 and n_boot >= 1. Fix: ci=0.95.")
    table = _scores_frame(scores, var)
    trials = pd.DataFrame({c: responses[c].values for c in ("model", "layer", "channel", "correct")})
    trials = trials.astype({"model": str, "layer": str, "channel": np.int64, "correct": bool})
    merged = trials.merge(table, on=["model", "layer", "channel"], how="left")
    unscored = int(merged["score"].isna().sum())
    if unscored == len(merged):
        raise AnalysisError(
            f"validate_against_humans: found no trial whose (model, layer, channel) has a score "
            f"(scores for models {sorted(table['model'].unique())[:3]}, trials for "
            f"{sorted(trials['model'].unique())[:3]}); expected matching keys. Fix: give the scores "
            "the models', layers' and channels' names used in the csv."
        )
    if unscored:
        warnings.warn(
            f"validate_against_humans: {unscored} of {len(merged)} trials have no score for their unit "
            "and were dropped.",
            NeurosuperWarning,
            stacklevel=2,
        )
    merged = merged.dropna(subset=["score"])
    units = (
        merged.groupby(["model", "layer", "channel"], sort=True)
        .agg(score=("score", "first"), pos=("correct", "sum"), n=("correct", "size"))
        .reset_index()
    )
    units["neg"] = units["n"] - units["pos"]
    groups = (
        [("all", "all")]
        + [(m, "all") for m in units["model"].unique()]
        + list(units[["model", "layer"]].drop_duplicates().itertuples(index=False, name=None))
    )
    groups = list(dict.fromkeys(groups))
    rng = np.random.default_rng(seed)
    names = ("auc", "spearman", "spearman_units")
    out: dict[str, list] = {k: [] for k in names + tuple(f"{n}_{s}" for n in names for s in ("low", "high"))}
    out.update(n_trials=[], n_units=[])
    alpha = (1 - ci) / 2
    for model, layer in groups:
        sel = np.ones(len(units), bool)
        if model != "all":
            sel &= (units["model"] == model).to_numpy()
        if layer != "all":
            sel &= (units["layer"] == layer).to_numpy()
        u = units[sel]
        s, p, q = (u[c].to_numpy(dtype=np.float64) for c in ("score", "pos", "neg"))
        point = _stats(s, p, q, np.ones((1, len(u))))
        boot = _stats(s, p, q, rng.multinomial(len(u), np.full(len(u), 1 / len(u)), size=n_boot).astype(float))
        for name in names:
            out[name].append(float(point[name][0]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                lo, hi = (
                    np.nanquantile(boot[name], [alpha, 1 - alpha])
                    if np.isfinite(boot[name]).any()
                    else (np.nan, np.nan)
                )
            out[f"{name}_low"].append(float(lo))
            out[f"{name}_high"].append(float(hi))
        out["n_trials"].append(int(u["n"].sum()))
        out["n_units"].append(len(u))
    coords = {
        "group": [f"{m}/{lay}" for m, lay in groups],
        "model": ("group", [g[0] for g in groups]),
        "layer": ("group", [g[1] for g in groups]),
    }
    result = xr.Dataset({k: ("group", np.asarray(v)) for k, v in out.items()}, coords=coords)
    result.attrs = {
        "n_boot": int(n_boot),
        "ci": float(ci),
        "seed": int(seed),
        "bootstrap": "percentile, resampling units",
        "n_trials_unscored": unscored,
    }
    return stamp(
        result,
        analysis="validate_against_humans",
        options={"var": var, "n_boot": n_boot, "ci": ci, "seed": seed},
        reference="Zimmermann et al. 2023 (IMI); Klindt et al. 2023 arXiv:2310.11431",
        inputs_from=scores if isinstance(scores, xr.Dataset | xr.DataArray) else None,
    )
