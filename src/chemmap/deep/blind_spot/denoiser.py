"""The MNF autoencoder behind ``chemmap denoise --method autoencoder``.

Encoder: the pixel's first MNF coordinates (noise-whitened principal components, MNF's rank
chosen by the hold-out score, plus up to :data:`EXTRA_COORDS` more). Between encoder and
decoder, a blind-spot network (:class:`~chemmap.deep.blind_spot.model.BlindSpotNet`)
predicts every coordinate of a pixel without that coordinate's noise there: the first from
the neighbours, the rest from the pixel's own first ones. Each coordinate is then the blend
``w z + (1 - w) f`` of the noisy coordinate ``z`` and the prediction ``f`` with the weight
that minimises the expected squared error, ``w = e / (e + s2)``, where ``s2`` is the noise
variance and ``e`` the prediction's own error (its squared error against the noisy
coordinate on held-out pixels, less ``s2``), or 0 where that is smaller (the coordinate
holds no more signal than its error). Decoder: back to the spectrum through the MNF basis.

MNF is fitted as for ``chemmap denoise --method mnf``. The network learns on the black
squares of a checkerboard of the central window
(:func:`~chemmap.decomposition.denoise.held_out_blocks`); ``e`` and the hold-out score are
measured on the white ones. Where a coordinate cannot be predicted (pixels scattered at
random, no structure), ``e`` is large, ``w`` is 1 and the denoiser is MNF; where neighbours
or the curved shape of the data predict it, the noise is shrunk beyond what a projection can.
Pixels whose neighbourhood is cut by the image's edge or by missing pixels keep their noisy
first coordinates (MNF there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.progress import notify
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ShapeError
from chemmap.decomposition.denoise import (
    LowRankDenoiser,
    fit_low_rank,
    held_out_blocks,
    hold_out_bands,
    holdout_masks,
    in_window,
    read_window,
    split_samples,
    truncation_errors,
)
from chemmap.deep._torch import pick_device, seed_everything, share_cores, torch
from chemmap.deep.blind_spot.model import BlindSpotNet

__all__ = ["BlindSpotDenoiser", "fit_blind_spot_denoiser"]

#: Side of the neighbourhood the first coordinates are predicted from, pixels.
KERNEL = 7
#: Coordinates beyond MNF's rank that the network may restore.
EXTRA_COORDS = 20
#: Width of the hidden layer that predicts the coordinates beyond the rank.
HIDDEN = 32
#: Full-window Adam steps (more overfit the learning pixels on a 64 x 64 scene).
STEPS = 600
LEARNING_RATE = 3e-3
#: Fewest pixels with a whole neighbourhood on each side of the checkerboard.
MIN_PIXELS = 64
#: Multiples of the measured noise variance among which the hold-out score chooses (MNF's
#: whitening assumes noise independent from band to band; where it is not, the trailing
#: coordinates' variance misstates it).
NOISE_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
#: Scored pixels on which the blend is chosen (a seeded sample).
SELECTION_PIXELS = 8192


@dataclass
class BlindSpotDenoiser:
    """A trained MNF autoencoder (see the module's note).

    Attributes
    ----------
    linear : LowRankDenoiser
        The MNF encoder and decoder (the model `chemmap denoise --method mnf` fits).
    net : BlindSpotNet
        The blind-spot network (on ``device``, in evaluation mode).
    weights : ndarray of shape (n_coords,)
        Weight of the noisy coordinate in each blend (0 to 1).
    kept : ndarray of bool, shape (n_coords,)
        Coordinates kept (the rest are set to the mean).
    noise_variance : float
        Noise variance of one coordinate (about 1: MNF whitens the noise), measured on the
        trailing coordinates.
    prediction_mse : ndarray of shape (n_coords,)
        The network's squared error against the noisy coordinates on the held-out pixels.
    seconds : float
        Training time.
    scored : ndarray of bool
        The pixels of the comparison window it was scored on: on the white squares, valid,
        finite, and not among those MNF was fitted on.
    """

    linear: LowRankDenoiser
    net: BlindSpotNet
    weights: np.ndarray
    kept: np.ndarray
    noise_variance: float
    prediction_mse: np.ndarray
    seconds: float
    scored: np.ndarray | None = None

    @property
    def n_coords(self) -> int:
        return int(self.weights.size)

    def denoise_image(self, image: np.ndarray) -> np.ndarray:
        """Denoise a ``(height, width, n_channels)`` image (float32; pixels that are not
        finite stay NaN)."""
        coords = self.blended(self.linear.coordinates(image, self.net.config["n_coords"]))
        return self.linear.restore(coords[..., : self.n_coords])

    def blended(self, coords: np.ndarray) -> np.ndarray:
        """The blended ``(height, width, n)`` coordinates of an image's noisy ones (the
        network's ``n_coords``; those not kept are 0, those of pixels that are not finite
        NaN)."""
        coords, predicted, finite, cut = _predict(self.net, coords)
        n, rank = self.n_coords, self.net.config["rank"]
        out = np.zeros_like(coords)
        out[..., :n] = _blend(coords[..., :n], predicted[..., :n], cut, self.weights, self.kept, rank)
        out[~finite] = np.nan
        return out

    def denoise(self, cube: Cube) -> Cube:
        """The whole cube denoised (lazily for a lazy cube): every pixel projected on MNF's
        coordinates block by block, the network run on the coordinates (with a halo of
        neighbours between Dask blocks), and the spectra restored block by block. Only the
        coordinates, a few per pixel, are held whole."""
        n_all, n = self.net.config["n_coords"], self.n_coords
        coords = map_spectra(lambda s: self.linear.coordinates(s, n_all), cube.data, n_out=n_all)
        if cube.is_lazy:
            halo = self.net.config["kernel"] // 2
            coords = coords.map_overlap(self.blended, depth={0: halo, 1: halo, 2: 0}, boundary="none", dtype=np.float32)
        else:
            coords = self.blended(coords)
        return cube.replace(data=map_spectra(lambda c: self.linear.restore(c[:, :n]), coords, n_out=cube.n_channels))

    def to_dict(self) -> dict:
        return {
            "encoder": f"MNF, rank {self.linear.rank} + {self.n_coords - self.linear.rank} more coordinates",
            "kernel": self.net.config["kernel"],
            "kept_coordinates": int(self.kept.sum()),
            "noise_weight_first": [round(float(v), 3) for v in self.weights[: self.linear.rank]],
            "noise_variance_whitened": self.noise_variance,
            "train_seconds": self.seconds,
        }


def whole_neighbourhoods(finite: np.ndarray, kernel: int) -> np.ndarray:
    """``(height, width)`` bool: pixels whose ``kernel`` x ``kernel`` neighbourhood lies
    inside the image and holds only finite pixels."""
    padded = np.pad(finite.astype(np.int32), kernel // 2)
    counts = np.lib.stride_tricks.sliding_window_view(padded, (kernel, kernel)).sum(axis=(-1, -2))
    return counts == kernel * kernel


def fit_blind_spot_denoiser(
    cube: Cube,
    linear: LowRankDenoiser | None = None,
    fitted_on=None,
    *,
    window: tuple[np.ndarray, np.ndarray] | None = None,
    random_state: int = 0,
    device: str = "auto",
    steps: int = STEPS,
    progress=None,
) -> BlindSpotDenoiser:
    """Train the MNF autoencoder on the central window of ``cube``.

    Parameters
    ----------
    cube : Cube
        An image (besides the MNF sample, only its central window is read:
        :func:`~chemmap.decomposition.denoise.read_window`).
    linear : LowRankDenoiser, optional
        The MNF model of ``cube`` when one was fitted already (``chemmap denoise`` compares
        it); by default fitted on :func:`~chemmap.decomposition.denoise.split_samples`.
    fitted_on : array-like of int, optional
        Flat image positions of the pixels ``linear`` was fitted on: they are not scored
        (its basis has learned their noise, so restoring them from many coordinates would
        look better than it is).
    window : (ndarray, ndarray), optional
        :func:`~chemmap.decomposition.denoise.read_window` of ``cube``, when it was read
        already.
    random_state : int
        Seed of the MNF sample and of the network.
    device : {"auto", "cpu", "cuda"}
    steps : int
        Adam steps over the whole window.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    BlindSpotDenoiser
    """
    if linear is None:
        fit, scored, fitted_on = split_samples(cube, random_state, positions=True)
        linear = fit_low_rank(fit, scored, cube.axis.values, "mnf")
    image, finite = read_window(cube) if window is None else window
    held = held_out_blocks(finite.shape)
    whole = whole_neighbourhoods(finite, KERNEL)
    learn = finite & ~held
    score = finite & held & ~in_window(cube.image_shape, [] if fitted_on is None else fitted_on)
    fewest = min(np.count_nonzero(whole & learn), np.count_nonzero(whole & score))
    if fewest < MIN_PIXELS:
        raise ShapeError(
            f"The autoencoder learns from each pixel's {KERNEL} x {KERNEL} neighbourhood and needs at least "
            f"{MIN_PIXELS} pixels with a whole one on each side of its checkerboard; this image "
            f"({cube.image_shape[0]} x {cube.image_shape[1]}) has {fewest}. Use --method mnf."
        )
    rank, candidates = linear.rank, linear.basis.shape[1]
    n = min(candidates, rank + EXTRA_COORDS)
    coords = linear.coordinates(image)
    coords[~finite] = 0.0
    tail = np.mean(coords[score][:, rank:] ** 2, axis=0)
    noise_variance = float(np.median(tail)) if tail.size >= 4 else 1.0  # MNF's whitened noise
    coords = coords[..., :n]

    device = pick_device(device)
    share_cores(device)
    seed_everything(random_state)
    started = time.perf_counter()
    net = BlindSpotNet(rank, n, float(coords[learn][:, :rank].std()) or 1.0, kernel=KERNEL, hidden=HIDDEN).to(device)
    x = torch.from_numpy(np.ascontiguousarray(coords.transpose(2, 0, 1)[None], dtype=np.float32)).to(device)
    on = torch.from_numpy(whole & learn).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    for step in range(steps):
        loss = ((net(x) - x) ** 2)[0][:, on].mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if (step + 1) % 25 == 0:
            notify(progress, "training the denoising autoencoder", step + 1, steps)
    net.eval()
    with torch.no_grad():
        predicted = net(x)[0].cpu().numpy().transpose(1, 2, 0)

    mse = np.mean((predicted - coords)[whole & score] ** 2, axis=0, dtype=np.float64)
    second_moment = np.mean(coords[score] ** 2, axis=0, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    chosen = score & (rng.random(score.shape) < SELECTION_PIXELS / max(1, np.count_nonzero(score)))
    noise_variance, weights, kept = _choose_blend(
        net, linear, image, chosen, cube.axis.values, mse, second_moment, noise_variance
    )
    seconds = time.perf_counter() - started
    return BlindSpotDenoiser(linear, net, weights, kept, noise_variance, mse, seconds, scored=score)


def _predict(net: BlindSpotNet, coords: np.ndarray):
    """For an image's ``(h, w, n_coords)`` noisy coordinates: a copy with those of pixels
    that are not finite set to 0 (the mean), the network's predictions of them, the finite
    pixels and the pixels whose neighbourhood is cut."""
    finite = np.isfinite(coords).all(axis=-1)
    coords = np.where(finite[..., None], coords, 0.0).astype(np.float32)
    device = next(net.parameters()).device
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(coords.transpose(2, 0, 1)[None]))
        predicted = net(x.to(device))[0].cpu().numpy().transpose(1, 2, 0)
    return coords, predicted, finite, ~whole_neighbourhoods(finite, net.config["kernel"])


def _blend(coords, predicted, cut, weights, kept, rank: int) -> np.ndarray:
    """``w z + (1 - w) f`` for the kept coordinates, 0 for the others; the noisy first
    ``rank`` coordinates where the neighbourhood is cut (float32)."""
    blended = np.where(kept, weights * coords + (1 - weights) * predicted, 0.0).astype(np.float32)
    blended[cut, :rank] = np.where(kept[:rank], coords[cut, :rank], 0.0)
    return blended


def _weights(mse: np.ndarray, second_moment: np.ndarray, noise_variance: float) -> tuple[np.ndarray, np.ndarray]:
    """Each coordinate's weight of the noisy value, and whether it is kept, given the
    prediction's squared error ``mse`` and the coordinate's mean square (see the module's
    note)."""
    error = np.clip(mse - noise_variance, 0.0, None)
    weights = error / (error + noise_variance)
    kept = weights * noise_variance < np.clip(second_moment - noise_variance, 0.0, None)
    return weights.astype(np.float32), kept


def _choose_blend(net, linear, image, pixels, axis_values, mse, second_moment, noise_variance):
    """The noise variance (among :data:`NOISE_FACTORS` times ``noise_variance``) and the
    number of coordinates (from MNF's rank up) with the lowest band hold-out score on
    ``pixels``; returns ``(noise variance, weights, kept)``, the last two cut to that
    number."""
    c = image.shape[-1]
    rank, n = net.config["rank"], net.config["n_coords"]
    variances = [noise_variance * f for f in NOISE_FACTORS]
    choices = [_weights(mse, second_moment, v) for v in variances]
    sums = np.zeros((len(variances), n))
    target = image[pixels]
    for held in holdout_masks(c):
        masked = hold_out_bands(image, held, axis_values)
        coords, predicted, _, cut = _predict(net, linear.coordinates(masked, n))
        for i, (weights, kept) in enumerate(choices):
            blended = _blend(coords, predicted, cut, weights, kept, rank)[pixels]
            sums[i] += truncation_errors(blended, target, held, linear)
    sums[:, : rank - 1] = np.inf
    i, last = np.unravel_index(np.argmin(sums), sums.shape)
    weights, kept = choices[i]
    return variances[i], weights[: last + 1], kept[: last + 1]
