"""Inter-animal consistency: how well each animal of a cohort is matched by the others — the ceiling a model of
"the" brain area can be held to (``docs/cohorts.md``).

Leave-one-animal-out, with the other animals *pooled into one source animal* (Nayebi et al. 2023, PLoS Comput Biol
19:e1011506, "Mouse visual cortex as a limited resource system", Methods "inter-animal consistency"; Shi et al.
2019 NeurIPS; Schrimpf et al. 2018 Brain-Score's "as consistent as animals are with each other" ceiling): for each
subject ``s`` (the ``subject`` unit coord),

* ``kind="rsa"``: the similarity (``method``) of the RDM (``metric``) of ``s``'s units with the RDM of every other
  subject's units pooled (one population, stimuli × all their units) — not the mean of pairwise subject-subject
  similarities: pooling the others is how a model, which is one population too, is scored (against ``s``'s RDM);
* ``kind="predictivity"``: the cross-validated ridge predictivity of ``s``'s neurons from the pooled units of the
  other subjects — exactly :func:`neurosuper.compare.predictivity` (the same folds, ridge penalties and Pearson r
  per test fold), the median over ``s``'s neurons.

The consistency is the mean over subjects of these per-subject values; its spread is their standard deviation and
its interval the Student-t interval of the mean over subjects (the animals are the replicates:
``mean ± t_{(1+ci)/2, n−1} · sd / √n``). A network layer scored against the same targets (each subject alone;
:func:`neurosuper.compare.profile` with ``ceiling="inter_animal"``) can then be read against it: a layer "as close
to mouse V1 as mice are to each other" scores the consistency.

Only stimuli every analysed unit has a response to are used (a stimulus not shown in some session is left out,
with a warning saying how many).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from .. import prep
from .._provenance import stamp
from .._validation import check_choice, check_float, check_int, responses_of
from ..errors import AnalysisError, NeurosuperWarning, fail
from .distances import METRICS
from .predict import predictivity
from .rdm import rdm as make_rdm
from .rsa import compare_rdms
from .rsakernels import METHODS

__all__ = ["inter_animal", "subject_labels", "complete_stimuli", "INTER_ANIMAL_KINDS", "REFERENCE_INTER_ANIMAL"]

#: What the consistency is measured by.
INTER_ANIMAL_KINDS = ("rsa", "predictivity")

REFERENCE_INTER_ANIMAL = (
    "Nayebi et al. 2023 PLoS Comput Biol 19:e1011506 (inter-animal consistency: each animal against the others "
    "pooled into one source animal); Shi et al. 2019 NeurIPS; Schrimpf et al. 2018 Brain-Score (ceilings from "
    "the consistency of animals); Nili et al. 2014 (leave-one-subject-out ceiling)"
)


def subject_labels(resp: xr.DataArray | xr.Dataset, subject: str = "subject", *, caller: str) -> list[Hashable]:
    """The distinct values of the unit coord ``subject`` (in order of appearance); raises
    :class:`~neurosuper.errors.AnalysisError` naming the fix when there is no such coord or fewer than 2 subjects."""
    if subject not in resp.coords or resp[subject].dims != ("unit",):
        names = sorted(str(c) for c in resp.coords if resp[c].dims == ("unit",) and c != "unit")
        raise fail(
            f"{caller}: inter-animal consistency",
            f"no {subject!r} coord on 'unit' (unit coords: {names or 'none'})",
            f"a cohort whose units carry a {subject!r} coord (which animal each unit was recorded in)",
            "load the sessions with neurosuper.load_cohort (units get 'session' and 'subject'), or "
            "ds = ds.assign_coords(subject=('unit', animal_of_each_unit))",
            AnalysisError,
        )
    labels = [g for g, _ in prep.unit_groups(resp, subject)]
    if len(labels) < 2:
        raise fail(
            f"{caller}: inter-animal consistency",
            f"{len(labels)} subject ({', '.join(map(repr, labels)) or 'none'})",
            "units from at least 2 subjects (each animal is scored against the others)",
            "add sessions of other animals to the cohort, or use the default ceiling (split-half reliability)",
            AnalysisError,
        )
    return labels


def complete_stimuli(resp: xr.DataArray, *, time: Any, caller: str) -> xr.DataArray:
    """``resp`` restricted to the stimuli every unit has a (repeat-averaged) value for; warns when some are left
    out; raises when fewer than 3 remain."""
    avg = prep.trial_average(resp, time=time, caller=caller)
    data = np.asarray(avg.transpose("stimulus", "unit").values, dtype=np.float64)
    keep = np.isfinite(data).all(axis=1)
    if keep.sum() < 3:
        raise fail(
            f"{caller}: stimuli",
            f"{int(keep.sum())} of {keep.size} stimuli with a response from every unit",
            "at least 3 stimuli shown in every session",
            "restrict the cohort to sessions that share stimuli",
            AnalysisError,
        )
    if not keep.all():
        warnings.warn(
            f"{caller}: left out {int((~keep).sum())} of {keep.size} stimuli not shown in every session (the "
            "consistency compares animals on the stimuli they all saw).",
            NeurosuperWarning,
            stacklevel=3,
        )
        return resp.isel(stimulus=np.flatnonzero(keep))
    return resp


def _t_interval(values: np.ndarray, ci: float) -> tuple[float, float, float, float]:
    """(mean, sd, lower, upper) of ``values`` (NaN skipped): Student-t interval of the mean."""
    from scipy import stats

    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.nan, np.nan, np.nan, np.nan
    mean = float(v.mean())
    if v.size < 2:
        return mean, np.nan, np.nan, np.nan
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + ci / 2, v.size - 1)) * sd / np.sqrt(v.size)
    return mean, sd, mean - half, mean + half


def _per_subject(
    resp: xr.DataArray,
    labels: list[Hashable],
    subject: str,
    *,
    kind: str,
    metric: str,
    method: str,
    alpha: float | None,
    n_splits: int,
    seed: int,
    time: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """(per-subject consistency, per-subject unit count) of ``resp`` over ``labels`` (NaN for a subject without
    units here, or when it is the only subject with units)."""
    values = np.asarray(resp[subject].values)
    out = np.full(len(labels), np.nan)
    counts = np.zeros(len(labels), dtype=np.int64)
    present = [lab for lab in labels if (values == lab).any()]
    for i, lab in enumerate(labels):
        mine = np.flatnonzero(values == lab)
        counts[i] = mine.size
        others = np.flatnonzero(values != lab)
        if mine.size == 0 or len(present) < 2:
            continue
        target, source = resp.isel(unit=mine), resp.isel(unit=others)
        if kind == "rsa":
            a = make_rdm(target, metric=metric, time=time, progress=False)
            b = make_rdm(source, metric=metric, time=time, progress=False)
            out[i] = float(compare_rdms(a, b, method=method, n_boot=0)["value"])
        else:
            res = predictivity(source, target, alpha=alpha, n_splits=n_splits, seed=seed, time=time, progress=False)
            out[i] = float(res["median"])
    return out, counts


def inter_animal(
    cohort: Any,
    *,
    kind: str = "rsa",
    metric: str = "correlation",
    method: str = "spearman",
    subject: str = "subject",
    groupby: str | None = "auto",
    alpha: float | None = None,
    n_splits: int = 10,
    seed: int = 0,
    ci: float = 0.95,
    time: Any = None,
    progress: bool = True,
) -> xr.Dataset:
    """Inter-animal consistency of a cohort: each subject scored against the other subjects pooled (see the module
    docstring for the definition and references).

    Parameters
    ----------
    cohort
        A ResponseSet whose units carry a ``subject`` coord (e.g. from :func:`neurosuper.load_cohort`) with at
        least 2 subjects.
    kind
        ``"rsa"`` (RDM of the subject vs RDM of the others' pooled units) or ``"predictivity"`` (median held-out r
        of the subject's neurons predicted from the others' pooled units by
        :func:`~neurosuper.compare.predictivity`'s cross-validated ridge regression).
    metric, method
        RSA only: the RDMs' distance (:func:`~neurosuper.compare.rdm`) and how two RDMs are compared
        (:func:`~neurosuper.compare.compare_rdms`).
    subject
        The unit coord naming the animal of each unit.
    groupby
        ``"auto"`` (default): ``layer``, else ``area``, else all units together; ``None``: all units together; a
        unit coord (e.g. ``"area"``): the consistency per group (a subject without units in a group is NaN there).
    alpha, n_splits, seed
        Predictivity only: as :func:`~neurosuper.compare.predictivity`.
    ci
        Level of the interval over subjects.

    Returns
    -------
    xarray.Dataset
        ``value`` (mean over subjects), ``sd`` (their standard deviation), ``ci(bound)`` (Student-t interval of
        the mean over subjects), ``subject_value(subject)``, ``n_units(subject)``; with ``groupby`` each of
        these gains that dim. Dimensionless (similarity or Pearson r). Attrs ``kind``, ``definition``,
        ``n_subjects``, ``n_stimuli``.
    """
    caller = "inter_animal"
    check_choice("kind", kind, INTER_ANIMAL_KINDS, caller=caller)
    check_choice("metric", metric, METRICS, caller=caller)
    check_choice("method", method, METHODS, caller=caller)
    check_int("n_splits", n_splits, low=2, caller=caller)
    check_float("ci", ci, low=0, high=1, low_open=True, high_open=True, caller=caller)
    resp = responses_of(cohort, caller=caller)
    labels = subject_labels(resp, subject, caller=caller)
    resp = complete_stimuli(resp, time=time, caller=caller)
    options = dict(kind=kind, metric=metric, method=method, alpha=alpha, n_splits=n_splits, seed=seed, time=time)
    coord = prep.group_coord(resp, groupby)
    groups = prep.unit_groups(resp, coord)
    from .._progress import progress_bar

    rows = []
    for _label, idx in progress_bar(groups, total=len(groups), desc=caller, progress=progress and len(groups) > 1):
        sub = resp.isel(unit=idx)
        rows.append(
            _per_subject(
                sub,
                labels,
                subject,
                kind=kind,
                metric=metric,
                method=method,
                alpha=alpha,
                n_splits=n_splits,
                seed=seed,
                time=time,
            )
        )
    stats = [_t_interval(v, ci) for v, _ in rows]
    sub_labels = [str(s) for s in labels]
    if coord is None:
        v, n = rows[0]
        mean, sd, lo, hi = stats[0]
        out = xr.Dataset(
            {
                "value": mean,
                "sd": sd,
                "ci": ("bound", [lo, hi]),
                "subject_value": ("subject", v),
                "n_units": ("subject", n),
            },
            coords={"subject": sub_labels, "bound": ["lower", "upper"]},
        )
    else:
        glabels = [g for g, _ in groups]
        out = xr.Dataset(
            {
                "value": (coord, [s[0] for s in stats]),
                "sd": (coord, [s[1] for s in stats]),
                "ci": (("bound", coord), np.array([[s[2] for s in stats], [s[3] for s in stats]])),
                "subject_value": ((coord, "subject"), np.stack([v for v, _ in rows])),
                "n_units": ((coord, "subject"), np.stack([n for _, n in rows])),
            },
            coords={coord: glabels, "subject": sub_labels, "bound": ["lower", "upper"]},
        )
    if kind == "rsa":
        definition = (
            f"per subject: {method} similarity of its RDM ({metric}) with the RDM of the other subjects' units "
            "pooled; value = mean over subjects; ci = Student-t interval of that mean over subjects"
        )
    else:
        definition = (
            "per subject: median over its neurons of the cross-validated ridge predictivity (held-out Pearson r, "
            "compare.predictivity) from the other subjects' units pooled; value = mean over subjects; ci = "
            "Student-t interval of that mean over subjects"
        )
    out.attrs.update(
        {
            "kind": kind,
            "metric": metric if kind == "rsa" else "none",
            "method": method if kind == "rsa" else "pearson r per neuron, median",
            "definition": definition,
            "source": "the other subjects pooled (leave-one-animal-out)",
            "n_subjects": len(labels),
            "n_stimuli": int(resp.sizes["stimulus"]),
            "subject_coord": subject,
            "groupby": coord or "none",
            "ci_level": ci,
        }
    )
    return stamp(
        out,
        analysis="compare.inter_animal",
        reference=REFERENCE_INTER_ANIMAL,
        options={**options, "subject": subject, "groupby": groupby, "ci": ci},
        inputs_from=cohort if isinstance(cohort, xr.Dataset) else None,
    )
