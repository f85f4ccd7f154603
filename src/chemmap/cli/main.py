"""Argument parsing and error handling for ``chemmap``.

Exit codes: 0 success, 2 usage or input error (one line, no traceback unless ``--debug``),
1 unexpected internal error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from chemmap.cli.flags import add_param_flags, given_params, reader_flags, workflow_config
from chemmap.cli.session import session_options
from chemmap.core.exceptions import ChemmapError, ChemmapWarning, InvalidParameterError

__all__ = ["main"]

#: Config sections of ``run`` whose every parameter has a flag.
RUN_FLAG_SECTIONS = ("maps", "clustering", "unmixing", "classification")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit 2
        self.exit(
            2,
            f"chemmap: error: {message} (see 'chemmap {self.prog.split()[-1]} --help')\n"
            if " " in self.prog
            else f"chemmap: error: {message}\n",
        )


def _read_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE parsed as JSON when it can be (numbers, lists, true/false)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--read-option must look like KEY=VALUE; got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


READ_OPTION_HELP = "reader option, e.g. labels_file=gt.mat or lazy=true (repeatable; see chemmap info --formats)"


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chemmap", description="Hyperspectral images to chemical maps.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def common(p):
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument("--debug", action="store_true", help="show tracebacks")

    def scale(p):
        from chemmap.workflows.config import SESSION_PARAMS

        add_param_flags(p, SESSION_PARAMS)

    def inputs(p):
        p.add_argument("--format", help="reader name (guessed from the file when omitted)")
        p.add_argument("--image-shape", nargs=2, type=int, metavar=("H", "W"), help="image height and width")
        p.add_argument("--label-column", help="ground-truth label column of a flat table")
        p.add_argument(
            "--label-mask",
            type=Path,
            metavar="FILE",
            help="ground truth for any cube: a 2-D class image (.png, .npy, ...)",
        )
        p.add_argument("--read-option", type=_read_option, action="append", metavar="KEY=VALUE", help=READ_OPTION_HELP)

    demo = sub.add_parser("demo", help="make the 30x30 demo image and run the mapping workflow on it")
    demo.add_argument("--out", required=True, type=Path, help="output folder")
    common(demo)

    run = sub.add_parser("run", help="run the mapping workflow on a file or a TOML config")
    run.add_argument("input", type=Path, help="data file, or a .toml config")
    run.add_argument("--out", required=True, type=Path, help="output folder")
    inputs(run)
    run.add_argument("--axis-unit", help="unit of the spectral axis (cm-1, nm, keV, ...)")
    from chemmap.workflows.config import SECTIONS

    for section in RUN_FLAG_SECTIONS:
        add_param_flags(run, SECTIONS[section], section=section)
    add_param_flags(run, {"random_state": SECTIONS["run"]["random_state"]}, section="run")
    run.add_argument("--crop", nargs=2, type=float, metavar=("LOW", "HIGH"), help="keep this axis range")
    run.add_argument("--baseline", help="baseline method: arpls | asls | modpoly | airpls | snip | ... (pybaselines)")
    run.add_argument("--normalize", help="snv | msc | emsc | l1 | l2 | area | max")
    run.add_argument("--savgol", type=float, metavar="WINDOW", help="Savitzky-Golay window (axis units)")
    run.add_argument("--spatial-sigma", type=float, help="Gaussian smoothing across pixels (sigma, pixels)")
    scale(run)
    common(run)

    info = sub.add_parser("info", help="describe a file: shape, axis, dtype, NaNs, labels")
    info.add_argument("file", type=Path, nargs="?")
    info.add_argument("--formats", action="store_true", help="list the installed readers and writers")
    info.add_argument("--json", action="store_true", help="print JSON")
    inputs(info)
    info.add_argument("--debug", action="store_true")

    prep = sub.add_parser("preprocess", help="apply a preprocessing chain to a file and write the processed cube")
    prep.add_argument("input", type=Path, help="data file, or a .toml run config (its [input] and [[preprocessing]])")
    prep.add_argument("target", type=Path, help="file to write the processed cube to (.zarr, .h5, .hdr, .npz ...)")
    prep.add_argument("--chain", type=Path, help="chain file (.toml or .json with a 'preprocessing' list)")
    prep.add_argument("--save-chain", type=Path, help="write the fitted (frozen) chain here (.toml or .json)")
    prep.add_argument("--to", dest="writer", help="writer name, when the suffix is not enough")
    scale(prep)
    inputs(prep)
    common(prep)

    from chemmap.workflows.peaks import PeakSettings

    peaks = sub.add_parser(
        "peaks", help="find the peaks of a cube, identify XRF element lines and map every peak (areas, positions)"
    )
    peaks.add_argument("input", type=Path, help="data file (any format chemmap reads), or a .toml config")
    peaks.add_argument("--out", required=True, type=Path, help="output folder")
    add_param_flags(peaks, PeakSettings.PARAMS)
    scale(peaks)
    inputs(peaks)
    common(peaks)

    from chemmap.workflows.autoencoder import AutoencoderSettings

    auto = sub.add_parser(
        "autoencoder",
        help="train a spectral autoencoder: denoised cube, latent features and a latent segmentation (needs 'deep')",
    )
    auto.add_argument("input", type=Path, help="data file (any format chemmap reads), or a .toml config")
    auto.add_argument("--out", required=True, type=Path, help="output folder")
    add_param_flags(auto, AutoencoderSettings.PARAMS)
    scale(auto)
    inputs(auto)
    common(auto)

    from chemmap.cli.quantify import add_quantify_parser

    add_quantify_parser(sub, common, scale, _read_option)

    convert = sub.add_parser("convert", help="read any supported file and write it in another format")
    convert.add_argument("source", type=Path, help="file (or Zarr folder) to read")
    convert.add_argument("target", type=Path, help="file to write; the suffix picks the writer (.zarr, .hdr, .h5 ...)")
    convert.add_argument("--to", dest="writer", help="writer name, when the suffix is not enough (e.g. hdf5-cube)")
    inputs(convert)
    convert.add_argument("--debug", action="store_true")
    return parser


def _run_config(args) -> tuple[dict, Path | None]:
    """The config from a TOML file and/or the flags (flags win); the preprocessing flags
    add steps after the config's."""
    from chemmap.workflows.config import SECTIONS

    config, base_dir = workflow_config(args, "run", {})
    for section in (*RUN_FLAG_SECTIONS, "run"):
        given = given_params(args, SECTIONS[section], section=section)
        if given and isinstance(config.setdefault(section, {}), dict):
            config[section].update(given)
    steps = config.get("preprocessing", [])
    if not isinstance(steps, list):
        return config, base_dir  # refused, with the reason, by validate_config
    steps = list(steps)
    if args.crop:
        steps.append({"step": "crop", "lower": args.crop[0], "upper": args.crop[1]})
    if args.baseline:
        steps.append({"step": "baseline", "method": args.baseline})
    if args.savgol:
        steps.append({"step": "savgol", "window": args.savgol})
    if args.normalize:
        steps.append({"step": "normalize", "method": args.normalize})
    if args.spatial_sigma:
        steps.append({"step": "spatial_gaussian", "sigma": args.spatial_sigma})
    config["preprocessing"] = steps
    return config, base_dir


def _cmd_run(args) -> int:
    from chemmap.cli.progress import make_progress
    from chemmap.workflows import run

    config, base_dir = _run_config(args)
    result = run(
        config, args.out, progress=make_progress(args.quiet), command=["chemmap", *sys.argv[1:]], base_dir=base_dir
    )
    _summary(result)
    return 0


def _cmd_demo(args) -> int:
    from chemmap.cli.progress import make_progress
    from chemmap.datasets import make_demo_cube
    from chemmap.io import write
    from chemmap.workflows import run
    from chemmap.workflows.staging import staged_output

    cube = make_demo_cube()
    with staged_output(args.out) as stage:
        write(cube, stage / "demo.csv", label_column="region")
        write(cube, stage / "demo.h5")
    config = {
        "input": {"path": str(args.out / "demo.csv"), "image_shape": [30, 30], "label_column": "region"},
        "maps": {"intensity": [1655.0], "ratio": [[1655.0, 1742.0]]},
        "clustering": {"k": 2},
    }
    result = run(config, args.out, progress=make_progress(args.quiet), command=["chemmap", *sys.argv[1:]])
    _summary(result)
    return 0


def _summary(result) -> None:
    _print_warnings(result.warnings)
    cl = result.metrics["clustering"]
    parts = [f"k={cl['k']}", f"silhouette={cl['silhouette']:.3f}" if cl.get("silhouette") is not None else ""]
    if "ari" in cl:
        parts += [f"ARI={cl['ari']:.3f}", f"accuracy={cl['pixel_accuracy']:.3f}", f"mean IoU={cl['mean_iou']:.3f}"]
    print(
        f"chemmap: wrote {len(list(result.out_dir.iterdir()))} files to {result.out_dir} "
        f"({', '.join(p for p in parts if p)}); open report.html (or report.md)"
    )


def _print_warnings(messages) -> None:
    for message in messages:
        print(f"chemmap: warning: {message}", file=sys.stderr)


def _run_workflow(args, settings_class, run):
    """Config from the input TOML or the file, flags merged, checked before reading; then ``run``."""
    from chemmap.workflows.config import reader_options, validate_workflow_config

    config, base_dir = workflow_config(args, settings_class.SECTION, settings_class.PARAMS)
    resolved = validate_workflow_config(config, settings_class, base_dir=base_dir)
    inp = resolved["input"]
    return run(
        inp["path"],
        args.out,
        settings_class(**resolved[settings_class.SECTION]),
        format=inp["format"],
        read_options=reader_options(inp),
        session=session_options(args, resolved["run"]),
    )


def _cmd_peaks(args) -> int:
    from chemmap.workflows.peaks import PeakSettings, run_peaks

    result = _run_workflow(args, PeakSettings, run_peaks)
    _print_warnings(result.warnings)
    found = ", ".join(name for name in result.names)
    elements = result.report.get("identified")
    print(f"chemmap: {len(result.peaks)} peaks ({found})")
    if elements is not None:
        print(f"chemmap: elements identified: {', '.join(elements) or 'none'}")
    print(f"chemmap: wrote peaks.json, maps and figures to {result.out_dir}")
    return 0


def _cmd_autoencoder(args) -> int:
    from chemmap.workflows.autoencoder import AutoencoderSettings, run_autoencoder

    result = _run_workflow(args, AutoencoderSettings, run_autoencoder)
    _print_warnings(result.warnings)
    recon, seg = result.metrics["reconstruction"], result.metrics["segmentation"]
    print(
        f"chemmap: reconstruction RMSE {recon['rmse']:.4g}, mean spectral angle {recon['mean_sam']:.4g} rad; "
        f"{seg['k']} clusters ({seg['method']})"
    )
    print(f"chemmap: wrote denoised.npy, latent.npy, cluster_map, figures, model/ and metrics.json to {result.out_dir}")
    return 0


def _cmd_quantify(args) -> int:
    from chemmap.cli.quantify import cmd_quantify

    return cmd_quantify(args)


def _cmd_info(args) -> int:
    from chemmap.io import describe, read
    from chemmap.io.listing import formats_text, summary_text

    if args.formats:
        print(formats_text())
        return 0
    if args.file is None:
        raise InvalidParameterError("chemmap info needs a file (or --formats).")
    summary = describe(read(args.file, format=args.format, **reader_flags(args)))
    print(json.dumps(summary, indent=2) if args.json else summary_text(summary, str(args.file)))
    return 0


def _cmd_preprocess(args) -> int:
    from chemmap.io import read, write
    from chemmap.preprocessing import Chain
    from chemmap.workflows.session import open_session

    options = reader_flags(args)
    source, fmt, steps = args.input, args.format, []
    if args.input.suffix.lower() == ".toml":
        from chemmap.workflows.config import read_config_file, reader_options, validate_config

        config = validate_config(read_config_file(args.input), base_dir=args.input.parent)
        source, fmt = Path(config["input"]["path"]), fmt or config["input"]["format"]
        options = {**reader_options(config["input"]), **options}
        steps = config["preprocessing"]
    if args.chain is not None:
        steps = Chain.load(args.chain).to_list()
    chain = Chain(steps)
    with open_session(session_options(args)) as session:
        cube = chain.fit_transform(read(source, format=fmt, **options), progress=session.progress)
        write(cube, args.target, format=args.writer)
    if args.save_chain is not None:
        chain.save(args.save_chain)
    print(
        f"chemmap: wrote {args.target} ({len(chain)} steps: {', '.join(i['step'] for i in chain.to_list()) or 'none'})"
    )
    return 0


def _cmd_convert(args) -> int:
    from chemmap.io import convert

    cube = convert(args.source, args.target, format=args.writer, read_options=reader_flags(args))
    h, w = cube.image_shape
    print(f"chemmap: wrote {args.target} ({h} x {w} pixels x {cube.n_channels} channels, {cube.axis.unit})")
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, ChemmapWarning):
        print(f"chemmap: warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``chemmap`` command; returns the exit code."""
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
    handler = {
        "run": _cmd_run,
        "demo": _cmd_demo,
        "info": _cmd_info,
        "convert": _cmd_convert,
        "preprocess": _cmd_preprocess,
        "peaks": _cmd_peaks,
        "autoencoder": _cmd_autoencoder,
        "quantify": _cmd_quantify,
    }[args.command]
    try:
        return handler(args)
    except ChemmapError as exc:
        if args.debug:
            raise
        print(f"chemmap: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chemmap: interrupted; no partial outputs were left.", file=sys.stderr)
        return 130
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
