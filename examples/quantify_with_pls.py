"""Quantitative maps trained only from per-sample mean references: PLS calibrated on the
samples' mean spectra and on their pixels, compared on held-out samples whose per-pixel truth
is known (synthetic fat/lean tissue). The U-Nets need the ``deep`` extra; add them with
``models=("pls-mean", "pls-pixels", "unet")``.

    python examples/quantify_with_pls.py [OUT_DIR]
"""

import sys
from pathlib import Path

from chemmap.datasets import make_tissue_samples, write_tissue_benchmark
from chemmap.workflows.quantify import QuantifySettings, run_compare

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example_output/quantify")
manifest = write_tissue_benchmark(out / "samples", make_tissue_samples(12, image_shape=(16, 20), random_state=0))
comparison = run_compare(manifest, out / "comparison", QuantifySettings(models=("pls-mean", "pls-pixels"))).comparison
for name, scores in comparison.items():
    print(f"{name:11} RMSE of the means {scores['rmse_mean']:.2f} %, per-pixel RMSE {scores['pixel_rmse']:.2f} %")
print(f"outputs in {out / 'comparison'}: comparison.json, maps.png, report.md, samples/*.html")
