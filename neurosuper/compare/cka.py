"""Linear CKA and the Procrustes shape distance between two sets, as xarray Datasets (kernels:
:mod:`neurosuper.compare.linear`).

Both sets are matched on shared stimulus ids, averaged over repeats (and time), and compared whole or per
unit group (``groupby="auto"``: ``layer`` of a network, ``area`` of a brain): a result has one dim per grouped
set, named after its coord (``layer``, ``area``; ``layer_a``/``layer_b`` when both use the same name).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .. import prep
from .._provenance import stamp
from .._validation import check_choice, responses_of
from ..errors import AnalysisError, NeurosuperWarning, fail
from .align import align
from .linear import PairStats, choose_form, linear_pairs

__all__ = ["cka", "procrustes", "MAX_GRAM_BYTES", "CKA_CHANCE_WARN", "cka_chance"]

#: Largest Gram the feature form accumulates ((units_a + units_b)² × 8 bytes; 2 GiB: 16,384 units in all),
#: and the largest set of stimulus Grams the Gram form holds.
MAX_GRAM_BYTES = 2 * 2**30

#: Biased linear CKA warns when its chance level — its expected value for two unrelated sets with these spectra,
#: :func:`cka_chance` — exceeds this (e.g. two independent Gaussian sets of 30 stimuli × 500 units: ≈ 0.95).
CKA_CHANCE_WARN = 0.25

REFERENCE_CKA = "Kornblith et al. 2019 ICML (linear CKA); debiased: unbiased HSIC of Song et al. 2012 JMLR 13:1393"
REFERENCE_PROCRUSTES = "Williams et al. 2021 NeurIPS, Generalized shape metrics on neural representations"


@dataclass
class Prepared:
    """Two sets matched on stimuli and averaged: (stimulus, unit) DataArrays and their unit groups."""

    a: xr.DataArray
    b: xr.DataArray
    groups_a: list[tuple[Hashable, np.ndarray]]
    groups_b: list[tuple[Hashable, np.ndarray]]
    coord_a: str | None
    coord_b: str | None
    source_a: xr.Dataset | None
    source_b: xr.Dataset | None


def prepare(a: Any, b: Any, *, groupby: str | None, time: Any, caller: str) -> Prepared:
    """Validate, align on shared stimulus ids, trial-average, and list the unit groups of both sets."""
    ra = responses_of(a, caller=caller)
    rb = responses_of(b, caller=caller)
    ra, rb = align(ra, rb, names=["a", "b"], caller=caller)
    xa = prep.trial_average(ra, time=time, caller=caller)
    xb = prep.trial_average(rb, time=time, caller=caller)
    if groupby is None:
        ca = cb = None
    elif groupby == "auto":
        ca, cb = prep.group_coord(xa, "auto"), prep.group_coord(xb, "auto")
    else:
        ca = groupby if groupby in xa.coords else None
        cb = groupby if groupby in xb.coords else None
        if ca is None and cb is None:
            prep.group_coord(xa, groupby)  # raises, naming the coords there are
    whole = [(None, np.arange(xa.sizes["unit"]))]
    ga = whole + (prep.unit_groups(xa, ca) if ca else [])
    gb = [(None, np.arange(xb.sizes["unit"]))] + (prep.unit_groups(xb, cb) if cb else [])
    return Prepared(
        a=xa,
        b=xb,
        groups_a=ga,
        groups_b=gb,
        coord_a=ca,
        coord_b=cb,
        source_a=a if isinstance(a, xr.Dataset) else None,
        source_b=b if isinstance(b, xr.Dataset) else None,
    )


def _check_memory(p: Prepared, form: str, caller: str) -> None:
    n = p.a.sizes["stimulus"]
    units = p.a.sizes["unit"] + p.b.sizes["unit"]
    need = units**2 * 8 if form == "feature" else (len(p.groups_a) + len(p.groups_b)) * n * n * 8 * 2
    if need > MAX_GRAM_BYTES:
        raise fail(
            f"{caller}: {n} stimuli × {units} units in all",
            f"a {form}-form computation that would allocate {need / 2**30:.2f} GiB",
            f"at most MAX_GRAM_BYTES = {MAX_GRAM_BYTES / 2**30:.0f} GiB",
            "compare per layer/area (select units), or subsample the stimuli",
            AnalysisError,
        )


def pair_stats(
    p: Prepared,
    *,
    cka: bool = True,
    debiased: bool,
    procrustes: bool,
    progress: bool,
    caller: str,
    precision: str = "float64",
) -> PairStats:
    n = p.a.sizes["stimulus"]
    if debiased and n < 4:
        raise fail(
            f"{caller}: stimuli",
            f"{n}",
            "at least 4 stimuli for the debiased estimator (it divides by n(n-3))",
            "use debiased=False or more stimuli",
            AnalysisError,
        )
    form = choose_form(n, p.groups_a, p.groups_b, cka=cka, procrustes=procrustes)
    _check_memory(p, form, caller)
    return linear_pairs(
        p.a.data,
        p.b.data,
        p.groups_a,
        p.groups_b,
        cka=cka,
        debiased=debiased,
        procrustes=procrustes,
        form=form,
        progress=progress,
        precision=precision,
    )


def _dims(p: Prepared) -> tuple[str | None, str | None]:
    da, db = p.coord_a, p.coord_b
    if da is not None and da == db:
        return f"{da}_a", f"{db}_b"
    return da, db


def pairs_array(values: np.ndarray, p: Prepared, name: str) -> xr.DataArray:
    """(groups_a, groups_b) values → a DataArray: a scalar for the whole sets, else one dim per grouped set."""
    da, db = _dims(p)
    whole = xr.DataArray(values[0, 0], name=name)
    if da is None and db is None:
        return whole
    rows = slice(1, None) if da else slice(0, 1)
    cols = slice(1, None) if db else slice(0, 1)
    block = values[rows, cols]
    dims, coords = [], {}
    if da:
        dims.append(da)
        coords[da] = [g for g, _ in p.groups_a[1:]]
    else:
        block = block[0]
    if db:
        dims.append(db)
        coords[db] = [g for g, _ in p.groups_b[1:]]
    elif da:
        block = block[:, 0]
    out = xr.DataArray(block, dims=dims, coords=coords, name=name)
    out.coords[f"{name}_whole"] = whole.item()
    return out


def cka_chance(stats: PairStats) -> np.ndarray:
    """(groups_a, groups_b) chance level of biased linear CKA: its expectation over random pairings of the two
    sets' stimuli, ``tr K · tr L / ((n − 1) ‖K‖_F ‖L‖_F)`` for the centred Grams ``K``, ``L``.

    With ``K`` centred (rows sum to 0) the mean of ``⟨K, P L Pᵀ⟩`` over permutations ``P`` is
    ``tr K tr L / (n − 1)``, and the norms do not depend on ``P``. ``tr K / ‖K‖_F`` is the square root of the
    participation ratio of the set's eigenspectrum, so the chance level is ``√(PR_a PR_b) / (n − 1)``: near 1
    when both sets have about as many effective dimensions as stimuli (independent isotropic sets of n
    stimuli × p, q units: ``1 / √((1 + (n−1)/p)(1 + (n−1)/q))`` — 0.95 for 30 × 500), near 0 when there are
    many more stimuli than dimensions. The debiased estimator's chance level is ≈ 0."""
    if stats.gram_norm_a is None or stats.gram_norm_b is None:
        return np.full(stats.cka.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.outer(stats.norm2_a / stats.gram_norm_a, stats.norm2_b / stats.gram_norm_b) / (stats.n - 1)


def warn_cka_chance(stats: PairStats, p: Prepared, caller: str, *, fix: str) -> float:
    """Warn when the biased CKA's chance level exceeds :data:`CKA_CHANCE_WARN` (whole sets or any pair); the
    largest chance level is returned."""
    chance = cka_chance(stats)
    worst = float(np.nanmax(chance)) if np.isfinite(chance).any() else np.nan
    if np.isfinite(worst) and worst > CKA_CHANCE_WARN:
        where = "" if worst == chance[0, 0] else " (for the worst pair of groups)"
        warnings.warn(
            f"{caller}: biased linear CKA is inflated here: {stats.n} stimuli against "
            f"{p.a.sizes['unit']} and {p.b.sizes['unit']} units, and two unrelated sets with these spectra would "
            f"score {worst:.2f}{where} (its chance level, above CKA_CHANCE_WARN = {CKA_CHANCE_WARN}). {fix}",
            NeurosuperWarning,
            stacklevel=3,
        )
    return worst


def _attrs(p: Prepared, stats: PairStats) -> dict[str, Any]:
    return {
        "form": stats.form,
        "n_stimuli": int(stats.n),
        "n_units_a": int(p.a.sizes["unit"]),
        "n_units_b": int(p.b.sizes["unit"]),
        "groupby_a": p.coord_a or "none",
        "groupby_b": p.coord_b or "none",
        "system_a": p.a.attrs.get("system", (p.source_a.attrs.get("system") if p.source_a is not None else None))
        or "unknown",
        "system_b": p.b.attrs.get("system", (p.source_b.attrs.get("system") if p.source_b is not None else None))
        or "unknown",
    }


def cka(
    a: Any,
    b: Any,
    *,
    debiased: bool = False,
    groupby: str | None = "auto",
    time: Any = None,
    progress: bool = True,
    precision: str = "float64",
) -> xr.Dataset:
    """Linear centred kernel alignment between two sets (Kornblith et al. 2019), optionally debiased.

    Parameters
    ----------
    a, b
        ResponseSets (or ``responses``), matched on shared stimulus ids, averaged over repeats and time
        (``time=`` selects a window). numpy or dask: the feature form reads the stimuli block by block (two
        layers of 200,000 stimuli × 4,096 units need the 8,192² Gram, 512 MiB, plus one block).
    debiased
        Use Song et al. 2012's unbiased HSIC (then CKA of independent sets is ≈ 0 for any n; the biased
        estimate of independent Gaussian sets of 64 stimuli × 200 units is ≈ 0.8).
    groupby
        ``"auto"`` (``layer`` of each set, else ``area``, else the whole set), a unit coord name, or ``None``
        (whole sets only).
    precision
        ``"float64"`` (default, the exact path) or ``"float32"``: for the biased estimator in feature form
        (stimuli ≥ units), the unit × unit products in float32 — each block of stimuli centred in float64, then
        multiplied in float32 (≈ 2× the speed: half the memory traffic, twice the SIMD width), the blocks'
        products accumulated in float64. Biased CKA is a ratio of sums of squares (no cancellation): measured
        within 1e-6 of float64 — at most 1.3e-7 — on Gaussian, correlated, offset (mean 10 SD) and heavy-tailed
        (Student t₃) sets up to 5,000 × 2,048 (tests/test_kernels.py, benchmarks/bench_kernels.py). The debiased
        estimator subtracts nearly equal terms (float32 products moved it by up to 3.3e-6 on heavy-tailed data),
        so ``debiased=True`` keeps float64 products, as does the Gram form; attr ``precision`` says which ran.

    Returns
    -------
    xarray.Dataset
        ``cka``: dimensionless CKA in [0, 1] (debiased: can be slightly negative), a scalar, or dims per grouped
        set (e.g. (``layer``, ``area``)) with the whole-set value as coord ``cka_whole``. Attrs ``form``
        (``"feature"`` — units × units products, chosen when it needs fewer flops, e.g. whole sets with
        units_a + units_b ≤ stimuli — else ``"gram"``), ``n_stimuli``, ``debiased``, and for the biased
        estimator ``chance`` (the whole sets' chance level, :func:`cka_chance`).

    Warns
    -----
    NeurosuperWarning
        Biased CKA whose chance level exceeds :data:`CKA_CHANCE_WARN` — typically more units than stimuli
        (two independent sets of 30 stimuli × 500 units score ≈ 0.95): use ``debiased=True``.
    """
    caller = "cka"
    check_choice("precision", precision, ["float64", "float32"], caller=caller)
    p = prepare(a, b, groupby=groupby, time=time, caller=caller)
    used = "float32" if precision == "float32" and not debiased else "float64"
    if (
        used == "float32"
        and choose_form(p.a.sizes["stimulus"], p.groups_a, p.groups_b, cka=True, procrustes=False) != "feature"
    ):
        used = "float64"
    stats = pair_stats(p, debiased=debiased, procrustes=False, progress=progress, caller=caller, precision=used)
    values = stats.cka
    if debiased:
        assert stats.cka_debiased is not None  # computed by pair_stats(debiased=True)
        values = stats.cka_debiased
    out = xr.Dataset({"cka": pairs_array(values, p, "cka")})
    out.attrs.update({**_attrs(p, stats), "debiased": bool(debiased), "precision": used})
    if not debiased:
        warn_cka_chance(
            stats, p, caller, fix="Use debiased=True (Song et al. 2012's unbiased HSIC: ≈ 0 for unrelated sets)."
        )
        out.attrs["chance"] = float(cka_chance(stats)[0, 0])
    return stamp(
        out,
        analysis="compare.cka",
        reference=REFERENCE_CKA,
        options={"debiased": debiased, "groupby": groupby, "time": time, "precision": precision},
        inputs_from=p.source_a,
    )


def procrustes_values(nuclear: np.ndarray, norm2_a: np.ndarray, norm2_b: np.ndarray, scale: bool) -> np.ndarray:
    """Angular shape distance (``scale``) or size-and-shape distance from the nuclear norms ‖YᵀX‖_*."""
    if scale:
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = nuclear / np.sqrt(norm2_a[:, None] * norm2_b[None, :])
        return np.arccos(np.clip(cos, -1.0, 1.0))
    return np.sqrt(np.maximum(norm2_a[:, None] + norm2_b[None, :] - 2 * nuclear, 0.0))


def warn_degenerate(n: int, p: Prepared, caller: str) -> bool:
    wide = [name for name, x in (("a", p.a), ("b", p.b)) if x.sizes["unit"] >= n - 1]
    if wide:
        verb = "have" if len(wide) > 1 else "has"
        warnings.warn(
            f"{caller}: {' and '.join(wide)} {verb} at least as many units as stimuli ({n}): an orthogonal "
            "rotation then fits nearly any configuration onto another (the Grams of wide random sets are "
            "nearly proportional to the identity), so the in-sample Procrustes distance shrinks towards 0 "
            "for unrelated sets. Compare more stimuli than units, or fewer units (e.g. a PCA), and "
            "judge it against a shuffled baseline.",
            NeurosuperWarning,
            stacklevel=3,
        )
    return bool(wide)


def procrustes(
    a: Any, b: Any, *, scale: bool = True, groupby: str | None = "auto", time: Any = None, progress: bool = True
) -> xr.Dataset:
    """Procrustes shape distance between two sets (Williams et al. 2021).

    Both are centred per unit (and with ``scale`` divided by their Frobenius norm), zero-padded to equal
    width and optimally rotated onto each other; the distance needs only the nuclear norm ‖YᵀX‖_*.

    Parameters
    ----------
    a, b
        ResponseSets (or ``responses``) matched on shared stimulus ids; averaged over repeats/time.
    scale
        ``True``: the angular shape distance ``arccos(‖YᵀX‖_* / (‖X‖‖Y‖))`` in radians, [0, π/2].
        ``False``: the size-and-shape distance ``min_Q ‖X − YQ‖_F`` in the responses' units.
    groupby
        As :func:`cka`.

    Returns
    -------
    xarray.Dataset
        ``distance`` (and ``similarity`` = ‖YᵀX‖_* / (‖X‖‖Y‖), the cosine of the angle), scalars or per
        group pair. When units ≥ stimuli the in-sample distance is degenerate (an orthogonal map overfits; it
        tends to 0 for unrelated wide sets): warned, attr ``degenerate``.
    """
    caller = "procrustes"
    check_choice("scale", scale, [True, False], caller=caller)
    p = prepare(a, b, groupby=groupby, time=time, caller=caller)
    stats = pair_stats(p, cka=False, debiased=False, procrustes=True, progress=progress, caller=caller)
    degenerate = warn_degenerate(stats.n, p, caller)
    dist = procrustes_values(stats.nuclear, stats.norm2_a, stats.norm2_b, scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = stats.nuclear / np.sqrt(stats.norm2_a[:, None] * stats.norm2_b[None, :])
    out = xr.Dataset({"distance": pairs_array(dist, p, "distance"), "similarity": pairs_array(sim, p, "similarity")})
    out.attrs.update(
        {
            **_attrs(p, stats),
            "scale": bool(scale),
            "degenerate": degenerate,
            "units": "radians (angular shape distance)" if scale else "the responses' units",
        }
    )
    return stamp(
        out,
        analysis="compare.procrustes",
        reference=REFERENCE_PROCRUSTES,
        options={"scale": scale, "groupby": groupby, "time": time},
        inputs_from=p.source_a,
    )
