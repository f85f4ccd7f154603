"""Spatially aware segmentation of a feature image: pixel coordinates joined to the
features with a weight, and a Potts prior on the labels solved by iterated conditional
modes (ICM)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chemmap._shared.blockwise import in_threads
from chemmap._shared.validation import check_choice
from chemmap.core.exceptions import InvalidParameterError, ShapeError

__all__ = [
    "SpatialSegmentation",
    "even_row_blocks",
    "neighbour_votes",
    "potts_icm",
    "potts_icm_by_rows",
    "segment_feature_image",
    "with_coordinates",
]

#: ICM sweeps at most (each sweep visits the four interleaved pixel lattices in turn).
ICM_SWEEPS = 20
#: Offsets of the 8-neighbourhood.
NEIGHBOURS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]


def with_coordinates(features: np.ndarray, image_shape: tuple[int, int], valid: np.ndarray, weight: float):
    """Standardise ``features`` (per column) and append the pixel row and column, each
    standardised and multiplied by ``weight``.

    With ``weight=1`` a coordinate counts as much as one standardised feature; 0 leaves
    the coordinates out.

    Parameters
    ----------
    features : ndarray of shape (n_valid, d)
        Rows of the valid pixels, row-major.
    valid : ndarray of bool, shape (height * width,)

    Returns
    -------
    ndarray of shape (n_valid, d) or (n_valid, d + 2), float64
    """
    x = np.asarray(features, dtype=np.float64)
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    if weight < 0:
        raise InvalidParameterError(f"spatial_weight must be >= 0; got {weight}.")
    if weight == 0:
        return x
    rows, cols = np.divmod(np.flatnonzero(valid), image_shape[1])
    coords = np.stack([rows, cols], axis=1).astype(np.float64)
    spread = coords.std(axis=0)
    coords = (coords - coords.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    return np.concatenate([x, weight * coords], axis=1)


def potts_icm(log_likelihood: np.ndarray, beta: float, *, valid: np.ndarray | None = None, sweeps: int = ICM_SWEEPS):
    """Labels maximising ``log_likelihood + beta * (neighbours sharing the label)``.

    Iterated conditional modes from the pixel-wise best labels (see :func:`potts_icm_by_rows`).

    Parameters
    ----------
    log_likelihood : ndarray of shape (height, width, k)
        Per-pixel log-likelihood (nats) of each label, including the log prior weight.
    beta : float
        Nats gained per 8-neighbour with the same label; 0 returns the pixel-wise labels.
    valid : ndarray of bool, shape (height, width), optional
        Invalid pixels get -1 and do not vote.

    Returns
    -------
    labels : ndarray of int64, shape (height, width)
    changed : int
        Pixels whose label differs from the pixel-wise one.
    """
    loglik = np.asarray(log_likelihood, dtype=np.float64)
    if loglik.ndim != 3:
        raise ShapeError(f"log_likelihood must be (height, width, k); got shape {loglik.shape}.")
    h, w, k = loglik.shape
    valid = np.ones((h, w), bool) if valid is None else np.asarray(valid, bool)
    start = np.where(valid, np.argmax(loglik, axis=2), -1)

    def lattice_log_likelihood(rows: slice, lattice: tuple[int, int]) -> np.ndarray:
        return loglik[rows][lattice[0] :: 2, lattice[1] :: 2]

    return potts_icm_by_rows(lattice_log_likelihood, start, beta, k, sweeps=sweeps)


def potts_icm_by_rows(
    lattice_log_likelihood, start: np.ndarray, beta: float, k: int, *, sweeps: int = ICM_SWEEPS,
    block_bytes: int = 8 * 2**20,
):  # fmt: skip
    """Iterated conditional modes with log-likelihoods computed on demand, block of rows by
    block, so that no ``(height, width, k)`` array is held.

    Each sweep updates the four interleaved lattices ``(row % 2, col % 2)`` in turn: no two
    pixels updated together are 8-neighbours, so every update lowers the energy (no
    oscillation), and the blocks of one lattice are updated in parallel.

    Parameters
    ----------
    lattice_log_likelihood : callable
        ``(rows, (r, c)) -> ndarray (n_rows', n_cols', k)``: the log-likelihoods (nats) of the
        pixels ``[rows][r::2, c::2]``; ``rows`` starts on an even row.
    start : ndarray of int, shape (height, width)
        The pixel-wise best labels, -1 where the pixel is invalid (it stays -1 and does not vote).
    beta : float
        Nats gained per 8-neighbour with the same label; 0 returns ``start``.
    k : int

    Returns
    -------
    labels : ndarray of int64, shape (height, width)
    changed : int
        Pixels whose label differs from ``start``.
    """
    labels = np.array(start, dtype=np.int64)
    if beta <= 0 or k < 2:
        return labels, 0
    h, w = labels.shape
    valid = labels >= 0
    blocks = even_row_blocks(h, w * k * 8 * 4, block_bytes)
    for _ in range(sweeps):
        moved = 0
        for r, c in [(r, c) for r in (0, 1) for c in (0, 1)]:

            def update(rows: slice, r=r, c=c) -> int:
                votes = neighbour_votes(labels, k, (r, c), rows)
                best = np.argmax(lattice_log_likelihood(rows, (r, c)) + beta * votes, axis=2)
                best = np.where(valid[rows][r::2, c::2], best, -1)
                current = labels[rows][r::2, c::2]
                n_moved = int(np.count_nonzero(best != current))
                labels[rows][r::2, c::2] = best
                return n_moved

            moved += sum(in_threads(update, blocks))
        if moved == 0:
            break
    return labels, int(np.count_nonzero(labels != start))


def even_row_blocks(height: int, row_bytes: int, block_bytes: int) -> list[slice]:
    """Blocks of image rows of about ``block_bytes``, each starting on an even row, so that
    the interleaved lattices ``[r::2, c::2]`` of a block are those of the image."""
    step = max(2, block_bytes // max(1, row_bytes) // 2 * 2)
    return [slice(first, min(first + step, height)) for first in range(0, height, step)]


def neighbour_votes(
    labels: np.ndarray, k: int, lattice: tuple[int, int] | None = None, rows: slice | None = None
) -> np.ndarray:
    """``(height, width, k)`` float32: how many 8-neighbours of each pixel carry each label.

    With ``lattice=(r, c)``, only the pixels ``[r::2, c::2]`` (the votes of one of the four
    interleaved lattices that iterated conditional modes updates together); with ``rows``,
    only the pixels of those rows (``lattice`` then counts from ``rows.start``).
    """
    h, w = labels.shape
    first, stop = (0, h) if rows is None else (rows.start or 0, min(rows.stop, h))
    n = stop - first
    band = labels[max(first - 1, 0) : stop + 1]
    top = 1 if first == 0 else 0  # a padding row above the image
    one_hot = np.zeros((n + 2, w + 2, k), dtype=np.float32)
    band_rows, cols = np.nonzero(band >= 0)
    one_hot[band_rows + top, cols + 1, band[band_rows, cols]] = 1
    r, c = lattice or (0, 0)
    step = 1 if lattice is None else 2
    votes = None
    for dr, dc in NEIGHBOURS:
        view = one_hot[1 + r + dr : 1 + dr + n : step, 1 + c + dc : 1 + dc + w : step]
        if votes is None:
            votes = view.copy()
        else:
            votes += view
    return votes


@dataclass
class SpatialSegmentation:
    """Labels of a feature image and how they were chosen.

    Attributes
    ----------
    labels : ndarray of int64, shape (height, width)
        0..k-1, -1 where the pixel is invalid.
    k : int
    method : str
    bic : float
        Of the fitted model (lower is better).
    k_selection : dict or None
        BIC of every k tried when k was ``"auto"``.
    smoothing_changed : int
        Pixels the Potts smoothing relabelled.
    model : object
        The fitted Gaussian mixture or k-means model (on the standardised features).
    """

    labels: np.ndarray
    k: int
    method: str
    bic: float
    k_selection: dict | None = None
    smoothing_changed: int = 0
    model: object = field(default=None, repr=False)


def segment_feature_image(
    image: np.ndarray,
    *,
    k: int | str = "auto",
    method: str = "gmm",
    valid: np.ndarray | None = None,
    spatial_weight: float = 0.0,
    smoothing: float = 0.0,
    k_range: tuple[int, int] = (2, 10),
    random_state: int = 0,
) -> SpatialSegmentation:
    """Cluster the pixels of a ``(height, width, d)`` feature image (e.g. latent vectors).

    Parameters
    ----------
    image : ndarray of shape (height, width, d)
    k : int or "auto"
        ``"auto"`` picks the k of lowest BIC in ``k_range``, cut to about five valid pixels
        per cluster (:func:`~chemmap.cluster.selection.searched_k`).
    method : str
        A method of :data:`~chemmap.cluster.methods.cluster_methods`: ``gmm`` (full-covariance
        Gaussian mixture, its own likelihood) or one whose clusters are centroids (``kmeans``,
        ``hierarchical``: a shared spherical variance gives their likelihood).
    valid : ndarray of bool, shape (height, width), optional
    spatial_weight : float
        Weight of the standardised pixel coordinates joined to the standardised features
        (0: none); see :func:`with_coordinates`.
    smoothing : float
        Potts ``beta`` (nats per agreeing 8-neighbour) of the ICM step on the model's
        log-likelihoods; 0 keeps the pixel-wise labels.
    random_state : int

    Returns
    -------
    SpatialSegmentation
    """
    from chemmap.cluster.methods import cluster_methods
    from chemmap.cluster.selection import choose_k, searched_k

    check_choice(method, cluster_methods.names(), name="method", func="segment_feature_image")
    image = np.asarray(image)
    if image.ndim != 3:
        raise ShapeError(f"The feature image must be (height, width, d); got shape {image.shape}.")
    h, w, d = image.shape
    valid = np.isfinite(image).all(axis=2) if valid is None else np.asarray(valid, bool) & np.isfinite(image).all(2)
    if smoothing < 0:
        raise InvalidParameterError(f"smoothing must be >= 0; got {smoothing}.")
    features = with_coordinates(image.reshape(-1, d)[valid.reshape(-1)], (h, w), valid.reshape(-1), spatial_weight)
    options = {"n_init": 3} if method == "gmm" else {"n_init": 10}
    selection = None
    if k == "auto":
        searched = searched_k(k_range, int(features.shape[0]))
        k, selection = choose_k(
            features, searched, method=method, criterion="bic", random_state=random_state, method_options=options
        )
    elif not isinstance(k, int | np.integer) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer or 'auto'; got {k!r}.")
    fit = cluster_methods.get(method)(features, int(k), random_state=random_state, **options)
    loglik = np.full((h, w, int(k)), -np.inf)
    loglik.reshape(-1, int(k))[valid.reshape(-1)] = _log_likelihood(fit, features, method)
    labels, changed = potts_icm(loglik, smoothing, valid=valid)
    return SpatialSegmentation(labels, int(k), method, float(fit.bic), selection, changed, fit.model)


def _log_likelihood(fit, features: np.ndarray, method: str) -> np.ndarray:
    """Per-row log-likelihood of every cluster (with its prior weight) under the fit."""
    if method == "gmm":
        return fit.model.weighted_log_prob(features)
    from chemmap.cluster.kmeans import squared_distances

    n, d = features.shape
    variance = max(fit.inertia / (n * d), 1e-12)
    counts = np.bincount(fit.labels, minlength=fit.centroids.shape[0])
    prior = np.log(np.maximum(counts, 1) / n)
    return prior - 0.5 * squared_distances(features, fit.centroids) / variance
