"""Samson (95 x 95 x 156, 3 endmembers): every endmember extractor with FCLS and scaled
abundances, MCR-ALS from each initialiser, and NMF; mean abundance RMSE and spectral angle
against the ground truth (Hungarian matching), with timings.

Usage: python benchmarks/unmix_samson.py [--data ../shared/data/samson]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from chemmap.datasets.benchmarks import SAMSON_MATERIALS, load_samson
from chemmap.decomposition import MCRALS, abundance_maps, count_components, extract_endmembers, nmf_maps
from chemmap.metrics.unmixing import unmixing_scores

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "samson"


def fractions(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / x.sum(axis=2, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    scene = load_samson(args.data)
    truth = np.asarray(scene.abundances.data)
    count = count_components(scene.cube)
    print(f"component count: noise-whitened {count.whitened}, HySime {count.hysime}, 99 % variance {count.scree}")
    print(f"{'method':28s} {'RMSE':>6s} {'SAD':>6s} {'max SAD':>7s} {'s':>6s}")

    def report(name, spectra, maps, seconds):
        s = unmixing_scores(
            spectra, maps, true_spectra=scene.endmembers, true_abundances=truth, names=list(SAMSON_MATERIALS)
        )
        worst = max(s["spectral_angle"].values())
        print(f"{name:28s} {s['mean_abundance_rmse']:6.3f} {s['mean_spectral_angle']:6.3f} {worst:7.3f} {seconds:6.2f}")

    for extractor in ("vca", "nfindr", "atgp", "ppi", "smacc"):
        for solver in ("fcls", "scaled"):
            for spatial in (None, "tv"):
                start = time.perf_counter()
                found = extract_endmembers(scene.cube, 3, method=extractor)
                maps = abundance_maps(scene.cube, found.spectra, method=solver, residual=False, spatial=spatial)
                seconds = time.perf_counter() - start
                label = f"{extractor}+{solver}" + (f" ({spatial})" if spatial else "")
                report(label, found.spectra, np.asarray(maps.data), seconds)
    for init in ("vca", "nfindr", "simplisma"):
        start = time.perf_counter()
        result = MCRALS(3, init=init).fit(scene.cube).result_
        seconds = time.perf_counter() - start
        report(f"mcr-als ({init}, {result.n_iter} it)", result.spectra, fractions(result.concentrations), seconds)
    start = time.perf_counter()
    result = nmf_maps(scene.cube, 3)
    seconds = time.perf_counter() - start
    weighted = result.maps * np.linalg.norm(result.spectra, axis=1)
    report("nmf", result.spectra, fractions(weighted), seconds)


if __name__ == "__main__":
    main()
