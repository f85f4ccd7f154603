"""Abundances regularised across neighbouring pixels: least squares on every pixel plus a
penalty on the differences between 4-neighbours (a graph Laplacian, or a smoothed total
variation that keeps edges), under the same constraints as the pixel-wise solvers.

Only the products of the spectra with the components and their Gram matrix enter, so the
cube is read once (block by block, NumPy or Dask) and the iterations run on the small
``(height, width, k)`` array."""

from __future__ import annotations

import numpy as np

from chemmap._shared.progress import ProgressCallback, notify
from chemmap._shared.validation import check_choice, check_number

__all__ = ["DEFAULT_WEIGHTS", "PENALTIES", "project_simplex", "spatial_abundances"]

PENALTIES = ("laplacian", "tv")
#: Moderate strengths of each penalty (they scale differently: TV costs a difference's
#: size, the Laplacian its square); raise them for noisier scenes.
DEFAULT_WEIGHTS = {"tv": 0.03, "laplacian": 0.1}
#: Smoothing of the total variation, in units of the typical abundance: differences well
#: above it cost their size (edges are kept), those below it cost their square.
TV_EPSILON = 0.02


def project_simplex(x: np.ndarray, total: float = 1.0) -> np.ndarray:
    """Euclidean projection of every row of ``x`` onto ``{v >= 0, sum(v) = total}``
    (sort-based, Duchi et al., ICML 2008), vectorised over rows."""
    x = np.asarray(x, dtype=np.float64)
    k = x.shape[-1]
    flat = x.reshape(-1, k)
    ordered = -np.sort(-flat, axis=1)
    cumulative = np.cumsum(ordered, axis=1) - total
    steps = np.arange(1, k + 1)
    support = ordered - cumulative / steps > 0
    count = k - np.argmax(support[:, ::-1], axis=1)
    shift = cumulative[np.arange(flat.shape[0]), count - 1] / count
    return np.clip(flat - shift[:, None], 0, None).reshape(x.shape)


def spatial_abundances(
    gram,
    products: np.ndarray,
    valid: np.ndarray,
    start: np.ndarray,
    *,
    constraint: str = "fcls",
    penalty: str = "tv",
    weight: float | None = None,
    max_iter: int = 300,
    tol: float = 1e-5,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, dict]:
    """Minimise ``½||y - Aᵀx||²`` summed over pixels plus ``weight`` times a penalty on
    neighbour differences, by accelerated projected gradient (FISTA).

    Parameters
    ----------
    gram : array of shape (k, k)
        ``AAᵀ`` of the component spectra.
    products : ndarray of shape (height, width, k)
        ``y Aᵀ`` of every pixel (anything at invalid pixels).
    valid : ndarray of bool, shape (height, width)
        Pixels that take part; neighbour pairs with an invalid pixel are not penalised.
    start : ndarray of shape (height, width, k)
        Pixel-wise solution to start from.
    constraint : {"fcls", "nnls", "ls"}
        Sum-to-one and non-negative, non-negative, or none.
    penalty : {"tv", "laplacian"}
        Smoothed total variation (edge preserving) or squared differences.
    weight : float, optional
        Strength, relative to the mean squared norm of the components (dimensionless);
        default :data:`DEFAULT_WEIGHTS`.
    max_iter, tol
        Iterations at most; stop when the relative change of the abundances is below ``tol``.

    Returns
    -------
    abundances : ndarray of shape (height, width, k), float64
    report : dict
        ``iterations``, ``converged``, ``relative_change``.
    """
    constraint = check_choice(constraint, ("fcls", "nnls", "ls"), name="constraint", func="spatial_abundances")
    penalty = check_choice(penalty, PENALTIES, name="penalty", func="spatial_abundances")
    weight = DEFAULT_WEIGHTS[penalty] if weight is None else weight
    weight = check_number(weight, name="weight", func="spatial_abundances", low=0)
    g = np.asarray(gram, dtype=np.float64)
    k = g.shape[0]
    lam = weight * float(np.trace(g)) / k
    b = np.where(valid[..., None], np.asarray(products, dtype=np.float64), 0.0)
    scale = max(float(np.median(np.abs(start[valid]))), 1e-12) if valid.any() else 1.0
    epsilon = TV_EPSILON * (1.0 if constraint == "fcls" else scale)
    lipschitz = float(np.linalg.eigvalsh(g).max()) + lam * (8.0 if penalty == "laplacian" else 8.0 / epsilon)
    pairs = (valid[1:, :] & valid[:-1, :])[..., None], (valid[:, 1:] & valid[:, :-1])[..., None]

    def penalty_gradient(x: np.ndarray) -> np.ndarray:
        grad = np.zeros_like(x)
        down = (x[1:, :] - x[:-1, :]) * pairs[0]
        right = (x[:, 1:] - x[:, :-1]) * pairs[1]
        if penalty == "tv":
            down = down / np.sqrt(down**2 + epsilon**2)
            right = right / np.sqrt(right**2 + epsilon**2)
        grad[1:, :] += down
        grad[:-1, :] -= down
        grad[:, 1:] += right
        grad[:, :-1] -= right
        return grad

    def project(x: np.ndarray) -> np.ndarray:
        if constraint == "fcls":
            return project_simplex(x)
        return np.clip(x, 0, None) if constraint == "nnls" else x

    x = np.where(valid[..., None], np.asarray(start, dtype=np.float64), 0.0)
    y, t = x.copy(), 1.0
    change, iterations = np.inf, 0
    for iterations in range(1, max_iter + 1):
        grad = y @ g - b + lam * penalty_gradient(y)
        new = project(y - grad / lipschitz)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        y = new + ((t - 1) / t_next) * (new - x)
        change = float(np.linalg.norm(new - x) / max(np.linalg.norm(new), 1e-300))
        x, t = new, t_next
        notify(progress, "spatial abundances", iterations, max_iter)
        if change < tol:
            break
    report = {
        "penalty": penalty,
        "weight": weight,
        "iterations": iterations,
        "converged": bool(change < tol),
        "relative_change": change,
    }
    return x, report
