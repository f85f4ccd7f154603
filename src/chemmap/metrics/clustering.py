"""Clustering quality: internal scores, and scores against ground-truth labels after
Hungarian matching of clusters to classes."""

from __future__ import annotations

import functools

import numpy as np

from chemmap._shared.assignment import min_cost_assignment
from chemmap._shared.blockwise import reduce_blocks, take_rows
from chemmap._shared.compute import FEATURE_BLOCK_BYTES
from chemmap._shared.sampling import seeded_sample
from chemmap.cluster.spectra import cluster_spectra
from chemmap.core.exceptions import ShapeError
from chemmap.metrics.grades import grade

__all__ = [
    "SILHOUETTE_SAMPLE",
    "adjusted_rand_index",
    "cluster_dispersion",
    "external_scores",
    "internal_scores",
    "match_clusters",
]

#: Largest number of pixels the silhouette is computed on (seeded sample beyond it).
SILHOUETTE_SAMPLE = 10_000


def internal_scores(features, labels: np.ndarray, *, random_state=0, dispersion=None) -> dict:
    """Silhouette (on a seeded sample of at most 10 000 pixels), Calinski–Harabasz and
    Davies–Bouldin of ``labels`` in feature space.

    ``features`` may be a NumPy or Dask array: Calinski–Harabasz and Davies–Bouldin come
    from block partials (two passes), equal to scikit-learn's. ``dispersion``: what
    :func:`cluster_dispersion` gives for ``labels`` and some ``k`` above their largest
    value, when the caller has it (one pass over the features fewer).

    Returns
    -------
    dict
        ``silhouette``, ``silhouette_sample_size``, ``calinski_harabasz``,
        ``davies_bouldin`` (None when fewer than 2 clusters); ``silhouette_grade``, left out
        with ``silhouette_not_graded`` saying why where a cluster holds fewer pixels than
        an automatic k allows (:data:`~chemmap.cluster.selection.MIN_PIXELS_PER_CLUSTER`:
        the default run on a Bruker EDS map split off 3 hot pixels of 7 500, and their
        silhouette of 0.999 was graded "excellent" beside an ARI of 0.00 between refits).
    """
    from chemmap.cluster.selection import MIN_PIXELS_PER_CLUSTER
    from chemmap.cluster.silhouette import silhouette_score

    labels = np.asarray(labels)
    idx = seeded_sample(labels.size, SILHOUETTE_SAMPLE, random_state)
    out = {
        "silhouette": None,
        "silhouette_sample_size": int(idx.size),
        "calinski_harabasz": None,
        "davies_bouldin": None,
    }
    present = _distinct(labels, _pieces(labels.size))
    if len(present) < 2:
        return out
    if len(np.unique(labels[idx])) > 1:
        out["silhouette"] = float(silhouette_score(take_rows(features, idx), labels[idx]))
    # renumber to 0..m-1 so empty cluster numbers do not count (most often they are 0..m-1 already)
    dense = labels if np.array_equal(present, np.arange(present.size)) else np.searchsorted(present, labels)
    if dispersion is None:
        centroids, counts, within = cluster_dispersion(features, dense, len(present))
    else:  # each cluster's row, renumbered as dense is
        centroids, counts, within = (np.asarray(part)[present] for part in dispersion)
    out["calinski_harabasz"] = _calinski_harabasz(centroids, counts, within)
    out["davies_bouldin"] = _davies_bouldin(features, dense, centroids)
    out["silhouette_grade"] = grade("silhouette", out["silhouette"])
    smallest = int(np.min(counts))
    if out["silhouette_grade"] is not None and smallest < MIN_PIXELS_PER_CLUSTER:
        out["silhouette_grade"] = None
        out["silhouette_not_graded"] = (
            f"a cluster of {smallest} pixel{'s' if smallest > 1 else ''}: the silhouette then says how far those "
            "few pixels lie from the rest (hot or defective pixels?), not how well the image is segmented"
        )
    return out


def cluster_dispersion(features, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroids ``(k, d)``, sizes ``(k,)`` and within-cluster sums of squares ``(k,)`` of
    ``labels`` (0..k-1; negative left out) in feature space, from block partials."""
    means, stds, counts = cluster_spectra(features, labels, k, stage="cluster centroids")
    return means, counts, counts * np.sum(stds**2, axis=1)


def _calinski_harabasz(centroids: np.ndarray, counts: np.ndarray, within: np.ndarray) -> float:
    n, k = int(counts.sum()), len(counts)
    overall = counts @ centroids / n
    between = float(counts @ np.sum((centroids - overall) ** 2, axis=1))
    total_within = float(within.sum())
    if total_within == 0:
        return 1.0
    return between * (n - k) / (total_within * (k - 1))


def _davies_bouldin(features, labels: np.ndarray, centroids: np.ndarray) -> float:
    """Mean over clusters of the worst ``(s_i + s_j) / d(c_i, c_j)``, ``s`` the mean
    distance of a cluster's rows to its centroid (a second pass over the rows)."""
    k = centroids.shape[0]
    sums, counts = reduce_blocks(
        functools.partial(_distance_partial, centroids=centroids),
        features,
        labels,
        block_bytes=FEATURE_BLOCK_BYTES,
        summed=True,
        stage="Davies-Bouldin",
    )
    spread = sums / np.maximum(counts, 1)
    between = np.sqrt(np.sum((centroids[:, None, :] - centroids[None, :, :]) ** 2, axis=-1))
    if np.allclose(spread, 0) or np.allclose(between, 0):
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (spread[:, None] + spread[None, :]) / between
    ratio[np.arange(k), np.arange(k)] = -np.inf
    ratio[~np.isfinite(ratio) & (ratio > 0)] = np.inf
    return float(np.mean(np.max(ratio, axis=1)))


def _distance_partial(block: np.ndarray, labels: np.ndarray, rows: slice, *, centroids: np.ndarray):
    x = block.astype(np.float64)
    distance = np.sqrt(np.sum((x - centroids[labels]) ** 2, axis=1))
    k = centroids.shape[0]
    return np.bincount(labels, weights=distance, minlength=k), np.bincount(labels, minlength=k).astype(np.float64)


def match_clusters(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Confusion matrix of classes x clusters and the Hungarian cluster -> class matching.

    The matrix is counted by pieces of :data:`CONFUSION_PIECE` pixels, so an image of any
    size costs a few pieces of memory; ``truth`` values below 0 (unlabelled pixels) are left
    out.

    Returns
    -------
    confusion : ndarray of shape (n_classes, n_clusters)
    classes, clusters : ndarray
        The class and cluster values indexing the matrix.
    mapping : dict
        cluster value -> class value for matched clusters (unmatched clusters are absent;
        negative cluster values, masked pixels, are never matched).
    """
    truth, pred = np.asarray(truth).reshape(-1), np.asarray(pred).reshape(-1)
    if truth.size != pred.size:
        raise ShapeError(f"The labels hold {pred.size} pixels and the ground truth {truth.size}; they must match.")
    pieces = _pieces(truth.size)
    classes, clusters = _distinct(truth, pieces, where=truth), _distinct(pred, pieces, where=truth)
    confusion = np.zeros(classes.size * clusters.size, np.int64)
    for piece in pieces:
        t, c = truth[piece], pred[piece]
        keep = t >= 0
        t, c = t[keep], c[keep]
        cell = np.searchsorted(classes, t) * clusters.size + np.searchsorted(clusters, c)
        confusion += np.bincount(cell, minlength=confusion.size)
    confusion = confusion.reshape(classes.size, clusters.size)
    real = np.flatnonzero(clusters >= 0)
    rows, cols = min_cost_assignment(-confusion[:, real])
    mapping = {int(clusters[real[c]]): int(classes[r]) for r, c in zip(rows, cols, strict=True)}
    return confusion, classes, clusters, mapping


#: Pixels counted at once into a confusion matrix.
CONFUSION_PIECE = 2**20


def _pieces(n: int) -> list[slice]:
    return [slice(i, i + CONFUSION_PIECE) for i in range(0, n, CONFUSION_PIECE)]


def _distinct(values: np.ndarray, pieces: list[slice], *, where: np.ndarray | None = None) -> np.ndarray:
    """Sorted distinct values of ``values`` (of the pixels where ``where >= 0``, when given),
    piece by piece; by counting where they are integers of a small range (labels), not by
    sorting."""
    found: set = set()
    for piece in pieces:
        v = values[piece] if where is None else values[piece][where[piece] >= 0]
        if v.size and v.dtype.kind in "iu" and int(v.max()) - int(v.min()) < 2**20:
            low = int(v.min())
            found.update((np.flatnonzero(np.bincount(v - low)) + low).tolist())
        elif v.size:
            found.update(np.unique(v).tolist())
    return np.array(sorted(found), dtype=values.dtype)


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labellings of the same pixels (any integer labels, all
    counted; scikit-learn's ``adjusted_rand_score``)."""
    _, a = np.unique(np.asarray(a).reshape(-1), return_inverse=True)
    _, b = np.unique(np.asarray(b).reshape(-1), return_inverse=True)
    if a.size != b.size:
        raise ShapeError(f"The two labellings hold {a.size} and {b.size} pixels; they must match.")
    if a.size == 0:
        return 1.0
    width = int(b.max()) + 1
    confusion = np.bincount(a * width + b, minlength=(int(a.max()) + 1) * width).reshape(-1, width)
    return _ari(confusion)


def _ari(confusion: np.ndarray) -> float:
    """Adjusted Rand index from the contingency table (scikit-learn's pair-counting form, exact)."""
    n = int(confusion.sum())
    squares = int(np.sum(confusion.astype(object) ** 2))
    rows, cols = confusion.sum(axis=1).astype(object), confusion.sum(axis=0).astype(object)
    fp = int(np.sum(confusion.astype(object) @ cols)) - squares
    fn = int(np.sum(confusion.T.astype(object) @ rows)) - squares
    tp = squares - n
    tn = n * n - fp - fn - squares
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


def _nmi(confusion: np.ndarray) -> float:
    """Normalised mutual information (arithmetic mean of the entropies, as scikit-learn)."""
    if confusion.shape[0] == confusion.shape[1] == 1 or confusion.size == 0:
        return 1.0
    n = confusion.sum()
    p = confusion / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    nonzero = p > 0
    mi = float(np.sum(p[nonzero] * np.log(p[nonzero] / np.outer(rows, cols)[nonzero])))
    if mi <= 0:
        return 0.0

    def entropy(q):
        q = q[q > 0]
        return float(-np.sum(q * np.log(q)))

    normaliser = (entropy(rows) + entropy(cols)) / 2
    return float(mi / max(normaliser, np.finfo(float).eps))


def external_scores(truth: np.ndarray, pred: np.ndarray, class_names: dict[int, str] | None = None) -> dict:
    """Scores of a clustering against ground truth on the labelled pixels, all from their
    confusion matrix (one pass over the pixels).

    Parameters
    ----------
    truth : ndarray of int
        True class per pixel; negative values (unlabelled) are ignored.
    pred : ndarray of int
        Cluster per pixel (same shape); negative values (masked) count as errors on
        labelled pixels.
    class_names : dict, optional
        Names of the class values.

    Returns
    -------
    dict
        ``ari``, ``nmi``, ``pixel_accuracy`` and ``mean_iou`` after Hungarian matching,
        ``per_class`` (iou, precision, recall, f1, support), ``confusion_matrix``
        (classes x clusters with names), ``cluster_to_class`` and grades.
    """
    names = class_names or {}
    confusion, classes, clusters, mapping = match_clusters(truth, pred)
    n_labelled = int(confusion.sum())
    row_of = {int(c): i for i, c in enumerate(classes)}
    matched = np.zeros(confusion.shape, bool)  # (class, cluster) pairs the matching calls correct
    for j, cluster in enumerate(clusters):
        if int(cluster) in mapping:
            matched[row_of[mapping[int(cluster)]], j] = True
    support = confusion.sum(axis=1)
    tp_all = np.sum(np.where(matched, confusion, 0), axis=1)
    called = np.array([confusion[:, matched[i]].sum() for i in range(classes.size)])  # pixels given class i
    per_class = {}
    ious = []
    for i, c in enumerate(classes):
        tp, fp, fn = int(tp_all[i]), int(called[i] - tp_all[i]), int(support[i] - tp_all[i])
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
        ious.append(iou)
        per_class[names.get(int(c), str(int(c)))] = {
            "iou": iou,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": int(support[i]),
        }
    correct = int(tp_all.sum())
    accuracy = correct / n_labelled if n_labelled else 0.0
    ari = _ari(confusion) if n_labelled else 1.0
    mean_iou = float(np.mean(ious)) if ious else 0.0
    return {
        "n_labelled_pixels": n_labelled,
        "ari": ari,
        "ari_grade": grade("ari", ari),
        "nmi": _nmi(confusion) if n_labelled else 1.0,
        "pixel_accuracy": accuracy,
        "pixel_accuracy_grade": grade("pixel_accuracy", accuracy),
        "mean_iou": mean_iou,
        "mean_iou_grade": grade("mean_iou", mean_iou),
        "per_class": per_class,
        "cluster_to_class": {str(k): names.get(v, str(v)) for k, v in sorted(mapping.items())},
        "confusion_matrix": {
            "rows": "true class",
            "columns": "cluster",
            "classes": [names.get(int(c), str(int(c))) for c in classes],
            "clusters": [int(c) for c in clusters],
            "matrix": confusion.tolist(),
        },
    }
