"""Map a cube: a band intensity map, a band ratio map, a segmentation and the report, on the
built-in 30 x 30 demo image (three regions with known bands).

    python examples/map_a_cube.py [OUT_DIR]
"""

import sys

import numpy as np

import chemmap
from chemmap.datasets import make_demo_cube

out = sys.argv[1] if len(sys.argv) > 1 else "example_output/map_a_cube"
cube = make_demo_cube()  # 30 x 30 pixels, 200 channels, 600-1800 cm-1, regions as labels
config = {
    "maps": {"intensity": [1655.0], "ratio": [[1655.0, 1742.0]]},
    "clustering": {"k": "auto"},
}
result = chemmap.run_cube(cube, config, out)
clustering = result.metrics["clustering"]
print(f"k = {clustering['k']} ({clustering['method']}), ARI against the demo's regions = {clustering['ari']:.3f}")
for name in [n for n in result.maps.map_names if not n.startswith("cluster_")]:
    print(f"{name}: median {float(np.nanmedian(result.maps[name])):.3g}")
print(f"outputs in {out}: report.md, report.html, maps.npz, metrics.json and the figures")
