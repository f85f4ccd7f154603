"""Speckle and region atlas of a map: how large the largest bright region is at every
threshold, the threshold where only small regions (speckles) remain, and those regions with
their areas, centroids, masks and mean spectra."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemmap.cluster.spectra import cluster_spectra
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, ShapeError

__all__ = ["RegionAtlas", "largest_region_curve", "speckle_atlas"]

#: Thresholds of the largest-region curve (quantiles of the map's valid values).
CURVE_LEVELS = 128


def _structure(connectivity: int) -> np.ndarray:
    if connectivity not in (1, 2):
        raise InvalidParameterError(f"connectivity must be 1 (4 neighbours) or 2 (8 neighbours); got {connectivity}.")
    from scipy.ndimage import generate_binary_structure

    return generate_binary_structure(2, connectivity)


def _largest_area(above: np.ndarray, structure: np.ndarray) -> int:
    from scipy.ndimage import label

    labels, n = label(above, structure=structure)
    return int(np.bincount(labels.ravel())[1:].max()) if n else 0


def largest_region_curve(values: np.ndarray, *, valid=None, connectivity: int = 2, levels: int = CURVE_LEVELS):
    """Area (pixels) of the largest connected region above each threshold.

    Returns
    -------
    thresholds, areas : ndarray
        Thresholds at ``levels`` quantiles of the valid values, ascending; areas
        non-increasing.
    """
    image = np.asarray(values, dtype=np.float64)
    if image.ndim != 2:
        raise ShapeError(f"A region atlas needs a 2-D map; got shape {image.shape}.")
    valid = np.isfinite(image) if valid is None else np.asarray(valid, bool) & np.isfinite(image)
    if not valid.any():
        raise InvalidParameterError("The map has no valid (finite, unmasked) pixel.")
    structure = _structure(connectivity)
    thresholds = np.unique(np.quantile(image[valid], np.linspace(0, 1, levels)))
    areas = np.array([_largest_area(valid & (image >= t), structure) for t in thresholds])
    return thresholds, areas


@dataclass
class RegionAtlas:
    """Regions of a map above a threshold, largest first.

    Attributes
    ----------
    threshold : float
        Map value regions are taken above (inclusive).
    labels : ndarray of int, shape (height, width)
        0 outside regions, 1.. for regions by decreasing area.
    areas : ndarray of int
    centroids : ndarray of shape (n, 2)
        Row, column (pixels; intensity-weighted by the map above the threshold).
    peaks : ndarray of shape (n,)
        Highest value of the map worked on inside each region (its contrast).
    mean_spectra : ndarray of shape (n, n_channels) or None
        Mean spectrum of each region from the cube.
    curve : (ndarray, ndarray)
        The largest-region curve (thresholds, areas).
    """

    threshold: float
    labels: np.ndarray
    areas: np.ndarray
    centroids: np.ndarray
    peaks: np.ndarray
    mean_spectra: np.ndarray | None
    curve: tuple[np.ndarray, np.ndarray]

    def masks(self) -> np.ndarray:
        """Full-image boolean masks, ``(n_regions, height, width)``."""
        return self.labels[None, :, :] == np.arange(1, len(self.areas) + 1)[:, None, None]

    def to_dict(self) -> dict:
        return {
            "threshold": float(self.threshold),
            "regions": [
                {"label": i + 1, "area": int(a), "centroid": [float(c[0]), float(c[1])], "peak": float(p)}
                for i, (a, c, p) in enumerate(zip(self.areas, self.centroids, self.peaks, strict=True))
            ],
        }


def speckle_atlas(
    values,
    *,
    max_area: int = 25,
    threshold: float | None = None,
    valid=None,
    cube: Cube | None = None,
    connectivity: int = 2,
    background: bool = True,
    noise_sigmas: float = 5.0,
    sigma=None,
    isolated: bool = True,
) -> RegionAtlas:
    """Small bright regions (speckles) of a map.

    Parameters
    ----------
    values : ndarray of shape (height, width)
        A map (e.g. a peak-area map).
    max_area : int
        Largest speckle, pixels. The threshold is the lowest map value at which no region
        above it is larger (found by bisection over the map's values).
    threshold : float, optional
        Use this threshold instead.
    valid : ndarray of bool, optional
        Pixels that count (default: finite values).
    cube : Cube, optional
        The cube the map came from: each region's mean spectrum is computed from it.
    connectivity : {1, 2}
        4- or 8-neighbour regions, for the curve and the labels alike.
    background : bool
        Work on the map minus its local median over a window a little wider than a
        speckle (a white top-hat), so extended regions (a pigment layer) drop to zero and
        only what stands out of its surroundings remains; ``False`` uses the map as it is.
    noise_sigmas : float
        Never threshold below this many noise sigmas (from the negative half of the map
        worked on, or ``sigma``), so noise is not called speckles.
    sigma : ndarray of shape (height, width), optional
        Noise sigma of each pixel (e.g. the counting error of a peak area). The map worked
        on is then divided by it, so the threshold is in local noise sigmas: counting noise
        grows with the counts, and one sigma for the whole map would call the noise of a
        bright layer speckles.
    isolated : bool
        Keep only regions that stand out of their whole surroundings: the region's mean
        (on the map itself) must exceed the 90th percentile of a ring
        :data:`RING_GAP` pixels away by ``noise_sigmas`` noise sigmas. A corner or a thin
        tongue of an extended layer passes the top-hat but not this test, since part of
        its ring lies on the layer.

    Returns
    -------
    RegionAtlas
        ``threshold`` is on the map worked on (the top-hat with ``background``, in local
        sigmas with ``sigma``).
    """
    from scipy.ndimage import center_of_mass, label, maximum

    from chemmap.maps.peak_slicing import map_noise

    image = np.asarray(values, dtype=np.float64)
    if max_area < 1:
        raise InvalidParameterError(f"max_area must be at least 1 pixel; got {max_area}.")
    valid = np.isfinite(image) if valid is None else np.asarray(valid, bool) & np.isfinite(image)
    if background:
        image = _top_hat(image, valid, max_area)
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=np.float64)
        if sigma.shape != image.shape:
            raise ShapeError(f"sigma must have the map's shape {image.shape}; got {sigma.shape}.")
        valid = valid & (sigma > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            image = np.where(valid, image / sigma, np.nan)
    thresholds, areas = largest_region_curve(image, valid=valid, connectivity=connectivity)
    structure = _structure(connectivity)
    if threshold is None:
        threshold = _lowest_threshold(image, valid, structure, max_area)
        noise = 1.0 if sigma is not None else map_noise(image[valid])["sigma"]
        if noise is not None:
            threshold = max(threshold, noise_sigmas * noise)
    above = valid & (image >= threshold)
    raw, n = label(above, structure=structure)
    if isolated and n:
        raw, n = _isolated_regions(np.asarray(values, dtype=np.float64), raw, n, valid, structure, sigma, noise_sigmas)
        above = raw > 0
    sizes = np.bincount(raw.ravel(), minlength=n + 1)[1:]
    order = np.argsort(-sizes, kind="stable")
    relabel = np.zeros(n + 1, np.int64)
    relabel[order + 1] = np.arange(1, n + 1)
    labels = relabel[raw]
    weights = np.where(above, image - threshold + 1e-12, 0.0)
    centroids = np.array(center_of_mass(weights, labels, range(1, n + 1))).reshape(-1, 2)
    peaks = np.array(maximum(np.where(above, image, -np.inf), labels, range(1, n + 1))).reshape(-1)
    spectra = None if cube is None or not n else _region_means(cube, labels, n)
    return RegionAtlas(float(threshold), labels, sizes[order], centroids, peaks, spectra, (thresholds, areas))


#: Distance (pixels) between a region and the ring it is compared with, and the ring's width.
RING_GAP = 2
RING_WIDTH = 2


def _isolated_regions(image, raw, n, valid, structure, sigma, noise_sigmas: float):
    """``raw`` keeping only the regions brighter than their surrounding ring, renumbered."""
    from scipy.ndimage import binary_dilation, find_objects

    from chemmap.maps.peak_slicing import map_noise

    map_sigma = None if sigma is not None else map_noise(image[valid])["sigma"]
    pad = RING_GAP + RING_WIDTH + 1
    keep = np.zeros(n + 1, bool)
    for i, box in enumerate(find_objects(raw), start=1):
        window = tuple(slice(max(b.start - pad, 0), b.stop + pad) for b in box)
        region = raw[window] == i
        near = binary_dilation(region, structure, iterations=RING_GAP)
        ring = binary_dilation(near, structure, iterations=RING_WIDTH) & ~near & valid[window]
        if not ring.any():
            keep[i] = True
            continue
        local = image[window]
        noise = float(np.mean(sigma[window][region])) if sigma is not None else map_sigma
        contrast = float(np.mean(local[region]) - np.percentile(local[ring], 90))
        keep[i] = noise is None or contrast >= noise_sigmas * noise
    renumber = np.zeros(n + 1, np.int64)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1)
    return renumber[raw], int(keep.sum())


#: Regions holding up to this many pixels in all have their spectra read pixel by pixel
#: (speckles are small); more are averaged in one pass over the cube.
READ_REGION_PIXELS = 100_000


def _region_means(cube: Cube, labels: np.ndarray, n: int) -> np.ndarray:
    """Mean spectrum of every region 1..n of ``labels``."""
    flat = labels.reshape(-1)
    inside = np.flatnonzero(flat > 0)
    if inside.size > READ_REGION_PIXELS:
        return cluster_spectra(cube.pixels(), flat - 1, n, stage="region spectra")[0]
    from chemmap._shared.blockwise import take_rows

    rows = take_rows(cube.pixels(), inside).astype(np.float64)
    sums = np.zeros((n, rows.shape[1]))
    np.add.at(sums, flat[inside] - 1, rows)
    return sums / np.bincount(flat[inside] - 1, minlength=n)[:, None]


def _top_hat(image: np.ndarray, valid: np.ndarray, max_area: int) -> np.ndarray:
    """The map minus its local median over a window twice as wide as a ``max_area`` disc."""
    from scipy.ndimage import median_filter

    size = 2 * int(np.ceil(2 * np.sqrt(max_area / np.pi))) + 1
    filled = np.where(valid, image, np.median(image[valid]))
    return np.where(valid, image - median_filter(filled, size=size, mode="nearest"), np.nan)


def _lowest_threshold(image, valid, structure, max_area: int) -> float:
    """Lowest map value at which every region above it has at most ``max_area`` pixels."""
    levels = np.unique(image[valid])
    lo, hi = 0, len(levels) - 1
    if _largest_area(valid & (image >= levels[lo]), structure) <= max_area:
        return float(levels[lo])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _largest_area(valid & (image >= levels[mid]), structure) <= max_area:
            hi = mid
        else:
            lo = mid
    return float(levels[hi])
