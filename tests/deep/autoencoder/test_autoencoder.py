"""The spectral autoencoder: exact output length for any channel count, the loss terms, the
spatial-block split, and real (tiny, CPU) training that denoises a synthetic cube."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the autoencoder needs the 'deep' extra (PyTorch)")

import torch

from chemmap.core.exceptions import InvalidParameterError
from chemmap.datasets import make_regions_cube
from chemmap.deep.autoencoder.losses import reconstruction_loss, spectral_angle
from chemmap.deep.autoencoder.model import SpectralAutoencoder
from chemmap.deep.autoencoder.training import block_split, train_autoencoder


@pytest.mark.parametrize("n_channels", [16, 37, 100, 199, 203, 2048])
def test_the_decoder_restores_exactly_the_input_length(n_channels):
    model = SpectralAutoencoder(n_channels, latent_dim=5).eval()
    recon, latent = model(torch.randn(4, n_channels))
    assert recon.shape == (4, n_channels) and latent.shape == (4, 5)


def test_loss_terms_measure_what_they_say():
    x = torch.rand(6, 50) + 0.5
    mean, scale = torch.zeros(50), torch.ones(50)
    same = reconstruction_loss(x, x, mean=mean, scale=scale)
    assert float(same["loss"]) == pytest.approx(0.0, abs=1e-3)
    assert float(spectral_angle(x, 3 * x).max()) < 1e-3  # the angle ignores intensity scale
    shifted = reconstruction_loss(x + 1.0, x, mean=mean, scale=scale)
    assert float(shifted["gradient"]) == pytest.approx(0.0, abs=1e-10)  # an offset has no slope
    assert float(shifted["mse"]) == pytest.approx(1.0)
    flipped = reconstruction_loss(torch.flip(x, dims=[1]), x, mean=mean, scale=scale)
    assert float(flipped["gradient"]) > 0 and float(flipped["sam"]) > 0


def test_validation_blocks_are_apart_from_training_pixels():
    train, val = block_split((64, 80), block_size=16, validation=0.25, gap=1, random_state=4)
    assert not np.any(train & val)
    assert 0.15 < val.mean() < 0.35
    near_val = np.zeros_like(val)
    near_val[1:] |= val[:-1]
    near_val[:-1] |= val[1:]
    near_val[:, 1:] |= val[:, :-1]
    near_val[:, :-1] |= val[:, 1:]
    assert not np.any(train & near_val)  # no training pixel touches a validation pixel
    again, _ = block_split((64, 80), block_size=16, validation=0.25, gap=1, random_state=4)
    np.testing.assert_array_equal(train, again)


def test_an_image_of_one_validation_block_is_refused_with_a_block_size_that_splits_it():
    with pytest.raises(InvalidParameterError, match=r"3 x 3 image holds one validation block .*--block-size 1\b"):
        block_split((3, 3), block_size=16)
    train, val = block_split((3, 3), block_size=1, gap=0)
    assert val.sum() == 2 and not np.any(train & val)


def test_training_denoises_a_noisy_cube_and_keeps_the_best_weights():
    clean = make_regions_cube(image_shape=(48, 48), n_channels=120, snr=1e9, random_state=3)
    noisy = make_regions_cube(image_shape=(48, 48), n_channels=120, snr=5, random_state=3)  # same scene + noise
    result = train_autoencoder(noisy, epochs=30, latent_dim=8, random_state=0, device="cpu")
    x = np.asarray(noisy.data).reshape(-1, 120)
    truth = np.asarray(clean.data).reshape(-1, 120)
    with torch.no_grad():
        denoised = result.standardizer.inverse(
            result.model(torch.as_tensor(result.standardizer.transform(x)))[0].numpy()
        )

    def rmse(a):
        return np.sqrt(np.mean((a - truth) ** 2))

    def mean_angle(a):
        return float(spectral_angle(torch.as_tensor(a), torch.as_tensor(truth)).mean())

    assert rmse(denoised) <= 0.5 * rmse(x)
    assert mean_angle(denoised) < mean_angle(x)
    lrs = [h["lr"] for h in result.history]
    assert lrs[-1] < 0.5 * lrs[0]  # the schedule really changes the rate
    losses = [h["val_loss"] for h in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1  # epochs count from 1
