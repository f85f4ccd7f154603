"""Multivariate curve resolution by alternating least squares (MCR-ALS): ``D ≈ C S`` with
the concentrations ``C`` (one row per pixel) and the pure spectra ``S`` (one row per
component) solved in turn under constraints.

Each iteration is one pass over the pixels, block by block (NumPy or Dask): a block's
concentrations need only ``D_b Sᵀ`` and ``SSᵀ``, and the spectra need only the sums of
``CᵀC`` and ``CᵀD`` over blocks; the lack of fit follows from the same sums. All pixels of
a block are solved at once (:func:`~chemmap.decomposition.abundances.nnls_gram`), so
negative noise in the data is never a problem."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from chemmap._shared.blockwise import map_spectra, reduce_blocks
from chemmap._shared.compute import compute
from chemmap._shared.estimator import Estimator, TransformerMixin
from chemmap._shared.progress import ProgressCallback, notify
from chemmap._shared.validation import check_choice, check_int, check_number
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, NotFittedError, ShapeError
from chemmap.decomposition.abundances import fcls_gram, nnls_gram
from chemmap.decomposition.endmembers import DEFAULT_SAMPLE, extract_endmembers, sample_pixels

__all__ = ["MCRALS", "MCRResult", "simplisma", "unimodal"]

#: Gram entry that drives a concentration to zero in NNLS (selectivity constraint).
_EXCLUDED = -1e300


def simplisma(pixels, k: int, *, offset: float = 0.05) -> np.ndarray:
    """The ``k`` purest channels by SIMPLISMA (Windig and Guilment, Anal. Chem. 63, 1991).

    Purity of channel ``j`` is ``σ_j / (μ_j + offset · max μ)``, weighted by the
    determinant of the correlation-around-origin matrix of the channels chosen so far plus
    ``j`` (so channels like those already taken score low); the determinants for all
    channels come from one block formula.

    Returns
    -------
    ndarray of int, shape (k,)
        Channel indices.
    """
    y = np.asarray(pixels, dtype=np.float64)
    mean, std = y.mean(axis=0), y.std(axis=0)
    alpha = offset * float(np.abs(mean).max())
    purity = std / (np.abs(mean) + alpha)
    scaled = y / np.sqrt(mean**2 + (std + alpha) ** 2)
    corr = scaled.T @ scaled / y.shape[0]
    chosen: list[int] = []
    for _ in range(k):
        if chosen:
            a = corr[np.ix_(chosen, chosen)]
            cross = corr[chosen]
            weight = np.diag(corr) - np.einsum("ij,ij->j", cross, np.linalg.solve(a, cross))
            weight = weight * np.linalg.det(a)
        else:
            weight = np.diag(corr)
        score = np.clip(weight, 0, None) * purity
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return np.asarray(chosen, dtype=np.int64)


def unimodal(spectra: np.ndarray) -> np.ndarray:
    """Each row made unimodal about its maximum: non-decreasing before it and
    non-increasing after it (values that rise again are cut to the running minimum)."""
    out = np.array(spectra, dtype=np.float64)
    for row in out:
        peak = int(np.argmax(row))
        row[: peak + 1] = np.minimum.accumulate(row[: peak + 1][::-1])[::-1]
        row[peak:] = np.minimum.accumulate(row[peak:])
    return out


@dataclass
class MCRResult:
    """Concentration maps, pure spectra and how the fit converged."""

    concentrations: np.ndarray
    spectra: np.ndarray
    n_iter: int
    converged: bool
    lack_of_fit: float
    explained_variance: float
    history: list[float] = field(default_factory=list)

    def report(self) -> dict:
        """``lack_of_fit`` and ``explained_variance`` in percent (pyMCR's definitions:
        ``100 √(SSR / ΣD²)`` and ``100 (1 - SSR / ΣD²)``)."""
        return {
            "n_iter": self.n_iter,
            "converged": self.converged,
            "lack_of_fit_percent": self.lack_of_fit,
            "explained_variance_percent": self.explained_variance,
            "lack_of_fit_history": self.history,
        }


class MCRALS(TransformerMixin, Estimator):
    """MCR-ALS with non-negativity, closure, unimodality, selectivity and equality constraints.

    Parameters
    ----------
    n_components : int
    init : {"vca", "nfindr", "atgp", "smacc", "simplisma"} or array of shape (k, n_channels)
        Starting spectra: endmembers found in the cube, the pixels' intensities at the
        SIMPLISMA purest channels (as starting concentrations), or given spectra.
    non_negative : {"both", "concentrations", "spectra", "none"}
    closure : bool
        Concentrations of each pixel sum to 1 (fractions; solved exactly, see
        :func:`~chemmap.decomposition.abundances.fcls_gram`).
    unimodal_spectra : bool
        Every pure spectrum has a single maximum (for band-like components).
    fixed_spectra : dict of {int: array}, optional
        Equality: these components keep the given spectra.
    absent : ndarray of bool, shape (height, width, k), optional
        Selectivity: ``True`` where a component is known to be absent (its concentration
        is held at 0; needs non-negative concentrations).
    max_iter : int
    tol : float
        Stop when the relative change of the lack of fit is below this (0.1 %, the MCR-ALS
        toolbox default: later iterations mostly rotate within the ambiguity of the solution).
    sample : int or None
        Pixels the initial endmembers are searched among.
    random_state : int

    Attributes
    ----------
    result_ : MCRResult
        The concentration maps, pure spectra and convergence of the fit.
    components_ : ndarray of shape (n_components, n_channels)
        The pure spectra (``result_.spectra``).
    """

    def __init__(
        self,
        n_components: int,
        *,
        init="vca",
        non_negative: str = "both",
        closure: bool = False,
        unimodal_spectra: bool = False,
        fixed_spectra: dict | None = None,
        absent: np.ndarray | None = None,
        max_iter: int = 100,
        tol: float = 1e-3,
        sample: int | None = DEFAULT_SAMPLE,
        random_state=0,
    ):
        self.n_components = n_components
        self.init = init
        self.non_negative = non_negative
        self.closure = closure
        self.unimodal_spectra = unimodal_spectra
        self.fixed_spectra = fixed_spectra
        self.absent = absent
        self.max_iter = max_iter
        self.tol = tol
        self.sample = sample
        self.random_state = random_state

    # -- setup ----------------------------------------------------------------------------
    def _checked(self, cube: Cube) -> tuple[int, dict]:
        k = check_int(self.n_components, name="n_components", func="MCRALS", low=1)
        check_choice(
            self.non_negative, ("both", "concentrations", "spectra", "none"), name="non_negative", func="MCRALS"
        )
        check_int(self.max_iter, name="max_iter", func="MCRALS", low=1)
        check_number(self.tol, name="tol", func="MCRALS", low=0)
        fixed = {}
        for j, spectrum in (self.fixed_spectra or {}).items():
            s = np.asarray(spectrum, dtype=np.float64)
            if not (0 <= int(j) < k) or s.shape != (cube.n_channels,):
                raise ShapeError(
                    f"MCRALS fixed_spectra: component {j} must be in 0..{k - 1} with a spectrum of "
                    f"{cube.n_channels} channels; got shape {s.shape}."
                )
            fixed[int(j)] = s
        if self.absent is not None:
            if np.shape(self.absent) != (*cube.image_shape, k):
                raise ShapeError(
                    f"MCRALS absent must be a boolean array of shape {(*cube.image_shape, k)}; "
                    f"got {np.shape(self.absent)}."
                )
            if self.non_negative not in ("both", "concentrations") or self.closure:
                raise InvalidParameterError(
                    "MCRALS absent (selectivity) needs non-negative concentrations without closure; "
                    "set non_negative='both' and closure=False."
                )
        return k, fixed

    def _start(self, cube: Cube, k: int) -> np.ndarray:
        if not isinstance(self.init, str):
            s = np.asarray(self.init, dtype=np.float64)
            if s.shape != (k, cube.n_channels):
                raise ShapeError(f"MCRALS init spectra must have shape {(k, cube.n_channels)}; got {s.shape}.")
            return s
        method = check_choice(self.init, ("vca", "nfindr", "atgp", "smacc", "simplisma"), name="init", func="MCRALS")
        if method != "simplisma":
            found = extract_endmembers(cube, k, method=method, sample=self.sample, random_state=self.random_state)
            return found.spectra
        y, _ = sample_pixels(cube, self.sample, self.random_state, func="MCRALS")
        c = np.clip(y[:, simplisma(y, k)], 0, None)
        return nnls_gram(c.T @ c, (c.T @ y).T).T

    # -- solving --------------------------------------------------------------------------
    def _concentrations(self, b: np.ndarray, gram: np.ndarray, absent: np.ndarray | None) -> np.ndarray:
        if self.closure:
            return fcls_gram(gram, b) if self.non_negative in ("both", "concentrations") else _closed_ls(gram, b)
        if self.non_negative in ("both", "concentrations"):
            if absent is not None:
                b = np.where(absent, _EXCLUDED, b)
            return nnls_gram(gram, b)
        return b @ np.linalg.pinv(gram)

    def _spectra(self, ctc: np.ndarray, ctd: np.ndarray, fixed: dict, previous: np.ndarray) -> np.ndarray:
        k = ctc.shape[0]
        free = [j for j in range(k) if j not in fixed]
        s = previous.copy()
        for j, spectrum in fixed.items():
            s[j] = spectrum
        if free:
            rhs = ctd[free].T - sum(
                (np.outer(fixed[j], ctc[free, j]) for j in fixed), np.zeros((ctd.shape[1], len(free)))
            )
            gram = ctc[np.ix_(free, free)]
            if self.non_negative in ("both", "spectra"):
                s[free] = nnls_gram(gram, rhs).T
            else:
                s[free] = (rhs @ np.linalg.pinv(gram)).T
            if self.unimodal_spectra:
                s[free] = unimodal(s[free])
        if not self.closure:
            norms = np.linalg.norm(s, axis=1)
            scale = np.where((norms > 0) & ~np.isin(np.arange(k), list(fixed)), norms, 1.0)
            s = s / scale[:, None]
        return s

    def fit(self, cube: Cube, y=None, *, progress: ProgressCallback | None = None) -> MCRALS:
        """Resolve ``cube`` into concentration maps and pure spectra (``result_``)."""
        k, fixed = self._checked(cube)
        s = self._start(cube, k)
        for j, spectrum in fixed.items():
            s[j] = spectrum
        data = cube.pixels()
        valid = cube.valid_pixels()
        absent = None if self.absent is None else np.asarray(self.absent, bool).reshape(-1, k)
        history: list[float] = []
        converged = False
        it = 0
        for it in range(1, self.max_iter + 1):
            gram = s @ s.T
            partial = functools.partial(self._partial, s=s, gram=gram)
            _, energy, ctc, ctd = reduce_blocks(partial, data, valid, absent, summed=True, stage="MCR-ALS")
            s = self._spectra(ctc, ctd, fixed, s)
            ssr = energy - 2 * float(np.sum(ctd * s)) + float(np.sum(ctc * (s @ s.T)))
            history.append(100 * np.sqrt(max(ssr, 0.0) / max(energy, 1e-300)))
            notify(progress, "MCR-ALS", it, self.max_iter)
            if len(history) > 1 and abs(history[-2] - history[-1]) <= self.tol * max(history[-2], 1e-300):
                converged = True
                break
        self.components_ = s
        maps = self.transform(cube, progress=progress)
        if absent is not None:
            maps[absent.reshape(maps.shape)] = 0.0
        lof = history[-1]
        self.result_ = MCRResult(
            concentrations=maps,
            spectra=s,
            n_iter=it,
            converged=converged,
            lack_of_fit=float(lof),
            explained_variance=float(100 - lof**2 / 100),
            history=[float(h) for h in history],
        )
        return self

    def transform(self, cube: Cube, *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Concentration maps of ``cube`` for the fitted pure spectra, shape (height, width,
        n_components), NaN at invalid pixels (the selectivity constraint is the fit's only)."""
        if not hasattr(self, "components_"):
            raise NotFittedError("This MCRALS is not fitted yet; call fit(cube) first.")
        s = self.components_
        if cube.n_channels != s.shape[1]:
            raise ShapeError(f"The cube has {cube.n_channels} channels; MCRALS was fitted on {s.shape[1]}.")
        gram = s @ s.T

        def kernel(spectra: np.ndarray) -> np.ndarray:
            y = np.nan_to_num(spectra.astype(np.float64))
            return self._concentrations(y @ s.T, gram, None)

        maps = map_spectra(kernel, cube.data, n_out=s.shape[0], dtype=np.float32)
        (maps,) = compute(maps, stage="MCR concentrations", progress=progress)
        maps = np.array(maps)
        maps[~cube.valid_pixels().reshape(cube.image_shape)] = np.nan
        return maps

    def _partial(self, block, valid, absent, rows, *, s, gram):
        y = block.reshape(-1, block.shape[-1]).astype(np.float64)
        keep = np.asarray(valid).reshape(-1) & np.all(np.isfinite(y), axis=1)
        y = y[keep]
        c = self._concentrations(y @ s.T, gram, None if absent is None else np.asarray(absent)[keep])
        return float(y.shape[0]), float(np.einsum("ij,ij->", y, y)), c.T @ c, c.T @ y


def _closed_ls(gram: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares with each row summing to 1 (no sign constraint)."""
    inv = np.linalg.pinv(gram)
    x = b @ inv
    unit = inv.sum(axis=0)
    return x - ((x.sum(axis=1) - 1) / unit.sum())[:, None] * unit[None, :]
