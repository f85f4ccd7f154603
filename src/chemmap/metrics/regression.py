"""Scores of quantitative maps: the masked mean of each map against the sample's reference
value, the share of pixels outside the physical range, and per-pixel agreement with truth
maps where they exist."""

from __future__ import annotations

import numpy as np

from chemmap.core.exceptions import ShapeError

__all__ = ["masked_mean", "mean_scores", "out_of_range_fraction", "pixel_scores", "quantitative_map_scores"]


def masked_mean(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean of the finite pixels of ``image`` inside ``mask``."""
    z = np.asarray(image, dtype=np.float64)
    m = np.isfinite(z) if mask is None else np.asarray(mask, bool) & np.isfinite(z)
    if not m.any():
        raise ShapeError("The mask holds no finite pixel of the map; no mean.")
    return float(z[m].mean())


def mean_scores(references, predicted) -> dict:
    """RMSE, bias and slope of predicted sample means against reference values.

    Parameters
    ----------
    references, predicted : array-like of shape (n_samples,)
        Reference value (e.g. fat % from chemistry) and the masked mean of the map.

    Returns
    -------
    dict
        ``rmse_mean``; ``bias`` (mean of predicted - reference); ``slope`` and
        ``intercept`` of the least-squares line predicted = intercept + slope x reference
        (1 and 0 when unbiased; None with fewer than two distinct references); ``r2``;
        ``n_samples``.
    """
    y = np.asarray(references, dtype=np.float64).reshape(-1)
    p = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if y.shape != p.shape or y.size == 0:
        raise ShapeError(f"references and predicted must be equal, non-empty lists; got {y.size} and {p.size}.")
    error = p - y
    out = {"n_samples": int(y.size), "rmse_mean": float(np.sqrt(np.mean(error**2))), "bias": float(error.mean())}
    if np.ptp(y) > 0:
        slope, intercept = np.polyfit(y, p, 1)
        ss = np.sum((y - y.mean()) ** 2)
        out.update(slope=float(slope), intercept=float(intercept), r2=float(1 - np.sum(error**2) / ss))
    else:
        out.update(slope=None, intercept=None, r2=None)
    return out


def out_of_range_fraction(images, masks, *, low: float = 0.0, high: float = 100.0) -> float:
    """Share of mask pixels (over all maps) whose value lies outside ``[low, high]``."""
    outside = total = 0
    for image, mask in zip(images, masks, strict=True):
        z = np.asarray(image, dtype=np.float64)[np.asarray(mask, bool)]
        outside += int(np.count_nonzero((z < low) | (z > high) | ~np.isfinite(z)))
        total += z.size
    return outside / total if total else 0.0


def pixel_scores(images, truths, masks) -> dict:
    """Per-pixel RMSE and Pearson correlation of maps against truth maps, over the mask
    pixels of all samples pooled.

    Returns
    -------
    dict
        ``pixel_rmse`` (map units), ``pixel_corr`` and ``n_pixels``.
    """
    predicted, true = [], []
    for image, truth, mask in zip(images, truths, masks, strict=True):
        keep = np.asarray(mask, bool) & np.isfinite(truth) & np.isfinite(image)
        predicted.append(np.asarray(image, dtype=np.float64)[keep])
        true.append(np.asarray(truth, dtype=np.float64)[keep])
    p, t = np.concatenate(predicted), np.concatenate(true)
    if p.size < 2:
        raise ShapeError("Fewer than two mask pixels with truth; no per-pixel scores.")
    corr = float(np.corrcoef(p, t)[0, 1]) if p.std() > 0 and t.std() > 0 else None
    return {"pixel_rmse": float(np.sqrt(np.mean((p - t) ** 2))), "pixel_corr": corr, "n_pixels": int(p.size)}


def quantitative_map_scores(samples, maps, *, low: float = 0.0, high: float = 100.0) -> dict:
    """Every score of a model's maps on test samples.

    Parameters
    ----------
    samples : list of Sample
        Their masks, references and (optional) truth maps.
    maps : list of ndarray
        One map per sample, in the reference's units.
    low, high : float
        Physical range.

    Returns
    -------
    dict
        :func:`mean_scores` of the masked means; ``out_of_range_fraction``;
        ``spatial_variance_fraction`` (mean over the maps; see
        :func:`chemmap.metrics.spatial.spatial_variance_fraction`; None for maps too small
        to fit a variogram); ``pixel_rmse``, ``pixel_corr`` and ``n_pixels`` against the
        truth maps (None without truth); ``per_sample`` (name, reference, predicted mean,
        spatial variance fraction).
    """
    from chemmap.metrics.spatial import spatial_variance_fraction

    masks = [s.mask for s in samples]
    predicted = [masked_mean(m, k) for m, k in zip(maps, masks, strict=True)]
    out = mean_scores([s.reference for s in samples], predicted)
    out["out_of_range_fraction"] = out_of_range_fraction(maps, masks, low=low, high=high)
    fractions = []
    for image, mask in zip(maps, masks, strict=True):
        try:
            fractions.append(spatial_variance_fraction(image, mask)["spatial_fraction"])
        except ShapeError:
            fractions.append(None)
    known = [f for f in fractions if f is not None]
    out["spatial_variance_fraction"] = float(np.mean(known)) if known else None
    with_truth = [i for i, s in enumerate(samples) if s.truth is not None]
    if with_truth:
        out.update(
            pixel_scores(
                [maps[i] for i in with_truth], [samples[i].truth for i in with_truth], [masks[i] for i in with_truth]
            )
        )
    else:
        out.update(pixel_rmse=None, pixel_corr=None, n_pixels=None)
    out["per_sample"] = [
        {"name": s.name, "reference": s.reference, "predicted_mean": p, "spatial_variance_fraction": f}
        for s, p, f in zip(samples, predicted, fractions, strict=True)
    ]
    return out
