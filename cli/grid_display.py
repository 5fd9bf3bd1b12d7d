"""How ``grid`` and ``reproduce`` show many runs: one progress bar over their epochs, with a line as each run
starts, and a table of what happened to each run."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from symtheory.cli.output import console
from symtheory.empirical.provenance import changes_note
from symtheory.wording import plural

RESUME_HINT = "run the same command again: finished runs are skipped, interrupted ones resume"
"""What to do after Ctrl-C stopped a grid of runs."""


@contextmanager
def grid_progress(description: str, total_epochs: int, counted: dict[Path, int], quiet: bool = False
                  ) -> Iterator[tuple[Callable, Callable]]:
    """Yield ``(on_run, on_epoch)`` callbacks for :func:`symtheory.empirical.grid.run_grid`: a bar of the epochs
    done out of ``total_epochs`` (``counted``: run directory -> epochs already done, updated in place), the
    latest run's J1 and J2 beside it, and 'training: <run> -> <dir>' as each run starts; silent when
    ``quiet`` (for --json)."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from symtheory.empirical.grid import announcement

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=console,
                  disable=quiet) as progress:
        task = progress.add_task(description, total=total_epochs, stats="", completed=sum(counted.values()))

        def on_run(run, action):
            if not quiet:
                progress.console.print(f"{announcement(action)}: {run.label} -> {run.run_dir}", soft_wrap=True,
                                       markup=False)

        def on_epoch(run, row):
            counted[run.run_dir] = row["epoch"]
            progress.update(task, completed=sum(counted.values()),
                            stats=f"{escape(run.label)} epoch {row['epoch']}: J1 {row['j1']:.3f} J2 {row['j2']:.3f}")

        yield on_run, on_epoch


def print_outcomes(outcomes: Sequence, title: str, note: str = "") -> list:
    """A table of the runs (action, status, final J1, J2 and test accuracy), ``note`` as written, then a line
    per run that did not finish saying why; returns those runs."""
    from rich.markup import escape
    from rich.table import Table

    def fmt(value):
        return "-" if value is None else f"{value:.3f}"

    table = Table(title=escape(title))
    for column in ("run", "action", "status", "J1", "J2", "test acc"):
        table.add_column(column)
    for o in outcomes:
        final = o.final or {}
        table.add_row(escape(o.label), o.action, o.status, fmt(final.get("j1")), fmt(final.get("j2")),
                      fmt(final.get("test_acc")))
    console.print(table)
    if note:
        console.print(note, soft_wrap=True, markup=False)
    for o in outcomes:
        if getattr(o, "setup_changes", None):
            console.print(f"{o.label}: {changes_note(o.setup_changes)}", soft_wrap=True, markup=False)
    unfinished = [o for o in outcomes if o.status != "finished"]
    for o in unfinished:
        console.print(f"{o.label}: {o.status}: {o.message}", soft_wrap=True, markup=False)
    return unfinished
