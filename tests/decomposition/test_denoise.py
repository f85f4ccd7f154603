"""PCA and MNF denoising with the rank chosen by the hold-out score: the score picks the rank
a clean cube would pick, MNF wins where the noise differs between bands, lazy equals eager."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from chemmap.datasets.denoising import make_denoising_scene
from chemmap.decomposition.denoise import fit_low_rank, hold_out_bands, holdout_score, split_samples


def _true_best_rank(scene, model, ranks=range(1, 11)) -> int:
    x = np.asarray(scene.cube.data).reshape(-1, scene.cube.n_channels)
    errors = [scene.rmse(model.apply(x, r).reshape(scene.clean.shape)) for r in ranks]
    return list(ranks)[int(np.argmin(errors))]


@pytest.mark.parametrize(("mixture", "seed"), [("linear", 0), ("linear", 3), ("nonlinear", 1)])
@pytest.mark.parametrize("method", ["pca", "mnf"])
def test_the_holdout_score_picks_the_rank_the_clean_cube_would_and_removes_most_noise(mixture, seed, method):
    scene = make_denoising_scene(image_shape=(40, 40), n_channels=80, mixture=mixture, random_state=seed)
    fit, scored = split_samples(scene.cube, 0)
    model = fit_low_rank(fit, scored, scene.cube.axis.values, method)
    assert model.rank == _true_best_rank(scene, model)
    if mixture == "linear":
        assert model.rank == 3  # four components that sum to one: three directions about the mean
    noisy = scene.rmse(scene.cube.data)
    # about sqrt(rank / channels) of the noise is left, plus the error of the fitted subspace
    assert scene.rmse(model.denoise(scene.cube).data) < (0.25 if mixture == "linear" else 0.3) * noisy


def test_mnf_beats_pca_where_the_noise_differs_between_bands_and_the_score_says_so():
    scene = make_denoising_scene(image_shape=(48, 48), n_channels=100, random_state=2)
    rng = np.random.default_rng(5)
    sd = scene.noise_std * np.linspace(0.2, 3.0, scene.cube.n_channels)
    cube = scene.cube.replace(data=(scene.clean + rng.normal(size=scene.clean.shape) * sd).astype(np.float32))
    fit, scored = split_samples(cube, 0)
    pca, mnf = (fit_low_rank(fit, scored, cube.axis.values, m) for m in ("pca", "mnf"))
    assert scene.rmse(mnf.denoise(cube).data) < 0.9 * scene.rmse(pca.denoise(cube).data)
    assert mnf.scores[mnf.rank] < pca.scores[pca.rank]


def test_the_score_of_any_denoiser_never_sees_the_bands_it_is_scored_on():
    scene = make_denoising_scene(image_shape=(20, 20), n_channels=40, random_state=0)
    x = np.asarray(scene.cube.data).reshape(-1, 40)
    # the identity would score 0 if it saw the held-out bands; it scores the interpolation's error
    assert holdout_score(lambda s: s, x, scene.cube.axis.values) > 0.5 * scene.noise_std**2
    fit, scored = split_samples(scene.cube, 0)
    model = fit_low_rank(fit, scored, scene.cube.axis.values, "pca")
    for rank in (1, model.rank, max(model.scores)):  # the expanded sums of rank_scores, every rank
        assert holdout_score(lambda s, r=rank: model.apply(s, r), scored, scene.cube.axis.values) == pytest.approx(
            model.scores[rank], rel=1e-4
        )


def test_held_out_bands_are_interpolated_from_their_neighbours_by_position():
    axis = np.array([0.0, 1.0, 3.0, 4.0, 6.0, 10.0])
    line = 2.0 * axis + 1.0
    masked = hold_out_bands(np.stack([line, line]), np.array([0, 2, 5]), axis)
    # inside, linear interpolation restores a straight line; beyond an end, the nearest kept band
    np.testing.assert_allclose(masked[:, [1, 2, 3, 4]], line[[1, 2, 3, 4]][None].repeat(2, 0), rtol=1e-6)
    np.testing.assert_allclose(masked[:, [0, 5]], [[line[1], line[4]]] * 2)


def test_many_channels_take_the_randomized_svd_and_denoise_as_the_exact_one_does(monkeypatch):
    import chemmap._shared.linalg as linalg

    scene = make_denoising_scene(image_shape=(40, 40), n_channels=600, random_state=3)
    fit, scored = split_samples(scene.cube, 0)
    randomized = fit_low_rank(fit, scored, scene.cube.axis.values, "mnf")
    monkeypatch.setattr(linalg, "EXACT_CHANNELS", 10_000)
    exact = fit_low_rank(fit, scored, scene.cube.axis.values, "mnf")
    assert randomized.rank == exact.rank == 3
    assert scene.rmse(randomized.denoise(scene.cube).data) == pytest.approx(
        scene.rmse(exact.denoise(scene.cube).data), rel=1e-3
    )


def test_bands_without_noise_do_not_break_mnf():
    scene = make_denoising_scene(image_shape=(30, 30), n_channels=60, random_state=5)
    data = np.asarray(scene.cube.data).copy()
    data[..., 40:] = 0.0  # channels no count reached, as in X-ray spectra
    cube = scene.cube.replace(data=data)
    fit, scored = split_samples(cube, 0)
    model = fit_low_rank(fit, scored, cube.axis.values, "mnf")
    assert np.isfinite(list(model.scores.values())).all() and np.isfinite(model.scale).all()
    assert model.rank == 3
    denoised = np.asarray(model.denoise(cube).data)
    error = np.sqrt(np.mean((denoised[..., :40] - scene.clean[..., :40]) ** 2))
    assert error < 0.3 * scene.noise_std and np.all(denoised[..., 40:] == 0.0)


def test_a_lazy_cube_is_denoised_lazily_and_equals_the_eager_result():
    scene = make_denoising_scene(image_shape=(32, 30), n_channels=50, random_state=1)
    fit, scored = split_samples(scene.cube, 0)
    model = fit_low_rank(fit, scored, scene.cube.axis.values, "mnf", rank=2)
    assert model.rank == 2
    lazy = scene.cube.replace(data=da.from_array(np.asarray(scene.cube.data), chunks=(8, 30, 50)))
    out = model.denoise(lazy)
    assert out.is_lazy
    np.testing.assert_allclose(np.asarray(out.data.compute()), np.asarray(model.denoise(scene.cube).data), rtol=1e-5)


def test_the_denoise_step_is_fitted_once_frozen_into_the_chain_and_applied_to_another_cube(tmp_path):
    from chemmap.core.exceptions import InvalidParameterError
    from chemmap.preprocessing import Chain

    first = make_denoising_scene(image_shape=(40, 40), n_channels=80, random_state=0)
    chain = Chain([{"step": "denoise", "method": "mnf"}])
    denoised = chain.fit_transform(first.cube)
    frozen = chain.to_list()[0]
    assert frozen["rank"] == 3 and len(frozen["basis"]) == 3 and len(frozen["mean"]) == 80
    assert first.rmse(denoised.data) < 0.25 * first.rmse(first.cube.data)
    chain.save(tmp_path / "chain.toml")
    again = Chain.load(tmp_path / "chain.toml")
    second = make_denoising_scene(image_shape=(40, 40), n_channels=80, random_state=0)  # same components, new cube
    np.testing.assert_allclose(
        np.asarray(again.transform(second.cube).data), np.asarray(chain.transform(second.cube).data), rtol=1e-5
    )
    other_axis = make_denoising_scene(image_shape=(20, 20), n_channels=60, random_state=0).cube
    with pytest.raises(InvalidParameterError, match="fitted on another axis"):
        again.transform(other_axis)
