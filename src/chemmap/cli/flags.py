"""Command-line flags made from declared parameters, and the one way flags and a TOML config
merge: a flag that is given wins over the config, which wins over the default."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from pathlib import Path

from chemmap._shared.params import Param

__all__ = ["add_param_flags", "given_params", "reader_flags", "workflow_config"]


def _help(param: Param) -> str:
    return _described(param).replace("%", "%%")  # argparse formats help with %


def _described(param: Param) -> str:
    default = param.default
    if default is None or param.kind == "bool" or default in ((), []):
        return param.doc
    if dataclasses.is_dataclass(default):
        default = ",".join(f"{k}={v:g}" for k, v in dataclasses.asdict(default).items())
    elif isinstance(default, list | tuple):
        default = ",".join(map(str, default))
    return f"{param.doc} (default {default})"


def add_param_flags(parser: argparse.ArgumentParser, params: Mapping[str, Param], *, section: str = "") -> None:
    """One flag per parameter: ``--name-with-dashes`` (or the declared ``flag``), its help the
    declaration's doc, choices and default; the text given is checked by the declaration, not
    by argparse, so a flag and a config value meet one rule. A bool parameter that defaults to
    true is turned off with ``--no-NAME``. With ``section``, the values are kept apart from
    other sections' parameters of the same name (see :func:`given_params`)."""
    for name, param in params.items():
        dest, metavar = _dest(section, name), name.upper()
        flag = "--" + (param.flag or name.replace("_", "-"))
        if param.kind == "bool":
            if param.default:
                off = "--no-" + flag[2:]
                parser.add_argument(off, dest=dest, action="store_const", const=False, help=f"turn off: {_help(param)}")
            else:
                parser.add_argument(flag, dest=dest, action="store_const", const=True, help=_help(param))
        elif param.kind == "choice":  # the choices are shown; the declaration refuses the others
            parser.add_argument(flag, dest=dest, metavar="{" + ",".join(param.choices) + "}", help=_help(param))
        elif param.repeat:
            parser.add_argument(flag, dest=dest, action="append", metavar=metavar, help=f"{_help(param)}; repeatable")
        elif param.kind in ("int", "float", "str") or (param.kind == "any" and param.check is not None):
            # the flag's text is checked by the declaration (a parameter of kind "any" by its check)
            parser.add_argument(flag, dest=dest, metavar=metavar, help=_help(param))
        else:
            raise TypeError(f"no flag is made for a parameter of kind {param.kind!r} ({name}); give it in the config")


def _dest(section: str, name: str) -> str:
    return f"{section}:{name}" if section else name


def given_params(args: argparse.Namespace, params: Mapping[str, Param], *, section: str = "") -> dict:
    """The parameters whose flags were given."""
    given = {name: getattr(args, _dest(section, name), None) for name in params}
    return {name: _from_text(params[name], value) for name, value in given.items() if value is not None}


def _from_text(param: Param, value):
    """A flag's text as the number an int or float parameter takes; text that is not one is
    left for the declaration to refuse, with its message."""
    convert = {"int": int, "float": float}.get(param.kind)
    if convert is None or not isinstance(value, str):
        return value
    try:
        return convert(value)
    except ValueError:
        return value


def _input_flags(args: argparse.Namespace) -> dict:
    given = {
        "format": getattr(args, "format", None),
        "image_shape": getattr(args, "image_shape", None),
        "label_column": getattr(args, "label_column", None),
        "label_mask": None if getattr(args, "label_mask", None) is None else str(args.label_mask),
        "axis_unit": getattr(args, "axis_unit", None),
    }
    return {k: v for k, v in given.items() if v is not None}


def reader_flags(args: argparse.Namespace) -> dict:
    """The reader options given on the command line: ``--read-option`` and the named ones
    (``--image-shape``, ``--label-column``, ``--label-mask``, ``--axis-unit``)."""
    named = {k: v for k, v in _input_flags(args).items() if k != "format"}
    return {**dict(getattr(args, "read_option", None) or []), **named}


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
    from chemmap.workflows.config import SESSION_PARAMS, read_config_file

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
    for name, flags in ((section, given_params(args, params)), ("run", given_params(args, SESSION_PARAMS))):
        if flags:
            table = config.setdefault(name, {})
            if isinstance(table, dict):
                table.update(flags)
    return config, base_dir
