"""All claims of docs/claims.md, run by tier: ``ci`` (CPU, small scale) or ``full`` (paper scale, GPU).

Symbolic (S1-S3) and numeric (N1) claims run in both tiers. The empirical claims (E1-E6) read a grid of
finished runs: in the ``ci`` tier a small CPU grid (see :mod:`symtheory.paper_checks.ci_grid`) trained on
demand; in the ``full`` tier the runs of each paper preset found under ``--runs`` (E1-E6 per preset).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from symtheory.empirical.presets import PAPER_PRESETS
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
E1_EXCEPTIONS = {"mnist-resnet18": {"mse": 0.90}}


def parse_only(text: str | None) -> tuple[str, ...]:
    """``"E2,e4"`` -> ("E2", "E4"); ``S3-cce``, judged with S3, selects S3; BadInput naming the valid claims
    otherwise."""
    if not text:
        return ALL_CLAIMS
    wanted = tuple(dict.fromkeys("S3" if part.strip().upper() == "S3-CCE" else part.strip().upper()
                                 for part in text.split(",") if part.strip()))
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


def claim_tolerance(claim: str, exceptions: dict[str, float] | None = None) -> str:
    """The tolerance an empirical claim states (E1's with the given exception thresholds)."""
    if claim == "E1":
        return e1_memorization.tolerance_for(exceptions)
    return EMPIRICAL[claim].TOLERANCE


def e1_exceptions(setting: dict) -> dict[str, float] | None:
    """The paper's E1 exception thresholds for an experiment: those of its preset, only when it runs the
    preset's own network on the preset's own dataset (the exception is about ResNet-18 on MNIST)."""
    from symtheory.paper_checks.runs import matching_preset, preset_setting

    preset = matching_preset(setting)
    own = preset_setting(preset) if preset in E1_EXCEPTIONS else None
    if own is None or any(setting.get(k) != own.get(k) for k in ("arch", "dataset")):
        return None
    return E1_EXCEPTIONS[preset]


def not_run_claims(wanted: Iterable[str], label: str, why: str, exceptions=None) -> list[ClaimResult]:
    """A 'not run' row per wanted empirical claim, '<claim> [<label>]', with its tolerance and ``why``."""
    return [not_run(f"{claim} [{label}]", EMPIRICAL[claim].STATEMENT, claim_tolerance(claim, exceptions), why)
            for claim in EMPIRICAL if claim in set(wanted)]


def empirical_claims(grid: Grid, only: Iterable[str], label: str = "", exceptions=None) -> list[ClaimResult]:
    """E1-E6 on one grid of runs; ``label`` (e.g. the experiment) is appended to the claim id. A grid of
    runs with a noise kind other than symmetric gets 'not run' rows: the claims are about symmetric noise."""
    noise = getattr(grid, "setting", {}).get("noise", "symmetric")
    if noise != "symmetric":
        return not_run_claims(only, label or getattr(grid, "name", ""), f"these runs use {noise} label noise; "
                              "the paper's claims are about symmetric noise", exceptions)
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
              data_dir: str | Path | None = None, presets: Iterable[str] | None = None) -> list[ClaimResult]:
    """Every selected claim of the tier, in the order of docs/claims.md; the full tier judges ``presets``
    (default: the paper's three and any other preset found under ``runs``)."""
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
    return results + full_tier_claims(runs, wanted_empirical, presets)


def scale_gaps(setting: dict, preset: str) -> list[str]:
    """Why an experiment run with ``preset`` is not the preset's experiment at full scale: any experiment
    field differs from the preset's own, scale first (e.g. ['arch mlp', '2 epochs', 'subset 200', 'lr 0.5']:
    a run that names the preset but changes its recipe is not judged as the paper's, as a free-flag run with
    that recipe is not), or its label noise is not symmetric; [] when it is."""
    from symtheory.paper_checks.runs import SCALE_FIELDS, format_field, preset_setting

    own = preset_setting(preset) or {}
    order = list(SCALE_FIELDS) + sorted(k for k in set(setting) | set(own) if k not in SCALE_FIELDS)
    gaps = [format_field(k, setting.get(k)) for k in order
            if k not in ("preset", "noise", "noise_matrix") and setting.get(k) != own.get(k)]
    if setting.get("noise", "symmetric") != "symmetric":
        gaps.append(f"{setting.get('noise')} label noise")
    return gaps


def preset_scale(preset: str) -> str:
    """'resnet18 on mnist, 200 epochs, no subset, symmetric noise': what full scale means for ``preset``."""
    from symtheory.paper_checks.runs import preset_setting

    own = preset_setting(preset) or {}
    return f"{own.get('arch')} on {own.get('dataset')}, {own.get('epochs')} epochs, no subset, symmetric noise"


def full_tier_claims(runs: str | Path | None, wanted: list[str], presets: Iterable[str] | None = None
                     ) -> list[ClaimResult]:
    """E-claims per paper preset, from finished full-scale runs under ``runs``: runs whose config names the
    preset and keeps every experiment setting of it (network, dataset, epochs, no subset, optimizer, schedule,
    ...) with symmetric noise, or that were trained
    without ``--preset`` with exactly the preset's settings (labelled 'the <preset> recipe'). A preset with no
    such runs gets 'not run' rows saying what was found instead (reduced-scale runs, unfinished runs)."""
    from symtheory.empirical.presets import PRESETS
    from symtheory.paper_checks.runs import RunSet, load_runs, matching_preset

    runset = load_runs(runs) if runs is not None else RunSet()
    recipe = {name: matching_preset(g.setting) for name, g in runset.grids.items()}
    extra = sorted(p for p in set(recipe.values()) if p in PRESETS and p not in PAPER_PRESETS)
    results = []
    for preset in (PAPER_PRESETS + tuple(extra) if presets is None else tuple(presets)):
        exceptions = E1_EXCEPTIONS.get(preset)
        grids = [g for name, g in runset.grids.items() if recipe[name] == preset]
        full = [g for g in grids if not scale_gaps(g.setting, preset)]
        for grid in sorted(full, key=lambda g: g.name):
            label = grid.name if grid.setting.get("preset") == preset else f"{grid.name}, the {preset} recipe"
            if grid:
                results.extend(empirical_claims(grid, wanted, label, exceptions))
            else:
                unfinished = [f"{path}: {why}" for pairs in grid.skipped.values() for path, why in pairs]
                results.extend(not_run_claims(wanted, grid.name, f"no finished runs in {grid.folder}: "
                                              + "; ".join(unfinished[:3])
                                              + (f"; and {len(unfinished) - 3} more" if len(unfinished) > 3 else ""),
                                              exceptions))
        if full:
            continue
        if grids:
            why = "; ".join(f"runs in {g.folder} are not full scale: {', '.join(scale_gaps(g.setting, preset))}"
                            for g in sorted(grids, key=lambda g: g.name))
            why += f"; the preset is {preset_scale(preset)}"
        else:
            why = _nothing_for(preset, runs, runset)
        results.extend(not_run_claims(wanted, preset, why, exceptions))
    return results


def _runs_count(count: int) -> str:
    return f"{count} run{'' if count == 1 else 's'}"


def _nothing_for(preset: str, runs: str | Path | None, runset) -> str:
    """Why ``preset`` has no runs to judge: --runs was not given, or what its directory holds instead (no run
    directories; runs of other experiments, named; unreadable ones)."""
    if runs is None:
        return f"no {preset} runs: --runs was not given (the directory holding the preset grids; the paper's scale needs a GPU)"
    found = []
    for name, grid in sorted(runset.grids.items()):
        count = sum(len(r.per_seed) for r in grid.values()) + sum(len(v) for v in grid.skipped.values())
        found.append(f"{_runs_count(count)} of {name}")
    if runset.skipped:
        found.append(f"{_runs_count(len(runset.skipped))} whose config cannot be read")
    shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more experiments" if len(found) > 3 else "")
    return (f"no {preset} runs under {runs}: found {shown or 'no run directory (no folder there holds a metrics.jsonl)'} "
            "(the paper's scale needs a GPU)")
