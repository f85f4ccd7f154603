"""Spatially aware segmentation: coordinates joined with a weight, Potts/ICM smoothing, k by BIC."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from chemmap.cluster.methods import cluster_methods
from chemmap.cluster.spatial import (
    neighbour_votes,
    potts_icm,
    potts_icm_by_rows,
    segment_feature_image,
    with_coordinates,
)
from chemmap.core.exceptions import InvalidParameterError, ShapeError


def noisy_scene(noise: float, seed: int = 0):
    """Three regions (two halves and a block) with 4 features each, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((60, 60), int)
    truth[:, 30:] = 1
    truth[20:40, 8:24] = 2
    means = np.array([[0, 0, 0, 0], [1.2, -0.8, 0.5, 0], [-0.6, 1.0, 0, 0.9]], float)
    return truth, means[truth] + rng.normal(scale=noise, size=(60, 60, 4))


def ari(truth, labels):
    return adjusted_rand_score(truth.ravel(), labels.ravel())


def potts_energy(loglik, labels, beta):
    same = neighbour_votes(labels, loglik.shape[2])
    rows, cols = np.indices(labels.shape)
    return -(loglik[rows, cols, labels].sum() + 0.5 * beta * same[rows, cols, labels].sum())


def test_icm_lowers_the_potts_energy_and_recovers_regions():
    truth, _ = noisy_scene(0)
    rng = np.random.default_rng(1)
    loglik = np.where(np.arange(3) == truth[..., None], 0.0, -1.0) + rng.normal(scale=1.0, size=(60, 60, 3))
    start, none = potts_icm(loglik, 0.0)
    np.testing.assert_array_equal(start, np.argmax(loglik, axis=2))
    assert none == 0
    labels, changed = potts_icm(loglik, 1.0)
    assert changed == np.count_nonzero(labels != start) > 0
    assert potts_energy(loglik, labels, 1.0) < potts_energy(loglik, start, 1.0)
    assert np.mean(labels == truth) > 0.97 > np.mean(start == truth) + 0.2


def test_votes_of_a_block_of_rows_are_those_of_the_whole_image():
    labels = np.random.default_rng(2).integers(-1, 3, (9, 7))
    whole = neighbour_votes(labels, 3)
    for rows in (slice(0, 2), slice(3, 6), slice(4, 9), slice(6, 12)):
        np.testing.assert_array_equal(neighbour_votes(labels, 3, rows=rows), whole[rows])
        np.testing.assert_array_equal(neighbour_votes(labels, 3, (1, 0), rows), whole[rows][1::2, 0::2])


def test_icm_by_small_blocks_of_rows_gives_the_labels_of_the_whole_image():
    truth, _ = noisy_scene(0)
    rng = np.random.default_rng(3)
    loglik = np.where(np.arange(3) == truth[..., None], 0.0, -1.0) + rng.normal(scale=1.0, size=(60, 60, 3))
    whole, changed = potts_icm(loglik, 1.0)
    start = np.argmax(loglik, axis=2)
    calls = []

    def lattice_log_likelihood(rows, lattice):
        calls.append(rows)
        return loglik[rows][lattice[0] :: 2, lattice[1] :: 2]

    blocks, moved = potts_icm_by_rows(lattice_log_likelihood, start, 1.0, 3, block_bytes=60 * 3 * 8 * 4 * 4)
    np.testing.assert_array_equal(blocks, whole)
    assert moved == changed > 0
    assert max(r.stop - r.start for r in calls) == 4 and all(r.start % 2 == 0 for r in calls)


def test_icm_leaves_invalid_pixels_out():
    loglik = np.zeros((5, 5, 2))
    loglik[..., 1] = 1.0
    valid = np.ones((5, 5), bool)
    valid[2, 2] = False
    labels, _ = potts_icm(loglik, 2.0, valid=valid)
    assert labels[2, 2] == -1 and np.all(labels[valid] == 1)
    with pytest.raises(ShapeError, match="height, width, k"):
        potts_icm(np.zeros((5, 5)), 1.0)


def test_coordinates_are_standardised_and_weighted():
    features = np.random.default_rng(0).normal(loc=5, scale=3, size=(12, 3))
    valid = np.ones(12, bool)
    plain = with_coordinates(features, (3, 4), valid, 0.0)
    assert plain.shape == (12, 3)
    np.testing.assert_allclose(plain.std(axis=0), 1.0)
    joined = with_coordinates(features, (3, 4), valid, 0.5)
    assert joined.shape == (12, 5)
    np.testing.assert_allclose(joined[:, 3:].std(axis=0), 0.5)
    np.testing.assert_array_equal(np.argsort(joined[:, 3], kind="stable"), np.arange(12))  # rows in order
    with pytest.raises(InvalidParameterError, match=">= 0"):
        with_coordinates(features, (3, 4), valid, -1.0)


def test_spatial_options_raise_ari_on_a_noisy_scene():
    truth, image = noisy_scene(1.0)
    plain = ari(truth, segment_feature_image(image, k=3).labels)
    coords = ari(truth, segment_feature_image(image, k=3, spatial_weight=0.5).labels)
    smooth = ari(truth, segment_feature_image(image, k=3, smoothing=1.0).labels)
    assert plain < 0.6
    assert coords > plain + 0.1
    assert smooth > max(coords, 0.7)


def test_k_is_chosen_by_bic_and_masked_pixels_stay_unlabelled():
    truth, image = noisy_scene(0.25)
    valid = np.ones(truth.shape, bool)
    valid[:5, :5] = False
    seg = segment_feature_image(image, k="auto", valid=valid, k_range=(2, 6))
    assert seg.k == 3
    assert seg.k_selection["bic"]["best_k"] == 3
    assert np.all(seg.labels[:5, :5] == -1)
    assert ari(truth[valid], seg.labels[valid]) > 0.95
    km = segment_feature_image(image, k=3, method="kmeans", smoothing=1.0)
    assert ari(truth, km.labels) > 0.95


@pytest.mark.parametrize("method", sorted(cluster_methods.names()))
def test_every_registered_method_segments_a_feature_image(method):
    image = np.random.default_rng(0).normal(size=(20, 20, 3))
    image[:10] += 4.0
    result = segment_feature_image(image, k=2, method=method, smoothing=1.0)
    truth = np.repeat([0, 1], 200).reshape(20, 20)
    assert adjusted_rand_score(truth.ravel(), result.labels.ravel()) == 1.0
