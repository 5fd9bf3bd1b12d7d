"""Shared helpers of the empirical claims: formatting a per-run figure and the 'not run' case."""

from __future__ import annotations

from typing import Sequence

from symtheory.paper_checks.claim import ClaimResult, not_run
from symtheory.paper_checks.runs import Grid, RunRecord, runs_for

ROUNDING = 1e-9
"""Float rounding allowed at a tolerance's edge: |0.7 - 0.8| is 0.10000000000000009, and an accuracy of
35000/50000 lands exactly there."""


def at_least(value: float, limit: float) -> bool:
    """value >= limit, up to float rounding (:data:`ROUNDING`)."""
    return value >= limit - ROUNDING


def at_most(value: float, limit: float) -> bool:
    """value <= limit, up to float rounding (:data:`ROUNDING`)."""
    return value <= limit + ROUNDING


def figure(value: float, limits: Sequence[float] = (), digits: int = 3) -> str:
    """``value`` to ``digits`` decimals, or more where rounding would carry it onto or across one of
    ``limits`` (0.9499 against 0.95 prints 0.9499, not 0.950), so the text reads as the verdict does."""
    for places in range(digits, 10):
        text = f"{value:.{places}f}"
        shown = float(text)
        if all(abs(value - limit) <= ROUNDING or (shown - limit) * (value - limit) > 0 for limit in limits):
            return text
    return repr(value)


def seeds_note(run: RunRecord) -> str:
    """'' for one run; ' (mean of seeds 0, 1, 2)' for a record averaged over seeds."""
    if len(run.per_seed) < 2:
        return ""
    return f" (mean of seeds {', '.join(str(s) for s in run.seeds)})"


def describe(run: RunRecord, value: float, what: str, limits: Sequence[float] = ()) -> str:
    """'cce eta=0.4: J1=0.998', or for a seed mean 'cce eta=0.4: J1=0.998 (mean of seeds 0, 1; 0.997-0.999)'
    where the range is the final value's over the seeds (``value`` is read at the last epoch; shown with
    the digits that keep it on its side of each of ``limits``, :func:`figure`)."""
    text = f"{run.loss} eta={run.eta:g}: {what}={figure(value, limits)}"
    if len(run.per_seed) < 2:
        return text
    finals = [getattr(r, f"final_{what.lower()}") for r in run.per_seed] if what in ("J1", "J2") else []
    spread = f"; final {min(finals):.3f}-{max(finals):.3f}" if finals else ""
    return text + f" (mean of seeds {', '.join(str(s) for s in run.seeds)}{spread})"


def required_runs(grid: Grid, claim: str, statement: str, tolerance: str, needs: dict[str, list[float] | None]
                  ) -> tuple[dict[str, list[RunRecord]], ClaimResult | None]:
    """The runs a claim needs, per loss; a 'not run' result naming what is missing if any is absent (with
    why, when the grid left runs there out: unfinished, a duplicate; and the loss's runs with other
    parameters, which are not judged)."""
    skipped = getattr(grid, "skipped", {})
    found, missing = {}, []
    for loss, etas in needs.items():
        runs = runs_for(grid, loss, etas)
        wanted = len(etas) if etas is not None else 1
        if len(runs) < wanted:
            have, before = {round(r.eta, 6) for r in runs}, len(missing)
            for e in etas or []:
                if round(e, 6) in have:
                    continue
                whys = skipped.get((loss, round(float(e), 6)), [])
                note = f" ({'; '.join(f'{path}: {why}' for path, why in whys)})" if whys else ""
                missing.append(f"{loss} eta={e:g}{note}")
            if len(missing) == before:
                missing.append(loss)
            others = sorted({label for label, _ in grid if label.startswith(f"{loss}(")})
            if others:
                missing[-1] += (f" ({loss} is there only with other parameters: {', '.join(others)}; the claims "
                                f"judge {loss} at the preset's parameters)")
        found[loss] = runs
    if missing:
        return found, not_run(claim, statement, tolerance, "missing runs: " + ", ".join(missing))
    return found, None
