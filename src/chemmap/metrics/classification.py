"""Scores of a classification map against labelled test pixels."""

from __future__ import annotations

import numpy as np

from chemmap.core.exceptions import ShapeError

__all__ = ["classification_scores"]


def classification_scores(
    truth: np.ndarray, predicted: np.ndarray, *, classes, names: dict | None = None, where: np.ndarray | None = None
) -> dict:
    """Overall accuracy, Cohen's kappa, average (per-class) accuracy and per-class
    precision, recall and F1, with the confusion matrix.

    Parameters
    ----------
    truth, predicted : ndarray of int, same shape
        Class values per pixel.
    classes : sequence of int
        The class values (the confusion matrix lists them in increasing order); predicted
        values outside them count as errors.
    names : dict, optional
        Class value -> name.
    where : ndarray of bool, optional
        Pixels to score (e.g. the test pixels); default: those whose truth is a class.
    """
    truth = np.asarray(truth).reshape(-1)
    predicted = np.asarray(predicted).reshape(-1)
    if truth.shape != predicted.shape:
        raise ShapeError(f"classification_scores: truth has {truth.size} pixels, the prediction {predicted.size}.")
    classes = np.unique(np.asarray(list(classes)))
    keep = np.isin(truth, classes) if where is None else np.asarray(where).reshape(-1) & np.isin(truth, classes)
    t = np.searchsorted(classes, truth[keep])
    p = np.where(np.isin(predicted[keep], classes), np.searchsorted(classes, predicted[keep]), -1)
    n = t.size
    k = classes.size
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (t[p >= 0], p[p >= 0]), 1)
    names = names or {}
    label = [str(names.get(int(c), int(c))) for c in classes]
    if n == 0:
        return {"n_test_pixels": 0}
    accuracy = float(np.trace(confusion) / n)
    expected = float((confusion.sum(axis=1) @ confusion.sum(axis=0)) / n**2)
    kappa = (accuracy - expected) / (1 - expected) if expected < 1 else 0.0
    per_class = {}
    recalls = []
    for i, name in enumerate(label):
        support = int(np.sum(t == i))
        tp = int(confusion[i, i])
        predicted_i = int(confusion[:, i].sum())
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if support:
            recalls.append(recall)
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return {
        "n_test_pixels": int(n),
        "overall_accuracy": accuracy,
        "kappa": float(kappa),
        "average_accuracy": float(np.mean(recalls)) if recalls else 0.0,
        "macro_f1": float(np.mean([v["f1"] for v in per_class.values() if v["support"]])) if recalls else 0.0,
        "per_class": per_class,
        "confusion_matrix": {
            "rows": "true class",
            "columns": "predicted",
            "classes": label,
            "matrix": confusion.tolist(),
        },
    }
