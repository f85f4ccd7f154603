import numpy as np
import pytest

from chemmap.metrics import external_scores, grade, internal_scores, snr_summary
from chemmap.metrics.cluster_differences import boundary_sharpness, distinguishing_bands


def test_hungarian_matching_accuracy_iou_and_confusion():
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1])
    pred = np.array([5, 5, 5, 7, 7, 7, 7, 7, 5])  # cluster ids unrelated to class ids
    s = external_scores(truth, pred, {0: "fat", 1: "lean"})
    assert s["pixel_accuracy"] == pytest.approx(7 / 8)
    assert s["per_class"]["fat"]["iou"] == pytest.approx(3 / 4)
    assert s["per_class"]["lean"]["iou"] == pytest.approx(4 / 5)
    assert s["per_class"]["lean"]["precision"] == pytest.approx(4 / 5)
    assert s["mean_iou"] == pytest.approx((0.75 + 0.8) / 2)
    assert s["confusion_matrix"]["matrix"] == [[3, 1], [0, 4]]
    assert s["cluster_to_class"] == {"5": "fat", "7": "lean"}
    assert s["n_labelled_pixels"] == 8


def test_extra_clusters_count_as_errors():
    truth = np.array([0, 0, 1, 1])
    s = external_scores(truth, np.array([0, 2, 1, 1]))
    assert s["pixel_accuracy"] == pytest.approx(0.75)


def test_grades_follow_quality_table():
    assert grade("ari", 0.95) == "excellent"
    assert grade("ari", 0.8) == "good"
    assert grade("pixel_accuracy", 0.76) == "minimum"
    assert grade("silhouette", 0.1) == "below minimum"


def test_silhouette_sample_is_seeded_and_capped():
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(0, 1, (8000, 2)), rng.normal(10, 1, (8000, 2))])
    labels = np.repeat([0, 1], 8000)
    a = internal_scores(feats, labels, random_state=1)
    b = internal_scores(feats, labels, random_state=1)
    assert a["silhouette_sample_size"] == 10_000 and a["silhouette"] == b["silhouette"] > 0.8


def test_snr_of_demo_matches_its_noise(demo_cube):
    s = snr_summary(demo_cube)
    # strongest band: mean |intensity| (1.8 + 1.8) / 2 at 1655 / 1742 over noise 0.05
    assert 25 < s["max"] < 40
    assert s["n_low_snr_bands"] > 100 and s["low_snr_ranges"][0][0] == 600.0
    assert s["rows_used"] == 30 and "rows" not in s["method"]  # a small cube: every row


def test_the_snr_of_a_large_cube_says_which_rows_it_used(demo_cube, monkeypatch):
    import chemmap._shared.sampling as sampling

    whole = snr_summary(demo_cube)
    monkeypatch.setattr(sampling, "SNR_SAMPLE_BYTES", 8 * 30 * 200 * 4)  # room for 8 of the 30 rows
    sampled = snr_summary(demo_cube)
    assert sampled["rows_used"] == 16  # two rows per band, at least
    assert "on 16 of 30 rows" in sampled["method"]
    assert sampled["max"] == pytest.approx(whole["max"], rel=0.3)


def test_distinguishing_bands_and_boundary_sharpness():
    axis = np.array([1000.0, 1100.0, 1200.0])
    means = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    stds = np.full((2, 3), 0.1)
    bands = distinguishing_bands(axis, means, stds, np.array([10, 10]))
    assert bands[0] == {
        "cluster": 0,
        "position": 1000.0,
        "difference": 1.0,
        "effect_size": pytest.approx(10.0),
        "direction": "higher",
    }
    labels = np.zeros((4, 2), int)
    labels[:, 1] = 1
    sharp = boundary_sharpness(labels, np.ones((4, 2)))
    assert sharp["sharpness"] is None  # no interior pixel
    labels = np.zeros((6, 6), int)
    labels[:, 3:] = 1
    margins = np.ones((6, 6))
    margins[:, 2:4] = 0.1
    assert boundary_sharpness(labels, margins)["sharpness"] == pytest.approx(0.1)


def test_adjusted_rand_index_equals_scikit_learns():
    from sklearn.metrics import adjusted_rand_score

    from chemmap.metrics.clustering import adjusted_rand_index

    rng = np.random.default_rng(5)
    for size, ka, kb in ((2000, 4, 6), (50, 1, 3), (7, 7, 7), (1, 1, 1)):
        a = rng.integers(-1, ka, size) * 10  # any integer values
        b = np.where(rng.random(size) < 0.6, a // 10, rng.integers(0, kb, size))
        assert adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([5, 5, 2, 2])) == 1.0


@pytest.mark.parametrize("piece", [2**20, 333], ids=["one piece", "counted by pieces"])
def test_external_scores_from_the_confusion_matrix_equal_scikit_learns_and_never_match_masked_pixels(
    piece, monkeypatch
):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from chemmap.metrics import clustering

    monkeypatch.setattr(clustering, "CONFUSION_PIECE", piece)
    rng = np.random.default_rng(3)
    for _ in range(10):
        truth = rng.integers(-1, 4, 2000)  # -1: unlabelled
        pred = np.where(rng.random(2000) < 0.7, np.maximum(truth, 0), rng.integers(-1, 6, 2000))  # -1: masked
        scores = external_scores(truth, pred)
        keep = truth >= 0
        assert scores["ari"] == pytest.approx(adjusted_rand_score(truth[keep], pred[keep]), abs=1e-12)
        assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(truth[keep], pred[keep]), abs=1e-12)
        assert "-1" not in scores["cluster_to_class"]
    masked = external_scores(np.array([0, 0, 0, 1, 1]), np.array([-1, -1, -1, 0, 0]))
    assert masked["pixel_accuracy"] == pytest.approx(0.4) and masked["per_class"]["0"]["recall"] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8])
@pytest.mark.parametrize("n", [1, 2, 7, 8, 1001])
def test_row_medians_equal_numpys_median_and_say_nan_for_a_row_with_nan(dtype, n):
    from chemmap._shared.noise import row_medians

    x = (np.random.default_rng(n).normal(size=(6, n)) * 40 + 100).astype(dtype)
    np.testing.assert_allclose(row_medians(x), np.median(x, axis=1), rtol=1e-6)
    if np.dtype(dtype).kind == "f":
        x[2, n // 2] = np.nan
        got = row_medians(x)
        assert np.isnan(got[2]) and np.all(np.isfinite(np.delete(got, 2)))


def test_internal_scores_from_a_given_dispersion_equal_those_it_computes_itself_with_an_empty_cluster():
    from chemmap.metrics import internal_scores
    from chemmap.metrics.clustering import cluster_dispersion

    rng = np.random.default_rng(4)
    labels = rng.choice([0, 1, 3], size=3000)  # cluster 2 of k = 4 left empty (by a clean-up)
    feats = rng.normal(size=(3000, 3)) + labels[:, None] * 2.0
    own = internal_scores(feats, labels, random_state=2)
    given = internal_scores(feats, labels, random_state=2, dispersion=cluster_dispersion(feats, labels, 4))
    assert own == given and own["calinski_harabasz"] > 100


def test_a_silhouette_is_not_graded_where_a_cluster_is_a_few_hot_pixels():
    rng = np.random.default_rng(4)
    feats = rng.normal(0, 1, (500, 3))
    labels = np.zeros(500, int)
    feats[:3] += 100  # three hot pixels far from the rest: a silhouette near 1
    labels[:3] = 1
    scores = internal_scores(feats, labels)
    assert scores["silhouette"] > 0.95 and scores["silhouette_grade"] is None
    assert scores["silhouette_not_graded"].startswith("a cluster of 3 pixels")
    feats[:5] += 100
    labels[:5] = 1  # five pixels: as many as an automatic k allows per cluster
    assert internal_scores(feats, labels)["silhouette_grade"] == "excellent"
