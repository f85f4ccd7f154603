"""Segmentation methods on real labelled scenes and on scenes that punish over-smoothing.

Scenes: Indian Pines (16 classes, labelled pixels only), Samson (the majority material of its
abundances), and four synthetic traps: one-pixel lines, a fine 2 x 2 checkerboard, mixed
pixels along soft region borders (the column of exact 50/50 mixtures, which has no majority
material, is not scored), and per-pixel brightness changes (x 0.6-1.4). The Raman
bladder map (``real_files/csv/bladder.csv.xz``) is listed but holds one class only, so it
cannot score a segmentation.

Methods, all with k = the true number of classes and the same seed:

- ``pca + k-means``: ``chemmap run --method kmeans`` (``PixelClusterer``, 10 PCA components);
- ``pca + gmm``: the same components, a full-covariance Gaussian mixture;
- ``spectral-spatial``: ``chemmap run``'s default, ``chemmap.cluster.spectral_spatial`` (MNF
  with k components or fewer, edge-preserving smoothing, Gaussian mixture, mixed pixels to
  their majority class, Potts prior with beta from the pseudo-likelihood);
- ``spectral-spatial, no smoothing``: the same without the smoothing step.

For each: ARI, NMI, pixel accuracy and mean IoU (Hungarian matching), and seconds; with
``--auto``, the k that PCA + k-means and spectral-spatial choose themselves (silhouette over
k = 2-20, on k-means partitions of each method's features) and their scores. Example::

    python benchmarks/segmentation_real.py --data ../shared/data --seeds 0,1 --auto
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _spectra(n_classes: int, n_channels: int, rng) -> np.ndarray:
    """Smooth positive spectra, one per class, each with two bands of its own."""
    x = np.linspace(0.0, 1.0, n_channels)
    base = 1.0 + 0.3 * np.sin(2 * np.pi * x)
    out = []
    for _ in range(n_classes):
        centres = rng.uniform(0.1, 0.9, 2)
        out.append(base + sum(0.6 * np.exp(-0.5 * ((x - c) / 0.03) ** 2) for c in centres))
    return np.array(out)


def synthetic_scenes(seed: int):
    """The over-smoothing traps: (name, image, truth, k)."""
    rng = np.random.default_rng(seed)
    h, w, c = 60, 60, 80
    spectra = _spectra(3, c, rng)
    rows, cols = np.mgrid[0:h, 0:w]

    lines = np.zeros((h, w), int)
    lines[:, 3::6] = 1  # one-pixel lines of class 1
    lines[5::12, :] = 2  # and of class 2 across them
    checker = ((rows // 2 + cols // 2) % 2).astype(int)
    regions = (cols >= w // 2).astype(int) + (rows >= h // 2).astype(int) * (cols >= w // 2)
    for name, truth in (("one-pixel lines", lines), ("2x2 checkerboard", checker)):
        image = spectra[truth] + rng.normal(0, 0.08, (h, w, c))
        yield name, image, truth, int(truth.max()) + 1
    # mixed pixels: a linear ramp of abundance across each border, 8 pixels wide
    ramp = np.clip((cols - (w // 2 - 4)) / 8.0, 0, 1)[..., None]
    mixed = (1 - ramp) * spectra[0] + ramp * spectra[1]
    # the majority material; the column of exact 50/50 mixtures has none and is not scored
    mixed_truth = np.where(ramp[..., 0] == 0.5, -1, (ramp[..., 0] > 0.5).astype(int))
    yield "mixed borders", mixed + rng.normal(0, 0.08, (h, w, c)), mixed_truth, 2
    scale = rng.uniform(0.6, 1.4, (h, w, 1))
    yield "brightness x0.6-1.4", scale * spectra[regions] + rng.normal(0, 0.08, (h, w, c)), regions, 3


def real_scenes(data: Path):
    from chemmap.datasets.benchmarks import load_indian_pines, load_samson

    ip = data / "indian_pines"
    if ip.is_dir():
        cube = load_indian_pines(ip)
        yield "Indian Pines", np.asarray(cube.data, np.float64), np.asarray(cube.labels), len(cube.label_names)
    samson = data / "samson"
    if samson.is_dir():
        scene = load_samson(samson)
        yield "Samson", np.asarray(scene.cube.data, np.float64), np.argmax(np.asarray(scene.abundances.data), 2), 3


def scores(truth: np.ndarray, labels: np.ndarray) -> dict:
    from chemmap.metrics.clustering import external_scores

    names = {int(v): str(v) for v in np.unique(truth[truth >= 0])}
    found = external_scores(truth, labels, names)
    return {key: found[key] for key in ("ari", "nmi", "pixel_accuracy", "mean_iou")}


def methods(image: np.ndarray, k: int, seed: int):
    from chemmap.cluster import PixelClusterer
    from chemmap.cluster.spectral_spatial import spectral_spatial_segmentation
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube

    cube = Cube(image.astype(np.float32), SpectralAxis(np.arange(image.shape[2], dtype=float), "channel"))
    yield (
        "pca + k-means",
        lambda: PixelClusterer("kmeans", k, n_components=10, random_state=seed).fit(cube).label_image_,
    )
    yield "pca + gmm", lambda: PixelClusterer("gmm", k, n_components=10, random_state=seed).fit(cube).label_image_
    yield "spectral-spatial", lambda: spectral_spatial_segmentation(image, k, random_state=seed).labels
    yield (
        "spectral-spatial, no smoothing",
        lambda: spectral_spatial_segmentation(image, k, smoothing=0, random_state=seed).labels,
    )


def auto_k(image: np.ndarray, seed: int):
    """``(method, chosen k, labels)`` with k chosen automatically (k = 2-20, silhouette)."""
    from chemmap.cluster import PixelClusterer
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube

    cube = Cube(image.astype(np.float32), SpectralAxis(np.arange(image.shape[2], dtype=float), "channel"))
    for name, est in (
        (
            "pca + k-means, k auto",
            PixelClusterer("kmeans", "auto", n_components=10, k_range=(2, 20), random_state=seed),
        ),
        ("spectral-spatial, k auto", SpectralSpatialClusterer("auto", k_range=(2, 20), random_state=seed)),
    ):
        fitted = est.fit(cube)
        yield name, fitted.k_, fitted.label_image_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--auto", action="store_true", help="also choose k automatically (k = 2-20)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    scenes = list(real_scenes(args.data)) + list(synthetic_scenes(0))
    print(f"{'scene':22} {'method':32} {'ARI':>6} {'NMI':>6} {'acc':>6} {'mIoU':>6} {'s':>6}")
    for name, image, truth, k in scenes:
        for method in [m for m, _ in methods(image, k, seeds[0])]:
            rows = []
            for seed in seeds:
                start = time.perf_counter()
                labels = dict(methods(image, k, seed))[method]()
                rows.append({**scores(truth, labels), "seconds": time.perf_counter() - start})
            mean = {key: np.mean([r[key] for r in rows]) for key in rows[0]}
            print(
                f"{name:22} {method:32} {mean['ari']:6.3f} {mean['nmi']:6.3f} {mean['pixel_accuracy']:6.3f} "
                f"{mean['mean_iou']:6.3f} {mean['seconds']:6.1f}"
            )
            sys.stdout.flush()
        if args.auto:
            for seed in seeds:
                for method, k_chosen, labels in auto_k(image, seed):
                    found = scores(truth, labels)
                    print(
                        f"{name:22} {method:32} {found['ari']:6.3f} {found['nmi']:6.3f}  k = {k_chosen} (seed {seed})"
                    )
                    sys.stdout.flush()


if __name__ == "__main__":
    main()
