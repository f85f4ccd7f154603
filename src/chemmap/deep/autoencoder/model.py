"""A symmetric 1-D convolutional autoencoder for spectra that restores the input length
exactly, for any number of channels."""

from __future__ import annotations

from chemmap.core.exceptions import InvalidParameterError
from chemmap.deep._torch import nn, torch

__all__ = ["SpectralAutoencoder", "conv_lengths"]


def conv_lengths(n_channels: int, n_blocks: int, *, kernel: int, stride: int = 2) -> list[int]:
    """Lengths seen by each encoder block: ``[n_channels, after block 1, ...]``."""
    padding = kernel // 2
    lengths = [int(n_channels)]
    for _ in range(n_blocks):
        lengths.append((lengths[-1] + 2 * padding - kernel) // stride + 1)
    return lengths


class SpectralAutoencoder(nn.Module):
    """Conv1d (stride 2) + BatchNorm + activation blocks, a linear bottleneck of
    ``latent_dim``, and the mirror image back to the input length.

    The encoder's lengths are computed from ``n_channels``; each transposed convolution gets
    the ``output_padding`` that lands on the length its encoder block received, so the
    output has exactly ``n_channels`` channels without resampling.

    Parameters
    ----------
    n_channels : int
        Spectrum length.
    latent_dim : int
        Size of the latent vector.
    widths : sequence of int
        Feature maps of the encoder blocks (the decoder mirrors them).
    kernel : int
        Odd convolution kernel length, channels.
    activation : {"gelu", "relu", "leaky_relu"}
    output : {"linear", "tanh"}
        Linear output (default) is not tied to one normalisation.
    """

    def __init__(
        self,
        n_channels: int,
        latent_dim: int = 8,
        widths=(16, 32, 64),
        *,
        kernel: int = 7,
        activation: str = "gelu",
        output: str = "linear",
    ):
        super().__init__()
        if kernel % 2 != 1:
            raise InvalidParameterError(f"kernel must be odd; got {kernel}.")
        widths = tuple(int(w) for w in widths)
        lengths = conv_lengths(n_channels, len(widths), kernel=kernel)
        if output not in ("linear", "tanh"):
            raise InvalidParameterError(f"output must be 'linear' or 'tanh'; got {output!r}.")
        act = {"gelu": nn.GELU, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}.get(activation)
        if act is None:
            raise InvalidParameterError(f"activation must be gelu, relu or leaky_relu; got {activation!r}.")
        self.config = {
            "n_channels": int(n_channels),
            "latent_dim": int(latent_dim),
            "widths": list(widths),
            "kernel": kernel,
            "activation": activation,
            "output": output,
        }
        self.lengths = lengths
        padding = kernel // 2
        blocks, previous = [], 1
        for width in widths:
            blocks += [nn.Conv1d(previous, width, kernel, stride=2, padding=padding), nn.BatchNorm1d(width), act()]
            previous = width
        self.encoder = nn.Sequential(*blocks)
        flat = widths[-1] * lengths[-1]
        self.to_latent = nn.Linear(flat, latent_dim)
        self.from_latent = nn.Linear(latent_dim, flat)
        layers = []
        reversed_widths = list(reversed(widths))
        for i, width in enumerate(reversed_widths):
            target = lengths[len(widths) - 1 - i]
            produced = (lengths[len(widths) - i] - 1) * 2 - 2 * padding + kernel
            last = i == len(widths) - 1
            out = 1 if last else reversed_widths[i + 1]
            layers.append(
                nn.ConvTranspose1d(width, out, kernel, stride=2, padding=padding, output_padding=target - produced)
            )
            if not last:
                layers += [nn.BatchNorm1d(out), act()]
        self.decoder = nn.Sequential(*layers)
        self.final = nn.Tanh() if output == "tanh" else nn.Identity()

    def encode(self, spectra):
        """Latent vectors of ``(batch, n_channels)`` spectra."""
        features = self.encoder(spectra.unsqueeze(1))
        return self.to_latent(features.flatten(1))

    def decode(self, latent):
        """Spectra ``(batch, n_channels)`` from latent vectors."""
        widths = self.config["widths"]
        features = self.from_latent(latent).view(-1, widths[-1], self.lengths[-1])
        return self.final(self.decoder(features)).squeeze(1)

    def forward(self, spectra):
        latent = self.encode(spectra)
        return self.decode(latent), latent

    @torch.no_grad()
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
