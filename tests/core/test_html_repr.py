"""What a Cube shows in Jupyter: the facts a user checks first, and a mean spectrum that
follows the data; a lazy Cube shows itself without computing anything."""

from __future__ import annotations

import re

import dask
import dask.array as da
import numpy as np

from chemmap.testing import make_cube


def _points(html: str) -> np.ndarray:
    text = re.search(r'points="([^"]+)"', html).group(1)
    return np.array([[float(v) for v in p.split(",")] for p in text.split()])


def test_the_cube_html_states_shape_axis_dtype_mask_and_labels():
    cube = make_cube(shape=(4, 5), n_channels=20)
    labels = np.zeros((4, 5), int)
    labels[:, 3:] = 1
    mask = np.ones((4, 5), bool)
    mask[0, 0] = False
    html = cube.replace(labels=labels, label_names={0: "fat", 1: "<lean>"}, mask=mask)._repr_html_()
    assert "4 x 5 (20)" in html
    assert "600 – 1800 cm-1, 20 channels" in html
    assert "float32" in html and "in memory" in html
    assert "19 of 20 pixels" in html
    assert "2 classes (fat: 12, &lt;lean&gt;: 8)" in html  # names are escaped


def test_the_mean_spectrum_drawn_follows_the_data():
    cube = make_cube(shape=(3, 3), n_channels=30)
    rising = cube.replace(data=np.broadcast_to(np.linspace(0, 1, 30, dtype=np.float32), (3, 3, 30)).copy())
    points = _points(rising._repr_html_())
    assert len(points) == 30
    assert np.all(np.diff(points[:, 0]) > 0) and np.all(np.diff(points[:, 1]) < 0)  # SVG y grows downwards


def test_a_lazy_cube_shows_itself_without_computing():
    cube = make_cube(shape=(6, 6), n_channels=10)
    lazy = cube.replace(data=da.from_array(cube.data, chunks=(3, 6, 10)))

    def never(*args, **kwargs):
        raise AssertionError("the repr computed the cube")

    with dask.config.set(scheduler=never):
        html = lazy._repr_html_()
    assert "lazy" in html and "not computed" in html and "<polyline" not in html
