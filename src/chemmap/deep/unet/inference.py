"""Applying a trained U-Net ensemble to an image of any size: overlapping tiles, each read
with a halo of context (from NumPy or Dask alike), mapped by every ensemble member, averaged,
and the tile's centre kept."""

from __future__ import annotations

import numpy as np

from chemmap._shared.compute import compute
from chemmap._shared.model_axis import check_model_axis
from chemmap._shared.progress import ProgressCallback, notify
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ShapeError
from chemmap.deep._torch import pick_device, torch
from chemmap.deep.unet.training import TrainedUNet

__all__ = ["predict_unet_map", "tiles"]


def tiles(size: int, tile: int, halo: int) -> list[tuple[slice, slice, slice]]:
    """Along one side: the window read (tile plus halo, inside the image), the tile itself,
    and where the tile lies in the window. Starts are even, so the network's 2 x 2 spectral
    stride pairs the same pixels in every window."""
    tile, halo = tile + tile % 2, halo + halo % 2
    out = []
    for start in range(0, size, tile):
        stop = min(start + tile, size)
        lo, hi = max(0, start - halo), min(size, stop + halo)
        out.append((slice(lo, hi), slice(start, stop), slice(start - lo, stop - lo)))
    return out


@torch.no_grad()
def predict_unet_map(
    trained: TrainedUNet,
    cube: Cube,
    mask: np.ndarray | None = None,
    *,
    device: str = "cpu",
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """The ensemble's mean map of ``cube``, float32 ``(height, width)``, NaN outside ``mask``
    (default: the cube's valid pixels).

    Raises
    ------
    ShapeError
        When the cube's channels differ from the model's.
    AxisError
        When its unit or channel positions differ.
    """
    n_channels = trained.standardizer.mean.size
    if cube.n_channels != n_channels:
        raise ShapeError(
            f"The model was trained on {n_channels} channels; this cube has {cube.n_channels}. "
            "Resample the cube onto the model's axis (chemmap.preprocessing.resample) or train on it."
        )
    check_model_axis(trained.axis_values, trained.axis_unit, cube.axis)
    height, width = cube.image_shape
    mask = cube.valid_pixels().reshape(height, width) if mask is None else np.asarray(mask, bool)
    if mask.shape != (height, width):
        raise ShapeError(f"The mask has shape {mask.shape}; the image is {(height, width)}.")
    settings = trained.settings
    where = pick_device(device)
    models = [m.to(where).eval() for m in trained.models]
    rows, cols = tiles(height, settings.tile, settings.halo), tiles(width, settings.tile, settings.halo)
    out = np.full((height, width), np.nan, np.float32)
    done = 0
    for window_r, tile_r, inner_r in rows:
        for window_c, tile_c, inner_c in cols:
            (block,) = compute(cube.data[window_r, window_c], stage="reading tiles")
            x = trained.standardizer.transform(np.asarray(block, np.float32))
            x = np.moveaxis(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), -1, 0)
            x = torch.as_tensor(x, device=where)[None]
            total = sum(model(x)[0, 0] for model in models) / len(models)
            out[tile_r, tile_c] = total[inner_r, inner_c].float().cpu().numpy()
            done += 1
            notify(progress, "mapping tiles", done, len(rows) * len(cols))
    if where.type != "cpu":
        for model in models:
            model.to("cpu")
    return np.where(mask, out, np.float32(np.nan))
