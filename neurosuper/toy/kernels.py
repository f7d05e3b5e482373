"""Numerical kernels of the toy models (plain numpy, float64, analytic gradients; batched over an ``instance`` axis).

Arrays carry a leading instance axis ``I`` (many small models trained at once, as Elhage et al.'s notebook does):
``W`` (I, n, m) — row ``W[k, i]`` is feature i's embedding in hidden space (the transpose of the papers'
columns); ``b`` (I, n) for the ReLU/linear models, (I,) for the quadratic model.

**Elhage et al. 2022** (*Toy Models of Superposition*), ReLU-output model and its linear counterpart::

    h = W x,    x' = ReLU(Wᵀ h + b)   (linear: x' = Wᵀ h + b),    L = mean_{batch, i} I_i (x_i − x'_i)²

with inputs ``x_i = 0`` with probability 1 − density, else U[0, 1] (one uniform ``u`` per entry: ``x = u/p`` when
``u < p``, which is U[0, 1) given ``u < p``). The loss is the reference notebook's (mean over batch and features,
summed over instances); its gradient, with ``g = 2 I ⊙ (x' − x) ⊙ 1[pre-activation > 0] / (B n)`` and
``S = xᵀ g`` (n × n), is ``∂L/∂W = (S + Sᵀ) W`` and ``∂L/∂b = Σ_batch g``.

**Scherlis et al. 2022** (arXiv 2210.01892, §3), quadratic model ``y = Σ_i v_i x_i²``, ``ŷ = Σ_k (Σ_i W_ki x_i)² + b``
with iid zero-mean, unit-variance inputs of kurtosis K. With ``G = W Wᵀ`` and ``d_i = v_i − G_ii``, the expected
squared error is (closed form, bias included)::

    L = (Σ_i d_i − b)² + (K − 1) Σ_i d_i² + 2 Σ_{i≠j} G_ij²

which at the optimal ``b = Σ_i d_i`` is the paper's ``(K − 1) Σ_i d_i² + 2 Σ_{i≠j} G_ij²``. Gradient:
``∂L/∂W_i = −4 (s + (K − 1) d_i) W_i + 8 Σ_{j≠i} G_ij W_j`` with ``s = Σ_i d_i − b``; ``∂L/∂b = −2 s``.

**AdamW** (Loshchilov & Hutter 2019), exactly as ``torch.optim.AdamW`` (decoupled weight decay applied first,
bias-corrected moments, ``eps`` added to ``√v̂``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, overload

import numpy as np

__all__ = [
    "init_weights",
    "sample_sparse",
    "sample_kurtotic",
    "elhage_loss",
    "elhage_loss_grad",
    "ElhageStep",
    "elhage_forward",
    "quadratic_loss",
    "quadratic_loss_grad",
    "quadratic_predict",
    "AdamW",
    "BETAS",
    "EPS",
]

BETAS = (0.9, 0.999)
EPS = 1e-8


def init_weights(rng: np.random.Generator, n_instances: int, n_features: int, n_hidden: int) -> np.ndarray:
    """Xavier-normal ``W`` (I, n, m) per instance: N(0, 2 / (n + m))."""
    std = np.sqrt(2.0 / (n_features + n_hidden))
    return rng.standard_normal((n_instances, n_features, n_hidden)) * std


def sample_sparse(rng: np.random.Generator, density: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Elhage inputs (I, B, n): 0 with probability 1 − density[k], else U[0, 1) (one uniform ``u`` per entry,
    ``x = u/p`` when ``u < p``, which is uniform on [0, 1) given ``u < p``)."""
    x = rng.random(shape)
    inv = 1.0 / np.asarray(density, dtype=np.float64).reshape(-1, 1, 1)
    np.multiply(x, inv, out=x)
    x *= x < 1.0
    return x


def sample_kurtotic(rng: np.random.Generator, kurtosis: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Scherlis inputs (I, B, n): ±1/√p with probability p = 1/K (each sign p/2), else 0 — zero mean, unit
    variance, kurtosis E x⁴ = 1/p = K. One uniform ``u`` per entry: −1/√p if u < p/2, +1/√p if p/2 ≤ u < p."""
    p = 1.0 / np.asarray(kurtosis, dtype=np.float64).reshape(-1, 1, 1)
    u = rng.random(shape)
    amp = 1.0 / np.sqrt(p)
    return np.where(u < p, np.where(u < p / 2, -amp, amp), 0.0)


def elhage_forward(w: np.ndarray, b: np.ndarray, x: np.ndarray, *, relu: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(hidden h (I, B, m), output x' (I, B, n)) of the ReLU-output (or linear) model."""
    h = np.matmul(x, w)
    pre = np.matmul(h, np.swapaxes(w, 1, 2)) + b[:, None, :]
    return h, (np.maximum(pre, 0.0) if relu else pre)


def elhage_loss(
    w: np.ndarray, b: np.ndarray, x: np.ndarray, importance: np.ndarray, *, relu: bool = True
) -> np.ndarray:
    """Per-instance loss (I,): ``mean_{batch, i} I_i (x_i − x'_i)²``."""
    _, out = elhage_forward(w, b, x, relu=relu)
    err = out - x
    err *= err
    return np.einsum("kbi,ki->k", err, importance) / (x.shape[1] * x.shape[2])


class ElhageStep:
    """One training step's gradients of the ReLU-output / linear model, with buffers reused across steps.

    With ``pre = x W Wᵀ + b``, ``e = (x' − x) ⊙ 1[pre > 0]`` (ReLU) and ``c = 2 I / (B n)``: ``S = (xᵀ e) · diag(c)``,
    ``∂L/∂W = (S + Sᵀ) W`` and ``∂L/∂b = (1ᵀ e) ⊙ c``. Every array is allocated once and updated in place (a fresh
    (I, B, n) array per step would cost page faults and cache misses at sweep sizes).
    """

    def __init__(self, n_instances: int, batch: int, n_features: int, *, relu: bool = True) -> None:
        shape = (n_instances, batch, n_features)
        self.x = np.zeros(shape)
        self.pre = np.empty(shape)
        self.mask = np.empty(shape, dtype=bool)
        self.ones = np.ones((n_instances, 1, batch))
        self.relu = relu
        self.n = n_features
        self.batch = batch

    def sample(self, rng: np.random.Generator, density: np.ndarray) -> np.ndarray:
        """Draw a batch into the buffer: the same stream and values as :func:`sample_sparse`; returns x."""
        x = rng.random(out=self.x)
        x *= 1.0 / np.asarray(density, dtype=np.float64).reshape(-1, 1, 1)
        np.less(x, 1.0, out=self.mask)
        x *= self.mask
        return x

    def set_inputs(self, x: np.ndarray) -> None:
        self.x[...] = x

    def grads(self, w: np.ndarray, b: np.ndarray, importance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pre = np.matmul(self.x, np.matmul(w, np.swapaxes(w, 1, 2)), out=self.pre)
        pre += b[:, None, :]
        if self.relu:
            np.greater(pre, 0.0, out=self.mask)
        err = np.subtract(pre, self.x, out=pre)  # in place: pre is not needed any more
        if self.relu:
            err *= self.mask
        scale = importance * (2.0 / (self.batch * self.n))
        s = np.matmul(np.swapaxes(self.x, 1, 2), err)
        s *= scale[:, None, :]
        gw = np.matmul(s + np.swapaxes(s, 1, 2), w)
        gb = np.matmul(self.ones, err)[:, 0, :] * scale
        return gw, gb


def elhage_loss_grad(
    w: np.ndarray, b: np.ndarray, x: np.ndarray, importance: np.ndarray, *, relu: bool = True, grad: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Per-instance loss (I,) and the gradients (I, n, m), (I, n) of the summed loss (module docstring)."""
    loss = elhage_loss(w, b, x, importance, relu=relu)
    if not grad:
        return loss, None, None
    step = ElhageStep(x.shape[0], x.shape[1], x.shape[2], relu=relu)
    step.set_inputs(x)
    gw, gb = step.grads(w, b, importance)
    return loss, gw, gb


def quadratic_loss(w: np.ndarray, b: np.ndarray, importance: np.ndarray, kurtosis: np.ndarray) -> np.ndarray:
    """Closed-form expected squared error (I,) of the quadratic model (module docstring)."""
    return quadratic_loss_grad(w, b, importance, kurtosis, grad=False)[0]


@overload
def quadratic_loss_grad(
    w: np.ndarray, b: np.ndarray, importance: np.ndarray, kurtosis: np.ndarray, *, grad: Literal[True] = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
@overload
def quadratic_loss_grad(
    w: np.ndarray, b: np.ndarray, importance: np.ndarray, kurtosis: np.ndarray, *, grad: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]: ...
def quadratic_loss_grad(
    w: np.ndarray, b: np.ndarray, importance: np.ndarray, kurtosis: np.ndarray, *, grad: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Closed-form loss (I,) and its gradients (I, n, m), (I,) for the quadratic model."""
    g = np.matmul(w, np.swapaxes(w, 1, 2))
    diag = np.einsum("kii->ki", g)
    d = importance - diag
    s = d.sum(axis=1) - b
    k1 = np.asarray(kurtosis, dtype=np.float64) - 1.0
    off = g.copy()
    off[:, np.arange(g.shape[1]), np.arange(g.shape[1])] = 0.0
    loss = s * s + k1 * np.einsum("ki,ki->k", d, d) + 2.0 * np.einsum("kij,kij->k", off, off)
    if not grad:
        return loss, None, None
    coef = -4.0 * (s[:, None] + k1[:, None] * d)
    gw = coef[:, :, None] * w + 8.0 * np.matmul(off, w)
    gb = -2.0 * s
    return loss, gw, gb


def quadratic_predict(w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """ŷ (I, B) = Σ_k (Σ_i W_ki x_i)² + b for inputs x (I, B, n)."""
    h = np.matmul(x, w)
    h *= h
    return h.sum(axis=-1) + b[:, None]


@dataclass
class AdamW:
    """AdamW on a list of float64 arrays, updated in place; the same arithmetic as ``torch.optim.AdamW``."""

    params: list[np.ndarray]
    lr: float
    weight_decay: float
    betas: tuple[float, float] = BETAS
    eps: float = EPS
    step_count: int = 0
    m: list[np.ndarray] = field(default_factory=list)
    v: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]

    def step(self, grads: list[np.ndarray]) -> None:
        self.step_count += 1
        b1, b2 = self.betas
        t = self.step_count
        step_size = self.lr / (1 - b1**t)
        bc2_sqrt = np.sqrt(1 - b2**t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            if self.weight_decay:
                p *= 1 - self.lr * self.weight_decay
            m += (g - m) * (1 - b1)  # torch: exp_avg.lerp_(grad, 1 - beta1)
            v *= b2
            v += (1 - b2) * g * g  # torch: exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
            denom = np.sqrt(v)
            denom /= bc2_sqrt
            denom += self.eps
            p -= step_size * (m / denom)
