"""``summary(result)``: the headline numbers of an interpret result as a JSON-safe dict (for the CLI and report).

Numbers are rounded by :func:`neurosuper._numbers.rounded` (4 significant digits, the rule of every summary); NaN
and infinities become ``None``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._numbers import rounded
from ..errors import AnalysisError
from .index import group_stats

__all__ = ["summary"]


def _num(x: Any) -> float | None:
    """A float (a 0-d DataArray's value too), rounded; NaN -> None."""
    return rounded(float(x))


def _ii_summary(result: xr.Dataset, groupby: str | None) -> dict[str, Any]:
    top = result.sel(which="top") if "which" in result.dims else result
    a = result.attrs
    out: dict[str, Any] = {
        "analysis": "interpretability_index",
        "similarity": a.get("similarity"),
        "similarity_auto": bool(a.get("similarity_auto", False)),
        "k": int(a.get("k", 0)),
        "which": a.get("which"),
        "null": a.get("null"),
        "n_units": int(result.sizes["unit"]),
        "n_units_scored": int(top["ii"].notnull().sum()),
        "n_dead_units": int(a.get("n_dead_units", 0)),
        "mean_ii": _num(top["ii"].mean()),
        "median_ii": _num(top["ii"].median()),
    }
    if "mei_duplicates" in result:
        out["duplicates_check"] = a.get("duplicates")
        out["n_units_with_duplicate_meis"] = int(a.get("n_units_with_duplicate_meis", 0))
    var = "ii"
    if "ii_z" in result:
        var = "ii_z"
        out["mean_ii_z"] = _num(top["ii_z"].mean())
    if "ii_significant" in result:  # Benjamini–Hochberg on the per-unit permutation p-values (which units?)
        n_scored = int(top["ii_p"].notnull().sum())
        n_sig = int(top["ii_significant"].sum())
        out["fdr"] = _num(a.get("fdr", 0.05))
        out["n_units_significant"] = n_sig
        out["fraction_significant"] = _num(n_sig / n_scored) if n_scored else None
    if "p_population" in result:  # the population test: mean II against relabellings of the stimuli (is it?)
        out["p_population"] = _num(top["p_population"])
        out["n_permutations"] = int(a.get("n_permutations", 0))
    groups = group_stats(top, groupby=groupby, var=var)
    if groups.attrs["grouped_by"] != "none":
        out["grouped_by"] = groups.attrs["grouped_by"]
        out["grouped_variable"] = var
        out["by_" + groups.attrs["grouped_by"]] = {
            str(g): {"mean": _num(groups["mean"].sel(group=g)), "n": int(groups["n"].sel(group=g))}
            for g in groups["group"].values
        }
        if "ii_significant" in result:  # discoveries of the one BH decision over all units, counted per group
            labels = np.asarray(top[groups.attrs["grouped_by"]].values).astype(str)
            sig = np.asarray(top["ii_significant"].values)
            for g, entry in out["by_" + groups.attrs["grouped_by"]].items():
                entry["n_significant"] = int(sig[labels == g].sum())
    return out


def summary(result: xr.Dataset, *, groupby: str | None = "auto") -> dict[str, Any]:
    """JSON-safe headline numbers of a result of :mod:`neurosuper.interpret`.

    ``interpretability_index``: similarity, k, null, unit counts (scored, dead, with near-duplicate MEIs), mean
    and median II, mean z; which units are above chance — ``n_units_significant`` and ``fraction_significant``
    (of the scored units) at Benjamini–Hochberg false discovery rate ``fdr`` on the per-unit permutation p-values;
    whether the population is — ``p_population``, the permutation test of the mean II of all units against
    ``n_permutations`` random relabellings of the stimuli (:mod:`.significance`); and the mean II (or z) and
    number of discoveries per ``groupby`` group (``"auto"``: layer, else area). ``psychophysics_2afc``: observer
    and mean accuracy. ``selectivity`` / ``polysemanticity``: their means.
    """
    analysis = result.attrs.get("analysis")
    if analysis == "interpretability_index":
        return _ii_summary(result, groupby)
    if analysis == "psychophysics_2afc":
        return {
            "analysis": analysis,
            "similarity": result.attrs.get("similarity"),
            "observer": result.attrs.get("observer", "nearest"),
            "n_units": int(result.sizes["unit"]),
            "mean_accuracy": _num(result["accuracy"].mean()),
        }
    if analysis == "selectivity":
        return {
            "analysis": analysis,
            "n_units": int(result.sizes["unit"]),
            "mean_lifetime_sparseness": _num(result["lifetime_sparseness"].mean()),
            "mean_population_sparseness": _num(result["population_sparseness"].mean()),
            "mean_kurtosis": _num(result["kurtosis"].mean()),
        }
    if analysis == "polysemanticity":
        return {
            "analysis": analysis,
            "method": result.attrs.get("method"),
            "k": int(result.attrs.get("k", 0)),
            "n_units": int(result.sizes["unit"]),
            "mean_polysemanticity": _num(result["polysemanticity"].mean()),
        }
    raise AnalysisError(
        f"summary: found a result with analysis={analysis!r}; expected one of "
        "interpretability_index, psychophysics_2afc, selectivity, polysemanticity. Fix: pass a "
        "result of neurosuper.interpret."
    )
