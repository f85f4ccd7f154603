"""The one shape of a workflow: declared tables, ``execute(inputs, settings, session)`` and
``write(result, stage, session)``, run the same way from Python, a TOML config or the CLI.

A :class:`Workflow` says what its config holds besides ``[input]`` and ``[run]`` (tables of
declared parameters, checked before any data are read), how its settings come from the
resolved config, what it computes and what it writes. :meth:`Workflow.run` and
:meth:`Workflow.run_config` do the rest for every workflow alike: the session (compute
settings, memory limit, warnings, timer), reading the input, the staged output folder, the
``config.resolved.toml`` that runs it again and ``run_record.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chemmap._shared.progress import notify
from chemmap.workflows.config import reader_options, validate_workflow_config
from chemmap.workflows.session import Session, SessionOptions, open_session, write_resolved_config
from chemmap.workflows.staging import check_file_target, staged_output

__all__ = ["Workflow", "read_cube"]


def read_cube(source, input_table: dict):
    """The Cube a workflow works on: ``source`` itself when it is one, else the file read
    with the ``[input]`` table's reader and options."""
    from chemmap.core.cube import Cube
    from chemmap.io import read

    if isinstance(source, Cube):
        return source
    return read(source, format=input_table.get("format"), **reader_options(input_table))


def _input_path(source) -> str:
    return str(source.attrs.get("path", "<in memory>")) if hasattr(source, "attrs") else str(source)


@dataclass(frozen=True)
class Workflow:
    """One user task, declared once.

    Attributes
    ----------
    command : str
        The CLI command, e.g. ``"peaks"`` or ``"quantify compare"``.
    help : str
        One line for ``chemmap --help``.
    settings : type
        A :class:`~chemmap._shared.params.Settings` subclass: the config tables it is given
        in (:meth:`~chemmap._shared.params.Settings.tables`), their declared parameters (which
        make the command's flags) and the rules across them.
    execute : callable
        ``execute(inputs, settings, session) -> result``: the computation; no output files
        except arrays streamed to ``session.workspace`` (the staging folder).
    write : callable
        ``write(result, stage, session)``: every output into the staging folder ``stage``
        (the runner adds ``config.resolved.toml`` and ``run_record.json``, with the entries
        of ``result.record`` when it has one), or, for ``output="file"``, into the target file.
    summary : callable
        ``summary(result) -> str``: the lines the CLI prints when the run succeeded.
    read : callable or None
        ``read(source, input_table) -> inputs`` (default :func:`read_cube`); None passes the
        path itself (a manifest the workflow reads).
    output : {"folder", "file"}
        What ``out`` names: a folder written atomically as a whole, or one file.
    input_help : str
        What the input is, for ``--help``.
    positionals : tuple of str
        Parameters of the settings that the CLI takes as positional arguments before the
        input (e.g. the model folder of ``quantify predict``).
    ran : callable, optional
        ``ran(result, settings) -> settings``: the settings of what ran, with values chosen on
        the data (k, bands), for ``config.resolved.toml`` (default: ``settings``).
    """

    command: str
    help: str
    settings: type
    execute: Callable[[Any, Any, Any], Any]
    write: Callable[[Any, Path, Any], None]
    summary: Callable[[Any], str]
    read: Callable[[Any, dict], Any] | None = read_cube
    output: str = "folder"
    input_help: str = "data file (any format chemmap reads), or a .toml config"
    positionals: tuple[str, ...] = ()
    ran: Callable[[Any, Any], Any] | None = None

    def validate(
        self, config: dict, *, base_dir: Path | None = None, check_input_exists: bool = True
    ) -> tuple[dict, Any]:
        """``config`` checked before anything is read: the resolved config and its settings
        (see :func:`~chemmap.workflows.config.validate_workflow_config`)."""
        return validate_workflow_config(config, self.settings, base_dir=base_dir, check_input_exists=check_input_exists)

    def run_config(
        self,
        config: dict,
        out,
        *,
        base_dir: Path | None = None,
        progress: Callable | None = None,
        command: list[str] | None = None,
        overwrite: bool = False,
    ):
        """Validate ``config`` (a parsed TOML file or an equal dict), then run it into ``out``;
        ``base_dir`` is the config file's folder; ``overwrite`` replaces an earlier run's
        files in ``out`` (see :class:`SessionOptions`)."""
        resolved, settings = self.validate(config, base_dir=base_dir)
        options = SessionOptions.from_run_table(
            resolved["run"], progress=progress, command=command, overwrite=overwrite
        )
        return self._run(resolved["input"]["path"], resolved["input"], settings, out, options)

    def run(
        self,
        source,
        out,
        settings=None,
        *,
        format: str | None = None,
        read_options: dict | None = None,
        session: SessionOptions | None = None,
    ):
        """Run the workflow on ``source`` (a file, or a Cube already read) into ``out``.

        Parameters
        ----------
        source : str, Path or Cube
        out : str or Path or None
            Output folder (files appear only when the whole run succeeded), or the target
            file of a workflow that writes one; None writes nothing.
        settings : Settings, optional
            Default: every parameter's default.
        format, read_options : optional
            Reader name and options for a file.
        session : SessionOptions, optional
            Memory limit, scheduler, cluster, progress callback and the command recorded.
        """
        input_table = {"path": _input_path(source), "format": format, "options": dict(read_options or {})}
        input_table.update(dict.fromkeys(("image_shape", "label_column", "label_mask", "axis_unit")))
        return self._run(source, input_table, settings or self.settings(), out, session or SessionOptions())

    def _run(self, source, input_table: dict, settings, out, options: SessionOptions):
        if out is not None and self.output == "file":
            check_file_target(Path(out), input_table.get("path"), overwrite=options.overwrite)
        with open_session(options) as session:
            session.input = input_table
            with session.timer.stage("read"):
                notify(session.progress, "reading", 0, 1)
                inputs = source if self.read is None else self.read(source, input_table)
                notify(session.progress, "reading", 1, 1)
            if out is not None and self.output == "folder":
                result = self._into_folder(inputs, settings, Path(out), session)
            else:
                result = self.execute(inputs, settings, session)
                if out is not None:
                    with session.timer.stage("write"):
                        self.write(result, Path(out), session)
            if out is not None:
                result.out_dir = Path(out)
            result.warnings = list(dict.fromkeys([*(getattr(result, "warnings", None) or []), *session.warnings()]))
            return result

    def _into_folder(self, inputs, settings, out: Path, session: Session):
        """Execute and write into a staging folder that becomes ``out`` only when all succeeded,
        with ``config.resolved.toml`` and ``run_record.json``."""
        with staged_output(out, overwrite=session.options.overwrite) as stage:
            session.workspace = stage
            result = self.execute(inputs, settings, session)
            with session.timer.stage("write"):
                self.write(result, stage, session)
                ran = self.ran(result, settings) if self.ran else settings
                config = {"input": _rerun_input(session.input), **ran.config_tables()}
                config["run"] = {**config.get("run", {}), **session.options.run_table()}
                write_resolved_config(stage, config)
            session.write_record(stage, source=session.input["path"], **getattr(result, "record", {}))
            result.written = sorted(p.name for p in stage.iterdir())
        return result


def _rerun_input(input_table: dict) -> dict:
    """The ``[input]`` table that reads the same file the same way (unset fields left out)."""
    return {k: v for k, v in input_table.items() if v not in (None, {})}
