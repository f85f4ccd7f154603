"""What the segmentation red flags (stability refits, spatial coherence) cost in a whole run.

Times ``chemmap run`` on a synthetic cube (5 regions) with the stability check on (3 refits,
the default) and off (``--stability-runs 0``), each in a fresh process, and times the spatial
coherence of the label image on its own. The target: the checks add at most 20 % to a run.

    python benchmarks/red_flags_cost.py --shape 1024,1024,256     # 1 GiB of float32
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="512,512,256", help="height,width,channels")
    args = parser.parse_args()
    h, w, c = (int(v) for v in args.shape.split(","))

    from chemmap.datasets import make_regions_cube
    from chemmap.metrics.stability import spatial_coherence

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        cube = make_regions_cube(image_shape=(h, w), n_channels=c, n_regions=5, snr=20, random_state=0)
        np.save(folder / "cube.npy", np.asarray(cube.data, dtype=np.float32))  # written fast, read memory-mapped
        del cube
        rows = {}
        for name, extra in (("red flags on", []), ("red flags off", ["--stability-runs", "0"])):
            out = folder / name.replace(" ", "_")
            command = [sys.executable, "-m", "chemmap", "run", str(folder / "cube.npy"), "--clusters", "5"]
            start = time.perf_counter()
            subprocess.run([*command, "--out", str(out), "--quiet", *extra], check=True)
            rows[name] = time.perf_counter() - start
            if name == "red flags on":
                stability = json.loads((out / "metrics.json").read_text())["clustering"]["stability"]
        labels = np.load(folder / "red_flags_on" / "cluster_labels.npy")
        start = time.perf_counter()
        spatial_coherence(labels)
        spatial = time.perf_counter() - start
    on, off = rows["red flags on"], rows["red flags off"]
    print(f"cube {h} x {w} x {c} ({h * w * c * 4 / 2**30:.2f} GiB float32)")
    print(f"chemmap run, red flags on : {on:.1f} s (stability min ARI {stability['min_ari']:.3f})")
    print(f"chemmap run, red flags off: {off:.1f} s")
    print(f"stability refits: {on - off:+.2f} s = {100 * (on - off) / off:+.1f} % of the run")
    print(f"spatial coherence of the label image: {spatial:.3f} s = {100 * spatial / off:.1f} % of the run")


if __name__ == "__main__":
    main()
