"""A name -> object registry with helpful errors for unknown names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from chemmap.core.exceptions import InvalidParameterError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects found by name, such as readers, methods or preprocessing steps.

    Parameters
    ----------
    kind : str
        What the registry holds, used in error messages ("reader", "baseline method").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Register ``item`` under ``name`` and return it (usable as a decorator helper)."""
        if name in self._items:
            raise InvalidParameterError(f"A {self.kind} named {name!r} is already registered.")
        self._items[name] = item
        return item

    def __call__(self, name: str):
        """Decorator form: ``@registry("name")``."""

        def decorate(item: T) -> T:
            return self.register(name, item)

        return decorate

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises
        ------
        InvalidParameterError
            If no object has that name; the message lists the valid names.
        """
        try:
            return self._items[name]
        except (KeyError, TypeError):
            valid = ", ".join(repr(n) for n in sorted(self._items))
            raise InvalidParameterError(f"Unknown {self.kind} {name!r}. Valid {self.kind}s are: {valid}.") from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self):
        return self._items.items()
