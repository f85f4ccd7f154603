"""The pipeline: config schema and validation, the step runner, run record, atomic output."""

from chemmap.pipeline.config import SECTIONS, load_config, validate_config
from chemmap.pipeline.runner import OUTPUT_FILES, run, run_cube
from chemmap.pipeline.steps import RunResult

__all__ = ["OUTPUT_FILES", "SECTIONS", "RunResult", "load_config", "run", "run_cube", "validate_config"]
