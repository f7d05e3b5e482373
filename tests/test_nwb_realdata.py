"""load_nwb on files other tools wrote (datasets/real/nwb): counts checked against a direct h5py reading."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import neurosuper as ns
from neurosuper.io.nwb import load_nwb, nwb_sources

ALM = {"sub-anm369963_ses-20170228.nwb": (178, 1679, "Excellent"), "sub-anm372793_ses-20170508.nwb": (340, 2434, None)}


def _direct(path):
    """Spike times per unit and the trials columns, read with h5py only (no pynwb, no neurosuper)."""
    with h5py.File(path, "r") as fh:
        flat, ends = fh["units/spike_times"][:], fh["units/spike_times_index"][:]
        trains = np.split(flat, ends[:-1])
        trials = (
            {k: fh[f"intervals/trials/{k}"][:] for k in fh["intervals/trials"]} if "intervals/trials" in fh else None
        )
    if trials is not None:
        for k, v in trials.items():
            if v.dtype.kind == "O":
                trials[k] = np.asarray([x.decode() if isinstance(x, bytes) else x for x in v])
    return trains, trials


@pytest.mark.parametrize("name", sorted(ALM))
def test_alm_trials_grouped_by_columns_with_aligned_window(real_data, name):
    path = real_data / "nwb" / name
    n_trials, n_spikes, quality = ALM[name]
    trains, trials = _direct(path)
    assert len(trials["start_time"]) == n_trials and trains[0].size == n_spikes
    assert np.any(np.diff(trains[0]) < 0)  # the file's spike times are unsorted
    with pytest.warns(ns.NeurosuperWarning, match="relative to the row start"):
        ds = load_nwb(
            path, stimulus=("trials", ["type", "response"]), window=(-0.5, 1.0), align="cue_start_time", progress=False
        )
    onset = trials["start_time"] + trials["cue_start_time"]
    ids = np.asarray([f"{a}|{b}" for a, b in zip(trials["type"], trials["response"], strict=True)])
    assert list(ds["stimulus"].values) == sorted(set(ids.tolist()))
    train = np.sort(trains[0])
    for s, sid in enumerate(ds["stimulus"].values):
        rows = np.flatnonzero(ids == sid)
        rows = rows[np.argsort(onset[rows], kind="stable")]
        expected = [int(((train >= t - 0.5) & (train < t + 1.0)).sum()) for t in onset[rows]]
        np.testing.assert_array_equal(ds["responses"].values[: rows.size, s, 0], expected)
        assert np.isnan(ds["responses"].values[rows.size :, s, 0]).all()
        assert ds["n_repeats"].values[s] == rows.size
    assert int(ds["n_repeats"].sum()) == n_trials
    assert ds.attrs["align_relative"] is True and ds.attrs["n_units_resorted"] == 1
    assert ds.attrs["nwb_version"] == "2.0.2" and ds.attrs["species"] == "Mus musculus"
    assert ds.attrs["subject_id"] == name.split("_")[0].removeprefix("sub-")
    assert list(ds["area"].values) == ["ALM"] and ds["unit"].values.tolist() == [1001]
    if quality:
        assert ds["quality"].values.tolist() == [quality] and ds["depth"].values.tolist() == [780.0]


@pytest.mark.parametrize("name", sorted(ALM))
def test_alm_psth_bins_sum_to_the_window_and_good_trials_filter(real_data, name):
    path = real_data / "nwb" / name
    trains, trials = _direct(path)
    kw = dict(stimulus=("trials", "type"), window=(-1.0, 2.0), align="cue_start_time", progress=False)
    with pytest.warns(ns.NeurosuperWarning):
        psth = load_nwb(path, bin_size=0.1, rows=lambda t: t.is_good == 1, **kw)
        whole = load_nwb(path, rows=lambda t: t.is_good == 1, **kw)
    assert psth.sizes["time"] == 30 and np.isclose(psth["time"].values[0], -0.95)
    np.testing.assert_array_equal(psth["responses"].sum("time", skipna=False).values, whole["responses"].values)
    assert int(whole["n_repeats"].sum()) == int((trials["is_good"] == 1).sum())
    onset = trials["start_time"] + trials["cue_start_time"]
    train = np.sort(trains[0])
    good = trials["is_good"] == 1
    for sid in ("lick left", "lick right"):
        rows = np.flatnonzero(good & (trials["type"] == sid))
        expected = np.zeros(30)
        for t in onset[rows]:
            expected += np.histogram(train, t - 1.0 + 0.1 * np.arange(31))[0]
        got = psth["responses"].sel(stimulus=sid).sum("repeat").values[:, 0]
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", sorted(ALM))
def test_alm_time_bins_cover_every_spike(real_data, name):
    path = real_data / "nwb" / name
    trains, _ = _direct(path)
    ds = load_nwb(path, stimulus="bins", bin_size=1.0, progress=False)
    edges = np.append(ds["start_time"].values, ds["start_time"].values[-1] + 1.0)
    np.testing.assert_array_equal(ds["responses"].values[:, 0], np.histogram(trains[0], edges)[0])
    assert float(ds["responses"].sum()) == trains[0].size == ALM[name][1]


def test_alm_without_choice_or_window_says_what_to_pass(real_data):
    path = real_data / "nwb" / "sub-anm369963_ses-20170228.nwb"
    with pytest.raises(ns.NWBLayoutError, match=r"(?s)stimulus=\('trials', 'type'\).*stimulus='bins'"):
        load_nwb(path)
    with pytest.raises(ns.NWBLayoutError, match=r"178 of 178 presentations without a stop time.*window="):
        load_nwb(path, stimulus=("trials", "type"))
    with pytest.raises(ns.NWBLayoutError, match=r"column 'trial_kind' does not exist.*'type', 'response'"):
        load_nwb(path, stimulus=("trials", "trial_kind"), window=(0, 1))
    [cand] = nwb_sources(path)
    assert cand.kind == "trials" and cand.n_presentations == 178 and not cand.has_stop


def test_pynapple_file_binned_over_its_epoch(real_data):
    path = real_data / "nwb" / "A8604-211122.nwb"
    trains, _ = _direct(path)
    with pytest.raises(ns.NWBLayoutError, match="found no presentations"):
        load_nwb(path)
    ds = load_nwb(path, stimulus="bins", bin_size=0.05, epochs="wake", progress=False)
    assert ds.sizes == {"stimulus": 21750, "unit": 3}  # floor(1087.5289 s / 0.05 s) whole bins
    assert ds["unit"].values.tolist() == [6, 191, 206] and set(ds["epoch"].values) == {"wake"}
    edges = np.arange(21751) * 0.05
    expected = np.stack([np.histogram(t, edges)[0] for t in trains], axis=1)
    np.testing.assert_array_equal(ds["responses"].values, expected)
    assert float(ds["responses"].sum()) == 21354 and ds["n_spikes"].values.tolist() == [11020, 4690, 5644]
    by_table = load_nwb(path, stimulus="bins", bin_size=0.05, epochs="epochs", progress=False)
    np.testing.assert_array_equal(by_table["responses"].values, ds["responses"].values)
    rates = load_nwb(path, stimulus="bins", bin_size=0.05, epochs="wake", measure="spike_rate", progress=False)
    np.testing.assert_allclose(rates["responses"].values, expected / 0.05)
    assert ds.attrs["nwb_version"] == "2.4.0" and ds.attrs["n_units_resorted"] == 0
