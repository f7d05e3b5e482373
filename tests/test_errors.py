"""The shared error and warning helpers (neurosuper.errors)."""

from __future__ import annotations

import warnings

import pytest

from neurosuper.errors import AnalysisError, NeurosuperWarning, fail, recorded_warnings


def test_fail_builds_the_found_expected_fix_message():
    err = fail("k", "7", "at most 5", "pass k=5", AnalysisError)
    assert isinstance(err, AnalysisError) and str(err) == "k: found 7; expected at most 5. Fix: pass k=5"


def test_recorded_warnings_keeps_neurosuper_ones_once_and_reissues_the_rest():
    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with recorded_warnings() as notes:
            warnings.warn("dropped 3 units", NeurosuperWarning, stacklevel=1)
            warnings.warn("a numpy-ish warning", RuntimeWarning, stacklevel=1)
            warnings.warn("dropped 3 units", NeurosuperWarning, stacklevel=1)
            warnings.warn("poor fit", NeurosuperWarning, stacklevel=1)
            assert notes == []  # filled when the block ends
    assert notes == ["dropped 3 units", "poor fit"]
    assert [(w.category, str(w.message)) for w in outer] == [(RuntimeWarning, "a numpy-ish warning")]


def test_recorded_warnings_are_kept_when_the_block_raises():
    with pytest.raises(AnalysisError):
        with recorded_warnings() as notes:
            warnings.warn("half done", NeurosuperWarning, stacklevel=1)
            raise AnalysisError("stop")
    assert notes == ["half done"]
