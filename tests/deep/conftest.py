"""A tiny autoencoder trained once per test session (CPU, a few seconds)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the autoencoder needs the 'deep' extra (PyTorch)")

from chemmap.datasets import make_regions_cube
from chemmap.deep.autoencoder.training import train_autoencoder


@pytest.fixture(scope="session")
def small_cube():
    return make_regions_cube(image_shape=(32, 32), n_channels=64, snr=8, random_state=2)


@pytest.fixture(scope="session")
def tiny_model(small_cube):
    return train_autoencoder(small_cube, epochs=3, latent_dim=4, widths=(8, 16), random_state=0, device="cpu")
