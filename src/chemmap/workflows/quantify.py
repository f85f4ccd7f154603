"""Quantitative maps from per-sample reference values, end to end: train PLS baselines and
U-Nets on the same splits of a sample set and compare them on the test samples
(``chemmap quantify compare``), train one model and save it (``quantify train``), and map
new cubes with a saved model (``quantify predict``)."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

import numpy as np

from chemmap._shared.params import Param, Settings, check_counts
from chemmap.core.exceptions import ConfigError, InvalidParameterError
from chemmap.workflows.config import reader_options
from chemmap.workflows.session import Session, versions
from chemmap.workflows.shape import Workflow

__all__ = [
    "COMPARE",
    "COMPARISON_KEYS",
    "MODEL_NAMES",
    "PREDICT",
    "TRAIN",
    "PredictSettings",
    "QuantifySettings",
    "QuantifyTrainSettings",
    "build_model",
    "load_model",
    "run_compare",
    "run_predict",
    "run_train",
]

#: ``pls-mean``: PLS calibrated on masked mean spectra; ``pls-pixels``: on subsampled
#: pixels carrying their sample's reference; ``unet-paper``: the paper's setup;
#: ``unet``: chemmap's improved U-Net.
MODEL_NAMES = ("pls-mean", "pls-pixels", "unet-paper", "unet")
FIGURE_SAMPLES = 4
MANIFEST_HELP = "CSV: cube, reference[, mask, split, truth], or a .toml config"
#: The scores of every model in ``comparison.json`` (beside intercept, r2, counts, seconds).
COMPARISON_KEYS = (
    "rmse_mean",
    "bias",
    "slope",
    "out_of_range_fraction",
    "spatial_variance_fraction",
    "pixel_rmse",
    "pixel_corr",
)


def _models(value, name, func) -> tuple[str, ...]:
    """Model names from a list or ``"pls-mean,unet"``, each of :data:`MODEL_NAMES`."""
    items = value.split(",") if isinstance(value, str) else value
    names = tuple(str(m).strip() for m in items if str(m).strip()) if isinstance(items, list | tuple) else ()
    if not names or any(m not in MODEL_NAMES for m in names):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must name models among {', '.join(MODEL_NAMES)}. Got {value!r} instead."
        )
    return names


class QuantifySettings(Settings):
    """Options of the quantify workflows, the ``[quantify]`` table of a config, declared once
    in :data:`QuantifySettings.PARAMS`.

    ``models`` are compared in their order; by default every model the device suits
    (:func:`compare_models`): all of them with a CUDA device, all but the paper-size U-Net on
    a CPU unless it is named. ``train`` trains exactly one. ``epochs`` caps the U-Nets'
    epochs (their presets: paper 250, improved 60); ``widths`` replaces their level widths
    (paper 64-1024, improved 16-128): a narrower paper network keeps CPU runs short.
    """

    SECTION = "quantify"
    PARAMS: ClassVar[dict[str, Param]] = {
        "models": Param(
            "any",
            None,
            allow_none=True,
            check=_models,
            doc="models, e.g. pls-mean,unet (default: all the device suits)",
        ),
        "low": Param("float", 0.0, doc="physical minimum of the quantity"),
        "high": Param("float", 100.0, doc="physical maximum of the quantity"),
        "unit": Param("str", "%", doc="unit of the reference values"),
        "test_fraction": Param(
            "float",
            0.25,
            low=0,
            high=1,
            low_inclusive=False,
            high_inclusive=False,
            doc="held-out share of the samples when the manifest has no split column",
        ),
        "pls_preprocess": Param("choice", "none", choices=("none", "snv", "snv+d1"), doc="spectra before PLS"),
        "pls_max_components": Param("int", 15, low=1, doc="most PLS components tried by cross-validation"),
        "epochs": Param(
            "int", None, low=1, allow_none=True, doc="cap on U-Net epochs (presets: paper 250, improved 60)"
        ),
        "widths": Param("any", None, allow_none=True, check=check_counts, doc="U-Net level widths, e.g. 16,32,64,128"),
        "n_folds": Param("int", 5, low=2, doc="folds of PLS cross-validation and U-Net ensembles"),
        "device": Param("choice", "auto", choices=("auto", "cpu", "cuda"), doc="auto: CUDA when present"),
        "random_state": Param("int", 0, low=0, flag="seed", doc="random seed"),
    }

    def check(self) -> None:
        if not self.high > self.low:
            raise InvalidParameterError(f"high must exceed low; got low={self.low}, high={self.high}.")


def _one_model(value, name, func) -> str:
    """A model name of :data:`MODEL_NAMES`, ``pls`` standing for ``pls-mean``."""
    (model,) = _models("pls-mean" if value == "pls" else value, name, func)[:1]
    return model


class QuantifyTrainSettings(QuantifySettings):
    """The settings of ``quantify train``: those of :class:`QuantifySettings` and the one model
    trained, named by ``model`` or by ``models`` with one name."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "model": Param(
            "any",
            None,
            allow_none=True,
            check=_one_model,
            doc="the model to train: pls (pls-mean), pls-pixels, unet-paper or unet",
        ),
        **QuantifySettings.PARAMS,
    }

    def check(self) -> None:
        super().check()
        named = ([self.model] if self.model else []) + list(self.models or [])
        if len(set(named)) != 1:
            raise InvalidParameterError(
                "quantify train trains one model: give --model (or models with one name); "
                f"got {', '.join(named) or 'none'}."
            )

    @property
    def trained_model(self) -> str:
        return self.model or self.models[0]


class PredictSettings(Settings):
    """The settings of ``quantify predict``: the saved model and the physical range of the
    quantity, the ``[predict]`` table of a config."""

    SECTION = "predict"
    PARAMS: ClassVar[dict[str, Param]] = {
        "model": Param("str", file=True, doc="folder written by 'chemmap quantify train'"),
        **{k: QuantifySettings.PARAMS[k] for k in ("low", "high", "unit")},
    }
    check = QuantifySettings.check  # the physical range


#: Why ``compare`` leaves the paper's U-Net out on a CPU when no models are named.
PAPER_UNET_ON_CPU = (
    "the paper-size U-Net (level widths 64-1024, 250 epochs, 5 folds) took about 17 hours on a 2-core CPU; "
    "name it to train it anyway (--models pls-mean,pls-pixels,unet-paper,unet), or run on a CUDA device"
)


def compare_models(settings: QuantifySettings) -> tuple[tuple[str, ...], dict[str, str]]:
    """The models ``compare`` trains, and those it leaves out with why: ``settings.models``
    when given; otherwise all of :data:`MODEL_NAMES` on a CUDA device and all but
    ``unet-paper`` on a CPU."""
    if settings.models is not None:
        return tuple(settings.models), {}
    from chemmap.deep._torch import pick_device

    if pick_device(settings.device).type == "cuda":
        return MODEL_NAMES, {}
    return tuple(m for m in MODEL_NAMES if m != "unet-paper"), {"unet-paper": PAPER_UNET_ON_CPU}


def build_model(name: str, settings: QuantifySettings):
    """An unfitted mapper (``fit(samples, validation=)``, ``predict_map``, ``save``)."""
    if name not in MODEL_NAMES:
        raise InvalidParameterError(f"model must be one of {list(MODEL_NAMES)}; got {name!r}.")
    if name.startswith("pls"):
        from chemmap.supervised.pls import PLSMapper

        return PLSMapper(
            calibration=name.split("-")[1],
            preprocess=settings.pls_preprocess,
            max_components=settings.pls_max_components,
            n_folds=settings.n_folds,
            random_state=settings.random_state,
        )
    from chemmap.deep.unet.estimator import UNetMapper
    from chemmap.deep.unet.training import unet_settings

    overrides = {
        "low": settings.low,
        "high": settings.high,
        "n_folds": settings.n_folds,
        "device": settings.device,
        "random_state": settings.random_state,
    }
    if settings.widths is not None:
        overrides["widths"] = tuple(settings.widths)
    mode = "paper" if name == "unet-paper" else "improved"
    if settings.epochs is not None:
        overrides["max_epochs"] = settings.epochs
    return UNetMapper(unet_settings(mode, **overrides), device="cpu" if settings.device == "cpu" else "auto")


def load_model(folder):
    """A fitted mapper from a folder written by ``quantify train`` (PLS or U-Net)."""
    from chemmap.core.exceptions import FileFormatError, InputFileNotFoundError

    config_path = Path(folder) / "model.json"
    if not config_path.is_file():
        raise InputFileNotFoundError(
            f"{config_path} does not exist; give a folder written by 'chemmap quantify train'."
        )
    try:
        kind = json.loads(config_path.read_text(encoding="utf-8")).get("format")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, RecursionError) as err:
        raise FileFormatError(f"{config_path} is not a chemmap model description ({err}).") from None
    if kind == "chemmap-pls":
        from chemmap.supervised.pls import PLSMapper

        return PLSMapper.load(folder)
    if kind == "chemmap-spectral-unet":
        from chemmap.deep.unet.estimator import UNetMapper

        return UNetMapper.load(folder)
    raise FileFormatError(f"{config_path} describes {kind!r}, not a PLS or U-Net quantitative model.")


#: The splits of a manifest, in the order :func:`_split` returns them.
SPLITS = ("train", "val", "test")


def _split(entries, settings: QuantifySettings):
    """Train, validation and test entries: the manifest's ``split`` column, or a seeded
    hold-out of ``test_fraction`` of the samples."""
    if any(e.split for e in entries):
        train = [e for e in entries if e.split in (None, "train")]
        val = [e for e in entries if e.split == "val"]
        test = [e for e in entries if e.split == "test"]
    else:
        order = np.random.default_rng(settings.random_state).permutation(len(entries))
        n_test = min(max(1, round(settings.test_fraction * len(entries))), len(entries) - 3)
        test = [entries[i] for i in sorted(order[:n_test])]
        train = [entries[i] for i in sorted(order[n_test:])]
        val = []
    if len(train) < 3:
        raise ConfigError(f"{len(train)} training samples; a quantitative model needs at least 3.")
    return train, val, test


def _load(entries, read_options):
    from chemmap.supervised.samples import load_sample

    return [load_sample(e, **(read_options or {})) for e in entries]


def _check_axes(samples) -> None:
    from chemmap._shared.model_axis import check_model_axis

    first = samples[0].cube.axis
    for sample in samples[1:]:
        check_model_axis(first.values, first.unit, sample.cube.axis)


@dataclass
class CompareResult:
    """The scores and test maps of every model compared (``comparison.json`` holds the scores)."""

    comparison: dict
    maps: dict
    test: list
    splits: dict
    left_out: dict
    settings: QuantifySettings
    manifest: str
    out_dir: Path | None = None

    @property
    def record(self) -> dict:
        models = list(self.comparison)
        return {
            "settings": {**self.settings.to_dict(), "models": models},
            "models_left_out": self.left_out,
            "splits": self.splits,
        }


def execute_compare(manifest, settings: QuantifySettings, session: Session) -> CompareResult:
    """Train every model of ``settings.models`` (default: those the device suits, see
    :func:`compare_models`) on the same training samples and score its maps of the test samples."""
    from chemmap.metrics.regression import quantitative_map_scores
    from chemmap.supervised.samples import read_manifest

    entries = read_manifest(manifest)
    train_entries, val_entries, test_entries = _split(entries, settings)
    if not test_entries:
        raise ConfigError(
            f"{manifest} marks no sample split=test; compare scores models on test samples. "
            "Mark some rows test, or drop the split column to hold out a share of the samples."
        )
    read_options = reader_options(session.input)
    with session.timer.stage("read samples"):
        train, val, test = (_load(e, read_options) for e in (train_entries, val_entries, test_entries))
        _check_axes(train + val + test)
    models, left_out = compare_models(settings)
    comparison, maps = {}, {}
    for name in models:
        model = build_model(name, settings)
        started = time.perf_counter()
        with session.timer.stage(f"fit {name}"):
            model.fit(train, validation=val or None, progress=session.progress)
        fit_seconds = time.perf_counter() - started
        with session.timer.stage(f"map {name}"):
            maps[name] = [model.predict_map(s) for s in test]
        comparison[name] = {
            **quantitative_map_scores(test, maps[name], low=settings.low, high=settings.high),
            "fit_seconds": round(fit_seconds, 2),
        }
    splits = {name: [s.name for s in part] for name, part in zip(SPLITS, (train, val, test), strict=True)}
    return CompareResult(comparison, maps, test, splits, left_out, settings, str(manifest))


def write_compare(result: CompareResult, stage: Path, session: Session) -> None:
    """``comparison.json`` (one object per model: ``rmse_mean``, ``bias``, ``slope``,
    ``intercept``, ``r2``, ``out_of_range_fraction``, ``spatial_variance_fraction``,
    ``pixel_rmse``, ``pixel_corr``, ``fit_seconds``, ``per_sample``), ``maps.png`` (the maps
    of up to four test samples side by side), ``test_maps.npz`` (every test map, keys
    ``<model>/<sample>``), ``samples/<sample>.html`` (each test sample's interactive page:
    every model's map beside the spectra) and ``report.md``."""
    from chemmap._shared.atomic import write_text_atomic

    settings = result.settings
    _write_comparison(stage, result.comparison, result.maps, result.test, settings)
    _write_sample_pages(stage / "samples", result.comparison, result.maps, result.test, settings, session.command)
    report = _compare_report(result.comparison, result.splits, settings, result.manifest, result.left_out)
    write_text_atomic(stage / "report.md", report)


def summary_compare(result: CompareResult) -> str:
    """What ``chemmap quantify compare`` prints: each model's scores, then the files."""
    lines = []
    for name, scores in result.comparison.items():
        pixel = scores.get("pixel_rmse")
        svf = scores.get("spatial_variance_fraction")
        lines.append(
            f"{name}: RMSE of the mean {scores['rmse_mean']:.3g}, out of range {scores['out_of_range_fraction']:.1%}"
            + (f", spatial variance {svf:.1%}" if svf is not None else "")
            + (f", pixel RMSE {pixel:.3g}" if pixel is not None else "")
        )
    lines.append(f"wrote comparison.json, maps.png and report.md to {result.out_dir}")
    return "\n".join(lines)


def _write_sample_pages(folder: Path, comparison: dict, maps: dict, test, settings: QuantifySettings, command) -> None:
    """``<sample>.html`` for each test sample: every model's map, switchable, beside the spectra."""
    from chemmap.report.html import write_html
    from chemmap.report.pages import prediction_report

    folder.mkdir()
    for i, sample in enumerate(test):
        page = prediction_report(
            sample,
            {name: maps[name][i] for name in maps},
            {name: comparison[name]["per_sample"][i] for name in maps},
            low=settings.low,
            high=settings.high,
            unit=settings.unit,
            command=command,
            versions=versions(),
        )
        write_html(page, folder / f"{sample.name}.html")


def _write_comparison(stage: Path, comparison: dict, maps: dict, test, settings: QuantifySettings) -> None:
    from chemmap._shared.atomic import write_text_atomic
    from chemmap.report.metrics_json import to_json_safe
    from chemmap.viz.figures import new_figure, save_figure
    from chemmap.viz.quantify import plot_model_maps

    write_text_atomic(stage / "comparison.json", json.dumps(to_json_safe(comparison), indent=2) + "\n")
    with open(stage / "test_maps.npz", "wb") as fh:
        np.savez_compressed(
            fh, **{f"{name}/{s.name}": m for name, ms in maps.items() for s, m in zip(test, ms, strict=True)}
        )
    shown = slice(0, FIGURE_SAMPLES)
    columns = len(maps) + any(s.truth is not None for s in test)
    fig = new_figure(2.4 * columns + 1.5, 2.3 * len(test[shown]) + 0.6)
    plot_model_maps(
        fig,
        test[shown],
        {k: v[shown] for k, v in maps.items()},
        low=settings.low,
        high=settings.high,
        unit=settings.unit,
    )
    save_figure(fig, stage / "maps.png")


def _compare_report(comparison: dict, splits: dict, settings: QuantifySettings, manifest, left_out: dict) -> str:
    from chemmap.report.tables import format_value

    keys = COMPARISON_KEYS
    lines = [
        "# Quantitative maps: model comparison",
        "",
        f"- Sample set: `{manifest}`",
        f"- Samples: {len(splits['train'])} training, {len(splits['val'])} validation, {len(splits['test'])} test "
        "(the same for every model; a sample's pixels never straddle sets)",
        f"- Physical range: {settings.low:g} to {settings.high:g} {settings.unit}",
        *(f"- Left out: `{name}`: {why}." for name, why in left_out.items()),
        "",
        "## Scores on the test samples",
        "",
        "| model | " + " | ".join(keys) + " | fit s |",
        "|---|" + "---|" * (len(keys) + 1),
    ]
    for name, scores in comparison.items():
        lines.append(
            f"| {name} | " + " | ".join(format_value(scores.get(k)) for k in keys) + f" | {scores['fit_seconds']:.1f} |"
        )
    lines += [
        "",
        "## How to read this",
        "",
        "- `rmse_mean`, `bias`, `slope`: the masked mean of each test map against the sample's reference "
        f"({settings.unit}); a slope below 1 means the maps shrink towards the average sample.",
        "- `out_of_range_fraction`: share of sample pixels outside the physical range.",
        "- `spatial_variance_fraction`: share of each map's variance that is spatially correlated "
        "(exponential variogram: partial sill over total sill); near 0 the map is mostly pixel noise. "
        "A smooth map is not thereby a correct one: only `pixel_rmse` and `pixel_corr`, against "
        "per-pixel truth, say that.",
    ]
    best = min(comparison, key=lambda k: comparison[k]["rmse_mean"])
    lines.append(f"- Lowest RMSE of the mean: **{best}** ({comparison[best]['rmse_mean']:.3f} {settings.unit}).")
    with_truth = {k: v for k, v in comparison.items() if v.get("pixel_rmse") is not None}
    if with_truth:
        pixel_best = min(with_truth, key=lambda k: with_truth[k]["pixel_rmse"])
        lines.append(
            f"- Lowest per-pixel RMSE against truth: **{pixel_best}** "
            f"({with_truth[pixel_best]['pixel_rmse']:.3f} {settings.unit})."
        )
    else:
        lines.append("- No per-pixel truth: the correctness of individual pixels cannot be judged from this set.")
    lines += ["", "![maps of the test samples](maps.png)", ""]
    lines += ["Each test sample's maps, one model at a time, with its spectra: `samples/<sample>.html`.", ""]
    return "\n".join(lines)


@dataclass
class TrainResult:
    """One trained model and the scores of its training fit (``training.json``)."""

    mapper: object
    training: dict
    settings: QuantifySettings
    out_dir: Path | None = None

    @property
    def record(self) -> dict:
        return {"settings": self.settings.to_dict(), "splits": self.training["splits"]}


def execute_train(manifest, settings: QuantifyTrainSettings, session: Session) -> TrainResult:
    """Train ``settings.model`` on the training samples (``val`` samples stop U-Net training).

    Samples marked ``test`` in the manifest, or, without a ``split`` column, a seeded
    ``test_fraction`` of them, are held out: never read, never seen by the fit, and named in
    ``training.json`` so that ``quantify predict`` can score the model on them.
    """
    from chemmap.metrics.regression import mean_scores
    from chemmap.supervised.samples import read_manifest

    train_entries, val_entries, test_entries = _split(read_manifest(manifest), settings)
    read_options = reader_options(session.input)
    with session.timer.stage("read samples"):
        train, val = _load(train_entries, read_options), _load(val_entries, read_options)
        _check_axes(train + val)
    model = settings.trained_model
    mapper = build_model(model, settings)
    with session.timer.stage("fit"):
        mapper.fit(train, validation=val or None, progress=session.progress)
    splits = {
        name: [e.name for e in part]
        for name, part in zip(SPLITS, (train_entries, val_entries, test_entries), strict=True)
    }
    training = {
        "model": model,
        "training_samples": len(train),
        "validation_samples": len(val),
        "held_out_samples": len(test_entries),
        "splits": splits,
        "training_fit": mean_scores([s.reference for s in train], mapper.predict(train)),
    }
    return TrainResult(mapper, training, settings.replace(model=None, models=[model]))


def write_train(result: TrainResult, stage: Path, session: Session) -> None:
    """The model folder: ``model.json``, and ``weights.pt`` for a U-Net (nothing executable),
    with ``training.json`` (scores of the training fit and the samples of each split)."""
    from chemmap._shared.atomic import write_text_atomic
    from chemmap.report.metrics_json import to_json_safe

    result.mapper.save(stage)
    write_text_atomic(stage / "training.json", json.dumps(to_json_safe(result.training), indent=2) + "\n")


def summary_train(result: TrainResult) -> str:
    training = result.training
    return (
        f"{training['model']} trained on {training['training_samples']} samples; "
        f"training RMSE of the mean {training['training_fit']['rmse_mean']:.3g}\n"
        f"wrote the model to {result.out_dir}"
    )


@dataclass
class PredictResult:
    """The map of every sample and the rows of ``predictions.csv``."""

    samples: list
    maps: list
    rows: list[dict]
    settings: PredictSettings
    out_dir: Path | None = None

    @property
    def record(self) -> dict:
        return {"model": self.settings.model}


def execute_predict(source, settings: PredictSettings, session: Session) -> PredictResult:
    """Map a cube file, or every sample of a manifest (``.csv``), with the saved model
    ``settings.model``."""
    from chemmap.supervised.samples import SampleEntry, load_sample, read_manifest

    model = load_model(settings.model)
    source, options = Path(source), reader_options(session.input)
    with session.timer.stage("read samples"):
        if source.suffix.lower() == ".csv":
            samples = _load(read_manifest(source), options)
        else:
            samples = [load_sample(SampleEntry(source, float("nan")), format=session.input.get("format"), **options)]
    with session.timer.stage("map"):
        maps = [model.predict_map(s) for s in samples]
    rows = []
    for sample, image in zip(samples, maps, strict=True):
        inside = image[sample.mask]
        rows.append(
            {
                "name": sample.name,
                "predicted_mean": float(np.nanmean(inside)),
                "reference": sample.reference if np.isfinite(sample.reference) else None,
                "out_of_range_fraction": float(np.mean((inside < settings.low) | (inside > settings.high))),
            }
        )
    return PredictResult(samples, maps, rows, settings)


def write_predict(result: PredictResult, stage: Path, session: Session) -> None:
    """``maps/<name>.npy`` (float32, NaN outside the mask), ``maps/<name>.png``,
    ``maps/<name>.html`` (the interactive page of the sample: map, out-of-range pixels, truth
    when known, spectra), ``predictions.csv`` (name, predicted mean, reference when known,
    out-of-range share) and ``metrics.json`` (scores against the references, for a manifest)."""
    from chemmap._shared.atomic import write_text_atomic
    from chemmap.metrics.regression import quantitative_map_scores
    from chemmap.report.html import write_html
    from chemmap.report.metrics_json import to_json_safe
    from chemmap.report.pages import prediction_report

    s = result.settings
    samples, maps, rows = result.samples, result.maps, result.rows
    _write_predictions(stage, samples, maps, rows, low=s.low, high=s.high, unit=s.unit)
    for sample, image, row in zip(samples, maps, rows, strict=True):
        summary = {**row, "model": str(s.model), "physical range": f"{s.low:g}-{s.high:g} {s.unit}"}
        page = prediction_report(
            sample,
            {"model": image},
            summary,
            low=s.low,
            high=s.high,
            unit=s.unit,
            command=session.command,
            versions=versions(),
        )
        write_html(page, stage / "maps" / f"{sample.name}.html")
    referenced = [i for i, sample in enumerate(samples) if np.isfinite(sample.reference)]
    if len(referenced) >= 2:
        scores = quantitative_map_scores(
            [samples[i] for i in referenced], [maps[i] for i in referenced], low=s.low, high=s.high
        )
        write_text_atomic(stage / "metrics.json", json.dumps(to_json_safe(scores), indent=2) + "\n")


def summary_predict(result: PredictResult) -> str:
    lines = [
        f"{row['name']}: mean {row['predicted_mean']:.3g}, out of range {row['out_of_range_fraction']:.1%}"
        for row in result.rows[:10]
    ]
    lines.append(f"wrote {len(result.rows)} map(s) and predictions.csv to {result.out_dir}")
    return "\n".join(lines)


def _write_prediction_map(folder: Path, sample, image: np.ndarray, *, low, high, unit) -> None:
    """One sample's predicted map: ``NAME.npy`` (float32) and ``NAME.png``."""
    from chemmap.viz.figures import new_figure, save_figure
    from chemmap.viz.quantify import plot_model_maps

    np.save(folder / f"{sample.name}.npy", image.astype(np.float32))
    fig = new_figure(4.5, 4.0)
    plot_model_maps(fig, [sample], {"prediction": [image]}, low=low, high=high, unit=unit)
    save_figure(fig, folder / f"{sample.name}.png")


def _write_predictions(stage: Path, samples, maps, rows, *, low, high, unit) -> None:
    from chemmap._shared.atomic import write_text_atomic
    from chemmap.viz.figures import draw_in_forks

    (stage / "maps").mkdir()
    draw = partial(_write_prediction_map, stage / "maps", low=low, high=high, unit=unit)
    draw_in_forks([partial(draw, sample, image) for sample, image in zip(samples, maps, strict=True)])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(stage / "predictions.csv", buffer.getvalue())


COMPARE = Workflow(
    command="quantify compare",
    help="train every model on the same splits and compare them on test samples",
    settings=QuantifySettings,
    execute=execute_compare,
    write=write_compare,
    summary=summary_compare,
    read=None,
    input_help=MANIFEST_HELP,
)
TRAIN = Workflow(
    command="quantify train",
    help="train one model on the non-test samples and save it",
    settings=QuantifyTrainSettings,
    execute=execute_train,
    write=write_train,
    summary=summary_train,
    read=None,
    input_help=MANIFEST_HELP,
    ran=lambda result, settings: result.settings,
)
PREDICT = Workflow(
    command="quantify predict",
    help="map a cube, or every sample of a manifest, with a saved model",
    settings=PredictSettings,
    execute=execute_predict,
    write=write_predict,
    summary=summary_predict,
    read=None,
    input_help="a cube file (any format chemmap reads) or a manifest .csv",
    positionals=("model",),
)
#: ``run_compare(manifest, out_dir, settings=None, *, read_options=None, session=None)``.
run_compare = COMPARE.run
#: ``run_train(manifest, out_dir, settings, *, read_options=None, session=None)``.
run_train = TRAIN.run
#: ``run_predict(source, out_dir, PredictSettings(model=...), *, format=None, read_options=None, session=None)``.
run_predict = PREDICT.run
