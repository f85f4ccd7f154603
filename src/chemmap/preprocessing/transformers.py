"""scikit-learn transformers over the preprocessing steps, for ``(n_pixels, n_channels)`` matrices.

``SpectralTransformer("normalize", {"method": "msc"}, axis=wavelengths)`` runs exactly the
code of the named step, so ``sklearn.pipeline.Pipeline`` on pixel matrices and a chemmap
:class:`~chemmap.preprocessing.Chain` on cubes give the same numbers.
"""

from __future__ import annotations

import numpy as np

from chemmap._shared.estimator import Estimator, TransformerMixin
from chemmap._shared.validation import check_fitted_features, check_pixel_matrix
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, NotFittedError
from chemmap.preprocessing.chain import Chain

__all__ = ["SPATIAL_STEPS", "SpectralTransformer"]

#: Steps that work across pixels; they need an image, not a pixel matrix.
SPATIAL_STEPS = ("spatial_gaussian", "spatial_median", "destripe", "flat_field", "mask_low_snr_bands")


class SpectralTransformer(TransformerMixin, Estimator):
    """One preprocessing step as a scikit-learn transformer.

    Parameters
    ----------
    step : str
        A step name of :data:`chemmap.preprocessing.steps` (``"baseline"``, ``"normalize"``,
        ``"savgol"``, ``"despike"``, ...), except the spatial ones.
    params : dict, optional
        The step's parameters, validated at ``fit``.
    axis : array-like of shape (n_channels,), optional
        Channel positions (default: channel numbers); needed by steps whose parameters are
        in axis units.
    axis_unit : str
        Unit of ``axis``.

    Attributes
    ----------
    chain_ : Chain
        The fitted one-step chain (learned values, e.g. an MSC reference, frozen).
    n_features_in_ : int
    """

    def __init__(self, step: str = "normalize", params: dict | None = None, *, axis=None, axis_unit: str = "channel"):
        self.step = step
        self.params = params
        self.axis = axis
        self.axis_unit = axis_unit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN pixels stay NaN, as masked pixels of a cube do
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _as_cube(self, X) -> Cube:
        X = check_pixel_matrix(X, func="SpectralTransformer", allow_nan=True).astype(np.float32, copy=False)
        values = np.arange(X.shape[1], dtype=np.float64) if self.axis is None else self.axis
        return Cube(X[:, None, :], SpectralAxis(values, self.axis_unit if self.axis is not None else "channel"))

    def fit(self, X, y=None):
        if self.step in SPATIAL_STEPS:
            raise InvalidParameterError(
                f"The {self.step!r} step works across neighbouring pixels; a pixel matrix has none. Apply it to "
                "the Cube (chemmap.preprocessing.Chain) before flattening."
            )
        cube = self._as_cube(X)
        self.chain_ = Chain([{"step": self.step, **(self.params or {})}]).fit(cube)
        self.n_features_in_ = cube.n_channels
        return self

    def transform(self, X):
        if not hasattr(self, "chain_"):
            raise NotFittedError("This SpectralTransformer is not fitted yet; call fit(X) first.")
        cube = self._as_cube(X)
        check_fitted_features(cube.n_channels, self.n_features_in_, func="SpectralTransformer")
        out = self.chain_.transform(cube)
        return np.asarray(out.data)[:, 0, :]
