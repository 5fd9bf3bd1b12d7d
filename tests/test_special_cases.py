"""A loss refuted in general may be symmetric at some parameter values: those where phi'' vanishes for every
t are found from the residual's parameter-only factors and each is proved on its own; counterexamples try
several stand-in values, so one where the loss is symmetric or undefined does not hide them."""

from __future__ import annotations

import json

import pytest
import sympy as sp

from cli_helpers import run_cli
from symtheory import analysis
from symtheory.expr import K, T, param_symbol
from symtheory.registry import Param, get_loss
from symtheory.symmetry import vanishing_parameter_values

A, B, Q = param_symbol("a"), param_symbol("b"), param_symbol("q")


@pytest.mark.parametrize("residual, parameters, expected", [
    ((1 - Q) * T**(Q - 2), {Q}, [{Q: 1}]),
    (2 * sp.log(A), {A}, [{A: 1}]),
    ((A**2 - 2) * T**A, {A}, [{A: sp.sqrt(2)}]),
    ((A - B) * T, {A, B}, [{A: B}]),
    (A * T**2, {A}, []),
    ((K - 2) * T**3, set(), []),
    (A * (K - 3) * T, {A}, []),
])
def test_vanishing_parameter_values_are_the_roots_of_parameter_only_factors(residual, parameters, expected):
    assert vanishing_parameter_values(residual, parameters) == expected


def test_a_domain_admits_numbers_in_it_and_expressions_only_when_it_is_every_positive_real():
    q = get_loss("gce").param("q")
    assert [q.admits(v) for v in (sp.Integer(1), sp.Integer(2), sp.sqrt(2) / 2, sp.Integer(0))] == [
        True, False, True, False]
    assert not q.admits(B) and Param("a", "1").admits(B) and not Param("a", "1").admits(B - 5)


def test_gce_is_refuted_at_its_default_and_proved_at_q_1_with_the_mae_constant():
    result = analysis.analyse_builtin("gce")
    assert result.symmetry.verdict == "refuted"
    assert result.symmetry.counterexample.parameters == {"q": sp.Rational(7, 10)}
    [case] = result.symmetry.special
    assert case.parameters == {Q: 1}
    assert (case.result.verdict, case.result.scope) == ("proved", "every K >= 2")
    assert sp.simplify(case.result.constant - (K - 1)) == 0


def test_a_special_value_outside_the_domain_is_not_reported():
    assert analysis.analyse_builtin("sce").symmetry.special == []


@pytest.mark.parametrize("text, counter_params, special, constant", [
    ("log(a)*p**2", {"a": 2}, {A: 1}, 0),
    ("(1 - p**a)/a", {"a": 2}, {A: 1}, K - 1),
    ("p**2/(a-1)", {"a": 2}, None, None),
    ("(a-b)*p**2 + 1 - p", {"a": 1, "b": 2}, {A: B}, K - 1),
    ("(a**2-2)*p**3 + p", {"a": 1}, {A: sp.sqrt(2)}, 1),
])
def test_a_users_family_is_refuted_where_it_varies_and_proved_where_it_is_symmetric(
        text, counter_params, special, constant):
    result = analysis.analyse_expression(text).symmetry
    assert result.verdict == "refuted"
    assert result.counterexample.parameters == {k: sp.Integer(v) for k, v in counter_params.items()}
    if special is None:
        assert result.special == []
    else:
        [case] = result.special
        assert case.parameters == special and case.result.verdict == "proved"
        assert sp.simplify(case.result.constant - constant) == 0


def test_cli_prints_and_serialises_the_special_case():
    done = run_cli("check-loss", "gce", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["symmetric"] == "refuted" and data["counterexample"]["parameters"] == {"q": "7/10"}
    [case] = data["symmetric_at"]
    assert (case["parameters"], case["scope"], case["constant"]) == ({"q": "1"}, "every K >= 2", "K - 1")
    text = run_cli("check-loss", "gce").stdout
    assert "counterexample (K = 3, q = 7/10)" in text
    assert "symmetric at q = 1: proved for every K >= 2, C = K - 1" in text
    assert "proof at q = 1" in text
    rows = {r["loss"]: r for r in json.loads(run_cli("losses", "--json").stdout)}
    assert rows["gce"]["symmetric_at"] == [{"parameters": {"q": "1"}, "constant": "K - 1"}]
    assert rows["sce"]["symmetric_at"] == [] and rows["rll"]["symmetric_at"] == []


def test_gce_at_k_2_is_proved_at_q_1_through_phi_double_prime():
    [case] = analysis.analyse_builtin("gce", classes=2).symmetry.special
    assert case.parameters == {Q: 1} and case.result.constant == 1


@pytest.mark.parametrize("text, scope", [
    ("(1-p)/(a-1)", "every K >= 2, for a != 1 (elsewhere the loss is undefined)"),
    ("(1-p)/(a-b)", "every K >= 2, for a != b (elsewhere the loss is undefined)"),
    ("(1-p)/(a**2-2) + sum_other(q/(a-1))", "every K >= 2, for a != sqrt(2), a != 1 (elsewhere the loss is undefined)"),
    ("(1-p)*log(a-1)", "every K >= 2, for a - 1 > 0 (elsewhere the loss is undefined)"),
    ("(1-p)*sqrt(a-2)", "every K >= 2, for a - 2 >= 0 (elsewhere the loss is undefined)"),
    ("(1-p)/(a + log(a) + exp(a) - 5)", "every K >= 2, for a + exp(a) + log(a) - 5 != 0 (elsewhere the loss is "
                                        "undefined)"),
    ("(1-p)/a", "every K >= 2"),
    ("(1-p)*log(a+1)", "every K >= 2"),
])
def test_a_proof_for_symbolic_parameters_names_the_values_where_the_loss_is_defined(text, scope):
    result = analysis.analyse_expression(text).symmetry
    assert (result.verdict, result.scope) == ("proved", scope)


def test_a_training_config_hands_its_expression_simple_exact_parameters_and_names_runs_by_it():
    from symtheory.empirical.presets import build_config

    third = build_config(None, loss="expr", loss_expr="(1-p**a)/a", loss_params={"a": 1 / 3})
    assert third.user_loss().params == (("a", "1/3"),)
    other = build_config(None, loss="expr", loss_expr="(1-p**a)/a + 0*p", loss_params={"a": 0.1})
    assert other.user_loss().params == (("a", "1/10"),)
    assert third.run_name().startswith("mlp-mnist-expr-") and third.run_name() != other.run_name()


def test_special_cases_are_listed_in_increasing_order_of_the_parameter():
    special = analysis.analyse_expression("(a-3)*(a-1/2)*(a-2)*(a-sqrt(2))*p**2 + p").symmetry.special
    assert [case.parameters[A] for case in special] == [
        sp.Rational(1, 2), sp.sqrt(2), 2, 3]


def test_a_family_symmetric_at_every_stand_in_value_is_still_refuted():
    # phi'' = 2 (a-1)(a-2)(2a-1)(a-3) vanishes at the stand-ins 1, 2, 1/2 and 3: the verdict was unknown
    from symtheory.analysis import analyse_expression

    data = analyse_expression("(a-1)*(a-2)*(2*a-1)*(a-3)*p**2 + 1 - p").to_dict()
    assert (data["symmetric"], data["counterexample"]["parameters"]) == ("refuted", {"a": "7/5"})
    assert [case["parameters"]["a"] for case in data["symmetric_at"]] == ["1/2", "1", "2", "3"]


@pytest.mark.parametrize("text, value", [
    ("min(p, a) + max(1 - p, a)", sp.Rational(1, 3)),    # phi'' not reduced; symmetric at a = 1, 2, 1/2 and 3
    ("(a-1)*(a-2)*(2*a-1)*(a-3)*sum_other(q)*sum_other(q**2) + 1 - p", sp.Rational(7, 5)),  # not affine in sums
])
def test_a_family_symmetric_at_every_stand_in_value_is_refuted_at_a_value_off_them(text, value):
    from symtheory.analysis import analyse_expression

    symmetry = analyse_expression(text).symmetry
    assert symmetry.verdict == "refuted" and symmetry.counterexample.parameters == {"a": value}
    assert symmetry.counterexample.sum_a != symmetry.counterexample.sum_b


def test_the_spot_check_names_the_parameter_values_it_used():
    from symtheory.symmetry import spot_check_note

    assert spot_check_note(0.0, 1.0, 3, {sp.Symbol("b"): 2, sp.Symbol("a"): sp.Rational(1, 2)}).startswith(
        "numeric spot check at K=3, a=1/2, b=2, 64 random points: spread of sum_j L = 0")
