"""PLS baselines for quantitative maps from per-sample reference values: calibrated on each
sample's masked mean spectrum, or on subsampled pixels carrying their sample's reference;
components chosen by grouped cross-validation; applied pixel by pixel to make maps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.estimator import Estimator, RegressorMixin
from chemmap._shared.model_axis import check_model_axis
from chemmap._shared.validation import check_choice
from chemmap.core.exceptions import (
    FileFormatError,
    InputFileNotFoundError,
    InvalidParameterError,
    NotFittedError,
    ShapeError,
)
from chemmap.supervised.samples import Sample, grouped_folds

__all__ = ["PLS_FORMAT", "PREPROCESSING", "PLSMapper", "preprocess_spectra"]

PLS_FORMAT = "chemmap-pls"

PREPROCESSING = ("none", "snv", "snv+d1")
#: Savitzky–Golay first derivative of ``snv+d1``: window (channels) and polynomial order.
DERIVATIVE_WINDOW = 11
DERIVATIVE_ORDER = 2


def preprocess_spectra(spectra: np.ndarray, kind: str) -> np.ndarray:
    """``(n, C)`` spectra as the model sees them: unchanged, SNV, or SNV then a
    Savitzky–Golay first derivative (per channel), float64."""
    from chemmap.preprocessing.normalize import snv

    x = np.asarray(spectra, dtype=np.float64)
    if kind == "none":
        return x
    x = snv(x)
    if kind == "snv+d1":
        from scipy.signal import savgol_filter

        window = min(DERIVATIVE_WINDOW, x.shape[-1] - (1 - x.shape[-1] % 2))
        x = savgol_filter(x, window, min(DERIVATIVE_ORDER, window - 1), deriv=1, axis=-1)
    return x


class PLSMapper(RegressorMixin, Estimator):
    """Partial least squares from spectra to a reference value, applied to every pixel.

    Parameters
    ----------
    n_components : int or "cv"
        ``"cv"`` picks the number with the lowest cross-validated RMSE of the held-out
        samples' mean predictions (grouped folds: a sample's pixels never straddle folds).
    max_components : int
        Largest number tried with ``"cv"``.
    calibration : {"mean", "pixels"}
        ``"mean"``: one row per sample, its masked mean (preprocessed) spectrum.
        ``"pixels"``: ``pixels_per_sample`` seeded random mask pixels per sample, each
        carrying its sample's reference.
    pixels_per_sample : int
    preprocess : {"none", "snv", "snv+d1"}
        Applied to every pixel before the model (and before means are taken).
    n_folds : int
    random_state : int

    Attributes
    ----------
    coef_ : ndarray of shape (n_channels,)
    intercept_ : float
        A pixel's prediction is ``preprocess(spectrum) @ coef_ + intercept_``.
    n_components_ : int
    cv_rmse_ : dict
        Cross-validated RMSE of the sample means for each number of components tried.
    n_channels_ : int
    """

    def __init__(
        self,
        n_components: int | str = "cv",
        *,
        max_components: int = 15,
        calibration: str = "mean",
        pixels_per_sample: int = 200,
        preprocess: str = "none",
        n_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.max_components = max_components
        self.calibration = calibration
        self.pixels_per_sample = pixels_per_sample
        self.preprocess = preprocess
        self.n_folds = n_folds
        self.random_state = random_state

    def _rows(self, samples: list[Sample]):
        """Calibration rows, their targets, their sample index, and every sample's mean row."""
        rng = np.random.default_rng(self.random_state)
        means, rows, targets, groups = [], [], [], []
        for i, sample in enumerate(samples):
            pixels = preprocess_spectra(sample.pixels(), self.preprocess)
            pixels = pixels[np.isfinite(pixels).all(axis=1)]
            means.append(pixels.mean(axis=0))
            if self.calibration == "pixels":
                take = rng.choice(pixels.shape[0], min(self.pixels_per_sample, pixels.shape[0]), replace=False)
                rows.append(pixels[take])
                targets.append(np.full(take.size, sample.reference))
                groups.append(np.full(take.size, i))
        means = np.stack(means)
        references = np.array([s.reference for s in samples])
        if self.calibration == "mean":
            return means, references, np.arange(len(samples)), means
        return np.concatenate(rows), np.concatenate(targets), np.concatenate(groups), means

    def fit(self, samples: list[Sample], y=None, *, validation=None, progress=None) -> PLSMapper:
        """Calibrate on ``samples`` (their cubes, masks and references); ``validation``
        samples, when given, join the calibration (cross-validation picks the components)."""
        from sklearn.cross_decomposition import PLSRegression

        samples = list(samples) + list(validation or [])
        check_choice(self.calibration, ("mean", "pixels"), name="calibration", func="PLSMapper")
        check_choice(self.preprocess, PREPROCESSING, name="preprocess", func="PLSMapper")
        if len(samples) < 3:
            raise ShapeError(f"PLS calibration needs at least 3 samples; got {len(samples)}.")
        channels = {s.cube.n_channels for s in samples}
        if len(channels) != 1:
            raise ShapeError(f"Every sample must have the same channels; found {sorted(channels)}.")
        x, y, groups, means = self._rows(samples)
        references = np.array([s.reference for s in samples])
        limit = max(
            1, min(self.max_components, x.shape[1], len(samples) - 2 if self.calibration == "mean" else x.shape[0] - 1)
        )
        if self.n_components == "cv":
            folds = grouped_folds(len(samples), min(self.n_folds, len(samples)), random_state=self.random_state)
            self.cv_rmse_ = {}
            for k in range(1, limit + 1):
                predicted = np.empty(len(samples))
                for test in folds:
                    train = ~np.isin(groups, test)
                    model = PLSRegression(min(k, int(train.sum()) - 1), scale=False).fit(x[train], y[train])
                    predicted[test] = model.predict(means[test]).ravel()
                self.cv_rmse_[k] = float(np.sqrt(np.mean((predicted - references) ** 2)))
            self.n_components_ = min(self.cv_rmse_, key=self.cv_rmse_.get)
        elif isinstance(self.n_components, int | np.integer) and 1 <= self.n_components <= limit:
            self.n_components_, self.cv_rmse_ = int(self.n_components), {}
        else:
            raise InvalidParameterError(
                f"n_components must be 'cv' or an integer in [1, {limit}]; got {self.n_components!r}."
            )
        model = PLSRegression(self.n_components_, scale=False).fit(x, y)
        self.coef_ = np.asarray(model.coef_, dtype=np.float64).reshape(-1)
        # sklearn centres X before its coefficients; the prediction at X = 0 folds that in
        self.intercept_ = float(np.ravel(model.predict(np.zeros((1, x.shape[1]))))[0])
        self.n_channels_ = x.shape[1]
        self.axis_values_ = np.asarray(samples[0].cube.axis.values, dtype=np.float64)
        self.axis_unit_ = samples[0].cube.axis.unit
        return self

    def _check(self, n_channels: int) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("This PLSMapper is not fitted yet; call fit first.")
        if n_channels != self.n_channels_:
            raise ShapeError(
                f"The model was calibrated on {self.n_channels_} channels; this cube has {n_channels}. "
                "Resample the cube onto the model's axis (chemmap.preprocessing.resample) or calibrate on it."
            )

    def predict_map(self, sample_or_cube) -> np.ndarray:
        """The map ``(height, width)`` float32 of a Sample (NaN outside its mask) or a Cube."""
        cube = sample_or_cube.cube if isinstance(sample_or_cube, Sample) else sample_or_cube
        self._check(cube.n_channels)
        check_model_axis(self.axis_values_, self.axis_unit_, cube.axis)
        coef, intercept, kind = self.coef_, self.intercept_, self.preprocess

        def predict(spectra: np.ndarray) -> np.ndarray:
            return (preprocess_spectra(spectra, kind) @ coef + intercept)[:, None]

        from chemmap._shared.compute import compute

        (values,) = compute(map_spectra(predict, cube.data, n_out=1, dtype=np.float32)[..., 0])
        values = np.asarray(values, dtype=np.float32)
        mask = (
            sample_or_cube.mask if isinstance(sample_or_cube, Sample) else cube.valid_pixels().reshape(cube.image_shape)
        )
        return np.where(mask, values, np.float32(np.nan))

    def predict(self, samples: list[Sample]) -> np.ndarray:
        """Masked mean of each sample's map."""
        return np.array([float(np.nanmean(self.predict_map(s))) for s in samples])

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``model.json`` (coefficients, preprocessing, spectral axis; no code) into
        ``folder`` atomically; returns the folder."""
        from chemmap import __version__
        from chemmap._shared.atomic import write_text_atomic

        self._check(getattr(self, "n_channels_", 0))
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "format": PLS_FORMAT,
            "format_version": 1,
            "chemmap_version": __version__,
            "params": self.get_params(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
            "n_components": self.n_components_,
            "cv_rmse": {str(k): v for k, v in self.cv_rmse_.items()},
            "axis": {"unit": self.axis_unit_, "values": self.axis_values_.tolist()},
        }
        write_text_atomic(folder / "model.json", json.dumps(config, indent=1) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> PLSMapper:
        """A fitted mapper from a folder written by :meth:`save`.

        Raises
        ------
        InputFileNotFoundError, FileFormatError
        """
        path = Path(folder) / "model.json"
        if not path.is_file():
            raise InputFileNotFoundError(f"{path} does not exist; a PLS model folder holds model.json.")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
            if config.get("format") != PLS_FORMAT:
                found = config.get("format")
                raise FileFormatError(f"{path} does not describe a chemmap PLS model (format {found!r}).")
            mapper = cls(**config["params"])
            mapper.coef_ = np.asarray(config["coef"], dtype=np.float64)
            mapper.intercept_ = float(config["intercept"])
            mapper.n_components_ = int(config["n_components"])
            mapper.cv_rmse_ = {int(k): float(v) for k, v in config["cv_rmse"].items()}
            mapper.axis_values_ = np.asarray(config["axis"]["values"], dtype=np.float64)
            mapper.axis_unit_ = str(config["axis"]["unit"])
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError, json.JSONDecodeError) as err:
            raise FileFormatError(f"{path} is not a consistent chemmap PLS model: {err}") from None
        _check_loaded(mapper, path)
        return mapper


def _check_loaded(mapper: PLSMapper, path: Path) -> None:
    """Every field of a loaded model is one that :meth:`PLSMapper.fit` could have written: the
    choices among the known ones, the coefficients a finite vector of one value per axis
    value, within :data:`LARGEST_COEFFICIENT`, the axis strictly ordered."""
    coef, axis = mapper.coef_, mapper.axis_values_
    problem = None
    if mapper.calibration not in ("mean", "pixels") or mapper.preprocess not in PREPROCESSING:
        problem = (
            f"calibration {mapper.calibration!r} or preprocess {mapper.preprocess!r} is not one of "
            f"{['mean', 'pixels']} and {list(PREPROCESSING)}"
        )
    elif coef.ndim != 1 or coef.size == 0:
        problem = f"its coefficients have shape {coef.shape}; expected one per channel"
    elif not np.all(np.isfinite(coef)) or np.abs(coef).max() > LARGEST_COEFFICIENT:
        problem = f"its coefficients are not finite numbers within ±{LARGEST_COEFFICIENT:g}"
    elif not np.isfinite(mapper.intercept_) or abs(mapper.intercept_) > LARGEST_COEFFICIENT:
        problem = f"its intercept {mapper.intercept_!r} is not a finite number within ±{LARGEST_COEFFICIENT:g}"
    elif axis.ndim != 1 or axis.size != coef.size:
        problem = f"it has {coef.size} coefficients but {axis.size} axis values"
    elif not np.all(np.isfinite(axis)) or not (np.all(np.diff(axis) > 0) or np.all(np.diff(axis) < 0)):
        problem = "its axis values are not finite and strictly ordered"
    elif not 1 <= mapper.n_components_ <= coef.size:
        problem = f"n_components {mapper.n_components_} is not between 1 and its {coef.size} channels"
    elif not all(np.isfinite(v) and v >= 0 for v in mapper.cv_rmse_.values()):
        problem = "its cross-validated errors are not finite non-negative numbers"
    if problem:
        raise FileFormatError(
            f"{path} is not a model chemmap wrote: {problem}. It was edited or damaged; calibrate again "
            "(chemmap quantify train) to make a new one."
        )
    mapper.n_channels_ = coef.size


#: Largest coefficient or intercept a loaded model may hold (a calibration's are many orders
#: of magnitude smaller; beyond this, a prediction overflows float64 on ordinary spectra).
LARGEST_COEFFICIENT = 1e100
