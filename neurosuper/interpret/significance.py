"""Which units are more interpretable than chance, and is the population? Calibrated tests of the II.

Klindt et al. 2023 (arXiv:2310.11431) rank units by their interpretability index (II) without a test; neurosuper
asks two questions of the random-stimulus null (:mod:`.null`), each with a test whose false-positive rate is at
most its level — measured on no-signal simulations in ``docs/interpret.md``:

*Which units?* Under the random-stimulus null a unit with no tuning has a top-k set that is a uniformly random set of
k distinct stimuli, so its II and the ``n_null`` II values of random sets (``ii_null``, the same sample for every
unit: the null does not depend on the unit) are exchangeable. The unit's permutation p-value is
``p = (1 + #{null ≥ II}) / (1 + n_null)`` (Phipson & Smyth 2010): exact, one-sided, and ties count against the
unit, so a discrete similarity such as labels gives a conservative p, never a small one by a tie. Across units the
p-values are corrected with Benjamini & Hochberg's (1995) false discovery rate (units sharing one null sample, or
overlapping top-k sets, are positively dependent, which BH tolerates; measured in ``docs/interpret.md``).
Drawing a separate null per unit would cost ``n_units`` times more and leave each p-value's distribution as it is.

*Is the population?* A count of units above a threshold is not a test of the population: units are not
independent (correlated units share their top-k sets, so their II move together) and a shared threshold is itself
an estimate. The statistic here is the mean II of all scored units; in each of ``B`` draws the stimuli are
relabelled by a uniform random permutation π — *every* unit's set {s₁ … s_k} becomes {π(s₁) … π(s_k)} under the
same π — so each draw keeps whatever the units share. ``p_population = (1 + #{b : mean_b ≥ mean}) / (1 + B)`` is an
exact test of "the stimuli's similarity is unrelated to the responses", whatever the dependence between units.

The mean over units of ``II(π(S_u))`` is a Mantel-type statistic: a weighted sum over the distinct stimulus pairs
of the units' top-k sets (weight: how many units share the pair) of the relabelled distances. These are read from
a stimulus × stimulus matrix when it is small and cheaper than the look-ups it replaces
(:data:`MATRIX_MAX_STIMULI`), else from the space pair by pair, a block of permutations at a time; the cost is at
most ``B · n_units · k(k − 1)/2`` look-ups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .similarity import Space

__all__ = [
    "N_PERMUTATIONS",
    "MATRIX_MAX_STIMULI",
    "MATRIX_BUDGET",
    "DIRECT_BUDGET",
    "MIN_PERMUTATIONS",
    "FDR",
    "permutation_pvalues",
    "bh_qvalues",
    "relabelling_test",
]

#: Default number of random relabellings of the stimuli (p-value resolution 1 / 1001).
N_PERMUTATIONS = 1000
#: Look-ups the default allows in the matrix (~15 ns each) and distance evaluations without one (more stimuli
#: than MATRIX_MAX_STIMULI: ~1 µs each for a 200-d embedding) ...
MATRIX_BUDGET = 100_000_000
DIRECT_BUDGET = 4_000_000
#: ... by using fewer relabellings, down to this many (p-value resolution 1 / 201).
MIN_PERMUTATIONS = 200
#: Up to this many stimuli the relabelled distances are looked up in a dense float32 matrix (≤ 67 MB).
MATRIX_MAX_STIMULI = 4096
#: Default false discovery rate of the per-unit Benjamini–Hochberg decision.
FDR = 0.05
#: Look-ups per block of permutations (bounds the temporary (permutation, unit, pair) arrays to ~100 MB).
_BLOCK = 2**22
#: Relative tolerance under which a null value counts as equal to the observed one (and so against it); float32
#: matrix sums use 1e-6.
_TOL = 1e-10


def _ge(null: np.ndarray, obs: np.ndarray | float, tol: float = _TOL) -> np.ndarray:
    """``null >= obs`` up to a relative tolerance: sums of the same distances in another order tie."""
    return null >= obs - tol * np.maximum(np.abs(obs), 1.0)


def permutation_pvalues(ii: np.ndarray, null: np.ndarray) -> np.ndarray:
    """``(1 + #{null ≥ ii}) / (1 + n)`` for each value of ``ii`` against one null sample (NaN stays NaN).

    Ties count against ``ii``; NaN null values are dropped. Valid when ``ii`` and the null draws are exchangeable
    under the null hypothesis (a unit with no tuning and random stimulus sets; a direction and random directions).
    """
    ii = np.asarray(ii, dtype=np.float64)
    null = np.sort(np.asarray(null, dtype=np.float64)[np.isfinite(null)])
    obs = ii - _TOL * np.maximum(np.abs(ii), 1.0)
    n_ge = null.size - np.searchsorted(null, np.where(np.isnan(obs), np.inf, obs), side="left")
    return np.where(np.isnan(ii), np.nan, (1.0 + n_ge) / (1.0 + null.size))


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q) of the finite entries of ``p`` (NaN stays NaN, not counted).

    A unit is a discovery at false discovery rate ``fdr`` when ``q ≤ fdr``; BH controls the FDR for independent
    or positively dependent p-values (Benjamini & Yekutieli 2001), as units with overlapping top-k sets have.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():  # as scipy.stats.false_discovery_control(method="bh"), without importing scipy.stats
        v = p[ok]
        order = np.argsort(v, kind="stable")
        m = v.size
        scaled = v[order] * m / np.arange(1, m + 1)
        adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
        out = np.empty(m)
        out[order] = adj
        q[ok] = out
    return q


class _Lookup:
    """Weighted sums of distances between relabelled stimulus pairs, from a float32 matrix when it is small and
    cheaper than the pairs it replaces, else from the space itself.

    ``total(A, B)`` = Σ_pairs count · d(A, B) for each row of (draw, pair) positions ``A``, ``B``. The observed
    statistic and its relabelled values go through the same path, so equal sums stay equal (with label distances,
    0 or 1, every partial sum is an integer, exact in float32 below 2²⁴).
    """

    def __init__(self, space: Space, n_stimuli: int, count: np.ndarray, n_lookups: int) -> None:
        self.space, self.n, self.flat = space, n_stimuli, None
        self.count = count.astype(np.float64)
        if n_stimuli <= MATRIX_MAX_STIMULI and n_stimuli * (n_stimuli - 1) // 2 < n_lookups:
            D = np.empty((n_stimuli, n_stimuli), dtype=np.float32)
            cols = np.arange(n_stimuli)
            step = max(1, _BLOCK // max(n_stimuli, 1) // 8)
            for r0 in range(0, n_stimuli, step):
                D[r0 : r0 + step] = space.pairwise(cols[r0 : r0 + step], cols)
            self.flat = D.ravel()
            self.count = count.astype(np.float32)

    @property
    def matrix(self) -> bool:
        return self.flat is not None

    def positions(self, images: np.ndarray) -> np.ndarray:
        """``images`` in the dtype :meth:`total` wants (int32 for the matrix: n ≤ 4,096 keeps n² below 2³¹)."""
        return images.astype(np.int32) if self.flat is not None else images

    def total(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        if self.flat is not None:
            idx = A * np.int32(self.n)
            idx += B
            return np.asarray(self.flat.take(idx) @ self.count, dtype=np.float64)
        return np.asarray(self.space.distances(A, B), dtype=np.float64) @ self.count


def relabelling_test(
    space: Space, mei: np.ndarray, n_stimuli: int, *, n_permutations: int | None, rng: np.random.Generator
) -> dict[str, Any]:
    """The population test: the mean II of all units against random relabellings of the stimuli.

    Parameters
    ----------
    space
        The similarity :class:`~.similarity.Space` of the set.
    mei
        (unit, k) stimulus positions of each unit's top-k set; rows with a ``-1`` (dead units, too few valid
        stimuli) are left out.
    n_stimuli
        Number of stimuli the positions index.
    n_permutations
        ``B``, the number of random relabellings (each a uniform permutation of all stimulus positions, applied to
        every unit's set at once). ``None``: :data:`N_PERMUTATIONS`, or fewer (at least :data:`MIN_PERMUTATIONS`)
        when they would need more than :data:`MATRIX_BUDGET` look-ups in the matrix or :data:`DIRECT_BUDGET`
        distance evaluations without one.
    rng
        Source of the permutations.

    Returns
    -------
    dict
        ``mean``: the mean II of the scored units (through the same look-ups as the draws; equal to the mean of
        :func:`.null.ii_from_mei` up to rounding); ``null_mean`` (B,): that mean in each relabelling;
        ``p_population``: ``(1 + #{b : null_mean_b ≥ mean}) / (1 + B)``; ``n_units``: the units scored (NaN
        values when none is); ``n_permutations``: B.
    """
    mei = np.asarray(mei, dtype=np.int64)
    k = mei.shape[1]
    S = mei[(mei >= 0).all(axis=1)]
    m = S.shape[0]
    if m == 0:
        B = N_PERMUTATIONS if n_permutations is None else n_permutations
        nan = {"mean": np.nan, "null_mean": np.full(B, np.nan), "p_population": np.nan}
        return {**nan, "n_units": 0, "n_permutations": B}
    iu, ju = np.triu_indices(k, 1)
    a, b = S[:, iu].ravel(), S[:, ju].ravel()
    # mean over units of II = - sum over distinct stimulus pairs of (units sharing the pair) x distance / (m P)
    key, count = np.unique(np.minimum(a, b) * n_stimuli + np.maximum(a, b), return_counts=True)
    used, inv = np.unique(np.concatenate([key // n_stimuli, key % n_stimuli]), return_inverse=True)
    la, lb = inv[: key.size], inv[key.size :]
    scale = float(m * iu.size)  # mean II = - total / scale
    B = N_PERMUTATIONS if n_permutations is None else n_permutations
    lookup = _Lookup(space, n_stimuli, count, B * key.size)
    if n_permutations is None:
        budget = MATRIX_BUDGET if lookup.matrix else DIRECT_BUDGET
        B = min(B, max(MIN_PERMUTATIONS, budget // key.size))
    pos = lookup.positions(used)
    mean = -float(lookup.total(pos[la][None], pos[lb][None])[0]) / scale
    null_mean = np.empty(B)
    block = max(1, _BLOCK // key.size)
    for b0 in range(0, B, block):
        c = min(block, B - b0)
        if 4 * used.size < n_stimuli:  # where a uniform permutation sends the used stimuli: distinct, uniform
            images = np.stack([rng.choice(n_stimuli, size=used.size, replace=False) for _ in range(c)])
        else:
            images = rng.permuted(np.broadcast_to(np.arange(n_stimuli), (c, n_stimuli)), axis=1)[:, used]
        images = lookup.positions(images)
        null_mean[b0 : b0 + c] = -lookup.total(images.take(la, axis=1), images.take(lb, axis=1)) / scale
    tol = 1e-6 if lookup.matrix else _TOL  # float32 sums: rounding ~1e-7 of the total
    p = (1.0 + float(_ge(null_mean, np.float64(mean), tol).sum())) / (1.0 + B)
    return {"mean": mean, "null_mean": null_mean, "p_population": p, "n_units": m, "n_permutations": B}
