"""Peak maps of a macro-XRF scan: find the peaks, map each one, name the elements, on a
synthetic painting-like scan whose elements are known (Ca ground, Fe, Pb, Cu regions, a weak
Zn region, brass speckles).

    python examples/peak_maps_xrf.py [OUT_DIR]
"""

import sys

from chemmap.datasets import make_xrf_cube
from chemmap.workflows.peaks import run_peaks

out = sys.argv[1] if len(sys.argv) > 1 else "example_output/peak_maps_xrf"
scene = make_xrf_cube((32, 48), random_state=0)
result = run_peaks(scene.cube, out)
confident = sorted({e["element"] for e in result.identification["elements"] if e["confidence"] >= 0.9})
print(f"{len(result.peaks)} peaks; elements named with confidence >= 0.9: {', '.join(confident)}")
print(f"elements in the scene: {', '.join(sorted(scene.element_maps))}")
print(f"outputs in {out}: peaks.json, peak_areas.npy, peak_maps.png, report.html")
