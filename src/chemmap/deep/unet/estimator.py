"""The U-Net mapper as a scikit-learn style estimator over sample sets, with the interface of
:class:`chemmap.supervised.PLSMapper`: ``fit(samples)``, ``predict_map``, ``predict``,
``save`` and ``load``."""

from __future__ import annotations

import os

import numpy as np

from chemmap._shared.estimator import Estimator, RegressorMixin
from chemmap.core.exceptions import NotFittedError
from chemmap.deep.unet.training import IMPROVED, UNetSettings

__all__ = ["UNetMapper"]


class UNetMapper(RegressorMixin, Estimator):
    """Learn a map of one quantity from samples that each carry one reference value.

    Parameters
    ----------
    settings : UNetSettings
        :data:`~chemmap.deep.unet.training.IMPROVED` (default),
        :data:`~chemmap.deep.unet.training.PAPER`, or
        :func:`~chemmap.deep.unet.training.unet_settings` with overrides.
    device : {"auto", "cpu", "cuda"}
        Where maps are computed (training uses ``settings.device``).

    Attributes
    ----------
    trained_ : TrainedUNet

    Examples
    --------
    >>> mapper = UNetMapper(unet_settings("improved", max_epochs=40)).fit(train)  # doctest: +SKIP
    >>> fat = mapper.predict_map(test[0])     # (height, width), NaN outside the mask  # doctest: +SKIP
    """

    def __init__(self, settings: UNetSettings = IMPROVED, *, device: str = "cpu") -> None:
        self.settings = settings
        self.device = device

    def fit(self, samples, y=None, *, validation=None, progress=None) -> UNetMapper:
        """Train on ``samples``; ``validation`` samples, when given, stop training instead of folds."""
        from chemmap.deep.unet.training import train_unet

        self.trained_ = train_unet(samples, self.settings, validation=validation, progress=progress)
        return self

    def _trained(self):
        if not hasattr(self, "trained_"):
            raise NotFittedError("This UNetMapper is not fitted yet; call fit or load first.")
        return self.trained_

    def predict_map(self, sample_or_cube, *, progress=None) -> np.ndarray:
        """The map ``(height, width)`` float32 of a Sample (NaN outside its mask) or a Cube."""
        from chemmap.deep.unet.inference import predict_unet_map
        from chemmap.supervised.samples import Sample

        if isinstance(sample_or_cube, Sample):
            cube, mask = sample_or_cube.cube, sample_or_cube.mask
        else:
            cube, mask = sample_or_cube, None
        return predict_unet_map(self._trained(), cube, mask, device=self.device, progress=progress)

    def predict(self, samples) -> np.ndarray:
        """Masked mean of each sample's map."""
        return np.array([float(np.nanmean(self.predict_map(s))) for s in samples])

    def save(self, folder: str | os.PathLike):
        """Write the model folder (see :func:`chemmap.deep.unet.persist.save_unet`)."""
        from chemmap.deep.unet.persist import save_unet

        return save_unet(self._trained(), folder)

    @classmethod
    def load(cls, folder: str | os.PathLike, *, device: str = "cpu") -> UNetMapper:
        """A fitted mapper from a model folder, with the settings it was trained with."""
        from chemmap.deep.unet.persist import load_unet

        trained = load_unet(folder)
        mapper = cls(trained.settings, device=device)
        mapper.trained_ = trained
        return mapper
