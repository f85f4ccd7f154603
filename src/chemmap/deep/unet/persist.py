"""Saving and loading a U-Net ensemble without executing code: every member's tensors in one
``weights.pt`` (keys ``member<i>.<parameter>``) and the settings, per-band standardisation,
spectral axis and training record in ``model.json``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from chemmap.core.exceptions import FileFormatError
from chemmap.deep.autoencoder.persist import (
    LOAD_ERRORS,
    check_channels,
    checked_model,
    read_model_config,
    read_weights,
    write_model_folder,
)
from chemmap.deep.autoencoder.training import Standardizer
from chemmap.deep.unet.model import SpectralUNet
from chemmap.deep.unet.training import TrainedUNet, UNetSettings

__all__ = ["UNET_FORMAT", "load_unet", "save_unet"]

UNET_FORMAT = "chemmap-spectral-unet"
#: Most members an ensemble file may declare (training makes a handful).
MAX_MEMBERS = 64


def save_unet(trained: TrainedUNet, folder: str | os.PathLike) -> Path:
    """Write ``weights.pt`` and ``model.json`` into ``folder``; returns the folder."""
    state = {
        f"member{i}.{name}": tensor
        for i, model in enumerate(trained.models)
        for name, tensor in model.state_dict().items()
    }
    config = {
        "format": UNET_FORMAT,
        "members": len(trained.models),
        "architecture": trained.models[0].config,
        "settings": trained.settings.to_dict(),
        "standardizer": trained.standardizer.to_dict(),
        "axis": {"unit": trained.axis_unit, "values": np.asarray(trained.axis_values, dtype=np.float64).tolist()},
        "best_epochs": trained.best_epochs,
        "histories": trained.histories,
    }
    return write_model_folder(folder, state, config)


def load_unet(folder: str | os.PathLike) -> TrainedUNet:
    """Read a model folder written by :func:`save_unet`.

    Raises
    ------
    InputFileNotFoundError
        When ``model.json`` or ``weights.pt`` is missing.
    FileFormatError
        When the files are not a chemmap U-Net or do not match each other.
    """
    config = read_model_config(folder, UNET_FORMAT, "spectral U-Net")
    try:
        state = read_weights(folder)
        members = config["members"]
        if not isinstance(members, int) or not 1 <= members <= MAX_MEMBERS:
            raise FileFormatError(f"{folder}: members {members!r} is not a count from 1 to {MAX_MEMBERS}.")
        models = []
        for i in range(members):
            prefix = f"member{i}."
            own = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            models.append(checked_model(lambda: SpectralUNet(**config["architecture"]), own, folder).eval())
        if len(state) != sum(len(m.state_dict()) for m in models):
            raise FileFormatError(f"{folder}: {len(state)} tensors in weights.pt for {members} member(s).")
        standardizer = Standardizer(
            np.asarray(config["standardizer"]["mean"], np.float32),
            np.asarray(config["standardizer"]["scale"], np.float32),
        )
        settings = UNetSettings.from_dict(config["settings"])
        axis_values = np.asarray(config["axis"]["values"], dtype=np.float64)
        axis_unit = str(config["axis"]["unit"])
    except FileFormatError:
        raise
    except LOAD_ERRORS as err:
        raise FileFormatError(f"{folder} is not a consistent chemmap U-Net: {err}") from None
    check_channels(folder, config["architecture"]["n_channels"], standardizer, axis_values)
    return TrainedUNet(
        models,
        standardizer,
        axis_values,
        axis_unit,
        settings,
        config.get("histories", []),
        config.get("best_epochs", []),
    )
