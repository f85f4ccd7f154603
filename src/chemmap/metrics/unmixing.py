"""Scores of unmixing results against known abundances and pure spectra, components
matched one to one by the Hungarian method on the spectral angle."""

from __future__ import annotations

import numpy as np

from chemmap._shared.assignment import min_cost_assignment
from chemmap.core.exceptions import ShapeError

__all__ = ["match_components", "spectral_angles", "unmixing_scores"]


def spectral_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) between every row of ``a`` and every row of ``b``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"Spectral angles need spectra on one axis; got {a.shape[-1]} and {b.shape[-1]} channels.")
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = (a / na) @ (b / nb).T
    return np.arccos(np.clip(np.nan_to_num(cosine, nan=-1.0), -1, 1))


def match_components(estimated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``order[i]``: the estimated component matched to reference ``i`` (−1 if none), the
    pairing that minimises the summed spectral angle."""
    angles = spectral_angles(reference, estimated)
    rows, cols = min_cost_assignment(angles)
    order = np.full(angles.shape[0], -1)
    order[rows] = cols
    return order


def unmixing_scores(
    spectra: np.ndarray,
    abundances: np.ndarray | None = None,
    *,
    true_spectra: np.ndarray | None = None,
    true_abundances: np.ndarray | None = None,
    names: list[str] | None = None,
) -> dict:
    """Spectral angle and abundance RMSE per reference component.

    Components are matched on the spectral angle when the true spectra are given, else on
    the abundance maps (the pairing with least summed RMSE).

    Parameters
    ----------
    spectra : ndarray of shape (k, n_channels)
    abundances : ndarray of shape (height, width, k), optional
    true_spectra : ndarray of shape (m, n_channels), optional
    true_abundances : ndarray of shape (height, width, m), optional
    names : list of str, optional
        Names of the reference components.

    Returns
    -------
    dict
        ``matched`` (reference -> estimated index), ``spectral_angle`` and
        ``abundance_rmse`` per reference component with their means.
    """
    spectra = np.asarray(spectra, dtype=np.float64)
    if true_spectra is None and true_abundances is None:
        return {}
    m = (true_spectra if true_spectra is not None else true_abundances).shape[-1 if true_spectra is None else 0]
    names = [f"reference {i + 1}" for i in range(m)] if names is None else list(names)
    if (
        true_abundances is not None
        and abundances is not None
        and np.shape(true_abundances)[:2] != np.shape(abundances)[:2]
    ):
        raise ShapeError(
            f"The true abundance maps are {np.shape(true_abundances)[:2]}; the image is {np.shape(abundances)[:2]}."
        )
    if true_spectra is not None:
        order = match_components(spectra, true_spectra)
    else:
        est = np.asarray(abundances, dtype=np.float64).reshape(-1, spectra.shape[0])
        ref = np.asarray(true_abundances, dtype=np.float64).reshape(-1, m)
        keep = np.all(np.isfinite(est), axis=1) & np.all(np.isfinite(ref), axis=1)
        cost = np.sqrt(((ref[keep, :, None] - est[keep, None, :]) ** 2).mean(axis=0))
        rows, cols = min_cost_assignment(cost)
        order = np.full(m, -1)
        order[rows] = cols
    out: dict = {"matched": {names[i]: int(j) for i, j in enumerate(order)}}
    if true_spectra is not None:
        angles = spectral_angles(true_spectra, spectra)
        per = {names[i]: float(angles[i, j]) for i, j in enumerate(order) if j >= 0}
        out["spectral_angle"] = per
        out["mean_spectral_angle"] = float(np.mean(list(per.values())))
    if true_abundances is not None and abundances is not None:
        est = np.asarray(abundances, dtype=np.float64)
        ref = np.asarray(true_abundances, dtype=np.float64)
        per = {}
        for i, j in enumerate(order):
            if j >= 0:
                diff = est[..., j] - ref[..., i]
                per[names[i]] = float(np.sqrt(np.nanmean(diff**2)))
        out["abundance_rmse"] = per
        out["mean_abundance_rmse"] = float(np.mean(list(per.values())))
    return out
