"""Scores of quantitative maps against reference means and truth maps, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.metrics.regression import masked_mean, mean_scores, out_of_range_fraction, pixel_scores


def test_mean_scores_by_hand():
    references = np.array([10.0, 20.0, 30.0, 40.0])
    predicted = 2.0 + 0.9 * references  # slope 0.9, intercept 2
    scores = mean_scores(references, predicted)
    error = predicted - references
    assert scores["rmse_mean"] == pytest.approx(np.sqrt(np.mean(error**2)))
    assert scores["bias"] == pytest.approx(error.mean())
    assert scores["slope"] == pytest.approx(0.9) and scores["intercept"] == pytest.approx(2.0)
    assert mean_scores([5.0], [6.0])["slope"] is None


def test_masked_mean_range_and_pixel_scores():
    image = np.array([[10.0, 120.0], [-5.0, 50.0]])
    mask = np.array([[True, True], [False, True]])
    assert masked_mean(image, mask) == pytest.approx(60.0)
    assert out_of_range_fraction([image], [mask]) == pytest.approx(1 / 3)
    assert out_of_range_fraction([image], [np.ones((2, 2), bool)]) == pytest.approx(0.5)
    truth = np.array([[10.0, 100.0], [0.0, 50.0]])
    scores = pixel_scores([image], [truth], [mask])
    assert scores["n_pixels"] == 3
    assert scores["pixel_rmse"] == pytest.approx(np.sqrt(400 / 3))
    assert scores["pixel_corr"] == pytest.approx(np.corrcoef([10, 120, 50], [10, 100, 50])[0, 1])
