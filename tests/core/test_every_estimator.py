"""A battery over every class of chemmap with a ``fit`` method (DESIGN rule 3, the
scikit-learn contract): parameters stored as given, ``get_params``/``clone`` work, ``fit``
returns the estimator and leaves its parameters alone, what it learns ends in ``_``.
Estimators of pixel matrices also pass scikit-learn's own ``check_estimator``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

import chemmap
from chemmap._shared.estimator import Estimator
from chemmap.cluster import PixelClusterer
from chemmap.cluster.features import PixelFeatures
from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
from chemmap.datasets import make_demo_cube, make_tissue_samples
from chemmap.decomposition import MCRALS
from chemmap.decomposition.pca import StreamingPCA
from chemmap.preprocessing import steps
from chemmap.preprocessing.chain import Chain
from chemmap.preprocessing.transformers import SPATIAL_STEPS, SpectralTransformer
from chemmap.supervised import PLSMapper, Sample
from chemmap.supervised.classify import PixelClassifier


def _fitting_classes() -> set[str]:
    """Every public class of chemmap that defines a ``fit`` method."""
    found = set()
    for module in pkgutil.walk_packages(chemmap.__path__, "chemmap."):
        if module.name.startswith(("chemmap.cli", "chemmap.__main__")):
            continue
        if module.name.startswith("chemmap.deep") and importlib.util.find_spec("torch") is None:
            continue
        for name, obj in vars(importlib.import_module(module.name)).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.name
                and not name.startswith("_")
                and inspect.isfunction(vars(obj).get("fit"))
            ):
                found.add(name)
    return found


def _samples():
    made = make_tissue_samples(6, image_shape=(12, 14), n_channels=24, random_state=5)
    return [Sample(s.cube, s.cube.mask, s.reference, s.truth, f"s{i}") for i, s in enumerate(made)]


def _classifier_input():
    cube = make_demo_cube()
    labels = np.asarray(cube.labels)
    return (cube, labels, np.indices(labels.shape).sum(axis=0) % 2 == 0), {}


def _autoencoder():
    from chemmap.deep.autoencoder.estimator import SpectralAutoencoderMapper

    return SpectralAutoencoderMapper(latent_dim=2, widths=(8,), epochs=1, device="cpu", random_state=1)


def _unet():
    from chemmap.deep.unet.estimator import UNetMapper
    from chemmap.deep.unet.training import unet_settings

    return UNetMapper(unet_settings("improved", widths=(4, 8), max_epochs=2, burn_in=2, n_folds=2, device="cpu"))


#: name -> (make the estimator, make ``(args, kwargs)`` of its fit)
CASES = {
    "Chain": (lambda: Chain([{"step": "normalize", "method": "snv"}]), lambda: ((make_demo_cube(),), {})),
    "MCRALS": (lambda: MCRALS(2, max_iter=3), lambda: ((make_demo_cube(),), {})),
    "PLSMapper": (lambda: PLSMapper(2, calibration="mean"), lambda: ((_samples(),), {})),
    "PixelClassifier": (lambda: PixelClassifier("lda"), _classifier_input),
    "PixelClusterer": (
        lambda: PixelClusterer("kmeans", 2, n_components=5, random_state=3),
        lambda: ((make_demo_cube(),), {}),
    ),
    "PixelFeatures": (lambda: PixelFeatures("pca", n_components=3), lambda: ((make_demo_cube(),), {})),
    "SpectralAutoencoderMapper": (_autoencoder, lambda: ((make_demo_cube(),), {})),
    "SpectralSpatialClusterer": (
        lambda: SpectralSpatialClusterer(2, n_components=0.99, n_init=2, random_state=3),
        lambda: ((make_demo_cube(),), {}),
    ),
    "SpectralTransformer": (
        lambda: SpectralTransformer("normalize", {"method": "snv"}),
        lambda: ((np.asarray(make_demo_cube().pixels()),), {}),
    ),
    "StreamingPCA": (lambda: StreamingPCA(3), lambda: ((make_demo_cube(),), {})),
    "UNetMapper": (_unet, lambda: ((_samples(),), {})),
}


def test_every_class_with_a_fit_method_is_in_the_battery():
    missing = _fitting_classes() - set(CASES)
    assert not missing, f"add these to CASES: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_returns_the_estimator_and_keeps_its_parameters(name):
    if name in ("SpectralAutoencoderMapper", "UNetMapper"):
        pytest.importorskip("torch", reason="the deep models are the 'deep' extra")
    make, fit_input = CASES[name]
    estimator = make()
    args, kwargs = fit_input()
    if not isinstance(estimator, Estimator):  # a Chain is a list of steps, not an estimator
        assert estimator.fit(*args, **kwargs) is estimator
        return
    params = estimator.get_params()
    twin = clone(estimator)
    assert twin is not estimator and twin.get_params().keys() == params.keys()
    before = set(vars(estimator))
    assert estimator.fit(*args, **kwargs) is estimator
    assert estimator.get_params().keys() == params.keys()
    assert all(estimator.get_params()[k] is params[k] for k in params), "fit rewrote a parameter"
    learned = {a for a in set(vars(estimator)) - before if not a.startswith("_")}
    assert learned and all(a.endswith("_") for a in learned), sorted(learned)


#: Steps whose parameters are windows of several channels, or new channel positions, or that
#: hold bands out to score themselves, which scikit-learn's check data (one to three
#: features) cannot hold.
NEEDS_CHANNELS = {"savgol": "window", "resample": "to", "denoise": "the hold-out score"}


@pytest.mark.parametrize(
    "estimator",
    [SpectralTransformer(s) for s in steps.names() if s not in SPATIAL_STEPS and s not in NEEDS_CHANNELS]
    + [StreamingPCA(2)],
    ids=lambda e: getattr(e, "step", type(e).__name__),
)
def test_estimators_of_pixel_matrices_pass_scikit_learns_checks(estimator):
    float32 = "float32 scores agree to float32 precision (1e-7), not the 1e-9 this check asks of float64"
    check_estimator(estimator, expected_failed_checks={"check_methods_sample_order_invariance": float32})


def test_scikit_learns_pipeline_and_grid_search_take_chemmaps_estimators():
    """Nested parameters (``step__param``) reach a chemmap estimator inside a Pipeline."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(150, 3)) * [3.0, 2.0, 1.0]  # the class is read on the third direction
    x = (scores @ np.linalg.qr(rng.normal(size=(20, 3)))[0].T).astype(np.float32)
    y = (scores[:, 2] > 0).astype(int)
    search = GridSearchCV(
        make_pipeline(StreamingPCA(1), LogisticRegression()), {"streamingpca__n_components": [1, 3]}, cv=3
    ).fit(x, y)
    assert search.best_params_ == {"streamingpca__n_components": 3} and search.best_score_ > 0.9
    assert repr(StreamingPCA(3)) == "StreamingPCA(n_components=3)"
