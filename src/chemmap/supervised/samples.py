"""Sample sets for quantitative maps: a manifest CSV naming each sample's cube, its one
reference value (e.g. fat % from chemistry), an optional mask, split and per-pixel truth."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import ConfigError, InputFileNotFoundError, ShapeError

__all__ = ["SPLITS", "Sample", "SampleEntry", "grouped_folds", "load_sample", "read_manifest"]

SPLITS = ("train", "val", "test")
COLUMNS = ("cube", "reference", "mask", "split", "truth")


@dataclass(frozen=True)
class SampleEntry:
    """One manifest row, paths resolved against the manifest's folder."""

    cube: Path
    reference: float
    mask: Path | None = None
    split: str | None = None
    truth: Path | None = None

    @property
    def name(self) -> str:
        """The sample's name in outputs: its cube file's name without the suffix."""
        return self.cube.stem


@dataclass
class Sample:
    """A loaded sample: its cube, the pixels that belong to it, its reference, its truth."""

    cube: Cube
    mask: np.ndarray
    reference: float
    truth: np.ndarray | None = None
    name: str = ""

    def pixels(self) -> np.ndarray:
        """``(n, n_channels)`` spectra of the mask's pixels (read from NumPy or Dask)."""
        from chemmap._shared.compute import compute

        (data,) = compute(self.cube.data)
        return np.asarray(data).reshape(-1, self.cube.n_channels)[self.mask.reshape(-1)]


def _path(folder: Path, value: str, column: str, row: int) -> Path | None:
    if not value.strip():
        if column == "cube":
            raise ConfigError(f"manifest row {row}: the cube column is empty; give a file path.")
        return None
    named = Path(value.strip())
    path = (folder / named).resolve()
    if not named.is_absolute() and not path.is_relative_to(folder.resolve()):
        raise ConfigError(
            f"manifest row {row}: the {column} entry {value.strip()!r} leads to {path}, outside the manifest's folder "
            f"{folder.resolve()} (through '..' or a link). A relative entry must stay in that folder, so that a "
            "manifest cannot make chemmap read a file from elsewhere. To fix this, give that file's absolute path."
        )
    if not path.exists():
        raise InputFileNotFoundError(f"manifest row {row}: {column} file {path} does not exist.")
    return path


def read_manifest(path: str | os.PathLike) -> list[SampleEntry]:
    """Read a manifest CSV with columns ``cube`` and ``reference`` (required), ``mask``,
    ``split`` (train/val/test) and ``truth`` (optional); paths relative to the manifest.

    Raises
    ------
    InputFileNotFoundError
        The manifest or a file it names is missing (the row is named).
    ConfigError
        A missing column, a reference that is not a finite number, an unknown split.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"The manifest {path} does not exist.")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in ("cube", "reference") if c not in columns]
        if missing:
            raise ConfigError(
                f"{path} lacks the column(s) {missing}; a manifest needs cube and reference "
                f"(optional: mask, split, truth); found {columns}."
            )
        unknown = sorted(set(columns) - set(COLUMNS))
        if unknown:
            raise ConfigError(f"{path}: unknown column(s) {unknown}; known columns are {list(COLUMNS)}.")
        entries = []
        for row, raw in enumerate(reader, start=2):
            values = {k.strip(): (v or "") for k, v in raw.items() if k is not None}
            try:
                reference = float(values["reference"])
            except ValueError:
                raise ConfigError(f"{path} row {row}: reference {values['reference']!r} is not a number.") from None
            if not np.isfinite(reference):
                raise ConfigError(f"{path} row {row}: reference must be finite; got {reference}.")
            split = values.get("split", "").strip() or None
            if split is not None and split not in SPLITS:
                raise ConfigError(f"{path} row {row}: split {split!r} is not one of {list(SPLITS)}.")
            entries.append(
                SampleEntry(
                    _path(path.parent, values["cube"], "cube", row),
                    reference,
                    _path(path.parent, values.get("mask", ""), "mask", row),
                    split,
                    _path(path.parent, values.get("truth", ""), "truth", row),
                )
            )
    if len(entries) < 2:
        raise ConfigError(f"{path} lists {len(entries)} sample(s); calibration needs at least two.")
    return entries


def _image(path: Path, shape: tuple[int, int], what: str, dtype) -> np.ndarray:
    array = np.load(path, allow_pickle=False)
    if array.shape != shape:
        raise ShapeError(f"{what} {path} has shape {array.shape}; the cube's image is {shape}.")
    return array.astype(dtype)


def load_sample(entry: SampleEntry, **read_options) -> Sample:
    """Read the cube (any format chemmap reads) and the sample's mask and truth.

    The mask is the manifest's ``.npy`` (boolean H x W), else the cube's own mask, else
    every pixel; pixels with non-finite values are always left out.
    """
    from chemmap.io import read

    cube = read(entry.cube, **read_options)
    shape = cube.image_shape
    valid = cube.valid_pixels().reshape(shape)
    mask = valid if entry.mask is None else _image(entry.mask, shape, "The mask", bool) & valid
    if not mask.any():
        raise ShapeError(f"The sample {entry.cube} has no valid pixel inside its mask.")
    truth = None if entry.truth is None else _image(entry.truth, shape, "The truth map", np.float32)
    return Sample(cube, mask, entry.reference, truth, entry.name)


def grouped_folds(n_samples: int, n_folds: int = 5, *, random_state: int = 0) -> list[np.ndarray]:
    """Sample indices of each of ``n_folds`` folds (shuffled, seeded, sizes within one):
    every pixel of a sample stays in its sample's fold."""
    if not 2 <= n_folds <= n_samples:
        raise ConfigError(f"n_folds must be between 2 and the number of samples ({n_samples}); got {n_folds}.")
    order = np.random.default_rng(random_state).permutation(n_samples)
    return [np.sort(order[i::n_folds]) for i in range(n_folds)]
