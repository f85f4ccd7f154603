"""Streaming benchmark of ``chemmap autoencoder`` on a cube on disk larger than its memory limit.

Writes (once, under --data-dir) a synthetic float32 Zarr cube of --shape with ground truth
(``make_large_cube``: warped regions, scatter, noise), then measures in this run, each in a
fresh process:

- a plain pass over the store (sum spectrum through chemmap's lazy reader, same memory limit);
- ``chemmap autoencoder STORE --out DIR --read-option lazy=true --memory-limit LIMIT
  --epochs N --clusters K``: training streamed in bands of rows, one pass denoising and
  encoding every pixel (the denoised cube written to a .npy on disk), the latent segmentation;

and prints the times, the run's stages, each process's peak RSS, and the ARI of the latent
segmentation against the truth. Example::

    python benchmarks/autoencoder_stream.py --shape 2048,2048,200 --memory-limit 1GiB --epochs 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _child import timed_child

K = 5


def ensure_store(shape: tuple[int, int, int], data_dir: Path) -> Path:
    from chemmap.datasets.synthetic import make_large_cube
    from chemmap.io import write

    h, w, c = shape
    path = data_dir / f"ae_{h}x{w}x{c}.zarr"
    if not path.exists():
        t = time.perf_counter()
        cube = make_large_cube((h, w), n_channels=c, n_regions=K, snr=10, random_state=0)
        write(cube, path)
        np.save(data_dir / f"ae_{h}x{w}x{c}_labels.npy", cube.labels)
        print(f"# wrote {path} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return path


def plain_pass(path: Path, memory_limit: str) -> dict:
    import chemmap
    from chemmap.io import read

    with chemmap.compute_settings("threads", memory_limit=memory_limit):
        t = time.perf_counter()
        read(path, lazy=True).data.sum(axis=(0, 1), dtype=np.float64).compute()
    return {"pass_seconds": time.perf_counter() - t}


def main() -> None:
    from sklearn.metrics import adjusted_rand_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="2048,2048,200", help="height,width,channels")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "chemmap-bench")
    parser.add_argument("--memory-limit", default="1GiB")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain is not None:
        print(json.dumps(plain_pass(args.plain, args.memory_limit)))
        return
    shape = tuple(int(v) for v in args.shape.split(","))
    args.data_dir.mkdir(parents=True, exist_ok=True)
    path = ensure_store(shape, args.data_dir)
    size_gib = np.prod(shape) * 4 / 2**30
    plain = timed_child([sys.executable, __file__, "--plain", str(path), "--memory-limit", args.memory_limit])
    plain.update(json.loads(plain.pop("stdout")))
    out = args.data_dir / "ae_out"
    command = [sys.executable, "-m", "chemmap", "autoencoder", str(path), "--out", str(out)]
    command += ["--read-option", "lazy=true", "--memory-limit", args.memory_limit, "--epochs", str(args.epochs)]
    command += ["--clusters", str(K), "--device", "cpu", "--quiet"]
    run = timed_child(command)
    record = json.loads((out / "run_record.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    truth = np.load(args.data_dir / f"ae_{shape[0]}x{shape[1]}x{shape[2]}_labels.npy")
    ari = adjusted_rand_score(truth.ravel(), np.load(out / "cluster_map.npy").ravel())
    stages = record["timings"]["seconds"]
    print(f"store: {path} ({shape[0]} x {shape[1]} x {shape[2]} float32, {size_gib:.2f} GiB)")
    print(f"memory limit: {args.memory_limit}; epochs: {args.epochs}")
    print(f"plain pass (sum spectrum): {plain['pass_seconds']:.1f} s, peak RSS {plain['peak_rss_gib']:.2f} GiB")
    print(f"chemmap autoencoder: {run['seconds']:.1f} s in all, peak RSS {run['peak_rss_gib']:.2f} GiB")
    print(f"  stages (s): {stages}")
    ratio = stages["inference"] / plain["pass_seconds"]
    print(f"  inference pass (denoise + encode + write): {ratio:.1f} x the plain pass")
    training = metrics["training"]
    print(f"  epochs run {training['epochs_run']}, batch {training['settings']['batch_size_used']}")
    print(f"  reconstruction RMSE {metrics['reconstruction']['rmse']:.4g}; latent GMM ARI vs truth {ari:.3f}")


if __name__ == "__main__":
    main()
