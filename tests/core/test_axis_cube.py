import numpy as np
import pytest

from chemmap.core.axis import SpectralAxis, normalize_unit, sort_order
from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, AxisOrderWarning, ShapeError


def test_axis_helpers_use_axis_units():
    axis = SpectralAxis(np.linspace(600, 1800, 201), "1/cm")
    assert axis.unit == "cm-1"
    assert axis.index(1655) == 176
    window = axis.window_slice(1200, 30)
    assert np.all(np.abs(axis.values[window] - 1200) <= 15)
    assert axis.values[window].size == 5
    cropped = axis.take(axis.crop_slice(800, 1000))
    assert (cropped.start, cropped.stop, len(cropped)) == (804.0, 996.0, 33)


def test_position_outside_axis_names_the_range():
    axis = SpectralAxis(np.linspace(600, 1800, 10), "cm-1")
    with pytest.raises(AxisError, match=r"2000 cm-1 is outside the spectral axis \(600..1800 cm-1\)"):
        axis.index(2000)


def test_unknown_unit_lists_valid_units():
    with pytest.raises(AxisError, match="Valid units are: cm-1, nm"):
        normalize_unit("furlongs")


def test_sort_order_reverses_with_warning_and_refuses_duplicates():
    with pytest.warns(AxisOrderWarning, match="decreasing"):
        order = sort_order([3.0, 2.0, 1.0])
    np.testing.assert_array_equal(order, [2, 1, 0])
    with pytest.raises(AxisError, match="duplicated values"):
        sort_order([1.0, 2.0, 2.0])
    with pytest.warns(AxisOrderWarning, match="1 step go back"):
        order = sort_order([1.0, 3.0, 2.0])
    np.testing.assert_array_equal(order, [0, 2, 1])


def test_cube_checks_axis_length_and_row_major_order():
    data = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    with pytest.raises(ShapeError, match="axis has 5 values but the data have 4 channels"):
        Cube(data, SpectralAxis(np.arange(5.0)))
    cube = Cube(data, SpectralAxis(np.arange(4.0)))
    # pixel_id = row * width + col
    np.testing.assert_array_equal(cube.pixels()[1 * 3 + 2], data[1, 2])


def test_unflatten_fills_masked_pixels():
    mask = np.array([[True, False], [True, True]])
    cube = Cube(np.ones((2, 2, 3), np.float32), SpectralAxis(np.arange(3.0)), mask=mask)
    img = cube.unflatten(np.array([1.0, 2.0, 3.0]))
    assert np.isnan(img[0, 1]) and img[1, 1] == 3.0
    labels = cube.unflatten(np.array([0, 1, 1]))
    assert labels[0, 1] == -1


def test_steps_never_mutate_and_record_history():
    cube = Cube(np.ones((2, 2, 3), np.float32), SpectralAxis(np.arange(3.0)))
    new = cube.with_step("scale", {"factor": np.float64(2.0)}, data=cube.data * 2)
    assert cube.history == [] and new.history == [{"step": "scale", "params": {"factor": 2.0}}]
    assert float(cube.data.max()) == 1.0


def test_import_chemmap_is_light():
    import subprocess
    import sys

    code = (
        "import sys, chemmap; heavy = [m for m in ('torch', 'matplotlib', 'dask', 'sklearn', 'pandas') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_cube_copies_the_callers_mask_and_labels_once_and_its_replacements_share_them():
    labels = np.array([[0, -1, 4], [4, 2, -1]])
    mask = np.array([[True, False, True], [True, True, True]])
    cube = Cube(np.zeros((2, 3, 4), np.float32), SpectralAxis(np.arange(4.0)), mask=mask, labels=labels)
    labels[0, 0], mask[0, 0] = 9, False  # the caller's arrays stay the caller's
    assert cube.labels[0, 0] == 0 and cube.mask[0, 0]
    assert sorted(cube.label_names) == [0, 2, 4]
    again = cube.replace(data=np.ones((2, 3, 4), np.float32))
    assert again.labels is cube.labels and again.mask is cube.mask  # read-only: safe to share
    assert not again.labels.flags.writeable and not again.mask.flags.writeable
    big = Cube(np.zeros((1, 3, 2), np.float32), SpectralAxis(np.arange(2.0)), labels=np.array([[7, 2**40, -3]]))
    assert sorted(big.label_names) == [7, 2**40]  # beyond counting: sorted
