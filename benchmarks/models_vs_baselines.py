"""Learned models against the simple baselines they compete with: denoising (issue #26).

For every scene: PCA and MNF (rank chosen by the hold-out score), the spectral autoencoder
(its defaults, CPU) and the method ``chemmap denoise --method auto`` applies; the hold-out
score of each (no clean cube needed), the RMSE against the clean cube divided by the noisy
cube's where a clean cube exists, and the fit time. Scenes: the 64 x 64 x 120 SNR-5 cube of
four smooth components (two seeds), the same with band-dependent noise (0.2x to 3x across
the bands), a nonlinear one (bilinear interactions, per-pixel brightness, saturation; two
seeds), and the real Indian Pines and Samson scenes of ``../shared/data`` (score only).
Example::

    timeout 900 prlimit --as=$((12<<30)) python benchmarks/models_vs_baselines.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from chemmap.datasets.denoising import make_denoising_scene
from chemmap.decomposition.denoise import fit_low_rank, holdout_score, split_samples
from chemmap.workflows.denoise import DenoiseSettings, autoencoder_denoiser

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _scenes(with_real: bool):
    for seed in (0, 1):
        yield f"linear SNR 5, seed {seed}", make_denoising_scene(random_state=seed)
    scene = make_denoising_scene(random_state=2)
    rng = np.random.default_rng(7)
    sd = scene.noise_std * np.linspace(0.2, 3.0, scene.cube.n_channels)
    banded = scene.cube.replace(data=(scene.clean + rng.normal(size=scene.clean.shape) * sd).astype(np.float32))
    scene.cube = banded
    yield "linear, band-dependent noise", scene
    for seed in (0, 1):
        yield f"nonlinear SNR 5, seed {seed}", make_denoising_scene(mixture="nonlinear", random_state=seed)
    if with_real:
        from chemmap.datasets import load_indian_pines, load_samson

        for name, folder, loader in (
            ("Indian Pines (real)", "indian_pines", load_indian_pines),
            ("Samson (real)", "samson", lambda f: load_samson(f).cube),
        ):
            if (SHARED / folder).is_dir():
                yield name, loader(SHARED / folder)
            else:
                print(f"{name}: skipped, {SHARED / folder} is absent")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-autoencoder", action="store_true", help="PCA and MNF only")
    parser.add_argument("--no-real", action="store_true", help="synthetic scenes only")
    args = parser.parse_args()
    print("| scene | method | rank | hold-out score | RMSE / noisy | fit s |")
    print("|---|---|---|---|---|---|")
    for name, scene in _scenes(not args.no_real):
        cube = getattr(scene, "cube", scene)
        clean = getattr(scene, "clean", None)
        noisy = None if clean is None else float(np.sqrt(np.mean((np.asarray(cube.data) - clean) ** 2)))
        fit, scored = split_samples(cube, 0)
        rows = {}
        for method in ("pca", "mnf"):
            t = time.perf_counter()
            model = fit_low_rank(fit, scored, cube.axis.values, method)
            denoised = np.asarray(model.denoise(cube).data)
            rows[method] = (model.rank, model.scores[model.rank], denoised, time.perf_counter() - t)
        if not args.no_autoencoder:
            t = time.perf_counter()
            _, apply = autoencoder_denoiser(cube, DenoiseSettings(device="cpu"))
            score = holdout_score(apply, scored, cube.axis.values)
            flat = np.asarray(cube.data).reshape(-1, cube.n_channels)
            denoised = apply(flat).reshape(cube.data.shape)
            rows["autoencoder"] = (None, score, denoised, time.perf_counter() - t)
        chosen = min(rows, key=lambda m: rows[m][1])
        for method, (rank, score, denoised, seconds) in rows.items():
            ratio = "—" if noisy is None else f"{np.sqrt(np.mean((denoised - clean) ** 2)) / noisy:.3f}"
            mark = " (auto)" if method == chosen else ""
            print(f"| {name} | {method}{mark} | {rank or '—'} | {score:.4g} | {ratio} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
