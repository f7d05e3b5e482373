"""``train``: toy models of superposition (Elhage et al. 2022; Scherlis et al. 2022), best of several seeds."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from .._validation import check_choice, check_float, check_int
from ..capacity.geometry import capacities
from ..errors import AnalysisError, fail
from . import engine, kernels

__all__ = ["train", "MODELS", "DEFAULT_WEIGHT_DECAY", "REFERENCES", "OPTIMIZER"]

MODELS = ("relu", "linear", "quadratic")
#: AdamW weight decay used when ``weight_decay=None``: torch's default 0.01 for Elhage's models (the reference
#: notebook's ``torch.optim.AdamW(params, lr=1e-3)``); 0 for the quadratic model, whose closed-form loss the paper
#: minimises exactly (a decay would move the optimum).
DEFAULT_WEIGHT_DECAY = {"relu": 0.01, "linear": 0.01, "quadratic": 0.0}
OPTIMIZER = f"AdamW(betas={kernels.BETAS}, eps={kernels.EPS}), as torch.optim.AdamW"
REFERENCES = {
    "relu": "Elhage et al. 2022, Toy Models of Superposition (ReLU-output model x' = ReLU(WᵀWx + b))",
    "linear": "Elhage et al. 2022, Toy Models of Superposition (linear model x' = WᵀWx + b)",
    "quadratic": (
        "Scherlis, Sachan, Jermyn, Benton & Shlegeris 2022, arXiv 2210.01892, §3 (quadratic model "
        "ŷ = Σ_k (Σ_i W_ki x_i)² + b, closed-form loss)"
    ),
}


class _DefaultDensity(float):
    """The default ``density=1.0``: tells "not given" apart from an explicit 1.0 (for the kurtosis check)."""

    def __repr__(self) -> str:
        return "1.0"


DEFAULT_DENSITY: float = _DefaultDensity(1.0)


def check_density(value: Any, caller: str) -> float:
    return check_float(
        "density",
        value,
        low=0.0,
        high=1.0,
        low_open=True,
        caller=caller,
        fix="pass a probability in (0, 1], e.g. density=0.05 (95 % of inputs are zero)",
    )


def check_kurtosis(value: Any, caller: str) -> float:
    return check_float(
        "kurtosis",
        value,
        low=1.0,
        caller=caller,
        fix="pass kurtosis >= 1 (sparse ±1 inputs of density 1/K have kurtosis K; K = 1 is dense)",
    )


def resolve_sparsity(model: str, density: Any, kurtosis: Any, *, caller: str) -> tuple[float, float | None]:
    """(density, kurtosis) after the checks: the quadratic model's inputs have density 1/K."""
    given = density is not DEFAULT_DENSITY
    density = check_density(density, caller)
    if kurtosis is None:
        return density, (1.0 / density if model == "quadratic" else None)
    if model != "quadratic":
        raise fail(
            f"{caller}: kurtosis",
            f"kurtosis={kurtosis!r} for model={model!r}",
            "kurtosis only for model='quadratic' (Elhage's inputs are set by density)",
            "pass density= instead, or model='quadratic'",
            AnalysisError,
        )
    k = check_kurtosis(kurtosis, caller)
    if given and not np.isclose(density, 1.0 / k, rtol=1e-9, atol=0.0):
        raise fail(
            f"{caller}: density and kurtosis",
            f"density={density!r} and kurtosis={kurtosis!r} "
            f"(sparse ±1 inputs of kurtosis {k:g} have density {1 / k:.6g})",
            "density == 1 / kurtosis",
            "pass only one of them",
            AnalysisError,
        )
    return 1.0 / k, k


def resolve_importance(importance: Any, n_features: int, *, caller: str) -> np.ndarray:
    """Importance per feature (n,): a scalar for every feature, or one non-negative value per feature."""
    if np.ndim(importance) == 0 and isinstance(getattr(importance, "item", lambda: importance)(), Real):
        value = importance.item() if hasattr(importance, "item") else importance
        v = check_float("importance", value, low=0.0, caller=caller)
        return np.full(n_features, v)
    arr = np.asarray(importance, dtype=np.float64) if not isinstance(importance, str) else np.asarray([])
    if arr.ndim != 1 or len(arr) != n_features:
        raise fail(
            f"{caller}: importance",
            f"shape {arr.shape}",
            f"a number or {n_features} values (one per feature)",
            f"pass e.g. importance=0.7 ** np.arange({n_features})",
            AnalysisError,
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise fail(
            f"{caller}: importance",
            "negative or non-finite values",
            "finite values >= 0",
            "pass e.g. importance=0.9 ** np.arange(n_features)",
            AnalysisError,
        )
    return arr


def check_common(
    n_features: Any,
    n_hidden: Any,
    model: Any,
    steps: Any,
    batch_size: Any,
    lr: Any,
    n_seeds: Any,
    seed: Any,
    weight_decay: Any,
    backend: Any,
    *,
    caller: str,
) -> dict[str, Any]:
    model = check_choice("model", model, MODELS, caller=caller)
    wd = (
        DEFAULT_WEIGHT_DECAY[model]
        if weight_decay is None
        else check_float("weight_decay", weight_decay, low=0.0, caller=caller)
    )
    out = {
        "n_features": check_int("n_features", n_features, low=1, caller=caller),
        "n_hidden": check_int("n_hidden", n_hidden, low=1, caller=caller),
        "model": model,
        "steps": check_int("steps", steps, low=1, caller=caller),
        "batch_size": check_int("batch_size", batch_size, low=1, caller=caller),
        "lr": check_float("lr", lr, low=0.0, low_open=True, caller=caller),
        "n_seeds": check_int("n_seeds", n_seeds, low=1, caller=caller),
        "seed": check_int("seed", seed, low=0, caller=caller),
        "weight_decay": wd,
        "backend": engine.check_backend(backend, caller=caller),
    }
    # before the importance (n per seed) or anything else sized by the request is allocated
    engine.check_size(
        model, out["n_features"], out["n_hidden"], out["n_seeds"], out["batch_size"], out["backend"], caller=caller
    )
    return out


def train(
    n_features: int,
    n_hidden: int,
    *,
    model: str = "relu",
    density: float = DEFAULT_DENSITY,
    importance: float | Sequence[float] = 1.0,
    importance_ratio: float | None = None,
    kurtosis: float | None = None,
    steps: int = 10_000,
    batch_size: int = 1024,
    lr: float = 1e-3,
    n_seeds: int = 1,
    seed: int = 0,
    weight_decay: float | None = None,
    backend: str = "numpy",
    progress: bool = True,
) -> xr.Dataset:
    """Train a toy model of superposition ``n_seeds`` times (one batched model) and keep the best seed.

    Models
        * ``"relu"`` — Elhage et al. 2022: ``h = Wx``, ``x' = ReLU(WᵀWx + b)``, loss ``mean I_i (x_i − x'_i)²``
          over the batch and the features; inputs ``x_i = 0`` with probability 1 − ``density``, else U[0, 1].
        * ``"linear"`` — the same without the ReLU.
        * ``"quadratic"`` — Scherlis et al. 2022 §3: ``y = Σ_i v_i x_i²``, ``ŷ = Σ_k (Σ_i W_ki x_i)² + b`` with
          zero-mean unit-variance inputs of kurtosis ``K`` (sparse ±1/√p of density p = 1/K); trained by gradient
          descent on the closed-form loss ``(Σ_i d_i − b)² + (K − 1) Σ_i d_i² + 2 Σ_{i≠j} (W_i·W_j)²``,
          ``d_i = v_i − ‖W_i‖²`` (no sampling; ``batch_size`` unused). ``importance`` is ``v``.

    Parameters
    ----------
    n_features, n_hidden
        n input features, m hidden dims (m < n for superposition).
    density
        Probability a feature is non-zero, in (0, 1] (= 1 − S, Elhage's sparsity S). For the quadratic model
        ``density = 1/kurtosis``; giving both, they must agree.
    importance
        One number for every feature, or one value per feature (e.g. ``0.7 ** np.arange(n)``).
    importance_ratio
        r in (0, ∞): feature i's importance is multiplied by ``r**i`` (``importance_ratio=0.7``: Elhage's
        ``0.7 ** np.arange(n)``), as :func:`~neurosuper.toy.sweep` does.
    kurtosis
        Input kurtosis K ≥ 1 (quadratic model only).
    steps, batch_size, lr
        AdamW steps, samples per step and learning rate (Elhage's notebook: 10,000, 1,024, 1e-3).
    n_seeds, seed
        Restarts trained at once as one batched model; ``seed`` seeds the one numpy stream of initial weights
        (Xavier-normal) and batches.
    weight_decay
        AdamW's decoupled weight decay; ``None`` = 0.01 (torch's default, Elhage's notebook) for ``relu``/``linear``,
        0 for ``quadratic`` (:data:`DEFAULT_WEIGHT_DECAY`).
    backend
        ``"numpy"`` (analytic gradients) or ``"torch"`` (autograd, ``torch.optim.AdamW``): the same numbers from the
        same seed.
    progress
        Show a tqdm bar.

    Returns
    -------
    xarray.Dataset
        Best seed (lowest final loss): ``W`` (feature, hidden), ``b`` (feature; a scalar for the quadratic model),
        ``loss`` (final loss: closed form, or the mean over 16,384 fresh samples), ``capacity`` (feature; C_i of the
        rows of W, Scherlis et al. eq. 3), ``importance`` (feature), ``best_seed``. Every seed: ``W_seed``,
        ``b_seed``, ``loss_seed``, ``capacity_seed`` along ``seed``, ``loss_history`` (seed, step), and ``instance``
        (seed): each restart's index on the ``instance`` axis of the one batched array all were trained in.
    """
    caller = "toy.train"
    c = check_common(
        n_features, n_hidden, model, steps, batch_size, lr, n_seeds, seed, weight_decay, backend, caller=caller
    )
    dens, kurt = resolve_sparsity(c["model"], density, kurtosis, caller=caller)
    imp = resolve_importance(importance, c["n_features"], caller=caller)
    if importance_ratio is not None:  # feature i's importance times r**i (Elhage et al. 2022 use 0.7**i)
        r = check_float("importance_ratio", importance_ratio, low=0.0, low_open=True, caller=caller)
        imp = imp * r ** np.arange(imp.size, dtype=np.float64)
    n_inst = c["n_seeds"]
    prob = engine.Problem(
        model=c["model"],
        n_features=c["n_features"],
        n_hidden=c["n_hidden"],
        importance=np.tile(imp, (n_inst, 1)),
        density=np.full(n_inst, dens),
        kurtosis=None if kurt is None else np.full(n_inst, kurt),
        steps=c["steps"],
        batch_size=c["batch_size"],
        lr=c["lr"],
        weight_decay=c["weight_decay"],
        seed=c["seed"],
    )
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is detected and said below
        result = engine.fit(prob, backend=c["backend"], progress=progress)
    ds = assemble(result, prob, seed_dims=("seed",), setting_dims=(), setting_coords={})
    check_diverged(ds, lr=c["lr"], caller=caller)
    ds["importance"] = ("feature", imp)
    ds["density"] = dens
    if kurt is not None:
        ds["kurtosis"] = kurt
    options = {k: v for k, v in c.items()}
    options.update(density=dens, kurtosis=kurt, importance=imp)
    ds.attrs.update(model=c["model"], backend=c["backend"], optimizer=OPTIMIZER, weight_decay=c["weight_decay"])
    return stamp(ds, analysis="toy.train", reference=REFERENCES[c["model"]], options=options)


#: A seed whose final loss exceeds this many times its first recorded loss (or is not finite) diverged.
DIVERGED_RISE = 2.0


def diverged(loss: np.ndarray, history: np.ndarray) -> np.ndarray:
    """Which instances diverged: a non-finite final loss or loss history, or a final loss above
    :data:`DIVERGED_RISE` times the first recorded loss (training made it worse). ``loss`` (...), ``history``
    (..., step)."""
    loss = np.asarray(loss, dtype=float)
    history = np.asarray(history, dtype=float)
    bad = ~np.isfinite(loss) | ~np.isfinite(history).all(axis=-1)
    if history.shape[-1]:
        with np.errstate(invalid="ignore", over="ignore"):
            bad |= loss > DIVERGED_RISE * history[..., 0]
    return bad


def check_diverged(ds: xr.Dataset, *, lr: float, caller: str) -> None:
    """Raise :class:`~neurosuper.errors.AnalysisError` when every seed of ``ds`` diverged (its capacities would
    be zeros, not a result); when some did, record a warning in ``ds.attrs["warning"]`` and warn."""
    import warnings

    from ..errors import DivergedWarning

    bad = ds["diverged"].values
    n_bad, n = int(bad.sum()), int(bad.size)
    if n_bad == 0:
        return
    fix = f"lower the learning rate, e.g. lr={min(lr / 100, 1e-3):g} (Elhage's notebook uses 1e-3)"
    if n_bad == n:
        raise fail(
            caller,
            f"training diverged for every seed ({n} of {n}) with lr={lr:g}: the loss became non-finite or rose "
            "instead of falling, so the weights and capacities mean nothing",
            "a loss that falls during training",
            fix,
            AnalysisError,
        )
    note = (
        f"{n_bad} of {n} seeds diverged with lr={lr:g} (non-finite or rising loss) and were left out of the best "
        f"seed; {fix}"
    )
    ds.attrs["warning"] = note
    warnings.warn(f"{caller}: {note}", DivergedWarning, stacklevel=3)


def assemble(
    result: engine.Fit,
    prob: engine.Problem,
    *,
    seed_dims: tuple[str, ...],
    setting_dims: tuple[str, ...],
    setting_coords: dict[str, Any],
) -> xr.Dataset:
    """Dataset of a batched fit whose instances are laid out as ``setting_dims + ("seed",)`` (C order)."""
    sizes = tuple(len(setting_coords[d]) for d in setting_dims)
    n_seeds = prob.n_instances // int(np.prod(sizes, dtype=int))
    shape = (*sizes, n_seeds)
    n, m = prob.n_features, prob.n_hidden
    w = result.w.reshape(*shape, n, m)
    loss = result.loss.reshape(shape)
    cap = np.stack([capacities(wi) for wi in result.w]).reshape(*shape, n)
    history = result.history.reshape(*shape, -1)
    bad = diverged(loss, history)
    best = np.argmin(np.where(np.isfinite(loss) & ~bad, loss, np.inf), axis=-1)
    take = best[..., None]
    w_best = np.take_along_axis(w, take[..., None, None], axis=-3)[..., 0, :, :]
    cap_best = np.take_along_axis(cap, take[..., None], axis=-2)[..., 0, :]
    loss_best = np.take_along_axis(loss, take, axis=-1)[..., 0]
    lead = (*setting_dims, "seed")
    quad = prob.model == "quadratic"
    b = result.b.reshape(shape) if quad else result.b.reshape(*shape, n)
    b_best = (
        np.take_along_axis(b, take, axis=-1)[..., 0]
        if quad
        else np.take_along_axis(b, take[..., None], axis=-2)[..., 0, :]
    )
    b_dims = setting_dims if quad else (*setting_dims, "feature")
    ds = xr.Dataset(
        {
            "W": ((*setting_dims, "feature", "hidden"), w_best),
            "b": (b_dims, b_best),
            "loss": (setting_dims, loss_best),
            "capacity": ((*setting_dims, "feature"), cap_best),
            "best_seed": (setting_dims, best),
            "W_seed": ((*lead, "feature", "hidden"), w),
            "b_seed": ((*lead,) if quad else (*lead, "feature"), b),
            "loss_seed": (lead, loss),
            "capacity_seed": ((*lead, "feature"), cap),
            "loss_history": ((*lead, "step"), history),
            "diverged": (lead, bad),
            "instance": (lead, np.arange(prob.n_instances).reshape(shape)),
        },
        coords={
            "feature": np.arange(n),
            "hidden": np.arange(m),
            "seed": np.arange(n_seeds),
            "step": result.history_steps,
            **setting_coords,
        },
    )
    ds["W"].attrs["long_name"] = "feature embeddings (rows W_i)"
    ds["instance"].attrs["long_name"] = "index of the model along the instance axis of the one batched training array"
    ds["capacity"].attrs.update(long_name="feature capacity C_i", units="dimensions")
    ds["loss"].attrs["long_name"] = (
        "closed-form expected squared error" if quad else f"importance-weighted MSE on {engine.N_EVAL} fresh samples"
    )
    ds.attrs.update(n_features=n, n_hidden=m, steps=prob.steps, batch_size=prob.batch_size, lr=prob.lr)
    return ds
