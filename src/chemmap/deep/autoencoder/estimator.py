"""The spectral autoencoder as a scikit-learn style estimator over Cubes."""

from __future__ import annotations

import os

from chemmap._shared.estimator import Estimator, TransformerMixin
from chemmap.core.cube import Cube
from chemmap.core.exceptions import NotFittedError
from chemmap.deep.autoencoder.losses import LossWeights

__all__ = ["SpectralAutoencoderMapper"]

#: The documented loss weights (frozen, so one shared default is safe).
DEFAULT_LOSS = LossWeights()


class SpectralAutoencoderMapper(TransformerMixin, Estimator):
    """Learn a spectral autoencoder on a Cube; map Cubes to latent features or denoise them.

    Parameters are those of :func:`chemmap.deep.autoencoder.training.train_autoencoder`.

    Attributes
    ----------
    trained_ : TrainingResult
        Model (best validation weights), standardisation, axis and history.
    history_ : list of dict
        Per epoch: training and validation losses, learning rate.

    Examples
    --------
    >>> mapper = SpectralAutoencoderMapper(latent_dim=8, epochs=40).fit(cube)  # doctest: +SKIP
    >>> latent = mapper.transform(cube)        # map Cube "latent 1".."latent 8"  # doctest: +SKIP
    >>> clean = mapper.denoise(cube)           # Cube on the same axis  # doctest: +SKIP
    """

    def __init__(
        self,
        latent_dim: int = 8,
        *,
        widths: tuple = (16, 32, 64),
        epochs: int = 60,
        batch_size: int = 256,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        patience: int = 10,
        block_size: int = 16,
        validation: float = 0.2,
        loss: LossWeights = DEFAULT_LOSS,
        device: str = "auto",
        random_state: int = 0,
    ) -> None:
        self.latent_dim = latent_dim
        self.widths = widths
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.block_size = block_size
        self.validation = validation
        self.loss = loss
        self.device = device
        self.random_state = random_state

    def fit(self, X: Cube, y=None, *, progress=None) -> SpectralAutoencoderMapper:
        from chemmap.deep.autoencoder.training import train_autoencoder

        self.trained_ = train_autoencoder(X, progress=progress, **self.get_params())
        self.history_ = self.trained_.history
        return self

    def _both(self, X: Cube) -> tuple[Cube, Cube]:
        from chemmap.deep.autoencoder.inference import autoencode

        if not hasattr(self, "trained_"):
            raise NotFittedError("This SpectralAutoencoderMapper is not fitted yet; call fit or load first.")
        return autoencode(self.trained_, X, device=self.device)

    def transform(self, X: Cube) -> Cube:
        """Latent feature map Cube ``(height, width, latent_dim)`` (lazy for a lazy cube)."""
        return self._both(X)[1]

    def denoise(self, X: Cube) -> Cube:
        """The reconstructed cube on ``X``'s axis, float32 (lazy for a lazy cube)."""
        return self._both(X)[0]

    def save(self, folder: str | os.PathLike):
        """Write the model folder (see :func:`chemmap.deep.autoencoder.persist.save_autoencoder`)."""
        from chemmap.deep.autoencoder.persist import save_autoencoder

        if not hasattr(self, "trained_"):
            raise NotFittedError("Nothing to save: fit the SpectralAutoencoderMapper first.")
        return save_autoencoder(self.trained_, folder)

    @classmethod
    def load(cls, folder: str | os.PathLike, *, device: str = "auto") -> SpectralAutoencoderMapper:
        """A fitted mapper from a model folder; its parameters are the ones it was trained with."""
        from chemmap.deep.autoencoder.persist import load_autoencoder

        trained = load_autoencoder(folder)
        known = cls().get_params()
        params = {k: v for k, v in trained.settings.items() if k in known and k != "loss"}
        if "widths" in params:
            params["widths"] = tuple(params["widths"])
        if isinstance(trained.settings.get("loss"), dict):
            params["loss"] = LossWeights(**trained.settings["loss"])
        mapper = cls(**{**params, "device": device})
        mapper.trained_, mapper.history_ = trained, trained.history
        return mapper
