"""The spectral axis: channel positions with a unit."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from chemmap.core.exceptions import AxisError, AxisOrderWarning, DataWarning, InvalidParameterError

__all__ = [
    "UNITS",
    "SpectralAxis",
    "known_unit",
    "normalize_unit",
    "parse_unit",
    "resolve_axis_unit",
    "sort_order",
]

#: Canonical units and the names they are known by.
UNITS: dict[str, tuple[str, ...]] = {
    "cm-1": ("cm-1", "cm^-1", "1/cm", "wavenumber", "wavenumbers", "raman shift"),
    "nm": ("nm", "nanometer", "nanometers", "nanometre", "nanometres"),
    "um": ("um", "µm", "micrometer", "micrometers", "micron", "microns"),
    "keV": ("kev",),
    "eV": ("ev",),
    "m/z": ("m/z", "mz", "da", "th", "amu"),
    "channel": ("channel", "channels", "index", "band", "bands"),
    "map": ("map", "maps"),
}

_UNIT_LOOKUP = {alias.lower(): unit for unit, aliases in UNITS.items() for alias in aliases}

#: Human-readable axis labels for figures.
UNIT_LABELS = {
    "cm-1": "Wavenumber (cm$^{-1}$)",
    "nm": "Wavelength (nm)",
    "um": "Wavelength (µm)",
    "keV": "Energy (keV)",
    "eV": "Energy (eV)",
    "m/z": "m/z (Da)",
    "channel": "Channel",
    "map": "Map",
}


def normalize_unit(unit: str) -> str:
    """Return the canonical spelling of ``unit``.

    Raises
    ------
    AxisError
        If the unit is unknown; the message lists the valid units.
    """
    key = str(unit).strip().lower()
    if key not in _UNIT_LOOKUP:
        raise AxisError(
            f"Unknown axis unit {unit!r}. Valid units are: {', '.join(UNITS)}. "
            "To fix this, give one of them (e.g. axis_unit='cm-1')."
        )
    return _UNIT_LOOKUP[key]


#: Length units a file may state for its axis, with their size in nanometres: every length
#: axis that a reader finds is converted to nm.
LENGTH_UNITS_NM = {"m": 1e9, "mm": 1e6, "um": 1e3, "nm": 1.0}
_LENGTH_ALIASES = {
    "m": ("m", "meter", "meters", "metre", "metres"),
    "mm": ("mm", "millimeter", "millimeters", "millimetre", "millimetres"),
    "um": UNITS["um"],
    "nm": UNITS["nm"],
}
_LENGTH_LOOKUP = {alias.lower(): unit for unit, aliases in _LENGTH_ALIASES.items() for alias in aliases}
#: Energy units, with their size in eV: converted into each other only on request.
ENERGY_UNITS_EV = {"eV": 1.0, "keV": 1e3}
#: What files write where they state no unit.
UNSTATED_UNITS = ("", "unknown", "<undefined>", "undefined", "none", "n/a", "a.u.", "arb. units")


def parse_unit(raw: str | None) -> tuple[str | None, float]:
    """The canonical unit a stated unit stands for, and the factor its values are multiplied by.

    Length units (m, mm, µm, nm) become nm (``"mm"`` gives ``("nm", 1e6)``); other known units
    keep their values (factor 1); a unit the file leaves unstated (``None``, ``"Unknown"``,
    ``"<undefined>"``) gives ``(None, 1.0)``.

    Raises
    ------
    AxisError
        If the unit is neither known nor one of the unstated spellings.
    """
    if raw is None or str(raw).strip().lower() in UNSTATED_UNITS:
        return None, 1.0
    key = str(raw).strip().lower()
    if key in _LENGTH_LOOKUP:
        return "nm", LENGTH_UNITS_NM[_LENGTH_LOOKUP[key]]
    return normalize_unit(key), 1.0


def known_unit(raw: str | None, source: str) -> str | None:
    """``raw`` where chemmap knows the unit; None (channel positions) with a warning where it
    does not, so an exotic unit in a file never stops a read."""
    if raw is None:
        return None
    try:
        parse_unit(raw)
    except AxisError:
        warnings.warn(
            f"{source}: the signal axis unit {raw!r} is not one chemmap knows; reading the axis as channel "
            "positions. Pass axis_unit= to set it.",
            DataWarning,
            stacklevel=4,
        )
        return None
    return raw


def _family(unit: str) -> str:
    return "length" if unit in ("nm", "um") else "energy" if unit in ENERGY_UNITS_EV else unit


def _guessed_unit(values: np.ndarray) -> tuple[str, float] | None:
    """nm (or µm as nm) for unstated values that can only be wavelengths of an imaging
    spectrometer: fractional positions within 0.25-2.6 µm or 250-2600 nm."""
    if values.size < 3 or np.allclose(values, np.round(values)):
        return None
    if 250 <= values[0] and values[-1] <= 2600:
        return "nm", 1.0
    if 0.25 <= values[0] and values[-1] <= 2.6:
        return "nm", 1e3
    return None


def resolve_axis_unit(
    values, stated: str | None, requested: str | None = None, *, source: str, guess: bool = False
) -> tuple[np.ndarray, str, float, str | None]:
    """Axis values and unit from what a file states and what the user asks for.

    Parameters
    ----------
    values : array-like of shape (n_channels,)
        Positions as the file stores them.
    stated : str or None
        The unit the file states (``None`` or ``"Unknown"`` when it states none).
    requested : str, optional
        ``axis_unit=`` from the user: converts from a stated unit of the same kind (eV and
        keV; lengths, kept in nm) and labels the values when the file states no unit.
    source : str
        Where the axis comes from, for messages.
    guess : bool
        With no stated or requested unit, read fractional values that can only be
        wavelengths (250-2600 nm, or 0.25-2.6 µm) as nm, saying so.

    Returns
    -------
    values : ndarray of float64
    unit : str
        A canonical unit (``"channel"`` when nothing says more).
    factor : float
        What ``values`` were multiplied by (apply it to per-channel widths too).
    note : str or None
        What was converted, labelled or guessed, for a warning and the provenance.

    Raises
    ------
    AxisError
        If ``requested`` is of another kind than the stated unit (cm-1 to nm, keV to nm).
    """
    values = np.asarray(values, dtype=np.float64)
    unit, factor = parse_unit(stated)
    if requested is None:
        if unit is None and guess:
            guessed = _guessed_unit(values)
            if guessed is not None:
                unit, factor = guessed
                return (
                    values * factor,
                    unit,
                    factor,
                    f"{source} states no axis unit; its values "
                    f"({values[0]:g}..{values[-1]:g}) can only be wavelengths, read as nm"
                    f"{' (converted from µm)' if factor != 1 else ''}. Pass axis_unit= if they are not.",
                )
        if unit is None:
            return values, "channel", 1.0, None
        note = None if factor == 1 else f"{source}: the axis was converted from {stated} to nm."
        return values * factor, unit, factor, note
    target, target_factor = parse_unit(requested)
    if target is None:
        raise AxisError(f"axis_unit={requested!r} names no unit. Valid units are: {', '.join(UNITS)}.")
    if unit is None or unit == "channel":
        return (
            values * target_factor,
            target,
            target_factor,
            f"{source} states no axis unit, so axis_unit={requested!r} labels its values (relabelled, not "
            f"converted){'; lengths are kept in nm' if target_factor != 1 else ''}.",
        )
    if unit == target and factor == 1:
        return values, unit, 1.0, None
    if _family(unit) != _family(target):
        raise AxisError(
            f"{source} states its axis in {stated}, which cannot be converted to {requested}. To fix this, leave "
            f"axis_unit= out (the file's unit is used), or give a unit of the same kind"
            f"{' (eV or keV)' if _family(unit) == 'energy' else ''}."
        )
    if unit in ENERGY_UNITS_EV:
        factor *= ENERGY_UNITS_EV[unit] / ENERGY_UNITS_EV[target]
    if factor == 1:
        return values, unit, 1.0, None
    return (
        values * factor,
        target,
        factor,
        f"{source}: the axis was converted from {stated} to {target} (x{factor:g}) as axis_unit= asks.",
    )


def sort_order(values: Sequence[float] | np.ndarray, *, source: str = "the axis") -> np.ndarray | None:
    """Check raw axis values and return the permutation that sorts them, if any is needed.

    Parameters
    ----------
    values : array-like of shape (n_channels,)
        Channel positions as read from a file.
    source : str
        Where the values came from, for messages.

    Returns
    -------
    order : ndarray of int or None
        ``None`` when the values are already strictly increasing, else the indices that
        sort them. A decreasing or unordered axis (e.g. AVIRIS, whose spectrometers
        overlap) is sorted with an :class:`AxisOrderWarning`.

    Raises
    ------
    AxisError
        If values are not finite or are duplicated.
    """
    arr = _as_values(values, source)
    if arr.size < 2:
        return None
    diffs = np.diff(arr)
    if np.all(diffs > 0):
        return None
    order = np.argsort(arr, kind="stable")
    dup = np.flatnonzero(np.diff(arr[order]) == 0)
    if dup.size:
        shown = ", ".join(f"{arr[order][i]:g}" for i in dup[:5])
        raise AxisError(
            f"{source} has duplicated values ({shown}); each channel needs its own position. "
            "To fix this, remove or merge the duplicated columns."
        )
    if np.all(diffs < 0):
        message = f"{source} is in decreasing order; channels were reversed so the axis increases."
    else:
        n_back = int(np.sum(diffs < 0))
        message = (
            f"{source} is not in order ({n_back} step{'s' if n_back != 1 else ''} go back, as at the "
            "junctions of overlapping spectrometers); channels were sorted by position."
        )
    warnings.warn(message, AxisOrderWarning, stacklevel=3)
    return order


def _as_values(values, source: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise AxisError(f"{source} must be numbers; got {values!r:.80}.") from None
    if arr.ndim != 1:
        raise AxisError(f"{source} must be 1-dimensional; got shape {arr.shape}.")
    if arr.size == 0:
        raise AxisError(f"{source} is empty; at least one channel is needed.")
    if not np.all(np.isfinite(arr)):
        raise AxisError(f"{source} contains NaN or infinite values.")
    return arr


class SpectralAxis:
    """Positions of the spectral channels, strictly increasing, with a unit.

    Parameters
    ----------
    values : array-like of shape (n_channels,)
        Channel positions in ``unit``; must be strictly increasing (readers sort first).
    unit : str
        One of :data:`UNITS` (aliases such as ``"1/cm"`` are accepted).
    names : sequence of str, optional
        A name per channel; used when the "channels" are named maps.
    fwhm : array-like of shape (n_channels,), optional
        Spectral resolution of each channel (full width at half maximum), in ``unit``.
    bad_bands : array-like of bool, shape (n_channels,), optional
        ``True`` marks a channel known to be unusable (an ENVI ``bbl`` of 0, a low-SNR band);
        the data keep it until :func:`chemmap.preprocessing.drop_bad_bands` removes it.

    Examples
    --------
    >>> axis = SpectralAxis(np.linspace(600, 1800, 200), "cm-1")
    >>> axis.index(1655)
    175
    """

    __slots__ = ("_values", "bad_bands", "fwhm", "names", "unit")

    def __init__(
        self,
        values,
        unit: str = "channel",
        *,
        names: Sequence[str] | None = None,
        fwhm=None,
        bad_bands=None,
    ):
        arr = _as_values(values, "The spectral axis")
        if arr.size > 1 and not np.all(np.diff(arr) > 0):
            raise AxisError(
                "The spectral axis must be strictly increasing. To fix this, sort the channels "
                "(chemmap's readers do this for you) or build the axis with sorted values."
            )
        arr.setflags(write=False)
        self._values = arr
        self.unit = normalize_unit(unit)
        if names is not None:
            names = tuple(str(n) for n in names)
            if len(names) != arr.size:
                raise AxisError(f"{len(names)} names were given for {arr.size} channels.")
            if len(set(names)) != len(names):
                raise AxisError(f"Channel names must be unique; got {list(names)}.")
        self.names = names
        self.fwhm = None if fwhm is None else _per_channel(fwhm, arr.size, "fwhm", np.float64)
        self.bad_bands = None if bad_bands is None else _per_channel(bad_bands, arr.size, "bad_bands", bool)
        if self.bad_bands is not None and not self.bad_bands.any():
            self.bad_bands = None

    @classmethod
    def from_names(cls, names: Sequence[str]) -> SpectralAxis:
        """An axis whose channels are named maps (unit ``"map"``)."""
        return cls(np.arange(len(names), dtype=np.float64), "map", names=names)

    @property
    def values(self) -> np.ndarray:
        """Channel positions, float64, read-only."""
        return self._values

    def __len__(self) -> int:
        return self._values.size

    def __repr__(self) -> str:
        if self.names is not None:
            return f"SpectralAxis(names={list(self.names)})"
        return f"SpectralAxis({self.start:g}..{self.stop:g} {self.unit}, {len(self)} channels)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpectralAxis):
            return NotImplemented
        return (
            self.unit == other.unit
            and self.names == other.names
            and _same(self.bad_bands, other.bad_bands)
            and _same(self.fwhm, other.fwhm)
            and self._values.shape == other._values.shape
            and bool(np.all(self._values == other._values))
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def start(self) -> float:
        return float(self._values[0])

    @property
    def stop(self) -> float:
        return float(self._values[-1])

    @property
    def spacing(self) -> float:
        """Median channel spacing in axis units (1.0 for a single channel)."""
        return float(np.median(np.diff(self._values))) if len(self) > 1 else 1.0

    def contains(self, position: float) -> bool:
        return self.start <= position <= self.stop

    def check_position(self, position: float, name: str = "position") -> float:
        """Return ``position`` as float, or raise if it lies outside the axis."""
        try:
            pos = float(position)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"{name} must be a number; got {position!r}.") from None
        if not np.isfinite(pos) or not self.contains(pos):
            raise AxisError(
                f"{name}={position:g} {self.unit} is outside the spectral axis "
                f"({self.start:g}..{self.stop:g} {self.unit}). To fix this, choose a position "
                "inside that range, or check the axis unit."
            )
        return pos

    def index(self, position: float) -> int:
        """Index of the channel nearest to ``position`` (which must lie on the axis)."""
        pos = self.check_position(position)
        return int(np.argmin(np.abs(self._values - pos)))

    def window_slice(self, center: float, width: float) -> slice:
        """Channels whose positions lie within ``center ± width / 2``.

        Always contains at least the channel nearest to ``center``.
        """
        center = self.check_position(center, "center")
        half = float(width) / 2.0
        lo = int(np.searchsorted(self._values, center - half, side="left"))
        hi = int(np.searchsorted(self._values, center + half, side="right"))
        nearest = self.index(center)
        return slice(min(lo, nearest), max(hi, nearest + 1))

    def crop_slice(self, lower: float | None, upper: float | None) -> slice:
        """Channels with ``lower <= position <= upper`` (``None`` means unbounded)."""
        lo = 0 if lower is None else int(np.searchsorted(self._values, lower, side="left"))
        hi = len(self) if upper is None else int(np.searchsorted(self._values, upper, side="right"))
        if hi - lo < 1:
            if 0 < lo < len(self):  # inside the axis, between two channels
                raise AxisError(
                    f"The range {lower}..{upper} {self.unit} contains no channel: it lies between the channels at "
                    f"{self._values[lo - 1]:g} and {self._values[lo]:g} {self.unit}. To fix this, widen it to "
                    "take in channels."
                )
            raise AxisError(
                f"The range {lower}..{upper} {self.unit} contains no channel of the axis "
                f"({self.start:g}..{self.stop:g} {self.unit}). To fix this, choose bounds "
                "that overlap the axis."
            )
        return slice(lo, hi)

    def take(self, index) -> SpectralAxis:
        """A new axis made of the selected channels (slice or integer/boolean array)."""
        names = None if self.names is None else tuple(np.asarray(self.names, dtype=object)[index])
        fwhm = None if self.fwhm is None else self.fwhm[index]
        bad = None if self.bad_bands is None else self.bad_bands[index]
        return SpectralAxis(self._values[index], self.unit, names=names, fwhm=fwhm, bad_bands=bad)

    def replace(self, **changes) -> SpectralAxis:
        """A copy with some of ``values``, ``unit``, ``names``, ``fwhm``, ``bad_bands`` changed."""
        current = {
            "values": self._values,
            "unit": self.unit,
            "names": self.names,
            "fwhm": self.fwhm,
            "bad_bands": self.bad_bands,
        }
        unknown = sorted(set(changes) - set(current))
        if unknown:
            raise InvalidParameterError(f"SpectralAxis.replace got unknown field(s) {unknown}; valid: {list(current)}.")
        current.update(changes)
        values, unit = current.pop("values"), current.pop("unit")
        return SpectralAxis(values, unit, **current)

    @property
    def good_bands(self) -> np.ndarray:
        """Boolean array, ``True`` for the channels not flagged bad."""
        return np.ones(len(self), bool) if self.bad_bands is None else ~self.bad_bands

    def to_dict(self) -> dict:
        """JSON-friendly description (range, unit, number of channels)."""
        out = {"unit": self.unit, "n_channels": len(self), "start": self.start, "stop": self.stop}
        if self.names is not None:
            out["names"] = list(self.names)
        if self.bad_bands is not None:
            out["n_bad_bands"] = int(self.bad_bands.sum())
        return out


def _per_channel(values, n: int, name: str, dtype) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype).reshape(-1) if np.ndim(values) else np.full(n, values, dtype=dtype)
    if arr.size != n:
        raise AxisError(f"The axis {name} has {arr.size} values but the axis has {n} channels.")
    arr.setflags(write=False)
    return arr


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.all(a == b))
