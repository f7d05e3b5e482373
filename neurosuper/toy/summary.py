"""``summary(result)``: headline numbers of a toy-model result as a JSON-safe dict (for the CLI and the report)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._numbers import rounded
from ..capacity.measures import DEFAULT_TOL, classify
from ..errors import AnalysisError, fail

__all__ = ["summary"]


def _r(x: Any) -> Any:
    """Floats (or nested lists of them), rounded by the one rule of every summary; NaN -> None."""
    return rounded(np.asarray(x, dtype=float))


def _counts(cap: np.ndarray, tol: float) -> dict[str, int]:
    kind = classify(cap, tol)
    return {f"n_{k}": int((kind == k).sum()) for k in ("monosemantic", "polysemantic", "ignored")}


def summary(result: xr.Dataset, *, tol: float = DEFAULT_TOL) -> dict[str, Any]:
    """JSON-safe, rounded numbers of a :mod:`neurosuper.toy` result.

    ``train``: model, sizes, loss, capacities, Σ C, feature counts by kind (``tol`` as in
    :func:`neurosuper.capacity.superposition`), best seed. ``sweep``: per setting Σ C and counts. ``phase_diagram``:
    the agreement with the closed-form boundary and the largest capacity error against the closed form.
    """
    analysis = result.attrs.get("analysis", "") if isinstance(result, xr.Dataset) else ""
    if analysis not in ("toy.train", "toy.sweep", "toy.phase_diagram"):
        raise fail(
            "toy.summary",
            f"a result with analysis={analysis!r}",
            "a result of toy.train, toy.sweep or toy.phase_diagram",
            "pass the Dataset the toy function returned",
            AnalysisError,
        )
    head = {
        "analysis": analysis,
        "model": result.attrs.get("model"),
        "n_features": int(result.sizes["feature"]),
        "n_hidden": int(result.sizes["hidden"]),
        "steps": result.attrs.get("steps"),
        "weight_decay": result.attrs.get("weight_decay"),
        "backend": result.attrs.get("backend"),
    }
    if analysis == "toy.train":
        cap = result["capacity"].values
        return {
            **head,
            "loss": _r(result["loss"]),
            "capacity": _r(cap),
            "capacity_sum": _r(cap.sum()),
            "best_seed": int(result["best_seed"]),
            "n_seeds": int(result.sizes["seed"]),
            **_counts(cap, tol),
            **({"n_diverged": int(result["diverged"].sum())} if "diverged" in result else {}),
            **({"warnings": [str(result.attrs["warning"])]} if result.attrs.get("warning") else {}),
        }
    if analysis == "toy.phase_diagram":
        c2 = result["capacity"].sel(feature=1).values
        return {
            **head,
            "agreement": _r(result["agreement"]),
            "max_capacity_error": _r(np.abs(c2 - result["capacity_theory"].values).max()),
            "n_points": int(c2.size),
            "tol": result.attrs.get("tol"),
        }
    dims = [str(d) for d in result["loss"].dims]
    settings = []
    for idx in np.ndindex(*[result.sizes[d] for d in dims]):
        sel = {d: i for d, i in zip(dims, idx, strict=True)}
        one = result.isel(sel)
        cap = one["capacity"].values
        settings.append(
            {
                **{d: _r(result[d].values[i]) for d, i in sel.items()},
                "loss": _r(one["loss"]),
                "capacity_sum": _r(cap.sum()),
                **_counts(cap, tol),
            }
        )
    return {**head, "swept": dims, "settings": settings}
