"""Per-spectrum normalisation: SNV, MSC, EMSC, L1, L2 (vector), area, max and to a band."""

from __future__ import annotations

import numpy as np

from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.preprocessing._steps import StepSpec, apply_spectral, axis_values_of, steps

__all__ = ["emsc", "msc", "normalize", "snv"]

METHODS = ("snv", "msc", "emsc", "l1", "l2", "area", "max", "band")

PARAMS = {
    "method": Param("choice", "snv", choices=METHODS, doc="normalisation"),
    "reference": Param(
        "floats",
        None,
        allow_none=True,
        doc="msc/emsc: reference spectrum (default: mean spectrum of the valid pixels)",
    ),
    "poly_order": Param("int", 2, low=0, high=6, doc="emsc: order of the polynomial baseline terms"),
    "band": Param("float", None, allow_none=True, doc="band: position of the band set to 1, in axis units"),
    "window": Param(
        "float", None, low=0, low_inclusive=False, allow_none=True, doc="band: full window in axis units (mean)"
    ),
}


def snv(spectra: np.ndarray) -> np.ndarray:
    """Standard normal variate: ``(x - mean(x)) / std(x, ddof=1)`` per spectrum (Barnes 1989).

    Spectra with zero variance become NaN.
    """
    x = np.asarray(spectra, dtype=np.float64)
    centred = x - x.mean(axis=-1, keepdims=True)
    std = np.sqrt(np.sum(centred**2, axis=-1, keepdims=True) / max(x.shape[-1] - 1, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return centred / np.where(std > 0, std, np.nan)


def msc(spectra: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Multiplicative scatter correction (Geladi 1985).

    Each spectrum is regressed on the reference, ``x ≈ a + b·ref``, and corrected to
    ``(x - a) / b``.
    """
    x = np.asarray(spectra, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    rc = ref - ref.mean()
    denom = float(rc @ rc)
    if denom == 0:
        raise InvalidParameterError("The MSC reference spectrum is flat; it cannot explain scatter.")
    b = (x - x.mean(axis=-1, keepdims=True)) @ rc / denom
    a = x.mean(axis=-1) - b * ref.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x - a[:, None]) / np.where(b != 0, b, np.nan)[:, None]


def emsc(spectra: np.ndarray, reference: np.ndarray, x: np.ndarray, *, poly_order: int = 2) -> np.ndarray:
    """Extended multiplicative signal correction (Martens & Stark 1991).

    Each spectrum is modelled as ``b·ref + c_0 + c_1·t + ... + c_k·t^k`` (``t`` the axis
    scaled to [-1, 1]) by least squares, and corrected to ``(x - polynomial) / b``. With
    ``poly_order=0`` this is MSC.
    """
    y = np.asarray(spectra, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    xv = np.asarray(x, dtype=np.float64)
    t = 2 * (xv - xv.min()) / max(np.ptp(xv), 1e-300) - 1 if xv.size > 1 else np.zeros_like(xv)
    design = np.column_stack([ref, *(t**k for k in range(poly_order + 1))])  # (n_channels, 2 + k)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise InvalidParameterError(
            "The EMSC reference spectrum is a polynomial of order <= poly_order, so it cannot be told apart "
            "from the baseline terms. To fix this, lower poly_order or give a reference with bands."
        )
    coef = np.linalg.lstsq(design, y.T, rcond=None)[0]  # (2 + k, n_spectra)
    poly = (design[:, 1:] @ coef[1:]).T
    b = coef[0][:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (y - poly) / np.where(b != 0, b, np.nan)


def _scale(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / np.where(scale > 0, scale, np.nan)


def mean_reference(cube: Cube) -> np.ndarray:
    """Mean spectrum of the valid pixels (the default MSC reference)."""
    valid = cube.valid_pixels()
    pixels = cube.pixels()[valid]
    ref = pixels.mean(axis=0)
    return np.asarray(ref.compute() if hasattr(ref, "compute") else ref, dtype=np.float64)


def normalize(x, *, axis=None, **params):
    """Normalise every spectrum.

    Parameters
    ----------
    x : Cube or ndarray of shape (..., n_channels)
    axis : array-like of shape (n_channels,), optional
        Channel positions, needed for ``method="area"`` on a plain array.
    method : {"snv", "msc", "emsc", "l1", "l2", "area", "max", "band"}
        ``snv``: centre and scale to unit standard deviation; ``msc``: regress on a
        reference; ``emsc``: MSC with polynomial baseline terms; ``l1``: unit sum of
        ``|x|``; ``l2``: unit Euclidean norm; ``area``: unit area (trapezoid of ``|x|`` over
        the axis, in axis units); ``max``: maximum set to 1; ``band``: the mean over
        ``band ± window / 2`` set to 1.
    reference : sequence of float, optional
        MSC/EMSC reference; defaults to the mean spectrum of the input's valid pixels.
    poly_order : int
        EMSC polynomial order.
    band, window : float, in axis units
        ``band``: position and full width of the band used as the scale.

    Returns
    -------
    Cube or ndarray
        Spectra whose scale cannot be defined (zero variance, zero area) become NaN and, on
        a Cube, leave the mask.
    """
    params = validate_params(PARAMS, params, func="normalize")
    method = params["method"]
    if method == "snv":
        kernel = snv
    elif method in ("msc", "emsc"):
        ref = params["reference"]
        if ref is None:
            if isinstance(x, Cube):
                ref = mean_reference(x)
            else:
                flat = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
                ref = np.nanmean(flat[np.all(np.isfinite(flat), axis=1)], axis=0)
            params["reference"] = [float(v) for v in ref]
        ref = np.asarray(ref, dtype=np.float64)
        if ref.shape != (np.shape(x.data if isinstance(x, Cube) else x)[-1],):
            raise ShapeError(
                f"The MSC reference has {ref.size} values but the spectra have "
                f"{np.shape(x.data if isinstance(x, Cube) else x)[-1]} channels."
            )

        if method == "msc":

            def kernel(s):
                return msc(s, ref)
        else:
            values = axis_values_of(x, axis, "normalize(method='emsc')")

            def kernel(s):
                return emsc(s, ref, values, poly_order=params["poly_order"])
    elif method == "l1":

        def kernel(s):
            return _scale(s, np.sum(np.abs(s.astype(np.float64)), axis=-1, keepdims=True))
    elif method == "band":
        from chemmap.core.axis import SpectralAxis

        values = axis_values_of(x, axis, "normalize(method='band')")
        if params["band"] is None:
            raise InvalidParameterError("normalize(method='band') needs band= (the band position in axis units).")
        ax = SpectralAxis(values)
        width = params["window"] if params["window"] is not None else 5 * ax.spacing
        window = ax.window_slice(ax.check_position(params["band"], "band"), width)

        def kernel(s):
            return _scale(s, s[:, window].astype(np.float64).mean(axis=-1, keepdims=True))
    elif method == "l2":

        def kernel(s):
            return _scale(s, np.linalg.norm(s.astype(np.float64), axis=-1, keepdims=True))
    elif method == "max":

        def kernel(s):
            return _scale(s, np.max(s, axis=-1, keepdims=True).astype(np.float64))
    else:
        values = axis_values_of(x, axis, "normalize(method='area')")

        def kernel(s):
            area = np.trapezoid(np.abs(s.astype(np.float64)), values, axis=-1)[:, None]
            return _scale(s, area)

    def as_float32(s):
        return np.asarray(kernel(s), dtype=np.float32)

    return apply_spectral(x, as_float32, step="normalize", params=params)


def _fit(cube: Cube, **params) -> dict:
    if params.get("method") in ("msc", "emsc") and params.get("reference") is None:
        return {"reference": [float(v) for v in mean_reference(cube)]}
    return {}


steps.register(
    "normalize",
    StepSpec("normalize", PARAMS, lambda cube, **p: normalize(cube, **p), "per-spectrum normalisation", fit=_fit),
)
