"""Losses for maps learned from one reference value per sample: the squared error of the
map's masked mean, a smoothness term over neighbouring pixels and a penalty on values
outside the physical range."""

from __future__ import annotations

from typing import ClassVar

from chemmap._shared.params import Param, Settings
from chemmap.deep._torch import torch

__all__ = ["MapLossWeights", "map_loss", "masked_mean"]

SMOOTHNESS = ("squared", "huber", "tv")
PAIRS = ("inside", "anchored", "all")
SMOOTHED = ("map", "correction")


class MapLossWeights(Settings):
    """Weights and options of :func:`map_loss`.

    Attributes
    ----------
    smoothness : float
        Weight of the spatial-difference term (the paper: 20): the penalty of the row and
        the column difference summed per pixel, averaged over the pixels counted.
    range_penalty : float
        Weight of the mean squared excursion outside ``[low, high]`` (the paper: 1e-3).
    low, high : float
        Physical range of the map, in its units (fat %: 0 and 100).
    kind : {"squared", "huber", "tv"}
        Penalty on each difference: squared (the paper), Huber (quadratic below ``delta``,
        linear above: edges between layers cost less), or absolute (total variation).
    delta : float
        Huber threshold, map units.
    pairs : {"inside", "anchored", "all"}
        Neighbour pairs counted: both pixels inside the mask; the first (upper or left)
        pixel inside the mask (the paper's code: differences across the mask's edge count);
        or every pair of the image.
    smooth : {"map", "correction"}
        What the smoothness term sees: the whole map (the paper), or only what the U-Net
        adds to its linear path (the map minus the linear path's map), so the per-pixel
        detail of the linear calibration is not flattened.
    """

    SECTION = "loss"
    PARAMS: ClassVar[dict[str, Param]] = {
        "smoothness": Param("float", 20.0, low=0, doc="weight of the spatial-difference term"),
        "range_penalty": Param("float", 1e-3, low=0, doc="weight of the excursion outside [low, high]"),
        "low": Param("float", 0.0, doc="physical minimum of the map"),
        "high": Param("float", 100.0, doc="physical maximum of the map"),
        "kind": Param("choice", "squared", choices=SMOOTHNESS, doc="penalty on each difference"),
        "delta": Param("float", 1.0, low=0, low_inclusive=False, doc="Huber threshold, map units"),
        "pairs": Param("choice", "inside", choices=PAIRS, doc="neighbour pairs counted"),
        "smooth": Param("choice", "map", choices=SMOOTHED, doc="what the smoothness term sees"),
    }


def masked_mean(maps, masks):
    """``(batch,)`` mean of each ``(batch, height, width)`` map over its boolean mask."""
    weights = masks.to(maps.dtype)
    return (maps * weights).sum(dim=(1, 2)) / weights.sum(dim=(1, 2)).clamp_min(1.0)


def _penalty(diff, weights: MapLossWeights):
    if weights.kind == "squared":
        return diff**2
    if weights.kind == "tv":
        return diff.abs()
    return torch.nn.functional.huber_loss(diff, torch.zeros_like(diff), reduction="none", delta=weights.delta)


def map_loss(maps, masks, references, weights: MapLossWeights | None = None, *, base=None) -> dict:
    """Loss of predicted maps against per-sample references.

    ``mean_b (reference_b - masked_mean(map_b))^2 + smoothness * sum(penalty(neighbour
    differences)) / (pairs counted / 2) + range_penalty * mean over mask pixels of
    (excursion outside [low, high])^2``.

    Parameters
    ----------
    maps : tensor of shape (batch, height, width)
    masks : bool tensor of the same shape
    references : tensor of shape (batch,)
    weights : MapLossWeights, optional
        Default: the paper's (smoothness 20, squared differences).
    base : tensor of the shape of ``maps``, optional
        The linear path's maps; with ``weights.smooth == "correction"`` the smoothness is
        counted on ``maps - base``.

    Returns
    -------
    dict
        ``loss`` and its terms ``mean`` (squared error of the means), ``smoothness`` and
        ``range`` (the last three detached).
    """
    weights = weights or MapLossWeights()
    mean_error = torch.mean((references - masked_mean(maps, masks)) ** 2)
    m = masks.to(maps.dtype)
    terms = []
    smoothed = maps - base if weights.smooth == "correction" and base is not None else maps
    for dim in (1, 2):
        diff = torch.diff(smoothed, dim=dim)
        first, second = m.narrow(dim, 0, m.shape[dim] - 1), m.narrow(dim, 1, m.shape[dim] - 1)
        pair = {"inside": first * second, "anchored": first, "all": torch.ones_like(diff)}[weights.pairs]
        terms.append(((_penalty(diff, weights) * pair).sum(), pair.sum()))
    smooth = 2 * sum(t[0] for t in terms) / sum(t[1] for t in terms).clamp_min(1.0)
    excursion = torch.relu(weights.low - maps) + torch.relu(maps - weights.high)
    outside = (excursion**2 * m).sum() / m.sum().clamp_min(1.0)
    loss = mean_error + weights.smoothness * smooth + weights.range_penalty * outside
    return {"loss": loss, "mean": mean_error.detach(), "smoothness": smooth.detach(), "range": outside.detach()}
