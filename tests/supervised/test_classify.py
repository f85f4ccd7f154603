"""Maps from labelled pixels: spatial block splits that never share a block, classifiers
that recover a regions scene, calibrated probabilities and entropy, Potts smoothing that
removes isolated errors, and the scores against hand counts."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ShapeError
from chemmap.metrics.classification import classification_scores
from chemmap.supervised.blocks import block_ids, block_split
from chemmap.supervised.classify import CLASSIFIERS, classify_pixels, entropy_map


def _regions_scene(noise=0.4, seed=0):
    """Four classes in quadrant-like regions, each with its own band; noisy pixels."""
    rng = np.random.default_rng(seed)
    h, w, c = 40, 40, 30
    labels = 1 + (np.arange(h)[:, None] >= 20) * 2 + (np.arange(w)[None, :] >= 20)
    x = np.linspace(0, 1, c)
    spectra = np.stack([1 + np.exp(-0.5 * ((x - m) / 0.08) ** 2) for m in (0.2, 0.4, 0.6, 0.8)])
    data = spectra[labels - 1] + rng.normal(scale=noise, size=(h, w, c))
    labelled = labels.copy()
    labelled[::7, ::5] = 0  # some unlabelled pixels
    return Cube(data.astype(np.float32), SpectralAxis(np.linspace(1000, 1800, c), "cm-1")), labels, labelled


def test_block_split_keeps_whole_blocks_apart_and_gives_every_class_training_pixels():
    _, _, labelled = _regions_scene()
    train, test, info = block_split(labelled, [1, 2, 3, 4], train_fraction=0.1, block_size=5, random_state=3)
    blocks = block_ids(labelled.shape, 5)
    assert not set(blocks[train].tolist()) & set(blocks[test].tolist())
    assert not np.any(train & test) and np.all(labelled[train | test] > 0)
    assert 0.1 <= info["train_fraction"] < 0.2 and info["classes_without_training"] == []
    assert set(np.unique(labelled[train])) == {1, 2, 3, 4}
    _, buffered, _ = block_split(labelled, [1, 2, 3, 4], train_fraction=0.1, block_size=5, buffer=2, random_state=3)
    assert buffered.sum() < test.sum() and not np.any(buffered & ~test)


@pytest.mark.parametrize("method", CLASSIFIERS)
def test_every_classifier_maps_the_regions_with_calibrated_probabilities(method):
    cube, truth, labelled = _regions_scene(noise=1.0)  # noisy enough for errors (chance: 0.25)
    result = classify_pixels(cube, labelled, method=method, train_fraction=0.15, block_size=5)
    np.testing.assert_allclose(np.nansum(result.probabilities, axis=2), 1, atol=1e-5)
    assert result.report["test"]["overall_accuracy"] > 0.6
    assert np.mean(result.labels == truth) > 0.6
    assert 0 <= result.entropy.min() and result.entropy.max() <= 1
    # wrong pixels are less certain than right ones
    right = result.labels == truth
    assert result.entropy[~right].mean() > result.entropy[right].mean()


def test_potts_smoothing_removes_isolated_errors():
    cube, truth, labelled = _regions_scene(noise=0.9)
    result = classify_pixels(cube, labelled, method="lda", train_fraction=0.15, block_size=5, smoothing=1.0)
    plain, smooth = result.report["test"], result.report["test_smoothed"]
    assert smooth["overall_accuracy"] > plain["overall_accuracy"] + 0.05
    assert np.mean(result.smoothed == truth) > np.mean(result.labels == truth)


def test_scores_equal_hand_counts():
    truth = np.array([1, 1, 1, 2, 2, 3, 0])
    pred = np.array([1, 1, 2, 2, 2, 1, 3])
    scores = classification_scores(truth, pred, classes=[1, 2, 3])
    assert scores["n_test_pixels"] == 6
    assert scores["overall_accuracy"] == pytest.approx(4 / 6)
    # kappa by hand: p_o = 4/6, p_e = (3*3 + 2*3 + 1*0) / 36
    assert scores["kappa"] == pytest.approx((4 / 6 - 15 / 36) / (1 - 15 / 36))
    assert scores["per_class"]["1"]["f1"] == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))
    assert scores["confusion_matrix"]["matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_entropy_is_zero_when_certain_and_one_when_uniform():
    p = np.array([[[1.0, 0, 0], [1 / 3, 1 / 3, 1 / 3]]])
    np.testing.assert_allclose(entropy_map(p), [[0, 1]], atol=1e-6)


def test_classifier_refuses_a_label_image_of_another_size():
    cube, _, labelled = _regions_scene()
    with pytest.raises(ShapeError, match="label image"):
        classify_pixels(cube, labelled[:10])


def test_indian_pines_ten_percent_by_blocks(shared_data):
    from chemmap.datasets.benchmarks import load_indian_pines

    cube = load_indian_pines(shared_data / "indian_pines")
    result = classify_pixels(cube, cube.labels, method="lda", names=cube.label_names)  # -1: unlabelled
    plain, smooth = result.report["test"], result.report["test_smoothed"]
    assert result.report["split"]["classes_without_training"] == []
    assert plain["n_test_pixels"] > 8000
    # far above chance (16 classes; the largest holds 24 %) on spatially separate test blocks
    assert plain["overall_accuracy"] > 0.45 and plain["kappa"] > 0.35
    assert smooth["overall_accuracy"] > plain["overall_accuracy"]
