"""Maps from labelled pixels: a pixel classifier trained on some labelled pixels gives every
pixel a probability per class, a label and an uncertainty (entropy); a Potts step can then
smooth the labels across neighbours.

Classifiers: linear discriminant analysis (shrinkage), PLS-DA, an RBF support vector
machine, a random forest (all scikit-learn) and two detectors on class mean spectra: the
spectral angle mapper (SAM) and the matched filter. Hyper-parameters are chosen by
cross-validation over spatial blocks; the detectors' scores become probabilities by a
softmax whose temperature is fitted by likelihood."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chemmap._shared.blockwise import map_spectra, take_rows
from chemmap._shared.compute import compute
from chemmap._shared.estimator import Estimator
from chemmap._shared.progress import ProgressCallback
from chemmap._shared.validation import check_choice, check_number
from chemmap.core.cube import Cube
from chemmap.core.exceptions import NotFittedError, ShapeError
from chemmap.supervised.blocks import block_ids, block_split, default_block_size

__all__ = ["CLASSIFIERS", "ClassificationResult", "PixelClassifier", "classify_pixels", "entropy_map"]

CLASSIFIERS = ("lda", "plsda", "svm", "rf", "sam", "mf")
#: Folds of the spatial-block cross-validation that picks hyper-parameters.
CV_FOLDS = 3
SVM_C = (1.0, 10.0, 100.0)
#: Nats per agreeing 8-neighbour in the default Potts smoothing.
DEFAULT_SMOOTHING = 1.0


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """Temperature of the softmax of ``scores`` that maximises the likelihood of ``y``."""
    from scipy.optimize import minimize_scalar

    spread = max(float(np.std(scores)), 1e-12)

    def loss(log_t: float) -> float:
        p = _softmax(scores, spread * np.exp(log_t))
        return -float(np.mean(np.log(np.clip(p[np.arange(y.size), y], 1e-300, None))))

    return float(spread * np.exp(minimize_scalar(loss, bounds=(-12, 6), method="bounded").x))


def _held_out_temperature(make, x: np.ndarray, y: np.ndarray, classes: np.ndarray) -> float:
    """Softmax temperature fitted on scores of pixels held out of the fit, since scores on
    the training pixels themselves are overconfident: three folds, each holding a third of
    every class's training pixels in raster order (so neighbours mostly stay together);
    training scores when a class has fewer than three pixels."""
    from sklearn.model_selection import StratifiedKFold

    if np.bincount(np.searchsorted(classes, y)).min() < 3:
        return _fit_temperature(make().fit(x, y).raw_scores(x), np.searchsorted(classes, y))
    scores = np.empty((y.size, classes.size))
    for fit_rows, held in StratifiedKFold(3).split(x, y):
        part = make().fit(x[fit_rows], y[fit_rows])
        raw = part.raw_scores(x[held])
        full = np.repeat(raw.min(axis=1, keepdims=True), classes.size, axis=1)
        full[:, np.searchsorted(classes, part.classes_)] = raw
        scores[held] = full
    return _fit_temperature(scores, np.searchsorted(classes, y))


class _Detector:
    """SAM or matched filter on the class mean spectra, scores calibrated by a softmax."""

    def __init__(self, kind: str):
        self.kind = kind

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Detector:
        self.classes_ = np.unique(y)
        self.means_ = np.stack([x[y == c].mean(axis=0) for c in self.classes_])
        if self.kind == "mf":
            from sklearn.covariance import LedoitWolf

            self.centre_ = x.mean(axis=0)
            precision = LedoitWolf().fit(x).precision_
            targets = self.means_ - self.centre_
            self.filters_ = targets @ precision / np.einsum("ij,jk,ik->i", targets, precision, targets)[:, None]
        self.temperature_ = _fit_temperature(self.scores(x), np.searchsorted(self.classes_, y))
        return self

    def scores(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "mf":
            return (x - self.centre_) @ self.filters_.T
        unit = self.means_ / np.linalg.norm(self.means_, axis=1, keepdims=True)
        norms = np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-300, None)
        return -np.arccos(np.clip((x / norms) @ unit.T, -1, 1))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _softmax(self.scores(x), self.temperature_)


class _PLSDA:
    """PLS regression on one-hot classes; the predicted columns calibrated by a softmax."""

    def __init__(self, n_components: int, *, calibrate: bool = True):
        self.n_components, self.calibrate = n_components, calibrate

    def fit(self, x: np.ndarray, y: np.ndarray) -> _PLSDA:
        from sklearn.cross_decomposition import PLSRegression

        self.classes_ = np.unique(y)
        onehot = (y[:, None] == self.classes_[None, :]).astype(np.float64)
        self.model_ = PLSRegression(n_components=min(self.n_components, x.shape[1], x.shape[0] - 1), scale=False)
        self.model_.fit(x, onehot)
        if self.calibrate:
            self.temperature_ = _held_out_temperature(
                lambda: _PLSDA(self.n_components, calibrate=False), x, y, self.classes_
            )
        return self

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(x)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _softmax(self.raw_scores(x), getattr(self, "temperature_", 1.0))


class _SVM:
    """RBF support vector machine on standardised spectra; its one-vs-rest decision values
    calibrated by a softmax."""

    def __init__(self, c: float, random_state, *, calibrate: bool = True):
        self.c, self.random_state, self.calibrate = c, random_state, calibrate

    def fit(self, x: np.ndarray, y: np.ndarray) -> _SVM:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        self.classes_ = np.unique(y)
        self.model_ = make_pipeline(StandardScaler(), SVC(C=self.c, decision_function_shape="ovr")).fit(x, y)
        if self.calibrate:
            self.temperature_ = _held_out_temperature(
                lambda: _SVM(self.c, self.random_state, calibrate=False), x, y, self.classes_
            )
        return self

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        scores = self.model_.decision_function(x)
        return np.stack([-scores, scores], axis=1) if scores.ndim == 1 else scores

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _softmax(self.raw_scores(x), getattr(self, "temperature_", 1.0))


def _make(method: str, param, random_state, *, calibrate: bool = True):
    if method == "lda":
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    if method == "svm":
        return _SVM(param, random_state, calibrate=calibrate)
    if method == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=200, random_state=random_state, n_jobs=1)
    if method == "plsda":
        return _PLSDA(param, calibrate=calibrate)
    return _Detector(method)


def _candidates(method: str, n_features: int) -> list:
    if method == "svm":
        return list(SVM_C)
    if method == "plsda":
        return [n for n in (2, 4, 8, 12, 16, 24) if n <= n_features]
    return [None]


class PixelClassifier(Estimator):
    """A classifier of pixel spectra whose hyper-parameters are chosen over spatial blocks.

    Parameters
    ----------
    method : {"lda", "plsda", "svm", "rf", "sam", "mf"}
    block_size : int, optional
        Side of the spatial blocks of the cross-validation (default about a 10 x 10 grid).
    random_state : int
    """

    def __init__(self, method: str = "lda", *, block_size: int | None = None, random_state=0):
        self.method = method
        self.block_size = block_size
        self.random_state = random_state

    def fit(self, cube: Cube, labels: np.ndarray, train: np.ndarray, *, names: dict | None = None) -> PixelClassifier:
        """Train on the pixels where ``train`` is true.

        Parameters
        ----------
        cube : Cube
        labels : ndarray of int, shape (height, width)
        train : ndarray of bool, shape (height, width)
        names : dict, optional
            Class value -> name.
        """
        method = check_choice(self.method, CLASSIFIERS, name="method", func="PixelClassifier")
        labels = np.asarray(labels)
        train = np.asarray(train, bool)
        if labels.shape != tuple(cube.image_shape) or train.shape != labels.shape:
            raise ShapeError(
                f"PixelClassifier: the label image {labels.shape} and the training mask {train.shape} must match "
                f"the cube's image {tuple(cube.image_shape)}."
            )
        train = train & cube.valid_pixels().reshape(cube.image_shape)
        where = np.flatnonzero(train)
        self.classes_ = np.unique(labels[train])
        if self.classes_.size < 2:
            raise ShapeError(
                f"PixelClassifier needs training pixels of at least 2 classes; got {self.classes_.size}. "
                "Label more regions or raise the training share."
            )
        x = take_rows(cube.pixels(), where).astype(np.float64)
        y = np.searchsorted(self.classes_, labels.reshape(-1)[where])
        groups = block_ids(cube.image_shape, self.block_size or default_block_size(cube.image_shape)).reshape(-1)[where]
        self.param_, self.cv_scores_ = self._choose(method, x, y, groups)
        self.model_ = _make(method, self.param_, self.random_state).fit(x, y)
        self.names_ = dict(names or {})
        self.n_channels_ = cube.n_channels
        return self

    def _choose(self, method, x, y, groups):
        options = _candidates(method, x.shape[1])
        if len(options) == 1:
            return options[0], {}
        from sklearn.model_selection import GroupKFold

        n_folds = min(CV_FOLDS, np.unique(groups).size)
        if n_folds < 2:
            return options[0], {}
        scores = {}
        for option in options:
            correct = 0
            for fit_rows, test_rows in GroupKFold(n_folds).split(x, y, groups):
                if np.unique(y[fit_rows]).size < 2:
                    continue
                # candidates are compared by their best class only: no probability calibration
                model = _make(method, option, self.random_state, calibrate=False).fit(x[fit_rows], y[fit_rows])
                guess = model.classes_[np.argmax(model.predict_proba(x[test_rows]), axis=1)]
                correct += int(np.sum(guess == y[test_rows]))
            scores[str(option)] = correct / y.size
        best = max(options, key=lambda o: scores[str(o)])
        return best, scores

    def predict_proba(self, cube: Cube, *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Probability of every class in every pixel, ``(height, width, n_classes)``, NaN
        at invalid pixels."""
        if not hasattr(self, "model_"):
            raise NotFittedError("This PixelClassifier is not fitted yet; call fit first.")
        if cube.n_channels != self.n_channels_:
            raise ShapeError(
                f"The classifier was trained on {self.n_channels_} channels; this cube has {cube.n_channels}."
            )
        model = self.model_
        k = self.classes_.size

        def kernel(spectra: np.ndarray) -> np.ndarray:
            return model.predict_proba(np.nan_to_num(spectra.astype(np.float64)))

        (proba,) = compute(
            map_spectra(kernel, cube.data, n_out=k, dtype=np.float32), stage="classify", progress=progress
        )
        proba = np.array(proba)
        proba[~cube.valid_pixels().reshape(cube.image_shape)] = np.nan
        return proba


def entropy_map(proba: np.ndarray) -> np.ndarray:
    """Entropy of the class probabilities, divided by its maximum ``log k``: 0 certain, 1
    all classes equally likely."""
    p = np.clip(proba, 1e-12, 1)
    return (-(p * np.log(p)).sum(axis=-1) / np.log(max(proba.shape[-1], 2))).astype(np.float32)


@dataclass
class ClassificationResult:
    """Maps and scores of a classification.

    ``labels`` and ``smoothed`` hold class values (−1 at invalid pixels); ``probabilities``
    is ``(height, width, n_classes)`` in the order of ``classes``."""

    classes: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray
    entropy: np.ndarray
    smoothed: np.ndarray | None
    train: np.ndarray
    test: np.ndarray
    report: dict = field(default_factory=dict)


def classify_pixels(
    cube: Cube,
    labels: np.ndarray,
    *,
    method: str = "lda",
    train: np.ndarray | None = None,
    train_fraction: float = 0.1,
    block_size: int | None = None,
    buffer: int = 0,
    smoothing: float | None = DEFAULT_SMOOTHING,
    unlabelled: int = 0,
    names: dict | None = None,
    random_state=0,
    progress: ProgressCallback | None = None,
) -> ClassificationResult:
    """Train a pixel classifier on spatial blocks of the labelled pixels and map the cube.

    Parameters
    ----------
    cube : Cube
    labels : ndarray of int, shape (height, width)
        Class per pixel; ``unlabelled`` (and negative values) are not classes.
    method : str
        One of :data:`CLASSIFIERS`.
    train : ndarray of bool, optional
        Training pixels; default: whole blocks holding ``train_fraction`` of the labelled
        pixels (:func:`~chemmap.supervised.blocks.block_split`), the rest being the test.
    smoothing : float or None
        Potts weight (nats per agreeing 8-neighbour) of the smoothed labels; None: none.

    Returns
    -------
    ClassificationResult
        With scores on the test pixels (overall accuracy, kappa, per-class F1), for the
        smoothed labels too.
    """
    from chemmap.cluster.spatial import potts_icm
    from chemmap.metrics.classification import classification_scores

    labels = np.asarray(labels)
    if labels.shape != tuple(cube.image_shape):
        raise ShapeError(
            f"The label image is {labels.shape}; the cube's image is {tuple(cube.image_shape)}. "
            "Give one label per pixel (use the unlabelled value where unknown)."
        )
    classes = np.unique(labels[(labels != unlabelled) & (labels >= 0)])
    if train is None:
        train, test, split = block_split(
            labels,
            classes,
            train_fraction=train_fraction,
            block_size=block_size,
            buffer=buffer,
            random_state=random_state,
        )
    else:
        train = np.asarray(train, bool)
        test = np.isin(labels, classes) & ~train
        split = {"n_train_pixels": int(train.sum()), "n_test_pixels": int(test.sum()), "given": True}
    model = PixelClassifier(method, block_size=block_size, random_state=random_state).fit(
        cube, labels, train, names=names
    )
    proba = model.predict_proba(cube, progress=progress)
    valid = cube.valid_pixels().reshape(cube.image_shape)
    predicted = np.where(valid, model.classes_[np.argmax(np.nan_to_num(proba, nan=-1.0), axis=2)], -1)
    report = {
        "method": method,
        "hyperparameter": None if model.param_ is None else float(model.param_),
        "block_cv_accuracy": model.cv_scores_,
        "split": split,
        "test": classification_scores(labels, predicted, classes=classes, names=names, where=test),
    }
    smoothed = None
    if smoothing:
        beta = check_number(smoothing, name="smoothing", func="classify_pixels", low=0)
        loglik = np.log(np.clip(np.nan_to_num(proba, nan=1.0), 1e-12, None))
        index, changed = potts_icm(loglik, beta, valid=valid)
        smoothed = np.where(index >= 0, model.classes_[np.clip(index, 0, None)], -1)
        report["smoothing"] = {"beta": beta, "changed_pixels": int(changed)}
        report["test_smoothed"] = classification_scores(labels, smoothed, classes=classes, names=names, where=test)
    return ClassificationResult(
        classes=model.classes_,
        probabilities=proba,
        labels=predicted,
        entropy=entropy_map(np.nan_to_num(proba, nan=1.0 / max(model.classes_.size, 1))),
        smoothed=smoothed,
        train=train,
        test=test,
        report=report,
    )
