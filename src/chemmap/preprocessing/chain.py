"""A preprocessing chain: named steps with parameters, frozen after ``fit``, saved as a list
of tables (TOML/JSON) and applied identically to any cube."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from chemmap._shared.progress import ProgressCallback, notify
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ConfigError, InvalidParameterError, NotFittedError
from chemmap.preprocessing._steps import steps

__all__ = ["Chain"]


class Chain:
    """An ordered list of preprocessing steps.

    Parameters
    ----------
    spec : sequence of mapping
        Each item is ``{"step": name, **params}``, e.g.
        ``[{"step": "crop", "lower": 600, "upper": 1800}, {"step": "normalize", "method": "snv"}]``.
        Every step and parameter is validated here, before any data are touched.

    Attributes
    ----------
    steps_ : list of dict
        After ``fit``: the resolved steps with defaults filled in and learned values (such as
        an MSC reference) frozen, ready to apply to another cube identically.
    """

    def __init__(self, spec: Sequence[Mapping] = ()) -> None:
        self.spec = [dict(item) for item in spec]
        self._resolved = [self._validate(i, item) for i, item in enumerate(self.spec)]

    @staticmethod
    def _validate(index: int, item: Mapping) -> dict:
        if not isinstance(item, Mapping) or "step" not in item:
            raise ConfigError(
                f"Preprocessing item {index + 1} must be a table with a 'step' key; got {item!r}. "
                f"Valid steps are: {', '.join(steps.names())}."
            )
        params = dict(item)
        name = params.pop("step")
        try:
            spec = steps.get(name)
            return {"step": name, **spec.validate(params)}
        except InvalidParameterError as exc:
            raise ConfigError(f"Preprocessing item {index + 1} ({name!r}): {exc}") from None

    def fit(self, cube: Cube, *, progress: ProgressCallback | None = None) -> Chain:
        """Resolve learned parameters on ``cube`` (running the chain once)."""
        self.fit_transform(cube, progress=progress)
        return self

    def fit_transform(self, cube: Cube, *, progress: ProgressCallback | None = None) -> Cube:
        resolved = []
        for i, item in enumerate(self._resolved):
            params = {k: v for k, v in item.items() if k != "step"}
            spec = steps.get(item["step"])
            if spec.fit is not None:
                params.update(spec.fit(cube, **params))
            cube = spec.apply(cube, **params)
            resolved.append({"step": item["step"], **params})
            notify(progress, "preprocessing", i + 1, len(self._resolved))
        self.steps_ = resolved
        return cube

    def transform(self, cube: Cube, *, progress: ProgressCallback | None = None) -> Cube:
        """Apply the frozen steps to ``cube``."""
        if not hasattr(self, "steps_"):
            raise NotFittedError("This Chain is not fitted yet; call fit(cube) first.")
        for i, item in enumerate(self.steps_):
            params = {k: v for k, v in item.items() if k != "step"}
            cube = steps.get(item["step"]).apply(cube, **params)
            notify(progress, "preprocessing", i + 1, len(self.steps_))
        return cube

    def to_list(self) -> list[dict]:
        """The steps as plain data (frozen when fitted), without ``None`` values (TOML has none)."""
        items = self.steps_ if hasattr(self, "steps_") else self._resolved
        return [{k: v for k, v in item.items() if v is not None} for item in copy.deepcopy(items)]

    @classmethod
    def frozen(cls, items: Sequence[Mapping]) -> Chain:
        """A fitted chain from a saved list (learned values included)."""
        chain = cls(items)
        chain.steps_ = copy.deepcopy(chain._resolved)
        return chain

    def save(self, path) -> None:
        """Write the (frozen) steps as JSON or TOML, by suffix."""
        from chemmap._shared.atomic import write_text_atomic

        path = Path(path)
        if path.suffix == ".toml":
            import tomli_w

            write_text_atomic(path, tomli_w.dumps({"preprocessing": self.to_list()}))
        else:
            write_text_atomic(path, json.dumps({"preprocessing": self.to_list()}, indent=2))

    @classmethod
    def load(cls, path) -> Chain:
        """Read a chain saved by :meth:`save` (a frozen chain).

        Raises
        ------
        ConfigError
            When the file is missing, is not TOML (``.toml``) or JSON, or has no
            ``preprocessing`` list.
        """
        import tomllib

        path = Path(path)
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text) if kind == "TOML" else json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ConfigError(
                f"Cannot read the chain file {str(path)!r} as {kind} ({exc}). Expected a file written by "
                "--save-chain: a 'preprocessing' list of steps (.toml or .json)."
            ) from None
        steps = data.get("preprocessing") if isinstance(data, dict) else None
        if not isinstance(steps, list):
            raise ConfigError(
                f"The chain file {str(path)!r} has no 'preprocessing' list of steps. Expected a file written by "
                "--save-chain (.toml or .json)."
            )
        return cls.frozen(steps)

    def __len__(self) -> int:
        return len(self._resolved)

    def __repr__(self) -> str:
        return f"Chain({[item['step'] for item in self._resolved]})"
