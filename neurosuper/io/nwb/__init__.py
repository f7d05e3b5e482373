"""NWB ↔ ResponseSet: load recordings from any lab's NWB file; write simulated sessions (or a set) as real NWB.

- :func:`load_nwb` — spike counts/rates (``nwbfile.units``) or imaging means (``RoiResponseSeries``) per
  presentation (IndexSeries, TimeIntervals table, trials) or per time bin → a ResponseSet. See ``docs/nwb.md``.
- :func:`nwb_sources` — the presentation sources of a file and the ``stimulus=`` argument picking each.
- :func:`write_session` — spike trains + presentations (+ images) → an NWB file (units, Images + IndexSeries,
  an equivalent TimeIntervals table, subject and session metadata), written atomically.
- :func:`save_nwb` — a ResponseSet of spike counts → an NWB file whose spikes reproduce those counts exactly.
- :func:`simulate_session` — a session with known firing rates and the exact spike counts planted per window.

pynwb is imported inside the calls, so importing this package is cheap.
"""

from .read import load_nwb, nwb_sources
from .simulate import SimulatedSession, simulate_session
from .write import save_nwb, write_imaging_session, write_session

__all__ = [
    "load_nwb",
    "nwb_sources",
    "write_session",
    "write_imaging_session",
    "save_nwb",
    "simulate_session",
    "SimulatedSession",
]
