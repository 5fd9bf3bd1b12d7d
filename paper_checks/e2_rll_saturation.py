"""E2 — "With these loss functions the training error saturates at a level much above zero (depending on
the amount of random label flipping)" (Patel & Sastry 2021, Sec. 1-2): with RLL, training accuracy at
eta > 0 stays well below its eta = 0 level, and for eta = 0.2, 0.4 it is about 1 - eta."""

from __future__ import annotations

from symtheory.paper_checks.claim import ClaimResult, verdict_of
from symtheory.paper_checks.empirical_common import at_most, describe, required_runs
from symtheory.paper_checks.runs import Grid

CLAIM = "E2"
STATEMENT = "with rll, J1 at eta > 0 stays well below its eta = 0 level; J1 ~ 1 - eta at eta 0.2, 0.4"
BELOW_CLEAN = 0.10
NEAR_ONE_MINUS_ETA = 0.10
TOLERANCE = f"J1(eta) <= J1(0) - {BELOW_CLEAN} for eta > 0; |J1 - (1 - eta)| <= {NEAR_ONE_MINUS_ETA} at 0.2, 0.4"


def check(grid: Grid) -> ClaimResult:
    """Final J1 of each eta against the clean run's and against 1 - eta."""
    runs, missing = required_runs(grid, CLAIM, STATEMENT, TOLERANCE, {"rll": [0.0, 0.2, 0.4, 0.6]})
    if missing:
        return missing
    records = runs["rll"]
    clean = records[0].final_j1
    parts, ok = [describe(records[0], clean, "J1")], True
    for run in records[1:]:
        ok &= at_most(run.final_j1, clean - BELOW_CLEAN)
        limits = [clean - BELOW_CLEAN]
        if round(run.eta, 6) in (0.2, 0.4):
            ok &= at_most(abs(run.final_j1 - (1 - run.eta)), NEAR_ONE_MINUS_ETA)
            limits += [1 - run.eta - NEAR_ONE_MINUS_ETA, 1 - run.eta + NEAR_ONE_MINUS_ETA]
        parts.append(describe(run, run.final_j1, "J1", limits) + f" (1-eta={1 - run.eta:.2f})")
    return ClaimResult(CLAIM, STATEMENT, "; ".join(parts), TOLERANCE, verdict_of(ok))
