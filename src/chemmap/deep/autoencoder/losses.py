"""The autoencoder's reconstruction loss: MSE, spectral angle and a first-difference term."""

from __future__ import annotations

from chemmap.deep._torch import torch
from chemmap.deep.autoencoder.settings import LossWeights

__all__ = ["LossWeights", "reconstruction_loss", "spectral_angle"]


def spectral_angle(a, b, eps: float = 1e-8):
    """Angle (radians) between the rows of ``a`` and ``b``."""
    cosine = (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + eps)
    return torch.arccos(cosine.clamp(-1 + 1e-7, 1 - 1e-7))


def reconstruction_loss(recon, target, *, mean, scale, weights: LossWeights | None = None) -> dict:
    """The weighted loss and its terms for standardised ``recon`` and ``target``.

    ``mean`` and ``scale`` (per band) undo the standardisation for the spectral angle, which
    is only meaningful on the spectra themselves (a centred spectrum's angle is not).

    Returns
    -------
    dict
        ``loss`` (to minimise) and the terms ``mse``, ``sam``, ``gradient`` (detached).
    """
    mse = torch.mean((recon - target) ** 2)
    sam = spectral_angle(recon * scale + mean, target * scale + mean).mean()
    gradient = torch.mean((torch.diff(recon, dim=1) - torch.diff(target, dim=1)) ** 2)
    weights = weights or LossWeights()
    loss = weights.mse * mse + weights.sam * sam + weights.gradient * gradient
    return {"loss": loss, "mse": mse.detach(), "sam": sam.detach(), "gradient": gradient.detach()}
