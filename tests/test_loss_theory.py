"""The report's theory table: each trained loss's check-loss verdict at the data's K, with its parameters as
trained (a sweep's rll(alpha=0.01) is analysed at alpha = 1/100) and a user's expression analysed as written."""

from __future__ import annotations

from symtheory.empirical.presets import build_config
from symtheory.paper_checks.loss_theory import loss_theory
from symtheory.paper_checks.report import markdown_cell, theory_lines, write_report
from symtheory.paper_checks.runs import Grid, RunRecord
from test_paper_checks_runs import SMALL, write_grid, write_run


def test_each_loss_gets_its_verdict_constant_and_bounds_at_k():
    trains = {loss: build_config("mnist-resnet18", loss, 0.2).to_dict() for loss in ("cce", "mse", "rll", "nmse")}
    trains["rll(alpha=0.01)"] = build_config(None, "rll", 0.2, loss_params={"alpha": 0.01}).to_dict()
    trains["expr[(1 - p**a)/a, a=1]"] = build_config(None, "expr", 0.2, loss_expr="(1 - p**a)/a",
                                                     loss_params={"a": 1.0}).to_dict()
    grid = Grid({(label, 0.2): RunRecord(label, 0.2, [0.5], [0.5], run=Record(train)) for label, train in trains.items()},
                setting={"dataset": "mnist"})
    rows = theory_lines(grid)
    assert "for eta < 9/10 (Theorem 1)" in rows[0] and "with the parameters they were trained with" in rows[0]
    assert rows[4:] == [
        "| cce | refuted | - | unbounded (L -> oo) |",
        "| expr[(1 - p\\*\\*a)/a, a=1] | proved | 9 | 0 <= L <= 1 (inf and sup) |",
        "| mse | refuted | - | 0 <= L <= 2 (inf and sup) |",
        "| nmse | proved | 1 | 0 <= L <= 1 (valid bounds, not shown tight) |",
        "| rll | proved | 10\\*log(11) | 0 <= L <= log(209/9) (inf and sup) |",
        "| rll(alpha=0.01) | proved | 10\\*log(101) | 0 <= L <= log(11009/9) (inf and sup) |"]
    grid.setting["noise"] = "pair"
    assert "Theorem 1 is about symmetric noise, and this experiment's noise is pair." in theory_lines(grid)[0]
    assert loss_theory(trains["rll"], 3).constant == "3*log(11)"


class Record:
    """What the report reads of a run: its config.json 'train' record."""

    def __init__(self, train):
        self.train = train


def test_markdown_cells_keep_their_text_literal():
    assert markdown_cell("expr[(1-p)*b*b]") == "expr[(1-p)\\*b\\*b]"
    assert markdown_cell("|J1 - (1 - eta)| <= 0.1 for g_k\nnext") == "\\|J1 - (1 - eta)\\| <= 0.1 for g\\_k next"


def test_a_loss_the_analysis_refuses_is_reported_as_not_analysed():
    train = {"loss": "expr", "loss_expr": "log(p - 1/2)", "loss_params": {}}
    theory = loss_theory(train, 10)
    assert theory.symmetric.startswith("not analysed (") and "open simplex" in theory.symmetric
    assert (theory.constant, theory.bounds) == (None, "-")


def test_the_report_shows_the_theory_of_every_loss_row(tmp_path):
    write_grid(tmp_path / "g", losses=("cce", "rll"), **SMALL)
    write_run(tmp_path / "g" / "a" / "rll", "rll", 0.2, loss_params={"alpha": 0.01}, **SMALL)
    text = write_report(tmp_path / "g", tmp_path / "report.md").read_text()
    assert text.count("What theory says of these losses at K = 10") == 1
    assert "| cce | refuted | - | unbounded (L -> oo) |" in text
    assert "| rll | proved | 10\\*log(11) |" in text and "| rll(alpha=0.01) | proved | 10\\*log(101) |" in text
