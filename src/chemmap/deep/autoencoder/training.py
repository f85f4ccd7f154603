"""Training the spectral autoencoder: per-band standardisation fitted on the training pixels,
a train/validation split by spatial blocks, AdamW with a cosine learning-rate schedule,
early stopping on the validation loss with the best weights kept, and batches streamed from
bands of image rows (NumPy or Dask alike)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from chemmap._shared.compute import compute
from chemmap._shared.progress import ProgressCallback, notify, with_time_estimate
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.deep._torch import pick_device, seed_everything, share_cores, torch
from chemmap.deep.autoencoder.losses import reconstruction_loss
from chemmap.deep.autoencoder.model import SpectralAutoencoder
from chemmap.deep.autoencoder.settings import TrainSettings

__all__ = ["Standardizer", "TrainingResult", "block_split", "row_bands", "train_autoencoder"]

#: Fewest optimiser steps per epoch: on a small image the batch shrinks (to no fewer than
#: :data:`MIN_BATCH` spectra) so that an epoch still moves the weights.
MIN_STEPS_PER_EPOCH = 16
MIN_BATCH = 32
#: Rows of the image read at once when streaming pixels (bounded further by the block budget).
BAND_BYTES = 32 * 2**20


@dataclass
class Standardizer:
    """Per-band mean and standard deviation of the training pixels (float32)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, bands: Iterator[np.ndarray]) -> Standardizer:
        """From ``(n, n_channels)`` pixel batches, accumulated in float64."""
        count, total, squares = 0, 0.0, 0.0
        for x in bands:
            x = x.astype(np.float64)
            count += x.shape[0]
            total = total + x.sum(axis=0)
            squares = squares + (x * x).sum(axis=0)
        if count < 2:
            raise ShapeError("Fewer than two training pixels: nothing to standardise on.")
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
        scale = np.where(std > 1e-12 * max(float(np.abs(mean).max()), 1.0), std, 1.0)
        return cls(mean.astype(np.float32), scale.astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return (z * self.scale + self.mean).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}


def random_split(valid: np.ndarray, *, validation: float = 0.2, random_state: int = 0):
    """Training and validation masks of single pixels drawn at random (seeded)."""
    if not 0 < validation < 1:
        raise InvalidParameterError(f"validation must be a fraction in (0, 1); got {validation}.")
    index = np.flatnonzero(valid.reshape(-1))
    if index.size < 2:
        raise InvalidParameterError(f"A random split needs at least 2 valid pixels; this image has {index.size}.")
    chosen = np.random.default_rng(random_state).choice(
        index, min(max(1, round(validation * index.size)), index.size - 1), replace=False
    )
    val = np.zeros(valid.size, bool)
    val[chosen] = True
    val = val.reshape(valid.shape)
    return valid & ~val, val


def block_split(
    image_shape: tuple[int, int],
    *,
    block_size: int = 16,
    validation: float = 0.2,
    gap: int = 1,
    valid: np.ndarray | None = None,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation masks from square spatial blocks.

    Whole ``block_size`` x ``block_size`` blocks go to validation (seeded), so validation
    pixels are not the neighbours of training pixels (random pixel splits leak them);
    training pixels within ``gap`` pixels of a validation block are dropped.

    Returns
    -------
    train, val : ndarray of bool, shape (height, width)
    """
    if not 0 < validation < 1:
        raise InvalidParameterError(f"validation must be a fraction in (0, 1); got {validation}.")
    h, w = image_shape
    rows, cols = np.mgrid[0:h, 0:w]
    n_cols = -(-w // block_size)
    block = (rows // block_size) * n_cols + cols // block_size
    ids = np.unique(block)
    rng = np.random.default_rng(random_state)
    n_val = min(max(1, round(validation * ids.size)), ids.size - 1)
    if ids.size < 2:
        raise InvalidParameterError(
            f"A {h} x {w} image holds one validation block of {block_size} x {block_size} pixels, which leaves "
            f"none to train on. To fix this, give a smaller block size (--block-size {max(1, max(h, w) // 4)}, "
            "block_size in a config's [autoencoder]) or --split random."
        )
    val = np.isin(block, rng.choice(ids, n_val, replace=False))
    near = val.copy()
    if gap > 0:
        from scipy.ndimage import binary_dilation

        near = binary_dilation(val, iterations=gap)
    train = ~near
    if valid is not None:
        train &= valid
        val &= valid
    return train, val


def row_bands(cube: Cube, *, band_bytes: int | None = None) -> list[slice]:
    """Bands of image rows of about ``band_bytes`` each (whole rows, at least one); by
    default :data:`BAND_BYTES`, or less when the memory limit's block budget is smaller."""
    from chemmap._shared.blockwise import row_blocks
    from chemmap._shared.compute import block_budget

    band_bytes = min(BAND_BYTES, block_budget()) if band_bytes is None else band_bytes
    h, w = cube.image_shape
    return row_blocks(h, w * cube.n_channels * np.dtype(cube.dtype).itemsize, band_bytes)


def _band_pixels(cube: Cube, rows: slice, mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` in a band of rows, read from NumPy or Dask, float32."""
    keep = mask[rows].reshape(-1)
    if not keep.any():
        return np.zeros((0, cube.n_channels), np.float32)
    (block,) = compute(cube.data[rows], stage="reading pixels")
    return np.asarray(block, dtype=np.float32).reshape(-1, cube.n_channels)[keep]


def _batches(cube, mask, bands, standardizer, batch_size: int, rng) -> Iterator[np.ndarray]:
    """Shuffled standardised batches, streaming bands of rows in a random order."""
    order = rng.permutation(len(bands)) if rng is not None else range(len(bands))
    for b in order:
        x = standardizer.transform(_band_pixels(cube, bands[b], mask))
        if rng is not None:
            x = x[rng.permutation(x.shape[0])]
        for start in range(0, x.shape[0], batch_size):
            part = x[start : start + batch_size]
            if part.shape[0] > 1 or rng is None:  # BatchNorm needs two samples in training
                yield part


@dataclass
class TrainingResult:
    """A trained autoencoder and how training went.

    Attributes
    ----------
    model : SpectralAutoencoder
        With the best validation weights, in eval mode, on the CPU.
    standardizer : Standardizer
    axis_values : ndarray
    axis_unit : str
    history : list of dict
        Per epoch: ``epoch`` (counted from 1), ``train_loss``, ``val_loss``, the validation
        terms, ``lr``.
    best_epoch : int
        The epoch (from 1) whose weights were kept.
    settings : dict
    """

    model: object
    standardizer: Standardizer
    axis_values: np.ndarray
    axis_unit: str
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    settings: dict = field(default_factory=dict)


def train_autoencoder(cube: Cube, *, progress: ProgressCallback | None = None, **settings) -> TrainingResult:
    """Train a :class:`SpectralAutoencoder` on the valid pixels of ``cube``.

    Parameters
    ----------
    cube : Cube
        NumPy or lazy; pixels are read in bands of rows, so a cube larger than memory trains.
    **settings
        The fields of :class:`chemmap.deep.autoencoder.settings.TrainSettings` (defaults there); the
        batch shrinks on small images, see :data:`MIN_STEPS_PER_EPOCH`.

    Returns
    -------
    TrainingResult
    """
    opts = TrainSettings(**settings)
    seed_everything(opts.random_state)
    rng = np.random.default_rng(opts.random_state)
    device = pick_device(opts.device)
    share_cores(device)
    valid = cube.valid_pixels().reshape(cube.image_shape)
    n_valid = int(valid.sum())
    if n_valid < 2:
        raise ShapeError(
            f"The autoencoder learns from many spectra; this input holds {n_valid} valid spectrum"
            f"{'' if n_valid == 1 else 's'}. To smooth a single spectrum, use chemmap preprocess --savgol WIDTH; to "
            "find and identify its peaks, chemmap peaks."
        )
    if opts.split == "blocks":
        train_mask, val_mask = block_split(
            cube.image_shape,
            block_size=opts.block_size,
            validation=opts.validation,
            valid=valid,
            random_state=opts.random_state,
        )
    else:
        train_mask, val_mask = random_split(valid, validation=opts.validation, random_state=opts.random_state)
    bands = row_bands(cube)
    standardizer = Standardizer.fit(_band_pixels(cube, b, train_mask) for b in bands)
    n_train = int(train_mask.sum())
    batch_size = min(opts.batch_size, max(MIN_BATCH, n_train // MIN_STEPS_PER_EPOCH))
    model = SpectralAutoencoder(cube.n_channels, opts.latent_dim, opts.widths, output=opts.output).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=opts.learning_rate, weight_decay=opts.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=opts.epochs, eta_min=opts.learning_rate / 100
    )
    mean = torch.as_tensor(standardizer.mean, device=device)
    scale = torch.as_tensor(standardizer.scale, device=device)
    amp = device.type == "cuda"
    history, best, best_state, waited = [], np.inf, None, 0
    progress = with_time_estimate(progress, "autoencoder training", opts.epochs)
    for epoch in range(opts.epochs):
        model.train()
        total, count = 0.0, 0
        for batch in _batches(cube, train_mask, bands, standardizer, batch_size, rng):
            x = torch.as_tensor(batch, device=device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                recon, _ = model(x)
            terms = reconstruction_loss(recon.float(), x, mean=mean, scale=scale, weights=opts.loss)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            total += float(terms["loss"].detach()) * x.shape[0]
            count += x.shape[0]
        lr = optimizer.param_groups[0]["lr"]
        schedule.step()
        val = _evaluate(model, cube, val_mask, bands, standardizer, opts, mean, scale, device)
        history.append({"epoch": epoch + 1, "train_loss": total / max(count, 1), "lr": lr, **val})
        notify(progress, "training", epoch + 1, opts.epochs)
        if val["val_loss"] < best - 1e-6:
            best, best_state, waited = val["val_loss"], copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= opts.patience:
                break
    if len(history) < opts.epochs:  # stopped early: the bar still ends full
        notify(progress, "training", opts.epochs, opts.epochs)
    model.load_state_dict(best_state)
    model = model.to("cpu").eval()
    best_epoch = int(np.argmin([h["val_loss"] for h in history])) + 1  # epochs count from 1
    record = {
        **opts.to_dict(),
        "widths": list(opts.widths),
        "device_used": device.type,
        "batch_size_used": batch_size,
        "training_pixels": n_train,
        "validation_pixels": int(val_mask.sum()),
    }
    return TrainingResult(
        model, standardizer, np.asarray(cube.axis.values), cube.axis.unit, history, best_epoch, record
    )


@torch.no_grad()
def _evaluate(model, cube, mask, bands, standardizer, opts, mean, scale, device) -> dict:
    """Loss and terms over every validation pixel (eval mode, in batches)."""
    model.eval()
    sums = {"val_loss": 0.0, "val_mse": 0.0, "val_sam": 0.0, "val_gradient": 0.0}
    count = 0
    for batch in _batches(cube, mask, bands, standardizer, max(opts.batch_size, 1024), None):
        x = torch.as_tensor(batch, device=device)
        recon, _ = model(x)
        terms = reconstruction_loss(recon.float(), x, mean=mean, scale=scale, weights=opts.loss)
        for key in ("loss", "mse", "sam", "gradient"):
            sums[f"val_{key}"] += float(terms[key]) * x.shape[0]
        count += x.shape[0]
    if count == 0:
        raise ShapeError("The validation blocks hold no valid pixel; use a larger validation fraction.")
    return {k: v / count for k, v in sums.items()}
