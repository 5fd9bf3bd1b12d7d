"""For symbolic K a counterexample is sought at K = 3, 4, 2, 5, ..., 8 (a loss may be symmetric at K = 3
alone), the spot check of an unknown verdict looks at K = 3 and 4, and the K = 2 step names the quantity it
tests, the derivative of phi(t) + phi(1-t)."""

from __future__ import annotations

import json

from cli_helpers import run_cli
from symtheory import analysis
from symtheory.expr import P, Q, SumOther
from symtheory.forms import LossForm
from symtheory.registry import get_loss
from symtheory.symmetry import check_symmetry, gave_up


def test_a_loss_symmetric_at_k_3_alone_is_refuted_at_k_4():
    symmetry = analysis.analyse_expression("p^2 - sum_other(q^2)/2").symmetry
    assert (symmetry.verdict, symmetry.scope) == ("refuted", "general K (counterexample at K = 4)")
    ce = symmetry.counterexample
    assert ce.classes == 4 and ce.sum_a != ce.sum_b
    assert analysis.analyse_expression("p^2 - sum_other(q^2)/2", classes=3).symmetry.verdict == "proved"


def test_a_loss_symmetric_at_k_2_and_3_alone_is_refuted_at_k_4_and_at_k_5_when_also_at_4():
    # phi(t) = (1 + (K-1) c) t^2 with (K-1) c = -1 at K = 4 only: refuted at K = 3 first
    assert analysis.analyse_expression("p^2 - sum_other(q^2)/3").symmetry.counterexample.classes == 3
    # symmetric at K = 3 and at K = 2 (phi(t) + phi(1-t) = 2 t^2 + ... is not constant: refuted at K = 4 first)
    assert analysis.analyse_expression("p^2 - sum_other(q^2)/2").symmetry.counterexample.classes == 4


def test_the_spot_check_of_an_unknown_verdict_for_symbolic_k_looks_at_k_3_and_4():
    form = LossForm(separable=P**2 - SumOther(Q**2) / 2)
    note = gave_up(form, None, {}, "gave up").numeric_check
    assert note.startswith("numeric spot check at K=3, 64 random points")
    assert "(consistent with symmetry; not a proof); numeric spot check at K=4" in note
    assert note.endswith("(against symmetry; not a proof)")
    single = gave_up(form, 5, {}, "gave up").numeric_check
    assert single.startswith("numeric spot check at K=5") and "K=3" not in single


def test_the_k_2_refutation_step_names_the_derivative_of_phi_t_plus_phi_1_minus_t():
    steps = [s.text for s in check_symmetry(get_loss("mse").form(symbolic=True), 2).steps]
    assert any(t.startswith("the derivative of phi(t) + phi(1-t) is not 0, so the label sum varies") for t in steps)
    assert not any("phi'' is not 0" in t for t in steps)
    steps = [s.text for s in check_symmetry(get_loss("mse").form(symbolic=True), 3).steps]
    assert any(t.startswith("phi'' is not 0, so the label sum varies") for t in steps)


def test_cli_reports_the_k_of_the_counterexample():
    done = run_cli("check-loss", "--expr", "p^2 - sum_other(q^2)/2", "--json", timeout=60)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["symmetric"], data["scope"], data["counterexample"]["classes"]) == (
        "refuted", "general K (counterexample at K = 4)", 4)
