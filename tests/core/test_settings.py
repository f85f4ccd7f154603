"""Declared settings: checked when made, frozen, round-tripped through their table."""

import pytest

from chemmap.core.exceptions import InvalidParameterError
from chemmap.workflows.peaks import PeakSettings
from chemmap.workflows.quantify import QuantifySettings


def test_settings_are_checked_frozen_and_round_trip_through_their_table():
    settings = PeakSettings(detect_on="mean", smooth=1.5)
    assert PeakSettings(**settings.to_dict()) == settings and settings != PeakSettings()
    with pytest.raises(AttributeError, match="frozen; make a changed copy with replace"):
        settings.detect_on = "max"
    assert settings.replace(detect_on="max").detect_on == "max" and settings.detect_on == "mean"
    with pytest.raises(InvalidParameterError, match=r"\[peaks\] got unknown parameter\(s\) 'detect'"):
        PeakSettings(detect="max")
    with pytest.raises(InvalidParameterError, match="'smooth' parameter of \\[peaks\\]"):
        settings.replace(smooth=-1)
    with pytest.raises(InvalidParameterError, match="two ways to show the grid"):
        PeakSettings(equalize=True, normalize=True)  # a rule across parameters
    assert QuantifySettings(models="pls-mean, unet").models == ("pls-mean", "unet")  # flag text parsed by the check
