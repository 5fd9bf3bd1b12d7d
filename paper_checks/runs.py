"""Training curves as the empirical checks see them: one RunRecord per (loss, eta)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunRecord:
    """Per-epoch J1 (accuracy on the given noisy labels), J2 (on the clean labels) and test accuracy."""

    loss: str
    eta: float
    j1: list[float]
    j2: list[float]
    test_accuracy: list[float] = field(default_factory=list)
    source: str = ""
    run: Any = field(default=None, repr=False, compare=False)  # the empirical.plots record it was read from

    @property
    def final_j1(self) -> float:
        """J1 at the last epoch."""
        return self.j1[-1]

    @property
    def final_j2(self) -> float:
        """J2 at the last epoch."""
        return self.j2[-1]


Grid = dict[tuple[str, float], RunRecord]


def grid_key(loss: str, eta: float) -> tuple[str, float]:
    """Key of a run in a grid (eta rounded so 0.2 read from JSON matches 0.2 typed)."""
    return loss, round(float(eta), 6)


def _read(run_dir: str | Path):
    """The run directory as ``symtheory.empirical.plots`` reads it (config.json once, metrics.jsonl once)."""
    from symtheory.empirical.plots import load_run as read_run_dir

    record = read_run_dir(run_dir)
    if not record.rows:
        raise ValueError(f"{run_dir}: metrics.jsonl has no epochs")
    return record


def _curves(record) -> RunRecord:
    rows, train = record.rows, record.train
    return RunRecord(
        loss=train["loss"], eta=float(train["eta"]),
        j1=[r["j1"] for r in rows], j2=[r["j2"] for r in rows],
        test_accuracy=[r.get("test_acc", float("nan")) for r in rows], source=str(record.path), run=record,
    )


def load_run(run_dir: str | Path) -> RunRecord:
    """A RunRecord from a run directory written by ``symtheory train`` (config.json + metrics.jsonl)."""
    return _curves(_read(run_dir))


def load_grids_by_preset(root: str | Path) -> dict[str, Grid]:
    """Run directories under ``root`` grouped by '<preset>/<dataset>' (one grid per experiment)."""
    grids: dict[str, Grid] = {}
    for metrics in sorted(Path(root).rglob("metrics.jsonl")):
        record = _read(metrics.parent)
        name = f"{record.train.get('preset') or record.train.get('arch')}/{record.train.get('dataset')}"
        curves = _curves(record)
        grids.setdefault(name, {})[grid_key(curves.loss, curves.eta)] = curves
    return grids


def load_grid(root: str | Path) -> Grid:
    """Every run directory under ``root`` (any depth) with a metrics.jsonl, keyed by (loss, eta)."""
    grid: Grid = {}
    for metrics in sorted(Path(root).rglob("metrics.jsonl")):
        record = load_run(metrics.parent)
        grid[grid_key(record.loss, record.eta)] = record
    return grid


def runs_for(grid: Grid, loss: str, etas=None) -> list[RunRecord]:
    """The runs of one loss, sorted by eta (restricted to ``etas`` if given)."""
    wanted = None if etas is None else {round(float(e), 6) for e in etas}
    return sorted((r for (l, e), r in grid.items() if l == loss and (wanted is None or e in wanted)),
                  key=lambda r: r.eta)
