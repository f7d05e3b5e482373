"""The demo's data steps: ``data`` saves the demo brain and network as ResponseSet files; ``nwb`` writes the demo
brain to a real NWB file (spike trains that reproduce its counts; its images as an ``Images`` template when there
are at most 200) and loads it back through :func:`neurosuper.load_nwb`, so the analyses read a recording as a user's
would.
"""

from __future__ import annotations

import time

import numpy as np

from .core import Context, Step

#: the demo writes its images into the NWB file only up to this many stimuli
MAX_IMAGES = 200


def data_step(ctx: Context) -> None:
    """Save the demo brain (simulated) and network as ResponseSet files."""
    from ..storage import save

    sets = (("brain", ctx.data["brain_simulated"]), ("network", ctx.data["network"]))
    for name, ds in sets:
        save(ds, ctx.path(f"demo_{name}.nc"), overwrite=True)
    ctx.summary["data"] = {
        name: {
            "sizes": {k: int(v) for k, v in ds["responses"].sizes.items()},
            "system": ds.attrs["system"],
            "measure": ds.attrs["measure"],
            "file": f"demo_{name}.nc",
        }
        for name, ds in sets
    }


def compact_repeats(values: np.ndarray) -> np.ndarray:
    """(repeat, stimulus, unit) with each stimulus's present repeats moved first (how load_nwb orders them)."""
    out = np.full_like(values, np.nan)
    present = ~np.isnan(values).all(axis=-1)  # (repeat, stimulus)
    for s in range(values.shape[1]):
        kept = np.flatnonzero(present[:, s])
        out[: kept.size, s] = values[kept, s]
    return out


def nwb_step(ctx: Context) -> None:
    """Write the simulated demo brain as NWB, load it back with load_nwb, check the counts: provides ``brain``.

    The provided ``brain`` is the simulated set with the responses loaded from the file (same dtype); its other
    variables and attrs (simulation truth such as ``rates`` or ``alpha_true``, which NWB does not carry) are
    kept, and ``attrs["nwb_file"]`` / ``attrs["loader"]`` record where the responses come from; the NWB file joins
    the set's input files, so every result's provenance names it. The simulated set itself is left as it was.
    """
    from ..errors import NeurosuperError
    from ..io.nwb import load_nwb, save_nwb

    start = time.perf_counter()
    brain = ctx.data["brain_simulated"]
    # the 2,000 patches stay out of the file: pynwb makes one object per image (~10 ms each, on writing and on
    # every reading); the demo keeps its stimuli (and simulation truth) from the set itself
    path = save_nwb(
        brain, ctx.path("demo_brain.nwb"), images=MAX_IMAGES >= brain.sizes["stimulus"], overwrite=True, seed=0
    )
    loaded = load_nwb(path, stimulus="presentations", progress=ctx.progress)
    loaded = loaded.sel(stimulus=brain["stimulus"].values)
    dims = [d for d in ("repeat", "stimulus", "unit") if d in brain["responses"].dims]
    want = brain["responses"].transpose(*dims).values
    got = loaded["responses"].transpose(*dims).values
    if "repeat" in dims and got.shape == want.shape and not np.array_equal(want, got, equal_nan=True):
        want = compact_repeats(want)  # missing repeats come back at the end of each stimulus's repeats
    if want.shape != got.shape or not np.array_equal(want, got, equal_nan=True):
        raise NeurosuperError(
            f"demo nwb step: found counts loaded from {path} that differ from the demo brain "
            f"(shapes {got.shape} vs {want.shape}); expected identical counts. This is a bug."
        )
    from .._provenance import INPUTS_KEY

    merged = brain.copy()
    merged["responses"] = (tuple(dims), got.astype(brain["responses"].dtype))
    merged.attrs.update(nwb_file=path.name, loader="neurosuper.load_nwb")
    # every result's provenance names both files: the NWB file (the responses) and the set (stimuli, truth)
    merged.encoding[INPUTS_KEY] = [*brain.encoding.get(INPUTS_KEY, []), str(path)]
    ctx.provide("brain", merged)
    ctx.summary["nwb"] = {
        "file": path.name,
        "sizes": {k: int(v) for k, v in loaded["responses"].sizes.items()},
        "n_spikes": int(loaded["n_spikes"].sum()),
        "counts_identical": True,
        "images_in_file": "stimuli" in loaded,
        "size_MB": round(path.stat().st_size / 1e6, 1),
        "seconds": round(time.perf_counter() - start, 2),
    }


DATA = Step(
    "data",
    data_step,
    reads=("brain_simulated", "network"),
    data=True,
    min_sets=0,
    title="Data",
    description="save the demo brain and network as ResponseSet files",
)
NWB = Step(
    "nwb",
    nwb_step,
    reads=("brain_simulated",),
    provides=("brain",),
    data=True,
    min_sets=0,
    title="NWB round trip",
    description="write the demo brain as an NWB file and load it back with load_nwb",
)
