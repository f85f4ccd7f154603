"""Spectral–spatial segmentation: noise-whitened features, an edge-preserving spatial step,
a Gaussian mixture and a Potts prior whose strength is estimated from the data.

1. **Noise-whitened features** (MNF): the noise covariance is estimated from the most alike
   quarter of the neighbouring pixel pairs (:func:`~chemmap.cluster.mnf.fit_mnf`: all pairs
   would count edges, lines and textures as noise), the data are whitened by it and the
   components of largest signal-to-noise ratio kept: ``k`` of them, fewer where fewer rise
   above the noise, at most ``n_components`` (:func:`component_count`). Noise then has unit
   variance in every kept direction.
2. **Edge-preserving smoothing**: each pixel's features are averaged with its 8 neighbours,
   each weighted by ``exp(-||f_i - f_j||² / (4 d))``. In whitened units two pixels of one
   material differ by about ``2 d`` in squared distance, so neighbours across an edge (or off
   a one-pixel line) that the spectra tell apart get almost no weight.
3. **Gaussian mixture** (full covariance) on the smoothed features: per-pixel log-likelihoods.
   A pixel that lies, within the noise, between the means of its two most likely classes is
   read as their mixture and given to the majority class (:func:`mixed_pixel_log_likelihood`).
4. **Potts prior** solved by iterated conditional modes, with ``beta`` (nats per agreeing
   8-neighbour) maximising the pseudo-likelihood of the mixture's own labels: near 0 for a
   label image with no spatial structure, larger for one made of regions.

The mixture is fitted from several seeds; each distinct fit goes through steps 3 and 4, and
the labelling the model is surest of (the smallest mean posterior uncertainty) is kept.

With ``k="auto"`` the number of clusters is chosen on k-means partitions of the features
(silhouette by default): a full-covariance mixture's elongated clusters score low on every
distance-based criterion.

The cube is read by blocks of rows (Dask cubes larger than memory too). The spatial steps
run by blocks of rows as well, the log-likelihoods held in float32 in the array that becomes
the probabilities; what they hold per pixel is the features, the probabilities and the
labels, ``3 d + k`` float32 values and four integers: for k = 5 on a 256-channel cube, a
twelfth of the cube. See ``benchmarks/segmentation_real.py`` for how it compares with
PCA + k-means and PCA + Gaussian mixture on real scenes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.special import chdtri, ndtr

from chemmap._shared.blockwise import in_threads, row_blocks
from chemmap._shared.compute import ensure_bytes_fit
from chemmap._shared.estimator import ClusterMixin, Estimator
from chemmap._shared.forked import run_forked, shared_processes
from chemmap._shared.progress import notify
from chemmap._shared.sampling import seeded_sample
from chemmap._shared.validation import check_int
from chemmap.cluster.methods import cluster_methods, size_order
from chemmap.cluster.mnf import fit_mnf
from chemmap.cluster.selection import choose_k, searched_k
from chemmap.cluster.spatial import NEIGHBOURS, even_row_blocks, neighbour_votes, potts_icm_by_rows
from chemmap.core.exceptions import InvalidParameterError, ShapeError

__all__ = [
    "SpectralSpatialClusterer",
    "SpectralSpatialResult",
    "component_count",
    "edge_preserving_smooth",
    "mixed_pixel_log_likelihood",
    "pseudo_likelihood_beta",
    "spectral_spatial_segmentation",
]

#: Potts strengths searched by the pseudo-likelihood (nats per agreeing neighbour).
BETA_GRID = np.linspace(0.0, 3.0, 31)


#: Bytes of feature rows the smoothing and the mixed-pixel test hold per block.
SPATIAL_BLOCK_BYTES = 8 * 2**20


def edge_preserving_smooth(features: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Average each pixel with its 8 neighbours weighted by feature similarity (features in
    units of their noise); ``iterations`` passes, float32, by blocks of rows."""
    f = np.asarray(features, dtype=np.float32)
    h, w, d = f.shape
    scale = np.float32(4.0 * d)
    for _ in range(iterations):
        pad = np.pad(f, ((1, 1), (1, 1), (0, 0)), mode="edge")
        out = np.empty_like(f)

        def smooth(rows: slice, pad=pad, out=out) -> None:
            centre = pad[1 + rows.start : 1 + rows.stop, 1 : 1 + w]
            total, weights = centre.copy(), np.ones((*centre.shape[:2], 1), np.float32)
            for dr, dc in NEIGHBOURS:
                neighbour = pad[1 + rows.start + dr : 1 + rows.stop + dr, 1 + dc : 1 + dc + w]
                weight = np.exp(-np.sum((neighbour - centre) ** 2, axis=2, keepdims=True) / scale)
                total += weight * neighbour
                weights += weight
            out[rows] = total / weights

        in_threads(smooth, row_blocks(h, w * d * 4 * 12, SPATIAL_BLOCK_BYTES))
        f = out
    return f


def component_count(k: int, n_signal: int) -> int:
    """MNF components the mixture is fitted on: ``k``, or fewer where fewer carry signal
    (``n_signal``, :class:`~chemmap.cluster.mnf.MnfModel`), at least 1.

    ``k`` class means span ``k - 1`` directions; one more keeps the largest within-class
    direction (brightness, moisture). More components add within-class variation that a
    full-covariance mixture spends its clusters on: chosen across the scenes of
    ``benchmarks/segmentation_real.py`` (Indian Pines, Samson and the synthetic traps).
    """
    return max(1, min(int(k), int(n_signal)))


#: Significance of the test that a pixel lies on the segment between two class means
#: (chi-square of its whitened residual).
MIXED_PIXEL_ALPHA = 1e-3
#: A mixed pixel lies at least this many noise sigmas from both class means along the
#: segment (closer, it is as likely a pure pixel of the nearer class).
MIXED_PIXEL_MARGIN = 3.0


def mixed_pixel_log_likelihood(
    features: np.ndarray, loglik: np.ndarray, means: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Give pixels that are mixtures of two classes the likelihood of their majority class.

    A Gaussian mixture gives a mixed pixel to the wider of its two classes, wherever it lies
    between them. A pixel whose noise-whitened ``features`` (unit noise) lie on the segment
    between the means of its two most likely classes, within the noise (chi-square test at
    :data:`MIXED_PIXEL_ALPHA`) and :data:`MIXED_PIXEL_MARGIN` noise sigmas from both, is
    read as ``(1 - t) a + t b``: the two classes share their summed likelihood in proportion
    ``1 - t : t``, so its label is the majority class and its probability the class's share.
    The class means are taken from the pixels that are not such mixtures (a class's mean is
    otherwise drawn towards its mixtures; :func:`core_means`).

    Returns
    -------
    loglik : ndarray like ``loglik``
    mixed : ndarray of bool, shape (height, width)
        Pixels read as two-class mixtures.
    """
    h, w, k = loglik.shape
    x, lp = features.reshape(h * w, -1), loglik.reshape(h * w, k)
    out, mixed = share_mixed_pixels(x, lp, core_means(x, lp, means))
    return out.reshape(h, w, k), mixed.reshape(h, w)


def _mixed_limit(d: int) -> float:
    """Largest squared whitened residual (unit noise) of a pixel on the segment between two
    class means in ``d`` feature dimensions."""
    return float(chdtri(max(d - 1, 1), MIXED_PIXEL_ALPHA))  # the chi-squared quantile 1 - alpha


def _core_sums(x: np.ndarray, loglik: np.ndarray, means: np.ndarray):
    """Pixel counts and feature sums of each most likely class over the rows that are not
    two-class mixtures: ``(k,)``, ``(k, d)``."""
    k, d = loglik.shape[1], x.shape[1]
    top = _two_most_likely(loglik)
    _, on, inside, _ = _segment_position(x, means, top, _mixed_limit(d))
    core = ~(on & inside)
    first, pure = top[core, 0], x[core]
    sums = np.stack([np.bincount(first, weights=pure[:, i], minlength=k) for i in range(d)], 1)
    return np.bincount(first, minlength=k).astype(np.float64), sums


def core_means(x: np.ndarray, loglik: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Means of the ``(n, d)`` rows ``x`` most likely in each class (``loglik``, ``(n, k)``)
    that are not two-class mixtures between ``means``; ``means`` where a class has none."""
    blocks = row_blocks(x.shape[0], (x.shape[1] + loglik.shape[1]) * 8 * 4, SPATIAL_BLOCK_BYTES)
    counts, sums = in_threads(lambda rows: _core_sums(x[rows], loglik[rows], means), blocks, summed=True)
    return _class_means(counts, sums, means)


def _class_means(counts: np.ndarray, sums: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """``sums / counts`` per class, ``fallback`` for a class without pixels."""
    return np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], fallback)


def share_mixed_pixels(
    x: np.ndarray, loglik: np.ndarray, means: np.ndarray, smoothed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``x`` (``(n, d)``, unit noise) that lie between the ``means`` of their two
    most likely classes share the two classes' summed likelihood in proportion to their
    position (see :func:`mixed_pixel_log_likelihood`). Those on the segment but within
    :data:`MIXED_PIXEL_MARGIN` noise sigmas of one end lean to the nearer end's class by the
    chance that it is their majority (position from ``smoothed``, the same rows after the
    spatial smoothing, where given): left to the mixture, its wider class would take some of
    them. Returns a copy of ``loglik`` and the mask of the mixed rows."""
    top = _two_most_likely(loglik)
    t, on, inside, length = _segment_position(x, means, top, _mixed_limit(x.shape[1]))
    out = np.array(loglik, dtype=np.float64)
    which = np.flatnonzero(on & (top[:, 0] != top[:, 1]))
    a, b = top[which, 0], top[which, 1]
    total = np.logaddexp(out[which, a], out[which, b])
    # near an end: the chance that the majority is b, given unit noise along the segment
    near = t[which] if smoothed is None else _segment_position(smoothed[which], means, top[which], np.inf)[0]
    majority = ndtr((near - 0.5) * length[which])
    share = np.clip(np.where(inside[which], t[which], majority), 1e-6, 1 - 1e-6)
    out[which, a] = total + np.log1p(-share)
    out[which, b] = total + np.log(share)
    return out, on & inside


def _two_most_likely(loglik: np.ndarray) -> np.ndarray:
    if loglik.shape[1] < 2:
        return np.zeros((loglik.shape[0], 2), np.int64)
    return np.argsort(loglik, axis=1)[:, ::-1][:, :2]


def _segment_position(x: np.ndarray, means: np.ndarray, top: np.ndarray, limit: float):
    """Position ``t`` of each row along the segment from ``means[top[:, 0]]`` to
    ``means[top[:, 1]]``, whether it lies on the segment (squared residual at most ``limit``,
    in unit noise) and whether it is :data:`MIXED_PIXEL_MARGIN` noise sigmas from both ends."""
    x = x.astype(np.float64)
    start, step = means[top[:, 0]], means[top[:, 1]] - means[top[:, 0]]
    length = np.sqrt(np.maximum(np.einsum("ij,ij->i", step, step), 1e-300))
    t = np.einsum("ij,ij->i", x - start, step) / length**2
    residual = x - start - np.clip(t, 0, 1)[:, None] * step
    inside = (t * length > MIXED_PIXEL_MARGIN) & ((1 - t) * length > MIXED_PIXEL_MARGIN)
    return t, np.einsum("ij,ij->i", residual, residual) <= limit, inside, length


#: Pixels (a seeded sample of larger images) the pseudo-likelihood of beta is evaluated on.
BETA_SAMPLE = 100_000


def pseudo_likelihood_beta(labels: np.ndarray, k: int, grid=BETA_GRID) -> float:
    """The Potts ``beta`` that makes ``labels`` most likely given their 8-neighbours
    (evaluated on a seeded sample of :data:`BETA_SAMPLE` labelled pixels)."""
    labels = np.asarray(labels)
    w = labels.shape[1]
    flat = labels.reshape(-1)
    pixels = np.flatnonzero(flat >= 0)
    pixels = pixels[seeded_sample(pixels.size, BETA_SAMPLE, 0)]
    rows, cols = np.divmod(pixels, w)
    padded = np.pad(labels, 1, constant_values=-1)
    votes = np.zeros((pixels.size, k))
    every = np.arange(pixels.size)
    for dr, dc in NEIGHBOURS:
        neighbour = padded[rows + 1 + dr, cols + 1 + dc]
        counted = neighbour >= 0
        votes[every[counted], neighbour[counted]] += 1
    own = votes[every, flat[pixels]]
    scores = [np.sum(b * own - np.log(np.exp(b * votes).sum(axis=1))) for b in grid]
    return float(grid[int(np.argmax(scores))])


@dataclass
class SpectralSpatialResult:
    """Labels, probabilities and how the spatial steps went."""

    labels: np.ndarray
    probabilities: np.ndarray
    uncertainty: np.ndarray
    beta: float
    changed: int
    n_components: int
    n_mixed: int
    #: The (smoothed) features the mixture was fitted on, ``(height, width, n_components)``.
    features: np.ndarray


def spectral_spatial_segmentation(
    image: np.ndarray, k: int, *, n_components: int = 10, smoothing: int = 1, n_init: int = 10, random_state: int = 0
) -> SpectralSpatialResult:
    """Segment a ``(height, width, channels)`` image into ``k`` clusters (see the module doc).

    Parameters
    ----------
    image : ndarray of shape (height, width, channels)
    k : int
    n_components : int
        Most MNF components kept (:func:`component_count` says how many below that).
    smoothing : int
        Passes of the edge-preserving smoothing (0: none).
    n_init : int
        Restarts of the Gaussian mixture; of the distinct fits, the one whose final labels the
        model is surest of is kept (:func:`_segment_features`).
    random_state : int

    Returns
    -------
    SpectralSpatialResult
        ``probabilities`` (height, width, k) from the mixture's log-likelihoods (mixed pixels
        shared by their two classes) plus the Potts votes of the final labels;
        ``uncertainty`` = 1 - the largest probability.
    """
    if not isinstance(k, int | np.integer) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer; got {k!r}.")
    mnf = fit_mnf(image, n_components=MAX_COMPONENTS)
    d = min(component_count(k, mnf.n_signal), int(n_components))
    return _segment_features(mnf.transform(image, n_components=d), int(k), None, smoothing, n_init, random_state)


#: Pixels the Gaussian mixture is fitted on (a seeded sample of larger images); every pixel
#: is then scored by the fitted mixture.
MIXTURE_FIT_SAMPLE = 50_000

#: MNF components computed (the signal-to-noise ratios of these decide how many are kept).
MAX_COMPONENTS = 30


#: Most pixels on which the mixture's restarts are compared (:func:`_segment_features`): the
#: whole image up to this size, else a band of whole rows across its middle.
RESTART_WINDOW_PIXELS = 65_536


def _segment_features(
    whitened: np.ndarray, k: int, valid, smoothing: int, n_init: int, random_state: int
) -> SpectralSpatialResult:
    """Mixture, mixed pixels, Potts labels and probabilities of a whitened feature image
    (``valid``: pixels that count).

    The mixture is fitted ``n_init`` times from different seeds, and each fit is carried
    through the mixed-pixel and Potts steps; the one whose final labels the model is surest of
    (the smallest mean uncertainty, 1 - the largest posterior probability, over the valid
    pixels) is kept. The mixture's own likelihood ignores the spatial prior that decides the
    labels: on Indian Pines the restart it prefers scored ARI 0.33-0.42 over four seeds, the
    surest one 0.39-0.42. Restarts that found the same mixture (the same partition of the
    fitting sample) are compared once; images above :data:`RESTART_WINDOW_PIXELS` compare the
    restarts on a band of rows across the middle. The restarts are fitted, and compared, by
    as many processes as the run may use cores
    (:func:`~chemmap._shared.forked.shared_processes`); the image is then labelled with the
    one kept.
    """
    h, w, d = whitened.shape
    valid = np.ones((h, w), bool) if valid is None else np.asarray(valid, bool)
    smoothed = edge_preserving_smooth(whitened, smoothing) if smoothing else whitened
    flat = smoothed.reshape(-1, d)
    sample = np.flatnonzero(valid.reshape(-1))
    sample = sample[seeded_sample(sample.size, MIXTURE_FIT_SAMPLE, random_state)]
    fit = cluster_methods.get("gmm")
    seeds = [random_state] if n_init == 1 else np.random.default_rng(random_state).integers(0, 2**31 - 1, n_init)
    rows = flat[sample]
    fits = run_forked(
        [functools.partial(_fitted_mixture, fit, rows, k, int(seed)) for seed in seeds],
        processes=shared_processes(rows.size * k),
    )
    models = _distinct_fits(fits, rows, k)
    if len(models) == 1:
        return _labelling(models[0], whitened, smoothed, valid, k)
    band = slice(0, h) if h * w <= RESTART_WINDOW_PIXELS else _middle_rows(h, max(2, RESTART_WINDOW_PIXELS // w))
    sureties = run_forked(
        [functools.partial(_mean_uncertainty, m, whitened[band], smoothed[band], valid[band], k) for m in models],
        processes=shared_processes(whitened[band].size * k),
    )
    return _labelling(models[int(np.argmin(sureties))], whitened, smoothed, valid, k)


def _mean_uncertainty(model, whitened: np.ndarray, smoothed: np.ndarray, valid: np.ndarray, k: int) -> float:
    """How unsure the final labels of one restart are (the mean uncertainty over the valid
    pixels; :func:`_segment_features` keeps the surest restart and labels the image with it
    again, in this process: only this number comes back from a forked copy)."""
    result = _labelling(model, whitened, smoothed, valid, k)
    return float(np.mean(result.uncertainty[valid])) if valid.any() else 0.0


def _fitted_mixture(fit, rows: np.ndarray, k: int, seed: int):
    """One restart of the mixture: its model (restarts are fitted by forked copies of the
    process, each on its own core; in threads they held each other up on the interpreter's
    lock, 1.3x instead of 2x on 2 cores; with more than one BLAS thread each, the forks took
    3.7x as long)."""
    return fit(rows, k, random_state=seed, n_init=1).model


def _distinct_fits(models: list, rows: np.ndarray, k: int) -> list:
    """``models`` less those whose partition of ``rows`` (the fitting sample) is, up to the
    numbering of the classes, 99 % that of a likelier one: restarts that found the same
    mixture need no labelling of their own."""
    kept, partitions = [], []
    for model in sorted(models, key=lambda m: -m.log_likelihood):
        labels = np.argmax(model.weighted_log_prob(rows), axis=1)
        if not any(_same_partition(labels, other, k) for other in partitions):
            kept.append(model)
            partitions.append(labels)
    return kept


def _same_partition(a: np.ndarray, b: np.ndarray, k: int, agree: float = 0.99) -> bool:
    """Whether two labellings of the same rows match, class for class, on ``agree`` of them."""
    table = np.bincount(a * k + b, minlength=k * k).reshape(k, k)
    return min(table.max(axis=0).sum(), table.max(axis=1).sum()) >= agree * a.size


def _middle_rows(height: int, rows: int) -> slice:
    """``rows`` contiguous rows (at most ``height``) centred on the image."""
    rows = min(rows, height)
    start = (height - rows) // 2
    return slice(start, start + rows)


def _labelling(model, whitened: np.ndarray, smoothed: np.ndarray, valid: np.ndarray, k: int) -> SpectralSpatialResult:
    """The mixed-pixel and Potts steps of one fitted mixture, by blocks of rows; the
    log-likelihoods are held in float32 in the array that becomes the probabilities."""
    h, w, d = whitened.shape
    blocks = even_row_blocks(h, w * (d + k) * 8 * 4, SPATIAL_BLOCK_BYTES)
    # the mixture's log-likelihoods, then shared for mixed pixels, then the probabilities
    scores = np.empty((h, w, k), np.float32)

    def pixel_sums(rows: slice):
        keep = valid[rows].reshape(-1)
        loglik = model.weighted_log_prob(smoothed[rows].reshape(-1, d))
        scores[rows] = loglik.reshape(-1, w, k)
        return _core_sums(whitened[rows].reshape(-1, d)[keep], loglik[keep], model.means)

    means = _class_means(*in_threads(pixel_sums, blocks, summed=True), model.means)
    start = np.empty((h, w), np.int64)

    def pixel_wise(rows: slice) -> int:
        x, f = whitened[rows].reshape(-1, d), smoothed[rows].reshape(-1, d)
        loglik, mixed = share_mixed_pixels(x, scores[rows].reshape(-1, k), means, f)
        scores[rows] = loglik.reshape(-1, w, k)
        start[rows] = np.where(valid[rows], np.argmax(scores[rows], axis=2), -1)
        return int(np.count_nonzero(mixed.reshape(-1, w) & valid[rows]))

    n_mixed = sum(in_threads(pixel_wise, blocks))
    beta = pseudo_likelihood_beta(start, k)
    labels, changed = potts_icm_by_rows(
        lambda rows, lattice: scores[rows][lattice[0] :: 2, lattice[1] :: 2], start, beta, k,
        block_bytes=SPATIAL_BLOCK_BYTES,
    )  # fmt: skip

    def posterior(rows: slice) -> None:
        p = scores[rows]
        p += np.float32(beta) * neighbour_votes(labels, k, rows=rows)
        p -= p.max(axis=2, keepdims=True)
        np.exp(p, out=p)
        p /= p.sum(axis=2, keepdims=True)
        p[~valid[rows]] = np.nan

    in_threads(posterior, blocks)
    uncertainty = 1 - scores.max(axis=2)
    return SpectralSpatialResult(labels, scores, uncertainty, beta, changed, d, n_mixed, smoothed)


def _check_memory(n_pixels: int, k: int, d: int) -> None:
    """Refuse an image whose spatial steps would not fit half the memory limit. They run by
    blocks of rows but hold, per pixel, the ``d`` features three times (whitened, smoothed,
    the fitted clusterer's copy), the ``k`` probabilities (float32) and four label or
    uncertainty images."""
    ensure_bytes_fit(
        n_pixels * (4 * (3 * d + k) + 32),
        what=f"the spectral-spatial segmentation of {n_pixels} pixels into up to {k} clusters (its feature images, "
        "probabilities and label images)",
        fix="raise --memory-limit, use --method kmeans (which streams an image of any size), or crop the image",
    )


#: With ``k="auto"`` the criteria see the features clipped at these percentiles (and 100 minus
#: them), so that a handful of outlier pixels (hot pixels, cosmic rays) cannot make clusters
#: of their own that the silhouette scores as perfectly separated.
SELECTION_CLIP = 1.0


class SpectralSpatialClusterer(ClusterMixin, Estimator):
    """:func:`spectral_spatial_segmentation` with the attributes of a fitted
    :class:`~chemmap.cluster.PixelClusterer`, for ``chemmap run --method spectral-spatial``.

    Works on cubes in memory and on lazy (Dask) cubes: the MNF passes stream the cube by
    blocks of rows and the spatial steps hold only the per-pixel features, probabilities and
    labels, which must fit half the memory limit. Invalid pixels get
    the mean's features and are labelled -1. ``n_components`` caps the MNF components (a
    variance fraction, which applies to PCA, caps them at :data:`MAX_COMPONENTS`).
    """

    method = "spectral-spatial"
    features = "mnf"
    #: The clustering the stability check refits on the features.
    refit_method = "gmm"

    def __init__(self, k="auto", *, criterion="silhouette", k_range=(2, 10), n_components=10, smoothing=1,
                 n_init=10, random_state=0):  # fmt: skip
        self.k, self.criterion, self.k_range, self.n_components = k, criterion, k_range, n_components
        self.smoothing, self.n_init, self.random_state = smoothing, n_init, random_state

    def method_options(self) -> dict:
        return {"n_init": check_int(self.n_init, name="n_init", func="SpectralSpatialClusterer", low=1)}

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        """Fit on the cube ``X``; its ``(height, width)`` label image (-1 outside the mask), as
        :meth:`PixelClusterer.fit_predict <chemmap.cluster.PixelClusterer.fit_predict>` gives."""
        return self.fit(X, **kwargs).label_image_

    def _max_components(self) -> int:
        """``n_components`` as a count (a variance fraction, which applies to PCA, means
        :data:`MAX_COMPONENTS`)."""
        return self.n_components if isinstance(self.n_components, int) else MAX_COMPONENTS

    def fit(self, cube, progress=None, compute_with=()) -> SpectralSpatialClusterer:
        """Segment ``cube``; ``compute_with``: lazy arrays over the same cube (maps) computed in
        the pass that projects the pixels, then in memory in ``computed_with_``."""
        h, w = cube.image_shape
        if min(h, w) < 2:
            raise InvalidParameterError(
                f"method 'spectral-spatial' needs a 2-D image (neighbours in both directions); this is a list of "
                f"{h * w} spectra ({h} x {w}). To fix this, use method 'kmeans' or 'gmm'."
            )
        valid = cube.valid_pixels().reshape(h, w)
        n_valid = int(valid.sum())
        if n_valid < 2:
            raise ShapeError(f"Clustering needs at least 2 valid pixels; the image has {n_valid}.")
        if self.k != "auto" and int(self.k) > n_valid:
            raise InvalidParameterError(f"k={self.k} exceeds the {n_valid} valid pixels.")
        mnf = fit_mnf(cube.data, valid, n_components=MAX_COMPONENTS, progress=progress)
        n_init = self.method_options()["n_init"]
        k_range = searched_k(self.k_range, n_valid) if self.k == "auto" else None
        largest_k = k_range[1] if self.k == "auto" else int(self.k)
        d = min(component_count(largest_k, mnf.n_signal), self._max_components())
        _check_memory(h * w, largest_k, d)
        out = mnf.transform(cube.data, valid, n_components=d, progress=progress, compute_with=compute_with)
        whitened, self.computed_with_ = out if compute_with else (out, [])
        self.k_selection_ = None
        k = self.k
        if k == "auto":
            rows = edge_preserving_smooth(whitened, self.smoothing).reshape(-1, d)[valid.reshape(-1)]
            low, high = np.percentile(rows, [SELECTION_CLIP, 100 - SELECTION_CLIP], axis=0)
            rows = np.clip(rows, low, high)
            k, self.k_selection_ = choose_k(
                rows, k_range, method="kmeans", criterion=self.criterion, random_state=self.random_state
            )
            d = min(component_count(k, mnf.n_signal), self._max_components())
        notify(progress, "spectral-spatial segmentation", 0, 1)
        result = _segment_features(whitened[..., :d], int(k), valid, self.smoothing, n_init, self.random_state)
        notify(progress, "spectral-spatial segmentation", 1, 1)
        order = size_order(result.labels[valid], int(k))  # cluster 0 is the largest, as for PixelClusterer
        labels = np.where(valid, order[np.clip(result.labels, 0, None)], -1)
        probabilities = result.probabilities
        inverse = np.argsort(order)
        for rows in even_row_blocks(h, w * int(k) * 4, SPATIAL_BLOCK_BYTES):
            probabilities[rows] = probabilities[rows][..., inverse]
        signal = mnf.n_signal
        self.k_ = int(k)
        self.label_image_ = labels
        self.labels_ = labels[valid]
        self.features_ = result.features.reshape(-1, d)[valid.reshape(-1)]
        self.probabilities_, self.uncertainty_ = probabilities, result.uncertainty
        self.cleanup_ = {
            "potts_beta": result.beta, "n_pixels_changed": result.changed, "n_mixed_pixels": result.n_mixed,
            "n_signal_components": signal,
        }  # fmt: skip
        self.notes_ = [
            f"spectral-spatial: {d} MNF components ({signal} above the noise), {self.smoothing} edge-preserving "
            f"smoothing pass(es), Gaussian mixture; {result.n_mixed} pixels read as two-class mixtures (labelled by "
            f"their majority class); Potts beta {result.beta:.2f} (pseudo-likelihood) changed {result.changed} labels"
        ]
        return self
