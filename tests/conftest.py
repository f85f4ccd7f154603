"""Shared fixtures: demo cubes written to real files, and the shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from chemmap.datasets import make_demo_cube
from chemmap.io import write

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def demo_cube():
    return make_demo_cube()


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory, demo_cube) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.csv"
    write(demo_cube, path, label_column="region")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATA}; it ships beside the repository as ../shared/data")
    return SHARED_DATA


@pytest.fixture
def real_file(shared_data):
    """``real_file(name)``: the path of ``shared_data/real_files/name``; skips when it is absent."""

    def path_of(name: str) -> Path:
        path = shared_data / "real_files" / name
        if not path.exists():
            pytest.skip(f"{name} is not in {shared_data / 'real_files'}")
        return path

    return path_of
