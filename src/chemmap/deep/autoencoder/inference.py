"""Applying a trained autoencoder to every pixel of a cube, block by block: the denoised
cube and the latent feature image, lazily for a cube on disk."""

from __future__ import annotations

import copy

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.model_axis import check_model_axis
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.deep._torch import pick_device, torch

__all__ = ["INFERENCE_BATCH", "autoencode", "check_axis", "decode_latent", "denoise_spectra"]

#: Spectra passed through the network at once: bounds the activations held per thread
#: (about 100 kB per spectrum of 1000 channels with the default widths).
INFERENCE_BATCH = 512


def check_axis(trained, axis: SpectralAxis) -> None:
    """Raise :class:`AxisError` unless ``axis`` is the axis the model was trained on
    (see :func:`chemmap._shared.model_axis.check_model_axis`)."""
    check_model_axis(trained.axis_values, trained.axis_unit, axis)


def _kernel(trained, device):
    """``(n, C) -> (n, C + latent_dim)``: reconstruction then latent vector per row; rows
    with a non-finite value give NaN."""
    model = trained.model if device.type == "cpu" else copy.deepcopy(trained.model).to(device)  # keep it on the CPU
    model.eval()
    standardizer = trained.standardizer
    n_out = model.config["n_channels"] + model.config["latent_dim"]

    def run(spectra: np.ndarray) -> np.ndarray:
        out = np.full((spectra.shape[0], n_out), np.nan, dtype=np.float32)
        finite = np.flatnonzero(np.isfinite(spectra).all(axis=1))
        for start in range(0, finite.size, INFERENCE_BATCH):
            rows = finite[start : start + INFERENCE_BATCH]
            x = torch.as_tensor(standardizer.transform(spectra[rows]), device=device)
            with torch.no_grad():
                recon, latent = model(x)
            out[rows, : recon.shape[1]] = standardizer.inverse(recon.float().cpu().numpy())
            out[rows, recon.shape[1] :] = latent.float().cpu().numpy()
        return out

    return run, n_out


def denoise_spectra(trained, spectra: np.ndarray, axis, *, device: str = "auto") -> np.ndarray:
    """``(n, n_channels)`` spectra on the model's ``axis`` (a SpectralAxis) through the
    autoencoder: the denoised ``(n, n_channels)`` float32 spectra."""
    rows = Cube(np.asarray(spectra, dtype=np.float32)[:, None, :], axis)
    return np.asarray(autoencode(trained, rows, device=device)[0].data)[:, 0, :]


def autoencode(trained, cube: Cube, *, device: str = "auto") -> tuple[Cube, Cube]:
    """The denoised cube and the latent feature image of ``cube``.

    Parameters
    ----------
    trained : TrainingResult
        A trained or loaded autoencoder (see :func:`chemmap.deep.autoencoder.persist.load_autoencoder`).
    cube : Cube
        On the model's axis (checked); NumPy or lazy.
    device : {"auto", "cpu", "cuda"}

    Returns
    -------
    denoised : Cube
        ``(height, width, n_channels)`` float32 in the cube's units, on its axis.
    latent : Cube
        Map Cube ``(height, width, latent_dim)`` with maps ``"latent 1"``, ...
        Both are lazy when ``cube`` is (nothing is computed until asked); pixels outside
        the cube's mask, or with a non-finite value, are NaN.
    """
    check_axis(trained, cube.axis)
    run, n_out = _kernel(trained, pick_device(device))
    both = map_spectra(run, cube.data, n_out=n_out, dtype=np.float32)
    n_channels = cube.n_channels
    denoised, latent = both[..., :n_channels], both[..., n_channels:]
    if cube.mask is not None:
        keep = np.asarray(cube.mask)[..., None]
        denoised, latent = _masked(denoised, keep), _masked(latent, keep)
    params = {"model": trained.settings, "best_epoch": trained.best_epoch}
    names = [f"latent {i + 1}" for i in range(n_out - n_channels)]
    latent_cube = Cube(
        latent,
        SpectralAxis.from_names(names),
        mask=cube.mask,
        attrs={"history": [*cube.history, {"step": "autoencoder latent", "params": params}]},
    )
    return cube.with_step("autoencoder denoise", params, data=denoised), latent_cube


def decode_latent(trained, latent: np.ndarray) -> np.ndarray:
    """Spectra ``(n, n_channels)`` in the data's units decoded from latent vectors ``(n, latent_dim)``
    (e.g. cluster means of the latent features), on the CPU."""
    model = trained.model.to("cpu").eval()
    with torch.no_grad():
        decoded = model.decode(torch.as_tensor(np.asarray(latent, dtype=np.float32)))
    return trained.standardizer.inverse(decoded.numpy())


def _masked(values, keep: np.ndarray):
    if isinstance(values, np.ndarray):
        return np.where(keep, values, np.float32(np.nan))
    import dask.array as da

    return da.where(keep, values, np.float32(np.nan))
