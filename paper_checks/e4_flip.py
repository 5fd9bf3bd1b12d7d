"""E4 — "the networks learned using CCE with noisy data seemed to have initially tried to learn the
patterns and thus the J2 accuracy is higher in the early epochs. But eventually the network 'flips' and
overfits to the random labels ... this 'flip' never happens for networks trained using RLL" (Patel &
Sastry 2021, Sec. 2, Fig. 4)."""

from __future__ import annotations

from symtheory.paper_checks.claim import ClaimResult, verdict_of
from symtheory.paper_checks.empirical_common import at_least, at_most, figure, required_runs, seeds_note
from symtheory.paper_checks.runs import Grid

CLAIM = "E4"
STATEMENT = "with cce at eta > 0, J2 rises, peaks and falls (the 'flip'); with rll it does not fall"
MIN_DROP = 0.05
MAX_RLL_DROP = 0.03
TOLERANCE = (f"cce: J2 rises (peak after the first epoch) and peak J2 - final J2 >= {MIN_DROP} (peak before the end); "
             f"rll: peak J2 - final J2 <= {MAX_RLL_DROP}")
NOISY = [0.2, 0.4, 0.6]


def check(grid: Grid) -> ClaimResult:
    """Per run, J2 at the first epoch, its peak, and its drop from the peak to the last epoch; cce's rise is seen
    within the recorded epochs (a network is first evaluated after epoch 1)."""
    runs, missing = required_runs(grid, CLAIM, STATEMENT, TOLERANCE, {"cce": NOISY, "rll": NOISY})
    if missing:
        return missing
    parts, ok = [], True
    for loss in ("cce", "rll"):
        for run in runs[loss]:
            peak = max(run.j2)
            peak_epoch = run.j2.index(peak) + 1
            drop = peak - run.final_j2
            if loss == "cce":
                ok &= at_least(drop, MIN_DROP) and 1 < peak_epoch < len(run.j2)
            else:
                ok &= at_most(drop, MAX_RLL_DROP)
            limit = MIN_DROP if loss == "cce" else MAX_RLL_DROP
            parts.append(f"{loss} eta={run.eta:g}: J2 {run.j2[0]:.3f} at epoch 1, peak {peak:.3f} at epoch "
                         f"{peak_epoch}, final {run.final_j2:.3f} (drop {figure(drop, (limit,))}){seeds_note(run)}")
    return ClaimResult(CLAIM, STATEMENT, "; ".join(parts), TOLERANCE, verdict_of(ok))
