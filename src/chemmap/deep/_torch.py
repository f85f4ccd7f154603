"""The torch import of the ``deep`` room, with the error that names the extra."""

from __future__ import annotations

from chemmap._shared.optional import optional_import

torch = optional_import("torch", extra="deep", purpose="chemmap.deep (the spectral autoencoder and U-Net)")
nn = torch.nn

__all__ = ["nn", "pick_device", "seed_everything", "torch"]


def pick_device(device: str = "auto"):
    """``"auto"``: CUDA when present, else CPU; ``"cpu"``/``"cuda"`` as asked (CUDA missing
    is an error naming what was found)."""
    from chemmap.core.exceptions import InvalidParameterError

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise InvalidParameterError(f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}.")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError("device='cuda' was asked but no CUDA device is available; use 'auto' or 'cpu'.")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed torch's generators (CPU and CUDA). Global switches such as deterministic
    algorithms are left to the caller: they would change the whole process."""
    torch.manual_seed(seed)
