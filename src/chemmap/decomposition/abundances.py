"""Abundances of known component spectra in every pixel, by least squares solved for all
pixels at once: unconstrained or non-negative (a batched active-set method), in Gram form so
that a block of pixels only needs its products with the components."""

from __future__ import annotations

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.compute import compute
from chemmap._shared.progress import ProgressCallback
from chemmap._shared.validation import check_choice
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ShapeError

__all__ = ["abundance_maps", "nnls_gram"]

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
        Steps; default ``5 k + 10``.

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
    return np.clip(x, 0, None)


def _passive_solutions(g, b, passive) -> np.ndarray:
    """Least squares restricted to each row's passive set (zeros elsewhere), one solve per
    distinct set."""
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
    z = np.empty_like(b)
    for start in range(0, b.shape[0], _SOLVE_ROWS):
        part = slice(start, start + _SOLVE_ROWS)
        rhs = np.where(passive[part], b[part], 0.0)
        z[part] = np.einsum("rij,rj->ri", inverses[inverse[part]], rhs)
    return np.where(passive, z, 0.0)


def _set_codes(passive: np.ndarray) -> np.ndarray:
    """One integer per row for up to 64 variables (rows of booleans otherwise)."""
    k = passive.shape[1]
    if k <= 64:
        return passive.astype(np.uint64) @ (np.uint64(1) << np.arange(k, dtype=np.uint64))
    return passive


def abundance_maps(
    cube: Cube,
    components,
    *,
    names: list[str] | None = None,
    method: str = "nnls",
    residual: bool = True,
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
    method : {"nnls", "ls"}
        Non-negative or unconstrained least squares.
    residual : bool
        Add a ``fit residual`` map: ``||y - A x|| / ||y||`` per pixel (0 is a perfect fit).

    Returns
    -------
    Cube
        One map per component (in the cube's intensity units per unit of component), plus
        the residual map.
    """
    method = check_choice(method, ("nnls", "ls"), name="method", func="abundance_maps")
    a = np.asarray(components, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != cube.n_channels:
        raise ShapeError(
            f"abundance_maps needs components of shape (k, {cube.n_channels}) on the cube's axis; got {a.shape}."
        )
    k = a.shape[0]
    names = [f"component {i + 1}" for i in range(k)] if names is None else list(names)
    if len(names) != k or len(set(names)) != k:
        raise ShapeError(f"abundance_maps needs {k} distinct names, one per component.")
    gram = a @ a.T
    rank = np.linalg.matrix_rank(gram)
    if method == "ls" and rank < k:
        raise ShapeError(f"The {k} components are linearly dependent (rank {rank}); drop duplicates or use nnls.")
    pinv = np.linalg.pinv(gram) if method == "ls" else None

    def kernel(spectra: np.ndarray) -> np.ndarray:
        y = spectra.astype(np.float64)
        b = y @ a.T
        x = b @ pinv if pinv is not None else nnls_gram(gram, b)
        if not residual:
            return x
        energy = np.einsum("ij,ij->i", y, y)
        left = energy - 2 * np.einsum("ij,ij->i", x, b) + np.einsum("ij,jk,ik->i", x, gram, x)
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.sqrt(np.clip(left, 0, None) / energy)
        return np.concatenate([x, relative[:, None]], axis=1)

    n_out = k + int(residual)
    (stacked,) = compute(
        map_spectra(kernel, cube.data, n_out=n_out, dtype=np.float32), stage=f"{method} abundances", progress=progress
    )
    stacked = np.asarray(stacked)
    valid = cube.valid_pixels().reshape(cube.image_shape)
    stacked[~valid] = np.nan
    maps = {name: stacked[..., i] for i, name in enumerate(names)}
    info = {name: {"kind": f"{method} abundance", "unit": "per unit component"} for name in names}
    if residual:
        maps["fit residual"] = stacked[..., k]
        info["fit residual"] = {"kind": "relative fit residual", "unit": "fraction"}
    return Cube.from_maps(maps, mask=cube.mask, attrs={"maps": info})
