"""The small-scale grid behind the ``ci`` tier: E1-E6 on a CPU in minutes.

An overparameterized MLP (784-512-512-10, 670k parameters) on a seeded, class-stratified MNIST subset —
far more parameters than examples, the regime in which Zhang et al. (2017) and the paper observe
memorization — trained with Adam (lr 1e-3, batch 128) for the paper's 4 losses x 4 eta. The runs are
cached in a directory: finished runs are reused, interrupted ones resumed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from symtheory.paper_checks.runs import Grid, load_grid

CI_DATASET = "mnist"
CI_ARCH = "mlp"
CI_SUBSET = 2000
CI_EPOCHS = 60
CI_LOSSES = ("cce", "mse", "rll", "nmse")
CI_ETAS = (0.0, 0.2, 0.4, 0.6)
DEFAULT_RUNS = Path("runs") / "paper-check-ci"


def ci_plan(out: str | Path):
    """The ci grid's runs (configs and directories)."""
    from symtheory.empirical.grid import plan_grid

    return plan_grid(out, None, CI_LOSSES, CI_ETAS, (0,), dataset=CI_DATASET, arch=CI_ARCH, subset=CI_SUBSET,
                     epochs=CI_EPOCHS, device="cpu")


def ci_grid(runs: str | Path | None = None, progress: Callable[[str], None] | None = None,
            train_missing: bool = True, backend: str | None = None, data_dir: str | Path | None = None) -> Grid:
    """Train what is missing of the ci grid under ``runs`` (fused on the CPU by default) and load it."""
    from symtheory.empirical.grid import announcement, run_grid

    out = Path(runs) if runs else DEFAULT_RUNS
    if train_missing:
        plan = ci_plan(out)
        on_run = (lambda run, action: progress(f"{announcement(action)}: {run.label}")) if progress else None
        run_grid(plan, backend or os.environ.get("SYMTHEORY_CI_BACKEND", "fused"),
                 data_dir=data_dir, on_run=on_run)
    return load_grid(out) if out.exists() else {}
