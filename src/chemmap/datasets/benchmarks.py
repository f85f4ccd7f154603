"""Loaders for public benchmark scenes kept outside the repository (``../shared/data`` by default).

The files are never shipped with chemmap; each loader names the folder it looked in when
they are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import InputFileNotFoundError

__all__ = ["INDIAN_PINES_CLASSES", "SAMSON_MATERIALS", "Samson", "load_indian_pines", "load_samson"]

#: Ground-truth classes of Indian Pines (GIC numbering, ``Indian_pines_gt.mat``).
INDIAN_PINES_CLASSES = (
    "Alfalfa",
    "Corn-notill",
    "Corn-mintill",
    "Corn",
    "Grass-pasture",
    "Grass-trees",
    "Grass-pasture-mowed",
    "Hay-windrowed",
    "Oats",
    "Soybean-notill",
    "Soybean-mintill",
    "Soybean-clean",
    "Wheat",
    "Woods",
    "Buildings-Grass-Trees-Drives",
    "Stone-Steel-Towers",
)
#: Endmember order of the Samson ground truth (rows of ``A``, columns of ``M``).
SAMSON_MATERIALS = ("Soil", "Tree", "Water")


def _require(folder: Path, *names: str) -> None:
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise InputFileNotFoundError(
            f"Benchmark files {missing} not found in {folder}. To fix this, pass the folder that holds them "
            "(the project keeps them in ../shared/data/<scene>)."
        )


def load_indian_pines(folder) -> Cube:
    """Indian Pines (AVIRIS, 145 x 145 x 200, uint8 per-band rescaled) with ground truth.

    The 200 kept AVIRIS band centres (nm) and FWHM come from ``92AV3C.spc`` with the water
    bands 104–108, 150–163 and 220 removed; their order is restored to increasing wavelength.

    Parameters
    ----------
    folder : str or Path
        Folder with ``IP_200_M.mat``, ``Indian_pines_gt.mat`` and ``92AV3C.spc``.
    """
    import warnings

    from chemmap.core.exceptions import AxisOrderWarning
    from chemmap.io.matlab import read_mat

    folder = Path(folder)
    _require(folder, "IP_200_M.mat", "Indian_pines_gt.mat", "92AV3C.spc")
    keep = np.ones(220, bool)
    keep[np.r_[103:108, 149:163, 219]] = False
    table = np.loadtxt(folder / "92AV3C.spc", skiprows=2)[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AxisOrderWarning)  # overlapping AVIRIS spectrometers, documented above
        cube = read_mat(
            folder / "IP_200_M.mat", labels_file=folder / "Indian_pines_gt.mat", axis=table[:, 0], axis_unit="nm"
        )
    names = {k: INDIAN_PINES_CLASSES[int(v) - 1] for k, v in cube.label_names.items()}
    order = np.argsort(table[:, 0], kind="stable")
    axis = cube.axis.replace(fwhm=table[order, 1])
    return Cube(cube.data, axis, labels=cube.labels, label_names=names, attrs=cube.attrs)


@dataclass(frozen=True)
class Samson:
    """The Samson unmixing scene.

    Attributes
    ----------
    cube : Cube
        95 x 95 x 156 reflectance, 401–889 nm (evenly spaced approximation; the files carry
        no band centres).
    abundances : Cube
        Map Cube with one ground-truth abundance map per material (fractions summing to 1).
    endmembers : ndarray of shape (3, 156)
        Ground-truth endmember spectra, each scaled to a maximum of about 1 (not on the
        cube's scale: compare by spectral angle).
    """

    cube: Cube
    abundances: Cube
    endmembers: np.ndarray


def load_samson(folder) -> Samson:
    """Samson (95 x 95 x 156) with its abundance and endmember ground truth.

    Parameters
    ----------
    folder : str or Path
        Folder with ``samson_1.mat`` and ``samson_dataset.mat``.
    """
    from chemmap.io.matlab import flat_to_cube, load_mat_arrays, read_mat

    folder = Path(folder)
    _require(folder, "samson_1.mat", "samson_dataset.mat")
    cube = read_mat(folder / "samson_1.mat", axis=np.linspace(401, 889, 156), axis_unit="nm", dtype=np.float32)
    truth = load_mat_arrays(folder / "samson_dataset.mat")
    fractions = flat_to_cube(truth["A"], cube.image_shape, order="F", source="samson_dataset.mat")
    abundances = Cube.from_maps(
        {name: fractions[..., i] for i, name in enumerate(SAMSON_MATERIALS)},
        attrs={"source": "samson_dataset.mat", "variable": "A"},
    )
    return Samson(cube, abundances, np.asarray(truth["M"], dtype=np.float64).T)
