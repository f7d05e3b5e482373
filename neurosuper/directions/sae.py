"""Sparse autoencoder kernel (plain numpy, optional torch) — Klindt et al. 2023; Bricken et al. 2023 (``PAPERS.md`` §5).

Model, for a response vector x (n_units,), centred on the data's mean μ and scaled by their RMS norm s
(``x' = (x − μ) / s``; ``center=False`` keeps μ = 0, Klindt et al.'s exact model)::

    f  = ReLU(W_enc x' + b_enc)                  (n_latents,)      encoder
    x̂' = W_dec f,   ‖W_dec[:, j]‖ = 1            (n_units,)        decoder: no learned bias, unit-norm columns
    L  = mean_batch( ‖x' − x̂'‖² + λ ‖f‖₁ )                          loss (λ = 0.1 as in Klindt et al.)

Subtracting μ is Bricken et al.'s pre-encoder bias held fixed at the mean: responses with a large shared mean
(spike counts, ReLU activations) otherwise make almost every latent die (on the M1 recording 321 of 342 latents
were never active without it, 1 with it), while the planted sets of the tests are recovered as well either way.

trained with Adam (Kingma & Ba 2015; torch's update rule). The decoder constraint is kept by removing from the
decoder gradient its component along each column before the step and renormalising the columns after it.

Both backends draw every random number from one numpy ``Generator(PCG64(seed))``: the decoder init (standard
normal columns, normalised; the encoder starts as its transpose, ``b_enc = 0``) and, per epoch, the order of the
data blocks and of the rows inside each block. In float64 the numpy and torch backends therefore agree to
rounding error (tested).

Data arrive in blocks of rows: a dask array's own chunks (one block is loaded at a time, so memory stays bounded
by a block, never the set), or ``block_size`` rows of a numpy array (default: the whole array as one block). The
same blocks give the same numbers whichever container holds them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._gram import is_dask

__all__ = ["SAEState", "train_sae", "encode", "sae_statistics", "rms_scale", "moments", "iter_blocks", "BETAS", "EPS"]

#: Adam's moment decay rates and epsilon (torch's defaults).
BETAS = (0.9, 0.999)
EPS = 1e-8


@dataclass
class SAEState:
    """The trained parameters (in scaled units) and the training record."""

    w_enc: np.ndarray  # (n_latents, n_units)
    b_enc: np.ndarray  # (n_latents,)
    w_dec: np.ndarray  # (n_units, n_latents), unit-norm columns
    scale: float
    mean: np.ndarray  # (n_units,), subtracted before encoding and added after decoding
    n_steps: int = 0
    n_epochs: int = 0
    loss_curve: list[float] = field(default_factory=list)  # mean training loss per epoch (scaled units)


#: The most work an SAE training may take, in multiply-add equivalents (``SAEDirections.training_work``: five
#: batch x units x latents products and the update of every weight per step): 5e11, about ten minutes on one busy
#: core (measured: 100,000 latents of 64 units, 128 rows a step, ~5 s a step — 2,000 steps would take ~3 h and
#: are refused). ``None``: no bound.
MAX_TRAINING_WORK: float | None = 5e11


def iter_blocks(X: Any, block_size: int | None = None) -> list[tuple[int, int]]:
    """``[(start, stop)]`` row ranges of the blocks: a dask array's row chunks, else ``block_size`` rows."""
    n = X.shape[0]
    if is_dask(X):
        bounds = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(int)
        return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    size = n if not block_size else int(block_size)
    return [(a, min(a + size, n)) for a in range(0, n, size)]


#: Rows processed at once inside a loaded block by the statistics passes (bounds their temporaries).
SUB_ROWS = 4096


def _load(X: Any, start: int, stop: int, dtype: np.dtype | None) -> np.ndarray:
    block = X[start:stop]
    if is_dask(block):
        block = block.compute(scheduler="synchronous")
    return np.asarray(block, dtype=dtype)


def moments(X: Any, blocks: list[tuple[int, int]], *, center: bool) -> tuple[np.ndarray, float]:
    """(μ, s): the rows' mean (zeros unless ``center``) and sqrt(mean ‖x − μ‖²), read block by block in float64."""
    total = 0.0
    sums = np.zeros(X.shape[1])
    for a, b in blocks:
        block = _load(X, a, b, None)
        for i in range(0, b - a, SUB_ROWS):
            x = block[i : i + SUB_ROWS].astype(np.float64)
            total += float(np.einsum("ij,ij->", x, x))
            sums += x.sum(axis=0)
    n = max(X.shape[0], 1)
    mu = sums / n if center else np.zeros(X.shape[1])
    ms = total / n - (float(mu @ mu) if center else 0.0)
    s = math.sqrt(max(ms, 0.0))
    return mu, (s if s > 0 else 1.0)


def rms_scale(X: Any, blocks: list[tuple[int, int]]) -> float:
    """sqrt(mean over rows of ‖x‖²), read block by block (float64 accumulation)."""
    return moments(X, blocks, center=False)[1]


@contextlib.contextmanager
def limit_threads(n_threads: int | None, backend: str) -> Iterator[None]:
    """Run with at most ``n_threads`` BLAS/torch threads (small products are fastest single-threaded), never more
    than the thread policy's budget (:mod:`neurosuper._threads`); ``None``: the policy's share."""
    from .._threads import blas_threads, limits

    if backend == "torch":
        import torch  # noqa: F401  (imported first, so that the limits apply to it)
    with limits(None if n_threads is None else min(int(n_threads), blas_threads())):
        yield


def _batches(
    rng: np.random.Generator, blocks: list[tuple[int, int]], batch_size: int
) -> Iterator[tuple[int, int, np.ndarray | None]]:
    """Per epoch: blocks in random order; yields (block start, stop, None) then the rows of each batch."""
    for bi in rng.permutation(len(blocks)):
        a, b = blocks[bi]
        yield a, b, None
        perm = rng.permutation(b - a)
        for i in range(0, b - a, batch_size):
            yield a, b, perm[i : i + batch_size]


class _NumpyAdam:
    """Adam on numpy arrays with torch's update rule (``torch.optim.Adam``: bias corrections, ``eps`` added to
    ``sqrt(v) / sqrt(1 - β₂ᵗ)``), in place with one scratch buffer per parameter."""

    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.buf = [np.empty_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        b1, b2 = BETAS
        self.t += 1
        step_size = self.lr / (1 - b1**self.t)
        c2 = math.sqrt(1 - b2**self.t)
        for p, g, m, v, buf in zip(self.params, grads, self.m, self.v, self.buf, strict=True):
            m *= b1
            np.multiply(g, 1 - b1, out=buf)
            m += buf
            v *= b2
            np.multiply(g, g, out=buf)
            buf *= 1 - b2
            v += buf
            np.sqrt(v, out=buf)
            np.divide(buf, c2, out=buf)
            buf += EPS
            np.divide(m, buf, out=buf)
            buf *= step_size
            p -= buf


def _init(rng: np.random.Generator, n_units: int, n_latents: int, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    w_dec = rng.standard_normal((n_units, n_latents))
    w_dec /= np.linalg.norm(w_dec, axis=0, keepdims=True)
    w_dec = w_dec.astype(dtype)
    return np.ascontiguousarray(w_dec.T).copy(), np.zeros(n_latents, dtype=dtype), w_dec


def train_sae(
    X: Any,
    n_latents: int,
    *,
    l1: float,
    lr: float,
    batch_size: int,
    n_steps: int,
    seed: int,
    backend: str = "numpy",
    dtype: Any = np.float64,
    block_size: int | None = None,
    n_threads: int | None = 1,
    scale: bool = True,
    center: bool = True,
    progress: Callable[[int], None] | None = None,
) -> SAEState:
    """Train the SAE for exactly ``n_steps`` Adam steps on the rows of ``X`` (numpy or dask, (n_samples, n_units)).

    ``center`` subtracts the rows' mean; ``scale=True`` divides by the RMS norm of the (centred) rows (so ``l1``
    is relative to the data's scale); ``progress`` is called with the number of steps done after each step.
    """
    dtype = np.dtype(dtype)
    blocks = iter_blocks(X, block_size)
    mu, s = moments(X, blocks, center=center)
    if not scale:
        s = 1.0
    rng = np.random.default_rng(seed)
    w_enc, b_enc, w_dec = _init(rng, X.shape[1], n_latents, dtype)
    run = _train_torch if backend == "torch" else _train_numpy
    with limit_threads(n_threads, backend):
        state = run(
            X,
            blocks,
            rng,
            w_enc,
            b_enc,
            w_dec,
            s,
            mu.astype(dtype),
            l1=l1,
            lr=lr,
            batch_size=batch_size,
            n_steps=n_steps,
            dtype=dtype,
            progress=progress,
        )
    return state


def _epochs(
    X: Any,
    blocks: list[tuple[int, int]],
    rng: np.random.Generator,
    batch_size: int,
    n_steps: int,
    dtype: np.dtype,
    s: float,
    mu: np.ndarray,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (epoch, batch array) until ``n_steps`` batches were produced; loads one block at a time."""
    step = epoch = 0
    while step < n_steps:
        block = None
        for a, b, rows in _batches(rng, blocks, batch_size):
            if rows is None:
                block = (_load(X, a, b, dtype) - mu) / dtype.type(s)
                continue
            assert block is not None  # _batches announces each block (rows None) before its batches
            yield epoch, block[rows]
            step += 1
            if step >= n_steps:
                return
        epoch += 1


def _train_numpy(
    X: Any,
    blocks: list[tuple[int, int]],
    rng: np.random.Generator,
    w_enc: np.ndarray,
    b_enc: np.ndarray,
    w_dec: np.ndarray,
    s: float,
    mu: np.ndarray,
    *,
    l1: float,
    lr: float,
    batch_size: int,
    n_steps: int,
    dtype: np.dtype,
    progress: Callable[[int], None] | None,
) -> SAEState:
    opt = _NumpyAdam([w_enc, b_enc, w_dec], lr)
    state = SAEState(w_enc, b_enc, w_dec, s, mu)
    losses: list[float] = []
    last_epoch = 0
    for epoch, x in _epochs(X, blocks, rng, batch_size, n_steps, dtype, s, mu):
        if epoch != last_epoch:
            state.loss_curve.append(float(np.mean(losses)))
            losses, last_epoch = [], epoch
        B = x.shape[0]
        pre = x @ w_enc.T + b_enc
        f = np.maximum(pre, 0)
        err = f @ w_dec.T - x
        losses.append(float(np.einsum("ij,ij->", err, err) / B + l1 * f.sum() / B))
        d_xhat = (2.0 / B) * err
        g_dec = d_xhat.T @ f
        d_pre = (d_xhat @ w_dec + l1 / B) * (pre > 0)
        g_enc = d_pre.T @ x
        g_b = d_pre.sum(axis=0)
        g_dec -= np.einsum("ij,ij->j", w_dec, g_dec) * w_dec  # keep the columns on the unit sphere
        opt.step([g_enc, g_b, g_dec])
        w_dec /= np.linalg.norm(w_dec, axis=0, keepdims=True)
        state.n_steps += 1
        if progress is not None:
            progress(state.n_steps)
    if losses:
        state.loss_curve.append(float(np.mean(losses)))
    state.n_epochs = len(state.loss_curve)
    return state


def _train_torch(
    X: Any,
    blocks: list[tuple[int, int]],
    rng: np.random.Generator,
    w_enc: np.ndarray,
    b_enc: np.ndarray,
    w_dec: np.ndarray,
    s: float,
    mu: np.ndarray,
    *,
    l1: float,
    lr: float,
    batch_size: int,
    n_steps: int,
    dtype: np.dtype,
    progress: Callable[[int], None] | None,
) -> SAEState:
    import torch

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    W_enc = torch.tensor(w_enc, dtype=tdtype, requires_grad=True)
    B_enc = torch.tensor(b_enc, dtype=tdtype, requires_grad=True)
    W_dec = torch.tensor(w_dec, dtype=tdtype, requires_grad=True)
    opt = torch.optim.Adam([W_enc, B_enc, W_dec], lr=lr, betas=BETAS, eps=EPS, foreach=False)
    state = SAEState(w_enc, b_enc, w_dec, s, mu)
    losses: list[float] = []
    last_epoch = 0
    for epoch, x in _epochs(X, blocks, rng, batch_size, n_steps, dtype, s, mu):
        if epoch != last_epoch:
            state.loss_curve.append(float(np.mean(losses)))
            losses, last_epoch = [], epoch
        xt = torch.from_numpy(np.ascontiguousarray(x))
        B = xt.shape[0]
        opt.zero_grad(set_to_none=True)
        f = torch.relu(xt @ W_enc.T + B_enc)
        err = f @ W_dec.T - xt
        loss = (err * err).sum() / B + l1 * f.sum() / B
        loss.backward()
        with torch.no_grad():
            g = W_dec.grad
            assert g is not None  # set by loss.backward()
            g -= (W_dec * g).sum(0) * W_dec
        opt.step()
        with torch.no_grad():
            W_dec /= W_dec.norm(dim=0, keepdim=True)
        losses.append(float(loss.detach()))
        state.n_steps += 1
        if progress is not None:
            progress(state.n_steps)
    if losses:
        state.loss_curve.append(float(np.mean(losses)))
    state.n_epochs = len(state.loss_curve)
    state.w_enc = W_enc.detach().numpy().copy()
    state.b_enc = B_enc.detach().numpy().copy()
    state.w_dec = W_dec.detach().numpy().copy()
    return state


def encode(x: np.ndarray, w_enc: np.ndarray, b_enc: np.ndarray, scale: float, mean: np.ndarray) -> np.ndarray:
    """Latents in the data's units: ``s · ReLU(W_enc ((x − μ) / s) + b_enc) = ReLU(W_enc (x − μ) + s · b_enc)``."""
    return np.maximum((x - mean) @ w_enc.T + scale * b_enc, 0)


def sae_statistics(X: Any, state: SAEState, blocks: list[tuple[int, int]]) -> dict[str, Any]:
    """Dead latents (never active on ``X``), L0 (mean active latents per row) and fraction of variance explained.

    Read block by block: FVE = 1 − Σ‖x − x̂‖² / Σ‖x − x̄‖² in the data's units, with x̂ = μ + W_dec f.
    """
    dtype = state.w_enc.dtype
    n, d = X.shape
    active = np.zeros(state.w_enc.shape[0], dtype=bool)
    n_active = 0
    sse = 0.0
    sums = np.zeros(d)
    sumsq = 0.0
    for a, b in blocks:
        block = _load(X, a, b, dtype)
        for i in range(0, b - a, SUB_ROWS):
            x = block[i : i + SUB_ROWS]
            f = encode(x, state.w_enc, state.b_enc, state.scale, state.mean)
            on = f > 0
            active |= on.any(axis=0)
            n_active += int(on.sum())
            err = f @ state.w_dec.T + state.mean - x
            sse += float(np.einsum("ij,ij->", err, err))
            x64 = x.astype(np.float64, copy=False)
            sums += x64.sum(axis=0)
            sumsq += float(np.einsum("ij,ij->", x64, x64))
    sst = sumsq - float(sums @ sums) / n
    return {"dead": ~active, "l0": n_active / n, "fve": 1.0 - sse / sst if sst > 0 else float("nan")}
