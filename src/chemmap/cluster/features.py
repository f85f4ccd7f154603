"""Features for clustering pixels: spectra, PCA scores or band ratios."""

from __future__ import annotations

import numpy as np

from chemmap._shared.validation import check_choice, check_random_state
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError

__all__ = ["FEATURE_KINDS", "PixelFeatures"]

FEATURE_KINDS = ("spectra", "pca", "ratios")

#: Pixels used to fit the PCA basis; the rest are projected onto it.
PCA_FIT_SAMPLE = 100_000


class PixelFeatures:
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
        Seed of the PCA fit sample.

    Attributes
    ----------
    n_components_ : int
        Number of features produced.
    explained_variance_ratio_ : ndarray
        PCA only.
    """

    def __init__(
        self, kind: str = "pca", *, n_components: float = 10, ratios=(), window=None, random_state: int | None = 0
    ) -> None:
        self.kind = kind
        self.n_components = n_components
        self.ratios = ratios
        self.window = window
        self.random_state = random_state

    def fit_transform(self, cube: Cube) -> np.ndarray:
        """Features of the valid pixels of ``cube``, shape ``(n_valid, n_features)``."""
        check_choice(self.kind, FEATURE_KINDS, name="features", func="clustering")
        valid = cube.valid_pixels()
        if self.kind == "ratios":
            return self._ratios(cube, valid)
        x = np.asarray(cube.pixels()[valid], dtype=np.float32)
        if self.kind == "spectra":
            self.n_components_ = x.shape[1]
            return x
        return self._pca(x)

    def transform(self, cube: Cube) -> np.ndarray:
        """Features of the valid pixels of another cube, with the fitted basis."""
        if not hasattr(self, "n_components_"):
            from chemmap.core.exceptions import NotFittedError

            raise NotFittedError("PixelFeatures is not fitted; call fit_transform first.")
        valid = cube.valid_pixels()
        if self.kind == "ratios":
            return self._ratios(cube, valid)
        x = np.asarray(cube.pixels()[valid], dtype=np.float32)
        return x if self.kind == "spectra" else self.pca_.transform(x).astype(np.float32)

    def _pca(self, x: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        n = self.n_components
        limit = min(x.shape)
        if isinstance(n, float) and 0 < n < 1:
            arg = n
        elif isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 1:
            arg = int(min(n, limit))
        else:
            raise InvalidParameterError(f"n_components must be an int >= 1 or a float in (0, 1); got {n!r}.")
        rng = check_random_state(self.random_state)
        fit_rows = x if x.shape[0] <= PCA_FIT_SAMPLE else x[rng.choice(x.shape[0], PCA_FIT_SAMPLE, replace=False)]
        pca = PCA(n_components=arg, svd_solver="full").fit(fit_rows)
        self.pca_ = pca
        self.n_components_ = int(pca.n_components_)
        self.explained_variance_ratio_ = pca.explained_variance_ratio_
        return pca.transform(x).astype(np.float32)

    def _ratios(self, cube: Cube, valid: np.ndarray) -> np.ndarray:
        from chemmap.maps.bands import ratio_map

        if not self.ratios:
            raise InvalidParameterError("features='ratios' needs ratios=[(numerator, denominator), ...].")
        cols = []
        for num, den in self.ratios:
            m = ratio_map(cube, num, den, window=self.window)
            values = m[m.map_names[0]].reshape(-1)[valid].astype(np.float64)
            finite = np.isfinite(values)
            fill = values[finite].max() if finite.any() else 0.0
            values[~finite] = fill
            cols.append(values)
        feats = np.stack(cols, axis=1)
        std = feats.std(axis=0)
        feats = (feats - feats.mean(axis=0)) / np.where(std > 0, std, 1.0)
        self.n_components_ = feats.shape[1]
        return feats.astype(np.float32)
