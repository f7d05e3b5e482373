"""``summary(result) -> dict``: any compare result as plain, rounded JSON data (for the CLI and the report)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._numbers import rounded
from ..errors import AnalysisError, fail

__all__ = ["summary"]


def _label(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return v if isinstance(v, (int, str)) else str(v)


def _values(da: xr.DataArray) -> Any:
    """A 0-d array as a number, 1-d as {label: value}, 2-d as {row: {col: value}}."""
    if da.ndim == 0:
        return rounded(da.values)
    d0 = da.dims[0]
    return {str(_label(k)): _values(da.isel({d0: i})) for i, k in enumerate(da[d0].values)}


def _ci(da: xr.DataArray) -> Any:
    """A (bound, ...) CI as [lower, upper], or {label: [lower, upper]}."""
    da = da.transpose(..., "bound")
    if da.ndim == 1:
        return [rounded(v) for v in da.values]
    d0 = da.dims[0]
    return {str(_label(k)): _ci(da.isel({d0: i})) for i, k in enumerate(da[d0].values)}


def _pairs(result: xr.Dataset) -> list[dict[str, Any]]:
    v = result["pair_cka"]
    dims = list(v.dims)
    out = []
    for idx in np.ndindex(*v.shape):
        sel = dict(zip(dims, idx, strict=True))
        entry: dict[str, Any] = {}
        ga = result.attrs.get("groupby_a")
        for d, i in sel.items():
            key = "a" if d in (ga, f"{ga}_a") else "b"
            entry[key] = _label(v[d].values[i])
            entry[f"{key}_coord"] = d
        ci = result["pair_rsa_ci"].isel(sel).transpose("bound").values
        entry["rsa"] = {
            "value": rounded(result["pair_rsa"].isel(sel).values),
            "method": result.attrs["method"],
            "ci": [rounded(x) for x in ci],
        }
        for name in ("cka", "cka_debiased", "cka_chance", "procrustes"):
            if f"pair_{name}" in result:
                entry[name] = rounded(result[f"pair_{name}"].isel(sel).values)
        out.append(entry)
    return out


def summary(result: xr.Dataset | xr.DataArray) -> dict[str, Any]:
    """The headline numbers of a :mod:`neurosuper.compare` result as a JSON-safe dict (floats rounded by
    :func:`neurosuper._numbers.rounded`, NaN as ``None``). Dispatches on the result's ``analysis`` attr."""
    analysis = getattr(result, "attrs", {}).get("analysis", "")
    a = result.attrs if analysis else {}
    if analysis == "compare.rdm":
        v = np.asarray(result.values)
        off = v[np.triu_indices(v.shape[0], 1)]
        return {
            "analysis": analysis,
            "metric": a.get("metric"),
            "n_stimuli": int(v.shape[0]),
            "n_units": a.get("n_units"),
            "mean": rounded(float(off.mean())),
            "min": rounded(float(off.min())),
            "max": rounded(float(off.max())),
        }
    if analysis == "compare.rsa":
        out = {
            "analysis": analysis,
            "value": rounded(result["value"].values),
            "method": a["method"],
            "ci": _ci(result["ci"]),
            "n_stimuli": a["n_stimuli"],
            "n_rdms": a["n_rdms"],
        }
        if "p_value" in result:
            out["p_value"] = rounded(result["p_value"].values)
        if a.get("ci_note"):
            out["ci_note"] = a["ci_note"]
        return out
    if analysis == "compare.noise_ceiling":
        return {
            "analysis": analysis,
            "lower": rounded(result["lower"].values),
            "upper": rounded(result["upper"].values),
            "kind": a["kind"],
            "method": a["method"],
            "n_stimuli": a["n_stimuli"],
            "n_rdms": a["n_rdms"],
        }
    if analysis == "compare.score":
        out = {
            "analysis": analysis,
            "value": rounded(result["value"].values),
            "method": a["method"],
            "ci": _ci(result["ci"]),
            "sem": rounded(result["sem"].values),
            "value_each": _values(result["value_each"]),
            "ceiling": _ci(result["ceiling"]),
            "ceiling_kind": a["ceiling_kind"],
            "ceiling_note": a["ceiling_note"],
            "n_stimuli": a["n_stimuli"],
            "n_rdms": a["n_rdms"],
            "metric_model": a.get("metric_model"),
        }
        if "p_value" in result:
            out["p_value"] = rounded(result["p_value"].values)
        if a.get("ci_note"):
            out["ci_note"] = a["ci_note"]
        return out
    if analysis == "compare.cka":
        out = {
            "analysis": analysis,
            "cka": _values(result["cka"]),
            "debiased": bool(a.get("debiased")),
            "form": a.get("form"),
            "n_stimuli": a.get("n_stimuli"),
        }
        if "cka_whole" in result.coords:
            out["cka_whole"] = rounded(result["cka_whole"].values)
        if "chance" in a:
            out["chance"] = rounded(a["chance"])
        return out
    if analysis == "compare.procrustes":
        return {
            "analysis": analysis,
            "distance": _values(result["distance"]),
            "similarity": _values(result["similarity"]),
            "scale": bool(a.get("scale")),
            "units": a.get("units"),
            "degenerate": bool(a.get("degenerate")),
            "n_stimuli": a.get("n_stimuli"),
        }
    if analysis == "compare.predictivity":
        out = {
            "analysis": analysis,
            "median": rounded(result["median"].values),
            "n_neurons": a["n_neurons"],
            "n_stimuli": a["n_stimuli"],
            "n_units_network": a["n_units_network"],
        }
        for k in ("ceiling_median", "ceiling_r_median", "normalized"):
            if k in result:
                out[k] = rounded(result[k].values)
        if "median_ci" in result:
            out["median_ci"] = _ci(result["median_ci"])
        if a.get("ci_note"):
            out["ci_note"] = a["ci_note"]
        return out
    if analysis == "compare.inter_animal":
        return {
            "analysis": analysis,
            "kind": a["kind"],
            "value": _values(result["value"]),
            "sd": _values(result["sd"]),
            "ci": _ci(result["ci"]),
            "subject_value": _values(result["subject_value"]),
            "n_subjects": a["n_subjects"],
            "n_stimuli": a["n_stimuli"],
            "groupby": a["groupby"],
            "definition": a["definition"],
        }
    if analysis == "compare.profile":
        extra = {}
        if "ceiling_value" in result:  # ceiling="inter_animal"
            extra = {
                "ceiling_value": rounded(result["ceiling_value"].values),
                "ceiling_subject": _values(result["ceiling_subject"]),
                "subject_mean": _values(result["subject_mean"]),
                "normalized": _values(result["normalized"]),
            }
        return extra | {
            "analysis": analysis,
            "kind": a["kind"],
            "groupby": a["groupby"],
            "score": _values(result["score"]),
            "ci": _ci(result["ci"]),
            "ceiling": _ci(result["ceiling"]),
            "ceiling_kind": a["ceiling_kind"],
            "ceiling_note": a["ceiling_note"],
            "best": str(result["best"].values),
            "best_significant": bool(result["best_significant"].values) if "best_significant" in result else False,
            "best_status": str(result["best_status"].values) if "best_status" in result else "highest, not tested",
            "runner_up": str(result["runner_up"].values) if "runner_up" in result else None,
            "margin": rounded(result["margin"].values),
            "margin_ci": _ci(result["margin_ci"]) if "margin_ci" in result else [None, None],
            "p_best": rounded(result["p_best"].values),
            "ci_note": a.get("ci_note", "none"),
            "n_stimuli": a["n_stimuli"],
            "metric": a["metric"],
            "method": a["method"],
            "ci_level": rounded(a["ci_level"]) if "ci_level" in a else None,
        }
    if analysis == "compare.side_by_side":
        rows = []
        for i in range(result.sizes["row"]):
            r = result.isel(row=i)
            rows.append(
                {
                    "set": str(r["set"].values),
                    "group": str(r["group"].values),
                    "system": str(r["system"].values),
                    "n_units": int(r["n_units"].values),
                    "alpha": rounded(r["alpha"].values),
                    "alpha_ci": [rounded(x) for x in r["alpha_ci"].values],
                    "alpha_method": str(r["alpha_method"].values),
                    "participation_ratio": rounded(r["participation_ratio"].values),
                    "median_ii": rounded(r["median_ii"].values),
                    "rsa": rounded(r["rsa"].values),
                    "cka": rounded(r["cka"].values),
                    "predictivity": rounded(r["predictivity"].values),
                }
            )
        return {
            "analysis": analysis,
            "n_stimuli": a["n_stimuli"],
            "metric": a["metric"],
            "method": a["method"],
            "rows": rows,
        }
    if analysis == "compare.overview":
        out = {
            "n_stimuli": a["n_stimuli"],
            "rsa": {
                "value": rounded(result["rsa"].values),
                "method": a["method"],
                "ci": _ci(result["rsa_ci"]),
                "metric": a["metric"],
            },
            "cka": rounded(result["cka"].values),
            "cka_debiased": rounded(result["cka_debiased"].values),
            "cka_chance": rounded(result["cka_chance"].values) if "cka_chance" in result else None,
            "procrustes": rounded(result["procrustes"].values),
            "procrustes_units": a["procrustes"],
            "procrustes_degenerate": bool(a["procrustes_degenerate"]),
            "n_units_a": a["n_units_a"],
            "n_units_b": a["n_units_b"],
        }
        if isinstance(result, xr.Dataset) and "pair_cka" in result:
            out["pairs"] = _pairs(result)
        return out
    raise fail(
        "summary: result",
        f"analysis attr {analysis!r}",
        "a result of neurosuper.compare (rdm, "
        "compare_rdms, noise_ceiling, cka, procrustes, predictivity, profile, side_by_side, overview, inter_animal)",
        "pass the object a neurosuper.compare function returned",
        AnalysisError,
    )
