"""Run the mapping workflow from a resolved config: read, preprocess, cluster, map, score,
draw and report, writing everything into one output folder atomically."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from chemmap._shared.progress import ProgressCallback
from chemmap.core.cube import Cube
from chemmap.workflows.config import MappingSettings
from chemmap.workflows.mapping_result import RunResult
from chemmap.workflows.session import Session, SessionOptions, versions
from chemmap.workflows.shape import Workflow
from chemmap.workflows.staging import write_zarr_outputs

__all__ = [
    "LAZY_OUTPUT_FILES",
    "MAPPING",
    "OUTPUT_FILES",
    "RunResult",
    "execute",
    "output_files",
    "run",
    "run_cube",
    "run_demo",
    "summary",
    "write",
]

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


def execute(cube: Cube, settings: MappingSettings, session: Session) -> RunResult:
    """Preprocess, cluster, map and score ``cube`` (see
    :func:`~chemmap.workflows.mapping_analysis.analyse`); no files written."""
    with session.timer.stage("imports"):  # scikit-learn and SciPy: not imported for --help
        from chemmap.workflows.mapping_analysis import analyse

    config = {"input": {"path": session.input["path"]}, **settings}
    result = analyse(cube, config, timer=session.timer, progress=session.progress)
    result.warnings.extend(w for w in session.warnings() if w not in result.warnings)
    result.metrics["warnings"] = result.warnings
    return result


def write(result: RunResult, stage: Path, session: Session) -> None:
    """The maps, labels, figures, metrics and reports of a run into ``stage``."""
    from chemmap._shared.atomic import write_text_atomic
    from chemmap.report import figure_jobs, render_markdown, write_metrics_json
    from chemmap.report.component_maps import chemical_map_jobs
    from chemmap.report.html import write_html
    from chemmap.report.pages import run_report
    from chemmap.viz.figures import draw_in_forks

    def html() -> None:
        write_html(run_report(result, command=session.command, versions=versions()), stage / "report.html")

    def text() -> None:
        write_metrics_json(result.metrics, stage / "metrics.json")
        write_text_atomic(stage / "report.md", render_markdown(result))

    with session.timer.stage("figures and reports"):  # and the arrays, all at once
        arrays = partial(_write_arrays, result, stage)
        # report.html first, in this process: it reads pixel spectra from a cube that may be lazy
        draw_in_forks([html, arrays, *figure_jobs(result, stage), *chemical_map_jobs(result, stage), text])


def _write_arrays(result: RunResult, stage: Path) -> None:
    """``cluster_labels`` and ``maps``: ``.npy``/``.npz`` for a cube in memory, Zarr stores for
    a lazy one."""
    if result.cube.is_lazy:
        write_zarr_outputs(result.label_image, result.maps, stage)
        return
    np.save(stage / "cluster_labels.npy", result.label_image.astype(np.int32))
    maps = {name: result.maps[name] for name in result.maps.map_names}
    with open(stage / "maps.npz", "wb") as fh:  # not compressed: 0.35 s for 40 % of 12 MB at 1024 x 1024
        np.savez(fh, **maps)


def summary(result: RunResult) -> str:
    """The line ``chemmap run`` prints: files written and the clustering scores."""
    cl = result.metrics["clustering"]
    parts = [f"k={cl['k']}", f"silhouette={cl['silhouette']:.3f}" if cl.get("silhouette") is not None else ""]
    if "ari" in cl:
        parts += [f"ARI={cl['ari']:.3f}", f"accuracy={cl['pixel_accuracy']:.3f}", f"mean IoU={cl['mean_iou']:.3f}"]
    return (
        f"wrote {len(result.written)} files to {result.out_dir} "
        f"({', '.join(p for p in parts if p)}); open report.html (or report.md)"
    )


def _ran(result: RunResult, settings: MappingSettings) -> MappingSettings:
    """The settings with the values chosen on the data (k, bands, window) written in."""
    return MappingSettings({k: v for k, v in result.config.items() if k != "input"})


MAPPING = Workflow(
    command="run",
    help="run the mapping workflow on a file or a TOML config",
    settings=MappingSettings,
    execute=execute,
    write=write,
    summary=summary,
    ran=_ran,
    input_help="data file, or a .toml config",
)

#: ``run(config, out_dir, *, base_dir=None, progress=None, command=None, overwrite=False)``: validate a
#: mapping config (sections ``input``, ``preprocessing``, ``maps``, ``clustering``,
#: ``unmixing``, ``classification``, ``run``; see :mod:`chemmap.workflows.config`) before any
#: data are read, then read its input and run the workflow into ``out_dir`` (files appear
#: only when the whole run succeeded; an earlier run there is replaced only with
#: ``overwrite``). Returns a :class:`RunResult`.
run = MAPPING.run_config


def run_cube(
    cube: Cube,
    config: dict | None = None,
    out_dir=None,
    *,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Run the mapping workflow on a Cube already in memory: ``config`` as for :func:`run`
    without ``[input]``; nothing is written when ``out_dir`` is None; ``overwrite`` replaces
    an earlier run's files in ``out_dir``."""
    settings = MappingSettings({k: v for k, v in (config or {}).items() if k != "input"})
    options = SessionOptions.from_run_table(settings["run"], progress=progress, overwrite=overwrite)
    return MAPPING.run(cube, out_dir, settings, session=options)


def run_demo(out_dir, *, progress: ProgressCallback | None = None, command: list[str] | None = None) -> RunResult:
    """``chemmap demo``: write the built-in 30 x 30 demo image as ``demo.csv`` (flat, with its
    region labels) and ``demo.h5`` into ``out_dir``, then run the mapping workflow on the CSV
    there (2 clusters, the 1655 cm-1 band and the 1655/1742 ratio). An earlier demo in
    ``out_dir`` is replaced as a whole (the folder is the demo's own)."""
    from chemmap.datasets import make_demo_cube
    from chemmap.io import write
    from chemmap.workflows.staging import staged_output

    cube = make_demo_cube()
    with staged_output(out_dir, overwrite=True, replaces=("demo.csv", "demo.h5")) as stage:
        write(cube, stage / "demo.csv", label_column="region")
        write(cube, stage / "demo.h5")
    config = {
        "input": {"path": str(Path(out_dir) / "demo.csv"), "image_shape": [30, 30], "label_column": "region"},
        "maps": {"intensity": [1655.0], "ratio": [[1655.0, 1742.0]]},
        "clustering": {"k": 2},
    }
    return run(config, out_dir, progress=progress, command=command)
