"""Convert a cube between formats and check nothing was lost: the demo written as ENVI,
HDF5 and Zarr, each read back and compared (data, spectral axis and unit).

    python examples/convert_formats.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np

import chemmap
from chemmap.datasets import make_demo_cube

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example_output/convert")
out.mkdir(parents=True, exist_ok=True)
cube = make_demo_cube()
for name in ("demo.hdr", "demo.h5", "demo.zarr"):
    chemmap.write(cube, out / name)
    back = chemmap.read(out / name)
    same = np.array_equal(np.asarray(back.data), np.asarray(cube.data)) and np.allclose(
        back.axis.values, cube.axis.values
    )
    print(f"{name:10} {back.shape} {back.axis.unit}: {'identical' if same else 'DIFFERENT'}")
