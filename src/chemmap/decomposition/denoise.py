"""Low-rank denoising of every spectrum (PCA, MNF) and a score that ranks denoisers without a
clean cube.

The hold-out score follows Noise2Self (Batson and Royer, ICML 2019): the bands are split into
:data:`GROUPS` interleaved groups; for each group, its bands are replaced by linear
interpolation from the neighbouring bands of the other groups, the denoiser is applied, and
its output on the group's bands is compared with the noisy values there. The denoiser never
sees the noise it is scored on, so where the noise of a band is independent of the other
bands' values the expected score is the denoiser's squared error against the clean cube plus
the noise variance: the lowest score marks the best method and rank, with no clean cube.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.linalg import leading_components
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.decomposition.endmembers import sample_pixels
from chemmap.decomposition.subspace import band_noise_std

__all__ = [
    "GROUPS",
    "LOW_RANK_METHODS",
    "LowRankDenoiser",
    "comparison_window",
    "fit_low_rank",
    "held_out_blocks",
    "hold_out_bands",
    "holdout_masks",
    "holdout_score",
    "in_window",
    "noise_variance",
    "rank_scores",
    "read_window",
    "split_samples",
    "truncation_errors",
]

#: The linear denoisers.
LOW_RANK_METHODS = ("pca", "mnf")
#: Interleaved band groups of the hold-out score (each band is held out once).
GROUPS = 8
#: Most pixels the fit and the score each draw (a seeded sample).
SAMPLE_PIXELS = 20_000
#: Fewest pixels both samples draw together, whatever the memory limit.
MIN_SAMPLE = 1_000
#: Largest rank the hold-out score tries.
MAX_RANK = 60
#: Pixels scored at once.
SCORE_PIECE = 2048
#: Side of the window of the image on which the methods are compared, pixels.
WINDOW_SIDE = 128


@dataclass
class LowRankDenoiser:
    """A spectrum ``x`` denoised as ``mean + scale · V Vᵀ ((x − mean) / scale)``, with ``V``
    the first ``rank`` columns of ``basis``.

    Attributes
    ----------
    method : {"pca", "mnf"}
        PCA: ``scale`` is 1. MNF: ``scale`` is the per-band noise standard deviation (HySime's
        regression estimate), so the components are ordered by signal-to-noise ratio.
    mean, scale : ndarray of shape (n_channels,)
        The cube's units.
    basis : ndarray of shape (n_channels, n_candidates)
        Orthonormal columns in scaled coordinates, in decreasing variance.
    rank : int
        Components kept: the lowest hold-out score.
    scores : dict
        Hold-out score (mean squared error, the cube's units squared) of every rank tried.
    """

    method: str
    mean: np.ndarray
    scale: np.ndarray
    basis: np.ndarray
    rank: int
    scores: dict[int, float] = field(default_factory=dict)

    def coordinates(self, spectra: np.ndarray, n: int | None = None) -> np.ndarray:
        """``(..., n)`` coordinates of ``(..., n_channels)`` spectra (any real dtype) on the
        first ``n`` columns of ``basis`` (all by default), in scaled units (float32)."""
        return np.subtract(spectra, self.mean, dtype=np.float32) @ (self.basis[:, :n] / self.scale[:, None])

    def restore(self, coords: np.ndarray) -> np.ndarray:
        """``(..., n_channels)`` spectra (float32) from ``(..., n)`` coordinates on the first
        ``n`` columns of ``basis``."""
        n = coords.shape[-1]
        out = np.asarray(coords, dtype=np.float32) @ (self.basis[:, :n].T * self.scale)
        out += self.mean
        return out

    def apply(self, spectra: np.ndarray, rank: int | None = None) -> np.ndarray:
        """Denoise ``(n, n_channels)`` spectra (float32)."""
        return self.restore(self.coordinates(spectra, self.rank if rank is None else rank))

    def denoise(self, cube: Cube) -> Cube:
        """Every valid pixel of ``cube`` denoised, block by block (lazy for a lazy cube)."""
        return cube.replace(data=map_spectra(self.apply, cube.data))

    def to_dict(self) -> dict:
        return {"method": self.method, "rank": self.rank, "candidates": int(self.basis.shape[1])}


def holdout_masks(n_channels: int, groups: int = GROUPS) -> list[np.ndarray]:
    """The band groups of the hold-out score: band ``j`` is in group ``j mod groups``."""
    groups = max(2, min(groups, n_channels // 2))
    return [np.arange(g, n_channels, groups) for g in range(groups)]


def hold_out_bands(spectra: np.ndarray, held: np.ndarray, axis_values) -> np.ndarray:
    """A float32 copy of ``(..., n_channels)`` spectra whose bands ``held`` are replaced by
    linear interpolation (in axis position) from the nearest kept bands on either side (the
    nearest one beyond an end)."""
    spectra = np.asarray(spectra, dtype=np.float32)
    axis_values = np.asarray(axis_values, dtype=np.float64)
    kept = np.setdiff1d(np.arange(spectra.shape[-1]), held)
    positions = np.searchsorted(kept, held)
    left, right = kept[np.maximum(positions - 1, 0)], kept[np.minimum(positions, kept.size - 1)]
    span = axis_values[right] - axis_values[left]
    t = np.where(span != 0, (axis_values[held] - axis_values[left]) / np.where(span != 0, span, 1.0), 0.0)
    out = spectra.copy()
    out[..., held] = (1.0 - t).astype(np.float32) * spectra[..., left] + t.astype(np.float32) * spectra[..., right]
    return out


def holdout_score(
    denoise: Callable[[np.ndarray], np.ndarray],
    spectra: np.ndarray,
    axis_values,
    groups: int = GROUPS,
    *,
    scored: np.ndarray | None = None,
) -> float:
    """Mean squared error of ``denoise`` on each group of bands held out in turn (see the
    module's note); the cube's units squared.

    Parameters
    ----------
    denoise : callable
        Maps an array of the shape of ``spectra`` to one of the same shape: ``(n, c)``
        spectra, or a ``(height, width, c)`` image for a denoiser that looks at neighbours.
    spectra : ndarray of shape (..., n_channels)
    axis_values : array-like of shape (n_channels,)
    groups : int
    scored : ndarray of bool, optional
        The pixels (the shape of ``spectra`` without its last axis) scored; all by default.
        Every pixel is denoised, so a spatial denoiser sees its neighbours.
    """
    spectra = np.asarray(spectra, dtype=np.float32)
    c = spectra.shape[-1]
    scored = np.ones(spectra.shape[:-1], dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    axis_values = np.asarray(axis_values, dtype=np.float64)
    target = spectra[scored]
    total = 0.0
    for held in holdout_masks(c, groups):
        masked = hold_out_bands(spectra, held, axis_values)
        error = np.asarray(denoise(masked))[..., held][scored] - target[:, held]
        total += float(np.sum(error**2, dtype=np.float64))
    return total / (np.count_nonzero(scored) * c)


def comparison_window(image_shape: tuple[int, int]) -> tuple[slice, slice]:
    """The central window of the image on which ``chemmap denoise`` compares its methods:
    at most :data:`WINDOW_SIDE` pixels a side, or a longer strip of at most
    ``WINDOW_SIDE ** 2`` pixels where the image is narrower (a line of spectra)."""
    h, w = image_shape
    most = WINDOW_SIDE * WINDOW_SIDE
    height = min(h, max(WINDOW_SIDE, most // max(1, w)))
    width = min(w, max(WINDOW_SIDE, most // height))
    return slice((h - height) // 2, (h - height) // 2 + height), slice((w - width) // 2, (w - width) // 2 + width)


def read_window(cube: Cube) -> tuple[np.ndarray, np.ndarray]:
    """The :func:`comparison_window` of ``cube`` in memory (float32) and its pixels that
    are valid and finite."""
    from chemmap._shared.compute import compute

    rows, cols = comparison_window(cube.image_shape)
    (window,) = compute(cube.data[rows, cols], stage="reading the comparison window")
    image = np.asarray(window, dtype=np.float32)
    valid = cube.valid_pixels().reshape(cube.image_shape)[rows, cols]
    return image, np.isfinite(image).all(axis=-1) & valid


def in_window(image_shape: tuple[int, int], positions) -> np.ndarray:
    """The :func:`comparison_window`'s pixels at the flat image ``positions`` (bool)."""
    marked = np.zeros(image_shape[0] * image_shape[1], dtype=bool)
    marked[np.asarray(positions, dtype=np.int64)] = True
    rows, cols = comparison_window(image_shape)
    return marked.reshape(image_shape)[rows, cols]


def held_out_blocks(image_shape: tuple[int, int]) -> np.ndarray:
    """``(height, width)`` bool: the white squares of a checkerboard of square blocks (a
    quarter of the longer side, 4 to 16 pixels): the pixels a method is scored on, away from
    those a spatial method learns from."""
    block = int(np.clip(max(image_shape) // 4, 4, 16))
    rows, cols = np.indices(image_shape)
    return (rows // block + cols // block) % 2 == 1


def truncation_errors(coords, spectra, held, model: LowRankDenoiser) -> np.ndarray:
    """Summed squared error, over the pixels and the bands ``held``, of ``spectra``'s
    restoration from the first ``r`` of ``coords`` (``model.mean + model.scale · basis ·
    coords``), for every ``r`` from 1 to ``coords.shape[1]``: float64 of shape (r,).

    Expanded so that no restoration is formed: with ``y`` the scaled spectra, ``u`` the held
    rows of the basis and ``w`` the squared scales, the error is ``Σ w y² − 2 Σ_k z_k (u_k ·
    w y) + Σ_kl z_k z_l (u_k · w u_l)``, whose sums over ``k, l ≤ r`` are cumulative sums.
    """
    z = np.asarray(coords, dtype=np.float64)
    n = z.shape[1]
    u = model.basis[held, :n].astype(np.float64)
    w = model.scale[held].astype(np.float64) ** 2
    y = (np.asarray(spectra)[:, held].astype(np.float64) - model.mean[held]) / model.scale[held]
    linear = np.cumsum(np.einsum("nk,nk->k", z, (y * w) @ u))
    quadratic = np.cumsum(np.cumsum((z.T @ z) * ((u.T * w) @ u), axis=0), axis=1).diagonal()
    return np.sum(y * y * w) - 2.0 * linear + quadratic


def rank_scores(model: LowRankDenoiser, spectra: np.ndarray, axis_values, groups: int = GROUPS) -> dict[int, float]:
    """:func:`holdout_score` of ``model`` at every rank 1..candidates at once
    (:func:`truncation_errors`)."""
    c, r = model.basis.shape
    sums = np.zeros(r, dtype=np.float64)
    for held in holdout_masks(c, groups):
        for start in range(0, spectra.shape[0], SCORE_PIECE):
            x = spectra[start : start + SCORE_PIECE]
            sums += truncation_errors(model.coordinates(hold_out_bands(x, held, axis_values)), x, held, model)
    return {k + 1: float(v) for k, v in enumerate(sums / spectra.size)}


def split_samples(cube: Cube, random_state: int = 0, *, positions: bool = False):
    """Two disjoint seeded samples of at most :data:`SAMPLE_PIXELS` valid spectra each (fewer
    where the fits' float64 copies of many channels would pass a quarter of the memory limit,
    but at least twice the channels and ``MIN_SAMPLE / 2``: HySime's noise regression needs
    more pixels than channels): one to fit a denoiser on, one to score it on; with
    ``positions``, also the flat positions in the image of the first sample's pixels (a score
    on pixels a model was fitted on favours it)."""
    from chemmap._shared.compute import INTERMEDIATE_SHARE, active_settings

    # float64 samples and the fits' copies of them (about four) within a share of the limit
    fitting = int(INTERMEDIATE_SHARE * active_settings().memory_limit / (cube.n_channels * 8 * 4))
    # HySime's noise regression needs more pixels than channels in the fitting half
    fewest = max(MIN_SAMPLE, 4 * cube.n_channels)
    both, where = sample_pixels(
        cube, max(fewest, min(2 * SAMPLE_PIXELS, fitting)), random_state, func="chemmap denoise", at_least=fewest
    )
    if both.shape[0] < 4:
        n = both.shape[0]
        raise ShapeError(
            f"chemmap denoise learns the signal from many spectra at once and needs at least 4 valid, finite "
            f"pixels; this input has {n}. To smooth {'a single spectrum' if n == 1 else 'so few spectra'}, use "
            "chemmap preprocess --savgol WIDTH (a Savitzky-Golay window in axis units)."
        )
    order = np.random.default_rng(random_state).permutation(both.shape[0])
    first, second = np.sort(order[::2]), np.sort(order[1::2])
    both = both.astype(np.float32)
    return (both[first], both[second], where[first]) if positions else (both[first], both[second])


def fit_low_rank(
    fit: np.ndarray,
    scored: np.ndarray,
    axis_values,
    method: str = "mnf",
    *,
    rank: int | None = None,
    groups: int = GROUPS,
) -> LowRankDenoiser:
    """Fit a PCA or MNF denoiser on the spectra ``fit`` and choose its rank by the hold-out
    score on the spectra ``scored`` (see :func:`split_samples`).

    Parameters
    ----------
    fit, scored : ndarray of shape (n, n_channels)
    axis_values : array-like of shape (n_channels,)
        Positions of the channels (the hold-out interpolates along them).
    method : {"pca", "mnf"}
    rank : int, optional
        Components kept; by default the rank with the lowest hold-out score.
    groups : int
        Band groups of the hold-out score.

    Returns
    -------
    LowRankDenoiser
    """
    if method not in LOW_RANK_METHODS:
        raise InvalidParameterError(f"method must be one of {LOW_RANK_METHODS}; got {method!r}.")
    c = fit.shape[1]
    if c < 4:
        raise ShapeError(f"Denoising needs spectra of at least 4 channels (bands are held out to score it); got {c}.")
    mean = fit.mean(axis=0, dtype=np.float64)
    if method == "mnf":
        scale = _noise_scale(band_noise_std(fit))
    else:
        scale = np.ones(c)
    values, vt = leading_components(((fit - mean) / scale).astype(np.float32), MAX_RANK + 1)
    spanned = int(np.count_nonzero(values > values[0] * 1e-6))
    candidates = int(min(MAX_RANK, c - 1, fit.shape[0] - 1, spanned))
    if rank is not None and not 1 <= rank <= candidates:
        kept = f", at most {MAX_RANK} kept" if candidates == MAX_RANK else ""
        allowed = "1" if candidates == 1 else f"from 1 to {candidates}"
        raise InvalidParameterError(
            f"rank={rank} is more components than this cube allows: at most {candidates} (fewer than its {c} "
            f"channels and than the {fit.shape[0]} spectra {method} is fitted on, which span {spanned} "
            f"direction{'s' if spanned != 1 else ''}{kept}). To fix this, give a rank (--rank) of {allowed}, "
            "or leave it out to let the hold-out score choose it."
        )
    model = LowRankDenoiser(
        method,
        mean.astype(np.float32),
        scale.astype(np.float32),
        np.ascontiguousarray(vt[: max(1, candidates)].T, dtype=np.float32),
        rank=1,
    )
    model.scores = rank_scores(model, scored, axis_values, groups)
    model.rank = int(rank) if rank is not None else min(model.scores, key=model.scores.get)
    return model


def _noise_scale(noise_std: np.ndarray) -> np.ndarray:
    """MNF's divisor per band: the noise standard deviation, at least 1e-3 of its median
    over the bands; bands with no measurable noise (below 1e-6 of the largest: constant, such
    as channels no count ever reached) get the median (they are constant after centring, so
    any divisor serves)."""
    finite = np.isfinite(noise_std)
    if not finite.any() or np.max(noise_std[finite]) <= 0:
        return np.ones_like(noise_std)
    measured = finite & (noise_std > 1e-6 * np.max(noise_std[finite]))  # above rounding residue
    median = float(np.median(noise_std[measured]))
    return np.where(measured, np.maximum(noise_std, 1e-3 * median), median)


def noise_variance(spectra: np.ndarray) -> float:
    """Mean noise variance of the bands (HySime's regression estimate), the floor of the
    hold-out score: a score minus it estimates the squared error against the clean cube."""
    return float(np.mean(band_noise_std(spectra) ** 2))
