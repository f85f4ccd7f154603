"""Command-line flags made from declared parameters, and the one way flags and a TOML config
merge: a flag that is given wins over the config, which wins over the default."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from pathlib import Path

from chemmap._shared.params import Param

__all__ = ["add_param_flags", "given_params", "workflow_config"]

_TYPES = {"int": int, "float": float, "str": str}


def _help(param: Param) -> str:
    default = param.default
    if default is None or param.kind == "bool" or default in ((), []):
        return param.doc
    if dataclasses.is_dataclass(default):
        default = ",".join(f"{k}={v:g}" for k, v in dataclasses.asdict(default).items())
    elif isinstance(default, list | tuple):
        default = ",".join(map(str, default))
    return f"{param.doc} (default {default})"


def add_param_flags(parser: argparse.ArgumentParser, params: Mapping[str, Param]) -> None:
    """One flag per parameter: ``--name-with-dashes``; choices, type and default from the
    declaration; a bool parameter that defaults to true is turned off with ``--no-NAME``."""
    for name, param in params.items():
        flag = "--" + name.replace("_", "-")
        if param.kind == "bool":
            if param.default:
                parser.add_argument(
                    f"--no-{name.replace('_', '-')}",
                    dest=name,
                    action="store_const",
                    const=False,
                    help=f"no {param.doc}",
                )
            else:
                parser.add_argument(flag, dest=name, action="store_const", const=True, help=param.doc)
        elif param.kind == "choice":
            parser.add_argument(flag, dest=name, choices=param.choices, help=_help(param))
        elif param.kind in _TYPES or (param.kind == "any" and param.check is not None):
            # a parameter of kind "any" takes the flag's text, which its check parses
            parser.add_argument(flag, dest=name, type=_TYPES.get(param.kind, str), help=_help(param))
        else:
            raise TypeError(f"no flag is made for a parameter of kind {param.kind!r} ({name}); give it in the config")


def given_params(args: argparse.Namespace, params: Mapping[str, Param]) -> dict:
    """The parameters whose flags were given."""
    return {name: getattr(args, name) for name in params if getattr(args, name, None) is not None}


def _input_flags(args: argparse.Namespace) -> dict:
    given = {
        "format": getattr(args, "format", None),
        "image_shape": getattr(args, "image_shape", None),
        "label_column": getattr(args, "label_column", None),
        "label_mask": None if getattr(args, "label_mask", None) is None else str(args.label_mask),
        "axis_unit": getattr(args, "axis_unit", None),
    }
    return {k: v for k, v in given.items() if v is not None}


def workflow_config(args: argparse.Namespace, section: str, params: Mapping[str, Param]) -> tuple[dict, Path | None]:
    """The config of a workflow command: its ``args.input`` TOML file (or just the input file),
    with the reader, ``[section]`` and scale flags given on the command line merged in.

    Returns
    -------
    config : dict
        Not validated yet.
    base_dir : Path or None
        The config file's folder, that relative paths in it are resolved against.
    """
    from chemmap.pipeline.config import read_config_file

    base_dir = None
    if args.input.suffix.lower() == ".toml":
        config = read_config_file(args.input)
        base_dir = args.input.parent
    else:
        config = {"input": {"path": str(args.input)}}
    inp = config.setdefault("input", {})
    if isinstance(inp, dict):
        inp.update(_input_flags(args))
        if getattr(args, "read_option", None):
            inp.setdefault("options", {}).update(dict(args.read_option))
    for name, flags in ((section, given_params(args, params)), ("run", _scale_flags(args))):
        if flags:
            table = config.setdefault(name, {})
            if isinstance(table, dict):
                table.update(flags)
    return config, base_dir


def _scale_flags(args: argparse.Namespace) -> dict:
    given = {k: getattr(args, k, None) for k in ("memory_limit", "scheduler", "cluster")}
    return {k: v for k, v in given.items() if v is not None}
