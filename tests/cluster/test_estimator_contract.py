"""The scikit-learn contract of the clusterers (DESIGN rule 3): parameters stored as given,
``get_params``/``clone`` work, ``fit`` returns the estimator, learned attributes end in ``_``."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from chemmap.cluster import PixelClusterer
from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
from chemmap.core.exceptions import InvalidParameterError
from chemmap.datasets import make_demo_cube


@pytest.mark.parametrize(
    "estimator",
    [
        PixelClusterer("kmeans", 2, n_components=5, random_state=3),
        SpectralSpatialClusterer(2, k_range=[2, 4], n_components=0.99, n_init=2, random_state=3),
    ],
    ids=["PixelClusterer", "SpectralSpatialClusterer"],
)
def test_a_clusterer_keeps_its_parameters_as_given_and_fit_returns_it(estimator):
    params = estimator.get_params()
    twin = clone(estimator)
    assert twin.get_params() == params and twin is not estimator
    cube = make_demo_cube()
    assert estimator.fit(cube) is estimator
    assert estimator.get_params() == params  # fitting does not rewrite the parameters
    assert estimator.label_image_.shape == cube.image_shape and estimator.k_ == 2
    np.testing.assert_array_equal(twin.fit_predict(cube), estimator.label_image_)  # same seed, same labels


def test_a_bad_restart_count_is_refused_when_fitting():
    with pytest.raises(InvalidParameterError, match="n_init"):
        SpectralSpatialClusterer(2, n_init=0).fit(make_demo_cube())
