"""Baseline removal by name: the pybaselines algorithms, with the common ones batched.

``asls``, ``arpls`` and ``modpoly`` solve every spectrum of a block at once (vectorised over
pixels; the only Python loops run over channels or iterations) and give the same baselines
as pybaselines (checked in the tests). The other methods (``airpls``, ``aspls``, ``iasls``,
``imodpoly``, ``snip``, ``rubberband``, ``rolling_ball``) call pybaselines once per spectrum
inside each block: same results, slower on big cubes.
"""

from __future__ import annotations

import numpy as np

from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube
from chemmap.preprocessing._steps import StepSpec, apply_spectral, axis_values_of, steps

__all__ = ["BATCHED", "METHODS", "arpls", "asls", "baseline", "modpoly", "pentadiagonal_solve"]

#: Methods solved for a whole block at once; the others loop over spectra in pybaselines.
BATCHED = ("asls", "arpls", "modpoly")
#: Every method name (``poly`` is kept as another name of ``modpoly``).
METHODS = ("asls", "arpls", "airpls", "aspls", "iasls", "modpoly", "imodpoly", "poly", "snip", "rubberband",
           "rolling_ball")  # fmt: skip
_DEFAULT_ITER = {"asls": 50, "arpls": 50, "airpls": 50, "aspls": 100, "iasls": 50, "modpoly": 250, "imodpoly": 250}

PARAMS = {
    "method": Param("choice", "arpls", choices=METHODS, doc="baseline algorithm (pybaselines names)"),
    "lam": Param(
        "float", 1e5, low=0, low_inclusive=False, doc="Whittaker smoothness (larger = stiffer baseline), dimensionless"
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
    "order": Param("int", 3, low=0, high=15, doc="modpoly/imodpoly: polynomial order"),
    "n_iter": Param(
        "int", None, low=0, high=1000, allow_none=True, doc="maximum iterations (default: the pybaselines default)"
    ),
    "tol": Param("float", 1e-3, low=0, doc="convergence tolerance (relative)"),
    "half_window": Param(
        "float",
        None,
        low=0,
        low_inclusive=False,
        allow_none=True,
        doc="snip/rolling_ball: half window in axis units (default: chosen by pybaselines)",
    ),
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


def second_difference_gram(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagonals of DᵀD for the second-difference matrix D of size (n-2, n)."""
    main = np.full(n, 6.0)
    off1 = np.full(n - 1, -4.0)
    off2 = np.ones(n - 2)
    main[[0, -1]] = 1.0
    if n > 2:
        main[[1, -2]] = 5.0
        off1[[0, -1]] = -2.0
    return main, off1, off2


def _whittaker_reweighted(y: np.ndarray, lam: float, update, n_iter: int, tol: float) -> np.ndarray:
    """Penalised least squares ``(W + lam DᵀD) z = W y`` with weights reweighted by ``update``.

    ``y`` is ``(n_channels, n_spectra)``; ``update(y, z) -> weights``. As in pybaselines, a
    spectrum stops once its weights change by less than ``tol`` (relative L2 norm) and keeps
    the baseline of that fit; at most ``n_iter + 1`` fits are made.
    """
    n, m = y.shape
    main, off1, off2 = second_difference_gram(n)
    w = np.ones((n, m))
    z = np.empty((n, m))
    active = np.arange(m)
    for _ in range(max(0, n_iter) + 1):
        wa, ya = w[:, active], y[:, active]
        za = pentadiagonal_solve(wa + lam * main[:, None], lam * off1, lam * off2, wa * ya)
        z[:, active] = za
        new_w = update(ya, za)
        change = np.linalg.norm(new_w - wa, axis=0) / np.maximum(np.linalg.norm(wa, axis=0), 1e-300)
        going = change >= tol
        w[:, active] = new_w
        active = active[going]
        if active.size == 0:
            break
    return z


def _batched_whittaker(spectra, lam: float, update, n_iter: int, tol: float) -> np.ndarray:
    y = np.asarray(spectra, dtype=np.float64).T  # (n_channels, n_spectra), contiguous per channel
    n = y.shape[0]
    if n < 3:
        return np.repeat(y.mean(axis=0, keepdims=True), n, axis=0).T
    finite = np.all(np.isfinite(y), axis=0)
    z = _whittaker_reweighted(np.where(finite, y, 0.0), lam, update, n_iter, tol)
    z[:, ~finite] = np.nan
    return z.T


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
        Maximum number of reweightings.
    tol : float
        A spectrum stops when its weights change by less than this (relative L2 norm).

    Returns
    -------
    ndarray of shape (n_spectra, n_channels)
        The baselines (subtract them from ``spectra``). Same result as
        ``pybaselines.Baseline().asls(y, lam, p, max_iter=n_iter, tol=tol)`` per spectrum.
    """
    return _batched_whittaker(spectra, lam, lambda y, z: np.where(y > z, p, 1.0 - p), n_iter, tol)


def arpls(spectra: np.ndarray, *, lam: float = 1e5, n_iter: int = 50, tol: float = 1e-3) -> np.ndarray:
    """Asymmetrically reweighted penalised least squares (Baek et al. 2015), batched.

    Weights follow a logistic function of the residual scaled by the mean and standard
    deviation of each spectrum's negative residuals, so noise around the baseline keeps
    weight and peaks lose it.
    """

    def update(y, z):
        d = y - z
        neg = d < 0
        count = np.maximum(neg.sum(axis=0), 1)
        mean = np.where(neg, d, 0).sum(axis=0) / count
        std = np.sqrt(np.where(neg, (d - mean) ** 2, 0).sum(axis=0) / np.maximum(count - 1, 1))
        std = np.maximum(std, 1e-300)
        arg = np.clip(2 * (d - (2 * std - mean)) / std, -709, 709)
        return 1.0 / (1.0 + np.exp(arg))

    return _batched_whittaker(spectra, lam, update, n_iter, tol)


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
    hat = proj.T @ vander.T  # (n_channels, n_channels): least-squares projection
    work = y.copy()
    fit = work @ hat
    active = np.arange(y.shape[0])  # like pybaselines, each spectrum stops on its own
    for _ in range(n_iter):
        work[active] = np.minimum(work[active], fit[active])
        new_fit = work[active] @ hat
        old = fit[active]
        change = np.linalg.norm(new_fit - old, axis=1) / np.maximum(np.linalg.norm(old, axis=1), 1e-12)
        fit[active] = new_fit
        active = active[~(change < tol)]
        if active.size == 0:
            break
    return fit


def _pybaselines_fit(method: str, values: np.ndarray, params: dict):
    """``fit(block) -> baselines`` calling pybaselines once per spectrum of the block."""
    import inspect

    from pybaselines import Baseline

    fitter = Baseline(x_data=values)
    func = getattr(fitter, method)
    accepted = inspect.signature(func).parameters
    kwargs = {"lam": params["lam"], "p": params["p"], "poly_order": params["order"], "tol": params["tol"]}
    if params["n_iter"] is not None:
        kwargs["max_iter"] = params["n_iter"]
    if params["half_window"] is not None:
        channels = max(1, round(params["half_window"] / (float(np.median(np.diff(values))) or 1.0)))
        kwargs["max_half_window" if method == "snip" else "half_window"] = channels
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}

    def fit(block: np.ndarray) -> np.ndarray:
        out = np.full(block.shape, np.nan)
        for i, row in enumerate(np.asarray(block, dtype=np.float64)):
            if np.all(np.isfinite(row)):
                out[i] = func(row, **kwargs)[0]
        return out

    return fit


def _batched_fit(method: str, values: np.ndarray, params: dict):
    n_iter = _DEFAULT_ITER[method] if params["n_iter"] is None else params["n_iter"]
    if method == "asls":
        return lambda s: asls(s, lam=params["lam"], p=params["p"], n_iter=n_iter, tol=params["tol"])
    if method == "arpls":
        return lambda s: arpls(s, lam=params["lam"], n_iter=n_iter, tol=params["tol"])
    return lambda s: modpoly(s, values, order=params["order"], n_iter=n_iter, tol=params["tol"])


def baseline(x, *, axis=None, return_baseline: bool = False, **params):
    """Subtract a baseline from every spectrum.

    Parameters
    ----------
    x : Cube or ndarray of shape (..., n_channels)
    axis : array-like of shape (n_channels,), optional
        Channel positions for a plain array (default: channel numbers).
    return_baseline : bool
        Return the baseline instead of the corrected spectra.
    method : str
        A pybaselines name: ``asls``, ``arpls``, ``modpoly`` (batched here), ``airpls``,
        ``aspls``, ``iasls``, ``imodpoly``, ``snip``, ``rubberband``, ``rolling_ball``.
    lam, p, order, n_iter, tol, half_window
        See ``PARAMS`` for units and defaults; each method uses those it knows.

    Returns
    -------
    Cube or ndarray
        Corrected spectra (float32), same shape.

    Examples
    --------
    >>> from chemmap.testing import make_cube
    >>> corrected = baseline(make_cube(), method="arpls", lam=1e5)
    """
    params = validate_params(PARAMS, params, func="baseline")
    method = "modpoly" if params["method"] == "poly" else params["method"]
    if isinstance(x, Cube) or axis is not None:
        values = axis_values_of(x, axis, "baseline")
    else:
        values = np.arange(np.shape(x)[-1], dtype=np.float64)
    fit = _batched_fit(method, values, params) if method in BATCHED else _pybaselines_fit(method, values, params)

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
