"""Learned models against the simple baselines they compete with (issue #26): denoising, and
unmixing (``--unmix auto`` against every fixed extractor + solver).

For every scene: PCA and MNF (rank chosen by the hold-out score), the MNF autoencoder of
``chemmap denoise`` (CPU) and the method ``--method auto`` applies; the hold-out score of
each on the same pixels (no clean cube needed), the RMSE against the clean cube divided by
the noisy cube's where a clean cube exists, and the fit time. Scenes: the 64 x 64 x 120
SNR-5 cube of four smooth components (two seeds), the same with band-dependent noise (0.2x
to 3x across the bands), a nonlinear one (bilinear interactions, per-pixel brightness,
saturation; two seeds), the nonlinear one with its pixels shuffled (no spatial structure for
the autoencoder to use), and the real Indian Pines and Samson scenes of ``../shared/data``
(score only).
Unmixing: mean abundance RMSE against the truth (Hungarian matching) of every extractor with
FCLS and with the scaled model, and of ``auto``, on Samson and on 30 x 36 scenes of three band
spectra in Dirichlet fractions with pure corners (two seeds with fractions that sum to one,
one with a per-pixel brightness of +-40 %), and on 60 x 60 scenes of four random spectra in
smooth fields where almost no pixel is pure (six seeds, three with a brightness of +-30 %).
Example::

    timeout 900 prlimit --as=$((12<<30)) python benchmarks/models_vs_baselines.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from chemmap.datasets.denoising import make_denoising_scene
from chemmap.workflows.denoise import DenoiseSettings, compare_methods
from chemmap.workflows.session import Timer

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
    scene = make_denoising_scene(mixture="nonlinear", random_state=2)
    order = rng.permutation(scene.clean.shape[0] * scene.clean.shape[1])
    flat = np.asarray(scene.cube.data).reshape(order.size, -1)
    scene.cube = scene.cube.replace(data=flat[order].reshape(scene.clean.shape))
    scene.clean = scene.clean.reshape(order.size, -1)[order].reshape(scene.clean.shape)
    yield "nonlinear, pixels shuffled (no spatial structure)", scene
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


def _mixture_scene(seed: int, brightness: float):
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube

    rng = np.random.default_rng(seed)
    x = np.linspace(1000, 1800, 80)
    spectra = np.stack([0.05 + np.exp(-0.5 * ((x - m) / 40) ** 2) for m in (1150, 1400, 1650)])
    fractions = rng.dirichlet(np.full(3, 0.6), size=(30, 36))
    fractions[:3, :3], fractions[:3, -3:], fractions[-3:, :3] = [1, 0, 0], [0, 1, 0], [0, 0, 1]
    gain = 1 + brightness * rng.uniform(-1, 1, size=(30, 36, 1))
    cube = gain * (fractions @ spectra) + rng.normal(scale=0.005, size=(30, 36, 80))
    return Cube(cube.astype(np.float32), SpectralAxis(x, "cm-1")), fractions


def unmixing_table(with_real: bool) -> None:
    """Every extractor + solver and ``auto``: mean abundance RMSE per scene."""
    from chemmap.datasets import make_smooth_mixture
    from chemmap.decomposition import abundance_maps, extract_endmembers
    from chemmap.decomposition.endmembers import ENDMEMBER_METHODS
    from chemmap.metrics.unmixing import unmixing_scores
    from chemmap.workflows.mapping_components import auto_recipe

    scenes = [(f"mixture seed {s}, brightness ±{b:.0%}", *_mixture_scene(s, b)) for s, b in ((0, 0), (1, 0), (2, 0.4))]
    scenes += [
        (
            f"smoothly mixed seed {s}, noise {n}, brightness ±{b:.0%}",
            *make_smooth_mixture(random_state=s, noise=n, brightness=b),
        )
        for s, n, b in ((1, 0.03, 0), (2, 0.02, 0.3), (3, 0.03, 0), (4, 0.02, 0.3), (5, 0.03, 0.3), (6, 0.02, 0))
    ]
    if with_real and (SHARED / "samson").is_dir():
        from chemmap.datasets import load_samson

        samson = load_samson(SHARED / "samson")
        scenes.insert(0, ("Samson (real)", samson.cube, np.asarray(samson.abundances.data)))
    recipes = [f"{e}+{s}" for e in ENDMEMBER_METHODS for s in ("fcls", "scaled")]
    print("\n| scene | " + " | ".join(recipes) + " | auto (chose) |")
    print("|---|" + "---|" * (len(recipes) + 1))
    for name, cube, truth in scenes:
        k = truth.shape[-1]
        found = {e: extract_endmembers(cube, k, method=e).spectra for e in ENDMEMBER_METHODS}
        _, found["auto"], solver, chose = auto_recipe(cube, k, sample=None, seed=0)
        cells = []
        for recipe in [*recipes, f"auto+{solver}"]:
            extractor, method = recipe.split("+")
            maps = np.asarray(abundance_maps(cube, found[extractor], method=method, residual=False).data)
            score = unmixing_scores(found[extractor], maps, true_abundances=truth)["mean_abundance_rmse"]
            cells.append(f"{score:.4f}")
        undecided = "" if chose["extractor_decided_by_data"] else f"; undecided, {chose['extractor_disagreement']:.3f}"
        cells[-1] += f" ({chose['extractor']}+{solver}{undecided})"
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-autoencoder", action="store_true", help="PCA and MNF only")
    parser.add_argument("--no-real", action="store_true", help="synthetic scenes only")
    parser.add_argument("--only", choices=("denoising", "unmixing"), help="one of the two tables")
    args = parser.parse_args()
    if args.only != "denoising":
        unmixing_table(not args.no_real)
    if args.only == "unmixing":
        return
    print("\n| scene | method | rank | hold-out score | RMSE / noisy | fit s |")
    print("|---|---|---|---|---|---|")
    candidates = ["pca", "mnf"] if args.no_autoencoder else ["pca", "mnf", "autoencoder"]
    for name, scene in _scenes(not args.no_real):
        cube = getattr(scene, "cube", scene)
        clean = getattr(scene, "clean", None)
        noisy = None if clean is None else float(np.sqrt(np.mean((np.asarray(cube.data) - clean) ** 2)))
        timer = Timer()
        models, scores, _, _ = compare_methods(cube, DenoiseSettings(device="cpu", candidates=candidates), timer=timer)
        chosen = min(scores, key=scores.get)
        for method, model in models.items():
            ratio = "—"
            if clean is not None:
                ratio = f"{np.sqrt(np.mean((np.asarray(model.denoise(cube).data) - clean) ** 2)) / noisy:.3f}"
            mark = " (auto)" if method == chosen else ""
            rank = getattr(model, "rank", None) or "—"
            seconds = timer.seconds[f"fit {method}"]
            print(f"| {name} | {method}{mark} | {rank} | {scores[method]:.4g} | {ratio} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
