"""The pixel clustering estimator: features, k selection, clustering and clean-up."""

from __future__ import annotations

import numpy as np

from chemmap._shared.estimator import ClusterMixin, Estimator
from chemmap._shared.progress import ProgressCallback, notify
from chemmap._shared.validation import check_choice, check_int
from chemmap.cluster.cleanup import merge_small_regions, mode_filter
from chemmap.cluster.features import FEATURE_KINDS, PixelFeatures
from chemmap.cluster.methods import cluster_methods, size_order
from chemmap.cluster.selection import CRITERIA, choose_k, searched_k
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, NotFittedError, ShapeError

__all__ = ["PixelClusterer"]


class PixelClusterer(ClusterMixin, Estimator):
    """Cluster the pixels of a cube (or rows of a spectra matrix).

    Parameters
    ----------
    method : {"kmeans", "gmm", "hierarchical"}
        k-means (k-means++, ``n_init`` restarts), Gaussian mixture, or Ward hierarchical
        clustering (on a seeded sample above 5000 pixels, the rest by nearest centroid).
    k : int or "auto"
        Number of clusters, or ``"auto"`` to choose it in ``k_range`` by ``criterion``.
    features : {"pca", "spectra", "ratios"}
        What the pixels are clustered on.
    n_components : int or float
        PCA components (int) or explained-variance fraction (float in (0, 1)).
    ratios : sequence of (float, float)
        Band pairs for ``features="ratios"``, in axis units.
    window : float, optional
        Band window for ratio features, in axis units.
    k_range : (int, int)
        Inclusive range searched when ``k="auto"``.
    criterion : {"silhouette", "elbow", "gap", "bic"}
        Criterion that decides k (all are computed and reported).
    covariance_type : {"full", "diag"}
        Gaussian-mixture covariance.
    n_init : int
        Restarts for k-means and Gaussian mixture.
    mode_filter : int
        Majority-filter window (odd, pixels) applied to the label image; 0 disables it.
    min_region_size : int
        Regions smaller than this many pixels are merged into a neighbour; 0 disables it.
    random_state : int
        Seed for every random choice.

    Attributes
    ----------
    labels_ : ndarray of shape (n_valid,)
        Cluster of each valid pixel, after clean-up.
    label_image_ : ndarray of shape (height, width)
        Cube input only: labels in image shape, -1 where masked.
    k_ : int
    k_selection_ : dict or None
        Scores of every criterion for every k when ``k="auto"``.
    features_ : ndarray of shape (n_valid, n_features)
    cleanup_ : dict
        What the clean-up changed.
    """

    def __init__(
        self,
        method: str = "kmeans",
        k: int | str = 2,
        *,
        features: str = "pca",
        n_components: float = 10,
        ratios=(),
        window: float | None = None,
        k_range: tuple[int, int] = (2, 8),
        criterion: str = "silhouette",
        covariance_type: str = "full",
        n_init: int = 10,
        mode_filter: int = 0,
        min_region_size: int = 0,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.k = k
        self.features = features
        self.n_components = n_components
        self.ratios = ratios
        self.window = window
        self.k_range = k_range
        self.criterion = criterion
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.mode_filter = mode_filter
        self.min_region_size = min_region_size
        self.random_state = random_state

    def _validate(self) -> None:
        func = "PixelClusterer"
        check_choice(self.method, cluster_methods.names(), name="method", func=func)
        check_choice(self.features, FEATURE_KINDS, name="features", func=func)
        check_choice(self.criterion, CRITERIA, name="criterion", func=func)
        check_choice(self.covariance_type, ("full", "diag"), name="covariance_type", func=func)
        check_int(self.n_init, name="n_init", func=func, low=1)
        check_int(self.mode_filter, name="mode_filter", func=func, low=0)
        check_int(self.min_region_size, name="min_region_size", func=func, low=0)
        if self.k != "auto":
            check_int(self.k, name="k", func=func, low=1)
        lo, hi = (check_int(v, name="k_range", func=func, low=2) for v in self.k_range)
        if lo > hi:
            raise InvalidParameterError(f"k_range must be (low, high) with low <= high; got {self.k_range}.")

    def method_options(self) -> dict:
        opts = {"n_init": self.n_init}
        if self.method == "gmm":
            opts["covariance_type"] = self.covariance_type
        return opts

    def fit(self, X, y=None, *, progress: ProgressCallback | None = None, compute_with=()) -> PixelClusterer:
        """Cluster ``X``: a Cube (NumPy or lazy), or an array of shape (n_pixels, n_channels).

        ``compute_with``: lazy arrays over the same cube (e.g. maps) to compute in the pass
        that computes the features, so a cube on disk is read once for both; they are left
        in memory in ``computed_with_``.
        """
        self._validate()
        cube = X if isinstance(X, Cube) else _as_cube(X)
        valid = cube.valid_pixels()
        n_valid = int(valid.sum())
        if n_valid < 2:
            raise ShapeError(f"Clustering needs at least 2 valid pixels; the image has {n_valid}.")
        self.feature_transformer_ = PixelFeatures(
            self.features,
            n_components=self.n_components,
            ratios=self.ratios,
            window=self.window,
            random_state=self.random_state,
        )
        self.feature_transformer_.fit(cube, progress=progress)
        if compute_with:
            feats, self.computed_with_ = self.feature_transformer_.transform(
                cube, progress=progress, compute_with=compute_with
            )
        else:
            feats, self.computed_with_ = self.feature_transformer_.transform(cube, progress=progress), []
        if self.k == "auto":
            self.k_, self.k_selection_ = choose_k(
                feats,
                searched_k(self.k_range, n_valid),
                method=self.method,
                criterion=self.criterion,
                random_state=self.random_state,
                method_options=self.method_options(),
                progress=progress,
            )
        else:
            if self.k > n_valid:
                raise InvalidParameterError(f"k={self.k} exceeds the {n_valid} valid pixels.")
            self.k_, self.k_selection_ = int(self.k), None
        result = cluster_methods.get(self.method)(
            feats, self.k_, random_state=self.random_state, **self.method_options()
        )
        notify(progress, "clustering", 1, 1)
        self.result_ = result
        self.features_ = feats
        self.cluster_centers_ = result.centroids
        self._order = size_order(result.labels, self.k_)
        labels = self._order[result.labels]
        image = cube.unflatten(labels)
        self.cleanup_ = {
            "mode_filter": self.mode_filter,
            "min_region_size": self.min_region_size,
            "n_pixels_changed": 0,
            "n_regions_merged": 0,
        }
        if isinstance(X, Cube) and (self.mode_filter or self.min_region_size):
            cleaned = image
            if self.mode_filter:
                cleaned = mode_filter(cleaned, self.mode_filter)
            if self.min_region_size:
                cleaned, merged = merge_small_regions(cleaned, self.min_region_size)
                self.cleanup_["n_regions_merged"] = merged
            self.cleanup_["n_pixels_changed"] = int(np.sum(cleaned != image))
            image = cleaned
            labels = image.reshape(-1)[valid]
        self.labels_ = labels
        self.label_image_ = image if isinstance(X, Cube) else None
        self.notes_ = result.notes
        return self

    def predict(self, X) -> np.ndarray:
        """Clusters of new pixels (no clean-up): ``(height, width)`` for a Cube, else ``(n,)``."""
        if not hasattr(self, "result_"):
            raise NotFittedError("This PixelClusterer is not fitted yet; call fit first.")
        cube = X if isinstance(X, Cube) else _as_cube(X)
        feats = self.feature_transformer_.transform(cube)
        labels = self._order[self.result_.predict(feats)]
        return cube.unflatten(labels) if isinstance(X, Cube) else labels

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        self.fit(X, **kwargs)
        return self.label_image_ if isinstance(X, Cube) else self.labels_


def _as_cube(x) -> Cube:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ShapeError(f"Expected a Cube or an (n_pixels, n_channels) array; got shape {arr.shape}.")
    finite = np.all(np.isfinite(arr), axis=1)
    return Cube(arr[:, None, :], SpectralAxis(np.arange(arr.shape[1], dtype=float), "channel"), mask=finite[:, None])
