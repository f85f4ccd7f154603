"""The ``denoise`` step: every spectrum projected on the leading PCA or MNF components of the
cube, the rank chosen by the hold-out score of :mod:`chemmap.decomposition.denoise`; fitted
once and frozen into the chain (mean, scale and basis), so a new cube is projected on the same
components."""

from __future__ import annotations

import numpy as np

from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError
from chemmap.preprocessing._steps import StepSpec, apply_spectral, steps

__all__ = ["denoise"]

PARAMS = {
    "method": Param("choice", "mnf", choices=("pca", "mnf"), doc="pca, or mnf (noise-whitened)"),
    "rank": Param("int", None, low=1, allow_none=True, doc="components kept (default: lowest hold-out score)"),
    "random_state": Param("int", 0, low=0, doc="seed of the pixel samples the fit and the score draw"),
    "mean": Param("floats", None, allow_none=True, doc="fitted: mean spectrum"),
    "scale": Param("floats", None, allow_none=True, doc="fitted: per-band scale (noise s.d. for mnf, 1 for pca)"),
    "basis": Param("any", None, allow_none=True, doc="fitted: components, one list of n_channels values each"),
}


def _fit(cube: Cube, **params) -> dict:
    """The fitted mean, scale and components (the first ``rank`` of them)."""
    from chemmap.decomposition.denoise import fit_low_rank, split_samples

    if params.get("basis") is not None:
        return {}
    fit, scored = split_samples(cube, params.get("random_state", 0))
    model = fit_low_rank(fit, scored, cube.axis.values, params.get("method", "mnf"), rank=params.get("rank"))
    return {
        "rank": model.rank,
        "mean": [float(v) for v in model.mean],
        "scale": [float(v) for v in model.scale],
        "basis": model.basis[:, : model.rank].T.tolist(),
    }


def denoise(x: Cube, **params) -> Cube:
    """Project every spectrum of ``x`` on the leading PCA or MNF components (see the module);
    fitted on ``x`` itself unless ``mean``, ``scale`` and ``basis`` are given.

    Parameters
    ----------
    x : Cube
    **params
        See :data:`PARAMS`.

    Returns
    -------
    Cube
    """
    params = validate_params(PARAMS, params, func="denoise")
    params.update(_fit(x, **params))
    c = x.n_channels
    mean, scale = (np.asarray(params[k], dtype=np.float32) for k in ("mean", "scale"))
    try:
        basis = np.asarray(params["basis"], dtype=np.float32).T
    except (TypeError, ValueError):
        basis = np.empty(0)
    if mean.shape != (c,) or scale.shape != (c,) or basis.ndim != 2 or basis.shape[0] != c or not np.all(scale > 0):
        raise InvalidParameterError(
            f"The denoise step's fitted mean, scale and basis do not fit a cube of {c} channels (or a scale is not "
            "positive); they were fitted on another axis. To fix this, refit the chain on this axis."
        )

    def project(spectra: np.ndarray) -> np.ndarray:
        z = ((spectra - mean) / scale) @ basis
        return (z @ basis.T) * scale + mean

    return apply_spectral(x, project, step="denoise", params=params)


steps.register(
    "denoise",
    StepSpec("denoise", PARAMS, lambda cube, **p: denoise(cube, **p), "low-rank (PCA/MNF) denoising", fit=_fit),
)
