"""Endmember extraction: the purest pixels, whose spectra span the others as mixtures.

Every method works on an in-memory matrix of pixel spectra, for a large cube a seeded
sample of its valid pixels (:func:`extract_endmembers` draws it), and returns the chosen
pixels; all steps are vectorised over pixels.

- ``vca``: vertex component analysis (Nascimento and Bioucas-Dias, IEEE TGRS 43, 2005).
- ``nfindr``: N-FINDR (Winter 1999): the simplex of largest volume, every swap scored for
  all pixels at once through the matrix determinant lemma.
- ``atgp``: automatic target generation (Ren and Chang 2003): largest norm orthogonal to
  the endmembers found so far.
- ``ppi``: pixel purity index: pixels most often extreme along random skewers.
- ``smacc``: successive projections on the convex cone (after Gruninger et al. 2004):
  the pixel worst explained by a non-negative mixture of the endmembers found so far.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from chemmap._shared.blockwise import take_rows
from chemmap._shared.linalg import EXACT_CHANNELS, leading_components
from chemmap._shared.sampling import seeded_sample
from chemmap._shared.validation import check_choice, check_int, check_random_state
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ShapeError
from chemmap.decomposition.abundances import nnls_gram

__all__ = [
    "ENDMEMBER_METHODS",
    "Endmembers",
    "atgp",
    "extract_endmembers",
    "nfindr",
    "ppi",
    "sample_pixels",
    "smacc",
    "vca",
]

#: Valid pixels (at most) the endmembers are searched among.
DEFAULT_SAMPLE = 100_000


def _check(pixels, k: int, func: str) -> np.ndarray:
    y = np.asarray(pixels, dtype=np.float64)
    if y.ndim != 2:
        raise ShapeError(f"{func} needs pixels as an (n_pixels, n_channels) array; got shape {y.shape}.")
    k = check_int(k, name="k", func=func, low=1)
    if k > min(y.shape):
        raise ShapeError(
            f"{func}: {k} endmembers need at least {k} pixels and {k} channels; got {y.shape[0]} pixels and "
            f"{y.shape[1]} channels. Ask for fewer endmembers."
        )
    if not np.all(np.isfinite(y)):
        raise ShapeError(f"{func}: the pixels hold NaN or Inf; drop or mask those pixels first.")
    return y


#: Leading directions of the last pixels searched with many channels, by centring, kept while
#: those pixels live: the extractors of ``--unmix auto`` search the same ones.
_DIRECTIONS: dict[bool, tuple] = {}
#: Directions found at least (PPI's ten), so that one search serves every extractor.
_MIN_DIRECTIONS = 10


def _subspace(y: np.ndarray, dim: int, *, centred: bool) -> np.ndarray:
    """Coordinates of the pixels in their ``dim`` leading principal directions (beyond
    :data:`~chemmap._shared.linalg.EXACT_CHANNELS` channels found by randomized SVD, without
    a centred copy, once per pixel array: the Gram matrix of 100 000 pixels of 4 096 channels
    took 40 s, and each extractor formed its own)."""
    if y.shape[1] <= EXACT_CHANNELS:
        x = y - y.mean(axis=0) if centred else y
        _, vectors = np.linalg.eigh(x.T @ x / x.shape[0])
        return x @ vectors[:, ::-1][:, :dim]
    mean = y.mean(axis=0) if centred else None
    known = _DIRECTIONS.get(centred)
    if known is None or known[0]() is not y or known[1].shape[0] < dim:
        vt = leading_components(y, max(dim, _MIN_DIRECTIONS), mean=mean)[1]
        _DIRECTIONS[centred] = (weakref.ref(y), vt)
    vt = _DIRECTIONS[centred][1][:dim]
    coords = y @ vt.T
    return coords if mean is None else coords - mean @ vt.T


def vca(pixels, k: int, *, random_state=0) -> np.ndarray:
    """Indices of ``k`` endmember pixels by vertex component analysis.

    The pixels are projected onto their ``k``-dimensional signal subspace (projectively,
    onto the plane ``<x, mean> = 1``, when the estimated SNR is high; else onto ``k - 1``
    principal components plus a constant); each step then takes the pixel most extreme
    along a random direction orthogonal to the endmembers found so far.
    """
    y = _check(pixels, k, "vca")
    rng = check_random_state(random_state)
    n, c = y.shape
    power = float(np.mean(np.einsum("ij,ij->i", y, y)))
    x = _subspace(y, k, centred=False)
    signal = float(np.mean(np.einsum("ij,ij->i", x, x)))
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = 10 * np.log10((signal - k / c * power) / (power - signal))
    if np.isfinite(snr) and snr > 15 + 10 * np.log10(k):
        u = x.mean(axis=0)
        projected = x / np.clip(x @ u, 1e-300, None)[:, None]
    else:
        x = _subspace(y, k - 1, centred=True)
        ceiling = np.sqrt(np.max(np.sum(x**2, axis=1)))
        projected = np.concatenate([x, np.full((n, 1), ceiling)], axis=1)
    basis = np.zeros((k, k))
    basis[-1, 0] = 1.0
    chosen = np.empty(k, dtype=np.int64)
    for i in range(k):
        w = rng.standard_normal(k)
        f = w - basis @ (np.linalg.pinv(basis) @ w)
        f /= max(np.linalg.norm(f), 1e-300)
        chosen[i] = int(np.argmax(np.abs(projected @ f)))
        basis[:, i] = projected[chosen[i]]
    return chosen


def atgp(pixels, k: int) -> np.ndarray:
    """Indices of ``k`` pixels: each the largest in norm after projecting out those before."""
    y = _check(pixels, k, "atgp")
    energy = np.einsum("ij,ij->i", y, y)
    chosen = [int(np.argmax(energy))]
    for _ in range(1, k):
        u, s, _ = np.linalg.svd(y[chosen].T, full_matrices=False)
        basis = u[:, s > s[0] * 1e-12]  # the endmembers' span, orthonormal
        z = y @ basis
        left = energy - np.einsum("ij,ij->i", z, z)  # |y|^2 - |its projection|^2, without an (n, c) copy
        chosen.append(int(np.argmax(left)))
    return np.asarray(chosen, dtype=np.int64)


def nfindr(pixels, k: int, *, max_sweeps: int = 10, start=None) -> np.ndarray:
    """Indices of ``k`` pixels spanning the simplex of largest volume (N-FINDR).

    In the ``k - 1`` principal components, replacing endmember ``j`` by pixel ``p``
    multiplies the simplex volume by ``|(E⁻¹ [1; z_p])_j|`` (matrix determinant lemma),
    so one product scores every swap of every pixel. Starts from ATGP's pixels.
    """
    y = _check(pixels, k, "nfindr")
    z = np.concatenate([np.ones((y.shape[0], 1)), _subspace(y, k - 1, centred=True)], axis=1)
    chosen = atgp(y, k) if start is None else np.asarray(start, dtype=np.int64).copy()
    for _ in range(max_sweeps):
        swapped = False
        for j in range(k):
            simplex = z[chosen].T
            if abs(np.linalg.det(simplex)) < 1e-300:
                factors = np.abs(z @ np.linalg.pinv(simplex).T)[:, j]
            else:
                factors = np.abs(np.linalg.solve(simplex, z.T))[j]
            best = int(np.argmax(factors))
            if factors[best] > 1 + 1e-9 and best not in chosen:
                chosen[j] = best
                swapped = True
        if not swapped:
            break
    return chosen


#: PPI skewers projected at once.
_SKEWER_BLOCK = 128


def ppi(pixels, k: int, *, n_skewers: int = 2000, min_angle: float = 0.05, random_state=0) -> np.ndarray:
    """Indices of ``k`` pixels by the pixel purity index.

    Pixels are projected (in their ``min(10, n_channels)`` leading principal components) on
    ``n_skewers`` random directions; each skewer's two extreme pixels score a point. The
    ``k`` endmembers are the highest scorers, skipping a pixel within ``min_angle``
    radians of one already taken (its near-duplicate).
    """
    y = _check(pixels, k, "ppi")
    rng = check_random_state(random_state)
    x = _subspace(y, min(10, y.shape[1]), centred=True)
    skewers = rng.standard_normal((x.shape[1], n_skewers))
    xt = np.ascontiguousarray(x.T)
    extremes = []
    for start in range(0, n_skewers, _SKEWER_BLOCK):  # (skewers, pixels) by blocks: no (n, 2000) array
        scores = skewers[:, start : start + _SKEWER_BLOCK].T @ xt
        extremes += [scores.argmax(axis=1), scores.argmin(axis=1)]
    counts = np.bincount(np.concatenate(extremes), minlength=y.shape[0])
    norms = np.clip(np.linalg.norm(y, axis=1), 1e-300, None)
    chosen: list[int] = []
    for p in np.argsort(-counts, kind="stable"):
        if counts[p] == 0 and len(chosen) >= 1:
            break
        if all(np.arccos(np.clip(y[p] @ y[q] / (norms[p] * norms[q]), -1, 1)) > min_angle for q in chosen):
            chosen.append(int(p))
        if len(chosen) == k:
            return np.asarray(chosen, dtype=np.int64)
    return _fill_from(atgp(y, k), chosen, k)


def _fill_from(extra: np.ndarray, chosen: list[int], k: int) -> np.ndarray:
    for p in extra:
        if len(chosen) == k:
            break
        if int(p) not in chosen:
            chosen.append(int(p))
    return np.asarray(chosen, dtype=np.int64)


def smacc(pixels, k: int) -> np.ndarray:
    """Indices of ``k`` pixels: each the one left with the largest residual after its best
    non-negative mixture of the endmembers found so far."""
    y = _check(pixels, k, "smacc")
    chosen = [int(np.argmax(np.einsum("ij,ij->i", y, y)))]
    energy = np.einsum("ij,ij->i", y, y)
    for _ in range(1, k):
        e = y[chosen]
        gram = e @ e.T
        b = y @ e.T
        x = nnls_gram(gram, b)
        left = energy - 2 * np.einsum("ij,ij->i", x, b) + np.einsum("ij,jk,ik->i", x, gram, x)
        left[chosen] = -np.inf
        chosen.append(int(np.argmax(left)))
    return np.asarray(chosen, dtype=np.int64)


def sample_pixels(
    cube: Cube, sample: int | None, random_state, *, func: str, at_least: int = 1, copies: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of at most ``sample`` valid, finite pixels (all if ``None``), in
    memory as float64, and their flat positions in the image; no more pixels than fit
    ``copies`` times (the arrays of the sample's size its user holds at once) in
    :data:`~chemmap._shared.compute.INTERMEDIATE_SHARE` of the memory limit as float64
    (100 000 pixels of 4 096 channels are 3.3 GB), unless ``at_least`` asks for more."""
    from chemmap._shared.compute import INTERMEDIATE_SHARE, active_settings

    valid = np.flatnonzero(cube.valid_pixels())
    size = int(INTERMEDIATE_SHARE * active_settings().memory_limit) // (8 * cube.n_channels * copies)
    if sample is not None:
        size = min(size, check_int(sample, name="sample", func=func, low=1))
    size = max(size, at_least, 1)
    valid = valid[seeded_sample(valid.size, size, random_state)]
    y = take_rows(cube.pixels(), valid).astype(np.float64)
    finite = np.all(np.isfinite(y), axis=1)
    return (y, valid) if finite.all() else (y[finite], valid[finite])


ENDMEMBER_METHODS = {"vca": vca, "nfindr": nfindr, "atgp": atgp, "ppi": ppi, "smacc": smacc}
_SEEDED = ("vca", "ppi")


@dataclass
class Endmembers:
    """Endmember spectra and where they were found.

    Attributes
    ----------
    spectra : ndarray of shape (k, n_channels)
        Spectra of the chosen pixels (the cube's units).
    pixels : ndarray of shape (k, 2)
        Their (row, column) in the image.
    method : str
    n_searched : int
        Valid pixels searched (the sample size for large cubes).
    """

    spectra: np.ndarray
    pixels: np.ndarray
    method: str
    n_searched: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "k": int(self.spectra.shape[0]),
            "pixels": self.pixels.tolist(),
            "n_searched": self.n_searched,
        }


def extract_endmembers(
    cube: Cube, k: int, *, method: str = "vca", sample: int | None = DEFAULT_SAMPLE, random_state=0
) -> Endmembers:
    """Find ``k`` endmembers among the valid pixels of ``cube`` (a seeded sample of at most
    ``sample`` of them; ``None`` searches all).

    Parameters
    ----------
    cube : Cube
        NumPy or lazy; only the sampled pixels are read.
    k : int
        Number of endmembers.
    method : {"vca", "nfindr", "atgp", "ppi", "smacc"}
    sample : int or None
        Pixels searched at most.
    random_state : int
        Seed of the sample and of the random directions (VCA, PPI).
    """
    method = check_choice(method, tuple(ENDMEMBER_METHODS), name="method", func="extract_endmembers")
    y, valid = sample_pixels(cube, sample, random_state, func="extract_endmembers")
    return endmembers_of_pixels(y, valid, cube.image_shape, k, method=method, random_state=random_state)


def endmembers_of_pixels(y, valid, image_shape, k: int, *, method: str, random_state=0) -> Endmembers:
    """:func:`extract_endmembers` on pixels already read: ``y`` (n, n_channels) and their
    flat positions ``valid`` in an image of ``image_shape`` (what :func:`sample_pixels`
    returns), so several extractors can share one read."""
    finder = ENDMEMBER_METHODS[method]
    found = finder(y, k, random_state=random_state) if method in _SEEDED else finder(y, k)
    rows, cols = np.unravel_index(valid[found], image_shape)
    return Endmembers(
        spectra=y[found], pixels=np.stack([rows, cols], axis=1), method=method, n_searched=int(valid.size)
    )
