"""``summary``: the headline numbers of spectral results as a JSON-safe dict (for the CLI, the demo and the report).

Numbers are rounded by :func:`neurosuper._numbers.rounded` (4 significant digits, the rule of every summary),
non-finite values become ``None``, numpy scalars become Python numbers. A value computed per group (a
``layer``/``area`` dim) becomes ``{group: value}``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import xarray as xr

from .._numbers import rounded
from ..errors import AnalysisError
from .dims import participation_ratio
from .fit import point_spectrum

__all__ = ["summary", "combined"]


def _value(da: xr.DataArray, skip: tuple[str, ...] = ()) -> Any:
    """A scalar, ``{group: value}`` along one non-``skip`` dim, or a nested list otherwise."""
    dims = [d for d in da.dims if d not in skip]
    if not dims:
        return rounded(da.values.item()) if da.ndim == 0 else rounded(da.values)
    if len(dims) == 1 and not skip:
        g = dims[0]
        return {str(lab): rounded(v) for lab, v in zip(da[g].values.tolist(), da.values.tolist(), strict=True)}
    if len(dims) == 1:
        g = dims[0]
        return {str(lab): rounded(da.isel({g: i}).values) for i, lab in enumerate(da[g].values.tolist())}
    return rounded(da.values)


def _group_dim(da: xr.DataArray, skip: tuple[str, ...]) -> Hashable | None:
    rest = [d for d in da.dims if d not in skip]
    return rest[0] if rest else None


def _info(spec: xr.Dataset, key: str) -> Any:
    if key in spec.attrs:
        return rounded(spec.attrs[key])
    if key in spec.coords:  # per group: a coord along the group dim
        c = spec[key]
        g = c.dims[0]
        return {str(lab): rounded(v) for lab, v in zip(spec[g].values.tolist(), c.values.tolist(), strict=True)}
    return None


def _spectrum(spec: xr.Dataset, include_spectrum: bool) -> dict[str, Any]:
    point, _ = point_spectrum(spec)
    out: dict[str, Any] = {
        "participation_ratio": _value(participation_ratio(spec)),
        "method": spec.attrs.get("method"),
        "n_stimuli": _info(spec, "n_stimuli"),
        "n_units": _info(spec, "n_units"),
    }
    if include_spectrum:
        g = _group_dim(point, ("rank",))
        if g is None:
            out["variance"] = [v for v in rounded(point.values) if v is not None]
        else:
            out["variance"] = {
                str(lab): [v for v in rounded(point.sel({g: lab}).values) if v is not None]
                for lab in point[g].values.tolist()
            }
    return out


def _powerlaw(fit: xr.Dataset) -> dict[str, Any]:
    alpha = fit["alpha"]
    g = _group_dim(alpha, ())
    if "alpha_ci" in fit:
        ci = fit["alpha_ci"]
        if g is None:
            alpha_ci = rounded(ci.values)
        else:
            alpha_ci = {str(lab): rounded(ci.sel({g: lab}).values) for lab in fit[g].values.tolist()}
    else:
        alpha_ci = None
    ranks = fit.attrs.get("ranks")
    out = {
        "alpha": _value(alpha),
        "alpha_ci": alpha_ci,
        "ranks": rounded(ranks) if ranks is not None else None,
        "r2": _value(fit["r2"]),
    }
    unfit = fit.attrs.get("not_fittable")
    if isinstance(unfit, dict) and unfit:  # groups with too few ranks: alpha None, and why
        out["alpha_not_fittable"] = {str(k): str(v) for k, v in unfit.items()}
    return out


def _one(result: xr.Dataset | xr.DataArray, include_spectrum: bool) -> dict[str, Any]:
    if isinstance(result, xr.DataArray):
        return {str(result.name or result.attrs.get("analysis", "value")): _value(result)}
    if not isinstance(result, xr.Dataset):
        raise AnalysisError(
            f"summary: found a {type(result).__name__}; expected a result of neurosuper.spectral "
            "(an xarray Dataset or DataArray). Fix: summary(eigenspectrum(ds), powerlaw(spec))."
        )
    out: dict[str, Any] = {}
    if "variance" in result:
        out.update(_spectrum(result, include_spectrum))
    if "alpha" in result and "r2" in result:
        out.update(_powerlaw(result))
    if "alpha_bound" in result:  # smoothness
        out.update({k: _value(result[k]) for k in ("alpha", "d", "alpha_bound", "margin", "smooth", "decided")})
        if "d_ci" in result:
            out["d_ci"] = rounded(result["d_ci"].values)
    elif "d" in result and "d_ci" in result:  # intrinsic_dimension
        out.update(
            {
                "d": _value(result["d"]),
                "d_ci": rounded(result["d_ci"].values),
                "d_ci_method": result.attrs.get("ci_method"),
            }
        )
    if "effective_rank" in result:  # dimensionality
        out.update({k: _value(result[k]) for k in ("participation_ratio", "effective_rank", "n_components")})
    if "reliability" in result:
        out.update(
            {
                "signal_fraction": _value(result["signal_fraction"]),
                "median_reliability": rounded(float(result["reliability"].median(skipna=True))),
                "n_stimuli": rounded(result.attrs.get("n_stimuli")),
                "n_units": int(result.sizes["unit"]),
            }
        )
    if "energy" in result:
        out.update({"energy": _value(result["energy"]), "energy_population": _value(result["energy_population"])})
    if "entropy_bound" in result:
        out.update({k: _value(result[k]) for k in ("entropy_bound", "capacity", "redundancy")})
    if not out:
        raise AnalysisError(
            f"summary: found a Dataset with variables {sorted(map(str, result.data_vars))}; expected "
            "a result of neurosuper.spectral. Fix: pass eigenspectrum(), powerlaw(), "
            "reliability(), ... results."
        )
    return out


def summary(
    result: xr.Dataset | xr.DataArray, *more: xr.Dataset | xr.DataArray, include_spectrum: bool = False
) -> dict[str, Any]:
    """Headline numbers of one or more spectral results, as one JSON-safe dict (later results win a key).

    * :func:`eigenspectrum`: ``participation_ratio``, ``method``, ``n_stimuli``, ``n_units`` (and, with
      ``include_spectrum=True``, ``variance``: the point estimate per rank, NaN ranks left out);
    * :func:`powerlaw`: ``alpha``, ``alpha_ci`` ([lower, upper] or None), ``ranks`` ([first, last]), ``r2``
      (and, per group, ``alpha_not_fittable``: ``{group: why}`` of the groups whose α is None: fewer than
      :data:`~neurosuper.spectral.fit.MIN_FIT_RANKS` ranks to fit);
    * :func:`dimensionality`, :func:`reliability` (``signal_fraction``, ``median_reliability``),
      :func:`smoothness`, :func:`intrinsic_dimension`, :func:`random_projection` (``energy``),
      :func:`redundancy`; a DataArray (e.g. :func:`participation_ratio`) gives ``{name: value}``.

    Values per group (``layer``/``area``) are ``{group: value}`` dicts. ``summary(spec, fit)`` is what
    ``neurosuper spectrum --json`` prints.
    """
    out: dict[str, Any] = {}
    for r in (result, *more):
        out.update(_one(r, include_spectrum))
    return out


def combined(spec: xr.Dataset, fit: xr.Dataset | None = None) -> xr.Dataset:
    """An eigenspectrum and its power-law fit (without the bootstrap replicates) in one Dataset, for saving; its
    ``analyses`` attr names both."""
    parts = [spec] if fit is None else [spec, fit.drop_vars(["alpha_boot"], errors="ignore")]
    result = xr.merge(parts, combine_attrs="drop_conflicts")
    result.attrs["analyses"] = ", ".join(str(p.attrs.get("analysis", "?")) for p in parts)
    return result
