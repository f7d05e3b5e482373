"""Representational dissimilarity matrices as xarray: :func:`rdm` from a ResponseSet, :func:`as_rdm` from a
published matrix, and :func:`check_rdm`, the validation every comparison applies.

An RDM is a square float64 ``DataArray`` with dims (``stimulus_a``, ``stimulus_b``), the stimulus ids as coords
on both, the set's other 1-D stimulus coords (``category``, ``label``, ...) along ``stimulus_a``, and attrs
``metric``, ``n_units``, ``n_stimuli`` (plus the provenance :func:`neurosuper._provenance.stamp` sets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .. import prep
from .._gram import is_dask
from .._provenance import stamp
from .._validation import check_choice, responses_of
from ..errors import AnalysisError, fail, preview
from .distances import METRICS, crossnobis_matrix, distance_matrix, noise_precision

__all__ = ["rdm", "as_rdm", "check_rdm", "condensed", "MAX_RDM_BYTES", "NOISE_METHODS"]

#: The largest RDM :func:`rdm` allocates: its matrix and its Gram, 2 × n² × 8 bytes (2 GiB: 11,585 stimuli).
MAX_RDM_BYTES = 2 * 2**30
#: Noise models for ``metric="crossnobis"`` (an explicit precision matrix is accepted too).
NOISE_METHODS = ("shrinkage_diag", "diag", "full", "identity")

_REFERENCE = {
    "correlation": "1 - Pearson r between stimulus patterns (scipy.spatial.distance.pdist 'correlation'; "
    "rsatoolbox calc_rdm method='correlation'); Kriegeskorte et al. 2008 Front Syst Neurosci 2:4",
    "euclidean": "Euclidean distance between stimulus patterns (scipy.spatial.distance.pdist 'euclidean')",
    "cosine": "1 - cosine similarity between stimulus patterns (scipy.spatial.distance.pdist 'cosine')",
    "crossnobis": "cross-validated Mahalanobis distance, leave-one-repeat-out folds, divided by the number of "
    "units, noise precision from residuals shrunk to the diagonal (Walther et al. 2016 "
    "NeuroImage 137:188; rsatoolbox calc_rdm_crossnobis, cov_from_residuals 'shrinkage_diag')",
}


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def _check_size(n: int, *, caller: str, max_bytes: int, extra: int = 0, what: str = "") -> None:
    need = 2 * n * n * 8 + extra
    if need > max_bytes:
        fits = int(np.sqrt(max_bytes / 16))
        raise fail(
            f"{caller}: {n} stimuli",
            f"an RDM that would allocate {_gib(need)} (its matrix and Gram, 2 × n² × 8 bytes{what})",
            f"at most max_bytes = {_gib(max_bytes)} (about {fits} stimuli)",
            "subsample the stimuli, e.g. ds.isel(stimulus=slice(0, None, 10)), or pass a larger "
            "max_bytes= if the memory is there",
            AnalysisError,
        )


def _stimulus_coords(resp: xr.DataArray | xr.Dataset, dim: str = "stimulus") -> dict[str, Any]:
    return {
        str(k): ("stimulus_a", np.asarray(v.values)) for k, v in resp.coords.items() if v.dims == (dim,) and k != dim
    }


def _wrap(d: np.ndarray, ids: np.ndarray, coords: dict[str, Any], attrs: dict[str, Any]) -> xr.DataArray:
    return xr.DataArray(
        d,
        dims=("stimulus_a", "stimulus_b"),
        coords={"stimulus_a": ids, "stimulus_b": ids, **coords},
        name="rdm",
        attrs=attrs,
    )


def rdm(
    ds: xr.Dataset | xr.DataArray,
    *,
    metric: str = "correlation",
    time: Any = None,
    noise: str | np.ndarray = "shrinkage_diag",
    max_bytes: int = MAX_RDM_BYTES,
    progress: bool = True,
) -> xr.DataArray:
    """The representational dissimilarity matrix of a set: distances between its stimulus patterns.

    Parameters
    ----------
    ds
        ResponseSet (or its ``responses``); repeats and time bins are averaged (``time=`` selects a window)
        except for ``crossnobis``, which uses the repeats as folds. numpy or dask data; computed in float64
        whatever the input dtype.
    metric
        ``"correlation"`` (1 − Pearson r between stimulus patterns), ``"euclidean"``, ``"cosine"`` (scipy
        ``pdist``'s definitions) or ``"crossnobis"`` (rsatoolbox's conventions: leave-one-repeat-out folds,
        divided by the number of units, noise precision from the residuals; see
        :mod:`neurosuper.compare.distances`).
    noise
        ``crossnobis`` only: ``"shrinkage_diag"`` (default, rsatoolbox's), ``"diag"``, ``"full"``,
        ``"identity"``, or a (unit × unit) precision matrix.
    max_bytes
        Refuse (saying what it would allocate) an RDM larger than this (default :data:`MAX_RDM_BYTES`).

    Returns
    -------
    xarray.DataArray
        (``stimulus_a``, ``stimulus_b``) float64, dimensionless (correlation/cosine distance) or in the
        responses' units (euclidean; crossnobis: squared units over the noise variance, per unit). Zero diagonal.

    References
    ----------
    Kriegeskorte, Mur & Bandettini 2008 (RSA); Walther et al. 2016 (crossnobis); Nili et al. 2014 (rsatoolbox).
    """
    caller = "rdm"
    check_choice("metric", metric, METRICS, caller=caller)
    resp = responses_of(ds, caller=caller)
    source = ds if isinstance(ds, xr.Dataset) else None
    n = resp.sizes["stimulus"]
    p = resp.sizes["unit"]
    if n < 3:
        raise fail(
            f"{caller}: stimuli",
            f"{n}",
            "at least 3 stimuli (an RDM of fewer has at most one pair)",
            "pass a set with more stimuli",
            AnalysisError,
        )
    extra = 3 * p * p * 8 if metric == "crossnobis" else 0
    _check_size(
        n,
        caller=caller,
        max_bytes=max_bytes,
        extra=extra,
        what=" plus 3 × units² × 8 for the noise precision" if extra else "",
    )
    attrs: dict[str, Any] = {
        "metric": metric,
        "n_units": int(p),
        "n_stimuli": int(n),
        **{k: ds.attrs[k] for k in ("system", "source", "measure") if k in ds.attrs},
    }
    options: dict[str, Any] = {"metric": metric, "time": time}
    if metric == "crossnobis":
        d = _crossnobis(resp, time=time, noise=noise, attrs=attrs, caller=caller)
        options["noise"] = noise if isinstance(noise, str) else "precision matrix"
    else:
        x = prep.trial_average(resp, time=time, caller=caller).transpose("stimulus", "unit").data
        d, norms = distance_matrix(x, metric, progress=progress)
        bad = ~(norms > 0) if metric != "euclidean" else np.zeros(n, bool)
        if bad.any():
            ids = resp["stimulus"].values[bad]
            what = "constant across units" if metric == "correlation" else "all zero"
            raise fail(
                f"{caller}: metric={metric!r}",
                f"{int(bad.sum())} stimulus pattern(s) {what} ({preview(ids)}), whose distance is undefined (0/0)",
                "stimulus patterns that vary across units",
                "drop those stimuli (ds.drop_sel(stimulus=[...])) or use metric='euclidean'",
                AnalysisError,
            )
    out = _wrap(d, np.asarray(resp["stimulus"].values), _stimulus_coords(resp), attrs)
    return stamp(out, analysis="compare.rdm", reference=_REFERENCE[metric], options=options, inputs_from=source)


def _crossnobis(resp: xr.DataArray, *, time: Any, noise: str | np.ndarray, attrs: dict, caller: str) -> np.ndarray:
    if "repeat" not in resp.dims or resp.sizes["repeat"] < 2:
        raise fail(
            f"{caller}: metric='crossnobis'",
            f"{resp.sizes.get('repeat', 1)} repeat(s) per stimulus",
            "a 'repeat' dim with at least two valid repeats (the folds of the cross-validation)",
            "load trials of the same stimulus as repeats, or use metric='correlation'",
            AnalysisError,
        )
    resp = prep.select_time(resp, time, caller=caller)
    data = resp.transpose("repeat", "stimulus", "unit").data
    data = np.asarray(data.compute() if is_dask(data) else data, dtype=np.float64)
    valid = ~np.isnan(data).any(axis=-1)
    counts = valid.sum(axis=0)
    if (counts < 2).any():
        ids = resp["stimulus"].values[counts < 2]
        raise fail(
            f"{caller}: metric='crossnobis'",
            f"{int((counts < 2).sum())} stimuli with fewer than two valid repeats ({preview(ids)})",
            "every stimulus with at least two valid repeats",
            "drop them: ds.drop_sel(stimulus=[...])",
            AnalysisError,
        )
    p = data.shape[-1]
    if isinstance(noise, str):
        check_choice("noise", noise, NOISE_METHODS, caller=caller)
        if noise == "identity":
            precision = None
        else:
            res_var = _residual_variance(data, valid)
            if (res_var <= 0).any():
                ids = resp["unit"].values[res_var <= 0]
                raise fail(
                    f"{caller}: metric='crossnobis', noise={noise!r}",
                    f"{int((res_var <= 0).sum())} "
                    f"unit(s) with no variability across repeats ({preview(ids)}): their noise variance "
                    "is 0 and the precision undefined",
                    "every unit varying across repeats",
                    "drop those units (ds.isel(unit=...)) or pass noise='identity'",
                    AnalysisError,
                )
            precision = noise_precision(data, valid, noise)
    else:
        precision = np.asarray(noise, dtype=np.float64)
        if precision.shape != (p, p) or not np.isfinite(precision).all():
            raise fail(
                f"{caller}: noise",
                f"an array of shape {precision.shape}",
                f"a finite ({p}, {p}) precision matrix (units × units) or one of " + ", ".join(NOISE_METHODS),
                "pass noise='shrinkage_diag'",
                AnalysisError,
            )
    attrs.update(
        {
            "n_folds": int(data.shape[0]),
            "folds": "leave one repeat out",
            "noise": noise if isinstance(noise, str) else "precision matrix given",
        }
    )
    return crossnobis_matrix(data, valid, precision)


def _residual_variance(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    counts = valid.sum(axis=0)
    clean = np.where(valid[..., None], data, 0.0)
    mean = clean.sum(axis=0) / np.maximum(counts, 1)[:, None]
    res = (clean - mean[None])[valid]
    return np.einsum("ij,ij->j", res, res)


def as_rdm(
    matrix: Any,
    *,
    stimulus: Sequence[Any],
    metric: str = "unknown",
    name: str | None = None,
    category: Sequence[Any] | None = None,
) -> xr.DataArray:
    """Bring in an RDM computed elsewhere (a published one): a square matrix or its condensed upper triangle.

    Parameters
    ----------
    matrix
        (n, n) symmetric matrix (its diagonal is ignored by every comparison and set to 0), or the condensed
        vector of its upper triangle of length n(n−1)/2 in scipy's ``squareform`` order
        ((0,1), (0,2), ..., (0,n−1), (1,2), ...).
    stimulus
        The n stimulus ids, in the matrix's order.
    metric
        What the entries are (recorded in attrs).
    category
        Optional labels along the stimuli (for ordering heatmaps).

    Returns
    -------
    xarray.DataArray
        (``stimulus_a``, ``stimulus_b``) float64, as :func:`rdm` returns.
    """
    caller = "as_rdm"
    ids = np.asarray(stimulus)
    n = len(ids)
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim == 1:
        expect = n * (n - 1) // 2
        if m.size != expect:
            k = (1 + np.sqrt(1 + 8 * m.size)) / 2
            hint = f" (a condensed vector of {int(k)} stimuli)" if k == int(k) else ""
            raise fail(
                f"{caller}: condensed vector",
                f"length {m.size}{hint} for {n} stimulus ids",
                f"length n(n-1)/2 = {expect} (scipy squareform order)",
                "pass the ids of every stimulus, in the matrix's order",
                AnalysisError,
            )
        from scipy.spatial.distance import squareform

        m = squareform(m, checks=False)
    elif m.ndim == 2:
        if m.shape != (n, n):
            raise fail(
                f"{caller}: matrix",
                f"shape {m.shape} for {n} stimulus ids",
                f"a square ({n}, {n}) matrix or its condensed upper triangle",
                "pass one id per row, or scipy.spatial.distance.squareform(vector)",
                AnalysisError,
            )
        m = m.copy()
        np.fill_diagonal(m, 0.0)
    else:
        raise fail(
            f"{caller}: matrix",
            f"{m.ndim} dims",
            "a square matrix or a condensed vector",
            "pass a 2-D (n, n) array",
            AnalysisError,
        )
    if len(set(ids.tolist())) != n:
        raise fail(
            f"{caller}: stimulus",
            "repeated ids",
            "one unique id per stimulus",
            "pass unique ids, e.g. stimulus=range(n)",
            AnalysisError,
        )
    coords = {} if category is None else {"category": ("stimulus_a", np.asarray(category))}
    out = _wrap(m, ids, coords, {"metric": metric, "n_stimuli": int(n)})
    if name:
        out.attrs["source"] = str(name)
    check_rdm(out, caller=caller)
    return stamp(
        out, analysis="compare.rdm", reference="imported with neurosuper.compare.as_rdm", options={"metric": metric}
    )


def check_rdm(da: Any, *, caller: str = "compare", name: str = "RDM") -> xr.DataArray:
    """``da`` if it is an RDM (square, same ids on both dims, symmetric, finite off the diagonal); raises
    :class:`AnalysisError` naming the problem otherwise."""
    if not isinstance(da, xr.DataArray) or set(da.dims) != {"stimulus_a", "stimulus_b"}:
        dims = tuple(map(str, da.dims)) if hasattr(da, "dims") else type(da).__name__
        raise fail(
            f"{caller}: {name}",
            f"{dims}",
            "a DataArray with dims (stimulus_a, stimulus_b) from neurosuper.compare.rdm or as_rdm",
            "rdm = neurosuper.compare.as_rdm(matrix, stimulus=ids)",
            AnalysisError,
        )
    da = da.transpose("stimulus_a", "stimulus_b")
    a, b = np.asarray(da["stimulus_a"].values), np.asarray(da["stimulus_b"].values)
    if da.shape[0] != da.shape[1] or a.tolist() != b.tolist():
        raise fail(
            f"{caller}: {name}",
            f"shape {da.shape} with stimulus_a ids {preview(a, 3)} and stimulus_b ids {preview(b, 3)}",
            "a square RDM with the same ids in the same order on both dims",
            "build it with neurosuper.compare.as_rdm(matrix, stimulus=ids)",
            AnalysisError,
        )
    values = np.asarray(da.values)
    bad_count, first_bad, asym, scale = _scan_rdm(values)
    if bad_count:
        i, j = first_bad
        raise fail(
            f"{caller}: {name}",
            f"{bad_count // 2 or 1} NaN/inf entries off the diagonal (first at {a[i].tolist()!r}, {a[j].tolist()!r})",
            "finite dissimilarities for every pair",
            "recompute the RDM without missing stimuli, or drop those stimuli: "
            "rdm.drop_sel(stimulus_a=[...], stimulus_b=[...])",
            AnalysisError,
        )
    if asym > 1e-8 * max(1.0, scale):
        raise fail(
            f"{caller}: {name}",
            f"an asymmetric matrix (largest |D - Dᵀ| = {asym:.3g})",
            "a symmetric RDM",
            "symmetrise it: (D + D.T) / 2",
            AnalysisError,
        )
    return da


#: Rows of an RDM scanned at once by :func:`check_rdm` (bounds its temporaries: rows x stimuli float64).
_SCAN_ROWS = 256


def _scan_rdm(values: np.ndarray) -> tuple[int, tuple[int, int], float, float]:
    """``(non-finite off-diagonal entries, the first one's (row, column), max |D − Dᵀ|, max |D| off the
    diagonal)`` of a square matrix, in float64, one block of :data:`_SCAN_ROWS` rows at a time: each block is
    compared with the matching columns on and above the diagonal only (no n² temporaries; issue 22 §2)."""
    n = values.shape[0]
    bad_count, first, asym, scale = 0, (0, 0), 0.0, 0.0
    for i0 in range(0, n, _SCAN_ROWS):
        i1 = min(n, i0 + _SCAN_ROWS)
        rows = np.arange(i1 - i0)
        block = np.asarray(values[i0:i1], dtype=np.float64)
        finite = np.isfinite(block)
        finite[rows, rows + i0] = True  # the diagonal may hold anything
        if not finite.all():
            where = np.argwhere(~finite)
            if not bad_count:
                first = (int(where[0, 0]) + i0, int(where[0, 1]))
            bad_count += len(where)
            continue
        mag = np.abs(block)
        mag[rows, rows + i0] = 0.0
        scale = max(scale, float(mag.max(initial=0.0)))
        diff = block[:, i0:] - np.asarray(values[i0:, i0:i1], dtype=np.float64).T
        diff[rows, rows] = 0.0
        np.abs(diff, out=diff)
        asym = max(asym, float(diff.max(initial=0.0)))
    return bad_count, first, asym, scale


def condensed(da: xr.DataArray) -> np.ndarray:
    """The upper triangle of an RDM (i < j), in scipy's ``squareform`` order, as float64.

    Copied row by row into the output (no ``triu_indices``: its two int64 index arrays were twice the output, and
    a float64 copy of a float32 RDM another n²; 4,000 stimuli: peak 183 → 61 MB, 2.8× faster; issue 22 §3).
    """
    v = np.asarray(da.values)
    n = v.shape[0]
    out = np.empty(n * (n - 1) // 2, dtype=np.float64)
    pos = 0
    for i in range(n - 1):
        out[pos : pos + n - 1 - i] = v[i, i + 1 :]
        pos += n - 1 - i
    return out
