"""The symbolic and numeric claims (S1-S3, N1) and the paper-check / report commands."""

from __future__ import annotations

import json

import pytest

from cli_helpers import assert_bad_input, run_cli
from symtheory.paper_checks import n1_ranking, s1_symmetry, s2_risk_relation, s3_normalization
from symtheory.paper_checks.suite import full_tier_claims


def test_s1_holds_with_exact_constants_and_counterexamples():
    result = s1_symmetry.check()
    assert result.verdict == "holds", result.measured
    assert result.details["rll"]["constant"] == "K*log((alpha + 1)/alpha)"
    assert result.details["cce"]["difference"] > 1 and result.details["mse"]["difference"] > 1


def test_s2_holds_for_every_proved_loss():
    result = s2_risk_relation.check()
    assert result.verdict == "holds"
    assert {"mae", "rll", "zero-one", "nmse"} <= set(result.details["losses"])


def test_s3_normalization_and_the_cce_remark():
    main, remark = s3_normalization.check()
    assert main.verdict == "holds", main.measured
    # The paper says normalization would not make CCE symmetric; on the open simplex NCE is symmetric (C = 1).
    assert remark.verdict == "does not hold"
    assert remark.details == {"normalized_verdict": "proved", "normalized_constant": "1"}


def test_n1_holds_and_names_swapped_pairs():
    result = n1_ranking.check()
    assert result.verdict == "holds", result.measured
    assert result.details["worst"]["below_swaps"] == 0
    assert result.details["worst"]["at_spread"] <= n1_ranking.MAX_TIED_SPREAD
    for name in ("cce", "mse"):
        first = result.details["first_swaps"][name]
        assert first["eta"] < 0.9 and first["pair"]["better_name"]


def test_paper_check_cli_theory_only_json():
    result = run_cli("paper-check", "--only", "S1,S2", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["claim"] for r in data] == ["S1", "S2"] and all(r["verdict"] == "holds" for r in data)


def test_paper_check_exits_1_when_a_claim_does_not_hold():
    result = run_cli("paper-check", "--only", "S3")
    assert result.returncode == 1
    assert "does not hold" in result.stdout


def test_s3_cce_selects_s3_with_which_it_is_judged():
    from symtheory.paper_checks.suite import parse_only

    assert parse_only("s3-cce") == ("S3",) and parse_only("S3,S3-cce,N1") == ("S3", "N1")


@pytest.mark.parametrize("args, fragment", [
    (["paper-check", "--tier", "huge"], "unknown tier"),
    (["paper-check", "--only", "E9"], "unknown claim 'E9'"),
    (["paper-check", "--threads", "0"], "--threads must be at least 1, got 0"),
    (["report", "/nonexistent/runs"], "no run directory"),
    (["paper-check", "--tier", "full", "--only", "E1", "--runs", "/nonexistent/runs"],
     "no run directory at /nonexistent/runs"),
])
def test_bad_input(args, fragment):
    assert_bad_input(run_cli(*args), fragment)


def test_full_tier_without_runs_reports_not_run(tmp_path):
    result = run_cli("paper-check", "--tier", "full", "--only", "E1,E6", "--runs", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data) == 6 and all(r["verdict"] == "not run" for r in data)
    assert data[0]["measured"] == (f"not measured: no mnist-resnet18 runs under {tmp_path}: found no run directory "
                                   "(no folder there holds a metrics.jsonl) (the paper's scale needs a GPU)")
    assert full_tier_claims(None, ["E1"])[0].measured == (
        "not measured: no mnist-resnet18 runs: --runs was not given (the directory holding the preset grids; the "
        "paper's scale needs a GPU)")


def test_docs_claims_lists_every_claim_with_its_module():
    """docs/claims.md (which --help, the README and the report cite) names each claim the suite runs, in its
    order, each with a module that exists and states that claim."""
    import re
    from pathlib import Path

    from symtheory.paper_checks.suite import ALL_CLAIMS

    root = Path(__file__).resolve().parents[1]
    rows = re.findall(r"^\| (\w+) \| .* \| `(paper_checks/\w+\.py)` \|$", (root / "docs" / "claims.md").read_text(), re.M)
    assert [claim for claim, _ in rows] == list(ALL_CLAIMS)
    for claim, module in rows:
        assert f'"{claim}"' in (root / module).read_text(), (claim, module)
