"""How well reconstructed (denoised, decoded) spectra match reference spectra: RMSE overall
and per band, and the spectral angle, accumulated block by block."""

from __future__ import annotations

import numpy as np

__all__ = ["ReconstructionScore", "reconstruction_metrics"]


class ReconstructionScore:
    """Running sums for the reconstruction metrics of ``(n, n_channels)`` blocks.

    Rows where either spectrum has a non-finite value are left out.
    """

    def __init__(self, n_channels: int) -> None:
        self.count = 0
        self.squared = np.zeros(n_channels)
        self.reference_squared = np.zeros(n_channels)
        self.angles: list[np.ndarray] = []

    def add(self, reference: np.ndarray, reconstructed: np.ndarray) -> None:
        a = np.asarray(reference, dtype=np.float64).reshape(-1, self.squared.size)
        b = np.asarray(reconstructed, dtype=np.float64).reshape(-1, self.squared.size)
        keep = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
        a, b = a[keep], b[keep]
        self.count += a.shape[0]
        self.squared += ((a - b) ** 2).sum(axis=0)
        self.reference_squared += (a * a).sum(axis=0)
        cosine = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-300)
        self.angles.append(np.arccos(np.clip(cosine, -1.0, 1.0)).astype(np.float32))

    def merge(self, other: ReconstructionScore) -> ReconstructionScore:
        """Add the sums of ``other`` (a block's score) to this one."""
        self.count += other.count
        self.squared += other.squared
        self.reference_squared += other.reference_squared
        self.angles += other.angles
        return self

    def result(self) -> dict:
        """``rmse``, ``relative_rmse`` (RMSE over the RMS of the reference), ``rmse_per_band``,
        ``mean_sam``/``median_sam``/``p95_sam`` (radians) and ``n_pixels``."""
        n = max(self.count, 1)
        angles = np.concatenate(self.angles) if self.angles else np.zeros(0, np.float32)
        rmse = float(np.sqrt(self.squared.sum() / (n * self.squared.size)))
        rms = float(np.sqrt(self.reference_squared.sum() / (n * self.squared.size)))
        return {
            "n_pixels": int(self.count),
            "rmse": rmse,
            "relative_rmse": rmse / rms if rms > 0 else None,
            "rmse_per_band": np.sqrt(self.squared / n).tolist(),
            "mean_sam": float(angles.mean()) if angles.size else None,
            "median_sam": float(np.median(angles)) if angles.size else None,
            "p95_sam": float(np.percentile(angles, 95)) if angles.size else None,
        }


def reconstruction_metrics(reference, reconstructed) -> dict:
    """Metrics of :class:`ReconstructionScore` for two ``(..., n_channels)`` arrays (NumPy
    or Dask), read block by block.

    Parameters
    ----------
    reference, reconstructed : array of the same shape (..., n_channels)
        E.g. the input cube and its denoised version, or the clean truth and an estimate.

    Returns
    -------
    dict
        See :meth:`ReconstructionScore.result`; RMSE in the data's units, angles in radians.
    """
    from chemmap._shared.blockwise import reduce_blocks

    n_channels = int(reference.shape[-1])
    a = reference.reshape(-1, n_channels)
    b = reconstructed.reshape(-1, n_channels)
    score = ReconstructionScore(n_channels)

    def partial(block, other, rows):
        part = ReconstructionScore(n_channels)
        part.add(block, other)
        return part

    for part in reduce_blocks(partial, a, b, stage="reconstruction metrics"):
        score.merge(part)
    return score.result()
