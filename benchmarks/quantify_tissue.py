"""PLS baselines against the paper-mode and improved U-Nets on the synthetic tissue benchmark.

Writes ``make_tissue_samples`` (default: 40 samples of 40 x 48 pixels x 100 channels, seeded)
as a sample set, runs ``chemmap quantify compare`` on it (the same 30 training and 10 test
samples for every model) and prints, per model, the RMSE, bias and slope of the test means,
the out-of-range share, the spatially correlated variance fraction, the per-pixel RMSE and
correlation against the truth, the training seconds, and the ratios the issue sets
(improved U-Net against PLS on means). Example::

    python benchmarks/quantify_tissue.py --out /tmp/quantify_bench
    python benchmarks/quantify_tissue.py --interferent-level 0   # linear fat / lean mixtures only

The paper's U-Net (64-1024 channels, 250 epochs) is far beyond a 2-core CPU in minutes, so
both U-Nets here use ``--widths`` (default 16,32,64,128) and ``--epochs`` (default 60); the
paper mode keeps its other settings (valid convolutions, linear output, squared smoothness
20, Adam, plateau schedule).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--interferent-level", type=float, default=0.1)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--models", default="pls-mean,pls-pixels,unet-paper,unet")
    parser.add_argument("--widths", default="16,32,64,128")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from chemmap.datasets import make_tissue_samples, write_tissue_benchmark
    from chemmap.workflows.quantify import COMPARISON_KEYS, QuantifySettings, run_compare
    from chemmap.workflows.session import SessionOptions

    out = args.out or Path(tempfile.mkdtemp(prefix="quantify_bench_"))
    samples = make_tissue_samples(
        args.samples, noise=args.noise, interferent_level=args.interferent_level, random_state=args.seed
    )
    manifest = write_tissue_benchmark(out / "samples", samples)
    settings = QuantifySettings(
        models=tuple(args.models.split(",")),
        widths=tuple(int(w) for w in args.widths.split(",")),
        epochs=args.epochs,
        device="cpu",
        random_state=args.seed,
    )

    def progress(stage: str, done: int, total: int) -> None:
        if done == total:
            print(f"  {stage}: done", flush=True)

    comparison = run_compare(manifest, out / "compare", settings, session=SessionOptions(progress=progress)).comparison
    keys = COMPARISON_KEYS
    print(f"\n{'model':12s} " + " ".join(f"{k[:14]:>14s}" for k in keys) + f" {'fit s':>8s}")
    for name, scores in comparison.items():
        cells = " ".join(f"{scores[k]:14.4f}" if scores[k] is not None else f"{'n/a':>14s}" for k in keys)
        print(f"{name:12s} {cells} {scores['fit_seconds']:8.1f}")
    if "unet" in comparison and "pls-mean" in comparison:
        unet, pls = comparison["unet"], comparison["pls-mean"]
        print(
            f"\nimproved U-Net / PLS (mean calibration): RMSE of the mean x{unet['rmse_mean'] / pls['rmse_mean']:.2f}, "
            f"per-pixel RMSE x{unet['pixel_rmse'] / pls['pixel_rmse']:.2f}"
        )
    print(json.dumps({"out": str(out / "compare")}))


if __name__ == "__main__":
    main()
