"""Losses for maps learned from one reference value per sample: the squared error of the
map's masked mean, a smoothness term over neighbouring pixels and a penalty on values
outside the physical range."""

from __future__ import annotations

from dataclasses import dataclass

from chemmap.core.exceptions import InvalidParameterError
from chemmap.deep._torch import torch

__all__ = ["MapLossWeights", "map_loss", "masked_mean"]

SMOOTHNESS = ("squared", "huber", "tv")
PAIRS = ("inside", "anchored", "all")


@dataclass(frozen=True)
class MapLossWeights:
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
    """

    smoothness: float = 20.0
    range_penalty: float = 1e-3
    low: float = 0.0
    high: float = 100.0
    kind: str = "squared"
    delta: float = 1.0
    pairs: str = "inside"

    def __post_init__(self) -> None:
        if self.kind not in SMOOTHNESS:
            raise InvalidParameterError(f"kind must be one of {SMOOTHNESS}; got {self.kind!r}.")
        if self.pairs not in PAIRS:
            raise InvalidParameterError(f"pairs must be one of {PAIRS}; got {self.pairs!r}.")


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


def map_loss(maps, masks, references, weights: MapLossWeights = MapLossWeights()) -> dict:
    """Loss of predicted maps against per-sample references.

    ``mean_b (reference_b - masked_mean(map_b))^2 + smoothness * sum(penalty(neighbour
    differences)) / (pairs counted / 2) + range_penalty * mean over mask pixels of
    (excursion outside [low, high])^2``.

    Parameters
    ----------
    maps : tensor of shape (batch, height, width)
    masks : bool tensor of the same shape
    references : tensor of shape (batch,)

    Returns
    -------
    dict
        ``loss`` and its terms ``mean`` (squared error of the means), ``smoothness`` and
        ``range`` (the last three detached).
    """
    mean_error = torch.mean((references - masked_mean(maps, masks)) ** 2)
    m = masks.to(maps.dtype)
    terms = []
    for dim in (1, 2):
        diff = torch.diff(maps, dim=dim)
        first, second = m.narrow(dim, 0, m.shape[dim] - 1), m.narrow(dim, 1, m.shape[dim] - 1)
        pair = {"inside": first * second, "anchored": first, "all": torch.ones_like(diff)}[weights.pairs]
        terms.append(((_penalty(diff, weights) * pair).sum(), pair.sum()))
    smooth = 2 * sum(t[0] for t in terms) / sum(t[1] for t in terms).clamp_min(1.0)
    excursion = torch.relu(weights.low - maps) + torch.relu(maps - weights.high)
    outside = (excursion**2 * m).sum() / m.sum().clamp_min(1.0)
    loss = mean_error + weights.smoothness * smooth + weights.range_penalty * outside
    return {"loss": loss, "mean": mean_error.detach(), "smoothness": smooth.detach(), "range": outside.detach()}
