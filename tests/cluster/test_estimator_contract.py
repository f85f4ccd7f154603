"""The clusterers' parameters are checked when fitting (the contract of every estimator is
tested in ``tests/core/test_every_estimator.py``); the same seed gives the same labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from chemmap.cluster import PixelClusterer
from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
from chemmap.core.exceptions import InvalidParameterError
from chemmap.datasets import make_demo_cube


def test_a_bad_restart_count_is_refused_when_fitting():
    with pytest.raises(InvalidParameterError, match="n_init"):
        SpectralSpatialClusterer(2, n_init=0).fit(make_demo_cube())


@pytest.mark.parametrize(
    "estimator",
    [
        PixelClusterer("kmeans", 2, n_components=5, random_state=3),
        SpectralSpatialClusterer(2, k_range=[2, 4], n_components=0.99, n_init=2, random_state=3),
    ],
    ids=["PixelClusterer", "SpectralSpatialClusterer"],
)
def test_a_clone_fitted_with_the_same_seed_gives_the_same_label_image(estimator):
    cube = make_demo_cube()
    labels = estimator.fit_predict(cube)
    assert labels.shape == cube.image_shape and estimator.k_ == 2
    np.testing.assert_array_equal(clone(estimator).fit_predict(cube), labels)
