"""Tables in memory and ground truth apart from the data: ``read(DataFrame)`` and label masks
(arrays and files) for any cube."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from chemmap.cli import main
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.io import read


def test_a_data_frame_reads_as_its_csv_file_does(demo_csv):
    from_file = read(demo_csv, image_shape=(30, 30), label_column="region")
    frame = pd.read_csv(demo_csv)
    from_frame = read(frame, image_shape=(30, 30), label_column="region")
    np.testing.assert_array_equal(from_frame.data, from_file.data)
    np.testing.assert_array_equal(from_frame.axis.values, from_file.axis.values)
    np.testing.assert_array_equal(from_frame.labels, from_file.labels)
    assert from_frame.label_names == from_file.label_names and from_frame.attrs["reader"] == "dataframe"
    assert list(frame.columns) == list(pd.read_csv(demo_csv).columns)  # the caller's frame is untouched


def test_a_data_frame_with_an_unknown_option_is_refused(demo_csv):
    with pytest.raises(InvalidParameterError, match="does not take the option"):
        read(pd.read_csv(demo_csv), image_shape=(30, 30), bands=3)


def test_label_mask_from_an_array_a_png_and_a_npy_file(tmp_path, demo_csv):
    truth = read(demo_csv, image_shape=(30, 30), label_column="region").labels
    Image.fromarray((truth * 200).astype(np.uint8)).save(tmp_path / "mask.png")
    np.save(tmp_path / "mask.npy", np.where(truth == 1, 7, -1))  # -1: unlabelled
    from_png = read(demo_csv, image_shape=(30, 30), label_mask=tmp_path / "mask.png")
    assert from_png.label_names == {0: "0", 200: "200"}  # class numbers are the mask's values
    np.testing.assert_array_equal(from_png.labels == 200, truth == 1)
    assert from_png.attrs["labels_source"] == "label mask mask.png"
    from_npy = read(demo_csv, image_shape=(30, 30), label_mask=str(tmp_path / "mask.npy"))
    assert from_npy.label_names == {7: "7"} and int((from_npy.labels < 0).sum()) == int((truth == 0).sum())
    from_array = read(demo_csv, image_shape=(30, 30), label_mask=truth)
    np.testing.assert_array_equal(from_array.labels, truth)


def test_label_mask_of_the_wrong_shape_says_so(demo_csv):
    with pytest.raises(ShapeError, match="15 x 60 pixels; the image is 30 x 30"):
        read(demo_csv, image_shape=(30, 30), label_mask=np.zeros((15, 60), int))


def test_label_mask_scores_a_run_of_a_cube_without_labels(tmp_path, demo_csv, capsys):
    truth = read(demo_csv, image_shape=(30, 30), label_column="region").labels
    np.save(tmp_path / "truth.npy", truth)
    out = tmp_path / "run"
    argv = ["run", str(demo_csv), "--image-shape", "30", "30", "--label-mask", str(tmp_path / "truth.npy")]
    assert main([*argv, "--out", str(out), "--clusters", "2", "--quiet"]) == 0
    assert "ARI=1.000" in capsys.readouterr().out


def test_a_wrong_image_shape_of_the_right_pixel_count_warns_and_names_the_right_one(demo_csv):
    from chemmap.core.exceptions import DataWarning

    rows = pd.read_csv(demo_csv).drop(columns=["pixel_x", "pixel_y"])  # no coordinates to check against
    with pytest.warns(DataWarning, match=r"looks sheared.*alike: 30 x 30"):
        sheared = read(rows, image_shape=(20, 45))
    assert sheared.attrs["image_shape_check"]["sheared"] and sheared.attrs["image_shape_check"]["ratio"] > 0.9
    right = read(rows, image_shape=(30, 30))  # warnings are errors here: the right shape says nothing
    assert not right.attrs["image_shape_check"]["sheared"]


def test_noise_without_structure_gives_no_shape_warning():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(600, 40)), columns=[str(400 + 5 * i) for i in range(40)])
    assert not read(frame, image_shape=(20, 30)).attrs["image_shape_check"]["sheared"]


@pytest.mark.data
def test_the_real_bladder_map_with_its_coordinates_dropped(real_file):
    from chemmap.core.exceptions import DataWarning

    rows = pd.read_csv(real_file("csv/bladder.csv.xz")).drop(columns=["x", "y", "Unnamed: 0"])
    for wrong in [(12, 30), (4, 90), (36, 10), (24, 15)]:
        with pytest.warns(DataWarning, match=r"looks sheared.*alike: (.*, )?18 x 20"):
            read(rows, image_shape=wrong, label_column="label")
    assert not read(rows, image_shape=(18, 20), label_column="label").attrs["image_shape_check"]["sheared"]


@pytest.mark.parametrize(("seed", "snr"), [(5, 8.0), (2, 20.0)])
def test_shape_check_on_another_generator(seed, snr):
    from chemmap.core.exceptions import DataWarning
    from chemmap.datasets import make_regions_cube

    cube = make_regions_cube(image_shape=(40, 60), n_channels=50, n_regions=4, snr=snr, random_state=seed)
    rows = pd.DataFrame(np.asarray(cube.data).reshape(-1, 50), columns=[str(v) for v in cube.axis.values])
    assert not read(rows, image_shape=(40, 60)).attrs["image_shape_check"]["sheared"]
    for wrong in [(60, 40), (30, 80)]:
        with pytest.warns(DataWarning, match=r"alike: 40 x 60"):
            read(rows, image_shape=wrong)
