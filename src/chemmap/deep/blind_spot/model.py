"""The blind-spot network: it predicts each pixel's MNF coordinates without seeing that
coordinate's noise at that pixel."""

from __future__ import annotations

from chemmap.deep._torch import nn, torch

__all__ = ["BlindSpotNet"]


class BlindSpotNet(nn.Module):
    """Predicts ``(batch, n_coords, height, width)`` MNF coordinates (noise-whitened, each
    coordinate's noise independent of the others').

    The first ``rank`` coordinates of a pixel are predicted from its neighbours only: a
    learned ``kernel`` x ``kernel`` filter per coordinate whose centre weight is held at 0
    (weights of either sign, so it can fit slopes and curvature, not only average). The
    remaining coordinates are predicted from the pixel's own first ``rank`` by a small
    network: where the spectra lie on a curved surface, those coordinates are functions of
    the first ones, and their noise is independent of the input's. Neither prediction sees
    the noise it is compared with, so the training loss against the noisy coordinates
    measures the prediction's error plus the noise variance.

    Parameters
    ----------
    rank : int
        Coordinates predicted from the neighbours (MNF's chosen rank).
    n_coords : int
        All coordinates predicted (``>= rank``).
    input_scale : float
        Divides the first coordinates before the network (about their spread).
    kernel : int
        Odd side of the neighbourhood, pixels.
    hidden : int
        Width of the network's hidden layer.
    """

    def __init__(self, rank: int, n_coords: int, input_scale: float = 1.0, *, kernel: int = 7, hidden: int = 32):
        super().__init__()
        self.config = {"rank": int(rank), "n_coords": int(n_coords), "kernel": int(kernel), "hidden": int(hidden)}
        self.weight = nn.Parameter(torch.full((rank, 1, kernel, kernel), 1.0 / (kernel * kernel - 1)))
        mask = torch.ones(1, 1, kernel, kernel)
        mask[..., kernel // 2, kernel // 2] = 0.0
        self.register_buffer("mask", mask)
        self.register_buffer("input_scale", torch.tensor(float(input_scale)))
        self.curved = None
        if n_coords > rank:
            self.curved = nn.Sequential(nn.Conv2d(rank, hidden, 1), nn.GELU(), nn.Conv2d(hidden, n_coords - rank, 1))
            with torch.no_grad():
                self.curved[-1].weight.mul_(0.01)
                self.curved[-1].bias.zero_()

    def forward(self, coords):
        rank = self.config["rank"]
        top = coords[:, :rank]
        kernel = self.config["kernel"]
        predicted = nn.functional.conv2d(top, self.weight * self.mask, padding=kernel // 2, groups=rank)
        if self.curved is None:
            return predicted
        return torch.cat([predicted, self.curved(top / self.input_scale)], dim=1)
