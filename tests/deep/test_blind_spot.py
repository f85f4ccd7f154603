"""The MNF autoencoder of ``chemmap denoise``: it never sees the noise it predicts, it beats
MNF where neighbours or the data's curved shape predict a pixel, and it is MNF where they
do not."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.core.exceptions import ShapeError
from chemmap.datasets.denoising import make_denoising_scene
from chemmap.decomposition.denoise import fit_low_rank, split_samples
from chemmap.deep._torch import torch
from chemmap.deep.blind_spot import fit_blind_spot_denoiser
from chemmap.deep.blind_spot.model import BlindSpotNet


def _mnf_rmse(scene) -> float:
    fit, scored = split_samples(scene.cube, 0)
    return scene.rmse(fit_low_rank(fit, scored, scene.cube.axis.values, "mnf").denoise(scene.cube))


@pytest.mark.parametrize(("mixture", "seed", "most"), [("nonlinear", 3, 0.8), ("linear", 5, 0.8)])
def test_where_neighbours_predict_a_pixel_it_beats_mnf_by_a_fifth(mixture, seed, most):
    scene = make_denoising_scene(mixture=mixture, random_state=seed)
    denoiser = fit_blind_spot_denoiser(scene.cube, device="cpu")
    rmse = scene.rmse(denoiser.denoise(scene.cube))
    assert rmse <= most * _mnf_rmse(scene)
    assert rmse <= 0.25 * scene.rmse(scene.cube.data)


def test_where_pixels_are_scattered_at_random_it_is_mnf():
    scene = make_denoising_scene(mixture="nonlinear", random_state=4)
    order = np.random.default_rng(0).permutation(64 * 64)
    shuffled = np.asarray(scene.cube.data).reshape(-1, 120)[order].reshape(64, 64, 120)
    scene.cube = scene.cube.replace(data=shuffled)
    scene.clean = scene.clean.reshape(-1, 120)[order].reshape(64, 64, 120)
    denoiser = fit_blind_spot_denoiser(scene.cube, device="cpu")
    assert denoiser.weights[: denoiser.linear.rank].min() > 0.8
    assert scene.rmse(denoiser.denoise(scene.cube)) <= 1.02 * _mnf_rmse(scene)


def test_a_pixel_is_predicted_without_its_own_noise():
    torch.manual_seed(0)
    net = BlindSpotNet(3, 8, kernel=5)
    x = torch.randn(1, 8, 12, 12)
    changed = x.clone()
    changed[0, :, 6, 6] += 10.0
    with torch.no_grad():
        before, after = net(x), net(changed)
    assert torch.allclose(before[0, :3, 6, 6], after[0, :3, 6, 6])
    assert not torch.allclose(before[0, :3, 5, 6], after[0, :3, 5, 6])
    only_rest = x.clone()
    only_rest[0, 3:, 6, 6] += 10.0
    with torch.no_grad():
        assert torch.allclose(net(only_rest)[0, :, 6, 6], before[0, :, 6, 6])


def test_a_lazy_cube_is_denoised_like_the_cube_in_memory_and_missing_pixels_stay_missing():
    da = pytest.importorskip("dask.array")
    scene = make_denoising_scene(image_shape=(48, 40), n_channels=60, random_state=6)
    data = np.asarray(scene.cube.data).copy()
    data[20, 17] = np.nan
    cube = scene.cube.replace(data=data)
    denoiser = fit_blind_spot_denoiser(cube, device="cpu")
    in_memory = np.asarray(denoiser.denoise(cube).data)
    lazy = denoiser.denoise(cube.replace(data=da.from_array(data, chunks=(16, 15, 60))))
    np.testing.assert_allclose(np.asarray(lazy.data.compute()), in_memory, atol=1e-5)
    assert (
        np.isnan(in_memory[20, 17]).all() and np.isfinite(np.delete(in_memory.reshape(-1, 60), 20 * 40 + 17, 0)).all()
    )


def test_an_image_too_small_for_its_neighbourhoods_is_refused_with_what_to_use():
    scene = make_denoising_scene(image_shape=(8, 8), n_channels=40, random_state=0)
    with pytest.raises(ShapeError, match="--method mnf"):
        fit_blind_spot_denoiser(scene.cube, device="cpu")


def test_one_pixel_lines_of_another_material_are_not_smoothed_away():
    scene = make_denoising_scene(random_state=1)
    x = scene.cube.axis.values
    lines = np.zeros((64, 64), dtype=bool)
    lines[4::8] = True
    clean = scene.clean.copy()
    clean[lines] = 0.5 * clean[lines] + 0.8 * np.exp(-0.5 * ((x - 1300) / 60) ** 2)
    noisy = clean + np.random.default_rng(1).normal(scale=scene.noise_std, size=clean.shape)
    scene.cube, scene.clean = scene.cube.replace(data=noisy.astype(np.float32)), clean
    denoised = np.asarray(fit_blind_spot_denoiser(scene.cube, device="cpu").denoise(scene.cube).data)
    fit, scored = split_samples(scene.cube, 0)
    mnf = np.asarray(fit_low_rank(fit, scored, x, "mnf").denoise(scene.cube).data)

    def on_lines(d):
        return np.sqrt(np.mean((d - clean)[lines] ** 2))

    assert on_lines(denoised) <= on_lines(mnf)
    assert on_lines(denoised) < 0.25 * scene.noise_std


def test_the_pixels_mnf_was_fitted_on_are_not_scored_so_the_noise_its_basis_learned_is_not_kept():
    from chemmap.datasets import make_demo_cube

    clean = np.asarray(make_demo_cube(noise=0.0).data)
    noisy = make_demo_cube(noise=0.05)  # 30 x 30 x 200: MNF's sample is half the image

    def rmse(cube):
        return np.sqrt(np.mean((np.asarray(cube.data) - clean) ** 2))

    fit, scored = split_samples(noisy, 0)
    denoiser = fit_blind_spot_denoiser(noisy, device="cpu")
    assert rmse(denoiser.denoise(noisy)) < 0.9 * rmse(
        fit_low_rank(fit, scored, noisy.axis.values, "mnf").denoise(noisy)
    )
    assert denoiser.kept.sum() <= 10  # scoring the fitted pixels kept all 21 coordinates
