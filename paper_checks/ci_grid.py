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


def ci_mismatches(plan) -> list[str]:
    """For each run directory of ``plan`` that already holds a config.json of a different run: its name and
    the train fields that differ from the ci grid's ('cce-eta0-seed0: subset 200 (ci grid: subset 2000),
    ...'); runtime-only fields (device, compile, ...) are not compared."""
    import json

    from symtheory.empirical.grid import train_differences
    from symtheory.paper_checks.runs import format_field

    out = []
    for run in plan:
        path = run.run_dir / "config.json"
        if not path.is_file():
            continue
        try:
            have = json.loads(path.read_text())["train"]
        except (OSError, ValueError, KeyError, TypeError):
            out.append(f"{run.run_dir.name}: unreadable config.json")
            continue
        diffs = [f"{format_field(k, saved)} (ci grid: {format_field(k, wanted)})"
                 for k, (saved, wanted) in train_differences(have, run.config).items()]
        if diffs:
            out.append(f"{run.run_dir.name}: {', '.join(diffs)}")
    return out


def ci_grid(runs: str | Path | None = None, progress: Callable[[str], None] | None = None,
            train_missing: bool = True, backend: str | None = None, data_dir: str | Path | None = None) -> Grid:
    """Train what is missing of the ci grid under ``runs`` (fused on the CPU by default) and load exactly
    its run directories (other directories under ``runs`` are ignored; unfinished runs are left out and
    named by the claims that miss them). BadInput, before anything is trained, when a run directory of the
    grid holds a run of another configuration (e.g. a 2-epoch grid on 200 images): such runs would be
    skipped as finished and judged as if they were the ci grid."""
    from symtheory.empirical.grid import announcement, run_grid
    from symtheory.errors import BadInput

    out = Path(runs) if runs else DEFAULT_RUNS
    plan = ci_plan(out)
    wrong = ci_mismatches(plan)
    if wrong:
        shown = "; ".join(wrong[:2]) + (f"; and {len(wrong) - 2} more" if len(wrong) > 2 else "")
        raise BadInput(f"{out} holds runs that are not the ci grid's (mlp on {CI_SUBSET} mnist images, "
                       f"{CI_EPOCHS} epochs): {shown}; point --runs at an empty or ci-grid directory")
    if train_missing:
        on_run = (lambda run, action: progress(f"{announcement(action)}: {run.label}")) if progress else None
        run_grid(plan, backend or os.environ.get("SYMTHEORY_CI_BACKEND", "fused"),
                 data_dir=data_dir, on_run=on_run)
    return load_grid([run.run_dir for run in plan])
