"""A Markdown report of finished runs: the paper's figures, the final accuracies, each claim's verdict."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from symtheory.errors import BadInput
from symtheory.paper_checks.claim import ClaimResult
from symtheory.paper_checks.runs import Grid, load_grids_by_preset
from symtheory.paper_checks.suite import ALL_CLAIMS, E1_EXCEPTIONS, EMPIRICAL, empirical_claims, theory_claims


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def _figures(name: str, grid: Grid, folder: Path) -> list[tuple[str, Path]]:
    from symtheory.empirical.plots import load_run, plot_runs

    records = [r.run if r.run is not None else load_run(r.source) for r in grid.values()]
    out = []
    for kind, caption in (("j1", "training accuracy J1 per eta (paper Figs. 1-3)"),
                          ("j1j2", "J1 solid, J2 dashed (paper Figs. 4-5)")):
        path = plot_runs(records, folder / f"{_slug(name)}-{kind}.png", kind=kind, title=f"{name}: {caption}")
        out.append((caption, path))
    return out


def _final_table(grid: Grid) -> list[str]:
    lines = ["| loss | eta | epochs | final J1 | final J2 | best J2 | final test acc |", "|---|---|---|---|---|---|---|"]
    for (loss, eta), run in sorted(grid.items()):
        test = run.test_accuracy[-1] if run.test_accuracy else float("nan")
        lines.append(f"| {loss} | {eta:g} | {len(run.j1)} | {run.final_j1:.4f} | {run.final_j2:.4f} | "
                     f"{max(run.j2):.4f} | {test:.4f} |")
    return lines


def claims_table(results: list[ClaimResult]) -> list[str]:
    """Markdown rows: claim, statement, measured, tolerance, verdict."""
    lines = ["| claim | statement | measured | tolerance | verdict |", "|---|---|---|---|---|"]
    for r in results:
        cells = [r.claim, r.statement, r.measured, r.tolerance, f"**{r.verdict}**"]
        lines.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return lines


def write_report(runs: str | Path, output: str | Path) -> Path:
    """Write ``output`` (Markdown) with figures beside it, for every grid of runs under ``runs``."""
    runs, output = Path(runs), Path(output)
    if not runs.is_dir():
        raise BadInput(f"no run directory at {runs}")
    grids = load_grids_by_preset(runs)
    if not grids:
        raise BadInput(f"no runs (metrics.jsonl) under {runs}")
    output.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# symtheory report: {runs}", "",
             f"Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `symtheory report`.", ""]
    results = theory_claims(ALL_CLAIMS)
    for name, grid in sorted(grids.items()):
        preset = name.split("/")[0]
        lines += [f"## {name}", ""]
        for caption, path in _figures(name, grid, output.parent):
            lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
        lines += _final_table(grid) + [""]
        results += empirical_claims(grid, list(EMPIRICAL), name, E1_EXCEPTIONS.get(preset))
    lines += ["## Claims (SPEC.md section 3)", ""] + claims_table(results) + [""]
    output.write_text("\n".join(lines))
    return output
