"""A user's loss must be a finite real number on the whole open simplex and for every K in scope: its log
arguments > 0, non-integer power bases >= 0, divisors != 0 are shown there, refuted at a point (or a K) and
the input refused, or left open -- and then a proof holds only where the loss is defined, so it is unknown."""

from __future__ import annotations

import re
import time

import pytest
import sympy as sp

from cli_helpers import assert_bad_input, run_cli
from symtheory import analysis, domain
from symtheory.domain import Condition, domain_conditions, first_failing_k, shown
from symtheory.errors import BadInput
from symtheory.expr import K, P, Q, SumOther, param_symbol
from symtheory.forms import LossForm

A = param_symbol("a")


@pytest.mark.parametrize("text, params, fragment", [
    ("log((a+1)/a) - log(p - a) + sum_other(log(q - a))/(K-1)", {"a": "0.01"},
     "at g = (1/1000000, 999999/2000000, 999999/2000000), k = 1 (K = 3): it is log(979999/2000000) - "
     "log(9999/1000000) + log(101) - I*pi; log argument p - 1/100 > 0 fails there"),
    ("-log(p - a) + sum_other(log(q - a))/(K-1)", {},
     "log argument -a + p > 0 fails there (and as g_k -> 0, where it tends to -a for every a > 0)"),
    ("-log(p - 1/25) + sum_other(log(q - 1/25))/(K-1)", {}, "log argument p - 1/25 > 0 fails there"),
    ("1/(p - 1/11) - sum_other(1/(q - 1/11))/(K-1)", {},
     "at g = (1/11, 5/11, 5/11), k = 1 (K = 3): it is a division by 0; divisor p - 1/11 != 0 fails there"),
    ("sqrt(p - 1/25) - sum_other(sqrt(q - 1/25))/(K-1)", {}, "power base p - 1/25 >= 0 fails there"),
    ("p + sum_other(log(q - 1/25))", {}, "log argument q_j - 1/25 > 0 fails there"),
])
def test_a_loss_undefined_on_part_of_the_simplex_is_refused(text, params, fragment):
    with pytest.raises(BadInput) as info:
        analysis.analyse_expression(text, params)
    message = str(info.value)
    assert message.startswith("the loss is not a finite real number at g = (") and fragment in message
    assert message.endswith("a loss must be defined on the whole open simplex")


@pytest.mark.parametrize("text, k, fragment, defined_at", [
    ("log(9-K)*(1-p)", 9, "log argument 9 - K > 0 fails there (it is 0)", 8),
    ("(1-p)*sqrt(10-K)", 11, "power base 10 - K >= 0 fails there (it is -1)", 10),
    ("(1-p)*(20-K)**(1/3)", 21, "power base 20 - K >= 0 fails there (it is -1)", 20),
    ("(1-p)*log(400 - K**2)**(-3/2)", 20, "log argument 400 - K**2 > 0 fails there (it is 0)", 19),
])
def test_a_loss_undefined_at_an_integer_k_is_refused_at_the_first_such_k(text, k, fragment, defined_at):
    with pytest.raises(BadInput) as info:
        analysis.analyse_expression(text)
    assert str(info.value) == f"the loss is undefined at K = {k}: {fragment}; give --classes for the K you mean"
    assert analysis.analyse_expression(text, classes=defined_at).symmetry.verdict == "proved"


def test_a_normalizing_sum_that_is_0_at_an_integer_k_is_refused_there_and_one_never_0_is_proved():
    with pytest.raises(BadInput) as info:
        analysis.analyse_expression("(p-1/2)/sum_all(q-1/2)")
    assert str(info.value) == ("the loss is undefined at K = 2: its normalizing denominator sum_s b(g, s) with "
                               "b(g, k) = p - 1/2 is -(K - 2)/2, which is 0 there; give --classes for the K you mean")
    at_three = analysis.analyse_expression("(p-1/2)/sum_all(q-1/2)", classes=3).symmetry
    assert at_three.verdict == "proved" and at_three.constant == 1
    never = analysis.analyse_expression("(p-2/5)/sum_all(q-2/5)").symmetry
    assert never.verdict == "proved" and never.constant == 1 and "0 at no integer K >= 2" in never.steps[0].text
    open_case = analysis.analyse_expression("(p-a)*log(p)/sum_all((q-a)*log(q))").symmetry
    assert open_case.verdict == "unknown"
    assert "wherever the denominator is not 0, which is not shown" in open_case.steps[0].text
    assert "since" not in open_case.steps[0].text


@pytest.mark.parametrize("text, unshown", [
    ("1/(p - a) - sum_other(1/(q - a))/(K-1)", "divisor -a + p != 0 and divisor -a + q_j != 0 were not shown"),
    ("sqrt(a - p) - sum_other(sqrt(a - q))/(K-1)",
     "power base a - p >= 0 and power base a - q_j >= 0 were not shown"),
])
def test_a_proof_where_the_loss_may_be_undefined_is_unknown(text, unshown):
    symmetry = analysis.analyse_expression(text).symmetry
    assert (symmetry.verdict, symmetry.constant) == ("unknown", None)
    assert symmetry.steps[-2].text.startswith("hence sum_j L(g, j) = C for every K >= 2")
    assert symmetry.steps[-1].text.startswith(f"the identity holds where L is defined, but {unshown} on the open "
                                              "simplex (C = ")
    assert symmetry.steps[-1].text.endswith("where it is defined): verdict unknown")


@pytest.mark.parametrize("text, verdict, constant", [
    ("log((a+1)/a) - log(a+p) + sum_other(log(a+q))/(K-1)", "proved", K * sp.log((A + 1) / A)),
    ("log(p)/sum_all(log(q))", "proved", 1),
    ("(1-p)**2 + sum_other(q**2)", "refuted", None),
    ("(1-p**a)/a", "refuted", None),
    ("abs(1-p) + sum_other(abs(q))", "proved", 2 * (K - 1)),
    ("p/(K-1)", "proved", 1 / (K - 1)),
    ("-log(p) + sum_other(log(q))/(K-1)", "proved", 0),
    ("(1-p)*sqrt(K-2) + log(K - 1/2)", "proved", K * sp.log(K - sp.Rational(1, 2)) + (K - 1) * sp.sqrt(K - 2)),
    ("p**(a-1) - sum_other(q**(a-1))/(K-1)", "proved", 0),
    ("sqrt(1-p) - sum_other(sqrt(1-q))/(K-1)", "proved", 0),
])
def test_losses_defined_on_the_simplex_keep_their_verdicts(text, verdict, constant):
    symmetry = analysis.analyse_expression(text).symmetry
    assert symmetry.verdict == verdict
    if constant is not None:
        assert sp.simplify(symmetry.constant - constant) == 0


def test_the_conditions_are_collected_from_logs_powers_and_divisors_that_depend_on_g_or_k():
    form = LossForm(separable=sp.log(A + P) + sp.sqrt(1 - P) / (K - 1) + SumOther(Q**(A - 1)) + sp.log(A))
    assert set(domain_conditions(form)) == {
        Condition("log", A + P), Condition("base", 1 - P), Condition("divisor", K - 1),
        Condition("base_positive", Q)}
    assert all(shown(c) for c in domain_conditions(form))
    assert not shown(Condition("log", P - A)) and not shown(Condition("divisor", P - sp.Rational(1, 11)))
    assert shown(Condition("log", 1 - SumOther(Q)))  # sum_other(q) = 1 - g_k exactly


@pytest.mark.parametrize("condition, first", [
    (Condition("log", 9 - K), 9), (Condition("base", 10 - K), 11), (Condition("divisor", K**2 - 400), 20),
    (Condition("log", K - sp.Rational(1, 2)), None), (Condition("divisor", K**2 - 2 * K + sp.Rational(1, 2)), None),
])
def test_first_failing_k(condition, first):
    assert first_failing_k(condition) == first


def test_a_domain_check_that_runs_out_of_time_leaves_the_verdict_unknown(monkeypatch):
    def slow(condition):
        time.sleep(5)
        return True

    monkeypatch.setattr(domain, "shown", slow)
    started = time.monotonic()
    symmetry = analysis.analyse_expression("-log(p) + sum_other(log(q))/(K-1)", seconds=1).symmetry
    assert time.monotonic() - started < 4
    assert symmetry.verdict == "unknown"
    assert "log argument p > 0, divisor K - 1 != 0 and log argument q_j > 0 were not shown" in symmetry.steps[-1].text


def test_a_domain_check_that_sympy_cannot_do_leaves_the_verdict_unknown(monkeypatch):
    def fails(condition):
        raise NotImplementedError("no")

    monkeypatch.setattr(domain, "shown", fails)
    symmetry = analysis.analyse_expression("sqrt(1-p) - sum_other(sqrt(1-q))/(K-1)").symmetry
    assert symmetry.verdict == "unknown" and "power base 1 - p >= 0" in symmetry.steps[-1].text


def test_a_special_case_is_not_proved_where_the_loss_may_be_undefined():
    text = "(1 - p**a)/a + 1/(p - b) - sum_other(1/(q - b))/(K-1)"
    symmetry = analysis.analyse_expression(text).symmetry
    assert symmetry.verdict == "refuted" and symmetry.special == []
    assert analysis.analyse_expression("(1 - p**a)/a").symmetry.special[0].parameters == {A: 1}


@pytest.mark.parametrize("args, fragment", [
    (["--expr", "log(9-K)*(1-p)"], "the loss is undefined at K = 9: log argument 9 - K > 0 fails there"),
    (["--expr", "-log(p - a) + sum_other(log(q - a))/(K-1)"], "log argument -a + p > 0 fails there"),
    (["--expr", "1/(p - 1/11) - sum_other(1/(q - 1/11))/(K-1)"], "divisor p - 1/11 != 0 fails there"),
])
def test_cli_refuses_an_undefined_loss_with_one_line(args, fragment):
    assert_bad_input(run_cli("check-loss", *args, timeout=60), fragment)


@pytest.mark.parametrize("text, fragment", [
    ("1/(p^2 - p + 1/5)", "at g = (1/2 - sqrt(5)/10, sqrt(5)/20 + 1/4, sqrt(5)/20 + 1/4), k = 1 (K = 3): it is a "
     "division by 0; divisor p**2 - p + 1/5 != 0 fails there"),
    ("1/(p - 1/sqrt(2))", "at g = (sqrt(2)/2, 1/2 - sqrt(2)/4, 1/2 - sqrt(2)/4), k = 1 (K = 3): it is a "
     "division by 0; "
     "divisor p - sqrt(2)/2 != 0 fails there"),
    ("log(abs(p - 1/sqrt(2)))", "k = 1 (K = 3): it is zoo; log argument Abs(p - sqrt(2)/2) > 0 fails there"),
    ("sqrt(p - 1/1000000000)", "at g = (1/2000000000, 1999999999/4000000000, 1999999999/4000000000), k = 1 "
     "(K = 3): it is sqrt(5)*I/100000; power base p - 1/1000000000 >= 0 fails there"),
])
def test_a_loss_undefined_at_an_irrational_or_near_edge_point_is_refused(text, fragment):
    # the roots are irrational (1/2 - sqrt(5)/10 ~ 0.276, 1/sqrt(2)) or within 1e-6 of an edge (1e-9)
    with pytest.raises(BadInput) as info:
        analysis.analyse_expression(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("text, classes, restriction, constant", [
    ("p/(K - a)", None, "a != K", 1 / (K - A)),
    ("(1-p)/(K*a - 1)", None, "a != 1/K", (K - 1) / (K * A - 1)),
    ("(1-p)*log(K*a - 1)", None, "K*a - 1 > 0", (K - 1) * sp.log(K * A - 1)),
    ("(p-a)/sum_all(q-a)", None, "a != 1/K", 1),    # the normalizing sum is 1 - K a
    ("(p-a)/sum_all(q-a)", 3, "a != 1/3", 1),
])
def test_a_condition_in_k_and_the_parameters_restricts_the_proof_instead_of_leaving_it_unknown(
        text, classes, restriction, constant):
    symmetry = analysis.analyse_expression(text, classes=classes).symmetry
    assert symmetry.verdict == "proved"
    assert symmetry.scope == f"{'every K >= 2' if classes is None else f'K = {classes}'}, for {restriction} " \
                             "(elsewhere the loss is undefined)"
    assert sp.simplify(symmetry.constant - constant) == 0



@pytest.mark.parametrize("text, classes, point", [
    ("log(2*p)/sum_all(log(2*q))", 2, "g = (1/2, 1/2), k = 1 (K = 2): it is a division by 0"),
    ("(p**2 - 1/K**2)/sum_all(q**2 - 1/K**2)", 2, "g = (1/2, 1/2), k = 1 (K = 2): it is a division by 0"),
    ("(p-1/2)**3/sum_all((q-1/2)**3)", None, "(K = 2)"),
])
def test_a_normalized_loss_whose_denominator_is_0_somewhere_is_refused(text, classes, point):
    # these were 'unknown ... consistent with symmetry': 0/0 at the centre of K = 2, or 0 everywhere at K = 2
    from symtheory.analysis import analyse_expression

    with pytest.raises(BadInput, match=r"the loss is not a finite real number at .*" + re.escape(point)):
        analyse_expression(text, classes=classes)


@pytest.mark.parametrize("text", ["min(10, 3 + 1/(3/8 - p))", "p/sum_all(K*min(10, 3 + 1/(3/8 - q)))"])
def test_a_min_or_max_with_an_undefined_argument_is_refused_not_a_traceback(text):
    # was ValueError: The argument 'zoo' is not comparable (sympy's Min at q = 3/8)
    with pytest.raises(BadInput, match=re.escape("at g = (3/8, 5/16, 5/16), k = 1 (K = 3): it is a division by 0")):
        analysis.analyse_expression(text)


@pytest.mark.parametrize("text, params, classes, point, zero_k", [
    ("(p**2 - 1/10)/sum_all(q**2 - 1/10)", None, None, "g = (1/4 + 3*sqrt(5)/20, 1/4 - sqrt(5)/20, ", 4),
    ("(p**2 - a)/sum_all(q**2 - a)", {"a": "1/10"}, 5, "g = (1/5 + sqrt(6)/5, 1/5 - sqrt(6)/20, ", 5),
])
def test_a_normalizing_sum_that_is_0_on_a_curve_inside_the_simplex_is_refused_at_a_point_of_it(
        text, params, classes, point, zero_k):
    # were 'unknown ... consistent with symmetry': sum_j g_j**2 runs over [1/K, 1), which holds 10 a, so the
    # denominator is 0 on a curve between the rational points tried; its root on the line g_k = c, the other
    # classes equal, is the point named
    with pytest.raises(BadInput, match=re.escape(point)) as info:
        analysis.analyse_expression(text, classes=classes, params=params)
    assert f"(K = {zero_k})" in str(info.value) and "it is a division by 0" in str(info.value)
    root = sp.sympify(point[len("g = ("):].split(", ")[0])
    others = (1 - root) / (zero_k - 1)
    assert sp.simplify(root**2 + (zero_k - 1) * others**2 - zero_k * sp.Rational(1, 10)) == 0
    # at K = 3 the sum of squares is >= 1/3 > 3/10: never 0, so the loss is not refused there
    assert analysis.analyse_expression(text, classes=3, params=params).symmetry.verdict != "refuted"


@pytest.mark.parametrize("text, fragment", [
    # each was 'proved' (C = K, 1 - 2K, -(K-2)/2, 0, 0, 0): sympy had cancelled the undefined part as it parsed
    ("(p-1/11)/(p-1/11)", "at g = (1/11, 5/11, 5/11), k = 1 (K = 3): as written, its 1/(p - 1/11) is a division by "
                          "0 there (sympy would simplify it away); divisor p - 1/11 != 0 fails there"),
    ("exp(log(p-2))", "as written, its log(p - 2) is log(1999999/1000000) + I*pi there"),
    ("sqrt(p-1/2)**2", "as written, its sqrt(p - 1/2) is 127*sqrt(31)*I/1000 there"),
    ("log(p-2)-log(p-2)", "log argument p - 2 > 0 fails there"),
    ("0*log(p-2)", "log argument p - 2 > 0 fails there"),
    ("1 - p + sum_other(log(q-2)-log(q-2))", "as written, its sum over the other classes of log(q_j - 2) is"),
])
def test_a_loss_undefined_as_written_is_refused_though_sympy_cancels_the_undefined_part(text, fragment):
    with pytest.raises(BadInput, match=re.escape(fragment)):
        analysis.analyse_expression(text)


@pytest.mark.parametrize("text, constant", [
    ("(p+1)/(p+1)", "K"), ("p*(1-p)/(1-p)", "1"), ("p**(-1/2)*0 + 1 - p", "K - 1"), ("log(p)/sum_all(log(q))", "1")])
def test_a_cancelled_part_defined_on_the_simplex_is_no_obstacle(text, constant):
    symmetry = analysis.analyse_expression(text).symmetry
    assert (symmetry.verdict, str(symmetry.constant)) == ("proved", constant)


def test_a_normalizing_sum_is_evaluated_whole_not_at_one_coordinate_in_place_of_its_variable():
    # sum_all(q - 1/4) is the constant 1/4 at K = 3; the check put q_j = 1/4 in the sum's body as well, read
    # the divisor as (K - 1)(1/4 - 1/4) + p - 1/4 = 0 at g = (1/2, 1/4, 1/4) and refused the loss 4p - 1
    symmetry = analysis.analyse_expression("(p - 1/4)/sum_all(q - 1/4)", classes=3).symmetry
    assert (symmetry.verdict, symmetry.constant) == ("proved", 1)


@pytest.mark.parametrize("args, fragment", [
    ({"classes": 3}, "it contains zoo, complex infinity (1/0, log(0)) (at K = 3)"),
    ({"params": {"a": "2"}}, "it contains zoo, complex infinity (1/0, log(0)) (at a = 2)"),
])
def test_a_loss_undefined_only_at_the_given_values_names_them(args, fragment):
    with pytest.raises(BadInput, match=re.escape(fragment)):
        analysis.analyse_expression("(1-p)/(K**2-5*K+6) + (1-p)/(a-2)", **args)


def test_only_a_normalizing_sum_rational_on_the_line_is_solved_there():
    # solveset took 13 s of a 15 s budget on a max of a cubic, and seconds on exp(q) - 3/2, which it cannot solve
    square = P**2 - sp.Rational(1, 10) + SumOther(Q**2 - sp.Rational(1, 10))
    assert domain._on_line(square, 4) == P**2 - sp.Rational(1, 10) + 3 * (((1 - P) / 3)**2 - sp.Rational(1, 10))
    for body in (sp.exp(Q) - sp.Rational(3, 2), sp.Max(0, 3 * Q - Q**3 - 2)):
        quantity = body.subs(Q, P) + SumOther(body)
        assert domain._on_line(quantity, 4) == quantity
