"""Readers and writers registered by name, each able to say whether it can open a file."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chemmap.core.exceptions import InvalidParameterError
from chemmap.core.registry import Registry

__all__ = ["ReaderEntry", "WriterEntry", "file_head", "readers", "writers"]


def file_head(path, n_bytes: int, offset: int = 0) -> bytes:
    """Up to ``n_bytes`` of ``path`` from byte ``offset``, what a reader's ``sniff`` compares
    with its format's signature; ``b""`` when the file cannot be read."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(n_bytes)
    except OSError:
        return b""


def _keyword_only(func: Callable) -> tuple[str, ...]:
    params = inspect.signature(func).parameters
    return tuple(n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)
class ReaderEntry:
    """A registered reader.

    Attributes
    ----------
    name : str
        Name used with ``read(path, format=name)``.
    suffixes : tuple of str
        File suffixes it handles (lower case, with the dot).
    read : callable
        ``read(path, **options) -> Cube``.
    description : str
        One line for ``chemmap info --formats`` and for error messages.
    sniff : callable, optional
        ``sniff(path) -> bool`` looks at the file's first bytes to confirm the format.
    forwards_to : callable, optional
        A function that ``read`` passes its ``**options`` on to; its keyword-only
        parameters are options of this reader too.
    declared_bytes : callable, optional
        ``declared_bytes(path, **options) -> int``: the bytes of the array the reader would
        load, from the file's metadata alone (a small file can declare a huge array).
    options : tuple of str
        The option names ``read`` accepts (derived from the signatures).
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable
    description: str
    sniff: Callable[[Path], bool] | None = None
    forwards_to: Callable | None = None
    declared_bytes: Callable[..., int] | None = None
    options: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        own = _keyword_only(self.read)
        forwarded = () if self.forwards_to is None else _keyword_only(self.forwards_to)
        names = forwarded + tuple(n for n in own if n not in forwarded)
        object.__setattr__(self, "options", names)

    def guess_can_open(self, path: Path) -> bool:
        if path.suffix.lower() not in self.suffixes:
            return False
        return self.sniff(path) if self.sniff is not None else True

    def check_options(self, options: dict) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise InvalidParameterError(
                f"The {self.name} reader does not take the option(s) {', '.join(unknown)}. "
                f"Valid options are: {', '.join(self.options) or 'none'}."
            )


@dataclass(frozen=True)
class WriterEntry:
    """A registered writer: ``write(cube, path, **options)``.

    ``by_suffix=False`` keeps a writer out of the choice by suffix when another writer
    shares its suffixes (``.h5`` means the flat layout unless ``format="hdf5-cube"``).
    """

    name: str
    suffixes: tuple[str, ...]
    write: Callable
    description: str
    by_suffix: bool = True


readers: Registry[ReaderEntry] = Registry("reader")
writers: Registry[WriterEntry] = Registry("writer")
