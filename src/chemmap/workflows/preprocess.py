"""The workflows that write one processed cube: ``chemmap preprocess`` (a preprocessing chain,
fitted and frozen) and ``chemmap convert`` (the cube as read, in another format)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from chemmap._shared.params import Param, Settings
from chemmap.core.cube import Cube
from chemmap.preprocessing.chain import Chain
from chemmap.workflows.session import Session
from chemmap.workflows.shape import Workflow

__all__ = ["CONVERT", "PREPROCESS", "ConvertSettings", "PreprocessSettings", "WrittenCube"]

_WRITER = Param("str", None, allow_none=True, doc="writer name, when the suffix is not enough (e.g. hdf5-cube)")


def _steps(value, name, func) -> list[dict]:
    return Chain(value).to_list()


class ConvertSettings(Settings):
    """The settings of ``chemmap convert``: the ``[convert]`` table."""

    SECTION = "convert"
    PARAMS: ClassVar[dict[str, Param]] = {"to": _WRITER}


class PreprocessSettings(Settings):
    """The settings of ``chemmap preprocess``: the ``[[preprocessing]]`` steps (see
    :mod:`chemmap.preprocessing`) and the ``[preprocess]`` table."""

    SECTION = "preprocess"
    LISTS = ("preprocessing",)
    PARAMS: ClassVar[dict[str, Param]] = {
        "preprocessing": Param("any", [], check=_steps, doc="the steps, in order"),
        "chain": Param(
            "str",
            None,
            allow_none=True,
            file=True,
            doc="chain file (.toml or .json with a 'preprocessing' list) to apply instead",
        ),
        "save_chain": Param(
            "str", None, allow_none=True, file=True, doc="write the fitted (frozen) chain here (.toml or .json)"
        ),
        "to": _WRITER,
    }


@dataclass
class WrittenCube:
    """The cube a file workflow writes, and the chain that made it (empty for ``convert``)."""

    cube: Cube
    chain: Chain
    settings: Settings
    out_dir: Path | None = None


def execute_preprocess(cube: Cube, settings: PreprocessSettings, session: Session) -> WrittenCube:
    """Fit the chain (``settings.chain`` when given, else the steps) and apply it to ``cube``
    (lazily for a lazy cube)."""
    chain = Chain.load(settings.chain) if settings.chain is not None else Chain(settings.preprocessing)
    with session.timer.stage("preprocess"):
        processed = chain.fit_transform(cube, progress=session.progress)
    return WrittenCube(processed, chain, settings)


def write_cube(result: WrittenCube, target: Path, session: Session) -> None:
    """The cube into ``target`` (the writer from ``to`` or the suffix; written atomically, a
    lazy cube block by block), and the frozen chain where ``save_chain`` asks."""
    from chemmap.io import write

    write(result.cube, target, format=result.settings.to)
    save_chain = getattr(result.settings, "save_chain", None)
    if save_chain is not None:
        result.chain.save(save_chain)


def summary_preprocess(result: WrittenCube) -> str:
    steps = [item["step"] for item in result.chain.to_list()]
    return f"wrote {result.out_dir} ({len(steps)} steps: {', '.join(steps) or 'none'})"


def summary_convert(result: WrittenCube) -> str:
    cube = result.cube
    h, w = cube.image_shape
    return f"wrote {result.out_dir} ({h} x {w} pixels x {cube.n_channels} channels, {cube.axis.unit})"


PREPROCESS = Workflow(
    command="preprocess",
    help="apply a preprocessing chain to a file and write the processed cube",
    settings=PreprocessSettings,
    execute=execute_preprocess,
    write=write_cube,
    summary=summary_preprocess,
    output="file",
    input_help="data file, or a .toml config (its [input], [[preprocessing]] and [preprocess])",
)
CONVERT = Workflow(
    command="convert",
    help="read any supported file and write it in another format",
    settings=ConvertSettings,
    execute=lambda cube, settings, session: WrittenCube(cube, Chain([]), settings),
    write=write_cube,
    summary=summary_convert,
    output="file",
    input_help="file (or Zarr folder) to read, or a .toml config",
)
