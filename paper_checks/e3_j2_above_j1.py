"""E3 — "for the networks trained with RLL, J2 accuracy is higher than J1 accuracy ... as opposed to the
case of CCE or MSE" (Patel & Sastry 2021, Sec. 2, Fig. 4): with RLL J2 > J1 throughout training; with cce
and mse J2 < J1 at the end (eta > 0)."""

from __future__ import annotations

from symtheory.paper_checks.claim import ClaimResult, verdict_of
from symtheory.paper_checks.empirical_common import at_least, figure, required_runs, seeds_note
from symtheory.paper_checks.runs import Grid

CLAIM = "E3"
STATEMENT = "with rll J2 > J1 throughout training; with cce and mse J2 < J1 at the end (eta > 0)"
MIN_SHARE = 0.9
TOLERANCE = f"rll: J2 > J1 in >= {MIN_SHARE:.0%} of epochs and at the last; cce, mse: final J2 < final J1"
NOISY = [0.2, 0.4, 0.6]


def check(grid: Grid) -> ClaimResult:
    """Share of epochs with J2 > J1 for rll, which must include the last ('throughout' allows a few early
    epochs, not an ordering that flips at the end); the final ordering for cce and mse."""
    runs, missing = required_runs(grid, CLAIM, STATEMENT, TOLERANCE, {"rll": NOISY, "cce": NOISY, "mse": NOISY})
    if missing:
        return missing
    parts, ok = [], True
    for run in runs["rll"]:
        share = sum(b > a for a, b in zip(run.j1, run.j2)) / len(run.j1)
        ok &= at_least(share, MIN_SHARE) and run.final_j2 > run.final_j1
        parts.append(f"rll eta={run.eta:g}: J2>J1 in {figure(100 * share, (100 * MIN_SHARE,), 0)}% of epochs, final "
                     f"J1={figure(run.final_j1, (run.final_j2,))}, J2={figure(run.final_j2, (run.final_j1,))}"
                     f"{seeds_note(run)}")
    for loss in ("cce", "mse"):
        for run in runs[loss]:
            ok &= run.final_j2 < run.final_j1
            parts.append(f"{loss} eta={run.eta:g}: J1={figure(run.final_j1, (run.final_j2,))}, "
                         f"J2={figure(run.final_j2, (run.final_j1,))}{seeds_note(run)}")
    return ClaimResult(CLAIM, STATEMENT, "; ".join(parts), TOLERANCE, verdict_of(ok))
