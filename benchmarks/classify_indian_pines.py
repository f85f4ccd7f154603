"""Indian Pines (145 x 145 x 200, 16 classes): every pixel classifier trained on about
10 % of the labelled pixels taken as whole spatial blocks, scored on the pixels of the other
blocks, with and without Potts smoothing of the labels.

Usage: python benchmarks/classify_indian_pines.py [--data ../shared/data/indian_pines] [--buffer 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from chemmap.datasets.benchmarks import load_indian_pines
from chemmap.supervised.classify import CLASSIFIERS, classify_pixels

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "indian_pines"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--buffer", type=int, default=0, help="test pixels this close to training blocks are dropped")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cube = load_indian_pines(args.data)
    header = ("classifier", "train", "test", "OA", "kappa", "OA+Potts", "kappa+Potts", "s")
    print("{:10s} {:>6s} {:>6s} {:>6s} {:>6s} {:>9s} {:>12s} {:>6s}".format(*header))
    for method in CLASSIFIERS:
        start = time.perf_counter()
        result = classify_pixels(cube, cube.labels, method=method, buffer=args.buffer, random_state=args.seed)
        seconds = time.perf_counter() - start
        split, plain, smooth = result.report["split"], result.report["test"], result.report["test_smoothed"]
        print(
            f"{method:10s} {split['n_train_pixels']:6d} {plain['n_test_pixels']:6d} {plain['overall_accuracy']:6.3f} "
            f"{plain['kappa']:6.3f} {smooth['overall_accuracy']:9.3f} {smooth['kappa']:12.3f} {seconds:6.1f}"
        )
    print(f"training share of labelled pixels: {split['train_fraction']:.3f}; block size {split['block_size']} px")


if __name__ == "__main__":
    main()
