"""Red flags of a segmentation without ground truth: is it stable, is it spatial?

- **Stability**: the clustering is fitted again ``runs`` times, each time with another seed,
  on a random 80 % of (at most :data:`STABILITY_SAMPLE`) pixels whose features are lightly
  perturbed (Gaussian noise of ``noise`` times each feature's spread, standing for a slightly
  different preprocessing); the adjusted Rand index between each refit and the run's labels on
  the same pixels says whether the clusters are a property of the data or of one seed and
  one preprocessing. Below :data:`STABLE_ARI` the run is flagged.
- **Spatial coherence**: for each cluster, the share of its pixels' labelled 4-neighbours
  that belong to it, against the share expected if labels were scattered at random (the
  cluster's share of the image): ``kappa = (observed - expected) / (1 - expected)``, a join
  count statistic. A cluster with kappa under :data:`RANDOM_KAPPA` is spatially random: its
  pixels are not regions, which in an image usually means noise.
"""

from __future__ import annotations

import numpy as np

from chemmap._shared.blockwise import in_threads, take_rows
from chemmap._shared.forked import shared_processes
from chemmap._shared.sampling import seeded_sample

__all__ = ["RANDOM_KAPPA", "STABILITY_SAMPLE", "STABLE_ARI", "clustering_stability", "spatial_coherence"]

#: Pixels the refits use at most (keeps the check to a small share of a run's time: about
#: 0.2 s for k-means whatever the image's size).
STABILITY_SAMPLE = 4000
#: Restarts of a Gaussian-mixture refit at most (k-means refits keep the run's: fewer find
#: worse local minima, and the check would blame the run for them).
GMM_REFIT_RESTARTS = 2
#: Refits agreeing less than this with the run (adjusted Rand index) flag it as unstable.
STABLE_ARI = 0.8
#: Clusters whose neighbour agreement (kappa) is under this are spatially random.
RANDOM_KAPPA = 0.1
#: Feature noise of the refits, in feature standard deviations.
PERTURBATION = 0.05


def clustering_stability(
    features,
    labels: np.ndarray,
    k: int,
    method: str,
    *,
    runs: int = 3,
    noise: float = PERTURBATION,
    method_options: dict | None = None,
    random_state: int = 0,
) -> dict:
    """Agreement of the clustering with refits under other seeds and perturbed features.

    Parameters
    ----------
    features : ndarray or dask array of shape (n_pixels, n_features)
        The features the run clustered.
    labels : ndarray of shape (n_pixels,)
        The run's labels of those pixels.
    k : int
    method : str
        Clustering method name (refitted with ``k`` fixed).
    runs : int
    noise : float
        Perturbation, in standard deviations of each feature.
    method_options : dict, optional
    random_state : int

    Returns
    -------
    dict
        ``ari`` per refit, ``min_ari``, ``mean_ari``, ``threshold``, ``stable``, ``runs``,
        ``sample_size`` and ``perturbation``.
    """
    from chemmap.cluster.methods import cluster_methods
    from chemmap.metrics.clustering import adjusted_rand_index

    index = seeded_sample(int(features.shape[0]), STABILITY_SAMPLE, random_state)
    x = np.asarray(take_rows(features, index), dtype=np.float64)
    y = np.asarray(labels)[index]
    spread = x.std(axis=0)
    rng = np.random.default_rng(random_state + 1)
    fit = cluster_methods.get(method)
    options = {**(method_options or {})}
    if method == "gmm" and "n_init" in options:
        options["n_init"] = min(int(options["n_init"]), GMM_REFIT_RESTARTS)
    refits = []
    for run in range(runs):  # the perturbations drawn in order, the refits then in threads
        keep = rng.random(x.shape[0]) < 0.8
        if keep.sum() <= k:
            keep[:] = True
        perturbed = x[keep] + rng.normal(0.0, 1.0, (int(keep.sum()), x.shape[1])) * (noise * spread)
        refits.append((keep, perturbed, random_state + 101 + run))

    def agreement(refit) -> float:
        keep, perturbed, seed = refit
        return adjusted_rand_index(y[keep], fit(perturbed, k, random_state=seed, **options).labels)

    scores = in_threads(agreement, refits) if shared_processes(x.size * k) > 1 else [agreement(r) for r in refits]
    low = min(scores) if scores else None
    return {
        "runs": runs,
        "ari": scores,
        "min_ari": low,
        "mean_ari": float(np.mean(scores)) if scores else None,
        "threshold": STABLE_ARI,
        "stable": None if low is None else bool(low >= STABLE_ARI),
        "sample_size": int(index.size),
        "perturbation": f"another seed, 80 % of the pixels, feature noise of {noise:g} standard deviations",
    }


#: Pixels of the label image whose neighbour pairs are counted at once.
PAIRS_PIECE = 2**20


def _neighbour_pairs(labels: np.ndarray):
    """The horizontal and the vertical 4-neighbour pairs ``(a, b)`` of a label image, by bands
    of rows of about :data:`PAIRS_PIECE` pixels (the vertical ones reach one row below)."""
    h, w = labels.shape
    band = max(1, PAIRS_PIECE // max(w, 1))
    for top in range(0, h, band):
        rows = labels[top : top + band]
        yield rows[:, :-1], rows[:, 1:]
        below = labels[top : min(top + band + 1, h)]
        yield below[:-1], below[1:]


def spatial_coherence(label_image: np.ndarray) -> dict:
    """Join-count agreement of each cluster with its 4-neighbours, against chance.

    Parameters
    ----------
    label_image : ndarray of int, shape (height, width)
        ``-1`` = masked.

    Returns
    -------
    dict
        ``kappa`` (all clusters), ``per_cluster`` ({cluster: kappa}), ``random_clusters``
        (kappa under :data:`RANDOM_KAPPA`) and ``threshold``.
    """
    labels = np.asarray(label_image)
    result = {"kappa": None, "per_cluster": {}, "random_clusters": [], "threshold": RANDOM_KAPPA}
    pieces = np.array_split(labels.reshape(-1), max(1, labels.size // PAIRS_PIECE))
    size = max(int(p.max(initial=-1)) for p in pieces) + 1
    counts = sum(np.bincount(p[p >= 0], minlength=size) for p in pieces)
    n_valid = int(counts.sum())
    if n_valid == 0:
        return result
    size = counts.size
    same = np.zeros(size, np.int64)  # neighbour pairs inside each cluster
    mixed = np.zeros(size, np.int64)  # pairs joining each cluster to another
    n_pairs = n_equal = 0
    for a, b in _neighbour_pairs(labels):
        both = (a >= 0) & (b >= 0)
        a, b = a[both], b[both]
        equal = a == b
        same += np.bincount(a[equal], minlength=size)
        mixed += np.bincount(a[~equal], minlength=size) + np.bincount(b[~equal], minlength=size)
        n_pairs, n_equal = n_pairs + a.size, n_equal + int(equal.sum())
    if n_pairs == 0:
        return result
    shares = counts / n_valid
    expected = float(np.sum(shares**2))
    if expected < 1:
        result["kappa"] = (n_equal / n_pairs - expected) / (1 - expected)
    for cluster in np.flatnonzero((counts > 0) & (shares < 1)):
        # of the neighbour slots of this cluster's pixels, the share held by the cluster itself
        slots = 2 * same[cluster] + mixed[cluster]
        if slots == 0:
            continue
        kappa = float((2 * same[cluster] / slots - shares[cluster]) / (1 - shares[cluster]))
        result["per_cluster"][int(cluster)] = kappa
        if kappa < RANDOM_KAPPA:
            result["random_clusters"].append(int(cluster))
    return result
