"""Progress notes: a training tells, after its first epoch, the longest it can take."""

from __future__ import annotations

import chemmap._shared.progress as progress_module
from chemmap._shared.progress import format_duration, with_time_estimate


def test_after_the_first_epoch_the_whole_training_is_estimated(monkeypatch):
    clock = iter([100.0, 149.0])  # the wrapper starts at 100 s; the first epoch ends at 149 s
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(clock))
    calls = []
    progress = with_time_estimate(lambda *call: calls.append(call), "U-Net training", epochs=250, runs=5)
    progress("training U-Net 1/5", 1, 250)
    progress("training U-Net 1/5", 2, 250)
    note, first, second = calls
    assert note[1:] == (0, 0) and first == ("training U-Net 1/5", 1, 250) and second[1] == 2
    assert note[0] == (
        "U-Net training: the first epoch took 49 s here, so 5 x 250 epochs take up to 17.0 h "
        "(early stopping may end it sooner)"
    )
    assert with_time_estimate(None, "silent", 10) is None


def test_durations_read_in_the_unit_that_fits():
    assert [format_duration(s) for s in (40, 720, 61_200)] == ["40 s", "12 min", "17.0 h"]
