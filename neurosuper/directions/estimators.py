"""Direction finders: one small scikit-learn estimator per method, registered by name in :data:`METHODS`.

Every finder follows the scikit-learn contract: parameters are stored in ``__init__`` untouched, checked in
``fit``; ``fit(X)`` / ``transform(X)`` / ``fit_transform(X)`` on arrays of shape (n_samples, n_units) — stimuli as
samples, units as features; ``get_params`` / ``set_params`` / ``sklearn.base.clone`` work; ``transform`` before
``fit`` raises :class:`NotFittedError` (a :class:`neurosuper.AnalysisError` *and* scikit-learn's exception).

After ``fit`` every finder has ``components_`` (n_directions, n_units) with **unit-norm rows**: the directions in
unit space along which each feature lies (k-means centroids, PCA axes, ICA unmixing rows — whose projections are
the independent components —, NMF / dictionary atoms, SAE decoder columns, random orthonormal directions, the unit
axes). A finder whose dictionary differs from its directions also has ``atoms_`` (ICA: the mixing columns, with
X − mean ≈ transform(X) @ atoms_). A wrapped scikit-learn estimator is kept as ``estimator_`` with its own
attributes (e.g. ``estimator_.mixing_`` is FastICA's mixing matrix), and
``transform`` returns exactly what that estimator's ``transform`` returns (PCA scores, ICA sources, NMF and
dictionary codes). ``n_directions=None`` takes the method's default (:meth:`DirectionFinder.default_directions`),
capped, with a warning, at what the set supports.

Reference: Klindt, Sanborn, Acosta, Poitevin & Miolane 2023, arXiv:2310.11431 (k-means on L2-normalised
activations; PCA, ICA, NMF and a sparse autoencoder as the alternatives).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import NotFittedError as _SkNotFittedError

from .._gram import is_dask
from .._memory import check_memory, largest_fitting
from .._validation import check_choice, check_fit_values, check_float, check_int
from ..errors import AnalysisError, NeurosuperError, NeurosuperWarning, fail, preview
from . import sae as _sae

__all__ = [
    "METHODS",
    "NotFittedError",
    "DirectionFinder",
    "KMeansDirections",
    "PCADirections",
    "ICADirections",
    "NMFDirections",
    "SparseCodingDirections",
    "RandomDirections",
    "UnitDirections",
    "SAEDirections",
    "register_method",
    "get_method",
    "MINIBATCH_ABOVE",
]

#: Registry: method name -> finder class (instantiated with keyword options by :func:`~.find.find`).
METHODS: dict[str, type[DirectionFinder]] = {}
#: ``KMeansDirections(minibatch="auto")`` switches to MiniBatchKMeans above this many samples.
MINIBATCH_ABOVE = 50_000


class NotFittedError(AnalysisError, _SkNotFittedError):
    """``transform`` (or an attribute) asked of a finder before ``fit``."""


_F = TypeVar("_F", bound="DirectionFinder")


def register_method(name: str) -> Callable[[type[_F]], type[_F]]:
    """Class decorator adding a finder to :data:`METHODS` under ``name`` (its ``method`` attribute)."""

    def deco(cls: type[_F]) -> type[_F]:
        cls.method = name
        METHODS[name] = cls
        return cls

    return deco


def get_method(name: str) -> type[DirectionFinder]:
    """The finder class registered as ``name`` (an :class:`AnalysisError` listing the names otherwise)."""
    if not isinstance(name, str) or name not in METHODS:
        raise fail("method", repr(name), f"one of {sorted(METHODS)}", "pass e.g. method='kmeans'", AnalysisError)
    return METHODS[name]


def _seed(value: Any, caller: str) -> int:
    if value is None:
        return 0
    return check_int("random_state", value, low=0, caller=caller, fix="pass random_state=0 (any integer >= 0)")


def _normalise_rows(M: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    return np.divide(M, norms, out=np.zeros_like(M), where=norms > 0)


def _numerical_rank(X: np.ndarray, rtol: float = 1e-6) -> int:
    """Rank of the centred data: singular values above ``rtol`` × the largest (from the units' covariance)."""
    Xc = X - X.mean(axis=0)
    ev = np.linalg.eigvalsh(Xc.T @ Xc) if X.shape[0] >= X.shape[1] else np.linalg.eigvalsh(Xc @ Xc.T)
    ev = np.clip(ev, 0, None)
    return int(np.sum(ev > ev.max() * rtol**2)) if ev.max() > 0 else 0


class DirectionFinder(TransformerMixin, BaseEstimator):
    """Base class: input checks, the ``n_directions`` rule, ``components_`` and ``transform``'s fitted check.

    Subclasses set ``method`` (via :func:`register_method`), ``sign_arbitrary`` (PCA, ICA, sparse coding:
    ``find`` orients them), ``accepts_dask`` (trained chunk by chunk) and implement ``_fit`` / ``_transform``.
    """

    method: ClassVar[str] = ""
    sign_arbitrary: ClassVar[bool] = False
    accepts_dask: ClassVar[bool] = False
    n_directions: int | None
    components_: np.ndarray  # set by fit: (n_directions, n_units), unit-norm rows

    # ---------------------------------------------------------------- the n_directions rule
    def default_directions(self, n_units: int) -> int:
        """The default number of directions for a set of ``n_units`` units (the number of units)."""
        return n_units

    def max_directions(self, n_samples: int, n_units: int) -> tuple[int | None, str]:
        """(the most directions the method supports on this set or ``None`` if unbounded, and why)."""
        return None, ""

    def _resolve_directions(self, n_samples: int, n_units: int) -> int:
        cap, why = self.max_directions(n_samples, n_units)
        caller = self.method
        if self.n_directions is None:
            k = self.default_directions(n_units)
            if cap is not None and k > cap:
                warnings.warn(
                    f"{caller}: the default n_directions={k} exceeds what the set supports ({why}); "
                    f"using {cap}. Pass n_directions=<= {cap} to choose.",
                    NeurosuperWarning,
                    stacklevel=4,
                )
                k = cap
            return k
        k = check_int("n_directions", self.n_directions, low=1, caller=caller)
        if cap is not None and k > cap:
            raise fail(
                f"{caller}: n_directions",
                str(k),
                f"at most {cap} ({why})",
                f"pass n_directions={cap}{self._overcomplete_hint()}",
                AnalysisError,
            )
        return k

    def _overcomplete_hint(self) -> str:
        return ""

    # ---------------------------------------------------------------- memory
    def memory_bytes(self, n_samples: int, n_units: int, k: int) -> float:
        """Bytes a fit of ``k`` directions holds at once (estimated before fitting): the directions (k x units)
        and the codes of every sample (samples x k), each with a working copy, in float64."""
        return 16.0 * k * (n_units + n_samples)

    def _check_memory(self, n_samples: int, n_units: int, k: int) -> None:
        """Refuse (:class:`AnalysisError`) before fitting when :meth:`memory_bytes` exceed the memory available,
        with a number of directions that fits in half of it."""

        def need(j: int) -> float:
            return self.memory_bytes(n_samples, n_units, j)

        def fix(avail: int) -> str:
            return f"pass fewer directions (n_directions={largest_fitting(need, k, avail / 2)})"

        check_memory(
            need(k),
            what=f"{self.method}: n_directions",
            detail=f"{k:,} directions of {n_units:,} units fitted on {n_samples:,} samples",
            fix=fix,
        )

    # ---------------------------------------------------------------- input checks
    def _check_X(self, X: Any, *, fit: bool) -> Any:
        caller = self.method
        if is_dask(X) and not self.accepts_dask:
            X = X.compute()
        if hasattr(X, "values") and not is_dask(X) and not isinstance(X, np.ndarray):
            X = X.values  # DataArray / DataFrame
        if not is_dask(X):
            X = np.asarray(X)
        if X.ndim != 2:
            raise fail(
                f"{caller}: X",
                f"a {X.ndim}-D array of shape {X.shape}",
                "2-D (n_samples, n_units): stimuli as samples, units as features",
                "pass ds.responses trial-averaged, e.g. neurosuper.prep.trial_average(ds).values",
                AnalysisError,
            )
        if X.dtype.kind not in "fiub":
            raise fail(f"{caller}: X", f"dtype {X.dtype}", "numbers", "pass a numeric array", AnalysisError)
        if X.dtype.kind != "f":
            X = X.astype(np.float64)
        n, d = X.shape
        if fit and n < 2:
            raise fail(
                f"{caller}: X",
                f"{n} sample(s) (stimuli)",
                "at least 2 stimuli",
                "pass a set with more stimuli (directions are found across stimuli)",
                AnalysisError,
            )
        if d < 1:
            raise fail(f"{caller}: X", "0 units", "at least 1 unit", "pass a set with units", AnalysisError)
        if not fit:
            self._check_fitted()
            if d != self.n_features_in_:
                raise fail(
                    f"{caller}: X",
                    f"{d} units",
                    f"{self.n_features_in_} units, as in fit",
                    "transform a set with the units the finder was fitted on",
                    AnalysisError,
                )
        bad = self._nonfinite_units(X)
        if bad.size:
            raise fail(
                f"{caller}: X",
                f"non-finite values (NaN or inf) in {bad.size} unit(s) (columns {preview(bad)})",
                "finite responses for every unit and stimulus",
                "drop those units (ds = ds.isel(unit=...)), or average repeats first with "
                "neurosuper.prep.trial_average (it skips missing repeats)",
                AnalysisError,
            )
        if fit:
            check_fit_values(X, caller=caller)  # constant (all-zero) or overflowing data: nothing to fit
        return X

    @staticmethod
    def _nonfinite_units(X: Any) -> np.ndarray:
        if is_dask(X):
            import dask.array as da

            # one chunk at a time (the synchronous scheduler): the check must not hold several chunks at once
            return np.flatnonzero(np.asarray((~da.isfinite(X)).any(axis=0).compute(scheduler="synchronous")))
        if np.isfinite(X).all():
            return np.zeros(0, dtype=int)
        return np.flatnonzero(~np.isfinite(X).all(axis=0))

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise NotFittedError(
                f"{type(self).__name__}: found an unfitted finder; expected fit() before "
                "transform() or its fitted attributes. Fix: call .fit(X) first (or use "
                "neurosuper.directions.fit_directions)."
            )

    # ---------------------------------------------------------------- the scikit-learn API
    def fit(self, X: Any, y: Any = None) -> DirectionFinder:
        """Find the directions in ``X`` (n_samples, n_units); sets ``components_`` (n_directions, n_units)."""
        X = self._check_X(X, fit=True)
        k = self._resolve_directions(X.shape[0], X.shape[1])
        self._check_memory(int(X.shape[0]), int(X.shape[1]), k)
        self.n_features_in_ = int(X.shape[1])
        self.fit_dtype_ = X.dtype
        self._fit(X, k)
        self.components_ = _normalise_rows(np.asarray(self.components_))
        self.n_directions_ = int(self.components_.shape[0])
        return self

    def transform(self, X: Any) -> Any:
        """The directions' activations for ``X``: (n_samples, n_directions), in ``X``'s dtype.

        ``X`` is computed in the dtype the finder was fitted in (``fit_dtype_``): scikit-learn's NMF and lasso
        solvers refuse float32 data on a float64 fit (and the reverse)."""
        X = self._check_X(X, fit=False)
        fitted = getattr(self, "fit_dtype_", X.dtype)
        out = self._transform(X if X.dtype == fitted else X.astype(fitted))  # numpy or dask
        return out if out.dtype == X.dtype else out.astype(X.dtype)

    def _fit(self, X: np.ndarray, k: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _transform(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "components_")


@contextlib.contextmanager
def _quiet_convergence(caller: str, fix: str) -> Iterator[None]:
    """Run a scikit-learn fit, turning its ConvergenceWarnings into one NeurosuperWarning (others pass through)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    n_conv = 0
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            n_conv += 1
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if n_conv:
        warnings.warn(
            f"{caller}: the solver did not converge within max_iter; the directions may not be final. Fix: {fix}",
            NeurosuperWarning,
            stacklevel=4,
        )


# ==================================================================================== methods
@register_method("units")
class UnitDirections(DirectionFinder):
    """The units themselves (identity): ``components_`` = I, ``transform(X)`` = X. The baseline of the paper."""

    def __init__(self, n_directions: int | None = None, random_state: int | None = 0) -> None:
        self.n_directions = n_directions
        self.random_state = random_state

    def max_directions(self, n_samples: int, n_units: int) -> tuple[int | None, str]:
        return n_units, "the unit axes are as many as the units"

    def _resolve_directions(self, n_samples: int, n_units: int) -> int:
        if self.n_directions is not None and self.n_directions != n_units:
            raise fail(
                "units: n_directions",
                repr(self.n_directions),
                f"None or {n_units} (the number of units)",
                "drop n_directions for method='units'",
                AnalysisError,
            )
        return n_units

    def _fit(self, X: np.ndarray, k: int) -> None:
        self.components_ = np.eye(k, dtype=X.dtype)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return np.array(X, copy=True)


@register_method("random")
class RandomDirections(DirectionFinder):
    """Random directions — the chance baseline. ``transform`` = the linear projection.

    ``n_directions ≤ n_units`` (the default: as many as the units): **orthonormal**, drawn from the Haar measure
    (QR of a Gaussian units × directions matrix, each column's sign fixed by R's diagonal, Mezzadri 2007) — a
    random rotation of the unit axes, so each direction is uniform on the sphere and the set is as orthogonal as
    the units are (capacity 1 each, like the units; independent Gaussian directions would overlap by chance,
    |cos| ~ 1/√n_units, and look "polysemantic"). ``n_directions > n_units`` (overcomplete): no orthonormal set
    exists, so the directions are independent and uniform on the sphere (normalised Gaussians) and overlap by
    chance.
    """

    def __init__(self, n_directions: int | None = None, random_state: int | None = 0) -> None:
        self.n_directions = n_directions
        self.random_state = random_state

    def _fit(self, X: np.ndarray, k: int) -> None:
        rng = np.random.default_rng(_seed(self.random_state, self.method))
        d = X.shape[1]
        if k <= d:
            q, r = np.linalg.qr(rng.standard_normal((d, k)))
            self.components_ = (q * np.where(np.diag(r) < 0, -1.0, 1.0)).T.astype(X.dtype)
        else:
            self.components_ = rng.standard_normal((k, d)).astype(X.dtype)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self.components_.T


@register_method("pca")
class PCADirections(DirectionFinder):
    """Principal axes (``sklearn.decomposition.PCA``); ``transform`` = PCA scores (centred projections).

    At most min(n_samples, n_units) directions. Signs are arbitrary: :func:`~.find.find` orients them.
    """

    sign_arbitrary = True

    def __init__(self, n_directions: int | None = None, svd_solver: str = "auto", random_state: int | None = 0) -> None:
        self.n_directions = n_directions
        self.svd_solver = svd_solver
        self.random_state = random_state

    def max_directions(self, n_samples: int, n_units: int) -> tuple[int | None, str]:
        return min(n_samples, n_units), f"PCA finds at most min(stimuli, units) = min({n_samples}, {n_units}) axes"

    def _fit(self, X: np.ndarray, k: int) -> None:
        from sklearn.decomposition import PCA

        solver = check_choice(
            "svd_solver",
            self.svd_solver,
            ("auto", "full", "covariance_eigh", "arpack", "randomized"),
            caller=self.method,
        )
        from sklearn import config_context

        self.estimator_ = PCA(n_components=k, svd_solver=solver, random_state=_seed(self.random_state, self.method))
        with config_context(assume_finite=True):  # _check_X refused non-finite units already: no second pass
            self.estimator_.fit(X)
        self.components_ = self.estimator_.components_
        # scores = (X − mean) Wᵀ = X Wᵀ − mean Wᵀ: no centred copy of X (sklearn's transform makes one)
        self._offset = (self.estimator_.mean_ @ self.components_.T).astype(self.components_.dtype)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        offset = getattr(self, "_offset", None)
        if offset is None or getattr(self.estimator_, "whiten", False):
            return self.estimator_.transform(X)
        X = np.asarray(X)
        return X @ self.components_.T.astype(X.dtype, copy=False) - offset.astype(X.dtype, copy=False)


@register_method("ica")
class ICADirections(DirectionFinder):
    """Independent components (``sklearn.decomposition.FastICA``); ``components_`` = the normalised **unmixing**
    rows — the directions whose projections are the independent components (``X @ components_.T`` is each source
    up to a positive scale and an offset) — and ``transform`` = the sources. ``atoms_`` = the mixing columns
    (n_directions, n_units; not normalised): the dictionary ``X − mean ≈ transform(X) @ atoms_``, which
    :func:`~neurosuper.capacity.feature_capacity` measures. (The mixing columns are not the directions to project
    on: unless the mixing is orthogonal, projecting on them mixes the sources.)

    FastICA whitens the data first, so it **cannot be overcomplete**: at most min(n_samples, n_units)
    directions (more raise an :class:`AnalysisError` pointing to ``sparse_coding``/``sae``/``kmeans``).
    """

    sign_arbitrary = True

    def __init__(
        self,
        n_directions: int | None = None,
        fun: str = "logcosh",
        max_iter: int = 200,
        tol: float = 1e-4,
        random_state: int | None = 0,
    ) -> None:
        self.n_directions = n_directions
        self.fun = fun
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def max_directions(self, n_samples: int, n_units: int) -> tuple[int | None, str]:
        rank = getattr(self, "_rank", None)
        if rank is not None and rank < min(n_samples, n_units):
            return rank, (
                f"FastICA cannot be overcomplete: it whitens the data, and these have rank {rank} (constant "
                "or linearly dependent units), so it finds at most that many components"
            )
        return min(n_samples, n_units), (
            "FastICA cannot be overcomplete: it whitens the data, so it finds at most "
            f"min(stimuli, units) = min({n_samples}, {n_units}) components"
        )

    def fit(self, X: Any, y: Any = None) -> ICADirections:
        X = self._check_X(X, fit=True)
        self._rank = _numerical_rank(X)
        try:
            return super().fit(X, y)
        finally:
            del self._rank

    def _overcomplete_hint(self) -> str:
        return ", or an overcomplete method: method='sparse_coding', 'sae', 'kmeans' or 'nmf'"

    def _fit(self, X: np.ndarray, k: int) -> None:
        from sklearn.decomposition import FastICA

        fun = check_choice("fun", self.fun, ("logcosh", "exp", "cube"), caller=self.method)
        max_iter = check_int("max_iter", self.max_iter, low=1, caller=self.method)
        tol = check_float("tol", self.tol, low=0, low_open=True, caller=self.method)
        self.estimator_ = FastICA(
            n_components=k,
            fun=fun,
            max_iter=max_iter,
            tol=tol,
            whiten="unit-variance",
            random_state=_seed(self.random_state, self.method),
        )
        with _quiet_convergence(self.method, f"pass max_iter={2 * max_iter} or a larger tol"):
            self.estimator_.fit(X)
        self.components_ = self.estimator_.components_  # unmixing rows: sources = (X − mean) @ components_.T
        self.atoms_ = np.array(self.estimator_.mixing_.T)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.transform(X)


@register_method("nmf")
class NMFDirections(DirectionFinder):
    """Non-negative matrix factorisation X ≈ W H (``sklearn.decomposition.NMF``); ``components_`` = H's rows
    normalised, ``transform`` = the codes W.

    Non-negative data only (rates, counts, ReLU activations): negative values raise an :class:`AnalysisError`.
    ``init="auto"`` uses NNDSVDa when n_directions <= min(n_samples, n_units) and a seeded random init otherwise
    — so NMF may be overcomplete (more directions than units).
    """

    def __init__(
        self,
        n_directions: int | None = None,
        init: str = "auto",
        max_iter: int = 500,
        tol: float = 1e-4,
        random_state: int | None = 0,
    ) -> None:
        self.n_directions = n_directions
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def memory_bytes(self, n_samples: int, n_units: int, k: int) -> float:
        """The base estimate plus scikit-learn's coordinate-descent products (H Hᵀ, k x k) and the two factors."""
        return super().memory_bytes(n_samples, n_units, k) + 8.0 * k * (k + n_units + n_samples)

    def _fit(self, X: np.ndarray, k: int) -> None:
        from sklearn.decomposition import NMF

        init = check_choice("init", self.init, ("auto", "random", "nndsvd", "nndsvda", "nndsvdar"), caller=self.method)
        max_iter = check_int("max_iter", self.max_iter, low=1, caller=self.method)
        tol = check_float("tol", self.tol, low=0, caller=self.method)
        self._check_nonnegative(X)
        limit = min(X.shape)
        if init == "auto":
            init = "nndsvda" if k <= limit else "random"
        elif init.startswith("nndsvd") and k > limit:
            raise fail(
                "nmf: init",
                repr(init),
                f"init='random' or 'auto' for n_directions={k} > min(stimuli, units) "
                f"= {limit} (NNDSVD starts from a rank-{limit} SVD)",
                "pass init='auto'",
                AnalysisError,
            )
        self.init_used_ = init
        self.estimator_ = NMF(
            n_components=k, init=init, max_iter=max_iter, tol=tol, random_state=_seed(self.random_state, self.method)
        )
        with _quiet_convergence(self.method, f"pass max_iter={2 * max_iter}"):
            self.estimator_.fit(X)
        self.components_ = self.estimator_.components_

    def _check_nonnegative(self, X: np.ndarray) -> None:
        neg = int(np.sum(X < 0))
        if neg:
            raise fail(
                "nmf: X",
                f"{neg} negative value(s) (min {float(X.min()):.4g})",
                "non-negative responses (rates, counts, ReLU activations): NMF factorises X ≈ W H with W, H >= 0",
                "use method='ica', 'sparse_coding' or 'sae' for signed data, or shift/clip it first "
                "(e.g. ds['responses'] = ds.responses.clip(min=0))",
                AnalysisError,
            )

    def _transform(self, X: np.ndarray) -> np.ndarray:
        self._check_nonnegative(X)
        return self.estimator_.transform(X)


@register_method("sparse_coding")
class SparseCodingDirections(DirectionFinder):
    """Dictionary learning (``sklearn.decomposition.MiniBatchDictionaryLearning``) with defaults that work
    without per-dataset tuning: the data are divided by their RMS row norm s first, so ``alpha`` (the L1
    penalty) is relative to the data's scale; coordinate-descent fitting and lasso codes (the same penalty)
    for ``transform``, returned in the data's units (× s). ``components_`` = the atoms (may be overcomplete).

    scikit-learn's own defaults (alpha=1 on unscaled data, OMP codes) recover only a few percent of a planted
    sparse dictionary (``docs/directions.md``).
    """

    sign_arbitrary = True

    def __init__(
        self,
        n_directions: int | None = None,
        alpha: float = 0.2,
        batch_size: int = 256,
        max_iter: int = 100,
        positive_code: bool = False,
        random_state: int | None = 0,
    ) -> None:
        self.n_directions = n_directions
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.positive_code = positive_code
        self.random_state = random_state

    def memory_bytes(self, n_samples: int, n_units: int, k: int) -> float:
        """The base estimate plus scikit-learn's inner statistics: A (k x k) and B (units x k), float64."""
        return super().memory_bytes(n_samples, n_units, k) + 8.0 * k * (k + n_units)

    def _fit(self, X: np.ndarray, k: int) -> None:
        from sklearn.decomposition import MiniBatchDictionaryLearning

        alpha = check_float("alpha", self.alpha, low=0, low_open=True, caller=self.method)
        batch = check_int("batch_size", self.batch_size, low=1, caller=self.method)
        max_iter = check_int("max_iter", self.max_iter, low=1, caller=self.method)
        self.scale_ = _sae.rms_scale(X, [(0, X.shape[0])])
        self.estimator_ = MiniBatchDictionaryLearning(
            n_components=k,
            alpha=alpha,
            batch_size=batch,
            max_iter=max_iter,
            fit_algorithm="cd",
            transform_algorithm="lasso_cd",
            transform_alpha=alpha,
            positive_code=bool(self.positive_code),
            random_state=_seed(self.random_state, self.method),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # per-batch lasso solves; the dictionary is fine
            self.estimator_.fit(X / X.dtype.type(self.scale_))
        self.components_ = self.estimator_.components_

    def _transform(self, X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            codes = self.estimator_.transform(X / X.dtype.type(self.scale_))
        return codes * codes.dtype.type(self.scale_)


@register_method("kmeans")
class KMeansDirections(DirectionFinder):
    """Klindt et al.'s directions: k-means on the L2-normalised response vectors (stimuli as samples).

    ``init="units"`` starts at the unit axes with one run (then n_directions must equal the number of units);
    otherwise k-means++ with ``n_init`` starts. Default ``n_init=10``: on four planted sets like the tests' (64
    features in 32 units), one start recovered 89–97 % of the features and ten starts 94–97 % on every set
    (their code used 50, five times the cost; scikit-learn's ``"auto"`` is one start). ``minibatch="auto"`` uses
    MiniBatchKMeans above :data:`MINIBATCH_ABOVE` samples. Rows with zero norm are left out of the fit.

    ``components_`` = the centroids normalised; ``transform`` = ``activation="projection"``: the normalised
    vectors projected on them (their cosine), or ``"distance"``: minus the distance to each raw centroid.
    At most as many directions as stimuli with a non-zero response.
    """

    def __init__(
        self,
        n_directions: int | None = None,
        init: str = "k-means++",
        n_init: int = 10,
        minibatch: Any = "auto",
        activation: str = "projection",
        max_iter: int = 300,
        random_state: int | None = 0,
    ) -> None:
        self.n_directions = n_directions
        self.init = init
        self.n_init = n_init
        self.minibatch = minibatch
        self.activation = activation
        self.max_iter = max_iter
        self.random_state = random_state

    def max_directions(self, n_samples: int, n_units: int) -> tuple[int | None, str]:
        return n_samples, f"k-means finds at most one cluster per stimulus ({n_samples} stimuli with a response)"

    def _check_X(self, X: Any, *, fit: bool) -> Any:
        X = super()._check_X(X, fit=fit)
        if fit:
            nonzero = int(np.count_nonzero(np.linalg.norm(X, axis=1)))
            if nonzero < 2:
                raise fail(
                    "kmeans: X",
                    f"{nonzero} stimuli with a non-zero response vector",
                    "at least 2",
                    "pass a set where some stimuli drive some units",
                    AnalysisError,
                )
        return X

    def fit(self, X: Any, y: Any = None) -> KMeansDirections:
        X = self._check_X(X, fit=True)
        Xn = _normalise_rows(X)
        keep = np.linalg.norm(X, axis=1) > 0
        k = self._resolve_directions(int(keep.sum()), X.shape[1])
        self.n_features_in_ = int(X.shape[1])
        self._fit(Xn[keep], k)
        self.components_ = _normalise_rows(self.cluster_centers_)
        self.n_directions_ = k
        return self

    def _fit(self, Xn: np.ndarray, k: int) -> None:
        from sklearn.cluster import KMeans, MiniBatchKMeans

        caller = self.method
        init = check_choice("init", self.init, ("k-means++", "random", "units"), caller=caller)
        n_init = check_int("n_init", self.n_init, low=1, caller=caller)
        max_iter = check_int("max_iter", self.max_iter, low=1, caller=caller)
        check_choice("activation", self.activation, ("projection", "distance"), caller=caller)
        mini = check_choice("minibatch", self.minibatch, ("auto", True, False), caller=caller)
        if mini == "auto":
            mini = Xn.shape[0] > MINIBATCH_ABOVE
        if init == "units":
            if k != Xn.shape[1]:
                raise fail(
                    "kmeans: init='units'",
                    f"n_directions={k} for {Xn.shape[1]} units",
                    "n_directions equal to the number of units (one centroid per unit axis)",
                    "drop n_directions, or use init='k-means++'",
                    AnalysisError,
                )
            start: Any = np.eye(k, dtype=Xn.dtype)
            n_init = 1
        else:
            start = init
        cls = MiniBatchKMeans if mini else KMeans
        self.estimator_ = cls(
            n_clusters=k, init=start, n_init=n_init, max_iter=max_iter, random_state=_seed(self.random_state, caller)
        )
        with _quiet_convergence(caller, f"pass max_iter={2 * max_iter}"):
            self.estimator_.fit(Xn)
        self.minibatch_ = bool(mini)
        self.cluster_centers_ = self.estimator_.cluster_centers_
        self.labels_ = self.estimator_.labels_

    def _transform(self, X: np.ndarray) -> np.ndarray:
        Xn = _normalise_rows(X)
        if self.activation == "distance":
            return -self.estimator_.transform(Xn)
        return Xn @ self.components_.T.astype(Xn.dtype, copy=False)


#: Time of updating one SAE weight in an Adam step, in multiply-adds of a matrix product (measured, one core).
ADAM_UPDATE_COST = 100.0


@register_method("sae")
class SAEDirections(DirectionFinder):
    """Sparse autoencoder (Klindt et al. 2023; ``PAPERS.md`` §5; kernel in :mod:`.sae`).

    ReLU encoder, decoder without a learned bias and with unit-norm columns, loss MSE + ``l1`` · L1, Adam. The
    data are centred on their mean (``center=True``: Bricken et al.'s pre-encoder bias, fixed at the mean; without
    it most latents die on spike counts or ReLU activations; ``center=False`` is Klindt et al.'s exact model) and
    divided by their RMS row norm (so ``l1`` is relative to the data's scale). Width ``n_directions`` (default
    ``expansion`` × the number of units, 2×). ``n_steps`` Adam steps of ``batch_size`` rows. ``backend="numpy"``
    (default) or ``"torch"`` give the same numbers from the same ``random_state`` in float64. Dask-backed X is
    trained one chunk of rows at a time (bounded memory); ``block_size`` splits a numpy X the same way.

    Fitted: ``components_`` (decoder columns), ``encoder_weight_``, ``encoder_bias_``, ``scale_``, ``mean_``,
    ``dead_latents_`` (never active on the training data), ``n_dead_``, ``l0_`` (mean active latents per sample),
    ``fve_`` (fraction of variance explained), ``loss_curve_`` (mean loss per epoch), ``n_steps_``, ``n_epochs_``.
    ``transform`` = the latents in the data's units, ReLU(W_enc (x − μ) + s · b_enc).

    Defaults (l1 = 0.1 as in the paper, lr = 5e-3, 2,000 steps of 128 rows) recover 94 % of the test suite's
    planted features (64 in 32 units) and 99 % of the benchmark's (512 in 256 units), see ``docs/directions.md``.
    """

    accepts_dask = True

    def __init__(
        self,
        n_directions: int | None = None,
        expansion: float = 2.0,
        l1: float = 0.1,
        lr: float = 5e-3,
        batch_size: int = 128,
        n_steps: int = 2000,
        backend: str = "numpy",
        dtype: str = "float64",
        center: bool = True,
        block_size: int | None = None,
        n_threads: int | None = 1,
        random_state: int | None = 0,
        progress: bool = True,
    ) -> None:
        self.n_directions = n_directions
        self.expansion = expansion
        self.l1 = l1
        self.lr = lr
        self.batch_size = batch_size
        self.n_steps = n_steps
        self.backend = backend
        self.dtype = dtype
        self.center = center
        self.block_size = block_size
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    def default_directions(self, n_units: int) -> int:
        expansion = check_float("expansion", self.expansion, low=0, low_open=True, caller=self.method)
        return max(1, int(round(expansion * n_units)))

    def memory_bytes(self, n_samples: int, n_units: int, k: int) -> float:
        """The base estimate plus the encoder and decoder (k x units each) with their gradients and Adam's two
        moments, and a batch's latents and their gradients (batch x k, a few of each)."""
        batch = self.batch_size if isinstance(self.batch_size, int) and self.batch_size > 0 else 128
        return super().memory_bytes(n_samples, n_units, k) + 8.0 * k * (8 * n_units + 4 * min(batch, n_samples))

    def _batch_and_steps(self, n_samples: int) -> tuple[int, int]:
        batch = self.batch_size if isinstance(self.batch_size, int) and self.batch_size > 0 else 128
        steps = self.n_steps if isinstance(self.n_steps, int) and self.n_steps > 0 else 1
        return min(batch, n_samples), steps

    def training_work(self, n_samples: int, n_units: int, k: int) -> float:
        """The training's work in multiply-add equivalents (estimated before fitting): per Adam step five (batch x
        units x k) products — encoder, decoder, and the gradients of the decoder, the latents and the encoder — and
        the update of the 2 x units x k weights (Adam's moments, the decoder's renormalisation), memory-bound:
        measured at ~100 multiply-adds' time per weight (~0.85 s a step for 100,000 latents of 64 units)."""
        batch, steps = self._batch_and_steps(n_samples)
        return float(steps) * n_units * k * (5.0 * batch + 2.0 * ADAM_UPDATE_COST)

    def _check_memory(self, n_samples: int, n_units: int, k: int) -> None:
        """The memory check, then the training's work: above :data:`~neurosuper.directions.sae.MAX_TRAINING_WORK`
        (:meth:`training_work`; hours on one core: 100,000 latents of 64 units, 2,000 steps, ~5 s a step) the
        request is refused (:class:`AnalysisError`) before training, with the estimate and a number of latents
        or steps that fits. ``sae.MAX_TRAINING_WORK = None`` lifts the bound."""
        super()._check_memory(n_samples, n_units, k)
        limit = _sae.MAX_TRAINING_WORK
        work = self.training_work(n_samples, n_units, k)
        if limit is None or work <= limit:
            return
        fits = max(1, int(limit // (work / k)))
        batch, steps = self._batch_and_steps(n_samples)
        fewer_steps = max(1, int(steps * limit // work))
        raise fail(
            f"{self.method}: n_directions",
            f"a training of about {work:.2g} multiply-add equivalents ({k:,} latents x {n_units:,} units x "
            f"{steps:,} steps of {batch:,} rows; {work / limit:.1f} times the limit, hours of computing)",
            f"at most MAX_TRAINING_WORK = {limit:.2g} (about ten minutes on one busy core)",
            f"pass fewer latents (n_directions={fits}) or fewer steps (n_steps={fewer_steps}); or lift the bound "
            "with neurosuper.directions.sae.MAX_TRAINING_WORK = None",
            AnalysisError,
        )

    def _fit(self, X: Any, k: int) -> None:
        caller = self.method
        l1 = check_float("l1", self.l1, low=0, caller=caller)
        lr = check_float("lr", self.lr, low=0, low_open=True, caller=caller)
        batch = check_int("batch_size", self.batch_size, low=1, caller=caller)
        n_steps = check_int("n_steps", self.n_steps, low=1, caller=caller)
        backend = check_choice("backend", self.backend, ("numpy", "torch"), caller=caller)
        try:
            name = np.dtype(self.dtype).name
        except TypeError:
            name = repr(self.dtype)
        dtype = np.dtype(check_choice("dtype", name, ("float64", "float32"), caller=caller))
        block = None if self.block_size is None else check_int("block_size", self.block_size, low=1, caller=caller)
        threads = None if self.n_threads is None else check_int("n_threads", self.n_threads, low=1, caller=caller)
        if backend == "torch":
            try:
                import torch  # noqa: F401
            except ImportError as err:
                raise NeurosuperError(
                    "sae: backend='torch' needs PyTorch, which is not installed. Fix: pip install "
                    "'neurosuper[torch]', or use backend='numpy' (the same numbers)."
                ) from err
        bar = None
        if self.progress:
            from .._progress import progress_bar

            bar = progress_bar(progress=True, total=n_steps, desc="sae", unit="step")
        try:
            state = _sae.train_sae(
                X,
                k,
                l1=l1,
                lr=lr,
                batch_size=batch,
                n_steps=n_steps,
                seed=_seed(self.random_state, caller),
                backend=backend,
                dtype=dtype,
                block_size=block,
                n_threads=threads,
                center=bool(self.center),
                progress=(lambda i: bar.update(1)) if bar is not None else None,
            )
        finally:
            if bar is not None:
                bar.close()
        with _sae.limit_threads(threads, "numpy"):
            stats = _sae.sae_statistics(X, state, _sae.iter_blocks(X, block))
        self.encoder_weight_ = state.w_enc
        self.encoder_bias_ = state.b_enc
        self.scale_ = state.scale
        self.mean_ = state.mean
        self.components_ = state.w_dec.T.copy()
        self.loss_curve_ = np.asarray(state.loss_curve)
        self.n_steps_ = state.n_steps
        self.n_epochs_ = state.n_epochs
        self.dead_latents_ = stats["dead"]
        self.n_dead_ = int(stats["dead"].sum())
        self.l0_ = float(stats["l0"])
        self.fve_ = float(stats["fve"])
        if self.n_dead_:
            warnings.warn(
                f"sae: {self.n_dead_} of {k} latents are dead (never active on the data); their "
                "directions are their initial random ones. Fix: fewer directions, a smaller l1, or "
                "more data.",
                NeurosuperWarning,
                stacklevel=3,
            )

    def _transform(self, X: Any) -> Any:
        w, b, s, mu = self.encoder_weight_, self.encoder_bias_, self.scale_, self.mean_
        if is_dask(X):
            Xr = X.rechunk({1: -1})
            return Xr.map_blocks(
                lambda x: _sae.encode(np.asarray(x, dtype=w.dtype), w, b, s, mu),
                dtype=w.dtype,
                chunks=(Xr.chunks[0], (w.shape[0],)),
            )
        return _sae.encode(np.asarray(X, dtype=w.dtype), w, b, s, mu)
