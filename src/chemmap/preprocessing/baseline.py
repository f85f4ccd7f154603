"""Baseline removal, batched over pixels: asymmetric least squares and modified polynomial.

Both solve every spectrum of a block at once (vectorised over pixels; the only Python
loops run over channels or iterations), so a cube costs a handful of NumPy passes rather
than one solver call per pixel.
"""

from __future__ import annotations

import numpy as np

from chemmap._shared.params import Param, validate_params
from chemmap.core.registry import Registry
from chemmap.preprocessing._steps import StepSpec, apply_spectral, axis_values_of, steps

__all__ = ["asls", "baseline", "baseline_methods", "modpoly", "pentadiagonal_solve"]

PARAMS = {
    "method": Param("choice", "asls", choices=("asls", "poly"), doc="baseline algorithm"),
    "lam": Param(
        "float", 1e5, low=0, low_inclusive=False, doc="asls smoothness (larger = stiffer baseline), dimensionless"
    ),
    "p": Param(
        "float",
        0.01,
        low=0,
        high=0.5,
        low_inclusive=False,
        high_inclusive=False,
        doc="asls asymmetry: weight of points above the baseline",
    ),
    "order": Param("int", 3, low=0, high=15, doc="poly: polynomial order"),
    "n_iter": Param(
        "int", None, low=0, high=1000, allow_none=True, doc="iterations (default 10 for asls, 100 for poly)"
    ),
    "tol": Param("float", 1e-3, low=0, doc="stop when the baseline changes less (relative)"),
}


def pentadiagonal_solve(diag: np.ndarray, off1: np.ndarray, off2: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve many symmetric positive-definite pentadiagonal systems at once (LDLᵀ).

    Parameters
    ----------
    diag : ndarray of shape (n, m)
        Main diagonals, one system per column (``m`` systems of size ``n``).
    off1 : ndarray of shape (n - 1,) or (n - 1, m)
        First off-diagonal.
    off2 : ndarray of shape (n - 2,) or (n - 2, m)
        Second off-diagonal.
    rhs : ndarray of shape (n, m)
        Right-hand sides.

    Returns
    -------
    ndarray of shape (n, m)
    """
    n, m = diag.shape
    off1 = np.broadcast_to(off1.reshape(n - 1, -1), (n - 1, m)) if n > 1 else off1
    off2 = np.broadcast_to(off2.reshape(max(n - 2, 0), -1), (max(n - 2, 0), m)) if n > 2 else off2
    d = np.empty((n, m))
    l1 = np.zeros((n, m))
    l2 = np.zeros((n, m))
    for i in range(n):
        acc = diag[i].astype(np.float64, copy=True)
        if i >= 2:
            l2[i] = off2[i - 2] / d[i - 2]
            acc -= l2[i] ** 2 * d[i - 2]
        if i >= 1:
            t = off1[i - 1] - (l2[i] * d[i - 2] * l1[i - 1] if i >= 2 else 0.0)
            l1[i] = t / d[i - 1]
            acc -= l1[i] ** 2 * d[i - 1]
        d[i] = acc
    y = np.empty((n, m))
    for i in range(n):
        acc = rhs[i].astype(np.float64, copy=True)
        if i >= 1:
            acc -= l1[i] * y[i - 1]
        if i >= 2:
            acc -= l2[i] * y[i - 2]
        y[i] = acc
    y /= d
    x = np.empty((n, m))
    for i in range(n - 1, -1, -1):
        acc = y[i].copy()
        if i + 1 < n:
            acc -= l1[i + 1] * x[i + 1]
        if i + 2 < n:
            acc -= l2[i + 2] * x[i + 2]
        x[i] = acc
    return x


def _second_difference_gram(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagonals of DᵀD for the second-difference matrix D of size (n-2, n)."""
    main = np.full(n, 6.0)
    off1 = np.full(n - 1, -4.0)
    off2 = np.ones(n - 2)
    main[[0, -1]] = 1.0
    if n > 2:
        main[[1, -2]] = 5.0
        off1[[0, -1]] = -2.0
    return main, off1, off2


def asls(spectra: np.ndarray, *, lam: float = 1e5, p: float = 0.01, n_iter: int = 10, tol: float = 1e-3) -> np.ndarray:
    """Asymmetric least squares baselines (Eilers & Boelens 2005) of many spectra at once.

    Parameters
    ----------
    spectra : ndarray of shape (n_spectra, n_channels)
    lam : float
        Smoothness penalty on second differences (dimensionless, per channel).
    p : float
        Weight of points above the baseline (``1 - p`` below).
    n_iter : int
        Maximum number of reweighting iterations.
    tol : float
        Stop when the weights change on fewer than this fraction of points.

    Returns
    -------
    ndarray of shape (n_spectra, n_channels)
        The baselines (subtract them from ``spectra``).
    """
    y = np.asarray(spectra, dtype=np.float64).T  # (n_channels, n_spectra), contiguous per channel
    n, m = y.shape
    if n < 3:
        return np.repeat(y.mean(axis=0, keepdims=True), n, axis=0).T
    finite = np.all(np.isfinite(y), axis=0)
    y = np.where(finite, y, 0.0)
    main, off1, off2 = _second_difference_gram(n)
    w = np.ones((n, m))
    z = y
    for _ in range(max(1, n_iter)):
        z = pentadiagonal_solve(w + lam * main[:, None], lam * off1, lam * off2, w * y)
        new_w = np.where(y > z, p, 1.0 - p)
        changed = np.mean(new_w != w)
        w = new_w
        if changed < tol:
            break
    z[:, ~finite] = np.nan
    return z.T


def modpoly(spectra: np.ndarray, x: np.ndarray, *, order: int = 3, n_iter: int = 100, tol: float = 1e-3) -> np.ndarray:
    """Modified polynomial baselines (Lieber & Mahadevan-Jansen 2003), batched.

    The polynomial is fitted, the spectrum clipped to it from above, and the fit repeated,
    so peaks stop pulling the baseline up. ``n_iter=0`` gives a plain least-squares fit.

    Parameters
    ----------
    spectra : ndarray of shape (n_spectra, n_channels)
    x : ndarray of shape (n_channels,)
        Axis positions (scaled internally to [-1, 1] for conditioning).
    order : int
        Polynomial order.
    n_iter, tol : int, float
        Iterations and relative-change stopping rule.
    """
    y = np.asarray(spectra, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    t = (2 * (x - x.min()) / max(np.ptp(x), 1e-300)) - 1 if x.size > 1 else np.zeros_like(x)
    order = min(order, x.size - 1)
    vander = np.vander(t, order + 1)
    proj = np.linalg.pinv(vander)  # (order + 1, n_channels)
    work = y.copy()
    fit = work @ proj.T @ vander.T
    for _ in range(n_iter):
        work = np.minimum(work, fit)
        new_fit = work @ proj.T @ vander.T
        change = np.linalg.norm(new_fit - fit, axis=1) / np.maximum(np.linalg.norm(fit, axis=1), 1e-12)
        fit = new_fit
        if np.nanmax(change, initial=0.0) < tol:
            break
    return fit


baseline_methods = Registry("baseline method")
baseline_methods.register("asls", asls)
baseline_methods.register("poly", modpoly)


def baseline(x, *, axis=None, return_baseline: bool = False, **params):
    """Subtract a baseline from every spectrum.

    Parameters
    ----------
    x : Cube or ndarray of shape (..., n_channels)
    axis : array-like of shape (n_channels,), optional
        Channel positions, needed for ``method="poly"`` on a plain array.
    return_baseline : bool
        Return the baseline instead of the corrected spectra (arrays only).
    **params
        ``method`` ("asls" or "poly"), ``lam``, ``p``, ``order``, ``n_iter``, ``tol``; see
        ``PARAMS`` for units and defaults.

    Returns
    -------
    Cube or ndarray
        Corrected spectra (float32), same shape.
    """
    params = validate_params(PARAMS, params, func="baseline")
    method = params["method"]
    if method == "asls":
        n_iter = 10 if params["n_iter"] is None else params["n_iter"]

        def fit(s):
            return asls(s, lam=params["lam"], p=params["p"], n_iter=n_iter, tol=params["tol"])
    else:
        values = axis_values_of(x, axis, "baseline(method='poly')")
        n_iter = 100 if params["n_iter"] is None else params["n_iter"]

        def fit(s):
            return modpoly(s, values, order=params["order"], n_iter=n_iter, tol=params["tol"])

    def kernel(s):
        base = fit(s)
        return (base if return_baseline else s - base).astype(np.float32)

    return apply_spectral(x, kernel, step="baseline", params=params)


steps.register(
    "baseline",
    StepSpec(
        "baseline", PARAMS, lambda cube, **p: baseline(cube, **p), "baseline removal (asls or modified polynomial)"
    ),
)
