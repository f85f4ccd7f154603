"""The denoising workflow behind ``chemmap denoise``: PCA, MNF or the MNF autoencoder
(:mod:`chemmap.deep.blind_spot`), each scored by the hold-out score of
:mod:`chemmap.decomposition.denoise` (no clean cube needed); ``auto`` applies the method
with the lowest score. Writes the denoised cube, the
scores, a figure and report.html into one output folder atomically."""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from chemmap._shared.blockwise import row_blocks
from chemmap._shared.compute import compute
from chemmap._shared.params import Param, Settings
from chemmap._shared.progress import notify
from chemmap.core.cube import Cube
from chemmap.core.exceptions import DataWarning, InvalidParameterError, MissingDependencyError, ShapeError
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
    curves: dict = field(default_factory=dict)
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


def autoencoder_denoiser(cube: Cube, settings: DenoiseSettings, mnf=None, fitted_on=None, progress=None, window=None):
    """The MNF autoencoder (:mod:`chemmap.deep.blind_spot`) trained on ``cube`` around
    ``mnf`` (the cube's MNF model, fitted on the pixels at ``fitted_on``; fitted when not
    given); ``window``: the cube's comparison window, when it was read already."""
    try:
        from chemmap.deep.blind_spot import fit_blind_spot_denoiser
    except ImportError as exc:
        raise MissingDependencyError(
            f"The autoencoder needs PyTorch ({exc}). To fix this, pip install 'chemmap[deep]', or use --method mnf."
        ) from None
    return fit_blind_spot_denoiser(
        cube,
        mnf,
        fitted_on,
        window=window,
        random_state=settings.random_state,
        device=settings.device,
        progress=progress,
    )


def compare_methods(cube: Cube, settings: DenoiseSettings, progress=None, timer=None) -> tuple[dict, dict, dict, float]:
    """Fit every method asked for and score each by the hold-out score.

    PCA and MNF are fitted on one seeded sample of pixels and their rank is chosen on a
    second. Where the autoencoder, which looks at neighbours, is compared, every method is
    scored on the same pixels: the held-out squares of the central window
    (:func:`~chemmap.decomposition.denoise.held_out_blocks`), away from those the
    autoencoder learned from, less those PCA and MNF were fitted on; otherwise on the second
    sample.

    Returns
    -------
    models : dict
        Method → fitted model.
    scores : dict
        Method → hold-out score (the cube's units squared).
    curves : dict
        Linear method → {rank: hold-out score} on the pixels of ``scores``.
    noise_variance : float
        Mean noise variance of the bands (the scores' floor).
    """
    from chemmap.decomposition.denoise import (
        fit_low_rank,
        holdout_score,
        noise_variance,
        rank_scores,
        read_window,
        split_samples,
    )

    stage = timer.stage if timer is not None else lambda name: contextlib.nullcontext()
    fit, scored, fitted_on = split_samples(cube, settings.random_state, positions=True)
    axis = cube.axis.values
    models = {}
    # the autoencoder learns on the comparison window and every method is scored there: read once
    window = read_window(cube) if "autoencoder" in _methods(settings) else None
    for method in _methods(settings):
        with stage(f"fit {method}"):
            if method in LINEAR:
                models[method] = fit_low_rank(fit, scored, axis, method, rank=settings.rank)
            else:
                try:
                    mnf = models.get("mnf") or fit_low_rank(fit, scored, axis, "mnf")
                    models[method] = autoencoder_denoiser(cube, settings, mnf, fitted_on, progress, window)
                except ShapeError as exc:
                    if settings.method != "auto":
                        raise
                    warnings.warn(f"auto compared the other methods only: {exc}", DataWarning, stacklevel=2)
    if "autoencoder" not in models:
        curves = {name: model.scores for name, model in models.items()}
        scores = {name: model.scores[model.rank] for name, model in models.items()}
        return models, scores, curves, noise_variance(fit)
    with stage("score"):
        image, held = window[0], models["autoencoder"].scored
        scores, curves = {}, {}
        for name, model in models.items():
            if name in LINEAR:
                curves[name] = rank_scores(model, image[held], axis)
                scores[name] = curves[name][model.rank]
            else:
                scores[name] = holdout_score(model.denoise_image, image, axis, scored=held)
    return models, scores, curves, noise_variance(fit)


def execute(cube: Cube, settings: DenoiseSettings, session: Session) -> DenoiseResult:
    """Fit and score every method asked for (:func:`compare_methods`), then denoise the cube
    with the chosen one (lazily for a lazy cube)."""
    models, scores, curves, floor = compare_methods(cube, settings, session.progress, session.timer)
    scored = [name for name, score in scores.items() if np.isfinite(score)]
    if not scored:
        raise ShapeError(
            f"No denoising method could be scored on this cube (hold-out scores {scores}): its spectra may hold "
            "values that are not finite in every pixel. Check it with chemmap info."
        )
    chosen = min(scored, key=scores.get)
    with session.timer.stage("denoise"):
        denoised = models[chosen].denoise(_in_bands(cube))
    return DenoiseResult(cube, denoised, chosen, models, scores, floor, settings, curves=curves)


def _in_bands(cube: Cube) -> Cube:
    """``cube``, or, where its float32 denoised copy would pass
    :data:`~chemmap._shared.compute.INTERMEDIATE_SHARE` of the memory limit, the same pixels
    as a Dask array of bands of rows, so that the copy is computed and written band by band
    instead of held whole."""
    from chemmap._shared.compute import INTERMEDIATE_SHARE, active_settings

    h, w = cube.image_shape
    row_bytes = w * cube.n_channels * 4
    if cube.is_lazy or h * row_bytes <= INTERMEDIATE_SHARE * active_settings().memory_limit:
        return cube
    import dask.array as da

    band = row_blocks(h, row_bytes)[0].stop
    return cube.replace(data=da.from_array(cube.data, chunks=(band, w, cube.n_channels)))


def _metrics(result: DenoiseResult) -> dict:
    """``metrics.json``: the chosen method and why, and each method's hold-out score and
    rank. The score ranks methods; it is not an error against the clean cube (the held-out
    bands' interpolation and the noise estimate both enter it), so none is claimed."""
    methods = {
        name: {"holdout_mse": score, **result.models[name].to_dict()}
        for name, score in sorted(result.scores.items(), key=lambda item: item[1])
    }
    for entry in methods.values():
        entry.setdefault("rank", None)
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
            "pixels": (
                "the held-out squares of a checkerboard over the central window; the autoencoder learned from "
                "the others"
                if "autoencoder" in result.models
                else "a seeded sample, disjoint from the one the methods were fitted on"
            ),
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
    chosen = result.models[result.chosen]
    strongest = int(np.argmax(getattr(chosen, "linear", chosen).mean))
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
    curves = result.curves
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
