"""Features for clustering pixels: spectra, PCA scores or band ratios."""

from __future__ import annotations

import warnings

import numpy as np

from chemmap._shared.compute import compute, ensure_fits, result_fits, spill
from chemmap._shared.estimator import Estimator
from chemmap._shared.progress import ProgressCallback
from chemmap._shared.validation import check_choice
from chemmap.core.cube import Cube, is_lazy_array
from chemmap.core.exceptions import InvalidParameterError, NotFittedError
from chemmap.decomposition.pca import StreamingPCA

__all__ = ["FEATURE_KINDS", "PixelFeatures"]

FEATURE_KINDS = ("spectra", "pca", "ratios")


class PixelFeatures(Estimator):
    """Turns valid pixels into a feature matrix (a scikit-learn style transformer).

    Parameters
    ----------
    kind : {"spectra", "pca", "ratios"}
        ``spectra``: the spectra as they are; ``pca``: principal-component scores;
        ``ratios``: standardised band ratios (pixels whose denominator is below its
        quantification limit get the largest ratio seen, as the ratio is beyond it).
    n_components : int or float
        PCA: number of components, or a fraction (0, 1) of explained variance to keep.
    ratios : list of (float, float)
        Band pairs (numerator, denominator) in axis units, for ``kind="ratios"``.
    window : float, optional
        Window of the ratio bands, in axis units.
    random_state : int, optional
        Seed of the PCA fit sample (see :class:`~chemmap.decomposition.StreamingPCA`).

    Attributes
    ----------
    n_components_ : int
        Number of features produced.
    explained_variance_ratio_ : ndarray
        PCA only.
    pca_ : StreamingPCA
        PCA only: the fitted basis.
    mean_, scale_, fill_ : ndarray
        Ratios only: standardisation learned at fit, and the value given to pixels whose
        ratio is undefined (the largest ratio seen, as the ratio is beyond it).
    """

    def __init__(
        self, kind: str = "pca", *, n_components: float = 10, ratios=(), window=None, random_state: int | None = 0
    ) -> None:
        self.kind = kind
        self.n_components = n_components
        self.ratios = ratios
        self.window = window
        self.random_state = random_state

    def fit(self, cube: Cube, *, progress: ProgressCallback | None = None) -> PixelFeatures:
        """Learn the basis (PCA) or the scaling (ratios) from the valid pixels of ``cube``."""
        check_choice(self.kind, FEATURE_KINDS, name="features", func="clustering")
        if self.kind == "spectra":
            self.n_components_ = cube.n_channels
        elif self.kind == "pca":
            self.pca_ = StreamingPCA(self.n_components, random_state=self.random_state).fit(cube, progress=progress)
            self.n_components_ = self.pca_.n_components_
            self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        else:
            raw, _ = _gather(self._raw_ratios(cube), cube, "band ratios", progress)
            finite = np.isfinite(raw)  # NumPy or, when spilled to disk, Dask: the same calls
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "All-NaN", RuntimeWarning)
                (fill,) = compute(np.nanmax(np.where(finite, raw, np.nan), axis=0), stage="ratio range")
            self.fill_ = np.nan_to_num(np.asarray(fill, dtype=np.float64), nan=0.0)
            filled = np.where(finite, raw, self.fill_)
            mean, std = compute(filled.mean(axis=0), filled.std(axis=0), stage="ratio scaling")
            self.mean_, self.scale_ = np.asarray(mean), np.where(np.asarray(std) > 0, std, 1.0)
            self.n_components_ = raw.shape[1]
        return self

    def feature_image(self, cube: Cube):
        """Features of every pixel, ``(height, width, n_features)`` float32; lazy for a lazy cube."""
        if not hasattr(self, "n_components_"):
            raise NotFittedError("PixelFeatures is not fitted; call fit first.")
        if self.kind == "spectra":
            return cube.data.astype(np.float32)
        if self.kind == "pca":
            return self.pca_.transform(cube)
        raw = self._raw_ratios(cube)
        return ((np.where(np.isfinite(raw), raw, self.fill_) - self.mean_) / self.scale_).astype(np.float32)

    def transform(self, cube: Cube, *, progress: ProgressCallback | None = None, compute_with=()):
        """Features of the valid pixels of ``cube``, ``(n_valid, n_features)``: in memory, or
        for a lazy cube whose features exceed half the memory limit, a Dask array over a
        temporary Zarr store (see :func:`~chemmap._shared.compute.spill`).

        ``compute_with``: other lazy arrays over the same cube (maps) computed in the same
        pass, so the cube is read once; then ``(features, [computed arrays])`` is returned.
        """
        features, others = _gather(self.feature_image(cube), cube, "features", progress, compute_with)
        return (features, others) if compute_with else features

    def fit_transform(self, cube: Cube, *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Fit on ``cube`` and return the features of its valid pixels, ``(n_valid, n_features)``."""
        return self.fit(cube, progress=progress).transform(cube, progress=progress)

    def _raw_ratios(self, cube: Cube):
        """Unscaled band ratios, ``(height, width, n_ratios)`` (NaN where undefined)."""
        from chemmap.maps.bands import ratio_map

        if not self.ratios:
            raise InvalidParameterError(
                "features='ratios' needs band pairs: give --ratio A/B on the command line, ratios = [[A, B]] "
                "in [clustering] (or ratio in [maps]) of a config, or ratios=[(A, B), ...] in the API."
            )
        maps = [ratio_map(cube, num, den, window=self.window).data[..., 0] for num, den in self.ratios]
        return np.stack(maps, axis=-1).astype(np.float64)


def _gather(image, cube: Cube, stage: str, progress, compute_with=()) -> tuple[object, list[np.ndarray]]:
    """The valid-pixel rows of an image-shaped result, and the ``compute_with`` arrays, all
    computed in one pass: into memory (a view when every pixel is valid), or, for a lazy
    result above the results' share of the memory limit, into a temporary Zarr store read
    back as a Dask array."""
    for other in compute_with:
        ensure_fits(other, what=f"the maps computed with the {stage}")
    if is_lazy_array(image) and not result_fits(image):
        flat = image.reshape(-1, image.shape[-1])
        rows = flat if cube.mask is None else flat[cube.valid_pixels()]
        return spill(rows, *compute_with, stage=f"{stage} (to disk)", progress=progress)
    ensure_fits(image, what=f"the {stage} of every pixel")
    values, *others = compute(image, *compute_with, stage=stage, progress=progress)
    values = np.asarray(values)
    flat = values.reshape(-1, values.shape[-1])
    rows = flat if cube.mask is None else flat[cube.valid_pixels()]
    return rows, [np.asarray(o) for o in others]
