"""Scaling benchmark: chemmap's clustering pipeline against a plain pass and scikit-learn.

For each cube size (synthetic, with ground truth, written once to Zarr under --data-dir)
this prints, all measured in the same run on this machine:

- the plain-pass time (sum over channels: the memory / disk bandwidth floor), in memory
  for cubes up to --in-memory-max and from the Zarr store for all;
- chemmap's pipeline time: intensity + ratio maps, PCA to 10 components, k-means k=5,
  label map and maps written to Zarr (public API only, see ``chemmap_pipeline``);
- the scikit-learn path on cubes that fit in memory: ``PCA(10, svd_solver="randomized")``
  + ``KMeans(5)`` on the flat array;
- their ratios, the ARI of both against the truth, chemmap's peak RSS;
- with --cluster-check, a ``LocalCluster`` (2 workers) run of one size compared with the
  threaded run (ARI of the labels, largest map difference);
- with --spectral-spatial, the same pipeline with ``SpectralSpatialClusterer`` (MNF by
  blocks of rows, the spatial steps on the feature image) in place of PCA + k-means, from
  the Zarr store: its time, ratio to PCA + k-means, ARI and peak RSS.

Each case runs in a fresh process so its peak RSS is its own. Example::

    python benchmarks/scale.py --sizes 64MiB,256MiB,1GiB,2GiB,4GiB,8GiB --memory-limit 2GiB \\
        --data-dir /tmp/chemmap-bench --cluster-check 1GiB
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_CHANNELS = 256
K = 5
N_COMPONENTS = 10


def shape_for(nbytes: int) -> tuple[int, int]:
    """A (height, width) with 256 float32 channels holding ``nbytes``; width = 2 x height at most."""
    pixels = nbytes // (N_CHANNELS * 4)
    side = int(np.sqrt(pixels))
    h = 2 ** int(np.floor(np.log2(side)))
    return h, pixels // h


def ensure_cube(size: str, data_dir: Path) -> Path:
    """Write the synthetic cube of ``size`` to ``data_dir`` once; return the store path."""
    from chemmap._shared.compute import parse_memory
    from chemmap.datasets.synthetic import make_large_cube
    from chemmap.io import write

    path = data_dir / f"cube_{size}.zarr"
    if not path.exists():
        t = time.perf_counter()
        cube = make_large_cube(shape_for(parse_memory(size)), n_channels=N_CHANNELS, n_regions=K, random_state=0)
        write(cube, path)
        print(f"# wrote {path} ({cube.shape}) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return path


def band_choice(cube) -> tuple[float, float]:
    """The two strongest bands of the first rows' mean spectrum (ratio map bands)."""
    first = np.asarray(cube.data[: max(1, cube.shape[0] // 64)]).reshape(-1, cube.n_channels).mean(axis=0)
    top = np.argsort(first)[::-1]
    second = next(i for i in top if abs(i - top[0]) > 10)
    return float(cube.axis.values[top[0]]), float(cube.axis.values[second])


def chemmap_pipeline(cube, out_dir: Path, bands: tuple[float, float], method: str = "kmeans") -> np.ndarray:
    """The measured pipeline, with chemmap's public API; returns the label image."""
    from chemmap import Cube
    from chemmap.cluster import PixelClusterer
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.maps import intensity_map, ratio_map
    from chemmap.workflows.staging import write_zarr_outputs

    parts = [intensity_map(cube, bands[0], window=12.0), ratio_map(cube, bands[1], bands[0], window=12.0)]
    maps = Cube.from_maps({n: p.data[..., 0] for p in parts for n in p.map_names})
    if method == "spectral-spatial":
        est = SpectralSpatialClusterer(K, n_components=N_COMPONENTS, random_state=0)
    else:
        est = PixelClusterer("kmeans", k=K, features="pca", n_components=N_COMPONENTS, random_state=0)
    est.fit(cube, compute_with=[maps.data])  # maps computed in the pass that projects the pixels
    write_zarr_outputs(est.label_image_, maps.replace(data=est.computed_with_[0]), out_dir)
    return est.label_image_


def run_case(case: str, store: Path, memory_limit: str, out: Path) -> dict:
    """One measurement, in this process."""
    from sklearn.metrics import adjusted_rand_score

    import chemmap.cluster
    import chemmap.maps
    import chemmap.workflows.staging  # noqa: F401  (imports are not part of the timings)
    from chemmap._shared.compute import compute_settings
    from chemmap.io import read

    lazy = read(store)
    truth = lazy.labels.reshape(-1)
    bands = band_choice(lazy)
    cluster = "local:2" if case == "chemmap-cluster" else None
    with compute_settings(memory_limit=memory_limit, cluster=cluster):
        cube = lazy
        if case in ("plain-memory", "chemmap-memory", "sklearn"):
            cube = lazy.to_numpy()
        start = time.perf_counter()
        labels = None
        if case.startswith("plain"):
            total = cube.data.sum(axis=-1)
            float(total.sum().compute() if hasattr(total, "compute") else total.sum())
        elif case.startswith("chemmap"):
            labels = chemmap_pipeline(cube, out, bands).reshape(-1)
        elif case == "spectral-spatial-zarr":
            labels = chemmap_pipeline(cube, out, bands, method="spectral-spatial").reshape(-1)
        else:
            from sklearn.cluster import KMeans
            from sklearn.decomposition import PCA

            flat = cube.pixels()
            scores = PCA(N_COMPONENTS, svd_solver="randomized", random_state=0).fit_transform(flat)
            labels = KMeans(K, random_state=0).fit_predict(scores)
        seconds = time.perf_counter() - start
    from chemmap.workflows.session import peak_rss  # this program's own peak, not its parent's

    result = {"case": case, "seconds": seconds, "peak_rss": peak_rss()}
    if labels is not None:
        result["ari"] = float(adjusted_rand_score(truth, labels))
    return result


def spawn(case: str, store: Path, memory_limit: str, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--case", case, "--store", str(store), "--memory-limit", memory_limit]
    cmd += ["--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{case} on {store} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_outputs(a: Path, b: Path) -> dict:
    import zarr
    from sklearn.metrics import adjusted_rand_score

    la = zarr.open_group(str(a / "cluster_labels.zarr"), mode="r")["labels"][:]
    lb = zarr.open_group(str(b / "cluster_labels.zarr"), mode="r")["labels"][:]
    ma, mb = zarr.open_group(str(a / "maps.zarr"), mode="r"), zarr.open_group(str(b / "maps.zarr"), mode="r")
    diff = 0.0
    for name in ma.array_keys():
        a, b = ma[name][:], mb[name][:]
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return {"ari_vs_threads": float("nan"), "max_map_difference": float("inf")}
        diff = max(diff, float(np.max(np.abs(a - b), initial=0.0, where=~np.isnan(a))))
    return {"ari_vs_threads": float(adjusted_rand_score(la.ravel(), lb.ravel())), "max_map_difference": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64MiB,256MiB,1GiB")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "chemmap-bench")
    parser.add_argument("--memory-limit", default="2GiB")
    parser.add_argument("--in-memory-max", default="1GiB", help="largest cube also run in memory and by scikit-learn")
    parser.add_argument("--cluster-check", help="size also run on a LocalCluster of 2 workers")
    parser.add_argument("--spectral-spatial", action="store_true", help="also run the spectral-spatial method")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.store, args.memory_limit, args.out)))
        return

    from chemmap._shared.compute import format_bytes, parse_memory

    args.data_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes.split(","):
        nbytes = parse_memory(size)
        store = ensure_cube(size, args.data_dir)
        cases = ["plain-zarr", "chemmap-zarr"] + (["spectral-spatial-zarr"] if args.spectral_spatial else [])
        if nbytes <= parse_memory(args.in_memory_max):
            cases += ["plain-memory", "chemmap-memory", "sklearn"]
        outs = {}
        res = {}
        for case in cases:
            outs[case] = Path(tempfile.mkdtemp(prefix=f"{case}-", dir=args.data_dir))
            res[case] = spawn(case, store, args.memory_limit, outs[case])
            print(f"# {size} {case}: {res[case]}", file=sys.stderr)
        if args.cluster_check == size:
            outs["chemmap-cluster"] = Path(tempfile.mkdtemp(prefix="cluster-", dir=args.data_dir))
            res["chemmap-cluster"] = spawn("chemmap-cluster", store, args.memory_limit, outs["chemmap-cluster"])
            res["chemmap-cluster"].update(compare_outputs(outs["chemmap-zarr"], outs["chemmap-cluster"]))
        for out in outs.values():
            shutil.rmtree(out, ignore_errors=True)
        rows.append((size, nbytes, res))

    print(f"\nmemory limit {args.memory_limit}; times in seconds; RSS = peak resident memory of the process\n")
    head = "size      plain(mem) chemmap(mem) sklearn  x plain  sk/chemmap  ARI chemmap  ARI sklearn  RSS(mem)"
    print(head)
    for size, _, res in rows:
        if "chemmap-memory" not in res:
            continue
        pm, cm, sk = res["plain-memory"], res["chemmap-memory"], res["sklearn"]
        print(
            f"{size:9} {pm['seconds']:10.2f} {cm['seconds']:12.2f} {sk['seconds']:7.1f} "
            f"{cm['seconds'] / pm['seconds']:8.1f} {sk['seconds'] / cm['seconds']:11.1f} "
            f"{cm['ari']:12.4f} {sk['ari']:12.4f}  {format_bytes(cm['peak_rss'])}"
        )
    print("\nsize      plain(zarr) chemmap(zarr)  x plain  s/GiB  ARI      peak RSS")
    per_gib = []
    for size, nbytes, res in rows:
        pz, cz = res["plain-zarr"], res["chemmap-zarr"]
        per_gib.append((nbytes, cz["seconds"]))
        print(
            f"{size:9} {pz['seconds']:11.2f} {cz['seconds']:13.2f} {cz['seconds'] / pz['seconds']:8.1f} "
            f"{cz['seconds'] / (nbytes / 2**30):6.2f}  {cz['ari']:.4f}  {format_bytes(cz['peak_rss'])}"
        )
    if len(per_gib) > 1:
        sizes, times = np.log([p[0] for p in per_gib]), np.log([p[1] for p in per_gib])
        print(f"\nfitted exponent of time vs size (Zarr): {np.polyfit(sizes, times, 1)[0]:.3f}")
    mem = [(nb, r["chemmap-memory"]["seconds"]) for _, nb, r in rows if "chemmap-memory" in r]
    if mem and len(rows) > 1:
        ref = mem[-1][1] / (mem[-1][0] / 2**30)
        nbytes, t = per_gib[-1]
        print(f"per-GiB time, largest Zarr cube / largest in-memory cube: {(t / (nbytes / 2**30)) / ref:.2f}")
    if args.spectral_spatial:
        print("\nsize      k-means(zarr) spectral-spatial(zarr)  ratio  ARI k-means  ARI s-s  peak RSS s-s")
        for size, _, res in rows:
            km, ss = res["chemmap-zarr"], res["spectral-spatial-zarr"]
            print(
                f"{size:9} {km['seconds']:13.2f} {ss['seconds']:22.2f} {ss['seconds'] / km['seconds']:6.2f} "
                f"{km['ari']:12.4f} {ss['ari']:8.4f}  {format_bytes(ss['peak_rss'])}"
            )
    for size, _, res in rows:
        if "chemmap-cluster" in res:
            c = res["chemmap-cluster"]
            print(
                f"\nLocalCluster (2 workers), {size}: {c['seconds']:.2f} s, ARI vs threaded run "
                f"{c['ari_vs_threads']:.4f}, largest map difference {c['max_map_difference']:.3g}"
            )


if __name__ == "__main__":
    main()
