"""``chemmap peaks`` with its defaults on every real file in ``../shared/data/real_files``.

Each file runs in a fresh process (``python -m chemmap peaks FILE --out DIR --quiet``); the
table gives the exit code, the detection spectrum chosen, the peaks, the elements identified
(or the first peaks' positions on molecular axes, or the refusal), the wall time of the whole
command (reading, figures and report included) and its peak RSS. The JEOL EDS map (512 x 512
x 4096 counts, 1 GiB) is measured against issue #33's target (<= 15 s, <= 2 GiB) and against a
plain pass in the same run: reading the file and summing its spectrum. Example::

    python benchmarks/peaks_real.py                      # every file
    python benchmarks/peaks_real.py --only jeol          # names containing 'jeol'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _child import timed_child

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real_files"
#: Companion files that are read through another file of the folder.
COMPANIONS = (".md", ".hdr", ".raw")
JEOL = "jeol/View000_0000006.pts"
TARGET_SECONDS, TARGET_GIB = 15.0, 2.0


def files(root: Path, only: str | None) -> list[Path]:
    chosen = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() in COMPANIONS or path.name.endswith("_1.ser"):
            continue
        if only is None or only in str(path.relative_to(root)):
            chosen.append(path)
    return chosen


def plain_pass(path: Path) -> None:
    """Read the file and sum its spectrum: what any peak search costs at least."""
    import numpy as np

    from chemmap.io import read

    cube = read(path)
    total = np.asarray(cube.data).reshape(-1, cube.n_channels).sum(axis=0, dtype=np.float64)
    print(json.dumps({"channels": int(total.size)}))


def describe(out: Path, run: dict) -> tuple[str, str, str]:
    """(detection spectrum, peaks, elements or bands or the refusal) of one run."""
    if run["exit_code"] != 0:
        lines = [line for line in (run["stderr"] + run["stdout"]).splitlines() if line.strip()]
        return "-", "-", (lines[-1] if lines else "no output")[:110]
    report = json.loads((out / "peaks.json").read_text())
    on = report["detection"]["spectrum"]
    if "spectra" in report:
        peaks = [p for s in report["spectra"] for p in s["peaks"]]
        identified = sorted({e for s in report["spectra"] for e in (s["identified"] or [])})
        count = f"{len(peaks)} in {report['n_spectra']} spectra"
    else:
        peaks, identified, count = report["peaks"], report["identified"], str(len(report["peaks"]))
    if identified is not None:
        return on, count, ", ".join(identified) or "none"
    unit = report["axis"]["unit"]
    return (
        on,
        count,
        ", ".join(f"{p['position']:.4g}" for p in peaks[:8]) + f" {unit}" + (" ..." if len(peaks) > 8 else ""),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--only", help="only files whose path holds this text")
    parser.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain is not None:
        plain_pass(args.plain)
        return
    if not args.data.is_dir():
        raise SystemExit(f"no real files at {args.data}: the benchmark reads ../shared/data/real_files")
    print("| file | exit | detection spectrum | peaks | elements (keV axes) or first peaks | seconds | peak RSS GiB |")
    print("|---|---|---|---|---|---|---|")
    measured = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in files(args.data, args.only):
            out = Path(tmp) / path.name
            command = [sys.executable, "-m", "chemmap", "peaks", str(path), "--out", str(out), "--quiet"]
            run = timed_child(command, check=False)
            name = str(path.relative_to(args.data))
            measured[name] = run
            on, count, what = describe(out, run)
            print(
                f"| {name} | {run['exit_code']} | {on} | {count} | {what} | {run['seconds']:.1f} | "
                f"{run['peak_rss_gib']:.2f} |",
                flush=True,
            )
    if JEOL in measured and measured[JEOL]["exit_code"] == 0:
        run = measured[JEOL]
        plain = timed_child([sys.executable, __file__, "--plain", str(args.data / JEOL)])
        met = run["seconds"] <= TARGET_SECONDS and run["peak_rss_gib"] <= TARGET_GIB
        print(
            f"\nJEOL map: chemmap peaks {run['seconds']:.1f} s, {run['peak_rss_gib']:.2f} GiB peak RSS (target <= "
            f"{TARGET_SECONDS:g} s, <= {TARGET_GIB:g} GiB: {'met' if met else 'NOT met'}); read + sum "
            f"{plain['seconds']:.1f} s, {plain['peak_rss_gib']:.2f} GiB; ratio {run['seconds'] / plain['seconds']:.1f}x"
        )


if __name__ == "__main__":
    main()
