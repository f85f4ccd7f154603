"""Cube <-> HyperSpy: round trips eager and lazy (nothing computed), line scans and single
spectra, signals chemmap cannot map, and a real file read by RosettaSciIO through
``from_hyperspy`` and ``chemmap.run`` giving what reading the file directly gives."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

import chemmap
from chemmap.core.axis import SpectralAxis
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.testing import assert_cube_equal, make_cube

hs = pytest.importorskip("hyperspy.api", reason="the hyperspy extra is not installed (pip install 'chemmap[hyperspy]')")


def _never_compute(*args, **kwargs):
    raise AssertionError("a lazy conversion computed the data")


@pytest.fixture
def cube():
    base = make_cube(shape=(5, 6), n_channels=25, axis_range=(0.2, 9.8), unit="keV", random_state=4)
    labels = np.arange(30).reshape(5, 6) % 2
    mask = np.ones((5, 6), bool)
    mask[4, 5] = False
    return base.replace(labels=labels, label_names={0: "Fe-rich", 1: "Si-rich"}, mask=mask, attrs={"source": "m.bcf"})


def test_cube_to_signal1d_has_navigation_and_signal_axes_with_units(cube):
    signal = cube.to_hyperspy()
    assert isinstance(signal, hs.signals.Signal1D)
    manager = signal.axes_manager
    assert manager.navigation_shape == (6, 5)  # HyperSpy lists x first
    spectral = manager.signal_axes[0]
    assert spectral.units == "keV" and spectral.name == "Energy"
    assert np.array_equal(spectral.axis, cube.axis.values)
    back = chemmap.Cube.from_hyperspy(signal)
    assert_cube_equal(back, cube)
    assert back.attrs["source"] == "m.bcf"


def test_an_uneven_axis_becomes_a_non_uniform_signal_axis(cube):
    values = np.cumsum(np.linspace(1.0, 2.0, 25)) + 100
    uneven = cube.replace(axis=SpectralAxis(values, "cm-1"))
    signal = uneven.to_hyperspy()
    assert not signal.axes_manager.signal_axes[0].is_uniform
    assert_cube_equal(chemmap.Cube.from_hyperspy(signal), uneven)


def test_a_lazy_cube_gives_a_lazy_signal_and_back_without_computing(cube):
    lazy = cube.replace(data=da.from_array(cube.data, chunks=(2, 6, 25)))
    with dask.config.set(scheduler=_never_compute):
        signal = lazy.to_hyperspy()
        assert signal._lazy
        back = chemmap.Cube.from_hyperspy(signal)
        assert back.is_lazy
    assert_cube_equal(back.to_numpy(), cube)


def test_line_scans_and_single_spectra_become_cubes():
    line = hs.signals.Signal1D(np.arange(4 * 9, dtype=np.float32).reshape(4, 9))
    line.axes_manager.signal_axes[0].units = "nm"
    cube = chemmap.Cube.from_hyperspy(line)
    assert cube.shape == (1, 4, 9) and cube.axis.unit == "nm"
    single = chemmap.Cube.from_hyperspy(hs.signals.Signal1D(np.ones(7)))
    assert single.shape == (1, 1, 7) and single.axis.unit == "channel"


def test_a_signal_from_elsewhere_keeps_its_pixel_size_on_the_way_back():
    signal = hs.signals.Signal1D(np.zeros((3, 4, 5), np.float32))
    for axis, name in zip(signal.axes_manager.navigation_axes, ("x", "y"), strict=True):
        axis.scale, axis.units, axis.name = 2.5, "µm", name
    cube = chemmap.Cube.from_hyperspy(signal)
    again = cube.to_hyperspy()
    assert [a.scale for a in again.axes_manager.navigation_axes] == [2.5, 2.5]
    assert [a.units for a in again.axes_manager.navigation_axes] == ["µm", "µm"]


def test_signals_chemmap_cannot_map_are_refused_with_the_fix():
    with pytest.raises(ShapeError, match="as_signal1D"):
        chemmap.Cube.from_hyperspy(hs.signals.Signal2D(np.zeros((4, 5))))
    with pytest.raises(ShapeError, match="navigation axes"):
        chemmap.Cube.from_hyperspy(hs.signals.Signal1D(np.zeros((2, 3, 4, 5))))
    with pytest.raises(InvalidParameterError, match="HyperSpy signal"):
        chemmap.Cube.from_hyperspy(np.zeros((2, 3, 4)))
    with pytest.raises(InvalidParameterError, match="named maps"):
        chemmap.Cube.from_maps({"a": np.ones((2, 2))}).to_hyperspy()


@pytest.mark.data
def test_a_real_file_through_rosettasciio_and_hyperspy_maps_as_reading_it_directly(real_file):
    """The Renishaw map: read by ``hs.load`` (RosettaSciIO), converted, and run, equals
    reading the file with chemmap and running that."""
    path = real_file("renishaw/renishaw_test_streamline.wdf")
    signals = hs.load(path)
    signal = next(
        s for s in (signals if isinstance(signals, list) else [signals]) if s.axes_manager.signal_dimension == 1
    )
    via_hyperspy = chemmap.Cube.from_hyperspy(signal)
    direct = chemmap.read(path)
    assert np.array_equal(via_hyperspy.data, direct.data)
    assert via_hyperspy.axis == direct.axis and via_hyperspy.axis.unit == "cm-1"
    config = {"clustering": {"k": 3}, "maps": {"intensity": [1002]}}
    one, two = chemmap.run_cube(via_hyperspy, config), chemmap.run_cube(direct, config)
    assert np.array_equal(one.label_image, two.label_image)
    assert np.array_equal(one.maps["intensity_1002"], two.maps["intensity_1002"], equal_nan=True)
    assert len(np.unique(one.label_image)) == 3


@pytest.mark.data
def test_an_eds_map_keeps_its_exspy_class_both_ways(real_file):
    """A Bruker EDS map loads as exspy's EDSSEMSpectrum; as a Cube it equals reading the file
    directly, and back in HyperSpy it is an EDSSEMSpectrum again (keV axis, raw counts)."""
    exspy = pytest.importorskip("exspy", reason="exspy (EDS and EELS signals) is not installed")
    path = real_file("bruker/P45_the_default_job.bcf")
    signals = hs.load(path)
    (eds,) = [s for s in signals if isinstance(s, exspy.signals.EDSSEMSpectrum)]
    cube = chemmap.Cube.from_hyperspy(eds)
    direct = chemmap.read(path)
    assert cube.dtype == direct.dtype == np.uint8
    assert np.array_equal(cube.data, direct.data) and cube.axis == direct.axis and cube.axis.unit == "keV"
    back = cube.to_hyperspy()
    assert isinstance(back, exspy.signals.EDSSEMSpectrum)
    assert back.axes_manager.signal_axes[0].is_uniform
    assert np.array_equal(back.axes_manager.signal_axes[0].axis, eds.axes_manager.signal_axes[0].axis)
