"""Gaussian mixture by EM from block-wise sufficient statistics.

Restarts (k-means starts, then EM) run on a seeded sample; the best one is refined by EM
passes over all blocks, each block returning the responsibility-weighted count, sum and
second moments and its log-likelihood.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import FEATURE_BLOCK_BYTES, KERNEL_BLOCK_BYTES, map_spectra, reduce_blocks, row_blocks
from chemmap._shared.progress import ProgressCallback
from chemmap._shared.validation import check_random_state
from chemmap.cluster.kmeans import INIT_SAMPLE, kmeans_plusplus, lloyd_in_memory, sample_rows, squared_distances

__all__ = ["GaussianMixtureModel", "fit_gaussian_mixture"]

LOG_2PI = np.log(2 * np.pi)
#: Smallest covariance regularisation, relative to the features' mean variance.
RELATIVE_REG = 1e-6


@dataclass
class GaussianMixtureModel:
    """Weights, means and covariances (``(k, d, d)`` full or ``(k, d)`` diagonal)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str
    log_likelihood: float = float("nan")
    n_samples: int = 0
    n_iter: int = 0
    converged: bool = True

    @property
    def n_parameters(self) -> int:
        k, d = self.means.shape
        cov = k * d * (d + 1) // 2 if self.covariance_type == "full" else k * d
        return int(cov + k * d + k - 1)

    def bic(self) -> float:
        """Bayesian information criterion of the fit (lower is better)."""
        return float(-2 * self.log_likelihood + self.n_parameters * np.log(max(self.n_samples, 1)))

    def weighted_log_prob(self, x: np.ndarray) -> np.ndarray:
        """``(n, k)`` log of weight times density, float64."""
        return _log_gaussian(x, self.means, self.covariances, self.covariance_type) + np.log(self.weights)

    def predict(self, features):
        """Most probable component of each row: ``(n,)`` int64, lazy for Dask input."""

        def most_probable(x: np.ndarray) -> np.ndarray:
            return np.argmax(self.weighted_log_prob(x), axis=1)[:, None]

        return map_spectra(most_probable, features, n_out=1, dtype=np.int64, block_bytes=FEATURE_BLOCK_BYTES)[:, 0]

    def predict_proba(self, features):
        """Posterior probabilities ``(n, k)``, lazy for Dask input."""
        from scipy.special import logsumexp  # scipy.special: not imported for --help

        def posterior(x: np.ndarray) -> np.ndarray:
            lp = self.weighted_log_prob(x)
            return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))

        return map_spectra(posterior, features, n_out=self.means.shape[0], dtype=np.float64)


def _log_gaussian(x: np.ndarray, means: np.ndarray, covariances: np.ndarray, kind: str) -> np.ndarray:
    """``(n, k)`` Gaussian log-densities, by pieces of rows that stay in the processor cache."""
    if kind != "full":
        return _log_gaussian_diagonal(x, means, covariances)
    n, d = x.shape
    k = means.shape[0]
    chols = np.linalg.cholesky(covariances)
    # rows times (L^-1)^T give the whitened rows; all k whitenings in one product
    whiten = np.linalg.inv(chols).transpose(0, 2, 1)
    log_det = 2 * np.sum(np.log(np.diagonal(chols, axis1=1, axis2=2)), axis=1)
    stacked = whiten.transpose(1, 0, 2).reshape(d, k * d)
    offsets = np.einsum("kd,kde->ke", means, whiten).reshape(k * d)
    out = np.empty((n, k))
    for rows in row_blocks(n, k * d * 8, KERNEL_BLOCK_BYTES):
        y = x[rows].astype(np.float64, copy=False) @ stacked
        y -= offsets
        y *= y
        out[rows] = -0.5 * (d * LOG_2PI + log_det + y.reshape(-1, k, d).sum(axis=2))
    return out


def _log_gaussian_diagonal(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """``(n, k)`` log-densities of Gaussians with diagonal covariances: the squared distances
    as ``x² / v - 2 x m / v + m² / v`` summed over features, two products of ``(n, d)`` by
    ``(d, k)`` (whitening by ``k`` diagonal ``d x d`` matrices cost ``d`` times more: 49 s for
    2 205 spectra of 228 features)."""
    n, d = x.shape
    precision = 1.0 / variances
    scaled_means = (means * precision).T
    constant = d * LOG_2PI + np.sum(np.log(variances), axis=1) + np.sum(means * means * precision, axis=1)
    out = np.empty((n, means.shape[0]))
    for rows in row_blocks(n, d * 8, KERNEL_BLOCK_BYTES):
        block = x[rows].astype(np.float64, copy=False)
        distance = (block * block) @ precision.T
        distance -= 2.0 * (block @ scaled_means)
        out[rows] = -0.5 * (constant + distance)
    return out


def _statistics(x: np.ndarray, model: GaussianMixtureModel):
    """E-step of one block: responsibility sums, weighted sums, second moments, log-likelihood."""
    x = x.astype(np.float64, copy=False)
    x = x[np.all(np.isfinite(x), axis=1)]
    resp = model.weighted_log_prob(x)
    # log-sum-exp by rows, its exponentials kept as the responsibilities (one exp, in place)
    top = resp.max(axis=1, keepdims=True)
    resp -= top
    np.exp(resp, out=resp)
    total = resp.sum(axis=1, keepdims=True)
    resp /= total
    norm = np.log(total[:, 0]) + top[:, 0]
    nk = resp.sum(axis=0)
    sx = resp.T @ x
    return nk, sx, _second_moments(resp, x, model.covariance_type), float(norm.sum()), float(x.shape[0])


def _second_moments(resp: np.ndarray, x: np.ndarray, kind: str) -> np.ndarray:
    """Responsibility-weighted sums of ``x x^T`` per component (``(k, d, d)``), or of ``x²``
    (``(k, d)``) for diagonal covariances."""
    if kind == "full":
        n, d = x.shape
        k = resp.shape[1]
        out = np.zeros((k * d, d))
        # all k weighted products in one matrix product, by pieces of rows (n x k x d at once)
        for rows in row_blocks(n, k * d * 8, KERNEL_BLOCK_BYTES):
            weighted = (resp[rows, :, None] * x[rows, None, :]).reshape(-1, k * d)
            out += weighted.T @ x[rows]
        return out.reshape(k, d, d)
    return resp.T @ (x * x)


def _block_statistics(block: np.ndarray, rows: slice, *, model: GaussianMixtureModel):
    return _statistics(block, model)


def _m_step(nk, sx, sxx, kind: str, reg_covar: float, old: GaussianMixtureModel | None = None):
    safe = np.maximum(nk, 1e-10)
    means = sx / safe[:, None]
    if kind == "full":
        cov = sxx / safe[:, None, None] - np.einsum("ki,kj->kij", means, means)
        cov = 0.5 * (cov + cov.transpose(0, 2, 1)) + reg_covar * np.eye(means.shape[1])
    else:
        cov = np.maximum(sxx / safe[:, None] - means**2, 0) + reg_covar
    empty = nk < 1e-10
    if old is not None and empty.any():
        means[empty], cov[empty] = old.means[empty], old.covariances[empty]
    weights = np.maximum(nk, 1e-10) / np.maximum(nk, 1e-10).sum()
    return weights, means, cov


def _from_labels(x: np.ndarray, labels: np.ndarray, k: int, kind: str, reg_covar: float) -> GaussianMixtureModel:
    resp = (labels[:, None] == np.arange(k)[None, :]).astype(np.float64)
    nk = resp.sum(axis=0)
    sx = resp.T @ x
    return GaussianMixtureModel(*_m_step(nk, sx, _second_moments(resp, x, kind), kind, reg_covar), kind)


def _em(stats_of, model: GaussianMixtureModel, *, max_iter: int, tol: float, reg_covar: float):
    """EM iterations; ``stats_of(model)`` returns summed sufficient statistics under ``model``.

    The returned model carries the log-likelihood of its own parameters.
    """
    previous = -np.inf
    for it in range(1, max_iter + 1):
        nk, sx, sxx, loglik, n = stats_of(model)
        model.log_likelihood, model.n_samples, model.n_iter = loglik, int(n), it
        per_pixel = loglik / max(n, 1)
        if abs(per_pixel - previous) < tol:
            model.converged = True
            return model
        previous = per_pixel
        weights, means, cov = _m_step(nk, sx, sxx, model.covariance_type, reg_covar, model)
        model = GaussianMixtureModel(weights, means, cov, model.covariance_type)
    _, _, _, loglik, n = stats_of(model)
    model.log_likelihood, model.n_samples, model.n_iter, model.converged = loglik, int(n), max_iter, False
    return model


def fit_gaussian_mixture(
    features,
    k: int,
    *,
    covariance_type: str = "full",
    n_init: int = 3,
    random_state=0,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-5,
    init_sample: int = INIT_SAMPLE,
    progress: ProgressCallback | None = None,
) -> GaussianMixtureModel:
    """Gaussian mixture of the rows of ``features`` (NumPy or Dask), EM passes over blocks.

    Parameters
    ----------
    features : array of shape (n, d)
    k : int
    covariance_type : {"full", "diag"}
    n_init : int
        Restarts (k-means++ then k-means then EM) on the seeded sample; the one of highest
        likelihood is refined on all rows.
    tol : float
        Stop when the mean log-likelihood per pixel changes by less than this.
    reg_covar : float
        Added to the covariance diagonals (feature units squared), at least
        :data:`RELATIVE_REG` times the features' mean variance (so large-valued features keep
        covariances that are positive definite in floating point).

    Returns
    -------
    GaussianMixtureModel
        ``log_likelihood`` and ``n_samples`` are over all rows (BIC from them).
    """
    rng = check_random_state(random_state)
    n = int(features.shape[0])
    idx, sample, scale = sample_rows(features, init_sample, rng)
    reg_covar = max(reg_covar, RELATIVE_REG * float(np.mean(np.var(sample, axis=0))))

    def sample_stats(model):
        return _statistics(sample, model)

    best = None
    for _ in range(n_init):
        centres, _, _ = lloyd_in_memory(sample, kmeans_plusplus(sample, k, rng), max_iter=100, tol=1e-4 * scale)
        labels = np.argmin(squared_distances(sample, centres), axis=1)
        start = _from_labels(sample, labels, k, covariance_type, reg_covar)
        model = _em(sample_stats, start, max_iter=max_iter, tol=tol, reg_covar=reg_covar)
        if best is None or model.log_likelihood > best.log_likelihood:
            best = model
    if idx.size == n:
        return best

    def block_stats(model):
        step = functools.partial(_block_statistics, model=model)
        return reduce_blocks(
            step,
            features,
            block_bytes=FEATURE_BLOCK_BYTES,
            summed=True,
            stage="Gaussian mixture pass",
            progress=progress,
        )

    start = GaussianMixtureModel(best.weights, best.means, best.covariances, covariance_type)
    return _em(block_stats, start, max_iter=max_iter, tol=tol, reg_covar=reg_covar)
