"""Segmenting the autoencoder's latent image: at least as good as PCA + k-means on a scene with
known regions, and better still with the spatial options on a noisy one."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the autoencoder needs the 'deep' extra (PyTorch)")

from sklearn.metrics import adjusted_rand_score

from chemmap.cluster import PixelClusterer
from chemmap.cluster.spatial import segment_feature_image
from chemmap.datasets import make_regions_cube
from chemmap.deep.autoencoder.inference import autoencode
from chemmap.deep.autoencoder.training import train_autoencoder


def latent_image(cube):
    trained = train_autoencoder(cube, epochs=30, latent_dim=8, random_state=0, device="cpu")
    return np.asarray(autoencode(trained, cube, device="cpu")[1].data)


def ari(cube, labels):
    return adjusted_rand_score(cube.labels.ravel(), labels.ravel())


def test_latent_gmm_reaches_the_pca_kmeans_baseline():
    cube = make_regions_cube(image_shape=(48, 48), n_channels=100, snr=5, n_regions=4, random_state=5)
    baseline = PixelClusterer("kmeans", 4, features="pca", n_components=8, random_state=0).fit(cube)
    latent = ari(cube, segment_feature_image(latent_image(cube), k=4, method="gmm").labels)
    assert latent >= ari(cube, baseline.label_image_)
    assert latent > 0.85


def test_spatial_options_raise_latent_ari_on_a_noisy_scene():
    cube = make_regions_cube(image_shape=(48, 48), n_channels=100, snr=3, n_regions=4, random_state=5)
    image = latent_image(cube)
    plain = ari(cube, segment_feature_image(image, k=4).labels)
    smoothed = ari(cube, segment_feature_image(image, k=4, smoothing=1.0).labels)
    both = ari(cube, segment_feature_image(image, k=4, smoothing=1.0, spatial_weight=0.5).labels)
    assert smoothed > plain + 0.1
    assert both > plain + 0.15
