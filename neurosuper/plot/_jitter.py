"""Seeded jitter: seaborn's ``stripplot`` spreads its points with numpy's global random stream, so a figure drawn
twice from the same result differed. Every strip is drawn inside :func:`seeded`: the same result gives the same
figure, and the caller's global random state is left as it was."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

__all__ = ["seeded", "JITTER_SEED"]

#: The seed of the jitter of every strip plot.
JITTER_SEED = 0


@contextlib.contextmanager
def seeded(seed: int = JITTER_SEED) -> Iterator[None]:
    """numpy's global random stream seeded with ``seed`` inside the block, restored after it (seaborn draws its
    jitter from that legacy stream and takes no generator, hence the legacy calls)."""
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002
