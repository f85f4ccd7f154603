"""The ``chemmap`` command, made from the workflows' declarations
(:mod:`chemmap.workflows.catalog`), with ``demo`` and ``info`` beside them.

Exit codes: 0 success, 2 usage or input error (one line, no traceback unless ``--debug``),
1 unexpected internal error, 130 interrupted (Ctrl-C), 143 stopped by SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import warnings
from pathlib import Path

from chemmap._shared.interrupt import Terminated, check_interrupted, interrupts_end_the_run
from chemmap._shared.progress import progress_bars
from chemmap.cli.flags import add_param_flags, add_workflow_arguments, reader_flags, workflow_config
from chemmap.core.exceptions import ChemmapError, ChemmapWarning, InvalidParameterError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit 2
        command = self.prog.removeprefix("chemmap").strip()
        hint = f" (see 'chemmap {command} --help')" if command else ""
        self.exit(2, f"chemmap: error: {message}{hint}\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _build_parser() -> argparse.ArgumentParser:
    from chemmap.workflows.catalog import GROUPS, workflows
    from chemmap.workflows.config import SECTIONS

    parser = _Parser(prog="chemmap", description="Hyperspectral images to chemical maps.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    demo = sub.add_parser("demo", help="make the 30x30 demo image and run the mapping workflow on it")
    demo.add_argument("--out", required=True, type=Path, help="output folder")
    _common(demo)
    groups = {}
    for command, workflow in workflows().items():
        group, _, action = command.rpartition(" ")
        if group and group not in groups:
            holder = sub.add_parser(group, help=GROUPS[group].replace("%", "%%"))
            groups[group] = holder.add_subparsers(dest="action", required=True, parser_class=_Parser)
        p = (groups[group] if group else sub).add_parser(action, help=workflow.help)
        p.set_defaults(workflow=command)
        add_workflow_arguments(p, workflow)
        _common(p)
    info = sub.add_parser("info", help="describe a file: shape, axis, dtype, NaNs, labels")
    info.add_argument("file", type=Path, nargs="?")
    info.add_argument("--formats", action="store_true", help="list the installed readers and writers")
    info.add_argument("--json", action="store_true", help="print JSON")
    add_param_flags(info, SECTIONS["input"], section="input", skip=("path",))
    info.add_argument("--debug", action="store_true")
    return parser


def _run_workflow(args) -> int:
    from chemmap.workflows.catalog import workflows
    from chemmap.workflows.mapping import run_demo, summary

    options = {"progress": progress_bars(args.quiet), "command": ["chemmap", *sys.argv[1:]]}
    if args.command == "demo":
        result = run_demo(args.out, **options)
        _report(result, summary(result))
        return 0
    workflow = workflows()[args.workflow]
    config, base_dir = workflow_config(args, workflow)
    result = workflow.run_config(config, args.out, base_dir=base_dir, overwrite=args.overwrite, **options)
    _report(result, workflow.summary(result))
    return 0


def _report(result, summary: str) -> None:
    for message in getattr(result, "warnings", None) or []:
        print(f"chemmap: warning: {message}", file=sys.stderr)
    for line in summary.splitlines():
        print(f"chemmap: {line}")


def _cmd_info(args) -> int:
    from chemmap.io import describe, read
    from chemmap.io.listing import formats_text, summary_text

    if args.formats:
        print(formats_text())
        return 0
    if args.file is None:
        raise InvalidParameterError("chemmap info needs a file (or --formats).")
    format, options = reader_flags(args)
    summary = describe(read(args.file, format=format, **options))
    print(json.dumps(summary, indent=2) if args.json else summary_text(summary, str(args.file)))
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, ChemmapWarning):
        print(f"chemmap: warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")


#: Collection thresholds of the program's garbage collector (Python's: 700, 10, 10). A run
#: makes few container objects of its own but imports about 10^5 (NumPy, SciPy, pandas,
#: matplotlib), and at Python's thresholds searching them for cycles again and again took
#: 0.15 s of the 30 x 30 demo run (0.04 s at these), the same peak memory on a 1 GiB cube.
GC_THRESHOLDS = (20_000, 10, 10)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``chemmap`` command; returns the exit code."""
    if argv is None:
        gc.set_threshold(*GC_THRESHOLDS)
    code = _main(argv)
    if argv is None:
        # The program ends next; its shutdown then does not search the 10^5 objects the
        # libraries made for reference cycles (0.2 s of a small run).
        gc.freeze()
    return code


def _main(argv: list[str] | None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"chemmap {version('chemmap')}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    warnings.showwarning = _show_warning
    handler = _cmd_info if args.command == "info" else _run_workflow
    try:
        with interrupts_end_the_run(then_ignore=argv is None):  # None: the program itself
            try:
                code = handler(args)
            except Exception:
                check_interrupted()  # an error an interrupt caused (a module import it broke) is the interrupt
                raise
            check_interrupted()  # an interrupt that something swallowed still ends the run
            return code
    except ChemmapError as exc:
        if args.debug:
            raise
        print(f"chemmap: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("chemmap: interrupted; no partial outputs were left.", file=sys.stderr)
        if argv is None:
            # Objects the interrupt left half-built (inside an import) fail in __del__ when the
            # interpreter collects them on exit; Python would print those after the line above.
            sys.unraisablehook = lambda unraisable: None
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"chemmap: internal error: {type(exc).__name__}: {exc}. Run again with --debug for the "
            "traceback and report it.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
