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
#: Input bytes per call of the batched Whittaker solvers: each call sweeps the channels a few
#: dozen times per iteration, so fewer, larger calls cost less (about 20x this in float64
#: work space per thread).
WHITTAKER_PIECE_BYTES = 8 * 2**20
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

    The factorisation and the forward substitution run in one sweep over the rows, in place,
    so each row costs a dozen vector operations over the systems.

    Parameters
    ----------
    diag : ndarray of shape (n, m)
        Main diagonals, one system per column (``m`` systems of size ``n``).
    off1 : ndarray of shape (n - 1,) or (n - 1, m)
        First off-diagonal (one value per row shared by all systems, or one per system).
    off2 : ndarray of shape (n - 2,) or (n - 2, m)
        Second off-diagonal.
    rhs : ndarray of shape (n, m)
        Right-hand sides.

    Returns
    -------
    ndarray of shape (n, m)
    """
    n, m = diag.shape
    d, x = np.array(diag, dtype=np.float64), np.array(rhs, dtype=np.float64)
    _solve_in_place(d, x, off1, off2, np.empty((n, m)), np.empty((n, m)), np.empty((2, m)))
    return x


def _solve_in_place(d, x, off1, off2, l1, l2, scratch) -> None:
    """:func:`pentadiagonal_solve` that overwrites ``d`` (with D of LDLᵀ) and ``x`` (the
    right-hand sides, with the solution), using ``l1``, ``l2`` (same shape) and ``scratch``
    (2 rows) as work space."""
    n = d.shape[0]
    t, tmp = scratch[0], scratch[1]
    for i in range(1, n):
        if i >= 2:
            np.divide(off2[i - 2], d[i - 2], out=l2[i])
            d[i] -= np.multiply(l2[i], off2[i - 2], out=tmp)  # l2² d[i-2] = l2 off2
            x[i] -= np.multiply(l2[i], x[i - 2], out=tmp)
            np.subtract(off1[i - 1], np.multiply(l1[i - 1], off2[i - 2], out=tmp), out=t)
        else:
            np.copyto(t, off1[0])
        np.divide(t, d[i - 1], out=l1[i])
        d[i] -= np.multiply(l1[i], t, out=tmp)  # l1² d[i-1] = l1 t
        x[i] -= np.multiply(l1[i], x[i - 1], out=tmp)
    x /= d
    for i in range(n - 2, -1, -1):
        x[i] -= np.multiply(l1[i + 1], x[i + 1], out=tmp)
        if i + 2 < n:
            x[i] -= np.multiply(l2[i + 2], x[i + 2], out=tmp)


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
    the baseline of that fit; at most ``n_iter + 1`` fits are made. The spectra still going
    are kept together in compact arrays, so finished ones cost nothing more.
    """
    n, m = y.shape
    main, off1, off2 = second_difference_gram(n)
    penalty, off1, off2 = lam * main[:, None], lam * off1, lam * off2
    z = np.empty((n, m))
    going = np.arange(m)  # the columns of z that the working arrays hold
    w = np.ones((n, m))
    space = np.empty((4, n, m))  # the system's diagonal, its solution and the two factors
    scratch = np.empty((2, m))
    for _ in range(max(0, n_iter) + 1):
        k = going.size
        d, fit, l1, l2 = space[0, :, :k], space[1, :, :k], space[2, :, :k], space[3, :, :k]
        np.add(w, penalty, out=d)
        np.multiply(w, y, out=fit)
        _solve_in_place(d, fit, off1, off2, l1, l2, scratch[:, :k])
        new_w = update(y, fit)
        diff = np.subtract(new_w, w, out=d)
        change = np.sqrt(np.einsum("ij,ij->j", diff, diff) / np.maximum(np.einsum("ij,ij->j", w, w), 1e-300))
        still = change >= tol
        if still.all():
            w = new_w
            continue
        z[:, going[~still]] = fit[:, ~still]
        going, y, w = going[still], y[:, still], new_w[:, still]
        if going.size == 0:
            return z
    z[:, going] = fit[:, still]
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
        below = np.minimum(d, 0.0)  # the negative residuals, 0 elsewhere
        count = np.count_nonzero(d < 0, axis=0)
        mean = below.sum(axis=0) / np.maximum(count, 1)
        spread = np.einsum("ij,ij->j", below, below) - count * mean**2  # sum over d < 0 of (d - mean)²
        std = np.maximum(np.sqrt(np.maximum(spread, 0.0) / np.maximum(count - 1, 1)), 1e-300)
        d -= 2 * std - mean
        d *= 2 / std
        np.clip(d, -709, 709, out=d)
        np.exp(d, out=d)
        d += 1.0
        return np.reciprocal(d, out=d)

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

    pieces = WHITTAKER_PIECE_BYTES if method in ("asls", "arpls") else None
    return apply_spectral(x, kernel, step="baseline", params=params, piece_bytes=pieces)


steps.register(
    "baseline",
    StepSpec(
        "baseline", PARAMS, lambda cube, **p: baseline(cube, **p), "baseline removal (asls or modified polynomial)"
    ),
)
