"""All claims of SPEC.md section 3, run by tier: ``ci`` (CPU, small scale) or ``full`` (paper scale, GPU).

Symbolic (S1-S3) and numeric (N1) claims run in both tiers. The empirical claims (E1-E6) read a grid of
finished runs: in the ``ci`` tier a small CPU grid (see :mod:`symtheory.paper_checks.ci_grid`) trained on
demand; in the ``full`` tier the runs of each paper preset found under ``--runs`` (E1-E6 per preset).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from symtheory.errors import BadInput
from symtheory.paper_checks import (e1_memorization, e2_rll_saturation, e3_j2_above_j1, e4_flip, e5_nmse,
                                    e6_rll_clean_level, n1_ranking, s1_symmetry, s2_risk_relation, s3_normalization)
from symtheory.paper_checks.claim import ClaimResult, not_run
from symtheory.paper_checks.runs import Grid

TIERS = ("ci", "full")
SYMBOLIC = ("S1", "S2", "S3")
NUMERIC = ("N1",)
EMPIRICAL = {
    "E1": e1_memorization, "E2": e2_rll_saturation, "E3": e3_j2_above_j1,
    "E4": e4_flip, "E5": e5_nmse, "E6": e6_rll_clean_level,
}
ALL_CLAIMS = SYMBOLIC + NUMERIC + tuple(EMPIRICAL)
FULL_PRESETS = ("mnist-resnet18", "cifar10-resnet32", "cifar10-inception")
E1_EXCEPTIONS = {"mnist-resnet18": {"mse": 0.90}}


def parse_only(text: str | None) -> tuple[str, ...]:
    """``"E2,e4"`` -> ("E2", "E4"); BadInput naming the valid claims otherwise."""
    if not text:
        return ALL_CLAIMS
    wanted = tuple(part.strip().upper() for part in text.split(",") if part.strip())
    unknown = [w for w in wanted if w not in ALL_CLAIMS]
    if unknown or not wanted:
        raise BadInput(f"unknown claim {unknown[0] if unknown else text!r}; claims: {', '.join(ALL_CLAIMS)}")
    return wanted


def theory_claims(only: Iterable[str]) -> list[ClaimResult]:
    """S1, S2, S3 (+ S3-cce) and N1, as selected."""
    only = set(only)
    results: list[ClaimResult] = []
    if "S1" in only:
        results.append(s1_symmetry.check())
    if "S2" in only:
        results.append(s2_risk_relation.check())
    if "S3" in only:
        results.extend(s3_normalization.check())
    if "N1" in only:
        results.append(n1_ranking.check())
    return results


def empirical_claims(grid: Grid, only: Iterable[str], label: str = "", exceptions=None) -> list[ClaimResult]:
    """E1-E6 on one grid of runs; ``label`` (e.g. the preset) is appended to the claim id."""
    results = []
    for claim in (c for c in EMPIRICAL if c in set(only)):
        module = EMPIRICAL[claim]
        result = module.check(grid, exceptions) if claim == "E1" else module.check(grid)
        if label:
            result.claim = f"{claim} [{label}]"
        results.append(result)
    return results


def run_suite(tier: str = "ci", only: str | None = None, runs: str | Path | None = None,
              progress: Callable[[str], None] | None = None, train_missing: bool = True,
              data_dir: str | Path | None = None) -> list[ClaimResult]:
    """Every selected claim of the tier, in SPEC order."""
    if tier not in TIERS:
        raise BadInput(f"unknown tier {tier!r}; choices: {', '.join(TIERS)}")
    selected = parse_only(only)
    if tier == "full" and runs is not None and not Path(runs).is_dir():
        raise BadInput(f"no run directory at {runs}")
    results = theory_claims(selected)
    wanted_empirical = [c for c in selected if c in EMPIRICAL]
    if not wanted_empirical:
        return results
    if tier == "ci":
        from symtheory.paper_checks.ci_grid import ci_grid

        grid = ci_grid(runs, progress=progress, train_missing=train_missing, data_dir=data_dir)
        return results + empirical_claims(grid, wanted_empirical, "ci")
    return results + full_tier_claims(runs, wanted_empirical)


def full_tier_claims(runs: str | Path | None, wanted: list[str]) -> list[ClaimResult]:
    """E-claims per paper preset, from finished runs under ``runs`` (grouped by preset in config.json)."""
    from symtheory.paper_checks.runs import load_grids_by_preset

    grids = load_grids_by_preset(runs) if runs is not None else {}
    results = []
    for preset in FULL_PRESETS:
        matching = {name: g for name, g in grids.items() if name.startswith(preset)}
        if not matching:
            for claim in wanted:
                module = EMPIRICAL[claim]
                results.append(not_run(f"{claim} [{preset}]", module.STATEMENT, getattr(module, "TOLERANCE", ""),
                                       f"no finished {preset} runs under {runs or '--runs'} (needs a GPU)"))
            continue
        for name, grid in sorted(matching.items()):
            results.extend(empirical_claims(grid, wanted, name, E1_EXCEPTIONS.get(preset)))
    return results
