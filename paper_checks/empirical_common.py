"""Shared helpers of the empirical claims: formatting a per-run figure and the 'not run' case."""

from __future__ import annotations

from symtheory.paper_checks.claim import ClaimResult, not_run
from symtheory.paper_checks.runs import Grid, RunRecord, runs_for


def describe(run: RunRecord, value: float, what: str) -> str:
    """'cce eta=0.4: J1=0.998'."""
    return f"{run.loss} eta={run.eta:g}: {what}={value:.3f}"


def required_runs(grid: Grid, claim: str, statement: str, tolerance: str, needs: dict[str, list[float] | None]
                  ) -> tuple[dict[str, list[RunRecord]], ClaimResult | None]:
    """The runs a claim needs, per loss; a 'not run' result naming what is missing if any is absent."""
    found, missing = {}, []
    for loss, etas in needs.items():
        runs = runs_for(grid, loss, etas)
        wanted = len(etas) if etas is not None else 1
        if len(runs) < wanted:
            have = {r.eta for r in runs}
            missing += [f"{loss} eta={e:g}" for e in (etas or []) if round(e, 6) not in have] or [loss]
        found[loss] = runs
    if missing:
        return found, not_run(claim, statement, tolerance, "missing runs: " + ", ".join(missing))
    return found, None
