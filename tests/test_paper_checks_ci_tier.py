"""The ci tier end to end: the small CPU grid is trained, every claim is measured, the report is written.

Marked slow (about 7 minutes on 2 cores): `make test` (CI) runs it, `make test-fast` skips it. A claim
that does not reproduce at this scale is reported with its figure, not tuned: the test asserts that each
claim was measured and that the symbolic and numeric ones hold; the empirical verdicts are printed.
"""

from __future__ import annotations

import pytest

from symtheory.paper_checks.suite import ALL_CLAIMS, run_suite

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ci_results(tmp_path_factory, data_dir):
    runs = tmp_path_factory.mktemp("ci-grid")
    return runs, run_suite("ci", None, runs, data_dir=data_dir)


def test_every_claim_is_measured(ci_results):
    _, results = ci_results
    for r in results:
        print(f"{r.claim}: {r.verdict} | {r.measured} | tolerance {r.tolerance}")
    ids = [r.claim.split(" ")[0] for r in results]
    assert set(ALL_CLAIMS) <= set(ids)
    assert all(r.verdict in ("holds", "does not hold") for r in results)
    assert all(r.measured and r.tolerance for r in results)
    theory = {r.claim: r.verdict for r in results if not r.claim.startswith("E")}
    assert theory == {"S1": "holds", "S2": "holds", "S3": "holds", "S3-cce": "does not hold", "N1": "holds"}


def test_ci_grid_has_sixteen_finished_runs_with_memorization(ci_results):
    from symtheory.paper_checks.runs import load_grid

    runs, _ = ci_results
    grid = load_grid(runs)
    assert len(grid) == 16 and all(len(r.j1) == 60 for r in grid.values())
    cce = grid[("cce", 0.6)]
    assert cce.final_j1 > cce.final_j2 + 0.3


def test_report_from_the_ci_grid(ci_results, tmp_path):
    from symtheory.paper_checks.report import write_report

    runs, _ = ci_results
    report = write_report(runs, tmp_path / "report.md")
    text = report.read_text()
    assert "## mlp/mnist (subset 2000)" in text and "| cce | 0.6 | 0 | 60 |" in text
    assert "| E2 [mlp/mnist (subset 2000)]" in text and text.count("![") == 2
    assert all((tmp_path / name).stat().st_size > 10_000
               for name in ("mlp-mnist-subset-2000-j1.png", "mlp-mnist-subset-2000-j1j2.png"))
