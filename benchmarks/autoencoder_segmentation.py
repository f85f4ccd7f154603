"""Latent-space segmentation by the spectral autoencoder against PCA + k-means, on real scenes.

For each scene (Indian Pines: 16 labelled classes, evaluated on the labelled pixels; Samson:
soil / tree / water, the label of each pixel being its most abundant material) this prints,
all measured in the same run with the same k (the true number of classes):

- PCA (``latent_dim`` components) + k-means: chemmap's ``PixelClusterer``;
- PCA + Gaussian mixture on the same components (the same clusterer as the latent one);
- the autoencoder's latent features + Gaussian mixture;
- the same with the spatial options (pixel coordinates with ``--spatial-weight`` and Potts
  smoothing ``--smoothing``), and PCA + Gaussian mixture with the same spatial options;

each with ARI and NMI against the labels and its seconds, over ``--seeds`` seeds (mean and
range). Example::

    python benchmarks/autoencoder_segmentation.py --data ../shared/data --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def scenes(data: Path):
    from chemmap.core.cube import Cube
    from chemmap.datasets.benchmarks import load_indian_pines, load_samson

    ip = data / "indian_pines"
    if ip.is_dir():
        cube = load_indian_pines(ip)
        cube = Cube(np.asarray(cube.data, np.float32), cube.axis, labels=cube.labels, label_names=cube.label_names)
        yield "indian_pines", cube, np.where(cube.labels > 0, cube.labels - 1, -1)
    samson = data / "samson"
    if samson.is_dir():
        scene = load_samson(samson)
        truth = np.argmax(np.asarray(scene.abundances.data), axis=2)
        yield "samson", scene.cube, truth


def scores(truth: np.ndarray, labels: np.ndarray) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    keep = truth.reshape(-1) >= 0
    t, p = truth.reshape(-1)[keep], labels.reshape(-1)[keep]
    return {"ari": adjusted_rand_score(t, p), "nmi": normalized_mutual_info_score(t, p)}


def run_scene(cube, truth, k: int, seed: int, args) -> dict:
    from chemmap.cluster import PixelClusterer
    from chemmap.decomposition.pca import StreamingPCA
    from chemmap.deep.autoencoder.inference import autoencode
    from chemmap.deep.autoencoder.training import train_autoencoder

    out = {}
    t = time.perf_counter()
    baseline = PixelClusterer("kmeans", k, features="pca", n_components=args.latent_dim, random_state=seed).fit(cube)
    out["pca + k-means"] = {**scores(truth, baseline.label_image_), "seconds": time.perf_counter() - t}

    t = time.perf_counter()
    pcs = np.asarray(StreamingPCA(args.latent_dim, random_state=seed).fit(cube).transform(cube).data)
    out.update(gmm_runs("pca", pcs, truth, k, seed, args, time.perf_counter() - t))

    t = time.perf_counter()
    trained = train_autoencoder(cube, latent_dim=args.latent_dim, epochs=args.epochs, random_state=seed)
    latent = np.asarray(autoencode(trained, cube)[1].data)
    out.update(gmm_runs("latent", latent, truth, k, seed, args, time.perf_counter() - t))
    out["latent + gmm"]["epochs"] = len(trained.history)
    return out


def gmm_runs(name: str, features: np.ndarray, truth, k: int, seed: int, args, seconds: float) -> dict:
    """Gaussian mixture on ``features`` without and with the spatial options."""
    from chemmap.cluster.spatial import segment_feature_image

    out = {}
    spatial = {"spatial_weight": args.spatial_weight, "smoothing": args.smoothing}
    for suffix, options in (("", {}), (" + spatial", spatial)):
        t = time.perf_counter()
        seg = segment_feature_image(features, k=k, random_state=seed, **options)
        out[f"{name} + gmm{suffix}"] = {**scores(truth, seg.labels), "seconds": seconds + time.perf_counter() - t}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--spatial-weight", type=float, default=0.5)
    parser.add_argument("--smoothing", type=float, default=1.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    found = False
    for name, cube, truth in scenes(args.data):
        found = True
        k = int(truth.max()) + 1
        runs = [run_scene(cube, truth, k, seed, args) for seed in seeds]
        results[name] = {"k": k, "shape": list(cube.shape), "runs": runs}
        print(f"\n{name}: {cube.shape}, k = {k}, seeds {seeds}")
        print(f"{'method':28s} {'ARI mean [min, max]':>24s} {'NMI mean [min, max]':>24s} {'seconds':>8s}")
        for method in runs[0]:
            line = f"{method:28s}"
            for metric in ("ari", "nmi"):
                values = np.array([r[method][metric] for r in runs])
                line += f" {values.mean():>8.3f} [{values.min():.3f}, {values.max():.3f}]"
            line += f" {np.mean([r[method]['seconds'] for r in runs]):>8.1f}"
            print(line)
    if not found:
        raise SystemExit(f"No benchmark scene under {args.data} (indian_pines/, samson/).")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
