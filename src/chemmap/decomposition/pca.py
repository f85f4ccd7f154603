"""Principal component analysis from block partials: one pass accumulates the count, sum
and Gram matrix of (a seeded sample of) the pixels; the basis is the eigenvectors of the
covariance they give. The same code serves a NumPy array (one block after another) and a
Dask array on disk or on a cluster."""

from __future__ import annotations

import functools

import numpy as np

from chemmap._shared.blockwise import map_spectra, reduce_blocks, spread_blocks
from chemmap._shared.estimator import Estimator, TransformerMixin
from chemmap._shared.progress import ProgressCallback
from chemmap._shared.sampling import pixel_uniforms
from chemmap._shared.validation import check_fitted_features, check_int, check_pixel_matrix
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, NotFittedError, ShapeError

__all__ = ["DEFAULT_FIT_SAMPLE", "StreamingPCA", "gram_partial"]

#: Pixels (about) on which the basis is fitted; the others are only projected.
DEFAULT_FIT_SAMPLE = 100_000
#: A lazy cube's fit sample is drawn from evenly spread blocks holding this many times the
#: sample (so a cube on disk is only partly read).
SAMPLE_OVERREAD = 4


def gram_partial(block: np.ndarray, valid, rows: slice, *, fraction: float, seed: int):
    """Count, sum and Gram matrix (float64) of the finite valid rows of one block.

    With ``fraction < 1`` each row is kept with that probability, by a uniform number that
    depends only on ``(seed, row)``: the same sample however the pixels are blocked.
    """
    x = block.reshape(-1, block.shape[-1])
    keep = np.ones(x.shape[0], bool) if valid is None else np.asarray(valid).reshape(-1).copy()
    if fraction < 1.0:
        keep &= pixel_uniforms(rows.start, x.shape[0], seed) < fraction
    x = x[keep]
    x = x[np.all(np.isfinite(x), axis=1)]
    n = x.shape[0]
    if n == 0:
        return 0.0, np.zeros(x.shape[1]), np.zeros((x.shape[1], x.shape[1]))
    # centred on the block's mean in float32 (fast), returned as raw moments in float64
    mean = x.mean(axis=0, dtype=np.float64)
    centred = (x - mean).astype(np.float32)
    scatter = (centred.T @ centred).astype(np.float64)
    return float(n), n * mean, scatter + n * np.outer(mean, mean)


class StreamingPCA(TransformerMixin, Estimator):
    """PCA fitted from block partials (covariance of a seeded pixel sample).

    Parameters
    ----------
    n_components : int or float
        Number of components, or the fraction (0, 1) of the variance to keep.
    fit_sample : int or None
        About this many valid pixels, drawn per pixel with a seeded hash of its index,
        make the covariance; ``None`` uses every pixel. For a lazy (Dask) array they come
        from evenly spread blocks holding :data:`SAMPLE_OVERREAD` times as many pixels, so
        a cube on disk is read only in part. Projection always covers every pixel.
    random_state : int
        Seed of the fit sample.

    Attributes
    ----------
    mean_ : ndarray of shape (n_channels,)
    components_ : ndarray of shape (n_components_, n_channels)
        Unit principal axes, by decreasing variance; signs fixed so the largest loading of
        each component is positive.
    explained_variance_ : ndarray of shape (n_components_,)
    explained_variance_ratio_ : ndarray of shape (n_components_,)
    n_components_ : int
    n_samples_seen_ : int
        Pixels in the covariance.
    """

    def __init__(self, n_components: float = 10, *, fit_sample: int | None = DEFAULT_FIT_SAMPLE, random_state=0):
        self.n_components = n_components
        self.fit_sample = fit_sample
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # pixels with a NaN are left out of the fit, as masked ones are
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def fit(self, X, y=None, *, progress: ProgressCallback | None = None) -> StreamingPCA:
        """Fit on a Cube (its valid pixels) or an ``(n_pixels, n_channels)`` array."""
        _check_n_components(self.n_components)
        data, valid = _pixels(X)
        n_valid = int(data.shape[0] if valid is None else np.count_nonzero(valid))
        seed = self.random_state
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**32)
        seed = int(check_int(seed, name="random_state", func="StreamingPCA", low=0))
        fraction, only = 1.0, None
        if self.fit_sample is not None:
            size = check_int(self.fit_sample, name="fit_sample", func="StreamingPCA", low=2)
            fraction = min(1.0, size / max(n_valid, 1))
            if fraction < 1.0 and hasattr(data, "dask"):
                only = functools.partial(spread_blocks, share=min(1.0, SAMPLE_OVERREAD * fraction), seed=seed)
                fraction = min(1.0, fraction / only.keywords["share"])
        count, total, gram = reduce_blocks(
            functools.partial(gram_partial, fraction=fraction, seed=seed),
            data,
            valid,
            only=only,
            summed=True,
            stage="PCA fit",
            progress=progress,
        )
        if count < 2:
            raise ShapeError(f"PCA needs at least 2 finite valid pixels; the sample held {int(count)}.")
        mean = total / count
        cov = (gram - count * np.outer(mean, mean)) / (count - 1)
        eigval, eigvec = np.linalg.eigh(cov)
        order = np.argsort(eigval)[::-1]
        eigval = np.clip(eigval[order], 0, None)
        eigvec = eigvec[:, order].T
        signs = np.sign(eigvec[np.arange(eigvec.shape[0]), np.argmax(np.abs(eigvec), axis=1)])
        eigvec *= np.where(signs == 0, 1, signs)[:, None]
        ratio = eigval / eigval.sum() if eigval.sum() > 0 else np.zeros_like(eigval)
        k = self._n_kept(ratio, cov.shape[0], int(count))
        self.mean_ = mean
        self.components_ = eigvec[:k]
        self.explained_variance_ = eigval[:k]
        self.explained_variance_ratio_ = ratio[:k]
        self.n_components_ = k
        self.n_samples_seen_ = int(count)
        self.n_features_in_ = cov.shape[0]
        return self

    def _n_kept(self, ratio: np.ndarray, n_channels: int, n_samples: int) -> int:
        n = self.n_components
        limit = min(n_channels, n_samples)
        if isinstance(n, float):
            return int(min(np.searchsorted(np.cumsum(ratio), n) + 1, limit))
        return int(min(n, limit))

    def transform(self, X):
        """Scores, float32: ``(h, w, n_components_)`` for a Cube, else ``(n, n_components_)``.

        Lazy (Dask) when the input is: building the result computes nothing.
        """
        if not hasattr(self, "components_"):
            raise NotFittedError("This StreamingPCA is not fitted yet; call fit first.")
        data = X.data if isinstance(X, Cube) else _pixels(X, min_samples=1)[0]
        check_fitted_features(int(data.shape[-1]), self.mean_.size, func="StreamingPCA")
        basis = np.ascontiguousarray(self.components_.T, dtype=np.float32)
        offset = (self.mean_ @ self.components_.T).astype(np.float32)

        def project(x: np.ndarray) -> np.ndarray:
            return x.astype(np.float32, copy=False) @ basis - offset

        return map_spectra(project, data, n_out=self.n_components_, dtype=np.float32)


def _check_n_components(n) -> None:
    """Checked before the pass over the data, so a bad value costs no reading."""
    ok_float = isinstance(n, float) and 0 < n < 1
    ok_int = isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 1
    if not (ok_float or ok_int):
        raise InvalidParameterError(f"n_components must be an int >= 1 or a float in (0, 1); got {n!r}.")


def _pixels(X, *, min_samples: int = 2):
    """``(n, d)`` pixels and the valid-pixel mask (None: all) of a Cube or an array."""
    if isinstance(X, Cube):
        return X.pixels(), (None if X.mask is None else X.valid_pixels())
    if hasattr(X, "dask"):
        if X.ndim != 2:
            raise ShapeError(f"StreamingPCA expects a Cube or an (n_pixels, n_channels) array; got shape {X.shape}.")
        return X, None
    return check_pixel_matrix(X, func="StreamingPCA", allow_nan=True, min_samples=min_samples), None
