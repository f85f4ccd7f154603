"""Synthetic cubes with ground truth: the seed demo image and harder region scenes."""

from __future__ import annotations

import numpy as np

from chemmap._shared.validation import check_int, check_number, check_random_state
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube

__all__ = ["gaussian_band", "make_demo_cube", "make_large_cube", "make_regions_cube"]


def gaussian_band(x: np.ndarray, center: float, variance_term: float) -> np.ndarray:
    """``G(c, v) = exp(-(x - c)^2 / v)`` as written in the mapping workflow document."""
    return np.exp(-((x - center) ** 2) / variance_term)


def make_demo_cube(*, random_state: int = 42, noise: float = 0.05, image_shape: tuple[int, int] = (30, 30)) -> Cube:
    """The seed example: 30 x 30 pixels (or ``image_shape``), 200 channels over 600–1800 cm-1.

    Left half (columns below ``width // 2``): ``1.8·G(1655, 2000) + 1.2·G(1450, 1500)``; right
    half: ``1.0·G(1655, 2000) + 1.8·G(1742, 1800)``; Gaussian noise of standard deviation
    ``noise`` drawn with seed ``random_state``. Labels: 0 = "left", 1 = "right". Large images
    are built in bands of rows, so memory stays near the float32 cube's size.

    Returns
    -------
    Cube
        float32 data, axis in cm-1, ground-truth labels.
    """
    rng = np.random.default_rng(random_state)
    (h, w), n = image_shape, 200
    x = np.linspace(600.0, 1800.0, n)
    left = 1.8 * gaussian_band(x, 1655, 2000) + 1.2 * gaussian_band(x, 1450, 1500)
    right = 1.0 * gaussian_band(x, 1655, 2000) + 1.8 * gaussian_band(x, 1742, 1800)
    labels = np.zeros((h, w), dtype=np.int64)
    labels[:, w // 2 :] = 1
    clean_row = np.where(labels[0, :, None] == 0, left, right)
    data = np.empty((h, w, n), dtype=np.float32)
    band = max(1, 2**22 // (w * n))
    for r in range(0, h, band):
        rows = min(band, h - r)
        data[r : r + rows] = clean_row + rng.normal(0.0, noise, size=(rows, w, n))
    return Cube(
        data,
        SpectralAxis(x, "cm-1"),
        labels=labels,
        label_names={0: "left", 1: "right"},
        attrs={
            "source": f"chemmap demo (synthetic, seed {random_state})",
            "image_shape_source": f"the demo generator ({h} x {w})",
        },
    )


def _irregular_regions(shape, n_regions, rng, min_fraction=0.04):
    """Label image of ``n_regions`` irregular blobs (warped Voronoi cells)."""
    from scipy.ndimage import gaussian_filter

    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w]
    for _ in range(100):
        seeds = rng.uniform([0, 0], [h, w], size=(n_regions, 2))
        dist = np.stack([np.hypot(rows - r, cols - c) for r, c in seeds])
        warp = np.stack([gaussian_filter(rng.normal(size=shape), sigma=max(h, w) / 10) for _ in range(n_regions)])
        warp *= 0.25 * max(h, w) / np.abs(warp).max()
        labels = np.argmin(dist + warp, axis=0)
        counts = np.bincount(labels.ravel(), minlength=n_regions)
        if counts.min() >= min_fraction * h * w:
            return labels
    raise RuntimeError("Could not draw regions of a reasonable size; use a larger image.")


def make_regions_cube(
    *,
    n_regions: int = 4,
    image_shape: tuple[int, int] = (64, 64),
    n_channels: int = 300,
    axis_range: tuple[float, float] = (600.0, 1800.0),
    snr: float = 10.0,
    baseline_drift: float = 1.0,
    scatter: float = 0.2,
    random_state: int | None = 0,
) -> Cube:
    """A harder scene: irregular regions of different chemistry under realistic nuisances.

    Every region's pure spectrum shares a common matrix spectrum (four bands) and adds two
    bands of its own. Each pixel then gets multiplicative scatter (a factor drawn from
    ``1 ± scatter``), an additive offset and a smooth polynomial baseline that drifts across
    the image (scaled by ``baseline_drift``), and white noise with standard deviation
    ``peak height / snr``.

    Parameters
    ----------
    n_regions : int
        Number of regions (the true k).
    image_shape : (int, int)
        ``(height, width)`` in pixels.
    n_channels : int
        Channels on a cm-1 axis over ``axis_range``.
    snr : float
        Ratio of the mean pure-spectrum maximum to the noise standard deviation.
    baseline_drift : float
        Size of the baseline relative to the peak height (0 disables it).
    scatter : float
        Half-range of the multiplicative scatter factor (0 disables it).
    random_state : int or None
        Seed.

    Returns
    -------
    Cube
        float32 data with ground-truth ``labels`` (0..n_regions-1) and
        ``attrs["pure_spectra"]`` of shape (n_regions, n_channels).
    """
    n_regions = check_int(n_regions, name="n_regions", func="make_regions_cube", low=1)
    snr = check_number(snr, name="snr", func="make_regions_cube", low=0, low_inclusive=False)
    rng = check_random_state(random_state)
    h, w = image_shape
    x = np.linspace(*axis_range, n_channels)
    span = axis_range[1] - axis_range[0]
    lo, hi = axis_range[0] + 0.05 * span, axis_range[1] - 0.05 * span

    def bands(count, amp_range):
        centres = rng.uniform(lo, hi, count)
        widths = rng.uniform(0.008, 0.025, count) * span
        amps = rng.uniform(*amp_range, count)
        return sum(a * np.exp(-0.5 * ((x - c) / s) ** 2) for a, c, s in zip(amps, centres, widths, strict=True))

    matrix = bands(4, (0.4, 1.0))
    pure = np.stack([matrix + bands(2, (0.5, 1.0)) for _ in range(n_regions)])
    labels = _irregular_regions((h, w), n_regions, rng)
    clean = pure[labels]  # (h, w, c)

    t = (x - x.min()) / span
    rows, cols = np.mgrid[0:h, 0:w] / max(h, w)
    coef = rng.normal(size=(3, 3))
    poly_terms = [np.ones_like(t), t, t**2]
    baseline = sum((coef[k, 0] + coef[k, 1] * rows + coef[k, 2] * cols)[..., None] * poly_terms[k] for k in range(3))
    baseline = baseline_drift * 0.5 * baseline / max(np.abs(baseline).max(), 1e-12)
    factor = 1.0 + rng.uniform(-scatter, scatter, size=(h, w, 1))
    offset = rng.uniform(0.0, 0.2 * baseline_drift, size=(h, w, 1))
    sigma = pure.max(axis=1).mean() / snr
    data = factor * clean + baseline + offset + rng.normal(0.0, sigma, size=clean.shape)
    return Cube(
        data.astype(np.float32),
        SpectralAxis(x, "cm-1"),
        labels=labels,
        label_names={i: f"region {i}" for i in range(n_regions)},
        attrs={
            "source": "chemmap synthetic regions",
            "pure_spectra": pure.astype(np.float32),
            "noise_sigma": float(sigma),
        },
    )


def make_large_cube(
    image_shape: tuple[int, int],
    *,
    n_channels: int = 256,
    n_regions: int = 5,
    snr: float = 10.0,
    scatter: float = 0.2,
    chunk_bytes: int = 16 * 2**20,
    random_state: int = 0,
) -> Cube:
    """A lazy cube of any size with ground truth, generated chunk by chunk (for scaling tests).

    Regions are warped Voronoi cells drawn at a reduced resolution (at most 256 pixels on
    the long side) and enlarged, so the labels of a 10^8-pixel image cost little. Each pixel
    is its region's pure spectrum (a shared matrix spectrum plus two bands of its own, on a
    400–1000 nm axis) times a scatter factor ``1 ± scatter``, plus white noise of standard
    deviation ``peak height / snr``. Every chunk is drawn from a generator seeded by
    ``(random_state, first row)``, so the cube is the same however it is computed.

    Returns
    -------
    Cube
        Dask-backed float32 data in chunks of whole rows (about ``chunk_bytes``), with
        ``labels`` in memory and ``attrs["pure_spectra"]``.
    """
    import dask.array as da

    h, w = (check_int(v, name="image_shape", func="make_large_cube", low=1) for v in image_shape)
    rng = check_random_state(random_state)
    x = np.linspace(400.0, 1000.0, n_channels)

    def bands(count, amp_range):
        centres = rng.uniform(430.0, 970.0, count)
        widths = rng.uniform(5.0, 15.0, count)
        amps = rng.uniform(*amp_range, count)
        return sum(a * np.exp(-0.5 * ((x - c) / s) ** 2) for a, c, s in zip(amps, centres, widths, strict=True))

    matrix = bands(4, (0.4, 1.0))
    pure = np.stack([matrix + bands(2, (0.3, 0.6)) for _ in range(n_regions)]).astype(np.float32)
    scale = max(1, int(np.ceil(max(h, w) / 256)))
    small = _irregular_regions((-(-h // scale), -(-w // scale)), n_regions, rng)
    labels = small[np.arange(h)[:, None] // scale, np.arange(w)[None, :] // scale]
    sigma = np.float32(pure.max(axis=1).mean() / snr)
    rows = max(1, min(h, chunk_bytes // max(1, w * n_channels * 4)))
    lab = da.from_array(labels.astype(np.int8), chunks=(rows, w))

    def draw(block_labels, block_info=None):
        first = block_info[0]["array-location"][0][0]
        gen = np.random.default_rng([int(random_state), int(first)])
        factor = 1.0 + gen.uniform(-scatter, scatter, size=(*block_labels.shape, 1)).astype(np.float32)
        noise = gen.standard_normal((*block_labels.shape, n_channels), dtype=np.float32) * sigma
        return factor * pure[block_labels] + noise

    data = lab.map_blocks(draw, new_axis=2, chunks=(lab.chunks[0], lab.chunks[1], (n_channels,)), dtype=np.float32)
    return Cube(
        data,
        SpectralAxis(x, "nm"),
        labels=labels,
        attrs={"source": f"chemmap large synthetic cube (seed {random_state})", "pure_spectra": pure},
    )
