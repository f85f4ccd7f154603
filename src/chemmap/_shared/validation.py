"""Parameter checks that raise :class:`InvalidParameterError` with the fix in the message."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from chemmap.core.exceptions import InvalidParameterError, ShapeError

__all__ = [
    "check_choice",
    "check_fitted_features",
    "check_int",
    "check_number",
    "check_pixel_matrix",
    "check_random_state",
]


def _where(func: str | None) -> str:
    return f" of {func}" if func else ""


def check_choice(value, choices: Iterable[str], *, name: str, func: str | None = None) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    choices = list(choices)
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise InvalidParameterError(
            f"The {name!r} parameter{_where(func)} must be one of {valid}. Got {value!r} instead."
        )
    return value


def check_number(
    value,
    *,
    name: str,
    func: str | None = None,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    allow_none: bool = False,
) -> float | None:
    """Return ``value`` as float after checking its type and bounds."""
    if value is None and allow_none:
        return None
    constraint = _describe_bounds("a float", low, high, low_inclusive, high_inclusive)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise InvalidParameterError(
            f"The {name!r} parameter{_where(func)} must be {constraint}. Got {value!r} instead."
        )
    value = float(value)
    if not _in_bounds(value, low, high, low_inclusive, high_inclusive):
        raise InvalidParameterError(
            f"The {name!r} parameter{_where(func)} must be {constraint}. Got {value:g} instead."
        )
    return value


def check_int(
    value,
    *,
    name: str,
    func: str | None = None,
    low: int | None = None,
    high: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """Return ``value`` as int after checking its type and bounds (inclusive)."""
    if value is None and allow_none:
        return None
    constraint = _describe_bounds("an int", low, high, True, True)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(
            f"The {name!r} parameter{_where(func)} must be {constraint}. Got {value!r} instead."
        )
    if not _in_bounds(int(value), low, high, True, True):
        raise InvalidParameterError(
            f"The {name!r} parameter{_where(func)} must be {constraint}. Got {value!r} instead."
        )
    return int(value)


def check_random_state(random_state) -> np.random.Generator:
    """A NumPy Generator from ``None``, an int seed or an existing Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)):
        return np.random.default_rng(random_state)
    raise InvalidParameterError(f"random_state must be None, an int or a numpy Generator; got {random_state!r}.")


def _in_bounds(value, low, high, low_inc, high_inc) -> bool:
    if low is not None and (value < low or (value == low and not low_inc)):
        return False
    return not (high is not None and (value > high or (value == high and not high_inc)))


def _describe_bounds(kind, low, high, low_inc, high_inc) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_inc else '>'} {low}")
    if high is not None:
        parts.append(f"{'<=' if high_inc else '<'} {high}")
    return kind + (" " + " and ".join(parts) if parts else "")


def check_pixel_matrix(X, *, func: str, allow_nan: bool = False, min_samples: int = 1) -> np.ndarray:
    """``X`` as a 2-D float array of pixels by channels (float32 and float64 kept, other
    numbers made float64), refusing sparse, complex, non-numeric, empty, 1-D and (unless
    ``allow_nan``) non-finite input with scikit-learn's explanation of each.

    Raises
    ------
    ShapeError or InvalidParameterError
        Both are ``ValueError``, as scikit-learn's contract asks.
    """
    from sklearn.utils import check_array

    try:
        return check_array(
            X,
            dtype=(np.float64, np.float32),
            ensure_all_finite="allow-nan" if allow_nan else True,
            ensure_min_samples=min_samples,
            estimator=func,
        )
    except TypeError as exc:  # sparse input
        raise InvalidParameterError(f"{func}: {exc}") from None
    except ValueError as exc:
        raise ShapeError(f"{func} expects an (n_pixels, n_channels) array: {exc}") from None


def check_fitted_features(n_features: int, fitted: int, *, func: str) -> None:
    """Refuse spectra whose channel count differs from the one ``func`` was fitted on."""
    if n_features != fitted:
        raise ShapeError(
            f"X has {n_features} features, but {func} is expecting {fitted} features as input (the channels it "
            "was fitted on)."
        )
