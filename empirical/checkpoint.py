"""Checkpoints written atomically and read back with ``torch.load(weights_only=True)``.

A checkpoint holds only tensors and primitive containers: model and optimizer state dicts, the global RNG
states (as uint8 tensors), the number of finished epochs and a few numbers. It is written to a temporary
file in the same directory, flushed to disk, then moved over the old one with ``os.replace``, so a run
killed at any moment leaves either the previous checkpoint or the new one, never a partial file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from symtheory.empirical.run_dir import atomic_write
from symtheory.errors import BadInput


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and primitive containers only) atomically to ``path``."""
    atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", mmap: bool = False) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (``mmap``: its tensors mapped, not read); BadInput if it
    is missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"no checkpoint at {p}: the run has not finished an epoch yet; delete {p.parent} and "
                       "start it again")
    try:
        return torch.load(p, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing to the user
        raise BadInput(f"checkpoint {p} cannot be read ({type(exc).__name__}); delete {p.parent} and start the run "
                       "again") from None


def rng_states() -> dict[str, Any]:
    """The global CPU and CUDA generator states, as uint8 tensors."""
    states: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`rng_states` returned."""
    torch.set_rng_state(states["cpu"].cpu())
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])


def checkpoint_epoch(path: str | Path) -> int:
    """The finished epochs the checkpoint at ``path`` holds, 0 if there is none; its tensors are not read."""
    return int(load_checkpoint(path, mmap=True)["epoch"]) if Path(path).is_file() else 0
