"""E5 — "Once we normalize MSE, it no longer fits the data with random labels perfectly; the training
accuracy now saturates at a value below 100% and thus it behaves more like RLL now" (Patel & Sastry 2021,
Sec. 3, Fig. 5)."""

from __future__ import annotations

from symtheory.paper_checks.claim import ClaimResult, verdict_of
from symtheory.paper_checks.empirical_common import at_most, describe, required_runs
from symtheory.paper_checks.runs import Grid

CLAIM = "E5"
STATEMENT = "nmse behaves like rll: its training accuracy saturates below 100% at eta > 0"
MAX_J1 = 0.95
BELOW_CLEAN = 0.10
TOLERANCE = f"final J1 <= {MAX_J1} and <= J1(eta=0) - {BELOW_CLEAN} for eta > 0"


def check(grid: Grid) -> ClaimResult:
    """Final J1 of nmse at each eta > 0 against 100% and against its clean run."""
    runs, missing = required_runs(grid, CLAIM, STATEMENT, TOLERANCE, {"nmse": [0.0, 0.2, 0.4, 0.6]})
    if missing:
        return missing
    records = runs["nmse"]
    clean = records[0].final_j1
    parts, ok = [describe(records[0], clean, "J1")], True
    for run in records[1:]:
        ok &= at_most(run.final_j1, MAX_J1) and at_most(run.final_j1, clean - BELOW_CLEAN)
        parts.append(describe(run, run.final_j1, "J1", (MAX_J1, clean - BELOW_CLEAN)))
    return ClaimResult(CLAIM, STATEMENT, "; ".join(parts), TOLERANCE, verdict_of(ok))
