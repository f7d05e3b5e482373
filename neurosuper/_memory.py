"""The memory a request may use, in one place: every size check (NWB loading, the bootstrap of a spectrum, a
dictionary of directions, a toy model) asks :func:`available_memory` and refuses before allocating.

The memory available to the process is the smaller of the free memory (``MemAvailable`` of ``/proc/meminfo``,
else the physical memory) and what the address-space limit (``ulimit -v``, ``RLIMIT_AS``) leaves above the
process's current size.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .errors import AnalysisError, NeurosuperError, fail

__all__ = ["available_memory", "gib", "check_memory", "largest_fitting"]


def _free_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def _address_space_left() -> int | None:
    """What ``RLIMIT_AS`` leaves above the process's virtual size (``VmSize``), or None when unlimited/unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError):  # pragma: no cover
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    used = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(int(soft) - used, 0)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation: the smaller of the free memory (``MemAvailable`` of
    ``/proc/meminfo`` on Linux, else the physical memory from ``os.sysconf``) and what the address-space limit
    (``resource.getrlimit(RLIMIT_AS)``) leaves; None when neither can be read."""
    limits = [v for v in (_free_memory(), _address_space_left()) if v is not None]
    return min(limits) if limits else None


def gib(n_bytes: float) -> str:
    """``n_bytes`` in GiB, as text: 3 significant digits below 10 GiB, one decimal (with thousands) above."""
    g = n_bytes / 2**30
    return f"{g:,.1f}" if g >= 10 else f"{g:.3g}"


def check_memory(
    n_bytes: float,
    *,
    what: str,
    detail: str,
    fix: str | Callable[[int], str],
    cls: type[NeurosuperError] = AnalysisError,
) -> None:
    """Raise ``cls`` (an :class:`AnalysisError` by default) before allocating when ``n_bytes`` exceed
    :func:`available_memory`: ``"<what>: found a request that would need X GiB of memory (<detail>) but Y GiB are
    available; expected a request that fits in memory. Fix: <fix>"``; ``fix`` may be a function of the bytes
    available (to suggest a size that fits). Nothing is checked when the memory available cannot be read."""
    avail = available_memory()
    if avail is None or n_bytes <= avail:
        return
    raise fail(
        what,
        f"a request that would need {gib(n_bytes)} GiB of memory ({detail}) but {gib(avail)} GiB are available",
        "a request that fits in memory",
        fix(avail) if callable(fix) else fix,
        cls,
    )


def largest_fitting(need: Callable[[int], float], high: int, budget: float, *, low: int = 1) -> int:
    """The largest ``k`` in ``[low, high]`` with ``need(k) <= budget`` (``need`` non-decreasing), else ``low``:
    the size to suggest in a fix (e.g. half the memory available as ``budget``)."""
    if need(low) > budget:
        return low
    while high - low > 1:
        mid = (low + high) // 2
        if need(mid) <= budget:
            low = mid
        else:
            high = mid
    return high if need(high) <= budget else low
