"""Run the mapping workflow from a resolved config: read, preprocess, cluster, map, score,
draw and report, writing everything into one output folder atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap._shared.progress import ProgressCallback, notify
from chemmap.core.cube import Cube
from chemmap.workflows.config import reader_options, validate_config
from chemmap.workflows.mapping_analysis import RunResult, analyse
from chemmap.workflows.session import Session, SessionOptions, open_session, versions, write_resolved_config
from chemmap.workflows.staging import staged_output, write_zarr_outputs

__all__ = ["LAZY_OUTPUT_FILES", "OUTPUT_FILES", "RunResult", "output_files", "run", "run_cube"]

_COMMON_FILES = (
    "intensity_map.png",
    "ratio_map.png",
    "cluster_map.png",
    "pixel_spectra.png",
    "metrics.json",
    "report.md",
    "report.html",
    "config.resolved.toml",
    "run_record.json",
)
#: Files of a run on a cube in memory.
OUTPUT_FILES = (*_COMMON_FILES, "cluster_labels.npy", "maps.npz")
#: Files of a run on a lazy (larger than memory) cube: arrays as Zarr stores, written by chunks.
LAZY_OUTPUT_FILES = (*_COMMON_FILES, "cluster_labels.zarr", "maps.zarr")


def output_files(lazy: bool) -> tuple[str, ...]:
    """The files a run writes, for a lazy cube or one in memory."""
    return LAZY_OUTPUT_FILES if lazy else OUTPUT_FILES


def run(
    config: dict,
    out_dir,
    *,
    progress: ProgressCallback | None = None,
    command: list[str] | None = None,
    base_dir: Path | None = None,
) -> RunResult:
    """Validate ``config``, read its input and run the workflow into ``out_dir``.

    Parameters
    ----------
    config : dict
        Sections ``input``, ``preprocessing``, ``maps``, ``clustering``, ``run`` (see
        :mod:`chemmap.workflows.config`); validated before any data are read.
    out_dir : str or Path
        Output folder; files appear there only when the whole run succeeded.
    progress : callable, optional
        ``progress(stage, done, total)``.

    Returns
    -------
    RunResult
    """
    from chemmap.io import read

    resolved = validate_config(config, base_dir=base_dir)
    inp = resolved["input"]
    with open_session(_session_options(resolved, progress, command)) as session:
        with session.timer.stage("read"):
            notify(progress, "reading", 0, 1)
            cube = read(inp["path"], format=inp["format"], **reader_options(inp))
            notify(progress, "reading", 1, 1)
        return _run_checked(cube, resolved, out_dir, session)


def _session_options(resolved: dict, progress, command) -> SessionOptions:
    opts = resolved["run"]
    return SessionOptions(opts["memory_limit"], opts["scheduler"], opts["cluster"], progress, command)


def run_cube(
    cube: Cube, config: dict | None = None, out_dir=None, *, progress: ProgressCallback | None = None
) -> RunResult:
    """Run the workflow on a Cube already in memory (``[input]`` is not needed)."""
    config = dict(config or {})
    config.setdefault("input", {"path": str(cube.attrs.get("path", "<in memory>"))})
    resolved = validate_config(config, check_input_exists=False)
    with open_session(_session_options(resolved, progress, None)) as session:
        return _run_checked(cube, resolved, out_dir, session)


def _run_checked(cube, resolved, out_dir, session: Session) -> RunResult:
    result = analyse(cube, resolved, timer=session.timer, progress=session.progress)
    result.warnings.extend(w for w in session.warnings() if w not in result.warnings)
    result.metrics["warnings"] = result.warnings
    if out_dir is not None:
        with session.timer.stage("write"):
            _write_outputs(result, Path(out_dir), session)
        result.out_dir = Path(out_dir)
    return result


def _write_outputs(result: RunResult, out_dir: Path, session: Session) -> None:

    from chemmap._shared.atomic import write_text_atomic
    from chemmap.report import render_markdown, write_figures, write_metrics_json
    from chemmap.report.component_maps import write_chemical_maps
    from chemmap.report.html import write_html
    from chemmap.report.pages import run_report

    lazy = result.cube.is_lazy
    package_versions = versions()
    with staged_output(out_dir) as stage:
        write_figures(result, stage)
        write_chemical_maps(result, stage)
        if lazy:
            write_zarr_outputs(result.label_image, result.maps, stage)
        else:
            np.save(stage / "cluster_labels.npy", result.label_image.astype(np.int32))
            maps = {name: result.maps[name] for name in result.maps.map_names}
            with open(stage / "maps.npz", "wb") as fh:
                np.savez_compressed(fh, **maps)
        write_metrics_json(result.metrics, stage / "metrics.json")
        write_resolved_config(stage, result.config)
        write_text_atomic(stage / "report.md", render_markdown(result))
        write_html(run_report(result, command=session.command, versions=package_versions), stage / "report.html")
        session.write_record(stage, source=result.config["input"]["path"])
