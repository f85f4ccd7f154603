"""Assemble per-pixel spectra stored as rows (flat tables) into a Cube."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from chemmap._shared.compute import ensure_bytes_fit
from chemmap.core.axis import SpectralAxis, sort_order
from chemmap.core.cube import Cube
from chemmap.core.exceptions import DataWarning, FileFormatError, InvalidParameterError, ShapeError

__all__ = ["assemble_flat", "check_row_width", "encode_labels", "factor_pairs", "parse_image_shape"]


def factor_pairs(n: int) -> list[tuple[int, int]]:
    """All ``(height, width)`` with ``height * width == n``."""
    return [(h, n // h) for h in range(1, n + 1) if n % h == 0]


def _describe_factor_pairs(n: int, limit: int = 12) -> str:
    pairs = factor_pairs(n)
    if len(pairs) > limit:  # show those nearest to square, which are the likely shapes
        pairs = sorted(pairs, key=lambda p: abs(np.log(p[0] / p[1])))[:limit]
        pairs.sort()
    return ", ".join(f"{h}x{w}" for h, w in pairs)


def parse_image_shape(image_shape, *, source: str = "image_shape") -> tuple[int, int] | None:
    """Validate ``(height, width)``; ``None`` passes through."""
    if image_shape is None:
        return None
    try:
        h, w = (int(v) for v in image_shape)
        ok = all(float(v) == int(v) for v in image_shape)
    except (TypeError, ValueError):
        ok = False
    if not ok or h < 1 or w < 1:
        raise InvalidParameterError(f"{source} must be two positive integers (height, width); got {image_shape!r}.")
    return h, w


def encode_labels(raw: np.ndarray, names: dict | None = None) -> tuple[np.ndarray, dict[int, str]]:
    """Turn a label column (ints, floats with NaN, or strings) into int codes and names.

    Unlabelled entries (NaN, empty string, negative ints) become ``-1``. Strings get
    codes 0..n-1 in sorted order.
    """
    raw = np.asarray(raw)
    if raw.dtype.kind in "iu":
        codes = raw.astype(np.int64)
        codes[codes < 0] = -1
    elif raw.dtype.kind == "f":
        missing = ~np.isfinite(raw)
        if np.any(raw[~missing] != np.round(raw[~missing])):
            raise FileFormatError("The label column holds non-integer numbers; labels must be classes.")
        codes = np.where(missing, -1, raw).astype(np.int64)
        codes[codes < 0] = -1
    else:
        text = np.array(["" if v is None or v != v else str(v).strip() for v in raw], dtype=object)
        classes = sorted({t for t in text if t})
        lookup = {c: i for i, c in enumerate(classes)}
        codes = np.array([lookup.get(t, -1) for t in text], dtype=np.int64)
        return codes, {i: c for c, i in lookup.items()}
    present = sorted(int(v) for v in np.unique(codes) if v >= 0)
    names = names or {}
    return codes, {v: str(names.get(v, v)) for v in present}


#: Pixel pairs sampled to compare vertical neighbours with random pairs, and the principal
#: components they are compared in.
SHAPE_CHECK_PAIRS = 4000
SHAPE_CHECK_COMPONENTS = 5
#: Vertical neighbours this alike to random pairs (median distance ratio) look sheared ...
SHEARED_RATIO = 0.9
#: ... when another width brings them below this share of that ratio;
BETTER_WIDTH_SHARE = 0.75
#: from this ratio up, a width that brings them below the second share is evidence enough.
DOUBTFUL_RATIO, CLEARLY_BETTER_SHARE = 0.75, 0.6


def check_row_width(spectra: np.ndarray, width: int, *, source: str, seed: int = 0) -> dict:
    """Whether rows of a table without coordinates fold into an image of ``width`` columns.

    In a right row-major image, pixel ``i`` and pixel ``i + width`` (the one below) are more
    alike than two pixels drawn at random; with a wrong width of the right pixel count, they
    are not, and the image comes out sheared. The median distance (in the leading principal
    components) of ``SHAPE_CHECK_PAIRS`` sampled vertical pairs over that of random pairs is
    computed for every width that
    divides the row count; when the given width's ratio is above ``SHEARED_RATIO`` and some
    other width's is under ``BETTER_WIDTH_SHARE`` of it (or above ``DOUBTFUL_RATIO`` with one
    under ``CLEARLY_BETTER_SHARE`` of it), a ``DataWarning`` names those
    widths (the most alike first, then the nearest to square).

    Returns
    -------
    dict
        ``ratio`` of the given width, ``better_widths`` (possibly empty) and ``sheared``.
    """

    n = spectra.shape[0]
    rng = np.random.default_rng(seed)
    nothing = {"ratio": None, "better_widths": [], "sheared": False}
    if n < 16:
        return nothing
    # distances in the leading principal components: the noise of the other channels would
    # make every pair look alike
    rows = spectra[rng.integers(0, n, SHAPE_CHECK_PAIRS)].astype(np.float64)
    rows = rows[np.all(np.isfinite(rows), axis=1)]
    if rows.shape[0] < 16:
        return nothing
    basis = np.linalg.svd(rows - rows.mean(axis=0), full_matrices=False)[2][:SHAPE_CHECK_COMPONENTS].T

    def distance(first: np.ndarray, second: np.ndarray) -> float:
        """Median distance of the sampled pairs in the components (rows with NaN left out)."""
        gaps = np.linalg.norm((spectra[first].astype(np.float64) - spectra[second]) @ basis, axis=1)
        gaps = gaps[np.isfinite(gaps)]
        return float(np.median(gaps)) if gaps.size >= 16 else np.nan

    random_distance = distance(rng.integers(0, n, SHAPE_CHECK_PAIRS), rng.integers(0, n, SHAPE_CHECK_PAIRS))
    if not random_distance > 0:
        return nothing

    def ratio(w: int) -> float:
        top = rng.integers(0, n - w, min(SHAPE_CHECK_PAIRS, n - w))
        return distance(top, top + w) / random_distance

    ratios = {w: ratio(w) for h, w in factor_pairs(n) if h >= 2 and w >= 2}
    given = ratios.get(width)
    if given is None or not np.isfinite(given):
        return nothing
    better = [w for w, r in ratios.items() if w != width and r < BETTER_WIDTH_SHARE * given]
    better.sort(key=lambda w: (round(ratios[w], 1), abs(np.log(w * w / n))))  # most alike, then most square
    best = min((ratios[w] for w in better), default=np.inf)
    sheared = bool(better) and (
        given > SHEARED_RATIO or (given > DOUBTFUL_RATIO and best < CLEARLY_BETTER_SHARE * given)
    )
    if sheared:
        shapes = ", ".join(f"{n // w} x {w}" for w in better[:4])
        warnings.warn(
            f"{source}: with {n // width} x {width} pixels, pixels and the ones below them are as different as "
            f"random pairs (distance ratio {given:.2f}): the image looks sheared. Shapes whose vertical "
            f"neighbours are alike: {shapes}. To fix this, give the instrument's image shape (or add "
            "pixel_x/pixel_y columns); rows written column by column need the transposed shape.",
            DataWarning,
            stacklevel=4,
        )
    return {"ratio": round(given, 3), "better_widths": better[:4], "sheared": sheared}


def _coordinates(values, name: str, origin: int, source: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise FileFormatError(f"{source}: column {name!r} must hold whole pixel numbers.")
    elif arr.dtype.kind not in "iu":
        raise FileFormatError(f"{source}: column {name!r} must hold integers; got {arr.dtype}.")
    return arr.astype(np.int64) - int(origin)


def assemble_flat(
    spectra: np.ndarray,
    axis_values: Sequence[float],
    *,
    unit: str,
    source: str,
    image_shape=None,
    pixel_x=None,
    pixel_y=None,
    labels=None,
    label_names: dict | None = None,
    mask=None,
    coordinate_origin: int = 0,
    dtype=np.float32,
    attrs: dict | None = None,
) -> Cube:
    """Build a Cube from flat rows of spectra.

    Parameters
    ----------
    spectra : ndarray of shape (n_rows, n_channels)
        One spectrum per row.
    axis_values : array-like of shape (n_channels,)
        Channel positions; sorted here (reversed axes with a warning, duplicates refused).
    unit : str
        Axis unit.
    source : str
        File name for messages and provenance.
    image_shape : (int, int), optional
        ``(height, width)``; required unless ``pixel_x`` and ``pixel_y`` are given.
    pixel_x, pixel_y : ndarray of int, shape (n_rows,), optional
        Column and row of each spectrum. Rows may come in any order; pixels that no row
        fills are masked.
    labels : ndarray of shape (n_rows,), optional
        Ground-truth class of each row.
    mask : ndarray of bool, shape (n_rows,), optional
        Rows that belong to the sample.
    coordinate_origin : int
        Value of the first column/row in ``pixel_x``/``pixel_y`` (0 or 1).

    Returns
    -------
    Cube
        Pixels with NaN/Inf values or no row are masked; ``attrs`` counts them.
    """
    spectra = np.asarray(spectra)
    if spectra.ndim != 2 or spectra.shape[0] == 0:
        raise FileFormatError(f"{source} holds no spectra (found an array of shape {spectra.shape}).")
    n_rows, n_channels = spectra.shape
    order = sort_order(axis_values, source=f"The spectral axis of {source}")
    axis_values = np.asarray(axis_values, dtype=np.float64)
    if len(axis_values) != n_channels:
        raise ShapeError(
            f"The spectral axis of {source} has {len(axis_values)} values but the spectra have {n_channels} channels."
        )
    if order is not None:
        spectra, axis_values = spectra[:, order], axis_values[order]
    axis = SpectralAxis(axis_values, unit)
    image_shape = parse_image_shape(image_shape)
    attrs = dict(attrs or {})
    attrs["source"] = str(source)

    if (pixel_x is None) != (pixel_y is None):
        raise InvalidParameterError("pixel_x and pixel_y must be given together.")
    if pixel_x is not None:
        cols = _coordinates(pixel_x, "pixel_x", coordinate_origin, source)
        rows = _coordinates(pixel_y, "pixel_y", coordinate_origin, source)
        if image_shape is None:
            if cols.min() < 0 or rows.min() < 0:
                raise FileFormatError(
                    f"{source}: pixel coordinates start below {coordinate_origin}; "
                    "set coordinate_origin to the smallest value used."
                )
            image_shape = (int(rows.max()) + 1, int(cols.max()) + 1)
            attrs["image_shape_source"] = "largest pixel_x/pixel_y in the file"
        else:
            attrs["image_shape_source"] = "given by the user"
        h, w = image_shape
        bad = (cols < 0) | (cols >= w) | (rows < 0) | (rows >= h)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ShapeError(
                f"{source}: row {i} has pixel_x={cols[i] + coordinate_origin}, "
                f"pixel_y={rows[i] + coordinate_origin}, outside the image of {h} x {w} pixels "
                f"(expected pixel_x in {coordinate_origin}..{w - 1 + coordinate_origin}, pixel_y in "
                f"{coordinate_origin}..{h - 1 + coordinate_origin}). To fix this, check "
                "image_shape or set coordinate_origin=1 for 1-based coordinates."
            )
        flat_index = rows * w + cols
        uniq, counts = np.unique(flat_index, return_counts=True)
        if np.any(counts > 1):
            dup = int(uniq[counts > 1][0])
            raise FileFormatError(
                f"{source}: {int(np.sum(counts > 1))} pixels have more than one row, e.g. "
                f"pixel_x={dup % w + coordinate_origin}, pixel_y={dup // w + coordinate_origin}. "
                "Each pixel needs exactly one spectrum."
            )
    else:
        if image_shape is None:
            raise ShapeError(
                f"{source} has {n_rows} spectra but no image_shape and no pixel_x/pixel_y "
                f"columns. Possible (height, width): {_describe_factor_pairs(n_rows)}. "
                "To fix this, give image_shape (--image-shape H W on the command line)."
            )
        h, w = image_shape
        if h * w != n_rows:
            raise ShapeError(
                f"image_shape {h} x {w} gives {h * w} pixels but {source} has {n_rows} spectra "
                f"(n_pixels != height x width). Factor pairs of {n_rows}: "
                f"{_describe_factor_pairs(n_rows)}. To fix this, give the instrument's image "
                "shape, or add pixel_x/pixel_y columns."
            )
        flat_index = np.arange(n_rows)
        attrs["image_shape_source"] = "given by the user"
        attrs["image_shape_check"] = check_row_width(spectra, w, source=source)

    n_pixels = h * w
    ensure_bytes_fit(
        n_pixels * n_channels * np.dtype(dtype).itemsize,
        what=f"the {h} x {w} image of {n_channels} channels that the {n_rows} spectra of {source} are placed in",
        fix="check image_shape and the pixel_x/pixel_y columns (one far-off coordinate makes a huge, empty image), "
        "or raise --memory-limit",
    )
    if n_pixels > 2 * n_rows:
        warnings.warn(
            f"{source}: its {n_rows} spectra fill {100 * n_rows / n_pixels:.1f} % of the {h} x {w} image "
            f"({attrs['image_shape_source']}); the other {n_pixels - n_rows} pixels hold no spectrum and are masked. "
            "If the sample fills the scan, check the pixel_x/pixel_y columns (a stray coordinate stretches the "
            "image) or give image_shape (--image-shape H W).",
            DataWarning,
            stacklevel=3,
        )
    data = np.full((n_pixels, n_channels), np.nan, dtype=dtype)
    data[flat_index] = spectra
    present = np.zeros(n_pixels, dtype=bool)
    present[flat_index] = True
    finite = np.zeros(n_pixels, dtype=bool)
    finite[flat_index] = np.all(np.isfinite(spectra), axis=1)
    sample = np.ones(n_pixels, dtype=bool)
    if mask is not None:
        sample[flat_index] = np.asarray(mask, dtype=bool)
    attrs["n_missing_pixels"] = int(n_pixels - present.sum())
    attrs["n_nonfinite_pixels"] = int((present & ~finite).sum())
    full_mask = present & finite & sample

    label_image = None
    names = None
    if labels is not None:
        codes, names = encode_labels(labels, label_names)
        label_image = np.full(n_pixels, -1, dtype=np.int64)
        label_image[flat_index] = codes
        label_image = label_image.reshape(h, w)
    return Cube(
        data.reshape(h, w, n_channels),
        axis,
        mask=full_mask.reshape(h, w),
        labels=label_image,
        label_names=names,
        attrs=attrs,
    )
