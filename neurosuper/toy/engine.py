"""The batched training loop: many toy models (an ``instance`` axis) trained at once, numpy or torch.

Both backends draw the initial weights and every batch from ONE numpy random stream (``default_rng(seed)``,
float64) in the same order, and use the same AdamW, so the same seed gives the same numbers (up to float
round-off): numpy computes the analytic gradients of :mod:`.kernels`, torch its autograd gradients and
``torch.optim.AdamW``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._memory import check_memory, largest_fitting
from ..errors import AnalysisError, fail
from . import kernels

__all__ = ["Problem", "Fit", "fit", "evaluate", "torch_available", "memory_bytes", "check_size"]

#: Samples (per instance) the final loss of the ReLU / linear models is measured on.
N_EVAL = 16_384
#: Loss-history points recorded during training.
N_LOG = 100
#: Below this many input values per step (instances × batch × features) the torch path runs single-threaded.
SMALL_FOR_THREADS = 2**20


@dataclass
class Problem:
    """One batched training problem: per-instance settings for ``I`` instances."""

    model: str  # "relu" | "linear" | "quadratic"
    n_features: int
    n_hidden: int
    importance: np.ndarray  # (I, n)
    density: np.ndarray  # (I,)
    kurtosis: np.ndarray | None  # (I,) for the quadratic model
    steps: int
    batch_size: int
    lr: float
    weight_decay: float
    seed: int

    @property
    def n_instances(self) -> int:
        return len(self.density)

    @property
    def quadratic_kurtosis(self) -> np.ndarray:
        """``kurtosis``, which the quadratic model needs."""
        if self.kurtosis is None:
            raise AnalysisError(f"toy: a {self.model!r} problem has no kurtosis (the quadratic model's inputs)")
        return self.kurtosis


@dataclass
class Fit:
    w: np.ndarray  # (I, n, m)
    b: np.ndarray  # (I, n) or (I,)
    loss: np.ndarray  # (I,) final loss (fresh samples, or the closed form)
    history: np.ndarray  # (I, n_log) training loss
    history_steps: np.ndarray  # (n_log,)


def memory_bytes(model: str, n_features: int, n_hidden: int, n_instances: int, batch_size: int, backend: str) -> float:
    """Bytes a training run holds at once (estimated before anything is allocated), float64, per instance: W
    (n x m) with its gradient, AdamW's two moments and a product (5 n m); the bias, importance and their
    optimiser state (8 n); the numpy path's n x n products (W Wᵀ and the gradient's S, S + Sᵀ; the quadratic
    model's Gram and its off-diagonal copy: 3 n²) and the batch buffers (x, pre-activations, mask: 17 B n); the
    torch path's autograd tensors instead (6 B n, and 5 n² for the quadratic model); a batch's hidden activations
    (2 B m). Plus the final-loss chunks (2**22 values each, :func:`evaluate`)."""
    n, m, inst = float(n_features), float(n_hidden), float(n_instances)
    batch = 0.0 if model == "quadratic" else float(batch_size)
    per = 40 * n * m + 64 * n + 16 * batch * m  # + the hidden activations of a logged loss (B x m)
    if backend == "torch":
        per += 48 * batch * n + (40 * n * n if model == "quadratic" else 0.0)
        shared = 8 * n * n if model == "quadratic" else 0.0  # the identity the off-diagonal mask is built from
    else:
        per += 24 * n * n + 17 * batch * n
        shared = 0.0
    return inst * per + shared + 3 * 8 * 2**22


def check_size(
    model: str, n_features: int, n_hidden: int, n_instances: int, batch_size: int, backend: str, *, caller: str
) -> None:
    """Refuse (:class:`AnalysisError`) before allocating when :func:`memory_bytes` exceed the memory available,
    with a number of features (or hidden dims) that fits in half of it."""

    def need(n: int, m: int) -> float:
        return memory_bytes(model, n, m, n_instances, batch_size, backend)

    def fix(avail: int) -> str:
        n_fit = largest_fitting(lambda n: need(n, n_hidden), n_features, avail / 2)
        hint = [f"fewer features (n_features={n_fit})"] if need(n_fit, n_hidden) <= avail / 2 else []
        m_fit = largest_fitting(lambda m: need(n_features, m), n_hidden, avail / 2)
        if need(n_features, m_fit) <= avail / 2:
            hint.append(f"fewer hidden dims (n_hidden={m_fit})")
        if n_instances > 1:
            hint.append(f"fewer seeds or settings ({n_instances:,} models are trained at once)")
        return "pass " + ", or ".join(hint)

    check_memory(
        need(n_features, n_hidden),
        what=f"{caller}: n_features and n_hidden",
        detail=f"{n_instances:,} model(s) of {n_features:,} features in {n_hidden:,} hidden dims",
        fix=fix,
    )


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _log_steps(steps: int) -> np.ndarray:
    every = max(1, steps // N_LOG)
    return np.arange(every, steps + 1, every)


def _bar(progress: bool, total: int, desc: str) -> Any:  # a tqdm bar
    from .._progress import progress_bar

    return progress_bar(progress=progress, total=total, desc=desc, leave=False)


def evaluate(p: Problem, w: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Final per-instance loss: the closed form (quadratic) or the mean over ``N_EVAL`` fresh samples."""
    if p.model == "quadratic":
        return kernels.quadratic_loss(w, b, p.importance, p.quadratic_kurtosis)
    total = np.zeros(p.n_instances)
    # chunks of 2**22 values of the widest array: the inputs (I, size, n) and the hidden activations (I, size, m)
    chunk = max(1, min(N_EVAL, 2**22 // max(1, p.n_instances * max(p.n_features, p.n_hidden))))
    done = 0
    while done < N_EVAL:
        size = min(chunk, N_EVAL - done)
        x = kernels.sample_sparse(rng, p.density, (p.n_instances, size, p.n_features))
        loss = kernels.elhage_loss(w, b, x, p.importance, relu=p.model == "relu")
        total += loss * size
        done += size
    return total / N_EVAL


def fit(p: Problem, *, backend: str = "numpy", progress: bool = False) -> Fit:
    """Train every instance of ``p``; the random stream is ``default_rng(p.seed)`` for both backends."""
    check_size(p.model, p.n_features, p.n_hidden, p.n_instances, p.batch_size, backend, caller="toy")
    rng = np.random.default_rng(p.seed)
    w = kernels.init_weights(rng, p.n_instances, p.n_features, p.n_hidden)
    b = np.zeros(p.n_instances) if p.model == "quadratic" else np.zeros((p.n_instances, p.n_features))
    if backend == "torch":
        import torch  # noqa: F401  (imported before the limits, so that they apply to it)

        from .._threads import limits

        # tiny ops: intra-op threads only add synchronisation (and stall on busy CPUs); else the policy's share
        with limits(1 if p.n_instances * p.batch_size * p.n_features < SMALL_FOR_THREADS else None):
            w, b, hist = _fit_torch(p, w, b, rng, progress)
    else:
        w, b, hist = _fit_numpy(p, w, b, rng, progress)
    return Fit(w=w, b=b, loss=evaluate(p, w, b, rng), history=hist, history_steps=_log_steps(p.steps))


def _fit_numpy(
    p: Problem, w: np.ndarray, b: np.ndarray, rng: np.random.Generator, progress: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    opt = kernels.AdamW([w, b], lr=p.lr, weight_decay=p.weight_decay)
    log_at = _log_steps(p.steps)
    hist = np.zeros((p.n_instances, len(log_at)))
    relu = p.model == "relu"
    quad = p.model == "quadratic"
    kurtosis = p.quadratic_kurtosis if quad else None
    buf = None if quad else kernels.ElhageStep(p.n_instances, p.batch_size, p.n_features, relu=relu)
    row = 0
    with _bar(progress, p.steps, f"toy {p.model} (numpy)") as bar:
        for step in range(1, p.steps + 1):
            logging = row < len(log_at) and step == log_at[row]
            if kurtosis is not None:  # the quadratic model
                loss, gw, gb = kernels.quadratic_loss_grad(w, b, p.importance, kurtosis)
            elif buf is None:  # pragma: no cover - every other model has its step buffers
                raise AnalysisError(f"toy: no training step for model {p.model!r}")
            else:
                x = buf.sample(rng, p.density)
                if logging:  # the loss before this step's update, as the torch loop reports it
                    loss = kernels.elhage_loss(w, b, x, p.importance, relu=relu)
                gw, gb = buf.grads(w, b, p.importance)
            opt.step([gw, gb])
            if logging:
                hist[:, row] = loss
                row += 1
                bar.update(log_at[0])
    return w, b, hist


def _fit_torch(
    p: Problem, w0: np.ndarray, b0: np.ndarray, rng: np.random.Generator, progress: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not torch_available():
        raise fail(
            "toy.train: backend",
            "'torch' but torch is not installed",
            "an installed torch",
            "pip install torch, or pass backend='numpy' (the same numbers)",
            AnalysisError,
        )
    import torch

    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW(
        [w, b], lr=p.lr, weight_decay=p.weight_decay, betas=kernels.BETAS, eps=kernels.EPS, foreach=False
    )
    imp = torch.from_numpy(np.ascontiguousarray(p.importance))
    kurt = torch.from_numpy(p.quadratic_kurtosis) if p.model == "quadratic" else None
    log_at = _log_steps(p.steps)
    hist = np.zeros((p.n_instances, len(log_at)))
    shape = (p.n_instances, p.batch_size, p.n_features)
    eye = torch.eye(p.n_features, dtype=torch.float64)
    row = 0
    with _bar(progress, p.steps, f"toy {p.model} (torch)") as bar:
        for step in range(1, p.steps + 1):
            opt.zero_grad(set_to_none=True)
            if kurt is not None:  # the quadratic model
                g = w @ w.transpose(1, 2)
                d = imp - torch.diagonal(g, dim1=1, dim2=2)
                s = d.sum(1) - b
                off = g * (1 - eye)
                per = s**2 + (kurt - 1) * (d**2).sum(1) + 2 * (off**2).sum((1, 2))
            else:
                x = torch.from_numpy(kernels.sample_sparse(rng, p.density, shape))
                h = x @ w
                out = h @ w.transpose(1, 2) + b[:, None, :]
                if p.model == "relu":
                    out = torch.relu(out)
                per = (imp[:, None, :] * (x - out) ** 2).mean(dim=(1, 2))
            per.sum().backward()
            opt.step()
            if row < len(log_at) and step == log_at[row]:
                hist[:, row] = per.detach().numpy()
                row += 1
                bar.update(log_at[0])
    return w.detach().numpy().copy(), b.detach().numpy().copy(), hist


def check_backend(backend: Any, *, caller: str) -> str:
    if backend not in ("numpy", "torch"):
        raise fail(f"{caller}: backend", repr(backend), "'numpy' or 'torch'", "pass backend='numpy'", AnalysisError)
    if backend == "torch" and not torch_available():
        raise fail(
            f"{caller}: backend",
            "'torch' but torch is not installed",
            "an installed torch",
            "pip install torch, or pass backend='numpy' (the same numbers)",
            AnalysisError,
        )
    return backend
