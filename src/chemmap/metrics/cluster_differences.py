"""Numbers behind a written interpretation: the bands that distinguish each cluster, region
sizes and how sharp the boundaries between clusters are (cluster spectra:
:func:`chemmap.cluster.spectra.cluster_spectra`)."""

from __future__ import annotations

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.compute import FEATURE_BLOCK_BYTES, compute
from chemmap.cluster.kmeans import squared_distances

__all__ = ["boundary_sharpness", "centroid_margins", "distinguishing_bands", "region_stats"]


#: Smallest standardised difference called distinguishing (a "large" effect, Cohen's d).
MIN_EFFECT = 0.8


def distinguishing_bands(
    axis_values: np.ndarray, means: np.ndarray, stds: np.ndarray, counts: np.ndarray
) -> list[dict]:
    """For every cluster, the channels where it is most raised and most lowered relative
    to the other clusters.

    The difference is a standardised effect size: (cluster mean - mean of the others) /
    pooled standard deviation, at each channel. A band is reported only when its effect
    size exceeds ``MIN_EFFECT`` (the raised band first: where a component is present).

    Returns
    -------
    list of dict
        ``cluster``, ``position`` (axis units), ``difference`` (intensity units),
        ``effect_size`` and ``direction`` ("higher"/"lower").
    """
    k = means.shape[0]
    out = []
    for j in range(k):
        others = [i for i in range(k) if i != j and counts[i] > 0]
        if not others or counts[j] == 0:
            continue
        w = counts[others] / counts[others].sum()
        other_mean = w @ means[others]
        other_var = w @ (stds[others] ** 2 + (means[others] - other_mean) ** 2)
        pooled = np.sqrt(0.5 * (stds[j] ** 2 + other_var))
        diff = means[j] - other_mean
        effect = diff / np.where(pooled > 0, pooled, np.inf)
        for i in (int(np.argmax(effect)), int(np.argmin(effect))):
            if abs(effect[i]) >= MIN_EFFECT:
                out.append(
                    {
                        "cluster": j,
                        "position": float(axis_values[i]),
                        "difference": float(diff[i]),
                        "effect_size": float(effect[i]),
                        "direction": "higher" if diff[i] > 0 else "lower",
                    }
                )
    return out


def region_stats(label_image: np.ndarray, k: int) -> list[dict]:
    """Pixel count, share of valid pixels and number of 8-connected regions per cluster."""
    from scipy.ndimage import label as connected

    valid = label_image >= 0
    total = max(int(valid.sum()), 1)
    stats = []
    for j in range(k):
        member = label_image == j
        _, n_regions = connected(member, structure=np.ones((3, 3), bool))
        stats.append(
            {
                "cluster": j,
                "n_pixels": int(member.sum()),
                "fraction": float(member.sum() / total),
                "n_regions": int(n_regions),
            }
        )
    return stats


def boundary_sharpness(label_image: np.ndarray, margin_image: np.ndarray) -> dict:
    """How distinct pixels on cluster boundaries are, compared with interior pixels.

    ``margin`` per pixel is ``(d2 - d1) / (d2 + d1)`` for its distances to the nearest and
    second-nearest cluster centre (1 = unambiguous, 0 = halfway). Sharpness is the median
    margin of boundary pixels divided by that of interior pixels: near 1 the clusters meet
    at a sharp edge; near 0 the boundary is a gradual transition of mixed spectra.

    Returns
    -------
    dict
        ``sharpness``, ``boundary_fraction`` (share of valid pixels with a 4-neighbour in
        another cluster), ``boundary_margin`` and ``interior_margin``.
    """
    lab = label_image
    valid = lab >= 0
    boundary = np.zeros_like(valid)
    for a, b in ((lab[1:, :], lab[:-1, :]), (lab[:, 1:], lab[:, :-1])):
        diff = (a != b) & (a >= 0) & (b >= 0)
        if a.shape[0] != lab.shape[0]:
            boundary[1:, :] |= diff
            boundary[:-1, :] |= diff
        else:
            boundary[:, 1:] |= diff
            boundary[:, :-1] |= diff
    interior = valid & ~boundary
    if not boundary.any() or not interior.any():
        return {
            "sharpness": None,
            "boundary_fraction": float(boundary.sum() / max(valid.sum(), 1)),
            "boundary_margin": None,
            "interior_margin": None,
        }
    finite = np.isfinite(margin_image)
    # medians of the copies the masks take, sorted in place (no second copy of the image)
    b_margin = float(np.median(margin_image[boundary & finite], overwrite_input=True))
    i_margin = float(np.median(margin_image[interior & finite], overwrite_input=True))
    return {
        "sharpness": b_margin / i_margin if i_margin > 0 else None,
        "boundary_fraction": float(boundary.sum() / valid.sum()),
        "boundary_margin": b_margin,
        "interior_margin": i_margin,
    }


def centroid_margins(features, centroids: np.ndarray) -> np.ndarray:
    """``(d2 - d1) / (d2 + d1)`` per row, for its two nearest centroids (float32, in memory;
    NumPy or Dask rows, by blocks)."""
    centroids = np.asarray(centroids, dtype=np.float64)

    def margins(x: np.ndarray) -> np.ndarray:
        d = np.sqrt(squared_distances(x, centroids))
        if d.shape[1] < 2:
            return np.ones((d.shape[0], 1))
        part = np.partition(d, 1, axis=1)
        d1, d2 = part[:, 0], part[:, 1]
        return ((d2 - d1) / np.maximum(d2 + d1, 1e-300))[:, None]

    out = map_spectra(margins, features, n_out=1, dtype=np.float32, block_bytes=FEATURE_BLOCK_BYTES)
    (out,) = compute(out, stage="centroid margins")
    return np.asarray(out)[:, 0]
