"""The denoising workflow behind ``chemmap denoise``: PCA, MNF or the spectral autoencoder,
each scored by the hold-out score of :mod:`chemmap.decomposition.denoise` (no clean cube
needed); ``auto`` applies the method with the lowest score. Writes the denoised cube, the
scores, a figure and report.html into one output folder atomically."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from chemmap._shared.blockwise import row_blocks
from chemmap._shared.compute import compute
from chemmap._shared.params import Param, Settings
from chemmap._shared.progress import notify
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, MissingDependencyError
from chemmap.workflows.session import Session, versions
from chemmap.workflows.shape import Workflow
from chemmap.workflows.staging import NpyRowWriter

__all__ = ["DENOISE", "DenoiseResult", "DenoiseSettings", "autoencoder_denoiser", "run_denoise"]

#: The methods of ``--method``; ``auto`` compares those of ``candidates``. The linear ones are
#: :data:`chemmap.decomposition.denoise.LOW_RANK_METHODS` (not imported here: the CLI's parser
#: is made without scikit-learn).
DENOISE_METHODS = ("auto", "pca", "mnf", "autoencoder")
LINEAR = DENOISE_METHODS[1:3]


def _candidates(value, name, func) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not value or any(v not in DENOISE_METHODS[1:] for v in value):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a list of {list(DENOISE_METHODS[1:])}, e.g. pca,mnf. "
            f"Got {value!r} instead."
        )
    return list(dict.fromkeys(value))


class DenoiseSettings(Settings):
    """The settings of ``chemmap denoise``: the ``[denoise]`` table.

    ``auto`` fits every method of ``candidates`` (the autoencoder only where the ``deep``
    extra is installed) and applies the one with the lowest hold-out score.
    """

    SECTION = "denoise"
    PARAMS: ClassVar[dict[str, Param]] = {
        "method": Param("choice", "auto", choices=DENOISE_METHODS, doc="pca, mnf, autoencoder, or auto (lowest score)"),
        "candidates": Param(
            "any", list(DENOISE_METHODS[1:]), check=_candidates, doc="the methods auto compares, e.g. pca,mnf"
        ),
        "rank": Param("int", None, allow_none=True, low=1, doc="components pca and mnf keep (default: lowest score)"),
        "device": Param("choice", "auto", choices=("auto", "cpu", "cuda"), doc="where the autoencoder trains"),
        "random_state": Param("int", 0, low=0, doc="seed of the pixel samples and of the autoencoder"),
    }


@dataclass
class DenoiseResult:
    """What a denoising run produced: the chosen method's denoised cube (lazy for a lazy
    input; written by rows) and every compared method's model and hold-out score."""

    cube: Cube
    denoised: Cube
    chosen: str
    models: dict
    scores: dict[str, float]
    noise_variance: float
    settings: DenoiseSettings
    metrics: dict = field(default_factory=dict)
    residual_rms: np.ndarray | None = None
    out_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def record(self) -> dict:
        """Entries of ``run_record.json`` beside the common ones."""
        return {"settings": self.settings.to_dict()}


def _methods(settings: DenoiseSettings) -> list[str]:
    if settings.method != "auto":
        return [settings.method]
    if importlib.util.find_spec("torch") is None:
        return [m for m in settings.candidates if m != "autoencoder"] or list(LINEAR)
    return list(settings.candidates)


def autoencoder_denoiser(cube: Cube, settings: DenoiseSettings, progress=None):
    """A spectral autoencoder trained on ``cube`` with its defaults, and a function that
    denoises ``(n, n_channels)`` spectra with it."""
    try:
        from chemmap.deep.autoencoder.inference import denoise_spectra
        from chemmap.deep.autoencoder.training import train_autoencoder
    except ImportError as exc:
        raise MissingDependencyError(
            f"The autoencoder needs PyTorch ({exc}). To fix this, pip install 'chemmap[deep]', or use --method mnf."
        ) from None
    trained = train_autoencoder(cube, progress=progress, device=settings.device, random_state=settings.random_state)

    return trained, lambda spectra: denoise_spectra(trained, spectra, cube.axis, device=settings.device)


def execute(cube: Cube, settings: DenoiseSettings, session: Session) -> DenoiseResult:
    """Fit and score every method asked for on two seeded samples of pixels, then denoise the
    cube with the chosen one (lazily for a lazy cube)."""
    from chemmap.decomposition.denoise import fit_low_rank, holdout_score, noise_variance, split_samples

    fit, scored = split_samples(cube, settings.random_state)
    axis = cube.axis.values
    models, scores, appliers = {}, {}, {}
    for method in _methods(settings):
        with session.timer.stage(f"fit {method}"):
            if method in LINEAR:
                model = fit_low_rank(fit, scored, axis, method, rank=settings.rank)
                models[method], scores[method] = model, model.scores[model.rank]
                appliers[method] = model.denoise
            else:
                trained, apply = autoencoder_denoiser(cube, settings, session.progress)
                models[method], scores[method] = trained, holdout_score(apply, scored, axis)
                appliers[method] = lambda c, trained=trained: _autoencoded(trained, c, settings.device)
    chosen = min(scores, key=scores.get)
    with session.timer.stage("denoise"):
        denoised = appliers[chosen](cube)
    return DenoiseResult(cube, denoised, chosen, models, scores, noise_variance(fit), settings)


def _autoencoded(trained, cube: Cube, device: str) -> Cube:
    from chemmap.deep.autoencoder.inference import autoencode

    return autoencode(trained, cube, device=device)[0]


def _metrics(result: DenoiseResult) -> dict:
    """``metrics.json``: the chosen method and why, and each method's hold-out score and
    rank. The score ranks methods; it is not an error against the clean cube (the held-out
    bands' interpolation and the noise estimate both enter it), so none is claimed."""
    methods = {
        name: {"holdout_mse": score, "rank": getattr(result.models[name], "rank", None)}
        for name, score in sorted(result.scores.items(), key=lambda item: item[1])
    }
    best = min(result.scores.values())
    why = (
        f"asked for ({result.settings.method})"
        if result.settings.method != "auto"
        else f"lowest hold-out score of {len(result.scores)} methods"
    )
    return {
        "method": result.chosen,
        "why": why,
        "rank": getattr(result.models[result.chosen], "rank", None),
        "noise_std_estimated": float(np.sqrt(result.noise_variance)),
        "holdout": {
            "groups": "bands j mod 8 held out in turn, replaced by interpolation from the others",
            "note": "the score is the error against the clean cube plus the noise variance, where the noise "
            "of a band is independent of the other bands",
        },
        "methods": methods,
        "best_over_chosen": float(result.scores[result.chosen] / best) if best > 0 else 1.0,
        "residual_rms_mean": float(np.nanmean(result.residual_rms)) if result.residual_rms is not None else None,
    }


def write(result: DenoiseResult, stage: Path, session: Session) -> None:
    """``denoised.npy`` (height x width x channels, float32, the input's units; written by
    bands of rows), ``denoise_scores.png``, ``metrics.json`` and ``report.html`` (maps of the
    RMS of what was removed and of the denoised cube at its strongest band)."""
    from chemmap.report.html import MapLayer, write_html
    from chemmap.report.metrics_json import write_metrics_json
    from chemmap.report.pages import denoise_report

    cube, denoised = result.cube, result.denoised
    h, w = cube.image_shape
    c = cube.n_channels
    result.residual_rms = np.full((h, w), np.nan, dtype=np.float32)
    bands = row_blocks(h, w * c * 4)
    strongest = int(np.argmax(result.models[result.chosen].mean)) if result.chosen in LINEAR else c // 2
    band_image = np.empty((h, w), dtype=np.float32)
    with NpyRowWriter(stage / "denoised.npy", (h, w, c), np.float32) as out:
        for i, rows in enumerate(bands):
            x, d = compute(cube.data[rows], denoised.data[rows], stage="denoising")
            out.write(d)
            result.residual_rms[rows] = np.sqrt(np.mean((np.asarray(x, np.float32) - d) ** 2, axis=-1))
            band_image[rows] = d[..., strongest]
            notify(session.progress, "writing the denoised cube", i + 1, len(bands))
    valid = cube.valid_pixels().reshape(h, w)
    result.residual_rms[~valid] = np.nan
    band_image[~valid] = np.nan
    result.metrics = _metrics(result)
    with session.timer.stage("figures"):
        _draw_scores(result, stage / "denoise_scores.png")
        position = f"{cube.axis.values[strongest]:g} {cube.axis.unit}"
        layers = [
            MapLayer("removed_rms", "RMS of what was removed (noise and anything else)", result.residual_rms),
            MapLayer("denoised_band", f"Denoised cube at {position}", band_image),
        ]
        report = denoise_report(result, layers, command=session.command, versions=versions())
        write_html(report, stage / "report.html")
    write_metrics_json(result.metrics, stage / "metrics.json")


def _draw_scores(result: DenoiseResult, path: Path) -> None:
    from chemmap.viz.denoise import plot_denoise_scores
    from chemmap.viz.figures import new_figure, save_figure

    fig = new_figure(7.0, 4.5)
    curves = {name: model.scores for name, model in result.models.items() if name in LINEAR}
    points = {name: score for name, score in result.scores.items() if name not in LINEAR}
    plot_denoise_scores(fig.add_subplot(), curves, points, floor=result.noise_variance, chosen=result.chosen)
    save_figure(fig, path)


def summary(result: DenoiseResult) -> str:
    """What ``chemmap denoise`` prints: the chosen method and the scores, the files."""
    m = result.metrics
    rank = f" (rank {m['rank']})" if m["rank"] is not None else ""
    others = ", ".join(f"{k} {v['holdout_mse']:.4g}" for k, v in m["methods"].items())
    return (
        f"{m['method']}{rank}: {m['why']}; hold-out scores {others}; estimated noise s.d. "
        f"{m['noise_std_estimated']:.4g}\nwrote denoised.npy, denoise_scores.png, metrics.json and report.html "
        f"to {result.out_dir}"
    )


DENOISE = Workflow(
    command="denoise",
    help="denoise every spectrum (PCA, MNF, autoencoder, or auto: the lowest hold-out score)",
    settings=DenoiseSettings,
    execute=execute,
    write=write,
    summary=summary,
)

#: ``run_denoise(source, out_dir, settings=None, *, format=None, read_options=None,
#: session=None)``: read ``source`` (or take a Cube), fit and score the methods and write the
#: denoised cube and the scores into ``out_dir``, all or nothing.
run_denoise = DENOISE.run
