"""``sweep`` over density, importance and kurtosis (one batched model), and the quadratic model's phase diagram."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from .._validation import check_float
from ..errors import AnalysisError, fail
from . import engine
from .train import (
    DEFAULT_DENSITY,
    OPTIMIZER,
    REFERENCES,
    assemble,
    check_common,
    check_density,
    check_kurtosis,
    resolve_importance,
)

__all__ = ["sweep", "phase_diagram", "phase_boundary", "phase_capacity", "PHASE_REFERENCE"]

PHASE_REFERENCE = (
    "Scherlis, Sachan, Jermyn, Benton & Shlegeris 2022, arXiv 2210.01892, §3.2 (two features in one "
    "dimension: feature 2 of importance r is represented iff K > 3 and r > 2/(K − 1))"
)


def _values(name: str, value: Any, check: Callable[[Any, str], float], caller: str) -> tuple[np.ndarray, bool]:
    """(values, swept): a sequence is swept (one dim), a scalar is not."""
    if value is None:
        return np.array([]), False
    if np.ndim(value) == 0:
        return np.array([check(value, caller)]), False
    vals = np.asarray([check(v, caller) for v in np.asarray(value, dtype=object).ravel()], dtype=np.float64)
    if len(vals) == 0:
        raise fail(
            f"{caller}: {name}",
            "an empty sequence",
            "at least one value",
            f"pass e.g. {name}=[0.1, 0.05]",
            AnalysisError,
        )
    return vals, True


def _ratio(value: Any, caller: str) -> float:
    return check_float("importance_ratio", value, low=0.0, low_open=True, caller=caller)


def sweep(
    n_features: int,
    n_hidden: int,
    *,
    model: str = "relu",
    density: float | Sequence[float] = DEFAULT_DENSITY,
    importance: float | Sequence[float] = 1.0,
    importance_ratio: Sequence[float] | None = None,
    kurtosis: float | Sequence[float] | None = None,
    steps: int = 10_000,
    batch_size: int = 1024,
    lr: float = 1e-3,
    n_seeds: int = 1,
    seed: int = 0,
    weight_decay: float | None = None,
    backend: str = "numpy",
    progress: bool = True,
) -> xr.Dataset:
    """Train a toy model for every setting of a grid, all settings × seeds as ONE batched model.

    Parameters not listed below are as :func:`~neurosuper.toy.train` (``seed`` seeds the one stream of the whole
    batched model).

    Parameters
    ----------
    density
        A number or a sequence of densities in (0, 1] (a ``density`` dim). For ``model="quadratic"`` densities
        become kurtoses ``K = 1/density``.
    importance
        Base importance: one number, or one value per feature (as :func:`~neurosuper.toy.train`).
    importance_ratio
        A sequence of ratios r (an ``importance_ratio`` dim): feature i's importance is ``importance_i · r^i``
        (Elhage's ``0.7^i``; for two features, Scherlis et al.'s (1, r)).
    kurtosis
        Quadratic model only: a number or a sequence (a ``kurtosis`` dim). Given with ``density``, they must agree.

    Returns
    -------
    xarray.Dataset
        Dims: the swept settings (``density`` for relu/linear, ``kurtosis`` for quadratic, ``importance_ratio``),
        then ``feature``/``hidden``. Best seed per setting: ``W``, ``b``, ``loss``, ``capacity``, ``best_seed``;
        every seed: ``W_seed``, ``b_seed``, ``loss_seed``, ``capacity_seed``, ``loss_history``; and ``importance``
        (setting, feature). The same arguments give the same numbers.
    """
    caller = "toy.sweep"
    c = check_common(
        n_features, n_hidden, model, steps, batch_size, lr, n_seeds, seed, weight_decay, backend, caller=caller
    )
    n = c["n_features"]
    base = resolve_importance(importance, n, caller=caller)
    dens, dens_swept = _values("density", density, lambda v, cl: check_density(v, cl), caller)
    kurt, kurt_swept = _values("kurtosis", kurtosis, lambda v, cl: check_kurtosis(v, cl), caller)
    ratios, ratio_swept = _values("importance_ratio", importance_ratio, _ratio, caller)
    dims: list[str] = []
    coords: dict[str, Any] = {}
    if c["model"] == "quadratic":
        given = density is not DEFAULT_DENSITY
        if kurtosis is None:
            kurt, kurt_swept = 1.0 / dens, dens_swept
        elif given and (len(kurt) != len(dens) or not np.allclose(dens, 1.0 / kurt, rtol=1e-9, atol=0.0)):
            raise fail(
                f"{caller}: density and kurtosis",
                f"density={np.asarray(density).tolist()} and kurtosis={np.asarray(kurtosis).tolist()}",
                "density == 1 / kurtosis for every setting",
                "pass only one of them",
                AnalysisError,
            )
        if kurt_swept:
            dims.append("kurtosis")
            coords["kurtosis"] = kurt
            coords["density"] = ("kurtosis", 1.0 / kurt)
    else:
        if kurtosis is not None:
            raise fail(
                f"{caller}: kurtosis",
                f"kurtosis for model={c['model']!r}",
                "kurtosis only for model='quadratic'",
                "pass density= instead, or model='quadratic'",
                AnalysisError,
            )
        if dens_swept:
            dims.append("density")
            coords["density"] = dens
    if ratio_swept:
        dims.append("importance_ratio")
        coords["importance_ratio"] = ratios
    settings = list(itertools.product(*(coords[d] for d in dims))) or [()]
    s_dens, s_kurt, s_imp = [], [], []
    for setting in settings:
        values = dict(zip(dims, setting, strict=True))
        if c["model"] == "quadratic":
            k = float(values.get("kurtosis", kurt[0]))
            s_dens.append(1.0 / k)
            s_kurt.append(k)
        else:
            s_dens.append(values.get("density", dens[0]))
        r = values.get("importance_ratio", ratios[0] if len(ratios) else 1.0)
        s_imp.append(base * r ** np.arange(n))
    reps = c["n_seeds"]
    prob = engine.Problem(
        model=c["model"],
        n_features=n,
        n_hidden=c["n_hidden"],
        importance=np.repeat(np.array(s_imp), reps, axis=0),
        density=np.repeat(s_dens, reps),
        kurtosis=np.repeat(np.asarray(s_kurt, dtype=float), reps) if c["model"] == "quadratic" else None,
        steps=c["steps"],
        batch_size=c["batch_size"],
        lr=c["lr"],
        weight_decay=c["weight_decay"],
        seed=c["seed"],
    )
    fitted = engine.fit(prob, backend=c["backend"], progress=progress)
    index_coords = {d: coords[d] for d in dims}
    ds = assemble(fitted, prob, seed_dims=("seed",), setting_dims=tuple(dims), setting_coords=index_coords)
    if "density" in coords and "density" not in dims:
        ds = ds.assign_coords(density=coords["density"])
    shape = tuple(len(coords[d]) for d in dims)
    ds["importance"] = ((*dims, "feature"), np.array(s_imp).reshape(*shape, n))
    if c["model"] == "quadratic" and not kurt_swept:
        ds["kurtosis"] = s_kurt[0]
    if "density" not in dims and "density" not in ds.coords:
        ds["density"] = s_dens[0]
    ds.attrs.update(
        model=c["model"], backend=c["backend"], optimizer=OPTIMIZER, weight_decay=c["weight_decay"], swept=list(dims)
    )
    options = dict(c)
    options.update(
        density=np.asarray(s_dens).tolist(),
        kurtosis=kurtosis,
        importance=base,
        importance_ratio=None if importance_ratio is None else ratios,
    )
    _check_cells_diverged(ds, dims, lr=c["lr"], caller=caller)
    return stamp(ds, analysis="toy.sweep", reference=REFERENCES[c["model"]], options=options)


def _check_cells_diverged(ds: xr.Dataset, dims: Sequence[str], *, lr: float, caller: str) -> None:
    """Every seed of every cell diverged: :class:`~neurosuper.errors.AnalysisError` (nothing was trained); some:
    a :class:`~neurosuper.errors.DivergedWarning` naming the cells (their settings and how many seeds), also kept
    in ``ds.attrs["warning"]``. Divergence as :func:`~neurosuper.toy.train.diverged` (non-finite or rising loss)."""
    import warnings

    from ..errors import DivergedWarning

    bad = np.asarray(ds["diverged"].values, dtype=bool)
    if not bad.any():
        return
    fix = f"lower the learning rate, e.g. lr={min(lr / 100, 1e-3):g} (Elhage's notebook uses 1e-3)"
    n_seeds = bad.shape[-1]
    per_cell = bad.reshape(-1, n_seeds).sum(axis=1)
    if bad.all():
        raise fail(
            caller,
            f"training diverged in every cell of the sweep ({per_cell.size} cell(s) x {n_seeds} seed(s)) with "
            f"lr={lr:g}: the loss became non-finite or rose instead of falling, so the capacities mean nothing",
            "a loss that falls during training",
            fix,
            AnalysisError,
        )
    cells = list(itertools.product(*(ds[d].values.tolist() for d in dims))) or [()]
    named = []
    for setting, k in zip(cells, per_cell.tolist(), strict=True):
        if k:
            where = ", ".join(f"{d}={v:g}" for d, v in zip(dims, setting, strict=True)) or "the one setting"
            named.append(f"{where} ({k} of {n_seeds} seeds)")
    shown = "; ".join(named[:10]) + (f"; ... ({len(named)} cells in all)" if len(named) > 10 else "")
    note = (
        f"training diverged (non-finite or rising loss) with lr={lr:g} in {len(named)} of {per_cell.size} cell(s): "
        f"{shown}; their diverged seeds are flagged in 'diverged' and their capacities mean nothing; {fix}"
    )
    ds.attrs["warning"] = note
    warnings.warn(f"{caller}: {note}", DivergedWarning, stacklevel=3)


def phase_boundary(kurtosis: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Scherlis et al.'s boundary for two features in one dimension: the smallest importance ratio r at which
    feature 2 is represented, ``2 / (K − 1)`` for K > 3, ``inf`` for K ≤ 3 (never represented)."""
    k = np.asarray(kurtosis, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(k > 3, 2.0 / np.maximum(k - 1.0, 1e-300), np.inf)


def phase_capacity(kurtosis: Any, importance_ratio: Any) -> np.ndarray:
    """Closed-form capacity of feature 2 at the global optimum of the n = 2, m = 1 quadratic model.

    With a = ‖W_1‖², c = ‖W_2‖², κ = K − 1 and the optimal bias, L = κ((1 − a)² + (r − c)²) + 4ac. For K > 3 L is
    convex and its minimum has ``c = max(0, (r − 2/κ) / (1 − 4/κ²))``, ``a = 1 − 2c/κ``, so ``C_2 = c / (a + c)``;
    for K ≤ 3 the minimum is the corner a = 1, c = 0 (C_2 = 0). Arrays broadcast.
    """
    k, r = np.broadcast_arrays(np.asarray(kurtosis, dtype=np.float64), np.asarray(importance_ratio, dtype=np.float64))
    kap = np.where(k > 3, k - 1.0, 3.0)
    c = np.clip((r - 2.0 / kap) / (1.0 - 4.0 / kap**2), 0.0, None)
    a = 1.0 - 2.0 * c / kap
    return np.where(k > 3, c / (a + c), 0.0)


def phase_diagram(
    *,
    kurtosis: Sequence[float] | None = None,
    importance_ratio: Sequence[float] | None = None,
    steps: int = 10_000,
    lr: float = 1e-3,
    n_seeds: int = 8,
    seed: int = 0,
    tol: float = 1e-3,
    backend: str = "numpy",
    progress: bool = True,
) -> xr.Dataset:
    """The quadratic model's n = 2, m = 1 phase diagram: trained points and the closed-form boundary.

    Trains :func:`sweep` ``(2, 1, model="quadratic")`` over ``kurtosis`` × ``importance_ratio`` (importances
    (1, r)) and marks feature 2 **represented** when its capacity exceeds ``tol``. For K < 3 the loss is not convex
    and a restart may settle with feature 2 instead of feature 1; the best of ``n_seeds`` restarts (default 8) is kept.

    Parameters
    ----------
    kurtosis
        Kurtoses K ≥ 1 (default 14 values geometrically spaced over [1.5, 40]).
    importance_ratio
        Ratios r in (0, 1] (default 19 values over [0.05, 0.95]; r = 1 is a tie between the features).
    tol
        Capacity above which feature 2 counts as represented (default 1e-3: just past the boundary C_2 grows from 0
        continuously, so a larger ``tol`` moves the trained boundary right).

    Returns
    -------
    xarray.Dataset
        The sweep (dims ``kurtosis``, ``importance_ratio``, ``feature``, ...) plus ``represented`` (bool, trained),
        ``represented_theory`` (K > 3 and r > 2/(K − 1)), ``boundary`` (kurtosis; 2/(K − 1), inf for K ≤ 3),
        ``capacity_theory`` (kurtosis, importance_ratio; feature 2's capacity at the optimum,
        :func:`phase_capacity`) and
        ``agreement`` (the fraction of grid points where the two agree). Reference: :data:`PHASE_REFERENCE`.
    """
    tol = check_float("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True, caller="toy.phase_diagram")
    k = np.geomspace(1.5, 40.0, 14) if kurtosis is None else kurtosis
    r = np.linspace(0.05, 0.95, 19) if importance_ratio is None else importance_ratio
    ds = sweep(
        2,
        1,
        model="quadratic",
        kurtosis=list(np.ravel(k)),
        importance_ratio=list(np.ravel(r)),
        steps=steps,
        lr=lr,
        n_seeds=n_seeds,
        seed=seed,
        backend=backend,
        progress=progress,
    )
    ds["represented"] = ds["capacity"].sel(feature=1, drop=True) > tol
    kk, rr = xr.broadcast(ds["kurtosis"], ds["importance_ratio"])
    ds["boundary"] = ("kurtosis", phase_boundary(ds["kurtosis"].values))
    ds["represented_theory"] = (kk > 3) & (rr > ds["boundary"])
    ds["capacity_theory"] = (("kurtosis", "importance_ratio"), phase_capacity(kk.values, rr.values))
    ds["agreement"] = (ds["represented"] == ds["represented_theory"]).mean()
    ds.attrs["tol"] = tol
    return stamp(
        ds,
        analysis="toy.phase_diagram",
        reference=PHASE_REFERENCE,
        options={
            "kurtosis": np.ravel(k),
            "importance_ratio": np.ravel(r),
            "steps": steps,
            "lr": lr,
            "n_seeds": n_seeds,
            "seed": seed,
            "tol": tol,
            "backend": backend,
        },
    )
