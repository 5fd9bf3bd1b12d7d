"""E6 — "the J2 accuracy of the networks learned using RLL is close to the training accuracy achieved with
clean data. This suggests that this loss function is able to disregard the randomly altered labels"
(Patel & Sastry 2021, Sec. 2, Fig. 4), for eta = 0.2 and 0.4."""

from __future__ import annotations

from symtheory.paper_checks.claim import ClaimResult, verdict_of
from symtheory.paper_checks.empirical_common import at_most, figure, required_runs, seeds_note
from symtheory.paper_checks.runs import Grid

CLAIM = "E6"
STATEMENT = "with rll at eta 0.2 and 0.4, final J2 is close to the training accuracy reached on clean data"
MAX_GAP = 0.05
TOLERANCE = f"|final J2(eta) - final J1(eta=0)| <= {MAX_GAP}"


def check(grid: Grid) -> ClaimResult:
    """Gap between the noisy runs' final J2 and the clean run's final J1."""
    runs, missing = required_runs(grid, CLAIM, STATEMENT, TOLERANCE, {"rll": [0.0, 0.2, 0.4]})
    if missing:
        return missing
    clean, *noisy = runs["rll"]
    parts, ok = [f"rll eta=0: J1={clean.final_j1:.3f}{seeds_note(clean)}"], True
    for run in noisy:
        gap = abs(run.final_j2 - clean.final_j1)
        ok &= at_most(gap, MAX_GAP)
        parts.append(f"rll eta={run.eta:g}: J2={run.final_j2:.3f} (gap {figure(gap, (MAX_GAP,))}){seeds_note(run)}")
    return ClaimResult(CLAIM, STATEMENT, "; ".join(parts), TOLERANCE, verdict_of(ok))
