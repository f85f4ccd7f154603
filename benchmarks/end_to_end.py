"""End-to-end benchmark: the whole ``chemmap run`` a user waits for, against reading the cube,
one plain pass over it, and the few lines of scikit-learn (or HyperSpy) a user would write.

Every case runs in a fresh process, so its wall time and peak RSS are its own; all are
measured in the same run on this machine:

- ``read``: load the cube (``np.load`` of an uncompressed ``.npz``; for a Zarr store the plain
  pass reads it, so it stands for both);
- ``plain``: read plus one pass (the sum over channels of every pixel);
- ``chemmap``: ``python -m chemmap run CUBE --clusters 5 --method kmeans --features pca
  --n-components 10 --intensity A --ratio A/B --out DIR --quiet --memory-limit L``, figures,
  reports and every file included; its ``run_record.json`` gives each stage, and the time
  outside them (interpreter start, imports, what no stage records) is printed as
  ``unrecorded``;
- ``sklearn`` (cubes in memory): ``np.load``, the two band maps, ``PCA(10,
  svd_solver="randomized")``, ``KMeans(5, n_init=1)``, labels saved; the ARI of both against
  the truth;
- ``scene`` (with ``--scene``): Indian Pines from ``../shared/data`` written once as a flat CSV
  (21 025 spectra, 200 bands) and mapped by ``chemmap run --clusters 16`` (its default
  method) and by the HyperSpy script's recipe (``--method kmeans --features pca
  --n-components 10``), beside a HyperSpy script (read the CSV, SVD, ``cluster_analysis``
  k-means, only the labels written) where HyperSpy is installed; otherwise the script is left
  out and the table says so. Each with its ARI against the ground truth.

Sizes up to ``--in-memory-max`` are run from an uncompressed ``.npz`` (in memory); larger ones
from a Zarr store, lazily, under ``--memory-limit``. Example::

    timeout 3000 python benchmarks/end_to_end.py --sizes 64MiB,1GiB,8GiB --scene --memory-limit 2GiB
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _child import timed_child
from scale import N_COMPONENTS, K, band_choice, ensure_cube

SCENE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "indian_pines"


def child(code: str, *args: str) -> list[str]:
    """A command that runs ``code`` (a case of this module) with ``args`` in a fresh interpreter."""
    return [sys.executable, __file__, "--child", code, *args]


def run_child(case: str, args: list[str]) -> None:
    """The body of a child process: one case, its result as JSON on the last line."""
    out: dict = {}
    if case in ("read", "plain"):
        path = Path(args[0])
        if path.suffix == ".npz":
            with np.load(path) as f:
                data = f["cube"]
            if case == "plain":
                out["checksum"] = float(data.sum(axis=-1, dtype=np.float64).sum())
        else:
            from chemmap.io import read

            total = read(path).data.sum(axis=-1)
            out["checksum"] = float(total.sum().compute())
    elif case == "sklearn":
        out.update(sklearn_script(Path(args[0]), float(args[1]), float(args[2]), Path(args[3])))
    elif case == "hyperspy":
        out.update(hyperspy_script(Path(args[0]), int(args[1]), Path(args[2])))
    print(json.dumps(out))


def sklearn_script(path: Path, band_a: float, band_b: float, out: Path) -> dict:
    """What a user would write with NumPy and scikit-learn (labels saved, ARI computed outside)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    with np.load(path) as f:
        data, axis = f["cube"], f["axis"]
    h, w, c = data.shape
    flat = data.reshape(-1, c)

    def band(at: float) -> np.ndarray:
        near = np.abs(axis - at) <= 6.0
        return flat[:, near].mean(axis=1)

    intensity = band(band_a)
    ratio = intensity / band(band_b)
    scores = PCA(N_COMPONENTS, svd_solver="randomized", random_state=0).fit_transform(flat)
    labels = KMeans(K, n_init=1, random_state=0).fit_predict(scores)
    np.save(out / "labels.npy", labels.reshape(h, w))
    np.save(out / "maps.npy", np.stack([intensity, ratio]).reshape(2, h, w))
    return {}


def hyperspy_script(csv: Path, k: int, out: Path) -> dict:
    """What a HyperSpy user would write: read the flat CSV, SVD, k-means cluster analysis
    (the labels saved for the ARI, computed outside)."""
    import hyperspy.api as hs
    import pandas as pd

    table = pd.read_csv(csv)
    spectra = table[[c for c in table if c.replace(".", "", 1).isdigit()]].to_numpy(np.float32)  # the band columns
    signal = hs.signals.Signal1D(spectra.reshape(145, 145, -1))
    signal.decomposition(algorithm="SVD", output_dimension=10)
    signal.cluster_analysis("decomposition", n_clusters=k, preprocessing="norm", algorithm="kmeans")
    np.save(out / "hyperspy_labels.npy", np.argmax(signal.learning_results.cluster_labels, axis=0).reshape(145, 145))
    return {}


def npz_of(store: Path) -> Path:
    """The Zarr store written again as an uncompressed ``.npz`` (cube, axis, labels), once."""
    from chemmap.io import read

    path = store.with_suffix(".npz")
    if not path.exists():
        cube = read(store).to_numpy()
        with open(path, "wb") as fh:
            np.savez(fh, cube=cube.data, axis=cube.axis.values, labels=cube.labels)
    return path


def chemmap_run(source: Path, out: Path, extra: list[str], memory_limit: str) -> dict:
    """The whole CLI run, and the stages of its ``run_record.json``."""
    command = [sys.executable, "-m", "chemmap", "run", str(source), "--out", str(out), "--quiet"]
    result = timed_child([*command, *extra, "--memory-limit", memory_limit])
    record = json.loads((out / "run_record.json").read_text())
    stages = record["timings"]["seconds"]
    result["stages"] = stages
    result["peak_after"] = record["timings"].get("peak_rss_bytes_after", {})
    result["unrecorded"] = result["seconds"] - sum(stages.values())
    return result


def ari(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    keep = (labels_a.reshape(-1) >= 0) & (labels_b.reshape(-1) >= 0)
    return float(adjusted_rand_score(labels_a.reshape(-1)[keep], labels_b.reshape(-1)[keep]))


def chemmap_labels(out: Path) -> np.ndarray:
    if (out / "cluster_labels.npy").exists():
        return np.load(out / "cluster_labels.npy")
    import zarr

    return zarr.open_group(str(out / "cluster_labels.zarr"), mode="r")["labels"][:]


def cube_case(size: str, data_dir: Path, in_memory: bool, memory_limit: str) -> dict:
    from chemmap.io import read

    store = ensure_cube(size, data_dir)
    lazy = read(store)
    truth = lazy.labels
    a, b = band_choice(lazy)
    source = npz_of(store) if in_memory else store
    row: dict = {"size": size, "source": source.suffix[1:]}
    if in_memory:
        row["read"] = timed_child(child("read", str(source)))
    row["plain"] = timed_child(child("plain", str(source)))
    with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
        out = Path(tmp) / "run"
        extra = ["--clusters", str(K), "--method", "kmeans", "--features", "pca"]
        extra += ["--n-components", str(N_COMPONENTS), "--intensity", f"{a:g}", "--ratio", f"{a:g}/{b:g}"]
        row["chemmap"] = chemmap_run(source, out, extra, memory_limit)
        row["chemmap"]["ari"] = ari(truth, chemmap_labels(out))
        if in_memory:
            row["sklearn"] = timed_child(child("sklearn", str(source), str(a), str(b), tmp))
            row["sklearn"]["ari"] = ari(truth, np.load(Path(tmp) / "labels.npy"))
    return row


def scene_case(data_dir: Path, memory_limit: str) -> dict | None:
    """Indian Pines as a flat CSV: chemmap run (its default, and the recipe of the HyperSpy
    script: k-means on 10 principal components) against a HyperSpy script; the ARI of each
    against the ground truth."""
    if not (SCENE / "IP_200_M.mat").exists():
        print(f"# scene left out: {SCENE / 'IP_200_M.mat'} is absent", file=sys.stderr)
        return None
    from chemmap.datasets.benchmarks import load_indian_pines
    from chemmap.io import write

    scene = load_indian_pines(SCENE)
    csv = data_dir / "indian_pines.csv"
    if not csv.exists():
        write(scene, csv, label_column="label")
    row: dict = {"size": f"{csv.stat().st_size / 2**20:.0f} MiB CSV"}
    with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
        extra = ["--image-shape", "145", "145", "--label-column", "label", "--clusters", "16"]
        recipe = ["--method", "kmeans", "--features", "pca", "--n-components", "10"]
        for name, more in (("chemmap", []), ("chemmap_kmeans", recipe)):
            out = Path(tmp) / name
            row[name] = chemmap_run(csv, out, extra + more, memory_limit)
            row[name]["ari"] = ari(scene.labels, np.load(out / "cluster_labels.npy"))
        try:
            import hyperspy  # noqa: F401
        except ImportError:
            row["hyperspy"] = None
        else:
            row["hyperspy"] = timed_child(child("hyperspy", str(csv), "16", tmp))
            row["hyperspy"]["ari"] = ari(scene.labels, np.load(Path(tmp) / "hyperspy_labels.npy"))
    return row


def gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.2f}"


def report(rows: list[dict], scene: dict | None, memory_limit: str) -> None:
    print(f"\nmemory limit {memory_limit}; seconds; peak RSS in GiB of each fresh process (this machine, one run)\n")
    print("size    source  read   plain  chemmap  x(plain)  sklearn  sk/chemmap  ARI chemmap  ARI sklearn  RSS chemmap")
    for r in rows:
        c, p = r["chemmap"], r["plain"]
        read = f"{r['read']['seconds']:5.2f}" if "read" in r else "    -"
        sk = r.get("sklearn")
        sk_cells = f"{sk['seconds']:7.2f}  {sk['seconds'] / c['seconds']:10.2f}" if sk else f"{'-':>7}  {'-':>10}"
        sk_ari = f"{sk['ari']:11.3f}" if sk else f"{'-':>11}"
        print(
            f"{r['size']:7} {r['source']:6} {read}  {p['seconds']:5.2f}  {c['seconds']:7.2f}  "
            f"{c['seconds'] / p['seconds']:8.1f}  {sk_cells}  {c['ari']:11.3f}  {sk_ari}  {gib(c['peak_rss']):>11}"
            + (f" (sklearn {gib(sk['peak_rss'])})" if sk else "")
        )
    print("\nwhere chemmap's time goes (run_record.json stages; unrecorded = wall - their sum)")
    runs = ("chemmap", "chemmap_kmeans") if scene else ()
    for r in rows + [{"size": f"{scene['size']} {name}", "chemmap": scene[name]} for name in runs]:
        c = r["chemmap"]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in c["stages"].items() if v >= 0.005)
        print(f"  {r['size']}: {parts}; unrecorded {c['unrecorded']:.2f}")
        if c["peak_after"]:
            memory = ", ".join(f"{k} {gib(v)}" for k, v in c["peak_after"].items())
            print(f"  {r['size']} peak RSS so far, after each stage (GiB): {memory}")
    if scene:
        hs = scene["hyperspy"]
        print(f"\nIndian Pines as a flat CSV ({scene['size']}), k = 16; seconds, ARI against the truth, peak RSS GiB")
        for name, what in (
            ("chemmap", "chemmap run (default: spectral-spatial)"),
            ("chemmap_kmeans", "chemmap run, k-means on 10 PCs"),
        ):
            c = scene[name]
            line = f"  {what}: {c['seconds']:.2f} s, ARI {c['ari']:.3f}, RSS {gib(c['peak_rss'])}"
            if hs is not None:
                line += f"; {c['seconds'] / hs['seconds']:.2f}x HyperSpy"
            print(line)
        if hs is None:
            print("  HyperSpy script left out: hyperspy is not installed (pip install hyperspy)")
        else:
            print(
                f"  HyperSpy script (SVD, k-means on 10 components): {hs['seconds']:.2f} s, ARI {hs['ari']:.3f}, "
                f"RSS {gib(hs['peak_rss'])}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64MiB,1GiB")
    parser.add_argument("--in-memory-max", default="1GiB", help="largest cube run from a .npz in memory")
    parser.add_argument("--memory-limit", default="2GiB")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "chemmap-bench")
    parser.add_argument("--scene", action="store_true", help="also Indian Pines as a flat CSV (and HyperSpy)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        run_child(args.child, rest)
        return
    from chemmap._shared.compute import parse_memory

    args.data_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in filter(None, args.sizes.split(",")):
        in_memory = parse_memory(size) <= parse_memory(args.in_memory_max)
        rows.append(cube_case(size, args.data_dir, in_memory, args.memory_limit))
        print(f"# {size} done", file=sys.stderr)
    scene = scene_case(args.data_dir, args.memory_limit) if args.scene else None
    report(rows, scene, args.memory_limit)


if __name__ == "__main__":
    main()
