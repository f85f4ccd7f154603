"""Non-negative matrix factorisation that accepts real data: small negative values (noise
around a zero baseline) are clipped or shifted with a warning instead of crashing; the
factors are fitted on a seeded pixel sample (mini-batch for large samples) and every pixel
is then solved by batched NNLS, block by block."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.compute import compute
from chemmap._shared.progress import ProgressCallback
from chemmap._shared.validation import check_choice, check_int
from chemmap.core.cube import Cube
from chemmap.core.exceptions import DataWarning, InvalidParameterError, ShapeError
from chemmap.decomposition.abundances import nnls_gram
from chemmap.decomposition.endmembers import DEFAULT_SAMPLE, sample_pixels

__all__ = ["NEGATIVE_LIMIT", "NMFResult", "nmf_maps"]

#: Largest share of the data's absolute mass that may be negative for NMF to go on.
NEGATIVE_LIMIT = 0.05
#: Samples above this many pixels are fitted by mini-batches.
MINIBATCH_ABOVE = 50_000
#: Arrays of the sample's size the fit holds at once (the sample, scikit-learn's product of
#: the factors and its difference from the data): the sample is sized so they fit the
#: memory limit's working share (a 91 811-pixel sample of the 4 096-channel JEOL map, 2.8 GB
#: as float64, ran out of memory at 10 GB).
FIT_COPIES = 3


@dataclass
class NMFResult:
    """Component maps (``height x width x k``), component spectra (``k x n_channels``), the
    shift applied to the data and the fit report."""

    maps: np.ndarray
    spectra: np.ndarray
    shift: float
    report: dict


def nmf_maps(
    cube: Cube,
    k: int,
    *,
    negative: str = "clip",
    solver: str = "auto",
    sample: int | None = DEFAULT_SAMPLE,
    max_iter: int = 400,
    random_state=0,
    progress: ProgressCallback | None = None,
) -> NMFResult:
    """Factorise the cube into ``k`` non-negative spectra and their non-negative maps.

    Parameters
    ----------
    cube : Cube
    k : int
    negative : {"clip", "shift", "error"}
        What to do with negative values when they are at most :data:`NEGATIVE_LIMIT` of the
        data's absolute mass: set them to 0, add the most negative value to everything (the
        shift is reported), or refuse. More negative data than that is refused in any case
        (it is not non-negative data with noise: use MCR-ALS or undo the derivative/centring).
    solver : {"auto", "cd", "minibatch"}
        scikit-learn's coordinate descent, its mini-batch NMF, or mini-batch above
        :data:`MINIBATCH_ABOVE` sampled pixels.
    sample : int or None
        Pixels the factors are fitted on (all if ``None``); all pixels are mapped.
    """
    from sklearn.decomposition import NMF, MiniBatchNMF

    k = check_int(k, name="k", func="nmf_maps", low=1)
    negative = check_choice(negative, ("clip", "shift", "error"), name="negative", func="nmf_maps")
    solver = check_choice(solver, ("auto", "cd", "minibatch"), name="solver", func="nmf_maps")
    y, _ = sample_pixels(cube, sample, random_state, func="nmf_maps", copies=FIT_COPIES)
    if y.shape[0] < k:
        raise ShapeError(f"NMF with {k} components needs at least {k} valid pixels; got {y.shape[0]}.")
    share = float(np.abs(np.clip(y, None, 0)).sum() / max(np.abs(y).sum(), 1e-300))
    shift = 0.0
    if share > 0:
        if negative == "error" or share > NEGATIVE_LIMIT:
            raise InvalidParameterError(
                f"NMF needs non-negative data; {100 * share:.1f} % of this cube's absolute intensity is negative "
                f"(at most {100 * NEGATIVE_LIMIT:.0f} % can be treated as noise with negative='clip' or 'shift'). "
                "Use MCR-ALS (it accepts negative values), or drop the derivative / mean-centring step."
            )
        if negative == "shift":
            shift = float(-y.min())
        warnings.warn(
            f"NMF: {100 * share:.2f} % of the data's absolute intensity is negative (noise); "
            + (f"every value was raised by {shift:.4g}." if shift else "those values were set to 0."),
            DataWarning,
            stacklevel=2,
        )
    fit_data = np.add(y, shift, out=y) if shift else np.clip(y, 0, None, out=y)
    use_batches = solver == "minibatch" or (solver == "auto" and fit_data.shape[0] > MINIBATCH_ABOVE)
    if use_batches:
        model = MiniBatchNMF(k, init="nndsvda", max_iter=max_iter, random_state=random_state)
    else:
        model = NMF(k, init="nndsvda", max_iter=max_iter, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)  # scikit-learn's convergence chatter; reported below
        model.fit(fit_data)
    h = model.components_
    gram = h @ h.T

    def kernel(spectra: np.ndarray) -> np.ndarray:
        z = np.nan_to_num(spectra.astype(np.float64))
        z = z + shift if shift else np.clip(z, 0, None)
        return nnls_gram(gram, z @ h.T)

    (maps,) = compute(map_spectra(kernel, cube.data, n_out=k, dtype=np.float32), stage="NMF maps", progress=progress)
    maps = np.array(maps)
    maps[~cube.valid_pixels().reshape(cube.image_shape)] = np.nan
    report = {
        "solver": "minibatch" if use_batches else "cd",
        "n_iter": int(model.n_iter_),
        "converged": int(model.n_iter_) < max_iter,
        "reconstruction_error": float(model.reconstruction_err_),
        "negative_share": share,
        "negative_handling": negative if share > 0 else None,
        "shift": shift,
        "n_fit_pixels": int(fit_data.shape[0]),
    }
    return NMFResult(maps, h, shift, report)
