"""The spectral-autoencoder workflow behind ``chemmap autoencoder``: train (or load) the
model, denoise and encode every pixel in one streamed pass, segment the latent image
(Gaussian mixture or k-means, optional pixel coordinates and Potts smoothing), and write the
cubes, maps, figures, model and metrics into one output folder atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from chemmap._shared.compute import compute
from chemmap._shared.params import Param
from chemmap._shared.progress import notify
from chemmap.cluster.methods import cluster_methods
from chemmap.cluster.spectra import cluster_spectra
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError
from chemmap.deep.autoencoder.settings import TrainSettings
from chemmap.workflows.config import check_k, check_k_range
from chemmap.workflows.session import Session, Timer, versions
from chemmap.workflows.shape import Workflow
from chemmap.workflows.staging import NpyRowWriter

__all__ = [
    "AUTOENCODER",
    "AUTOENCODER_OUTPUT_FILES",
    "AutoencoderResult",
    "AutoencoderSettings",
    "execute",
    "run_autoencoder",
    "summary",
    "write",
]

#: Files and folders every ``chemmap autoencoder`` run writes.
AUTOENCODER_OUTPUT_FILES = (
    "denoised.npy",
    "latent.npy",
    "cluster_map.npy",
    "cluster_map.png",
    "cluster_spectra.png",
    "cluster_spectra.npz",
    "loss_curves.png",
    "reconstructions.png",
    "band_reconstructions.png",
    "model",
    "config.resolved.toml",
    "metrics.json",
    "report.html",
    "run_record.json",
)
#: Pixels drawn in ``reconstructions.png`` when none are asked for: the most typical
#: pixel of each of the largest clusters.
RECONSTRUCTION_PANELS = 6


def _resample(value, name, func):
    if isinstance(value, str) and value != "model":
        value = int(value) if value.isdigit() else value
    if value == "model" or (isinstance(value, int) and not isinstance(value, bool) and value >= 2):
        return value
    raise InvalidParameterError(
        f"The {name!r} parameter of {func} must be a channel count >= 2 or 'model'. Got {value!r} instead."
    )


def _pixels(value, name, func) -> list[tuple[int, int]]:
    """Pixels from a list of ``[row, col]`` or ``"ROW,COL;ROW,COL"``."""
    if isinstance(value, str):
        value = [item.split(",") for item in value.split(";") if item.strip()]
    try:
        pixels = [(int(row), int(col)) for row, col in value]
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be [row, col] pairs, e.g. 12,40;3,7. Got {value!r} instead."
        ) from None
    return pixels


class AutoencoderSettings(TrainSettings):
    """Options of the autoencoder workflow, the ``[autoencoder]`` table of a config: the
    training options of :class:`~chemmap.deep.autoencoder.settings.TrainSettings` and those of the
    workflow, declared once in :data:`AutoencoderSettings.PARAMS`.

    ``clusters = "auto"`` picks the lowest BIC in ``k_range``; ``resample`` resamples every
    spectrum first (never extrapolating) onto ``N`` evenly spaced channels over the cube's
    range, or onto the axis of the loaded ``model``; by default the model takes the cube's own
    channels, any number. ``pixels`` default to the most typical pixel of each of the
    largest clusters.
    """

    PARAMS: ClassVar[dict[str, Param]] = {
        **TrainSettings.PARAMS,
        "model": Param("str", None, allow_none=True, doc="model folder of an earlier run, applied instead of training"),
        "clusters": Param("any", "auto", check=check_k, doc="clusters of the latent image: K or auto (BIC)"),
        "method": Param("choice", "gmm", choices=tuple(cluster_methods.names()), doc="latent clustering"),
        "spatial_weight": Param("float", 0.0, low=0, doc="weight of the pixel coordinates joined to the latent"),
        "smoothing": Param("float", 1.0, low=0, doc="Potts smoothing of the cluster map, nats per agreeing neighbour"),
        "k_range": Param("any", [2, 10], check=check_k_range, doc="k searched when clusters = auto"),
        "resample": Param(
            "any",
            None,
            allow_none=True,
            check=_resample,
            doc="resample first: onto N channels, or the model's axis",
        ),
        "pixels": Param("any", [], check=_pixels, doc="pixels drawn in reconstructions.png, e.g. 12,40;3,7"),
    }

    def check(self) -> None:
        if self.resample == "model" and self.model is None:
            raise InvalidParameterError("resample='model' needs a model folder to take the axis from.")


@dataclass
class AutoencoderResult:
    """What an autoencoder run produced (arrays in memory except the denoised cube, which is
    streamed into the output folder)."""

    trained: object
    cube: Cube
    latent: np.ndarray
    labels: np.ndarray
    segmentation: object
    score: object
    settings: AutoencoderSettings
    baseline: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    out_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def record(self) -> dict:
        """Entries of ``run_record.json`` beside the common ones."""
        return {"settings": self.settings.to_dict()}


def execute(cube: Cube, settings: AutoencoderSettings, session: Session) -> AutoencoderResult:
    """Train (or load) the autoencoder, stream the denoised cube into
    ``session.workspace / "denoised.npy"``, encode every pixel and segment the latent image."""
    if session.workspace is None:
        raise InvalidParameterError(
            "The autoencoder workflow streams its denoised cube into the output folder; give one (out=...)."
        )
    _check_pixels(settings.pixels, cube.image_shape)
    trained, cube = _trained(cube, settings, session.timer, session.progress)
    with session.timer.stage("baseline"):
        baseline = denoising_baseline(trained, cube, settings)
    with session.timer.stage("inference"):
        target = session.workspace / "denoised.npy"
        latent, score = _denoise_and_encode(trained, cube, target, settings, session.progress)
    with session.timer.stage("segmentation"):
        segmentation = _segment(latent, cube, settings)
    return AutoencoderResult(
        trained,
        cube,
        latent,
        segmentation.labels,
        segmentation,
        score,
        settings,
        baseline=baseline,
        warnings=session.warnings(),
    )


def denoising_baseline(trained, cube: Cube, settings: AutoencoderSettings) -> dict:
    """The autoencoder's denoising against MNF at the rank ``chemmap denoise`` would choose,
    both by the hold-out score of :mod:`chemmap.decomposition.denoise` on one seeded sample
    of pixels (no clean cube needed), and which of the two to use for a denoised cube."""
    from chemmap.decomposition.denoise import fit_low_rank, holdout_score, split_samples
    from chemmap.deep.autoencoder.inference import denoise_spectra

    fit, scored = split_samples(cube, settings.random_state)
    mnf = fit_low_rank(fit, scored, cube.axis.values, "mnf")
    ae = holdout_score(
        lambda s: denoise_spectra(trained, s, cube.axis, device=settings.device), scored, cube.axis.values
    )
    mnf_score = mnf.scores[mnf.rank]
    use = "autoencoder" if ae <= mnf_score else "mnf"
    return {
        "autoencoder_holdout_mse": ae,
        "mnf_holdout_mse": mnf_score,
        "mnf_rank": mnf.rank,
        "recommendation": (
            "the autoencoder's denoised cube: it scores at or below MNF"
            if use == "autoencoder"
            else f"MNF for a denoised cube, or chemmap denoise, which also compares the MNF autoencoder (another "
            f"model, that uses the neighbours) and applies the best: this autoencoder's hold-out score is "
            f"{ae / mnf_score:.2f}x MNF's; the latent features and clusters here stand on their own"
        ),
    }


def summary(result: AutoencoderResult) -> str:
    """What ``chemmap autoencoder`` prints: the reconstruction error, the clusters, the files."""
    recon, seg = result.metrics["reconstruction"], result.metrics["segmentation"]
    use = result.metrics["denoising_against_mnf"]["recommendation"]
    return (
        f"reconstruction RMSE {recon['rmse']:.4g}, mean spectral angle {recon['mean_sam']:.4g} rad; "
        f"{seg['k']} clusters ({seg['method']})\n"
        f"denoising: use {use}\n"
        f"wrote denoised.npy, latent.npy, cluster_map, figures, model/ and metrics.json to {result.out_dir}"
    )


def _trained(cube: Cube, settings: AutoencoderSettings, timer: Timer, progress):
    """The loaded or trained model and the cube on its axis (resampled when asked)."""
    from chemmap.preprocessing import resample

    if settings.model is not None:
        from chemmap.deep.autoencoder.inference import check_axis
        from chemmap.deep.autoencoder.persist import load_autoencoder

        with timer.stage("load model"):
            trained = load_autoencoder(settings.model)
            if settings.resample == "model":
                cube = resample(cube, to=trained.axis_values)
            check_axis(trained, cube.axis)
        return trained, cube
    from chemmap.deep.autoencoder.training import train_autoencoder

    if settings.resample is not None:
        cube = resample(cube, to=np.linspace(cube.axis.start, cube.axis.stop, settings.resample))
    with timer.stage("training"):
        return train_autoencoder(cube, progress=progress, **settings.training_options()), cube


def _denoise_and_encode(trained, cube: Cube, target: Path, settings: AutoencoderSettings, progress):
    """One pass in bands of rows: the denoised cube into ``target`` (a .npy on disk), the
    latent image in memory, and the reconstruction metrics of the input."""
    from chemmap.deep.autoencoder.inference import autoencode
    from chemmap.deep.autoencoder.training import row_bands
    from chemmap.metrics.reconstruction import ReconstructionScore

    denoised, latent = autoencode(trained, cube, device=settings.device)
    h, w = cube.image_shape
    latent_image = np.empty((h, w, latent.n_channels), dtype=np.float32)
    score = ReconstructionScore(cube.n_channels)
    bands = row_bands(cube)
    with NpyRowWriter(target, (h, w, cube.n_channels), np.float32) as out:
        for i, rows in enumerate(bands):
            x, d, z = compute(cube.data[rows], denoised.data[rows], latent.data[rows], stage="autoencoder inference")
            out.write(d)
            latent_image[rows] = z
            score.add(x, d)
            notify(progress, "denoising and encoding", i + 1, len(bands))
    return latent_image, score


def _segment(latent: np.ndarray, cube: Cube, settings: AutoencoderSettings):
    from chemmap.cluster.spatial import segment_feature_image

    valid = cube.valid_pixels().reshape(cube.image_shape)
    return segment_feature_image(
        latent,
        k=settings.clusters,
        method=settings.method,
        valid=valid,
        spatial_weight=settings.spatial_weight,
        smoothing=settings.smoothing,
        k_range=tuple(settings.k_range),
        random_state=settings.random_state,
    )


def typical_pixels(latent: np.ndarray, labels: np.ndarray, n: int) -> list[tuple[int, int]]:
    """For each of the ``n`` largest clusters, the pixel whose latent vector is nearest the
    cluster's mean latent vector."""
    flat, lab = latent.reshape(-1, latent.shape[-1]), labels.reshape(-1)
    sizes = np.bincount(lab[lab >= 0])
    pixels = []
    for c in np.argsort(-sizes, kind="stable")[:n]:
        members = np.flatnonzero(lab == c)
        if members.size:
            distance = np.sum((flat[members] - flat[members].mean(axis=0)) ** 2, axis=1)
            pixels.append(tuple(int(v) for v in np.divmod(members[np.argmin(distance)], labels.shape[1])))
    return pixels


def write(result: AutoencoderResult, stage: Path, session: Session) -> None:
    """Beside ``denoised.npy`` (height x width x channels, float32, the input's units):
    ``latent.npy`` (height x width x latent_dim), ``cluster_map.npy`` (int32, -1 = masked)
    and ``.png``, ``cluster_spectra.png`` / ``.npz`` (mean input ± s.d. and decoded latent
    mean of each cluster), ``loss_curves.png``, ``reconstructions.png``,
    ``band_reconstructions.png`` (input and reconstructed images at three bands), ``model/``,
    ``metrics.json`` and ``report.html``."""
    from chemmap.deep.autoencoder.inference import decode_latent
    from chemmap.deep.autoencoder.persist import save_autoencoder
    from chemmap.report.html import write_html
    from chemmap.report.metrics_json import write_metrics_json
    from chemmap.report.pages import autoencoder_report
    from chemmap.viz.figures import draw_in_forks

    cube, settings = result.cube, result.settings
    labels, k = result.labels, result.segmentation.k
    np.save(stage / "latent.npy", result.latent)
    np.save(stage / "cluster_map.npy", labels.astype(np.int32))
    means, stds, counts = cluster_spectra(cube.pixels(), labels.reshape(-1), k, progress=session.progress)
    latent_means = np.stack(
        [
            result.latent.reshape(-1, result.latent.shape[-1])[labels.reshape(-1) == c].mean(axis=0)
            if counts[c]
            else np.zeros(result.latent.shape[-1])
            for c in range(k)
        ]
    )
    decoded = decode_latent(result.trained, latent_means)
    with open(stage / "cluster_spectra.npz", "wb") as fh:
        np.savez(fh, axis=cube.axis.values, mean=means, std=stds, decoded=decoded, counts=counts)
    save_autoencoder(result.trained, stage / "model")
    pixels = [tuple(p) for p in settings.pixels] or typical_pixels(result.latent, labels, RECONSTRUCTION_PANELS)
    result.metrics = _metrics(result, cube, result.score, counts, settings)
    with session.timer.stage("figures"):
        draw_in_forks(_figure_jobs(result, cube, stage, means, stds, decoded, pixels))
        report = autoencoder_report(result, cube, (means, stds, counts), command=session.command, versions=versions())
        write_html(report, stage / "report.html")
    write_metrics_json(result.metrics, stage / "metrics.json")


AUTOENCODER = Workflow(
    command="autoencoder",
    help="train a spectral autoencoder: denoised cube, latent features and a latent segmentation (needs 'deep')",
    settings=AutoencoderSettings,
    execute=execute,
    write=write,
    summary=summary,
)

#: ``run_autoencoder(source, out_dir, settings=None, *, format=None, read_options=None,
#: session=None)``: read ``source`` (or take a Cube), train or load the autoencoder and write
#: every output (see :func:`execute` and :func:`write`) into ``out_dir``, all or nothing. The
#: cube is read in bands of rows; the denoised cube is streamed to disk.
run_autoencoder = AUTOENCODER.run


#: Bands shown in ``band_reconstructions.png``.
SHOWCASE_BANDS = 3


def showcase_channels(cluster_means: np.ndarray, n: int = SHOWCASE_BANDS) -> list[int]:
    """Channels where the clusters' mean spectra differ most, at least a tenth of the axis
    apart (the bands a map of this image would be read at)."""
    spread = np.nanstd(cluster_means, axis=0) if cluster_means.shape[0] > 1 else np.nanmean(cluster_means, axis=0)
    spread = np.nan_to_num(spread, nan=-np.inf)
    gap = max(1, spread.size // 10)
    chosen: list[int] = []
    for channel in np.argsort(-spread, kind="stable"):
        if all(abs(int(channel) - c) >= gap for c in chosen):
            chosen.append(int(channel))
        if len(chosen) == min(n, spread.size):
            break
    return sorted(chosen)


def _check_pixels(pixels, image_shape) -> None:
    h, w = image_shape
    for row, col in pixels:
        if not (0 <= row < h and 0 <= col < w):
            raise InvalidParameterError(f"Pixel (row {row}, col {col}) is outside the {h} x {w} image.")


def _metrics(result: AutoencoderResult, cube: Cube, score, counts, settings) -> dict:
    from chemmap.metrics.clustering import external_scores

    trained, seg = result.trained, result.segmentation
    history = trained.history
    metrics = {
        "reconstruction": score.result(),
        "denoising_against_mnf": result.baseline,
        "training": {
            "loaded_from": settings.model,
            "epochs_run": len(history),
            "best_epoch": trained.best_epoch,
            "epochs_counted_from": 1,
            "best_val_loss": history[trained.best_epoch - 1]["val_loss"] if history else None,
            "final_train_loss": history[-1]["train_loss"] if history else None,
            "settings": trained.settings,
        },
        "segmentation": {
            "method": seg.method,
            "k": seg.k,
            "bic": seg.bic,
            "k_selection": seg.k_selection,
            "spatial_weight": settings.spatial_weight,
            "smoothing": settings.smoothing,
            "smoothing_changed_pixels": seg.smoothing_changed,
            "cluster_sizes": counts.tolist(),
        },
        "warnings": result.warnings,
    }
    if cube.labels is not None:
        metrics["segmentation"]["against_labels"] = external_scores(cube.labels, result.labels, cube.label_names)
    return metrics


def _figure_jobs(result: AutoencoderResult, cube: Cube, stage: Path, means, stds, decoded, pixels) -> list:
    """One job for each figure (see :func:`chemmap._shared.forked.run_forked`); the input
    spectra they show are read here, before the jobs are shared out."""
    from chemmap.viz.autoencoder import (
        plot_band_reconstructions,
        plot_cluster_representatives,
        plot_loss_curves,
        plot_reconstructions,
    )
    from chemmap.viz.figures import new_figure, plot_label_map, save_figure

    names = [f"cluster {c}" for c in range(result.segmentation.k)]
    unit = cube.axis.unit
    rows = np.array([p[0] for p in pixels], dtype=np.intp)
    cols = np.array([p[1] for p in pixels], dtype=np.intp)
    denoised = np.load(stage / "denoised.npy", mmap_mode="r")
    (inputs,) = compute(cube.data[rows, cols] if not cube.is_lazy else cube.data.vindex[rows, cols])
    channels = showcase_channels(means)
    (band_inputs,) = compute(cube.data[..., channels])

    def cluster_map() -> None:
        fig = new_figure(7.5, 5.5)
        plot_label_map(fig.subplots(), result.labels, names, title="Clusters of the latent features")
        save_figure(fig, stage / "cluster_map.png")

    def cluster_spectra() -> None:
        fig = new_figure(10, 5.5)
        plot_cluster_representatives(
            fig.subplots(),
            cube.axis.values,
            unit,
            means,
            stds,
            decoded,
            names,
            title="Cluster spectra: mean input (solid) and decoded latent mean (dashed)",
        )
        save_figure(fig, stage / "cluster_spectra.png")

    def loss_curves() -> None:
        fig = new_figure(11, 4.2)
        plot_loss_curves(fig, result.trained.history, result.trained.best_epoch)
        save_figure(fig, stage / "loss_curves.png")

    def reconstructions() -> None:
        n = len(pixels)
        fig = new_figure(4.2 * min(3, n), 3.3 * -(-n // 3))
        plot_reconstructions(fig, cube.axis.values, unit, np.asarray(inputs), denoised[rows, cols], pixels)
        save_figure(fig, stage / "reconstructions.png")

    def band_reconstructions() -> None:
        fig = new_figure(4.4 * len(channels), 7.2)
        plot_band_reconstructions(
            fig, np.asarray(band_inputs, dtype=np.float64), denoised[..., channels], cube.axis.values[channels], unit
        )
        save_figure(fig, stage / "band_reconstructions.png")

    jobs = [cluster_map, cluster_spectra, reconstructions, band_reconstructions]
    return jobs + ([loss_curves] if result.trained.history else [])
