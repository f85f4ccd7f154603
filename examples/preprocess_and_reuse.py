"""Preprocess one cube, save the frozen chain, and process a second cube identically
(multiplicative scatter correction learns its reference on the first cube only).

    python examples/preprocess_and_reuse.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np

from chemmap.datasets import make_demo_cube
from chemmap.preprocessing import Chain

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example_output/preprocess")
out.mkdir(parents=True, exist_ok=True)
first, second = make_demo_cube(random_state=0), make_demo_cube(random_state=1)
chain = Chain(
    [
        {"step": "crop", "lower": 1000, "upper": 1800},
        {"step": "baseline", "method": "asls"},
        {"step": "savgol", "window": 25.0},
        {"step": "normalize", "method": "msc"},
    ]
)
processed = chain.fit_transform(first)
chain.save(out / "chain.toml")  # the MSC reference is frozen into the file
again = Chain.load(out / "chain.toml").transform(second)
print(
    f"first cube: {processed.shape}, second cube: {again.shape}, axis {again.axis.values[0]:g}-"
    f"{again.axis.values[-1]:g} {again.axis.unit}"
)
print(
    "the same chain on the first cube reproduces it:",
    np.allclose(Chain.load(out / "chain.toml").transform(first).data, processed.data, atol=1e-5),
)
print(f"chain written to {out / 'chain.toml'}")
