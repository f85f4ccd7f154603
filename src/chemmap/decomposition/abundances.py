"""Abundances of known component spectra in every pixel, by least squares solved for all
pixels at once: unconstrained, non-negative (a batched active-set method) or fully
constrained (non-negative and summing to one), in Gram form so that a block of pixels only
needs its products with the components."""

from __future__ import annotations

import warnings

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.compute import compute
from chemmap._shared.progress import ProgressCallback
from chemmap._shared.validation import check_choice
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ConvergenceWarning, ShapeError
from chemmap.decomposition.regularised import PENALTIES, spatial_abundances

__all__ = ["METHODS", "abundance_maps", "fcls_gram", "nnls_gram", "solve_abundances"]

#: Rows whose passive sets are solved together in one batched inverse.
_SOLVE_ROWS = 4096


def nnls_gram(gram, products, *, max_iter: int | None = None) -> np.ndarray:
    """Non-negative least squares for many spectra at once (block principal pivoting).

    Minimises ``||A x - y||²`` subject to ``x >= 0`` for every row ``y`` of ``Y``, given
    only ``G = AᵀA`` and ``B = Y A``. This is the block principal pivoting method of Kim
    and Park (SIAM J. Sci. Comput. 33, 2011): every row exchanges all its infeasible
    variables between the free and the zero set at once (falling back to one at a time
    when that stops shrinking them), so it needs a few steps where an active-set method
    needs one per variable; each step solves the least-squares problem once per distinct
    free set, not once per row.

    Parameters
    ----------
    gram : array of shape (k, k)
        ``AᵀA``, symmetric positive (semi-)definite.
    products : array of shape (n, k)
        ``Y A``, one row per spectrum.
    max_iter : int, optional
        Steps; default ``5 k + 10``. Spectra still infeasible then keep their last estimate,
        with a :class:`~chemmap.core.exceptions.ConvergenceWarning` saying how many.

    Returns
    -------
    ndarray of shape (n, k), float64
        The solutions (equal to :func:`scipy.optimize.nnls` for full-rank ``A``).
    """
    g = np.asarray(gram, dtype=np.float64)
    b = np.atleast_2d(np.asarray(products, dtype=np.float64))
    n, k = b.shape
    if g.shape != (k, k):
        raise ShapeError(f"nnls_gram: the Gram matrix must be {k} x {k} to match the products; got {g.shape}.")
    max_iter = 5 * k + 10 if max_iter is None else int(max_iter)
    scale = np.abs(g).max(initial=0.0) * np.abs(b).max(axis=1, initial=0.0)
    tol = (1e3 * np.finfo(np.float64).eps * np.maximum(scale, np.finfo(np.float64).tiny))[:, None]
    free = np.zeros((n, k), dtype=bool)
    x = np.zeros((n, k))
    dual = -b  # G x - b: the gradient, zero on the free set at the optimum
    tries = np.full(n, 3)  # full exchanges left before one-at-a-time exchanges
    fewest = np.full(n, k + 1)  # fewest infeasible variables seen
    rows = np.arange(n)
    for _ in range(max_iter):
        bad = (free[rows] & (x[rows] < -tol[rows])) | (~free[rows] & (dual[rows] < -tol[rows]))
        count = bad.sum(axis=1)
        keep = count > 0
        rows, bad, count = rows[keep], bad[keep], count[keep]
        if rows.size == 0:
            break
        shrinking = count < fewest[rows]
        fewest[rows[shrinking]] = count[shrinking]
        tries[rows[shrinking]] = 3
        full = shrinking | (tries[rows] > 0)
        tries[rows[~shrinking & full]] -= 1
        single = np.zeros_like(bad)
        last = k - 1 - np.argmax(bad[:, ::-1], axis=1)
        single[np.arange(rows.size), last] = True
        free[rows] ^= np.where(full[:, None], bad, single)
        x[rows] = _passive_solutions(g, b[rows], free[rows])
        dual[rows] = np.where(free[rows], 0.0, x[rows] @ g - b[rows])
    else:
        left = ((free & (x < -tol)) | (~free & (dual < -tol))).any(axis=1).sum()
        if left:
            warnings.warn(
                f"NNLS stopped at its bound of {max_iter} steps with {left} of {n} spectra short of the "
                "optimum; their abundances are the last estimate, clipped at 0. Nearly dependent component "
                "spectra cause this: use fewer components.",
                ConvergenceWarning,
                stacklevel=2,
            )
    return np.clip(x, 0, None)


def _passive_solutions(g, b, passive) -> np.ndarray:
    """Least squares restricted to each row's passive set (zeros elsewhere), one solve per
    distinct set."""
    inverses, which = _set_inverses(g, passive)
    z = np.empty_like(b)
    for start in range(0, b.shape[0], _SOLVE_ROWS):
        part = slice(start, start + _SOLVE_ROWS)
        rhs = np.where(passive[part], b[part], 0.0)
        z[part] = np.einsum("rij,rj->ri", inverses[which[part]], rhs)
    return np.where(passive, z, 0.0)


def _set_inverses(g, passive) -> tuple[np.ndarray, np.ndarray]:
    """Inverses of ``G`` restricted to each distinct passive set (the identity outside it),
    and the number of each row's set."""
    k = g.shape[0]
    first, inverse = np.unique(_set_codes(passive), return_index=True, return_inverse=True, axis=0)[1:]
    masks = passive[first]
    # the passive block of G, the identity elsewhere; a tiny ridge keeps nearly equal
    # components solvable
    ridge = 1e-12 * max(float(np.trace(g)) / k, np.finfo(np.float64).tiny)
    eye = np.eye(k)
    both = masks[:, :, None] & masks[:, None, :]
    systems = np.where(both, g + ridge * eye, eye)
    inverses = np.linalg.inv(systems)
    # nearly dependent components make some systems too ill-conditioned to invert plainly
    error = np.abs(systems @ inverses - eye).max(axis=(1, 2))
    poor = np.flatnonzero(~(error < 1e-8))
    if poor.size:
        inverses[poor] = np.linalg.pinv(systems[poor], rcond=1e-10, hermitian=True)
    return inverses, inverse.reshape(-1)


def fcls_gram(gram, products, *, total: float = 1.0) -> np.ndarray:
    """Fully constrained least squares (``x >= 0``, ``sum(x) = total``) for many spectra at once.

    The sum constraint enters as a heavily weighted extra row of ``A`` (Heinz and Chang,
    IEEE TGRS 39, 2001), solved by :func:`nnls_gram`; the support found that way is then
    solved exactly under the equality constraint (a Lagrange multiplier per row), so the
    sums equal ``total`` to rounding. Rows whose exact solution would leave the support
    keep the weighted-row solution, rescaled to the total.

    Parameters
    ----------
    gram : array of shape (k, k)
        ``AᵀA``.
    products : array of shape (n, k)
        ``Y A``, one row per spectrum.
    total : float
        The sum every solution must have (1 for abundance fractions).

    Returns
    -------
    ndarray of shape (n, k), float64
    """
    g = np.asarray(gram, dtype=np.float64)
    b = np.atleast_2d(np.asarray(products, dtype=np.float64))
    k = g.shape[0]
    weight = 1e3 * max(float(np.diag(g).max(initial=0.0)), np.finfo(np.float64).tiny)
    start = nnls_gram(g + weight, b + weight * total)
    passive = start > 0
    passive[~passive.any(axis=1)] = True
    inverses, which = _set_inverses(g, passive)
    x = np.empty_like(b)
    ones = np.ones(k)
    for first in range(0, b.shape[0], _SOLVE_ROWS):
        part = slice(first, first + _SOLVE_ROWS)
        inv, on = inverses[which[part]], passive[part]
        free = np.einsum("rij,rj->ri", inv, np.where(on, b[part], 0.0))
        unit = np.einsum("rij,rj->ri", inv, on * ones)
        with np.errstate(invalid="ignore", divide="ignore"):
            multiplier = (free.sum(axis=1) - total) / unit.sum(axis=1)
        x[part] = np.where(on, free - multiplier[:, None] * unit, 0.0)
    sums = start.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        fallback = np.where(sums > 0, start * (total / sums), total / k)
    bad = ~np.all(np.isfinite(x) & (x >= -1e-9 * max(abs(total), 1.0)), axis=1)
    x[bad] = fallback[bad]
    return np.clip(x, 0, None)


def _set_codes(passive: np.ndarray) -> np.ndarray:
    """One integer per row for up to 64 variables (rows of booleans otherwise)."""
    k = passive.shape[1]
    if k <= 64:
        return passive.astype(np.uint64) @ (np.uint64(1) << np.arange(k, dtype=np.uint64))
    return passive


METHODS = ("ls", "nnls", "fcls", "scaled")


def solve_abundances(gram, products, method: str) -> np.ndarray:
    """Abundances from ``G = AAᵀ`` and ``B = YAᵀ`` by unconstrained (``ls``), non-negative
    (``nnls``) or fully constrained (``fcls``) least squares, all rows at once."""
    if method == "nnls":
        return nnls_gram(gram, products)
    if method == "fcls":
        return fcls_gram(gram, products)
    return np.asarray(products, dtype=np.float64) @ np.linalg.pinv(np.asarray(gram, dtype=np.float64))


def abundance_maps(
    cube: Cube,
    components,
    *,
    names: list[str] | None = None,
    method: str = "nnls",
    residual: bool = True,
    spatial: str | None = None,
    smoothing: float | None = None,
    progress: ProgressCallback | None = None,
) -> Cube:
    """Abundance of each component spectrum in every pixel, by least squares.

    Parameters
    ----------
    cube : Cube
        NumPy, memory-mapped or lazy; solved block by block.
    components : array of shape (k, n_channels)
        Component spectra on the cube's axis (a fixed dictionary or endmembers).
    names : list of str, optional
        Map names (default ``component 1`` ...).
    method : {"nnls", "fcls", "scaled", "ls"}
        Non-negative, fully constrained (non-negative and summing to one: fractions of
        the components), scaled or unconstrained least squares. ``scaled`` is the scaled
        linear mixing model ``y = s Σ aᵢ mᵢ / ||mᵢ||`` with a free brightness ``s`` per
        pixel (illumination, topography, focus): NNLS on unit-norm components, each pixel's
        abundances then divided by their sum. It gives fractions where the pixels'
        brightness varies, which FCLS would read as a change of composition.
    residual : bool
        Add a ``fit residual`` map: ``||y - A x|| / ||y||`` per pixel (0 is a perfect fit).
    spatial : {None, "tv", "laplacian"}
        Also penalise differences between neighbouring pixels (see
        :func:`~chemmap.decomposition.regularised.spatial_abundances`): for noisy scenes.
    smoothing : float, optional
        Strength of the spatial penalty (dimensionless; relative to the components' norms);
        default :data:`~chemmap.decomposition.regularised.DEFAULT_WEIGHTS`.

    Returns
    -------
    Cube
        One map per component (in the cube's intensity units per unit of component;
        fractions for ``fcls``), plus the residual map. ``attrs["spatial"]`` reports the
        regularised solve.
    """
    method = check_choice(method, METHODS, name="method", func="abundance_maps")
    if spatial is not None:
        spatial = check_choice(spatial, PENALTIES, name="spatial", func="abundance_maps")
    a = np.asarray(components, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != cube.n_channels:
        raise ShapeError(
            f"abundance_maps needs components of shape (k, {cube.n_channels}) on the cube's axis; got {a.shape}."
        )
    if not np.all(np.isfinite(a)):
        raise ShapeError("abundance_maps: the component spectra hold NaN or Inf; pass finite spectra.")
    k = a.shape[0]
    names = [f"component {i + 1}" for i in range(k)] if names is None else list(names)
    if len(names) != k or len(set(names)) != k:
        raise ShapeError(f"abundance_maps needs {k} distinct names, one per component.")
    scaled = method == "scaled"
    if scaled:
        norms = np.linalg.norm(a, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ShapeError("abundance_maps: a component spectrum is all zeros; scaled unmixing needs its shape.")
        a, method = a / norms, "nnls"
    gram = a @ a.T
    rank = np.linalg.matrix_rank(gram)
    if method == "ls" and rank < k:
        raise ShapeError(f"The {k} components are linearly dependent (rank {rank}); drop duplicates or use nnls.")

    def kernel(spectra: np.ndarray) -> np.ndarray:
        y = spectra.astype(np.float64)
        b = y @ a.T
        energy = np.einsum("ij,ij->i", y, y)[:, None]
        if spatial is not None:
            return np.concatenate([b, energy], axis=1)
        x = solve_abundances(gram, b, method)
        return np.concatenate([x, _relative_residual(x, b, energy, gram)], axis=1)

    stage = f"{method} abundances"
    (stacked,) = compute(map_spectra(kernel, cube.data, n_out=k + 1, dtype=np.float64), stage=stage, progress=progress)
    stacked = np.asarray(stacked)
    valid = cube.valid_pixels().reshape(cube.image_shape)
    attrs = {}
    if spatial is not None:
        products, energy = stacked[..., :k], stacked[..., k:]
        start = solve_abundances(gram, products.reshape(-1, k), method).reshape(products.shape)
        x, attrs["spatial"] = spatial_abundances(
            gram, products, valid, start, constraint=method, penalty=spatial, weight=smoothing, progress=progress
        )
        rel = _relative_residual(x.reshape(-1, k), products.reshape(-1, k), energy.reshape(-1, 1), gram)
        stacked = np.concatenate([x, rel.reshape(*x.shape[:2], 1)], axis=2)
    if scaled:
        brightness = stacked[..., :k].sum(axis=2, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            stacked[..., :k] = np.where(brightness > 0, stacked[..., :k] / brightness, np.nan)
        method = "scaled"
    stacked = stacked.astype(np.float32)
    stacked[~valid] = np.nan
    maps = {name: stacked[..., i] for i, name in enumerate(names)}
    kind = f"{method} abundance" + ("" if spatial is None else f" ({spatial}-regularised)")
    unit = "fraction" if method in ("fcls", "scaled") else "per unit component"
    info = {name: {"kind": kind, "unit": unit} for name in names}
    if residual:
        maps["fit residual"] = stacked[..., k]
        info["fit residual"] = {"kind": "relative fit residual", "unit": "fraction"}
    return Cube.from_maps(maps, mask=cube.mask, attrs={"maps": info, **attrs})


def _relative_residual(x, b, energy, gram) -> np.ndarray:
    """``||y - Aᵀx|| / ||y||`` per row, from the products alone; shape (n, 1)."""
    left = energy[:, 0] - 2 * np.einsum("ij,ij->i", x, b) + np.einsum("ij,jk,ik->i", x, gram, x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.clip(left, 0, None) / energy[:, 0])[:, None]
