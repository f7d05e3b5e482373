"""Random projections of a population along an ordered stimulus sequence, trajectory energy, circle population.

Following ``PAPERS.md`` §1 (Marshall & Kirchner 2024; the authors' code was lost, this is neurosuper's
documented reconstruction): with population responses ``a_t`` (m units) along an ordered stimulus sequence
t = 1..T and a Gaussian matrix ``P`` (m × n_dims, entries N(0, 1/m)), the projected trajectory is
``y_t = Pᵀ(a_t − ā)``, and its energy

    E = (T − 1)² · Σ_{t=1}^{T−1} ‖y_{t+1} − y_t‖² / Σ_t ‖y_t − ȳ‖²

is dimensionless and comparable across population sizes; it stays finite as T grows only for a smooth code.
``E[PPᵀ] = I/m``, so the energy of the unprojected population (``energy_population``) is what the projected
energy fluctuates around.

Circle population (Stringer et al. 2019, Fig. 4 simulation): units cos(kθ) and sin(kθ) with amplitude
k^(−α/2), k = 1, 2, ...: its covariance eigenvalues are k^(−α)/2 (each twice) for T > 2k evenly spaced angles,
and E → (2π)² Σ_k k^(2−α) / Σ_k k^(−α), finite only for α > 3 = 1 + 2/d with d = 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._provenance import stamp
from ..errors import AnalysisError
from ..prep import group_coord, repeat_mean, responses, unit_groups

__all__ = ["random_projection", "trajectory_energy", "circle_population", "circle_energy"]


def trajectory_energy(y: np.ndarray) -> float:
    """E = (T−1)² Σ_t ‖y_{t+1} − y_t‖² / Σ_t ‖y_t − ȳ‖² of a trajectory ``y`` (T × dims)."""
    y = np.asarray(y, dtype=np.float64)
    t = y.shape[0]
    spread = ((y - y.mean(axis=0)) ** 2).sum()
    if t < 2 or spread <= 0:
        raise AnalysisError(
            f"trajectory_energy: found {t} points with total variance {spread:.3g}; expected at "
            "least 2 distinct points. Fix: pass an ordered sequence of several stimuli."
        )
    return float((t - 1) ** 2 * (np.diff(y, axis=0) ** 2).sum() / spread)


def _order(resp: xr.DataArray, order: Any) -> np.ndarray:
    n = resp.sizes["stimulus"]
    if order is None:
        return np.arange(n)
    if isinstance(order, str):
        if order not in resp.coords or resp[order].dims != ("stimulus",):
            raise AnalysisError(
                f"random_projection: order={order!r} is not a coord on 'stimulus'; expected a "
                "stimulus coord to sort by (e.g. 'angle') or a sequence of stimulus ids. Fix: "
                "ds.assign_coords(angle=('stimulus', values))."
            )
        return np.argsort(np.asarray(resp[order].values), kind="stable")
    ids = list(np.asarray(order).tolist())
    index = {v: i for i, v in enumerate(resp["stimulus"].values.tolist())}
    missing = [v for v in ids if v not in index]
    if missing:
        raise AnalysisError(
            f"random_projection: order lists {len(missing)} unknown stimulus ids (e.g. {missing[:3]}); "
            "expected ids of the set's 'stimulus' coord. Fix: pass ds.stimulus values in order."
        )
    return np.array([index[v] for v in ids])


def random_projection(
    ds: xr.Dataset,
    *,
    n_dims: int = 3,
    order: Any = None,
    seed: int = 0,
    time: Any = None,
    groupby: str | None = "auto",
) -> xr.Dataset:
    """Project the population onto ``n_dims`` random Gaussian directions along an ordered stimulus sequence.

    Parameters
    ----------
    ds
        A ResponseSet (repeats averaged, time averaged unless ``time=`` selects).
    n_dims
        Number of random directions (3 for a 3-D figure).
    order
        The stimulus sequence: ``None`` (the set's order), the name of a stimulus coord to sort by
        (e.g. ``"angle"``), or a sequence of stimulus ids.
    seed
        Seeds the Gaussian directions.
    groupby
        ``"auto"`` (default): ``layer``, else ``area``, else none; ``"layer"``, ``"area"`` (or any 1-D coord on
        ``unit``): one projection per group along a dim of that name; ``None``: all units.

    Returns
    -------
    xarray.Dataset
        ``projection(stimulus, component)`` (the trajectory y_t in sequence order), ``energy`` (E of the
        projection), ``energy_population`` (E of the centred population itself, the n_dims → ∞ limit).

    Notes
    -----
    Dask: loads the data — the repeat-averaged (stimulus, unit) matrix is computed into memory (one ordered
    sequence of stimuli is what a trajectory needs; select stimuli or time first for a very large set).
    """
    if not isinstance(n_dims, int | np.integer) or n_dims < 1:
        raise AnalysisError(f"random_projection: n_dims={n_dims!r}; expected an integer >= 1.")
    resp = responses(ds, time=time, caller="random_projection")
    groupby_requested = groupby
    groupby = group_coord(resp, groupby)
    idx = _order(resp, order)
    x_all = repeat_mean(resp)
    x_all = np.asarray(x_all.compute() if hasattr(x_all, "compute") else x_all, dtype=np.float64)[idx]
    projs, energies, pops, labels = [], [], [], []
    for label, units in unit_groups(resp, groupby):
        x = x_all[:, units]
        m = x.shape[1]
        xc = x - x.mean(axis=0)
        p = np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(m), size=(m, n_dims))
        y = xc @ p
        projs.append(y)
        energies.append(trajectory_energy(y))
        pops.append(trajectory_energy(xc))
        labels.append(label)
    stim = resp["stimulus"].values[idx]
    comp = np.arange(1, n_dims + 1)
    attrs = {
        "n_dims": int(n_dims),
        "seed": int(seed),
        "order": order if isinstance(order, str) else ("set order" if order is None else "given ids"),
        "energy_definition": "(T-1)^2 * sum ||y[t+1]-y[t]||^2 / sum ||y[t]-mean(y)||^2",
    }
    if groupby is None:
        out = xr.Dataset(
            {"projection": (("stimulus", "component"), projs[0]), "energy": energies[0], "energy_population": pops[0]},
            coords={"stimulus": stim, "component": comp},
            attrs=attrs,
        )
    else:
        out = xr.Dataset(
            {
                "projection": ((groupby, "stimulus", "component"), np.stack(projs)),
                "energy": (groupby, energies),
                "energy_population": (groupby, pops),
            },
            coords={groupby: labels, "stimulus": stim, "component": comp},
            attrs=attrs,
        )
    options = {
        "n_dims": n_dims,
        "order": order if order is None or isinstance(order, str) else "given ids",
        "seed": seed,
        "time": None if time is None else str(time),
        "groupby": groupby_requested,
    }
    return stamp(
        out,
        analysis="random_projection",
        reference="Marshall & Kirchner 2024 arXiv:2401.17975 (reconstruction, PAPERS.md 1)",
        options=options,
        inputs_from=ds,
    )


def circle_population(alpha: float, n_angles: int, n_units: int) -> xr.Dataset:
    """The classic test population: a circle of ``n_angles`` evenly spaced angles coded with a power law.

    Unit ``j`` (0-based) codes frequency ``k = j // 2 + 1`` as ``k^(−α/2) cos(kθ)`` (j even) or
    ``k^(−α/2) sin(kθ)`` (j odd), θ = 2πt/n_angles. Requires every frequency below the Nyquist frequency
    n_angles/2, i.e. ``2·ceil(n_units/2) < n_angles`` (``n_units < n_angles``, and for odd ``n_units`` one
    less), so the covariance eigenvalues are exactly ``k^(−α)/2`` (each twice; the last once for odd
    ``n_units``). The Nyquist component k = n_angles/2 is excluded: there sin(kθ_t) = sin(πt) = 0 at every
    angle, so its sine unit would be constant and its cosine unit, (−1)^t, would carry variance k^(−α), not
    k^(−α)/2. (Before this check, n_units = n_angles − 1 with even n_angles produced that component.)

    Returns a ResponseSet (``system="network"``, ``measure="activation"``) with an ``angle`` coord on
    ``stimulus`` and ``stimuli`` = (cos θ, sin θ) features (a 1-D manifold).
    """
    from ..format import from_array

    if (
        not (isinstance(n_angles, int | np.integer) and isinstance(n_units, int | np.integer))
        or n_units < 1
        or 2 * ((n_units + 1) // 2) >= n_angles
    ):
        raise AnalysisError(
            f"circle_population: n_angles={n_angles!r}, n_units={n_units!r}; expected integers with "
            "1 <= n_units < n_angles and every frequency k <= ceil(n_units / 2) below the Nyquist "
            "frequency n_angles / 2 (at k = n_angles / 2 the sine unit is constant and the cosine "
            "unit carries k^-alpha, not k^-alpha / 2; above it frequencies alias). Fix: more angles "
            f"(n_angles > {2 * ((n_units + 1) // 2)}) or fewer units."
        )
    theta = 2 * np.pi * np.arange(n_angles) / n_angles
    j = np.arange(n_units)
    k = j // 2 + 1
    phase = np.where(j % 2 == 0, 0.0, -np.pi / 2)  # cos(x − π/2) = sin(x)
    x = (k ** (-alpha / 2.0))[None, :] * np.cos(np.outer(theta, k) + phase[None, :])
    feats = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return from_array(
        x,
        system="network",
        measure="activation",
        stimuli=feats,
        angle=("stimulus", theta),
        frequency=("unit", k),
        attrs={
            "source": f"circle_population(alpha={alpha}, n_angles={n_angles}, n_units={n_units})",
            "alpha": float(alpha),
        },
    )


def circle_energy(alpha: float, n_units: int, n_angles: int | None = None) -> float:
    """Analytic trajectory energy of :func:`circle_population` (``n_units`` even: whole cos/sin pairs).

    Each pair of frequency k traces a circle of radius k^(−α/2): every step has squared length
    k^(−α)·4 sin²(πk/T) and the pair's spread is T·k^(−α)/2 per unit, so for T angles
    E = (T−1)³ Σ_k k^(−α) 4 sin²(πk/T) / (T Σ_k k^(−α)); for T → ∞ (``n_angles=None``)
    E → (2π)² Σ_k k^(2−α) / Σ_k k^(−α).
    """
    if n_units % 2:
        raise AnalysisError(f"circle_energy: n_units={n_units}; expected an even number (whole cos/sin pairs).")
    k = np.arange(1, n_units // 2 + 1, dtype=np.float64)
    amp2 = k ** (-float(alpha))
    if n_angles is None:
        return float((2 * np.pi) ** 2 * (amp2 * k**2).sum() / amp2.sum())
    t = float(n_angles)
    return float((t - 1) ** 3 * (amp2 * 4 * np.sin(np.pi * k / t) ** 2).sum() / (t * amp2.sum()))
