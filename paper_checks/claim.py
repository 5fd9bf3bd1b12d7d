"""What a checked claim reports: the paper's words, the measured figure, the tolerance, the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["holds", "does not hold", "not run"]
HOLDS: Verdict = "holds"
FAILS: Verdict = "does not hold"
NOT_RUN: Verdict = "not run"


@dataclass
class ClaimResult:
    """One claim's outcome. ``measured`` and ``tolerance`` are human-readable; ``details`` is data."""

    claim: str
    statement: str
    measured: str
    tolerance: str
    verdict: Verdict
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def verdict_of(ok: bool) -> Verdict:
    """holds / does not hold."""
    return HOLDS if ok else FAILS


def not_run(claim: str, statement: str, tolerance: str, why: str) -> ClaimResult:
    """A claim that could not be measured (no runs, no GPU, ...)."""
    return ClaimResult(claim, statement, f"not measured: {why}", tolerance, NOT_RUN)
