"""Saving and loading a trained autoencoder without executing code: the weights as a
tensors-only state dict (``weights.pt``, read with ``torch.load(weights_only=True)``) and
everything else (architecture, per-band standardisation, spectral axis, training record)
as JSON (``model.json``)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np

from chemmap._shared.atomic import atomic_path, write_text_atomic
from chemmap.core.exceptions import FileFormatError, InputFileNotFoundError
from chemmap.deep._torch import torch
from chemmap.deep.autoencoder.model import SpectralAutoencoder
from chemmap.deep.autoencoder.training import Standardizer, TrainingResult

__all__ = [
    "MODEL_FORMAT",
    "load_autoencoder",
    "read_model_config",
    "read_weights",
    "save_autoencoder",
    "write_model_folder",
]

MODEL_FORMAT = "chemmap-spectral-autoencoder"
FORMAT_VERSION = 1
WEIGHTS = "weights.pt"
CONFIG = "model.json"


def write_model_folder(folder: str | os.PathLike, state: dict, config: dict) -> Path:
    """Write the tensors of ``state`` to ``weights.pt`` and ``config`` (plus format version
    and chemmap version) to ``model.json``, each atomically; the JSON, which a loader reads
    first, is written last."""
    from chemmap import __version__

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS) as tmp:
        torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, tmp)
    config = {"format": config["format"], "format_version": FORMAT_VERSION, "chemmap_version": __version__, **config}
    write_text_atomic(folder / CONFIG, json.dumps(config, indent=1) + "\n")
    return folder


def read_model_config(folder: str | os.PathLike, model_format: str, what: str) -> dict:
    """``model.json`` of a model folder, checked to be ``model_format`` (``what`` names it in
    errors) and not newer than this chemmap reads."""
    folder = Path(folder)
    for name in (CONFIG, WEIGHTS):
        if not (folder / name).is_file():
            raise InputFileNotFoundError(
                f"{folder / name} does not exist; a model folder written by chemmap holds {CONFIG} and {WEIGHTS}."
            )
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise FileFormatError(f"{folder / CONFIG} is not valid JSON ({err}).") from None
    if not isinstance(config, dict) or config.get("format") != model_format:
        found = config.get("format") if isinstance(config, dict) else None
        raise FileFormatError(f"{folder / CONFIG} does not describe a chemmap {what} (format {found!r}).")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise FileFormatError(
            f"{folder} was written by a newer chemmap (model format {config['format_version']}); upgrade chemmap."
        )
    return config


def read_weights(folder: str | os.PathLike) -> dict:
    """The tensors of ``weights.pt``, loaded without executing code (a file that holds
    anything else is refused, never opened with code execution allowed)."""
    from chemmap._shared.compute import ensure_bytes_fit

    path = Path(folder) / WEIGHTS
    ensure_bytes_fit(path.stat().st_size, what=f"the weights {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError):
        state = None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FileFormatError(
            f"{path} is not a weights file chemmap wrote (a dictionary of tensors); chemmap loads weights "
            "as tensors only and never runs code from a file. Train again to make a new model."
        )
    return state


LOAD_ERRORS = (KeyError, TypeError, ValueError, RuntimeError, pickle.UnpicklingError)
#: Largest weight a loaded network may hold: trained ones (batch-norm variances of raw counts
#: included) stay far below; beyond it a float32 forward pass overflows.
LARGEST_WEIGHT = 1e15


def checked_model(build, state: dict, folder: str | os.PathLike):
    """The network ``build()`` makes, holding the tensors of ``state``.

    Shapes are compared on a copy built on PyTorch's meta device first (it allocates nothing),
    so a ``model.json`` that declares a huge network with a small ``weights.pt`` cannot make
    chemmap allocate it; weights that are not finite or beyond :data:`LARGEST_WEIGHT` are
    refused.

    Raises
    ------
    FileFormatError
    """
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in build().state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items()}
    if expected != found:
        differ = sorted(set(expected) ^ set(found)) or sorted(n for n in expected if expected[n] != found[n])
        raise FileFormatError(
            f"{folder}: {WEIGHTS} does not hold the tensors its {CONFIG} describes ({len(differ)} differ, "
            f"first {differ[0]!r}). The files were edited, damaged or mixed; train again to make a new model."
        )
    model = build()
    model.load_state_dict(state, strict=True)
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool((tensor.abs() <= LARGEST_WEIGHT).all()):
            raise FileFormatError(
                f"{folder}: the weight {name!r} in {WEIGHTS} holds values that are not finite numbers within "
                f"±{LARGEST_WEIGHT:g}. The file was edited or damaged; train again to make a new model."
            )
    return model


def check_channels(folder, n_channels, standardizer: Standardizer, axis_values: np.ndarray) -> None:
    """The per-band standardisation and the spectral axis of a loaded model: one finite value
    per channel, scales positive, the axis strictly ordered."""
    mean, scale = standardizer.mean, standardizer.scale
    problem = None
    if not isinstance(n_channels, int) or not (mean.shape == scale.shape == axis_values.shape == (n_channels,)):
        problem = (
            f"the model has {n_channels} channels but its axis or standardisation has "
            f"{axis_values.size}/{mean.size}/{scale.size} values"
        )
    elif not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        problem = "its standardisation is not finite numbers with positive scales"
    elif not np.all(np.isfinite(axis_values)) or not (
        np.all(np.diff(axis_values) > 0) or np.all(np.diff(axis_values) < 0)
    ):
        problem = "its axis values are not finite and strictly ordered"
    if problem:
        raise FileFormatError(
            f"{folder} is not a model chemmap wrote: {problem}. It was edited or damaged; train again to make a "
            "new model."
        )


def save_autoencoder(trained: TrainingResult, folder: str | os.PathLike) -> Path:
    """Write ``weights.pt`` and ``model.json`` into ``folder`` (each file atomically; the
    JSON, which a loader reads first, is written last).

    Returns
    -------
    Path
        The folder.
    """
    config = {
        "format": MODEL_FORMAT,
        "architecture": trained.model.config,
        "standardizer": trained.standardizer.to_dict(),
        "axis": {"unit": trained.axis_unit, "values": np.asarray(trained.axis_values, dtype=np.float64).tolist()},
        "best_epoch": trained.best_epoch,
        "training": trained.settings,
        "history": trained.history,
    }
    return write_model_folder(folder, trained.model.state_dict(), config)


def load_autoencoder(folder: str | os.PathLike) -> TrainingResult:
    """Read a model folder written by :func:`save_autoencoder`.

    Raises
    ------
    InputFileNotFoundError
        When ``model.json`` or ``weights.pt`` is missing.
    FileFormatError
        When the files are not a chemmap autoencoder or do not match each other.
    """
    config = read_model_config(folder, MODEL_FORMAT, "spectral autoencoder")
    try:
        arch = config["architecture"]

        def build():
            return SpectralAutoencoder(
                arch["n_channels"],
                arch["latent_dim"],
                arch["widths"],
                kernel=arch["kernel"],
                activation=arch["activation"],
                output=arch["output"],
            )

        model = checked_model(build, read_weights(folder), folder)
        standardizer = Standardizer(
            np.asarray(config["standardizer"]["mean"], np.float32),
            np.asarray(config["standardizer"]["scale"], np.float32),
        )
        axis_values = np.asarray(config["axis"]["values"], dtype=np.float64)
        axis_unit = str(config["axis"]["unit"])
    except FileFormatError:
        raise
    except LOAD_ERRORS as err:
        raise FileFormatError(f"{folder} is not a consistent chemmap autoencoder: {err}") from None
    check_channels(folder, arch["n_channels"], standardizer, axis_values)
    return TrainingResult(
        model.eval(),
        standardizer,
        axis_values,
        axis_unit,
        config.get("history", []),
        int(config.get("best_epoch", 0)),
        config.get("training", {}),
    )
