"""Ground truth given apart from the spectra: a 2-D label mask for any cube.

A mask is an array or a file (``.npy``, ``.png``/``.bmp``/``.gif``, ``.tif``, ``.csv``/``.txt``,
``.mat``) of the image's shape, one class per pixel: integers (negative = unlabelled) or, in
an RGB image, one class per colour. It scores segmentations of cubes that carry no label
column (``read(..., label_mask=...)``, ``--label-mask FILE``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError, InputFileNotFoundError, ShapeError
from chemmap.io._flat import encode_labels

__all__ = ["apply_label_mask", "load_label_mask"]

IMAGE_SUFFIXES = (".png", ".bmp", ".gif", ".jpg", ".jpeg")


def load_label_mask(source) -> np.ndarray:
    """The mask as a 2-D array (integers, or ``(H, W, 3)`` colours for an RGB image)."""
    if not isinstance(source, (str, Path)):
        return np.asarray(source)
    path = Path(source)
    if not path.exists():
        raise InputFileNotFoundError(f"Label mask {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix in (".csv", ".txt"):
            text = path.read_text(errors="replace")
            return np.loadtxt(path, delimiter="," if "," in text.splitlines()[0] else None)
        if suffix == ".mat":
            from chemmap.io.matlab import load_mat_arrays

            planes = [v for v in load_mat_arrays(path).values() if v.ndim == 2 and min(v.shape) > 1]
            if len(planes) != 1:
                raise FileFormatError(f"{path.name} holds {len(planes)} 2-D arrays; a label mask file needs one.")
            return planes[0]
        if suffix in (".tif", ".tiff"):
            import tifffile

            return tifffile.imread(path)
        if suffix in IMAGE_SUFFIXES:
            from PIL import Image

            with Image.open(path) as image:
                return np.asarray(image.convert("RGB") if image.mode not in ("L", "I", "I;16", "P") else image)
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"{path.name} is not a readable label mask ({exc}).") from None
    raise FileFormatError(
        f"{path.name}: a label mask is read from .npy, .png, .bmp, .gif, .tif, .csv, .txt or .mat files; "
        f"got {suffix or 'no suffix'}."
    )


def _classes(mask: np.ndarray, source: str) -> tuple[np.ndarray, dict[int, str]]:
    """Codes 0..k-1 (-1 unlabelled) and class names of an integer or colour mask."""
    if mask.ndim == 3 and mask.shape[-1] in (3, 4):
        colours = mask[..., :3].astype(np.int64)
        packed = (colours[..., 0] << 16) | (colours[..., 1] << 8) | colours[..., 2]
        values, codes = np.unique(packed.reshape(-1), return_inverse=True)
        names = {i: f"#{int(v):06x}" for i, v in enumerate(values)}
        return codes.reshape(packed.shape).astype(np.int32), names
    if mask.ndim != 2:
        raise ShapeError(f"The label mask {source} has shape {mask.shape}; expected (height, width).")
    codes, names = encode_labels(mask.reshape(-1))
    return codes.reshape(mask.shape), names


def apply_label_mask(cube: Cube, source) -> Cube:
    """``cube`` with the mask's classes as its ground truth (replacing any it had)."""
    name = Path(source).name if isinstance(source, (str, Path)) else "array"
    mask = load_label_mask(source)
    codes, names = _classes(mask, name)
    if codes.shape != tuple(cube.image_shape):
        hint = " (transposed?)" if codes.shape == tuple(cube.image_shape)[::-1] else ""
        raise ShapeError(
            f"The label mask {name} is {codes.shape[0]} x {codes.shape[1]} pixels{hint}; the image is "
            f"{cube.image_shape[0]} x {cube.image_shape[1]}. To fix this, give a mask of the image's shape."
        )
    attrs = {**cube.attrs, "labels_source": f"label mask {name}"}
    return Cube(cube.data, cube.axis, mask=cube.mask, labels=codes, label_names=names, attrs=attrs)
