"""Choosing the number of clusters: silhouette, elbow (kneedle), gap statistic and BIC.

Every criterion is computed for every k tried and reported; ``criterion`` says which one
decides.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from chemmap._shared.blockwise import take_rows
from chemmap._shared.progress import ProgressCallback, notify
from chemmap._shared.sampling import seeded_sample
from chemmap._shared.validation import check_choice, check_random_state
from chemmap.cluster.kmeans import fit_kmeans
from chemmap.cluster.methods import ClusterResult, cluster_methods
from chemmap.cluster.silhouette import silhouette_score
from chemmap.core.exceptions import DataWarning

__all__ = [
    "CRITERIA",
    "MIN_PIXELS_PER_CLUSTER",
    "SELECTION_SAMPLE",
    "choose_k",
    "gap_statistic",
    "kneedle",
    "searched_k",
]

CRITERIA = ("silhouette", "elbow", "gap", "bic")

#: Pixels on which criteria are evaluated while choosing k (seeded sample).
SELECTION_SAMPLE = 4000

#: Reference data sets drawn for the gap statistic.
GAP_REFERENCES = 5

#: Valid pixels per cluster, on average, that an automatic choice of k needs: fewer, and a
#: criterion can prefer clusters of one or two pixels whose spectra differ by noise alone
#: (on a 3 x 3 Raman map the silhouette chose k = 6: five clusters of one pixel).
MIN_PIXELS_PER_CLUSTER = 5


def searched_k(k_range: tuple[int, int], n_valid: int) -> tuple[int, int]:
    """The range of k an automatic choice searches among ``n_valid`` pixels: ``k_range`` cut
    to at most ``n_valid // MIN_PIXELS_PER_CLUSTER`` clusters (never under 2, the fewest a
    choice can give, nor above ``n_valid - 1``), with a DataWarning when it is cut."""
    high = min(k_range[1], max(n_valid // MIN_PIXELS_PER_CLUSTER, 2), n_valid - 1)
    low = min(k_range[0], high)
    if high < k_range[1]:
        only = f" k = {high} was the only choice left; " if low == high else f" k was chosen among {low}..{high}; "
        warnings.warn(
            f"{n_valid} valid pixels are too few to choose among {k_range[0]}..{k_range[1]} clusters: an "
            f"automatic choice needs about {MIN_PIXELS_PER_CLUSTER} pixels per cluster.{only}"
            "to set the number of clusters yourself, give --clusters K.",
            DataWarning,
            stacklevel=2,
        )
    return low, high


def kneedle(ks: np.ndarray, inertia: np.ndarray) -> int:
    """Elbow of a decreasing, convex curve by the kneedle rule (Satopää et al. 2011).

    Both axes are scaled to [0, 1]; the knee is where the curve lies farthest below the
    straight line joining its ends.
    """
    ks = np.asarray(ks, dtype=float)
    y = np.asarray(inertia, dtype=float)
    if ks.size < 3 or np.ptp(y) == 0:
        return int(ks[0])
    xn = (ks - ks[0]) / (ks[-1] - ks[0])
    yn = (y - y.min()) / np.ptp(y)
    distance = (1.0 - xn) - yn
    return int(ks[int(np.argmax(distance))])


def _within_dispersion(features: np.ndarray, labels: np.ndarray) -> float:
    total = 0.0
    for j in np.unique(labels):
        pts = features[labels == j].astype(np.float64)
        total += float(np.sum((pts - pts.mean(axis=0)) ** 2))
    return max(total, 1e-300)


def gap_statistic(features: np.ndarray, ks, fits: dict[int, ClusterResult], *, random_state) -> dict:
    """Gap statistic (Tibshirani et al. 2001) against uniform data in the PCA-aligned box.

    Returns
    -------
    dict
        ``gap`` and ``s`` per k, and ``best``: the smallest k with
        ``gap(k) >= gap(k+1) - s(k+1)``.
    """
    rng = check_random_state(random_state)
    x = features.astype(np.float64)
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    rotated = centred @ vt.T
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    refs = [rng.uniform(lo, hi, size=rotated.shape) @ vt for _ in range(GAP_REFERENCES)]
    gap, s = {}, {}
    for k in ks:
        log_w = np.log(_within_dispersion(x, fits[k].labels))
        ref_logs = []
        for ref in refs:
            labels = fit_kmeans(ref, k, n_init=1, random_state=int(rng.integers(2**31))).predict(ref)
            ref_logs.append(np.log(_within_dispersion(ref, labels)))
        ref_logs = np.array(ref_logs)
        gap[k] = float(ref_logs.mean() - log_w)
        s[k] = float(ref_logs.std() * np.sqrt(1 + 1 / GAP_REFERENCES))
    ks = list(ks)
    best = ks[-1]
    for a, b in itertools.pairwise(ks):
        if gap[a] >= gap[b] - s[b]:
            best = a
            break
    return {"gap": gap, "s": s, "best": best}


def choose_k(
    features,
    k_range: tuple[int, int],
    *,
    method: str = "kmeans",
    criterion: str = "silhouette",
    random_state=0,
    method_options: dict | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[int, dict]:
    """Fit every k in ``k_range`` (inclusive) on a seeded sample and score it.

    Parameters
    ----------
    features : ndarray or dask array of shape (n_pixels, n_features)
    k_range : (int, int)
        Smallest and largest k tried (k >= 2).
    method : str
        Clustering method name.
    criterion : {"silhouette", "elbow", "gap", "bic"}
        The criterion that decides; all four are reported.
    random_state : int
        Seed of the sample and of the fits.

    Returns
    -------
    k : int
        The chosen number of clusters.
    report : dict
        ``criterion``, ``k_values``, ``sample_size`` and, per criterion, the score of each k
        and the k it prefers.
    """
    check_choice(criterion, CRITERIA, name="criterion", func="choose_k")
    fit = cluster_methods.get(method)
    idx = seeded_sample(features.shape[0], SELECTION_SAMPLE, random_state)
    sample = take_rows(features, idx)
    ks = list(range(k_range[0], k_range[1] + 1))
    fits: dict[int, ClusterResult] = {}
    silhouette, inertia, bic = {}, {}, {}
    for i, k in enumerate(ks):
        fits[k] = fit(sample, k, random_state=random_state, **(method_options or {}))
        labels = fits[k].labels
        silhouette[k] = float(silhouette_score(sample, labels)) if len(np.unique(labels)) > 1 else -1.0
        inertia[k] = fits[k].inertia
        bic[k] = fits[k].bic
        notify(progress, "choosing k", i + 1, len(ks) + 1)
    gap = gap_statistic(sample, ks, fits, random_state=random_state)
    notify(progress, "choosing k", len(ks) + 1, len(ks) + 1)
    preferred = {
        "silhouette": max(ks, key=lambda k: silhouette[k]),
        "elbow": kneedle(np.array(ks), np.array([inertia[k] for k in ks])),
        "gap": gap["best"],
        "bic": min(ks, key=lambda k: bic[k]),
    }
    report = {
        "criterion": criterion,
        "k_values": ks,
        "sample_size": int(idx.size),
        "silhouette": {"scores": silhouette, "best_k": preferred["silhouette"]},
        "elbow": {"inertia": inertia, "best_k": preferred["elbow"]},
        "gap": {"gap": gap["gap"], "s": gap["s"], "best_k": gap["best"]},
        "bic": {
            "scores": bic,
            "best_k": preferred["bic"],
            "model": "Gaussian mixture BIC" if method == "gmm" else "spherical shared-variance BIC",
        },
        "agreement": sorted({c for c, k in preferred.items() if k == preferred[criterion]}),
    }
    return preferred[criterion], report
