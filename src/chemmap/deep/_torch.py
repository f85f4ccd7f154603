"""The torch import of the ``deep`` room, with the error that names the extra."""

from __future__ import annotations

import os
import time
from pathlib import Path

from chemmap.core.optional import optional_import

torch = optional_import("torch", extra="deep", purpose="chemmap.deep (the spectral autoencoder and U-Net)")
nn = torch.nn

__all__ = ["nn", "pick_device", "seed_everything", "share_cores", "torch", "usable_threads"]

#: Seconds over which :func:`usable_threads` measures how idle this process's cores are.
IDLE_WINDOW = 0.25


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


def _idle_jiffies(cores: set[int]) -> tuple[int, int] | None:
    """Idle and total CPU time of ``cores`` so far, from /proc/stat (None off Linux)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    idle = total = 0
    for line in lines:
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            counts = [int(v) for v in values]
            idle += counts[3] + (counts[4] if len(counts) > 4 else 0)  # idle + iowait
            total += sum(counts[:8])
    return idle, total


def usable_threads(window: float = IDLE_WINDOW) -> int:
    """CPU threads for PyTorch: the cores this process may use (its affinity) that other
    processes leave idle, measured over ``window`` seconds; at least one.

    PyTorch's threads wait for each other at every operation; where other processes keep
    the cores busy, each wait lasts a time slice, and two threads on two busy cores train
    about twice as slowly as one (the 64 x 64 x 120 autoencoder: 12 s quiet; with two busy
    processes 50 s on 2 threads, 26 s on 1).
    """
    try:
        cores = set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
    before = _idle_jiffies(cores)
    if before is None:
        return len(cores)
    time.sleep(window)
    after = _idle_jiffies(cores)
    busy_total = after[1] - before[1]
    if busy_total <= 0:
        return len(cores)
    idle_cores = len(cores) * (after[0] - before[0]) / busy_total
    return max(1, min(len(cores), round(idle_cores)))


def share_cores(device) -> None:
    """Before training on the CPU: as many PyTorch threads as :func:`usable_threads`."""
    if torch.device(device).type == "cpu":
        torch.set_num_threads(usable_threads())
