"""FCLS on a 1000 x 1000 x 200 cube with 5 endmembers: batched time against a per-pixel
constrained solver (SciPy SLSQP) on a sample of pixels, whose time is extrapolated, and the
largest difference between the two on that sample.

Usage: python benchmarks/fcls_large.py [--size 1000] [--bands 200] [--k 5] [--check 200]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from scipy.optimize import minimize

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.decomposition.abundances import abundance_maps


def make_cube(size: int, bands: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, bands)
    spectra = np.stack([0.1 + np.exp(-0.5 * ((x - m) / 0.12) ** 2) for m in np.linspace(0.1, 0.9, k)])
    data = np.empty((size, size, bands), dtype=np.float32)
    for r in range(0, size, 100):
        fractions = rng.dirichlet(np.full(k, 0.4), size=(min(100, size - r), size))
        data[r : r + 100] = fractions @ spectra + rng.normal(scale=0.02, size=(*fractions.shape[:2], bands))
    return Cube(data, SpectralAxis(np.linspace(400, 2400, bands), "nm")), spectra


def per_pixel(spectra: np.ndarray, y: np.ndarray) -> np.ndarray:
    k = spectra.shape[0]
    return minimize(
        lambda v: np.sum((y - v @ spectra) ** 2),
        np.full(k, 1 / k),
        jac=lambda v: -2 * spectra @ (y - v @ spectra),
        method="SLSQP",
        bounds=[(0, None)] * k,
        constraints={"type": "eq", "fun": lambda v: v.sum() - 1},
        options={"ftol": 1e-15, "maxiter": 1000},
    ).x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--bands", type=int, default=200)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--check", type=int, default=200, help="pixels solved one by one")
    args = parser.parse_args()
    cube, spectra = make_cube(args.size, args.bands, args.k)
    start = time.perf_counter()
    maps = np.asarray(abundance_maps(cube, spectra, method="fcls", residual=False).data)
    batched = time.perf_counter() - start
    rng = np.random.default_rng(1)
    rows = rng.choice(args.size * args.size, args.check, replace=False)
    pixels = np.asarray(cube.data).reshape(-1, args.bands)[rows].astype(np.float64)
    start = time.perf_counter()
    reference = np.array([per_pixel(spectra, y) for y in pixels])
    one_by_one = (time.perf_counter() - start) / args.check * args.size**2
    diff = np.abs(maps.reshape(-1, args.k)[rows] - reference).max()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"cube {args.size}x{args.size}x{args.bands}, {args.k} endmembers")
    print(f"batched FCLS: {batched:.1f} s; per-pixel SLSQP extrapolated: {one_by_one:.0f} s", end="; ")
    print(f"ratio {one_by_one / batched:.0f}x")
    print(f"largest abundance difference on {args.check} pixels: {diff:.2e}")
    print(
        f"sums to one within {np.abs(maps.sum(axis=2) - 1).max():.1e}; min {maps.min():.1e}; peak memory {peak:.2f} GiB"
    )


if __name__ == "__main__":
    main()
