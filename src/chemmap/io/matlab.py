"""MATLAB ``.mat`` files: v5 (SciPy) and v7.3 (HDF5, through h5py).

The reader finds the cube (the largest 3-D numeric array, or ``cube_key``), a 2-D label
map of the same image size (or ``labels_key``, or a second file ``labels_file``) and an
axis vector (``axis_key`` or a 1-D array named like ``wavelength``). Benchmarks that store
``(bands, pixels)`` matrices are accepted with ``image_shape`` (or ``nRow``/``nCol``
variables in the file) and ``order``: ``"F"`` (MATLAB's column-major pixel order, the
default) or ``"C"``. Structs and objects are searched too: a PLS_Toolbox DataSet (as
WITec and Eigenvector software export) gives its ``data`` matrix, ``imagesize`` and
``axisscale``, with the unit its titles state; a channels-first cube is read with
``layout="bands_first"`` or found by its axis's length.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, FileFormatError, InvalidParameterError, ShapeError
from chemmap.io._build import build_cube, unreadable_file
from chemmap.io._flat import encode_labels, parse_image_shape
from chemmap.io._hdf5_datasets import HDF5_SIGNATURE, decode_text, is_hdf5
from chemmap.io._registry import ReaderEntry, file_head, readers
from chemmap.io._spectral_dim import move_spectral_last

__all__ = ["flat_to_cube", "load_mat_arrays", "read_mat"]

_AXIS_NAMES = ("wavelength", "wavelengths", "wl", "axis", "wavenumber", "wavenumbers", "energy", "bands_nm")
_SHAPE_NAMES = (("nrow", "ncol"), ("rows", "cols"), ("height", "width"))


def load_mat_arrays(path: Path) -> dict[str, np.ndarray]:
    """All numeric arrays of a ``.mat`` file, v5 or v7.3, in MATLAB's own shapes.

    Fields of structs and objects (PLS_Toolbox DataSet) are named ``var.field``, cell
    elements ``var.field{i}`` (1-based, column-major as in MATLAB).
    """
    return load_mat_contents(path)[0]


def load_mat_contents(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Numeric arrays and texts of a ``.mat`` file, by (dotted) variable name."""
    if is_hdf5(path) or is_hdf5(path, offset=512):  # MATLAB v7.3: HDF5 behind a 512-byte text header
        return _load_v73(path)
    from scipy.io import loadmat

    try:
        raw = loadmat(path)
    except NotImplementedError:
        return _load_v73(path)
    except (ValueError, TypeError, OSError) as exc:
        raise unreadable_file("mat", path, exc) from None
    arrays: dict[str, np.ndarray] = {}
    texts: dict[str, str] = {}
    for name, value in raw.items():
        if not name.startswith("__"):
            _flatten(name, value, arrays, texts, depth=0)
    return arrays, texts


#: How deep struct fields and cells are followed.
MAX_STRUCT_DEPTH = 4


def _flatten(name: str, value, arrays: dict, texts: dict, *, depth: int) -> None:
    """Numeric arrays and texts of a v5 variable, following structs, objects and cells."""
    if not isinstance(value, np.ndarray) or depth > MAX_STRUCT_DEPTH:
        return
    if value.dtype.names is not None:
        if value.size == 1:
            record = value.reshape(-1)[0]
            for field in value.dtype.names:
                _flatten(f"{name}.{field}", record[field], arrays, texts, depth=depth + 1)
    elif value.dtype.kind == "O":
        for i, item in enumerate(value.reshape(-1, order="F")):
            _flatten(f"{name}{{{i + 1}}}", item, arrays, texts, depth=depth + 1)
    elif value.dtype.kind == "U":
        if value.size:
            texts[name] = " ".join(str(v) for v in value.reshape(-1)).strip()
    elif _numeric(value):
        arrays[name] = value


def _numeric(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "biuf"


def _load_v73(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    import h5py

    arrays: dict[str, np.ndarray] = {}
    texts: dict[str, str] = {}
    try:
        with h5py.File(path, "r") as fh:

            def take(name, obj):
                if decode_text(obj.attrs.get("MATLAB_class", b"")) == "char":
                    texts[name] = "".join(chr(c) for c in np.asarray(obj[()]).T.reshape(-1) if c)
                elif obj.dtype.kind in "biuf":
                    arrays[name] = obj[()].T  # MATLAB writes column-major: reverse to MATLAB's shape
                elif obj.dtype == h5py.ref_dtype:  # a cell: its elements are datasets elsewhere
                    for i, ref in enumerate(np.asarray(obj[()]).T.reshape(-1, order="F")):
                        if ref and isinstance(fh[ref], h5py.Dataset):
                            take(f"{name}{{{i + 1}}}", fh[ref])

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset) and not name.startswith("#"):
                    take(name.replace("/", "."), obj)

            fh.visititems(visit)
    except OSError as exc:
        raise unreadable_file("mat", path, exc) from None
    return arrays, texts


def _pick(arrays: dict, key: str | None, what: str, source: str, accept) -> str | None:
    if key is not None:
        if key not in arrays:
            raise FileFormatError(f"{source} has no variable {key!r} for the {what}; it has {sorted(arrays)}.")
        return key
    found = [k for k, v in arrays.items() if accept(v)]
    if len(found) > 1:
        sizes = sorted({arrays[k].size for k in found})
        largest = [k for k in found if arrays[k].size == sizes[-1]]
        if len(largest) > 1:
            raise FileFormatError(
                f"{source} holds several candidates for the {what}: {found}. To fix this, name one "
                f"with the {what.split()[0]}_key option."
            )
        return largest[0]
    return found[0] if found else None


def _short_name(key: str) -> str:
    """The last field of a dotted variable name, without a cell index (``ds.axisscale{2}`` ->
    ``axisscale``)."""
    return re.sub(r"\{\d+\}$", "", key.rsplit(".", 1)[-1]).lower()


def _shape_from_file(arrays: dict) -> tuple[tuple[int, int], str] | None:
    """The image size the file states (``nRow``/``nCol`` variables or a DataSet's
    ``imagesize``), and the variable(s) it came from."""
    lower = {k.lower(): k for k in arrays}
    for rows, cols in _SHAPE_NAMES:
        if rows in lower and cols in lower:
            r, c = arrays[lower[rows]], arrays[lower[cols]]
            if r.size == 1 and c.size == 1:
                return (int(r.item()), int(c.item())), f"the {lower[rows]}/{lower[cols]} variables"
    sizes = [k for k, v in arrays.items() if _short_name(k) in ("imagesize", "image_size") and v.size == 2]
    if len(sizes) == 1:
        h, w = (int(v) for v in np.asarray(arrays[sizes[0]]).reshape(-1))
        return (h, w), f"the {sizes[0]} variable"
    return None


def _axis_key(arrays: dict, data_key: str, lengths: tuple[int, ...]) -> str | None:
    """A 1-D variable named like an axis (or a DataSet ``axisscale``) whose length is one of
    the data's dimensions; fields of the data's own struct first."""
    struct = data_key.rsplit(".", 1)[0] if "." in data_key else ""
    found = [
        k
        for k, v in arrays.items()
        if (_short_name(k) in _AXIS_NAMES or _short_name(k) == "axisscale")
        and v.ndim <= 2
        and min(v.shape, default=1) == 1
        and v.size in lengths
        and v.size > 1
    ]
    found.sort(key=lambda k: not (struct and k.startswith(struct + ".")))
    return found[0] if found else None


def _unit_from_texts(texts: dict, axis_key: str) -> str | None:
    """A unit stated in the titles of the axis's struct ("Raman shift (cm-1)", "Wavelength (nm)")."""
    from chemmap.core.axis import parse_unit

    struct = axis_key.rsplit(".", 1)[0] if "." in axis_key else axis_key
    for key, text in texts.items():
        if not key.startswith(struct):
            continue
        for candidate in re.findall(r"[(\[]\s*([^)\]]+?)\s*[)\]]", text):
            try:
                if parse_unit(candidate)[0] not in (None, "channel"):
                    return candidate
            except AxisError:
                continue
    return None


def flat_to_cube(matrix: np.ndarray, image_shape: tuple[int, int], *, order: str = "F", source: str) -> np.ndarray:
    """A ``(bands, pixels)`` or ``(pixels, bands)`` matrix as an ``(H, W, bands)`` cube.

    ``order="F"`` numbers pixels down the columns (``pixel = row + col * H``, MATLAB);
    ``order="C"`` along the rows (``pixel = row * W + col``).
    """
    h, w = image_shape
    n = h * w
    if matrix.ndim != 2 or n not in matrix.shape:
        raise ShapeError(
            f"{source}: a matrix of shape {matrix.shape} cannot hold {h}x{w} = {n} pixels. To fix this, "
            "check image_shape, or name the right variable with cube_key."
        )
    pixels = matrix.T if matrix.shape[1] == n and matrix.shape[0] != n else matrix
    if order == "F":
        return pixels.reshape(w, h, -1).transpose(1, 0, 2)
    return pixels.reshape(h, w, -1)


def _labels_from(arrays: dict, key: str | None, image_shape, source: str, unlabelled):
    key = _pick(
        arrays,
        key,
        "labels map",
        source,
        lambda v: v.ndim == 2 and v.shape == image_shape and (v.dtype.kind in "iub" or np.all(v == np.round(v))),
    )
    if key is None:
        return None, None, None
    raw = np.asarray(arrays[key])
    if raw.shape != image_shape:
        raise ShapeError(f"{source}: the labels {key!r} have shape {raw.shape}; the cube's image is {image_shape}.")
    raw = raw.astype(np.int64)
    if unlabelled is not None:
        raw = np.where(raw == unlabelled, -1, raw)
    codes, names = encode_labels(raw.reshape(-1))
    return codes.reshape(image_shape), names, key


def read_mat(
    path,
    *,
    cube_key: str | None = None,
    labels_key: str | None = None,
    labels_file=None,
    axis_key: str | None = None,
    axis=None,
    axis_unit: str | None = None,
    image_shape=None,
    order: str = "F",
    layout: str = "auto",
    unlabelled: int | None = 0,
    dtype=None,
) -> Cube:
    """Read a MATLAB cube (v5 or v7.3).

    Parameters
    ----------
    path : str or Path
    cube_key : str, optional
        Variable holding the cube (3-D) or the ``(bands, pixels)`` matrix.
    labels_key : str, optional
        Variable holding a 2-D label map.
    labels_file : str or Path, optional
        A second ``.mat`` file holding the label map (benchmarks ship ground truth apart).
    axis_key, axis : optional
        Variable with the channel positions, or the positions themselves.
    axis_unit : str, optional
        Labels an axis whose unit the file does not state (MATLAB variables carry none; a
        DataSet's titles may), or converts a stated one of the same kind.
    image_shape : (int, int), optional
        For a ``(bands, pixels)`` matrix; read from ``nRow``/``nCol`` variables when present.
    order : {"F", "C"}
        Pixel order of a flat matrix: ``"F"`` = MATLAB column-major, ``"C"`` = row-major.
    layout : {"auto", "bands_last", "bands_first"}
        Where the spectral dimension of a 3-D cube is; ``auto`` takes the dimension whose
        length is the axis variable's, else the last.
    unlabelled : int or None
        Label value meaning "no class" (0 in the usual remote-sensing ground truths);
        negative values are always unlabelled.
    dtype : dtype, optional
        Convert the data; by default the file's type is kept.
    """
    from chemmap._shared.validation import check_choice

    path = Path(path)
    source = path.name
    order = check_choice(order, ("F", "C"), name="order", func="read_mat")
    arrays, texts = load_mat_contents(path)
    if not arrays:
        raise FileFormatError(f"{source} holds no numeric arrays{' (only texts)' if texts else ''}.")
    key = _pick(arrays, cube_key, "cube array", source, lambda v: v.ndim == 3)
    shape_source = f"the array shape in {source}"
    akey = axis_key
    if key is not None and arrays[key].ndim == 3:
        if image_shape is not None:
            raise InvalidParameterError(f"{source} holds a 3-D cube {key!r}; image_shape is only for flat matrices.")
        akey = akey or (None if axis is not None else _axis_key(arrays, key, arrays[key].shape))
        length = np.size(axis) if axis is not None else (arrays[akey].size if akey in arrays else None)
        data, layout_note = move_spectral_last(arrays[key], layout, source=source, axis_length=length)
    else:
        given = parse_image_shape(image_shape)
        stated = None if given else _shape_from_file(arrays)
        if given is None and stated is None:
            raise FileFormatError(
                f"{source} holds no 3-D cube (variables: {sorted((k, v.shape) for k, v in arrays.items())}). "
                "To fix this, give image_shape=(height, width) for a (bands, pixels) matrix, and cube_key= "
                "if several matrices fit."
            )
        shape = given or stated[0]
        n = shape[0] * shape[1]
        key = key or _pick(arrays, None, "cube matrix", source, lambda v: v.ndim == 2 and n in v.shape and v.size > n)
        if key is None:
            raise FileFormatError(f"{source} has no (bands, {n}) matrix for an image of {shape[0]}x{shape[1]} pixels.")
        data, layout_note = flat_to_cube(arrays[key], shape, order=order, source=source), None
        shape_source = "given by the user" if given else f"{stated[1]} of {source}"
        akey = akey or (None if axis is not None else _axis_key(arrays, key, (data.shape[-1],)))
    image = data.shape[:2]
    label_arrays, label_source = arrays, source
    if labels_file is not None:
        label_arrays, label_source = load_mat_arrays(Path(labels_file)), Path(labels_file).name
    label_arrays = {k: v for k, v in label_arrays.items() if k != key}
    labels, names, found_labels = _labels_from(label_arrays, labels_key, image, label_source, unlabelled)
    stated_unit = None
    if axis is None and akey is not None:
        if akey not in arrays:
            raise FileFormatError(f"{source} has no variable {akey!r} for the axis; it has {sorted(arrays)}.")
        axis = np.asarray(arrays[akey], dtype=np.float64).reshape(-1)
        stated_unit = _unit_from_texts(texts, akey)
    cube = build_cube(
        data,
        axis,
        stated_unit,
        requested_unit=axis_unit,
        source=source,
        labels=labels,
        label_names=names,
        dtype=dtype,
        attrs={
            "format": "mat",
            "mat_variable": key,
            "dataset": f"{key} ({' x '.join(str(n) for n in arrays[key].shape)})",
            "labels_variable": found_labels,
            "axis_variable": akey,
            "image_shape_source": shape_source,
        },
    )
    if layout_note:
        cube.attrs["layout_note"] = layout_note
    return cube


def _is_mat(path: Path) -> bool:
    head = file_head(path, 128)
    return head.startswith(b"MATLAB") or b"MATLAB 7.3" in head or head[:8] == HDF5_SIGNATURE


readers.register(
    "mat", ReaderEntry("mat", (".mat",), read_mat, "MATLAB v5 / v7.3 cube, label map and axis", sniff=_is_mat)
)
