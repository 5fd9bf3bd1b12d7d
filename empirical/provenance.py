"""What a run was computed with: code, library versions, machine, device and thread count.

A resumed run continues bit-exactly only on the setup its checkpoint was written with: the same code, torch,
device and number of CPU threads (the order of floating-point sums depends on each). The checkpoint keeps that
setup (:func:`exactness_setup`); a resume on another one is told what changed (:func:`setup_changes`).
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

EXACTNESS_KEYS = ("code", "torch", "numpy", "device", "device_name", "torch_threads")
"""The parts of a setup an exact resume depends on, in the order a change is reported."""

_LABELS = {"code": "code", "torch": "torch", "numpy": "numpy", "device": "device", "device_name": "GPU",
           "torch_threads": "torch threads"}


@functools.lru_cache(maxsize=None)
def _git_commit(where: Path) -> dict[str, Any] | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def git_commit(start: Path | None = None) -> dict[str, Any] | None:
    """The source checkout's commit and whether it has local changes; None outside a git checkout."""
    return _git_commit(start or Path(__file__).resolve().parent)


def provenance(device: str) -> dict[str, Any]:
    """Code and library versions, the machine and the device a run used."""
    import numpy
    import torch

    import symtheory

    info: dict[str, Any] = {
        "symtheory_version": symtheory.__version__,
        "git": git_commit(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "device": device,
        "torch_threads": torch.get_num_threads(),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        info["torchvision"] = None
    if device.startswith("cuda"):
        info["device_name"] = torch.cuda.get_device_name(torch.device(device))
    return info


def exactness_setup(device: str) -> dict[str, Any]:
    """The part of :func:`provenance` an exact resume needs again (:data:`EXACTNESS_KEYS`), as strings and ints
    a checkpoint holds: the code is the git commit, or the package version outside a checkout (plain str:
    torch's version string is a subclass ``weights_only`` loading refuses)."""
    info = provenance(device)
    return {
        "code": info["git"]["commit"] if info["git"] else f"symtheory {info['symtheory_version']}",
        "torch": str(info["torch"]),
        "numpy": str(info["numpy"]),
        "device": str(device),
        "device_name": info.get("device_name", ""),
        "torch_threads": int(info["torch_threads"]),
    }


def _shown(key: str, value: Any) -> str:
    if key == "code" and isinstance(value, str) and len(value) == 40:
        return f"commit {value[:10]}"
    return str(value) if value not in ("", None) else "none"


def setup_changes(saved: dict[str, Any] | None, now: dict[str, Any]) -> list[str]:
    """What differs between the setup a checkpoint was written with and this one, one "name old -> new" text per
    part of :data:`EXACTNESS_KEYS`; [] when nothing does or the checkpoint predates the record (``saved`` None)."""
    if not saved:
        return []
    return [f"{_LABELS[key]} {_shown(key, saved[key])} -> {_shown(key, now.get(key))}"
            for key in EXACTNESS_KEYS if key in saved and saved[key] != now.get(key)]


def changes_note(changes: list[str]) -> str:
    """The one line a resume on another setup prints: what changed and what it means for the figures."""
    return (f"resumed on another setup than its checkpoint was written on ({'; '.join(changes)}): the epochs from "
            "here can differ slightly from an uninterrupted run's")
