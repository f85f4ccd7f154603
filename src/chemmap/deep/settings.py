"""The spectral autoencoder's training settings, declared once (no PyTorch import here, so
the workflow, the CLI and the config can name and check them without the ``deep`` extra)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from chemmap._shared.validation import check_choice
from chemmap.core.exceptions import InvalidParameterError

__all__ = ["OUTPUTS", "SPLITS", "LossWeights", "TrainSettings"]

#: Output activations of the decoder.
OUTPUTS = ("linear", "tanh")
#: How the validation pixels are drawn.
SPLITS = ("blocks", "random")


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms.

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

    mse: float = 1.0
    sam: float = 0.1
    gradient: float = 0.5

    def __post_init__(self) -> None:
        for item in fields(self):
            if not getattr(self, item.name) >= 0:
                raise InvalidParameterError(f"loss weight {item.name} must be >= 0; got {getattr(self, item.name)}.")
        if self.mse + self.sam + self.gradient == 0:
            raise InvalidParameterError("at least one loss weight (mse, sam, gradient) must be above 0.")


@dataclass
class TrainSettings:
    """Training options of :func:`chemmap.deep.training.train_autoencoder`.

    Attributes
    ----------
    latent_dim : int
        Size of the latent vector.
    widths : tuple of int
        Channels of the encoder's convolution blocks (the decoder mirrors them).
    output : {"linear", "tanh"}
        The decoder's output activation; linear suits the standardised spectra it learns.
    epochs, batch_size, learning_rate, weight_decay, patience
        Most epochs; spectra per step (smaller on small images); AdamW rate (cosine schedule
        to 1 % of it) and weight decay; epochs without a better validation loss before
        stopping.
    validation : float
        Share of the valid pixels held out to pick the best epoch.
    split : {"blocks", "random"}
        ``blocks``: whole ``block_size`` x ``block_size`` squares are held out, so validation
        pixels are not the neighbours of training pixels; ``random``: single pixels (as
        deepHSI does; neighbours leak, so the validation loss is optimistic).
    block_size : int
        Side of the blocks, pixels.
    loss : LossWeights
    device : {"auto", "cpu", "cuda"}
    random_state : int
    """

    latent_dim: int = 8
    widths: tuple = (16, 32, 64)
    output: str = "linear"
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 10
    validation: float = 0.2
    split: str = "blocks"
    block_size: int = 16
    loss: LossWeights = field(default_factory=LossWeights)
    device: str = "auto"
    random_state: int = 0

    def __post_init__(self) -> None:
        check_choice(self.output, OUTPUTS, name="output", func="autoencoder")
        check_choice(self.split, SPLITS, name="split", func="autoencoder")
        check_choice(self.device, ("auto", "cpu", "cuda"), name="device", func="autoencoder")
        if isinstance(self.loss, dict):
            self.loss = LossWeights(**self.loss)
        self.widths = tuple(int(w) for w in self.widths)
        if not 0 < self.validation < 1:
            raise InvalidParameterError(f"validation must be a fraction in (0, 1); got {self.validation}.")
        for name in ("latent_dim", "epochs", "batch_size", "patience", "block_size"):
            if int(getattr(self, name)) < 1:
                raise InvalidParameterError(f"{name} must be a positive integer; got {getattr(self, name)}.")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(TrainSettings))

    def training_options(self) -> dict:
        """The training fields as keyword arguments (for subclasses that add workflow fields)."""
        return {name: getattr(self, name) for name in TrainSettings.names()}
