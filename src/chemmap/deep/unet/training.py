"""Training U-Nets that map a hyperspectral image to a quantity from one reference value per
sample: the loss sees only the masked mean of each predicted map (plus smoothness and range
terms), early stopping and reduce-on-plateau watch the validation samples' RMSE of the mean,
and an ensemble holds one model per fold of the training samples.

Two presets. :data:`PAPER` is the setup of Engstrøm et al. (arXiv 2504.14131) as named
parameters. :data:`IMPROVED` bounds the output, pads convolutions, counts smoothness only
inside the mask with an edge-preserving Huber penalty, uses AdamW, standardises every band
and augments with flips and rotations.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from chemmap._shared.params import Param, Settings, check_counts
from chemmap._shared.progress import ProgressCallback, notify, with_time_estimate
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.deep._torch import pick_device, seed_everything, share_cores, torch
from chemmap.deep.autoencoder.training import Standardizer
from chemmap.deep.unet.losses import MapLossWeights, map_loss, masked_mean
from chemmap.deep.unet.model import OUTPUTS, PADDINGS, SpectralUNet

__all__ = ["IMPROVED", "PAPER", "TrainedUNet", "UNetSettings", "train_unet", "unet_settings"]

AUGMENTATIONS = ("none", "flips", "flips+rotations")
SCHEDULES = ("plateau", "cosine")
OPTIMIZERS = ("adam", "adamw")


class UNetSettings(Settings):
    """Everything that defines a U-Net mapper and its training, declared once in
    :data:`UNetSettings.PARAMS` (one line each); more on some of them:

    Attributes
    ----------
    mode : str
        A label recorded with the model ("paper", "improved" or your own).
    widths, spectral_kernel, spectral_filters, padding, output, n_outputs, low, high, linear_path, up_conv
        The architecture (see :class:`~chemmap.deep.unet.model.SpectralUNet`).
    loss : MapLossWeights
        Smoothness and range terms beside the squared error of the masked mean.
    l2_penalty : float
        Weight of the summed squared convolution weights added to the loss (the paper: 1e-3).
    optimizer : {"adam", "adamw"}
    learning_rate : float
    weight_decay : float
        AdamW's decoupled decay (ignored by Adam).
    standardize : bool
        Standardise every band with the training pixels' mean and standard deviation.
    augment : {"none", "flips", "flips+rotations"}
        Random flips (and quarter turns) of each training image, with its mask.
    mosaic : float
        Probability that a training image is joined side by side with another training
        sample, the pair carrying the pixel-weighted mean of their references (exact: the
        masked mean is additive over pixels). A network that read a sample's mean from its
        whole image would fail on the pair, so this teaches maps that depend on local
        spectra rather than on the image as a whole.
    schedule : {"plateau", "cosine"}
        ``"plateau"`` (the paper): the learning rate drops to ``lr_factor`` times (never
        below ``min_lr``, restarting from the best weights) after ``plateau_patience``
        epochs without a better validation RMSE. ``"cosine"``: it decays smoothly from
        ``learning_rate`` to ``min_lr`` over ``max_epochs``, so the weights settle whatever
        the noise of a small validation set.
    max_epochs, burn_in, plateau_patience, early_stopping_patience : int
        Epochs at most; epochs before plateaus and early stopping are watched; epochs
        without a better validation RMSE before the learning rate drops and before
        training stops.
    lr_factor, min_lr : float
    n_folds : int
        Ensemble members: each is trained on the other folds of the training samples and
        stopped on its own fold.
    tile, halo : int
        Inference works on tiles of ``tile`` x ``tile`` pixels, each read with ``halo``
        pixels of context on every side, so an image of any size fits in memory.
    device : {"auto", "cpu", "cuda"}
    random_state : int
    """

    SECTION = "unet"
    PARAMS: ClassVar[dict[str, Param]] = {
        "mode": Param("str", "improved", doc="a label recorded with the model (paper, improved or your own)"),
        "widths": Param("any", (16, 32, 64, 128), check=check_counts, doc="channels of the U-Net levels"),
        "spectral_kernel": Param("int", 7, low=1, doc="taps of the spectral convolution"),
        "spectral_filters": Param("int", 1, low=1, doc="filters of the spectral convolution"),
        "padding": Param("choice", "same", choices=PADDINGS, doc="convolution padding"),
        "output": Param("choice", "sigmoid", choices=OUTPUTS, doc="output activation"),
        "n_outputs": Param("int", 1, low=1, doc="maps predicted"),
        "low": Param("float", 0.0, doc="physical minimum of the map"),
        "high": Param("float", 100.0, doc="physical maximum of the map"),
        "linear_path": Param("bool", True, doc="a per-pixel linear calibration beside the U-Net"),
        "up_conv": Param("bool", False, doc="a 1 x 1 convolution after each upsampling"),
        "loss": Param(
            "any",
            MapLossWeights(smoothness=1.0, kind="huber", delta=2.0, pairs="inside", smooth="correction"),
            check=lambda value, name, func: MapLossWeights.parse(value, name=name, func=func),
            doc="smoothness and range terms beside the error of the masked mean",
        ),
        "l2_penalty": Param("float", 0.0, low=0, doc="weight of the summed squared convolution weights"),
        "optimizer": Param("choice", "adamw", choices=OPTIMIZERS, doc="optimiser"),
        "learning_rate": Param("float", 1e-3, low=0, low_inclusive=False, doc="learning rate"),
        "weight_decay": Param("float", 1e-2, low=0, doc="AdamW's decoupled weight decay"),
        "standardize": Param("bool", True, doc="standardise every band with the training pixels"),
        "augment": Param("choice", "flips+rotations", choices=AUGMENTATIONS, doc="training image augmentation"),
        "mosaic": Param("float", 0.5, low=0, high=1, doc="probability of a two-sample mosaic"),
        "schedule": Param("choice", "cosine", choices=SCHEDULES, doc="learning-rate schedule"),
        "max_epochs": Param("int", 60, low=1, doc="epochs at most"),
        "burn_in": Param("int", 10, low=0, doc="epochs before plateaus and early stopping are watched"),
        "plateau_patience": Param("int", 6, low=1, doc="epochs without progress before the rate drops"),
        "early_stopping_patience": Param("int", 15, low=1, doc="epochs without progress before training stops"),
        "lr_factor": Param("float", 0.1, low=0, high=1, low_inclusive=False, doc="rate drop on a plateau"),
        "min_lr": Param("float", 1e-6, low=0, doc="lowest learning rate"),
        "n_folds": Param("int", 5, low=1, doc="ensemble members, one per fold"),
        "tile": Param("int", 256, low=1, doc="inference tile side, pixels"),
        "halo": Param("int", 48, low=0, doc="context read around each tile, pixels"),
        "device": Param("choice", "auto", choices=("auto", "cpu", "cuda"), doc="auto: CUDA when present"),
        "random_state": Param("int", 0, low=0, flag="seed", doc="random seed"),
    }

    def architecture(self, n_channels: int) -> dict:
        return {
            "n_channels": n_channels,
            "widths": list(self.widths),
            "spectral_kernel": self.spectral_kernel,
            "spectral_filters": self.spectral_filters,
            "padding": self.padding,
            "output": self.output,
            "n_outputs": self.n_outputs,
            "low": self.low,
            "high": self.high,
            "linear_path": self.linear_path,
            "up_conv": self.up_conv,
        }

    def to_dict(self) -> dict:
        return {**super().to_dict(), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, values: dict) -> UNetSettings:
        return cls(**values)


#: The setup of the PorkBellyHSI code: a 7-tap spectral convolution with one filter, a U-Net
#: of 64-1024 channels with unpadded convolutions and a 1 x 1 convolution after each
#: upsampling, a linear output, squared smoothness (weight 20) over differences starting
#: inside the mask, range penalty 1e-3, explicit L2 of the weights 1e-3, Adam at 1e-3, flips,
#: 250 epochs with 30 of burn-in, plateau patience 10, early stopping after 30, a five-fold
#: ensemble. The smoothness is counted on the full-resolution map, where a bilinearly doubled
#: map has half the neighbour differences of the half-resolution map the paper's loss sees:
#: weight 20 here is about 5 there (use 80 to match).
PAPER = UNetSettings(
    mode="paper",
    widths=(64, 128, 256, 512, 1024),
    padding="valid",
    output="linear",
    linear_path=False,
    up_conv=True,
    loss=MapLossWeights(smoothness=20.0, range_penalty=1e-3, kind="squared", pairs="anchored"),
    l2_penalty=1e-3,
    optimizer="adam",
    weight_decay=0.0,
    standardize=False,
    augment="flips",
    mosaic=0.0,
    schedule="plateau",
    max_epochs=250,
    burn_in=30,
    plateau_patience=10,
    early_stopping_patience=30,
    min_lr=1e-7,
)
#: chemmap's default: bounded output (scaled sigmoid), padded convolutions, Huber smoothness
#: (weight 1, threshold 2 map units) on pairs inside the mask, counted only on what the
#: U-Net adds to its linear path (smoothing the whole map flattened the linear calibration's
#: per-pixel detail: per-pixel RMSE 3.6-6.1 against 4.7-7.4 on seven sample sets), AdamW
#: with decoupled weight decay, per-band standardisation, flips, rotations and sample
#: mosaics, a cosine schedule, a five-fold ensemble, and a linear path (a per-pixel linear
#: calibration of the spectrum, what PLS is) beside the U-Net. The smoothness weight is 1,
#: not the paper's 20: at 20 the penalty outweighs the error of the mean by orders of
#: magnitude and flattens real boundaries between layers, which the mean never asked for.
IMPROVED = UNetSettings()


def unet_settings(mode: str = "improved", **overrides) -> UNetSettings:
    """The preset ``mode`` ("paper" or "improved") with ``overrides`` applied."""
    presets = {"paper": PAPER, "improved": IMPROVED}
    if mode not in presets:
        raise InvalidParameterError(f"mode must be 'paper' or 'improved'; got {mode!r}.")
    return presets[mode].replace(**overrides)


@dataclass
class TrainedUNet:
    """An ensemble of trained U-Nets and what it needs to map new images.

    Attributes
    ----------
    models : list of SpectralUNet
        In eval mode, on the CPU; the map is the mean of their maps.
    standardizer : Standardizer
    axis_values : ndarray
    axis_unit : str
    settings : UNetSettings
    histories : list of list of dict
        Per member, per epoch: ``train_loss``, ``val_rmse_mean``, ``lr``.
    best_epochs : list of int
    """

    models: list
    standardizer: Standardizer
    axis_values: np.ndarray
    axis_unit: str
    settings: UNetSettings
    histories: list = field(default_factory=list)
    best_epochs: list = field(default_factory=list)


def _read(sample) -> np.ndarray:
    """``(H, W, C)`` float32 image of a sample, read once (NumPy or Dask)."""
    from chemmap._shared.compute import compute

    (data,) = compute(sample.cube.data)
    return np.asarray(data, dtype=np.float32)


def _image(data: np.ndarray, standardizer: Standardizer) -> np.ndarray:
    """``(C, H, W)`` standardised float32 image, non-finite values set to 0."""
    x = standardizer.transform(data)
    return np.moveaxis(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), -1, 0)


def _fit_standardizer(images, masks, settings: UNetSettings, n_channels: int) -> Standardizer:
    """From the mask pixels of the training images (identity when not standardising)."""
    if not settings.standardize:
        return Standardizer(np.zeros(n_channels, np.float32), np.ones(n_channels, np.float32))
    return Standardizer.fit(image[mask] for image, mask in zip(images, masks, strict=True))


def _augment(x, mask, how: str, rng):
    if how == "none":
        return x, mask
    for dim in (-2, -1):
        if rng.random() < 0.5:
            x, mask = x.flip(dim), mask.flip(dim)
    if how == "flips+rotations":
        turns = int(rng.integers(4))
        x, mask = torch.rot90(x, turns, (-2, -1)), torch.rot90(mask, turns, (-2, -1))
    return x, mask


def _mosaic(first, second):
    """Two (image, mask, reference) side by side, the shorter one padded below with
    background; the reference is the mask-weighted mean of both."""
    (x1, m1, r1), (x2, m2, r2) = first, second
    height = max(x1.shape[-2], x2.shape[-2])

    def pad(x, m):
        extra = height - x.shape[-2]
        return torch.nn.functional.pad(x, (0, 0, 0, extra)), torch.nn.functional.pad(m, (0, 0, 0, extra))

    (x1, m1), (x2, m2) = pad(x1, m1), pad(x2, m2)
    n1, n2 = float(m1.sum()), float(m2.sum())
    return torch.cat([x1, x2], dim=-1), torch.cat([m1, m2], dim=-1), (n1 * r1 + n2 * r2) / (n1 + n2)


def _l2(model):
    return sum(p.pow(2).sum() for name, p in model.named_parameters() if name.endswith("weight"))


@torch.no_grad()
def _rmse_mean(model, data, indices) -> float:
    model.eval()
    errors = [float(masked_mean(model(x[None])[:, 0], m[None])[0]) - ref for x, m, ref in (data[i] for i in indices)]
    return float(np.sqrt(np.mean(np.square(errors))))


def _train_member(data, train, val, settings: UNetSettings, n_channels, device, seed, progress, label):
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    model = SpectralUNet(**settings.architecture(n_channels)).to(device)
    model.init_output(float(np.mean([data[i][2] for i in train])))
    if settings.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    if settings.schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=settings.lr_factor, patience=settings.plateau_patience, min_lr=settings.min_lr
        )
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=settings.max_epochs, eta_min=settings.min_lr
        )
    history, best, best_state, waited = [], np.inf, copy.deepcopy(model.state_dict()), 0
    for epoch in range(settings.max_epochs):
        model.train()
        losses = []
        for i in rng.permutation(train):
            x, mask, ref = data[i]
            x, mask = _augment(x, mask, settings.augment, rng)
            if len(train) > 1 and rng.random() < settings.mosaic:
                other = data[rng.choice(train[train != i])]
                x, mask, ref = _mosaic((x, mask, ref), (*_augment(other[0], other[1], settings.augment, rng), other[2]))
            maps, base = (m[:, 0] for m in model(x[None], with_base=True))
            terms = map_loss(maps, mask[None], torch.tensor([ref], device=device), settings.loss, base=base)
            loss = terms["loss"] + settings.l2_penalty * _l2(model) if settings.l2_penalty else terms["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        score = _rmse_mean(model, data, val)
        lr = optimizer.param_groups[0]["lr"]
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_rmse_mean": score, "lr": lr})
        notify(progress, label, epoch + 1, settings.max_epochs)
        if score < best - 1e-6:
            best, best_state, waited = score, copy.deepcopy(model.state_dict()), 0
        elif epoch >= settings.burn_in:
            waited += 1
            if waited >= settings.early_stopping_patience:
                break
        if settings.schedule == "cosine":
            scheduler.step()
        elif epoch >= settings.burn_in:
            scheduler.step(score)
            if optimizer.param_groups[0]["lr"] < lr:
                model.load_state_dict(best_state)
    if len(history) < settings.max_epochs:  # stopped early: the bar still ends full
        notify(progress, label, settings.max_epochs, settings.max_epochs)
    model.load_state_dict(best_state)
    best_epoch = int(np.argmin([h["val_rmse_mean"] for h in history]))
    return model.to("cpu").eval(), history, best_epoch


def train_unet(
    samples,
    settings: UNetSettings = IMPROVED,
    *,
    validation=None,
    progress: ProgressCallback | None = None,
) -> TrainedUNet:
    """Train an ensemble of :class:`SpectralUNet` on samples with one reference each.

    Parameters
    ----------
    samples : list of chemmap.supervised.Sample
        Training samples (cube, mask, reference); every cube on the same axis. Their images
        are held in memory while training.
    settings : UNetSettings
        :data:`IMPROVED` (default), :data:`PAPER` or :func:`unet_settings` with overrides.
    validation : list of Sample, optional
        Samples that stop training (the manifest's ``val`` split): one model is trained.
        Without them, ``settings.n_folds`` models are trained, each stopped on its fold.
    progress : callable, optional
        ``progress(stage, done, total)`` once per epoch.

    Returns
    -------
    TrainedUNet
    """
    from chemmap.supervised.samples import grouped_folds

    validation = list(validation or [])
    everything = list(samples) + validation
    channels = {s.cube.n_channels for s in everything}
    if len(channels) != 1:
        raise ShapeError(f"Every sample must have the same channels; found {sorted(channels)}.")
    n_channels = channels.pop()
    if not validation and len(samples) < max(settings.n_folds, 2):
        raise ShapeError(
            f"{len(samples)} training samples cannot make {settings.n_folds} folds; "
            "give validation samples or lower n_folds."
        )
    device = pick_device(settings.device)
    share_cores(device)
    images = [_read(s) for s in everything]
    masks = [np.array(s.mask, dtype=bool) for s in everything]
    standardizer = _fit_standardizer(images[: len(samples)], masks[: len(samples)], settings, n_channels)
    data = [
        (torch.as_tensor(_image(x, standardizer), device=device), torch.as_tensor(m, device=device), float(s.reference))
        for x, m, s in zip(images, masks, everything, strict=True)
    ]
    del images
    n = len(samples)
    if validation:
        plans = [(np.arange(n), np.arange(n, len(everything)))]
    else:
        folds = grouped_folds(n, settings.n_folds, random_state=settings.random_state)
        plans = [(np.setdiff1d(np.arange(n), fold), fold) for fold in folds]
    models, histories, best_epochs = [], [], []
    progress = with_time_estimate(progress, "U-Net training", settings.max_epochs, len(plans))
    for k, (train, val) in enumerate(plans):
        label = f"training U-Net {k + 1}/{len(plans)}"
        model, history, best_epoch = _train_member(
            data, train, val, settings, n_channels, device, settings.random_state + k, progress, label
        )
        models.append(model)
        histories.append(history)
        best_epochs.append(best_epoch)
    axis = everything[0].cube.axis
    return TrainedUNet(models, standardizer, np.asarray(axis.values), axis.unit, settings, histories, best_epochs)
