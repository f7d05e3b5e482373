"""Convert the 92-image RDMs that rsatoolbox redistributes (``demos/92imageData`` of
https://github.com/rsagroup/rsatoolbox, MIT licence) into the netCDF RDM files next to this script.

    python datasets/real/kriegeskorte2008/build.py PATH/TO/rsatoolbox/demos/92imageData

Reads ``92_brainRDMs.mat`` (human IT, 4 subjects × 2 sessions, float32) and
``Kriegeskorte_Neuron2008_supplementalData.mat`` (the Fig. 1 RDMs of monkey IT, 674 neurons, and human IT,
316 voxels, and the stimuli's categories) and writes, with ``neurosuper.compare.as_rdm`` conventions
(dims ``stimulus_a``, ``stimulus_b``; ids ``img01`` … ``img92`` in the published order; ``category`` and
``animate`` along ``stimulus_a``):

- ``hIT_subjects.nc`` — one RDM per subject (dim ``subject``: BE, KO, SN, TI), the mean of its two session RDMs
  (computed in float64 from the published float32 values, so exactly), as Nili et al. 2014's demo averages
  sessions before the noise ceiling;
- ``hIT.nc`` and ``mIT.nc`` — the Fig. 1 group RDMs of human and monkey IT.

The values are copied, not recomputed (1 − Pearson r between response patterns, as published).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.io import loadmat

import neurosuper as ns

HERE = Path(__file__).resolve().parent
IDS = [f"img{i:02d}" for i in range(1, 93)]
SOURCE = "rsatoolbox demos/92imageData (Kriegeskorte et al. 2008 Neuron 60:1126)"


def _coords(supplement: dict) -> dict:
    stimuli = supplement["stimuli_92objs"][0]
    category = np.array([str(s["category"][0]) for s in stimuli])
    animate = np.array([bool(s["animal"].ravel()[0]) for s in stimuli])
    return {"category": ("stimulus_a", category), "animate": ("stimulus_a", animate)}


def _rdm(matrix: np.ndarray, name: str, coords: dict) -> xr.DataArray:
    out = ns.compare.as_rdm(np.asarray(matrix, dtype=np.float64), stimulus=IDS, metric="correlation", name=name)
    return out.assign_coords(coords)


def main(folder: str) -> None:
    folder_path = Path(folder)
    brain = loadmat(folder_path / "92_brainRDMs.mat")["RDMs"]
    supplement = loadmat(folder_path / "Kriegeskorte_Neuron2008_supplementalData.mat")
    coords = _coords(supplement)
    sessions = []
    for subject in range(brain.shape[1]):
        for session in range(brain.shape[2]):
            entry = brain[0, subject, session]
            sessions.append(_rdm(entry["RDM"], str(entry["name"][0]), coords))
    names = [s.attrs["source"] for s in sessions]  # "hIT | BE | Session: 1"
    subject = [n.split("|")[1].strip() for n in names]
    session = [int(n.rsplit(":", 1)[1]) for n in names]
    stack = xr.concat(sessions, dim="recording").assign_coords(
        recording=[f"{a}-{b}" for a, b in zip(subject, session, strict=True)]
    )
    stack = stack.assign_coords(subject=("recording", subject), session=("recording", session))
    stack.attrs = {"metric": "correlation", "source": SOURCE, "what": "human IT, 4 subjects x 2 sessions"}
    subjects = stack.drop_vars(["session", "recording"]).groupby("subject").mean()
    subjects.attrs = {"metric": "correlation", "source": SOURCE, "what": "human IT, mean of each subject's 2 sessions"}
    ns.save_result(subjects.rename("rdm"), HERE / "hIT_subjects.nc", overwrite=True)
    fig1 = supplement["RDMs_mIT_hIT_fig1"][0]
    for entry, file in zip(fig1, ("mIT.nc", "hIT.nc"), strict=True):
        from scipy.spatial.distance import squareform

        group = _rdm(squareform(entry["RDM"].ravel()), str(entry["name"][0]), coords)
        group.attrs.update({"source": SOURCE, "what": str(entry["name"][0])})
        ns.save_result(group.rename("rdm"), HERE / file, overwrite=True)


if __name__ == "__main__":
    main(sys.argv[1])
