"""RDM files → RDMs: published (or saved) representational dissimilarity matrices read back as xarray.

An RDM file is a netCDF file or zarr store holding one data variable whose last two dims are (``stimulus_a``,
``stimulus_b``) — one RDM, or several stacked along a first dim (``subject``, ``session``) — as
``neurosuper.save_result(neurosuper.compare.as_rdm(matrix, stimulus=ids), "hIT.nc")`` writes it. The comparisons
(:func:`neurosuper.compare.score_against`, ``compare_rdms``, ``profile``) take what :func:`load_rdms` returns, and
``neurosuper compare SET FILE`` takes the file as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .._provenance import INPUTS_KEY
from ..errors import FormatError, fail, preview
from ..storage import load, rdm_variable

__all__ = ["load_rdms", "load_set_or_rdms"]


def load_rdms(path: str | os.PathLike) -> xr.DataArray:
    """Read an RDM file: one RDM (``stimulus_a``, ``stimulus_b``) or a stack of them (e.g. ``subject``,
    ``stimulus_a``, ``stimulus_b``), float64, with the file recorded for provenance.

    Raises
    ------
    FormatError
        The file cannot be read (as :func:`neurosuper.load` says), holds no RDM variable (a ResponseSet, say), or
        an RDM that is not square with the same ids in the same order on both dims.
    """
    path = Path(path)
    ds = load(path, validate_set=False)
    name = rdm_variable(ds)
    if name is None:
        found = (
            "a ResponseSet ('responses')"
            if "responses" in ds.data_vars
            else f"data variables {list(map(str, ds.data_vars))}"
        )
        raise fail(
            f"file {str(path)!r}",
            found,
            "an RDM file: a variable with dims (stimulus_a, stimulus_b), or (subject, stimulus_a, stimulus_b) for "
            "several",
            "save RDMs with neurosuper.save_result(neurosuper.compare.as_rdm(matrix, stimulus=ids), path); a set "
            "is read with neurosuper.load",
            FormatError,
        )
    da = ds[name]
    a, b = np.asarray(da["stimulus_a"].values), np.asarray(da["stimulus_b"].values)
    if a.tolist() != b.tolist():
        raise fail(
            f"file {str(path)!r}: {name!r}",
            f"stimulus_a ids {preview(a, 3)} and stimulus_b ids {preview(b, 3)}",
            "the same ids in the same order on both dims (a square RDM)",
            "write it again with neurosuper.compare.as_rdm(matrix, stimulus=ids)",
            FormatError,
        )
    da = da.astype(np.float64)
    da.attrs = {**{k: v for k, v in ds.attrs.items() if not k.startswith("neurosuper_")}, **da.attrs}
    da.encoding[INPUTS_KEY] = [str(path.resolve())]
    return da.rename("rdm")


def load_set_or_rdms(path: str | os.PathLike, *, lazy: bool = False) -> xr.Dataset | xr.DataArray:
    """What a saved file holds: a ResponseSet (``neurosuper.load``, a Dataset) or RDMs (:func:`load_rdms`, a
    DataArray) — for commands that take either, such as ``neurosuper compare``."""
    try:
        return load(path, lazy=lazy)
    except FormatError as err:
        try:
            holds_rdms = rdm_variable(load(path, validate_set=False)) is not None
        except FormatError:
            holds_rdms = False
        if not holds_rdms:
            raise err from None
    return load_rdms(path)
