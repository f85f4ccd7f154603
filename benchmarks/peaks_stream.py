"""Streaming benchmark of ``chemmap peaks`` on a large MA-XRF cube in ``.rpl/.raw``.

Writes (once, under --data-dir) a uint16 ripple file of --shape (default 2000 x 2000 x
2048 = 16 GiB) without an energy axis, tiled from a synthetic MA-XRF scan (Ca, Fe, Cu, Zn,
Pb, Rh tube, brass speckles), then measures in this run, each in a fresh process:

- a plain pass over the file, twice: the sum spectrum, read by the same lazy reader in
  blocks under the same memory limit (the disk / page-cache floor; the second pass finds
  the file cached as far as memory allows);
- ``chemmap peaks FILE --out DIR --memory-limit LIMIT`` with its defaults (calibration,
  identification, sliced maps, hot-max spectra, speckle atlases, figures);

and prints the times, chemmap's stages (its two passes over the cube against the plain
pass) and each process's peak RSS. Example::

    python benchmarks/peaks_stream.py --shape 2000,2000,2048 --memory-limit 2GiB --data-dir /tmp/chemmap-bench
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

TILE = (64, 96)


def ensure_file(shape: tuple[int, int, int], data_dir: Path) -> Path:
    """The ripple file of ``shape``, written once by bands of rows from a tiled scan."""
    from chemmap.datasets import make_xrf_cube

    h, w, c = shape
    header = data_dir / f"xrf_{h}x{w}x{c}.rpl"
    raw = header.with_suffix(".raw")
    if header.exists() and raw.stat().st_size == h * w * c * 2:
        return header
    data_dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    scene = np.asarray(make_xrf_cube(TILE, n_channels=c, calibrated=False, random_state=0).cube.data)
    columns = np.arange(w) % TILE[1]
    rows_per_band = max(1, (256 * 2**20) // (w * c * 2))
    with open(raw, "wb") as fh:
        for start in range(0, h, rows_per_band):
            rows = np.arange(start, min(start + rows_per_band, h)) % TILE[0]
            fh.write(np.ascontiguousarray(scene[rows][:, columns]).astype("<u2").tobytes())
    header.write_text(
        f"key\tvalue\nwidth\t{w}\nheight\t{h}\ndepth\t{c}\noffset\t0\ndata-length\t2\n"
        "data-type\tunsigned\nbyte-order\tlittle-endian\nrecord-by\tvector\n"
    )
    print(f"# wrote {raw} ({raw.stat().st_size / 2**30:.1f} GiB) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return header


def plain_pass(path: Path, memory_limit: str) -> dict:
    """Two passes over the file (sum spectrum) through chemmap's lazy reader: the first
    from whatever the page cache holds, the second with the file cached as far as memory
    allows (the state chemmap's own second pass finds)."""
    import chemmap
    from chemmap.io import read

    seconds = []
    with chemmap.compute_settings("threads", memory_limit=memory_limit):
        for _ in range(2):
            t = time.perf_counter()
            total = read(path, lazy=True).data.sum(axis=(0, 1), dtype=np.int64).compute()
            seconds.append(time.perf_counter() - t)
    return {"first": seconds[0], "second": seconds[1], "counts": int(total.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="2000,2000,2048", help="height,width,channels")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "chemmap-bench")
    parser.add_argument("--memory-limit", default="2GiB")
    parser.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain is not None:
        print(json.dumps(plain_pass(args.plain, args.memory_limit)))
        return
    shape = tuple(int(v) for v in args.shape.split(","))
    path = ensure_file(shape, args.data_dir)
    size_gib = path.with_suffix(".raw").stat().st_size / 2**30
    plain = timed_child([sys.executable, __file__, "--plain", str(path), "--memory-limit", args.memory_limit])
    plain.update(json.loads(plain.pop("stdout")))
    out = args.data_dir / "peaks_out"
    peaks = timed_child(
        [
            sys.executable,
            "-m",
            "chemmap",
            "peaks",
            str(path),
            "--out",
            str(out),
            "--memory-limit",
            args.memory_limit,
            "--quiet",
        ]
    )
    record = json.loads((out / "run_record.json").read_text())
    report = json.loads((out / "peaks.json").read_text())
    print(f"file: {path.with_suffix('.raw')} ({shape[0]} x {shape[1]} x {shape[2]} uint16, {size_gib:.1f} GiB)")
    print(f"memory limit: {args.memory_limit}")
    stages = record["timings"]["seconds"]
    streamed = stages["summary spectra"] + stages["peak maps"]
    print(f"plain pass (sum spectrum), first / second: {plain['first']:.1f} s / {plain['second']:.1f} s")
    print(f"  peak RSS {plain['peak_rss_gib']:.2f} GiB")
    print(f"chemmap peaks: {peaks['seconds']:.1f} s in all, peak RSS {peaks['peak_rss_gib']:.2f} GiB")
    print(f"  its two passes over the cube (summary spectra + peak maps): {streamed:.1f} s")
    print(f"  = {streamed / 2 / plain['second']:.2f} x the second plain pass per pass")
    print(f"  stages (s): {stages}")
    print(f"peaks: {len(report['peaks'])}; identified: {', '.join(report['identified'] or [])}")


if __name__ == "__main__":
    main()
