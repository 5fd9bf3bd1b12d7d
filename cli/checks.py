"""``symtheory paper-check`` (the paper's claims, verdict by verdict) and ``symtheory report`` (Markdown)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from symtheory.cli.app import app, resume_hint_on_interrupt
from symtheory.cli.output import console, print_json
from symtheory.empirical.threads import THREADS_HELP

VERDICT_STYLE = {"holds": "green", "does not hold": "red", "not run": "yellow"}


def print_plain(text: str) -> None:
    """Print ``text`` (a run label, a path) on the console as written: rich markup in it is escaped."""
    from rich.markup import escape

    console.print(escape(str(text)))


def print_claims(results, title: str) -> None:
    """A rich table: claim, statement, measured, tolerance, verdict; every cell is printed as written (rich
    markup escaped, so '[mnist-resnet18/mnist]' in a claim or a measured figure stays visible)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), show_lines=True)
    for column, ratio in (("claim", 1), ("statement", 3), ("measured", 5), ("tolerance", 3), ("verdict", 1)):
        table.add_column(column, ratio=ratio, overflow="fold")
    for r in results:
        style = VERDICT_STYLE[r.verdict]
        table.add_row(*(escape(str(c)) for c in (r.claim, r.statement, r.measured, r.tolerance)),
                      f"[{style}]{escape(r.verdict)}[/{style}]")
    console.print(table)


@app.command("paper-check")
def paper_check(
    tier: str = typer.Option("ci", "--tier", help="ci: symbolic, numeric and a small CPU grid; full: the paper's "
                             "presets at full scale, read from --runs (trained on a GPU)."),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated claims, e.g. E2,E4 (default: all: "
                                       "S1,S2,S3,N1,E1-E6; S3 includes S3-cce)."),
    runs: Optional[Path] = typer.Option(None, "--runs", help="ci: where the small grid is cached (default "
                                        "runs/paper-check-ci; runs of another configuration there are refused); "
                                        "full: directory holding the preset grids (only finished full-scale runs "
                                        "are judged)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Dataset root for the ci grid."),
    no_train: bool = typer.Option(False, "--no-train", help="ci: use only runs already under --runs."),
    threads: Optional[int] = typer.Option(None, "--threads", help="ci: " + THREADS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Check the paper's claims (docs/claims.md); exit 1 if any claim that ran does not hold."""
    from symtheory.empirical.threads import check_threads, torch_threads
    from symtheory.paper_checks.suite import run_suite

    check_threads(threads)

    hint = ("run the same command again: the ci grid's finished runs are kept, interrupted ones resume"
            if tier == "ci" else "run the same command again")
    with resume_hint_on_interrupt(lambda: hint), torch_threads(threads):
        results = run_suite(tier, only, runs, progress=None if as_json else print_plain,
                            train_missing=not no_train, data_dir=data_dir)
    if as_json:
        print_json([r.to_dict() for r in results])
    else:
        print_claims(results, f"paper claims, tier {tier}")
    if any(r.verdict == "does not hold" for r in results):
        raise typer.Exit(1)


@app.command("report")
def report_command(
    runs: Path = typer.Argument(..., help="A directory of runs (any depth): one section per "
                               "experiment, seeds averaged; unfinished runs are listed, not used."),
    output: Path = typer.Option(Path("report.md"), "--output", "-o", help="Markdown file; figures go beside it."),
) -> None:
    """Write a Markdown report: figures 1-5 from the runs, final J1/J2/test accuracy, each claim's verdict."""
    from symtheory.paper_checks.report import write_report

    path = write_report(runs, output)
    print_plain(f"wrote {path}")
