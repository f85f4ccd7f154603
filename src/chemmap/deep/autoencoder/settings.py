"""The spectral autoencoder's training settings, declared once (no PyTorch import here, so
the workflow, the CLI and the config can name and check them without the ``deep`` extra)."""

from __future__ import annotations

from typing import ClassVar

from chemmap._shared.params import Param, Settings, check_counts
from chemmap.core.exceptions import InvalidParameterError

__all__ = ["OUTPUTS", "SPLITS", "LossWeights", "TrainSettings"]

#: Output activations of the decoder.
OUTPUTS = ("linear", "tanh")
#: How the validation pixels are drawn.
SPLITS = ("blocks", "random")


class LossWeights(Settings):
    """Weights of the loss terms, each >= 0 and not all 0.

    Attributes
    ----------
    mse : float
        Mean squared error on the standardised spectra (default 1).
    sam : float
        Spectral angle (radians) between the un-standardised, un-centred spectra (default
        0.1): shape agreement independent of intensity scale.
    gradient : float
        Mean squared error of the signed first differences along the spectrum (default
        0.5): keeps band edges sharp, which MSE alone blurs.
    """

    SECTION = "loss"
    PARAMS: ClassVar[dict[str, Param]] = {
        "mse": Param("float", 1.0, low=0, doc="weight of the mean squared error"),
        "sam": Param("float", 0.1, low=0, doc="weight of the spectral angle"),
        "gradient": Param("float", 0.5, low=0, doc="weight of the error of the first differences"),
    }

    def check(self) -> None:
        if self.mse + self.sam + self.gradient == 0:
            raise InvalidParameterError("at least one loss weight (mse, sam, gradient) must be above 0.")


def _loss_weights(value, name, func) -> LossWeights:
    """A :class:`LossWeights` from itself, a table or ``"mse=1,sam=0.1,gradient=0.5"``."""
    if isinstance(value, str):
        try:
            value = {k.strip(): float(v) for k, v in (item.split("=") for item in value.split(",") if item.strip())}
        except ValueError:
            raise InvalidParameterError(
                f"The {name!r} parameter of {func} must look like mse=1,sam=0.1,gradient=0.5. Got {value!r} instead."
            ) from None
    return LossWeights.parse(value, name=name, func=func)


class TrainSettings(Settings):
    """Training options of :func:`chemmap.deep.autoencoder.training.train_autoencoder`, declared once in
    :data:`TrainSettings.PARAMS` (the ``[autoencoder]`` table of a config).

    ``learning_rate`` follows a cosine schedule to 1 % of it; ``split = "blocks"`` holds out
    whole ``block_size`` x ``block_size`` squares, so validation pixels are not the neighbours
    of training pixels, while ``random`` holds out single pixels (as deepHSI does; neighbours
    leak, so the validation loss is optimistic); ``loss``: see :class:`LossWeights`.
    """

    SECTION = "autoencoder"
    PARAMS: ClassVar[dict[str, Param]] = {
        "latent_dim": Param("int", 8, low=1, doc="size of the latent vector"),
        "widths": Param("any", (16, 32, 64), check=check_counts, doc="channels of the encoder blocks, e.g. 16,32,64"),
        "output": Param("choice", "linear", choices=OUTPUTS, doc="decoder output activation"),
        "epochs": Param("int", 60, low=1, doc="most training epochs (early stopping)"),
        "batch_size": Param("int", 256, low=1, doc="spectra per step (smaller on small images)"),
        "learning_rate": Param("float", 2e-3, low=0, low_inclusive=False, doc="AdamW learning rate"),
        "weight_decay": Param("float", 1e-4, low=0, doc="AdamW weight decay"),
        "patience": Param("int", 10, low=1, doc="epochs without a better validation loss before stopping"),
        "validation": Param(
            "float", 0.2, low=0, high=1, low_inclusive=False, high_inclusive=False, doc="share of pixels held out"
        ),
        "split": Param("choice", "blocks", choices=SPLITS, doc="validation pixels in spatial blocks or at random"),
        "block_size": Param("int", 16, low=1, doc="side of the validation blocks, pixels"),
        "loss": Param("any", LossWeights(), check=_loss_weights, doc="weights of the loss terms, e.g. mse=1,sam=0.1"),
        "device": Param("choice", "auto", choices=("auto", "cpu", "cuda"), doc="auto: CUDA when present"),
        "random_state": Param("int", 0, low=0, flag="seed", doc="random seed"),
    }

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(TrainSettings.PARAMS)

    def training_options(self) -> dict:
        """The training parameters as keyword arguments (for subclasses that add workflow ones)."""
        return {name: getattr(self, name) for name in TrainSettings.PARAMS}
