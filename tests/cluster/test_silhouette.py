"""The silhouette that scores a clustering and chooses k."""

import numpy as np
import pytest


def test_the_silhouette_is_scikit_learns_with_a_singleton_and_an_offset():
    from sklearn.metrics import silhouette_score as reference

    from chemmap.cluster.silhouette import silhouette_score

    rng = np.random.default_rng(0)
    x = (1e4 + rng.normal(size=(1500, 12))).astype(np.float32)  # an offset float32 cannot take in squares
    labels = rng.integers(0, 4, 1500)
    x[labels == 1] += 2.0
    labels[5] = 7  # a cluster of one row scores 0
    assert silhouette_score(x, labels) == pytest.approx(reference(x.astype(np.float64), labels), abs=1e-6)
    with pytest.raises(ValueError, match="two clusters"):
        silhouette_score(x, np.zeros(1500, int))
