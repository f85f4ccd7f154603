"""A U-Net that turns a hyperspectral image into a map of one quantity (e.g. fat %), after
"Transforming Hyperspectral Images Into Chemical Maps" (Engstrøm et al., arXiv 2504.14131):
a shared spectral 3-D convolution with a 2 x 2 spatial stride compresses every pixel pair,
a U-Net with bilinear upsampling works on the half-resolution image, and a bilinear step
brings the map back to the input's size.

Two border modes. ``"valid"`` (the paper) uses unpadded 3 x 3 convolutions: the network
sees a wide context and loses it at the image border, so the input is mirror-padded by
exactly the width the network loses (the original U-Net's overlap-tile strategy) and the
map covers the whole image. ``"same"`` pads every convolution, so the only padding is to a
multiple of the pooling factor.
"""

from __future__ import annotations

import math

from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.deep._torch import nn, torch

__all__ = ["OUTPUTS", "SpectralUNet", "valid_output_size"]

OUTPUTS = ("linear", "sigmoid", "softmax")
PADDINGS = ("valid", "same")
F = torch.nn.functional


def valid_output_size(size: int, depth: int) -> int | None:
    """Output side of an unpadded U-Net of ``depth`` poolings on an input of side ``size``
    (two 3 x 3 convolutions per level), or None when some level would vanish or a
    pooling would meet an odd side (which would shift the map against the input)."""
    skips = []
    for _ in range(depth):
        size -= 4
        if size <= 0 or size % 2:
            return None
        skips.append(size)
        size //= 2
    size -= 4
    if size <= 0:
        return None
    for skip in reversed(skips):
        size = 2 * size - 4
        if size <= 0 or size + 4 > skip:
            return None
    return size


def _valid_input_size(target: int, depth: int) -> tuple[int, int]:
    """The smallest input side whose valid output covers ``target``, and that output side."""
    size = target
    while True:
        out = valid_output_size(size, depth)
        if out is not None and out >= target:
            return size, out
        size += 1


def _pad(x, top: int, bottom: int, left: int, right: int):
    """Mirror padding where the image is large enough, edge replication beyond."""
    h, w = x.shape[-2:]
    mode = "reflect" if max(top, bottom) < h and max(left, right) < w else "replicate"
    return F.pad(x, (left, right, top, bottom), mode=mode)


class _DoubleConv(nn.Sequential):
    def __init__(self, n_in: int, n_out: int, padding: int) -> None:
        super().__init__(
            nn.Conv2d(n_in, n_out, 3, padding=padding),
            nn.ReLU(inplace=True),
            nn.Conv2d(n_out, n_out, 3, padding=padding),
            nn.ReLU(inplace=True),
        )


def _centre_crop(x, height: int, width: int):
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[..., top : top + height, left : left + width]


class SpectralUNet(nn.Module):
    """Hyperspectral image ``(batch, channels, height, width)`` to maps
    ``(batch, n_outputs, height, width)``.

    Parameters
    ----------
    n_channels : int
        Spectral channels of the input.
    widths : sequence of int
        Feature channels of each U-Net level, top to bottom (the paper: 64 ... 1024); the
        number of poolings is ``len(widths) - 1``.
    spectral_kernel : int
        Taps of the shared spectral convolution (the paper: 7).
    spectral_filters : int
        Filters of that convolution (the paper: 1).
    padding : {"valid", "same"}
        Unpadded convolutions with a mirror-padded input (the paper), or padded ones.
    output : {"linear", "sigmoid", "softmax"}
        ``"linear"``: unbounded (the paper). ``"sigmoid"``: ``low + (high - low) * sigmoid``,
        never outside the range. ``"softmax"``: ``n_outputs`` composition fractions summing
        to one, scaled to ``[low, high]``; the first is the mapped quantity.
    n_outputs : int
        Maps produced (1 for linear and sigmoid; at least 2 for softmax).
    low, high : float
        Physical range, in the map's units.
    linear_path : bool
        Add a per-pixel linear function of the full-resolution spectrum (a 1 x 1 convolution,
        starting at zero) to the U-Net's output before the bound: the network then contains a
        pixel-wise linear calibration, which is what PLS is, and the U-Net learns what such a
        calibration misses.
    up_conv : bool
        After each bilinear upsampling (corner-aligned), a 1 x 1 convolution and a ReLU bring
        the channels down to the level's width before the skip is joined, as in the paper's
        code; without it the upsampled features are joined as they are.
    """

    def __init__(
        self,
        n_channels: int,
        widths=(64, 128, 256, 512, 1024),
        *,
        spectral_kernel: int = 7,
        spectral_filters: int = 1,
        padding: str = "valid",
        output: str = "linear",
        n_outputs: int = 1,
        low: float = 0.0,
        high: float = 100.0,
        linear_path: bool = False,
        up_conv: bool = False,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if padding not in PADDINGS:
            raise InvalidParameterError(f"padding must be one of {PADDINGS}; got {padding!r}.")
        if output not in OUTPUTS:
            raise InvalidParameterError(f"output must be one of {OUTPUTS}; got {output!r}.")
        if len(widths) < 2 or min(widths) < 1:
            raise InvalidParameterError(f"widths needs at least two positive levels; got {widths}.")
        if not 1 <= spectral_kernel <= n_channels:
            raise InvalidParameterError(
                f"spectral_kernel must be between 1 and the {n_channels} channels; got {spectral_kernel}."
            )
        if (output == "softmax") != (n_outputs >= 2) or n_outputs < 1:
            raise InvalidParameterError(
                f"output={output!r} needs n_outputs {'>= 2' if output == 'softmax' else '= 1'}; got {n_outputs}."
            )
        if not high > low:
            raise InvalidParameterError(f"high must exceed low; got low={low}, high={high}.")
        self.config = {
            "n_channels": int(n_channels),
            "widths": list(widths),
            "spectral_kernel": int(spectral_kernel),
            "spectral_filters": int(spectral_filters),
            "padding": padding,
            "output": output,
            "n_outputs": int(n_outputs),
            "low": float(low),
            "high": float(high),
            "linear_path": bool(linear_path),
            "up_conv": bool(up_conv),
        }
        self.depth = len(widths) - 1
        pad = 1 if padding == "same" else 0
        self.spectral = nn.Conv3d(1, spectral_filters, (spectral_kernel, 2, 2), stride=(1, 2, 2))
        n_in = spectral_filters * (n_channels - spectral_kernel + 1)
        self.down = nn.ModuleList()
        for width in widths:
            self.down.append(_DoubleConv(n_in, width, pad))
            n_in = width
        self.up_conv = (
            nn.ModuleList(nn.Conv2d(widths[i + 1], widths[i], 1) for i in range(self.depth)) if up_conv else None
        )
        joined = [widths[i] + (widths[i] if up_conv else widths[i + 1]) for i in range(self.depth)]
        self.up = nn.ModuleList(_DoubleConv(joined[i], widths[i], pad) for i in range(self.depth))
        self.head = nn.Conv2d(widths[0], n_outputs, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        self.linear = nn.Conv2d(n_channels, n_outputs, 1) if linear_path else None
        if self.linear is not None:
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)

    def init_output(self, value: float) -> None:
        """Start the map at ``value`` everywhere (the head's bias), so that training begins at
        the mean reference instead of spending its first thousands of steps getting there."""
        low, high = self.config["low"], self.config["high"]
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            if self.config["output"] == "linear":
                self.head.bias.fill_(value)
                return
            p = min(max((value - low) / (high - low), 1e-3), 1 - 1e-3)
            if self.config["output"] == "sigmoid":
                self.head.bias.fill_(math.log(p / (1 - p)))
            else:
                rest = (1 - p) / (self.config["n_outputs"] - 1)
                self.head.bias.copy_(torch.log(torch.tensor([p] + [rest] * (self.config["n_outputs"] - 1))))

    def half_size(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Half-resolution input sides the U-Net receives for an image, and the output sides."""
        target_h, target_w = math.ceil(height / 2), math.ceil(width / 2)
        if self.config["padding"] == "same":
            step = 2**self.depth
            in_h, in_w = step * math.ceil(target_h / step), step * math.ceil(target_w / step)
            return in_h, in_w, in_h, in_w
        (in_h, out_h), (in_w, out_w) = (_valid_input_size(t, self.depth) for t in (target_h, target_w))
        return in_h, in_w, out_h, out_w

    def forward(self, x, *, with_base: bool = False):
        """The maps ``(batch, n_outputs, height, width)``; with ``with_base``, also the maps
        the linear path alone gives (the head's constant in place of the U-Net's output):
        ``maps - base`` is what the U-Net adds, which a loss can keep smooth on its own."""
        if x.ndim != 4 or x.shape[1] != self.config["n_channels"]:
            raise ShapeError(
                f"SpectralUNet expects (batch, {self.config['n_channels']}, height, width); got {tuple(x.shape)}."
            )
        height, width = x.shape[-2:]
        linear = self.linear(x) if self.linear is not None else 0.0
        in_h, in_w, _, _ = self.half_size(height, width)
        extra_h, extra_w = 2 * in_h - height, 2 * in_w - width
        x = _pad(x, extra_h // 2, extra_h - extra_h // 2, extra_w // 2, extra_w - extra_w // 2)
        batch = x.shape[0]
        z = self.spectral(x.unsqueeze(1))
        z = z.reshape(batch, -1, z.shape[-2], z.shape[-1])
        skips = []
        for level, block in enumerate(self.down):
            if level:
                z = F.max_pool2d(z, 2)
            z = block(z)
            skips.append(z)
        for level in reversed(range(self.depth)):
            z = F.interpolate(z, scale_factor=2, mode="bilinear", align_corners=self.up_conv is not None)
            if self.up_conv is not None:
                z = F.relu(self.up_conv[level](z))
            skip = _centre_crop(skips[level], z.shape[-2], z.shape[-1])
            z = self.up[level](torch.cat([skip, z], dim=1))
        z = self.head(z)
        z = F.interpolate(z, scale_factor=2, mode="bilinear", align_corners=False)
        z = _centre_crop(z, height, width)
        maps = self._bound(z + linear)
        if not with_base:
            return maps
        return maps, self._bound(linear + self.head.bias.view(1, -1, 1, 1)).expand_as(maps)

    def _bound(self, z):
        low, high = self.config["low"], self.config["high"]
        if self.config["output"] == "sigmoid":
            return low + (high - low) * torch.sigmoid(z)
        if self.config["output"] == "softmax":
            return low + (high - low) * torch.softmax(z, dim=1)
        return z
