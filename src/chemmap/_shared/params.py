"""Declared parameters: one set of constraints checks a Python call, a config file and a
CLI flag alike."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from chemmap._shared.validation import check_choice, check_int, check_number
from chemmap.core.exceptions import InvalidParameterError

__all__ = ["REQUIRED", "Param", "Settings", "check_counts", "validate_params"]

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    Attributes
    ----------
    kind : {"float", "int", "choice", "bool", "str", "floats", "any"}
        ``floats`` is a list of numbers (e.g. a reference spectrum); ``any`` defers to
        ``check``.
    default : object
        ``REQUIRED`` when the caller must give it.
    low, high : float, optional
        Bounds for numbers; ``low_inclusive``/``high_inclusive`` say whether they are allowed.
    choices : tuple of str
        Valid values for ``choice``.
    allow_none : bool
        Whether ``None`` is accepted.
    doc : str
        One line with the unit, shown in ``--help`` and in the report.
    check : callable, optional
        ``check(value, name, func) -> value`` for compound values (pairs, lists of pairs);
        it also parses the text of the parameter's command-line flag.
    flag : str, optional
        The command-line flag, without the dashes, where the name alone would be unclear
        beside other sections' parameters (default: the name with ``-`` for ``_``).
    repeat : bool
        The flag may be given several times; the texts go to ``check`` as a list.
    file : bool
        The value names a file or folder; in a config file it is relative to the config's folder.
    nargs : int, optional
        The flag takes this many values (``--crop 900 1800``); they go to ``check`` as a list.
    metavar : str or tuple of str, optional
        The name of the flag's value(s) in ``--help`` (default: the name in capitals).
    """

    kind: str
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    choices: tuple = ()
    allow_none: bool = False
    doc: str = ""
    check: Callable[[Any, str, str], Any] | None = None
    flag: str | None = None
    repeat: bool = False
    file: bool = False
    nargs: int | None = None
    metavar: str | tuple[str, ...] | None = None

    def from_text(self, value):
        """A flag's text as the number an int or float parameter takes; text that is not one
        is left for :meth:`validate` to refuse, with its message."""
        convert = {"int": int, "float": float}.get(self.kind)
        if convert is None or not isinstance(value, str):
            return value
        try:
            return convert(value)
        except ValueError:
            return value

    def validate(self, value, *, name: str, func: str):
        if value is None and self.allow_none:
            return None
        if self.check is not None:
            return self.check(value, name, func)
        if self.kind == "float":
            return check_number(
                value,
                name=name,
                func=func,
                low=self.low,
                high=self.high,
                low_inclusive=self.low_inclusive,
                high_inclusive=self.high_inclusive,
            )
        if self.kind == "int":
            return check_int(value, name=name, func=func, low=self.low, high=self.high)
        if self.kind == "choice":
            return check_choice(value, self.choices, name=name, func=func)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {func} must be true or false. Got {value!r} instead."
                )
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {func} must be a string. Got {value!r} instead."
                )
            return value
        if self.kind == "floats":
            if hasattr(value, "tolist"):
                value = value.tolist()
            if not isinstance(value, list | tuple) or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value
            ):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {func} must be a list of numbers. Got {str(value)[:60]!r} instead."
                )
            return [float(v) for v in value]
        return value


def validate_params(spec: Mapping[str, Param], given: Mapping[str, Any], *, func: str) -> dict:
    """Check ``given`` against ``spec``, fill defaults, and return the resolved values.

    Raises
    ------
    InvalidParameterError
        For an unknown name (listing the valid ones), a missing required value, or a value
        that breaks its constraint.
    """
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise InvalidParameterError(
            f"{func} got unknown parameter(s) {', '.join(map(repr, unknown))}. Valid parameters "
            f"are: {', '.join(spec) or 'none'}."
        )
    out = {}
    for name, param in spec.items():
        if name in given:
            try:
                out[name] = param.validate(given[name], name=name, func=func)
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"{exc}{_what_it_is(param)}") from None
        elif param.default is REQUIRED:
            raise InvalidParameterError(f"{func} needs the parameter {name!r} ({param.doc}).")
        else:
            out[name] = param.default
    return out


def _what_it_is(param: Param) -> str:
    """What a refused parameter is, the flag that sets it and how to get its default."""
    flag = "" if param.flag is None else f"the --{param.flag} flag: "
    if param.default is REQUIRED:
        return f" ({flag}{param.doc})" if param.doc else ""
    if "default" in param.doc:  # the doc says what it is
        return f" ({flag}{param.doc}; leave it out for the default)"
    default = "chosen from the data" if param.default is None else repr(param.default)
    return f" ({flag}{param.doc}; leave it out for its default, {default})"


def check_counts(value, name, func) -> tuple[int, ...]:
    """One or more positive integers from a list or ``"16,32,64"`` (layer widths, say)."""
    items = value.split(",") if isinstance(value, str) else value
    try:
        counts = tuple(int(v) for v in items)
    except (TypeError, ValueError):
        counts = ()
    if not counts or min(counts) < 1:
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be one or more positive integers, e.g. 16,32,64. "
            f"Got {value!r} instead."
        )
    return counts


class Settings:
    """The validated parameters of one workflow section, declared once in ``PARAMS``.

    ``Settings(**given)`` checks every value against its :class:`Param` (unknown names,
    types, ranges, choices) and fills the defaults; the values are attributes. The same
    declarations check a TOML section and make the command's flags, so a parameter is
    declared in one place. Settings are frozen (:meth:`replace` makes a changed copy).
    Subclasses set ``PARAMS`` and ``SECTION`` (the TOML table) and may add rules across
    parameters in :meth:`check`.
    """

    PARAMS: ClassVar[Mapping[str, Param]] = {}
    SECTION: ClassVar[str] = ""
    #: Parameters given in a config as a list of tables (``[[preprocessing]]``), not in
    #: ``[SECTION]``.
    LISTS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def tables(cls) -> dict[str, Mapping[str, Param]]:
        """The config tables these settings are given in, with their declared parameters."""
        return {cls.SECTION: {k: p for k, p in cls.PARAMS.items() if k not in cls.LISTS}}

    @classmethod
    def from_config(cls, resolved: Mapping[str, Any]) -> Settings:
        """The settings of a config whose tables were checked against :meth:`tables`."""
        return cls(**resolved[cls.SECTION], **{name: resolved[name] for name in cls.LISTS if name in resolved})

    def config_tables(self) -> dict[str, Any]:
        """The config tables that give these settings back (see :meth:`from_config`)."""
        values = self.to_dict()
        lists = {name: values.pop(name) for name in self.LISTS}
        return {self.SECTION: values, **lists}

    def __init__(self, **given) -> None:
        self.__dict__.update(validate_params(self.PARAMS, given, func=f"[{self.SECTION}]"))
        self.check()

    def __setattr__(self, name, value) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen; make a changed copy with replace({name}=...).")

    def check(self) -> None:
        """Rules that involve several parameters (none by default)."""

    def to_dict(self) -> dict[str, Any]:
        """Every parameter's value, by name (what ``config.resolved.toml`` records; a value
        held as a dataclass, e.g. loss weights, as its table)."""
        return {name: _plain(getattr(self, name)) for name in self.PARAMS}

    @classmethod
    def parse(cls, value, *, name: str, func: str) -> Settings:
        """Settings nested in a parameter (loss weights, say) from themselves or a table of
        their values; ``name`` and ``func`` name the parameter in the error."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise InvalidParameterError(
                f"The {name!r} parameter of {func} must be a table of {', '.join(cls.PARAMS)}. Got {value!r} instead."
            )
        try:
            return cls(**value)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"The {name!r} parameter of {func}: {exc}") from None

    def replace(self, **changes) -> Settings:
        """A copy with ``changes``, validated again."""
        return type(self)(**{**self.to_dict(), **changes})

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.to_dict().items() if v != self.PARAMS[k].default}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


def _plain(value):
    return value.to_dict() if isinstance(value, Settings) else value
