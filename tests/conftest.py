"""Shared fixtures: where the data is, and skipping GPU tests where there is no GPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """SYMTHEORY_DATA if set, else ../shared/data beside the checkout, else None."""
    env = os.environ.get("SYMTHEORY_DATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (candidate / "MNIST" / "raw").is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The dataset root (torchvision layout); tests that need real data skip without it."""
    found = shared_data_dir()
    if found is None:
        pytest.skip("no dataset directory (set SYMTHEORY_DATA or provide ../shared/data)")
    return found


def pytest_collection_modifyitems(config, items):
    """Skip tests marked gpu unless torch sees a CUDA device (checked only if such tests exist)."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in gpu_items:
            item.add_marker(skip)
