"""Command-line flags made from declared parameters, and the one way flags and a TOML config
merge: a flag that is given wins over the config, which wins over the default."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from chemmap._shared.params import REQUIRED, Param, Settings

__all__ = ["add_param_flags", "add_workflow_arguments", "given_params", "reader_flags", "workflow_config"]


def _help(param: Param) -> str:
    return _described(param).replace("%", "%%")  # argparse formats help with %


def _described(param: Param) -> str:
    default = param.default
    if default is None or default is REQUIRED or param.kind == "bool" or default in ((), [], {}):
        return param.doc
    if isinstance(default, Settings):
        default = ",".join(f"{k}={v:g}" for k, v in default.to_dict().items())
    elif isinstance(default, list | tuple):
        default = ",".join(map(str, default))
    return f"{param.doc} (default {default})"


def add_param_flags(
    parser: argparse.ArgumentParser, params: Mapping[str, Param], *, section: str, skip: tuple[str, ...] = ()
) -> None:
    """One flag per parameter of the table ``section``: ``--name-with-dashes`` (or the
    declared ``flag``), its help the declaration's doc, choices and default; the text given is
    checked by the declaration, not by argparse, so a flag and a config value meet one rule.
    A bool parameter that defaults to true is turned off with ``--no-NAME``."""
    for name, param in params.items():
        if name in skip:
            continue
        dest, metavar = _dest(section, name), param.metavar or name.upper()
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
        elif param.nargs:
            parser.add_argument(flag, dest=dest, nargs=param.nargs, metavar=metavar, help=_help(param))
        elif param.kind in ("int", "float", "str") or (param.kind == "any" and param.check is not None):
            # the flag's text is checked by the declaration (a parameter of kind "any" by its check)
            parser.add_argument(flag, dest=dest, metavar=metavar, help=_help(param))
        else:
            raise TypeError(f"no flag is made for a parameter of kind {param.kind!r} ({name}); give it in the config")


def _dest(section: str, name: str) -> str:
    return f"{section}:{name}"


def given_params(args: argparse.Namespace, params: Mapping[str, Param], *, section: str) -> dict:
    """The parameters of the table ``section`` whose flags (or positional arguments) were given."""
    given = {name: getattr(args, _dest(section, name), None) for name in params}
    return {name: params[name].from_text(value) for name, value in given.items() if value is not None}


def add_workflow_arguments(parser: argparse.ArgumentParser, workflow) -> None:
    """The arguments of a workflow command: its positionals, the input, the output (``--out``
    or a target file) and a flag for every declared parameter of its tables."""
    from chemmap.workflows.config import STEP_FLAGS, workflow_tables

    for name in workflow.positionals:
        param = workflow.settings.PARAMS[name]
        parser.add_argument(_dest(workflow.settings.SECTION, name), metavar=name.upper(), help=param.doc)
    parser.add_argument("input", type=Path, help=workflow.input_help)
    if workflow.output == "file":
        parser.add_argument("out", type=Path, help="file to write; the suffix picks the writer (.zarr, .hdr, .h5 ...)")
        replaced = "an existing output file"
    else:
        parser.add_argument("--out", required=True, type=Path, help="output folder")
        replaced = "the files of an earlier run in the output folder (files chemmap did not write are kept)"
    parser.add_argument("--overwrite", action="store_true", help=f"replace {replaced}")
    for table, params in workflow_tables(workflow.settings).items():
        add_param_flags(parser, params, section=table, skip=(*workflow.positionals, "path"))
    if "preprocessing" in workflow.settings.LISTS:
        add_param_flags(parser, STEP_FLAGS, section="steps")


def reader_flags(args: argparse.Namespace) -> tuple[str | None, dict]:
    """The reader name and options given by the ``[input]`` flags, checked."""
    from chemmap._shared.params import validate_params
    from chemmap.workflows.config import SECTIONS, reader_options

    given = {**given_params(args, SECTIONS["input"], section="input"), "path": ""}
    table = validate_params(SECTIONS["input"], given, func="[input]")
    return table["format"], reader_options(table)


def workflow_config(args: argparse.Namespace, workflow) -> tuple[dict, Path | None]:
    """The config of a workflow command: its ``args.input`` TOML file (or just the input
    file), with the flags given on the command line merged in; the preprocessing flags add
    steps after the config's.

    Returns
    -------
    config : dict
        Not validated yet.
    base_dir : Path or None
        The config file's folder, that relative paths in it are resolved against.
    """
    from chemmap.workflows.config import STEP_FLAGS, flag_steps, read_config_file, workflow_tables

    base_dir = None
    if args.input.suffix.lower() == ".toml":
        config = read_config_file(args.input)
        base_dir = args.input.parent
    else:
        config = {"input": {"path": str(args.input)}}
    for table, params in workflow_tables(workflow.settings).items():
        given = given_params(args, params, section=table)
        if given and isinstance(config.setdefault(table, {}), dict):
            if table == "input" and "options" in given and isinstance(config["input"].get("options"), dict):
                flags = params["options"].validate(given["options"], name="options", func="--read-option")
                given["options"] = {**config["input"]["options"], **flags}
            config[table].update(given)
    steps = given_params(args, STEP_FLAGS, section="steps")
    if steps and isinstance(config.get("preprocessing", []), list):
        config["preprocessing"] = [*config.get("preprocessing", []), *flag_steps(steps)]
    return config, base_dir
