"""The loss of maps learned from per-sample references, against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the map losses need the 'deep' extra (PyTorch)")

import torch

from chemmap.core.exceptions import InvalidParameterError
from chemmap.deep.unet.losses import MapLossWeights, map_loss, masked_mean


def hand_loss(maps, masks, refs, smoothness, range_penalty, pairs):
    means = np.array([m[k].mean() for m, k in zip(maps, masks, strict=True)])
    mean_term = np.mean((refs - means) ** 2)
    total = count = 0.0
    for m, k in zip(maps, masks, strict=True):
        for a, b, ka, kb in ((m[1:], m[:-1], k[1:], k[:-1]), (m[:, 1:], m[:, :-1], k[:, 1:], k[:, :-1])):
            pair = {"inside": ka & kb, "anchored": kb, "all": np.ones_like(ka)}[pairs]
            total += np.sum((a - b) ** 2 * pair)
            count += pair.sum()
    excursion = np.concatenate(
        [np.clip(-m[k], 0, None) + np.clip(m[k] - 100, 0, None) for m, k in zip(maps, masks, strict=True)]
    )
    return mean_term + smoothness * total / (count / 2) + range_penalty * np.mean(excursion**2)


@pytest.mark.parametrize("pairs", ["inside", "anchored", "all"])
def test_the_masked_mean_loss_equals_a_hand_computation(pairs):
    rng = np.random.default_rng(0)
    maps = rng.uniform(-20, 130, size=(3, 6, 7))
    masks = rng.random((3, 6, 7)) > 0.3
    refs = np.array([30.0, 55.0, 80.0])
    weights = MapLossWeights(smoothness=20.0, range_penalty=1e-3, pairs=pairs)
    terms = map_loss(torch.as_tensor(maps), torch.as_tensor(masks), torch.as_tensor(refs), weights)
    assert float(terms["loss"]) == pytest.approx(hand_loss(maps, masks, refs, 20.0, 1e-3, pairs), rel=1e-10)
    np.testing.assert_allclose(
        masked_mean(torch.as_tensor(maps), torch.as_tensor(masks)).numpy(),
        [m[k].mean() for m, k in zip(maps, masks, strict=True)],
    )


def test_edges_cost_less_with_huber_and_tv_and_background_is_ignored_inside_the_mask():
    step = torch.zeros(1, 4, 6, dtype=torch.float64)
    step[..., 3:] = 50.0  # a sharp fat / lean edge
    mask = torch.ones(1, 4, 6, dtype=torch.bool)
    ref = torch.tensor([25.0], dtype=torch.float64)
    squared = map_loss(step, mask, ref, MapLossWeights(kind="squared"))["smoothness"]
    huber = map_loss(step, mask, ref, MapLossWeights(kind="huber", delta=1.0))["smoothness"]
    tv = map_loss(step, mask, ref, MapLossWeights(kind="tv"))["smoothness"]
    assert float(huber) < float(tv) < float(squared)
    background = torch.ones(1, 4, 6, dtype=torch.bool)
    background[..., 3:] = False  # the jump sits at the mask's edge
    assert float(map_loss(step, background, ref)["smoothness"]) == 0.0
    with pytest.raises(InvalidParameterError, match="'kind' parameter of \\[loss\\] must be one of"):
        MapLossWeights(kind="l1")


def test_smoothness_on_the_correction_leaves_the_linear_paths_edges_free():
    edge = np.zeros((1, 6, 8))
    edge[:, :, 4:] = 60.0  # a sharp layer boundary the linear path draws
    masks, refs = torch.ones(1, 6, 8, dtype=torch.bool), torch.tensor([30.0])
    maps, base = torch.as_tensor(edge), torch.as_tensor(edge)
    whole = map_loss(maps, masks, refs, MapLossWeights(smoothness=1.0, smooth="map"), base=base)
    correction = map_loss(maps, masks, refs, MapLossWeights(smoothness=1.0, smooth="correction"), base=base)
    assert float(whole["smoothness"]) > 100 and float(correction["smoothness"]) == 0.0
    bumpy = maps + torch.as_tensor(np.indices((6, 8)).sum(axis=0) % 2 * 5.0)[None]  # what the U-Net adds
    assert float(map_loss(bumpy, masks, refs, MapLossWeights(smooth="correction"), base=base)["smoothness"]) > 10
