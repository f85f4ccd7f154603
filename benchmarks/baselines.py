"""Batched Whittaker baselines (arpls, asls) on a million spectra, against pybaselines.

Makes ``--pixels`` spectra of 200 channels (a curved background times a random scale, one
peak of random height, white noise), runs ``chemmap.preprocessing.baseline`` on them as a
Cube (blocks on the threads of the active settings), and runs pybaselines one spectrum at a
time on the first ``--reference`` of them: it prints chemmap's time, pybaselines' time
scaled to the same number of spectra, the ratio, the largest difference between the two
baselines relative to the spectra's range, and the peak RSS. Example::

    timeout 900 python benchmarks/baselines.py --pixels 1000000 --reference 2000
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def make_spectra(n_pixels: int, n_channels: int = 200, random_state: int = 0) -> np.ndarray:
    """``(n_pixels, n_channels)`` float32 spectra, generated in slabs."""
    rng = np.random.default_rng(random_state)
    x = np.linspace(0, 1, n_channels, dtype=np.float32)
    out = np.empty((n_pixels, n_channels), np.float32)
    for start in range(0, n_pixels, 100_000):
        m = min(100_000, n_pixels - start)
        base = rng.uniform(0.5, 2, (m, 1)).astype(np.float32) * (1 + x) ** 2
        peak = rng.uniform(0, 5, (m, 1)).astype(np.float32) * np.exp(-(((x - 0.5) / 0.02) ** 2))
        out[start : start + m] = base + peak + rng.normal(0, 0.05, (m, n_channels)).astype(np.float32)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=1_000_000)
    parser.add_argument("--reference", type=int, default=2000, help="spectra fitted by pybaselines too")
    args = parser.parse_args()

    from pybaselines import Baseline

    from chemmap import Cube, SpectralAxis
    from chemmap.preprocessing import baseline

    spectra = make_spectra(args.pixels)
    side = int(np.sqrt(args.pixels))
    h = max(d for d in range(1, side + 1) if args.pixels % d == 0)
    cube = Cube(spectra.reshape(h, -1, spectra.shape[1]), SpectralAxis(np.linspace(500, 1800, 200), "cm-1"))
    fitter = Baseline(np.arange(spectra.shape[1], dtype=float))
    print(f"{args.pixels} spectra x 200 channels; pybaselines on the first {args.reference}\n")
    print("method  chemmap s  pybaselines s (scaled)  ratio  largest difference / range")
    for method in ("arpls", "asls"):
        t = time.perf_counter()
        ours = np.asarray(baseline(cube, method=method, return_baseline=True).data).reshape(spectra.shape)
        seconds = time.perf_counter() - t
        t = time.perf_counter()
        fit = getattr(fitter, method)
        reference = np.stack([fit(s.astype(float), lam=1e5, max_iter=50)[0]
                              for s in spectra[: args.reference]])  # fmt: skip
        scaled = (time.perf_counter() - t) * args.pixels / args.reference
        span = np.ptp(spectra[: args.reference], axis=1, keepdims=True)
        worst = float(np.max(np.abs(ours[: args.reference] - reference) / span))
        print(f"{method:7} {seconds:9.1f}  {scaled:22.1f}  {scaled / seconds:5.1f}  {worst:.2e}")
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
