"""Spatial clean-up of label images: majority (mode) filter and small-region merging."""

from __future__ import annotations

import numpy as np

from chemmap._shared.validation import check_int

__all__ = ["merge_small_regions", "mode_filter", "salt_and_pepper_fraction"]

_EIGHT = np.ones((3, 3), dtype=bool)


def mode_filter(labels: np.ndarray, size: int = 3) -> np.ndarray:
    """Replace each label by the most frequent label in its ``size x size`` window.

    Pixels labelled ``-1`` (masked) neither vote nor change. Ties keep the current label.

    Parameters
    ----------
    labels : ndarray of int, shape (height, width)
    size : int
        Odd window size in pixels (3 = the 8-neighbourhood).
    """
    from scipy.ndimage import uniform_filter

    size = check_int(size, name="size", func="mode_filter", low=3)
    if size % 2 == 0:
        size += 1
    k = int(labels.max()) + 1
    if k <= 1:
        return labels.copy()
    votes = np.stack([uniform_filter((labels == j).astype(np.float32), size, mode="constant") for j in range(k)])
    current = np.take_along_axis(votes, np.clip(labels, 0, None)[None], axis=0)[0]
    best = np.argmax(votes, axis=0)
    winner = votes.max(axis=0) > current + 1e-6
    out = np.where(winner & (labels >= 0), best, labels)
    return out.astype(labels.dtype)


def merge_small_regions(labels: np.ndarray, min_region_size: int) -> tuple[np.ndarray, int]:
    """Merge 8-connected regions smaller than ``min_region_size`` pixels into a neighbour.

    Each small region takes the label most common on its outer border (smallest regions
    first). Masked pixels (``-1``) are never changed and never absorb a region.

    Returns
    -------
    labels : ndarray
        The cleaned label image.
    n_merged : int
        How many regions were merged.
    """
    from scipy.ndimage import binary_dilation, find_objects
    from scipy.ndimage import label as connected

    min_region_size = check_int(min_region_size, name="min_region_size", func="merge_small_regions", low=0)
    out = labels.copy()
    regions = []
    for j in np.unique(labels[labels >= 0]):
        comp, n = connected(labels == j, structure=_EIGHT)
        sizes = np.bincount(comp.ravel())
        boxes = find_objects(comp)
        regions.extend(
            (int(sizes[i]), int(j), comp, i, boxes[i - 1]) for i in range(1, n + 1) if sizes[i] < min_region_size
        )
    merged = 0
    for _size, _j, comp, i, box in sorted(regions, key=lambda r: r[0]):
        r0, r1 = max(box[0].start - 1, 0), box[0].stop + 1
        c0, c1 = max(box[1].start - 1, 0), box[1].stop + 1
        region = comp[r0:r1, c0:c1] == i
        ring = binary_dilation(region, structure=_EIGHT) & ~region
        neighbours = out[r0:r1, c0:c1][ring]
        neighbours = neighbours[neighbours >= 0]
        if neighbours.size == 0:
            continue
        values, counts = np.unique(neighbours, return_counts=True)
        out[r0:r1, c0:c1][region] = values[np.argmax(counts)]
        merged += 1
    return out, merged


def salt_and_pepper_fraction(labels: np.ndarray) -> float:
    """Fraction of pixels whose 8 neighbours all carry another label.

    Only pixels whose 8 neighbours all exist and are unmasked are counted (denominator too).
    """
    lab = np.asarray(labels)
    h, w = lab.shape
    if h < 3 or w < 3:
        return 0.0
    centre = lab[1:-1, 1:-1]
    eligible = centre >= 0
    isolated = np.ones_like(centre, dtype=bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == 0 and dc == 0:
                continue
            neigh = lab[1 + dr : h - 1 + dr, 1 + dc : w - 1 + dc]
            eligible &= neigh >= 0
            isolated &= neigh != centre
    n = int(eligible.sum())
    return float((isolated & eligible).sum() / n) if n else 0.0
