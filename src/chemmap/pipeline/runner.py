"""Run the mapping workflow from a resolved config: read, preprocess, cluster, map, score,
draw and report, writing everything into one output folder atomically."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

from chemmap._shared.compute import active_settings
from chemmap._shared.progress import ProgressCallback, notify
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ChemmapWarning
from chemmap.pipeline.config import reader_options, validate_config
from chemmap.pipeline.record import Timer, versions
from chemmap.pipeline.staging import staged_output, write_zarr_outputs
from chemmap.pipeline.steps import RunResult, analyse

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
        :mod:`chemmap.pipeline.config`); validated before any data are read.
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
    timer = Timer()
    inp = resolved["input"]
    options = reader_options(inp)
    with warnings.catch_warnings(record=True) as caught, _compute_settings(resolved):
        warnings.simplefilter("always", ChemmapWarning)
        with timer.stage("read"):
            notify(progress, "reading", 0, 1)
            cube = read(inp["path"], format=inp["format"], **options)
            notify(progress, "reading", 1, 1)
        return _run_checked(cube, resolved, out_dir, timer=timer, progress=progress, command=command, caught=caught)


def _compute_settings(resolved: dict):
    from chemmap._shared.compute import compute_settings

    opts = resolved["run"]
    return compute_settings(opts["scheduler"], memory_limit=opts["memory_limit"], cluster=opts["cluster"])


def run_cube(
    cube: Cube, config: dict | None = None, out_dir=None, *, progress: ProgressCallback | None = None
) -> RunResult:
    """Run the workflow on a Cube already in memory (``[input]`` is not needed)."""
    config = dict(config or {})
    config.setdefault("input", {"path": str(cube.attrs.get("path", "<in memory>"))})
    resolved = validate_config(config, check_input_exists=False)
    with warnings.catch_warnings(record=True) as caught, _compute_settings(resolved):
        warnings.simplefilter("always", ChemmapWarning)
        return _run_checked(cube, resolved, out_dir, timer=Timer(), progress=progress, command=None, caught=caught)


def _run_checked(cube, resolved, out_dir, *, timer, progress, command, caught) -> RunResult:
    result = analyse(cube, resolved, timer=timer, progress=progress)
    result.warnings.extend(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, ChemmapWarning)))
    result.metrics["warnings"] = result.warnings
    if out_dir is not None:
        with timer.stage("write"):
            _write_outputs(result, Path(out_dir), timer=timer, command=command)
        result.out_dir = Path(out_dir)
    return result


def _write_outputs(result: RunResult, out_dir: Path, *, timer: Timer, command) -> None:
    import tomli_w

    from chemmap._shared.atomic import write_text_atomic
    from chemmap.report import render_markdown, write_figures, write_metrics_json
    from chemmap.report.chemical_maps import chemical_map_files, write_chemical_maps
    from chemmap.report.html import write_html
    from chemmap.report.interactive import run_report

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
        write_text_atomic(stage / "config.resolved.toml", tomli_w.dumps(toml_clean(result.config)))
        write_text_atomic(stage / "report.md", render_markdown(result))
        write_html(run_report(result, command=command, versions=package_versions), stage / "report.html")
        record = {
            "command": command if command is not None else sys.argv,
            "versions": package_versions,
            "timings": timer.to_dict(),
            "input": result.config["input"]["path"],
            "outputs": [*output_files(lazy), *chemical_map_files(result)],
            "compute": active_settings().to_dict(),
        }
        write_text_atomic(stage / "run_record.json", json.dumps(record, indent=2))


def toml_clean(value):
    """Drop None (TOML has no null) and make tuples lists."""
    if isinstance(value, dict):
        return {k: toml_clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [toml_clean(v) for v in value if v is not None]
    if isinstance(value, np.generic):
        return value.item()
    return value
