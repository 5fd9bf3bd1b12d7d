"""A Markdown report of finished runs: the paper's figures, the final accuracies, each claim's verdict.

One section per experiment (see :mod:`symtheory.paper_checks.runs`: runs sharing preset, network, dataset,
subset, epochs, noise kind and training recipe). Within an experiment the runs of one (loss, eta) that
differ only in their seed are one table row (mean ± sample standard deviation over the seeds) and one
claim input (the per-epoch mean curve); the figures are drawn from every seed's run. Unfinished runs are not used: they
are listed under "Runs not used" with the reason.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from symtheory.empirical.config import short_digest
from symtheory.errors import BadInput
from symtheory.paper_checks.claim import ClaimResult
from symtheory.paper_checks.runs import Grid, format_field, load_runs
from symtheory.paper_checks.suite import ALL_CLAIMS, EMPIRICAL, e1_exceptions, empirical_claims, theory_claims
from symtheory.wording import plural

SEEDS_NOTE = ("Runs that differ only in their seed are aggregated: each table row gives the mean ± sample "
              "standard deviation over its seeds (listed in the seeds column), the claims are judged on the "
              "per-epoch mean curves (the measured text names the seeds and the range of their final values), "
              "and the figures are drawn from every seed's run. Only finished runs are used (summary.json "
              "status \"finished\" with every planned epoch recorded).")


def _slug(name: str) -> str:
    """A file-name stem for an experiment's figures: its name with other characters as '-', at most 80
    characters (a longer one cut and ended with 8 hex digits of the name's SHA-256, so slugs stay unique)."""
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    while "--" in slug:
        slug = slug.replace("--", "-")
    slug = slug.strip("-")
    if len(slug) > 80:
        slug = slug[:71].rstrip("-") + "-" + short_digest(name)
    return slug


def _figures(name: str, slug: str, grid: Grid, folder: Path) -> list[tuple[str, Path]]:
    from symtheory.empirical.plots import load_run, plot_runs

    records = [m.run if m.run is not None else load_run(m.source) for r in grid.values() for m in r.per_seed]
    out = []
    for kind, caption in (("j1", "training accuracy J1 per eta (paper Figs. 1-3)"),
                          ("j1j2", "J1 solid, J2 dashed (paper Figs. 4-5)")):
        path = plot_runs(records, folder / f"{slug}-{kind}.png", kind=kind, title=f"{name}: {caption}")
        out.append((caption, path))
    return out


def mean_sd(run, value) -> str:
    """'0.8400' for one seed, '0.8300 ± 0.0141' (mean ± sample standard deviation) for several."""
    mean, sd = run.spread(value)
    return f"{mean:.4f}" if len(run.per_seed) < 2 else f"{mean:.4f} ± {sd:.4f}"


def _final_table(grid: Grid) -> list[str]:
    lines = ["| loss | eta | seeds | epochs | final J1 | final J2 | best J2 | final test acc |",
             "|---|---|---|---|---|---|---|---|"]
    matrix = grid.setting.get("noise") == "matrix"  # its runs carry eta 0, which would read as clean labels
    for (loss, eta), run in sorted(grid.items()):
        seeds = ", ".join(str(s) for s in run.seeds) or "-"
        lines.append(f"| {markdown_cell(loss)} | {'matrix' if matrix else f'{eta:g}'} | {seeds} | {len(run.j1)} | {mean_sd(run, lambda r: r.final_j1)} | "
                     f"{mean_sd(run, lambda r: r.final_j2)} | {mean_sd(run, lambda r: max(r.j2))} | "
                     f"{mean_sd(run, lambda r: r.test_accuracy[-1] if r.test_accuracy else float('nan'))} |")
    return lines


def markdown_cell(text: str) -> str:
    """``text`` as one Markdown table cell: '|' escaped (so |x| stays an absolute value), '*' and '_' escaped
    (so p**a is not bold), line breaks as spaces."""
    for char in ("\\", "|", "*", "_"):
        text = text.replace(char, "\\" + char)
    return " ".join(text.splitlines())


def theory_lines(grid: Grid) -> list[str]:
    """What theory says of each loss row of an experiment at the data's K (a note on Theorem 1, then a row
    per loss: symmetric, C, bounds; see :mod:`symtheory.paper_checks.loss_theory`)."""
    from symtheory.empirical.config import get_dataset_spec
    from symtheory.paper_checks.loss_theory import loss_theory

    trains = {loss: run.per_seed[0].run.train for (loss, _), run in grid.items() if run.per_seed[0].run is not None}
    if not trains:
        return []
    k = get_dataset_spec(grid.setting["dataset"]).num_classes
    noise = grid.setting.get("noise", "symmetric")
    theorem = (f"a symmetric loss keeps the clean ranking of classifiers under symmetric noise for eta < "
               f"{k - 1}/{k} (Theorem 1)" if noise == "symmetric" else
               f"Theorem 1 is about symmetric noise, and this experiment's noise is {noise}")
    lines = [f"What theory says of these losses at K = {k}, with the parameters they were trained with "
             f"(`symtheory check-loss LOSS --param NAME=VALUE --classes {k}`, or `--expr` for your own loss, "
             f"shows the proofs): {theorem}.", "",
             "| loss | symmetric | C | bounds on the simplex |", "|---|---|---|---|"]
    for label, train in sorted(trains.items()):
        t = loss_theory(train, k)
        cells = [label, t.symmetric, t.constant or "-", t.bounds]
        lines.append("| " + " | ".join(markdown_cell(c) for c in cells) + " |")
    return lines


def setting_line(grid: Grid) -> str:
    """'Setting: no preset, arch mlp, dataset mnist, subset 200, 2 epochs, symmetric noise, ...; 8 finished
    runs in g.' -- every field the experiment's runs share."""
    first = ("preset", "arch", "dataset", "subset", "epochs", "noise")
    order = [k for k in first if k in grid.setting] + [k for k in grid.setting if k not in first]
    fields = ", ".join(format_field(k, grid.setting[k]) + _matrix_rows(k, grid.setting[k]) for k in order
                       if k != "noise_matrix" or grid.setting[k] is not None)
    finished = sum(len(r.per_seed) for r in grid.values())
    return f"Setting: {fields}; {plural(finished, 'finished run')} in {grid.folder}."


def _matrix_rows(name: str, value) -> str:
    """' [[0.55, 0.05, ...], ...]' (4 significant digits) after a noise matrix's name; '' for other fields."""
    if name != "noise_matrix" or value is None:
        return ""
    return " [" + ", ".join("[" + ", ".join(f"{float(v):.4g}" for v in row) + "]" for row in value) + "]"


def claims_table(results: list[ClaimResult]) -> list[str]:
    """Markdown rows: claim, statement, measured, tolerance, verdict (a '|' in a cell escaped, so |x| stays
    an absolute value)."""
    lines = ["| claim | statement | measured | tolerance | verdict |", "|---|---|---|---|---|"]
    for r in results:
        cells = [r.claim, r.statement, r.measured, r.tolerance]
        lines.append("| " + " | ".join(markdown_cell(c) for c in cells) + f" | **{r.verdict}** |")
    return lines


def write_report(runs: str | Path, output: str | Path) -> Path:
    """Write ``output`` (Markdown) with figures beside it, for every experiment of runs under ``runs``."""
    from symtheory.figure_file import file_target

    runs, output = Path(runs), file_target(output, "--output", "report.md")
    if not runs.is_dir():
        raise BadInput(f"no run directory at {runs}")
    runset = load_runs(runs)
    if not runset.grids and not runset.skipped:
        raise BadInput(f"no runs (metrics.jsonl) under {runs}")
    output.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# symtheory report: {runs}", "",
             f"Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `symtheory report`.", "",
             SEEDS_NOTE, ""]
    results = theory_claims(ALL_CLAIMS)
    slugs: set[str] = set()
    for name, grid in sorted(runset.grids.items()):
        lines += [f"## {name}", "", setting_line(grid), ""]
        if not grid:
            lines += ["No finished runs (see Runs not used); its claims are not judged.", ""]
            continue
        slug, n = _slug(name), 2
        while slug in slugs:
            slug, n = f"{_slug(name)}-{n}", n + 1
        slugs.add(slug)
        for caption, path in _figures(name, slug, grid, output.parent):
            lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
        lines += _final_table(grid) + [""] + theory_lines(grid) + [""]
        results += empirical_claims(grid, list(EMPIRICAL), name, e1_exceptions(grid.setting))
    skipped = runset.all_skipped()
    if skipped:
        lines += ["## Runs not used", "", "| run | why |", "|---|---|"]
        lines += [f"| {path} | {why.replace('|', '/')} |" for path, why in skipped] + [""]
    lines += ["## Claims (docs/claims.md)", ""] + claims_table(results) + [""]
    output.write_text("\n".join(lines))
    return output
