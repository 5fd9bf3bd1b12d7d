"""Normalized losses written by hand (c N / sum_s N(g, s)) are recognised as normalized pieces, so they are
proved for every K at once; the recognised form has the same values as the expression."""

from __future__ import annotations

import pytest
import sympy as sp

from symtheory.analysis import analyse_expression
from symtheory.evaluate import exact_form_loss, exact_loss
from symtheory.expr import K, P, param_symbol
from symtheory.parser import parse_loss_expression
from symtheory.recognize import loss_form, resolve_on_simplex

A = param_symbol("a")

NCE = "log(p)/sum_all(log(q))"
NMSE = "((1-p)**2 + sum_other(q**2))/sum_all((1-q)**2 + (K-1)*q**2)"
NFL = "-(1-p)**g*log(p)/sum_all(-(1-q)**g*log(q))"


@pytest.mark.parametrize("text, constant", [
    (NCE, 1),
    ("2*log(p)/((K-1)*sum_all(log(q)))", 2 / (K - 1)),
    ("log(p)/(3*sum_all(-log(q)))", sp.Rational(-1, 3)),
    (NMSE, 1),
    (NFL, 1),
    (NCE + " + 2*(1-p)", 2 * K - 1),
    ("1/(p+a)/sum_all(1/(q+a))", 1),          # 1 over (p + a) D: the numerator is a factor, not the fraction's
])
def test_hand_written_normalized_losses_are_proved_for_every_k(text, constant):
    symmetry = analyse_expression(text, seconds=None).symmetry
    assert (symmetry.verdict, symmetry.scope) == ("proved", "every K >= 2")
    assert sp.simplify(symmetry.constant - constant) == 0


def test_the_base_is_taken_positive_and_shown_in_the_proof():
    form = loss_form(parse_loss_expression(NCE))
    assert form.separable == 0 and form.normalized == ((1, -sp.log(P)),)
    steps = analyse_expression(NCE).symmetry.steps
    assert steps[0].text.startswith("normalized piece w b(g,k) / sum_s b(g,s) with b(g,k) = -log(p): ")
    assert "> 0 on the open simplex" in steps[0].text


@pytest.mark.parametrize("text", ["p/sum_all(q**2)", "log(p)/sum_all(log(q)**2)", "p*log(p)/sum_all(log(q))"])
def test_a_denominator_that_is_not_the_label_sum_is_left_alone(text):
    expr = parse_loss_expression(text)
    assert loss_form(expr).normalized == () and loss_form(expr).separable == expr


def test_a_normalized_term_plus_a_non_symmetric_one_is_refuted():
    assert analyse_expression(NCE + " + p**2").symmetry.verdict == "refuted"


@pytest.mark.parametrize("text", [NCE, NMSE, NFL, "2*log(p)/((K-1)*sum_all(log(q))) + (1-p)**2"])
def test_the_recognised_form_has_the_expression_s_values(text):
    expr = parse_loss_expression(text).subs(param_symbol("g"), sp.Rational(3, 2))
    form = loss_form(expr)
    point = (sp.Rational(1, 2), sp.Rational(1, 5), sp.Rational(3, 10))
    for k in range(3):
        assert abs(sp.N(exact_form_loss(form, point, k) - exact_loss(expr, point, k), 40)) < 1e-30


@pytest.mark.parametrize("text, constant", [
    ("abs(1-p) + sum_other(abs(q))", 2 * (K - 1)),  # the L1 distance to the one-hot label: MAE
    ("abs(abs(1-p) - 2)", K + 1),
    ("abs(1-p)/sum_all(abs(1-q))", 1),
])
def test_absolute_values_of_fixed_sign_are_resolved(text, constant):
    symmetry = analyse_expression(text).symmetry
    assert (symmetry.verdict, symmetry.scope) == ("proved", "every K >= 2")
    assert sp.simplify(symmetry.constant - constant) == 0


def test_an_absolute_value_of_changing_sign_is_kept_and_refuted_by_a_counterexample():
    assert resolve_on_simplex(parse_loss_expression("abs(p - 1/2)")) == sp.Abs(P - sp.Rational(1, 2))
    symmetry = analyse_expression("abs(p - 1/2)").symmetry
    assert symmetry.verdict == "refuted"
    assert symmetry.counterexample.sum_a == sp.Rational(1, 2) and symmetry.counterexample.sum_b == sp.Rational(13, 10)
    assert "phi'' was not reduced, but the label sum differs between two points" in symmetry.steps[-1].text


def test_a_ratio_with_a_pole_at_some_k_is_not_taken_as_normalized():
    # sum_s (g_s - sum_{j != s} g_j) = 2 - K: zero at K = 2, where the user's denominator is 1
    expr = parse_loss_expression("(p - sum_other(q))/sum_all(q)")
    assert loss_form(expr).normalized == ()
    at_two = analyse_expression("(p - sum_other(q))/sum_all(q)", classes=2).symmetry
    assert (at_two.verdict, at_two.constant) == ("proved", 0)
    at_three = analyse_expression("(2*p - sum_other(q))/sum_all(q)", classes=3).symmetry
    assert (at_three.verdict, at_three.constant) == ("proved", 0)


def test_large_irrational_sums_that_are_equal_are_not_refuted():
    # a constant 10^200 log 2 plus |p - 1/2| - |2p - 1|/2 = 0: symmetric, phi'' not reducible
    symmetry = analyse_expression("10**200*(log(2*p)-log(p)) + abs(p-1/2) - abs(2*p-1)/2").symmetry
    assert symmetry.verdict == "unknown"


@pytest.mark.parametrize("text, constant", [
    ("min(p, 2) + sum_other(min(q, 2))", K),
    ("max(p, 0) + sum_other(max(q, -1))", K),
    ("max(1-p, p-1) + sum_other(q)", 2 * (K - 1)),
])
def test_min_and_max_fixed_by_the_simplex_are_resolved(text, constant):
    symmetry = analyse_expression(text).symmetry
    assert (symmetry.verdict, symmetry.scope) == ("proved", "every K >= 2")
    assert sp.expand(symmetry.constant - constant) == 0


def test_a_min_the_simplex_does_not_fix_is_kept():
    assert resolve_on_simplex(parse_loss_expression("min(p, 1/2)")) == sp.Min(P, sp.Rational(1, 2))


_RATIO_GAP = "(sum_other(q^3)/sum_other(q^2) - sum_other(q^2)/sum_other(q) - p/1000)"


def test_an_absolute_value_over_several_sums_is_not_resolved_from_equal_coordinates():
    # with every other g_j equal the gap is -p/1000 < 0, yet at g = (1/10, 1/5, 7/10) (k = 1) it is about
    # +0.149: |A| + A + 1 - p is not MAE, and sum_j L there is 2.2974, not K - 1 = 2
    text = f"abs({_RATIO_GAP}) + {_RATIO_GAP} + 1 - p"
    assert resolve_on_simplex(parse_loss_expression(text)).has(sp.Abs)
    assert analyse_expression(text, classes=3).symmetry.verdict != "proved"
    assert analyse_expression(text).symmetry.verdict != "proved"


def test_an_absolute_value_affine_in_several_sums_is_resolved_through_their_merged_sum():
    # sum_other(q) - sum_other(q^2) = sum_other(q - q^2) > 0 on the open simplex
    resolved = resolve_on_simplex(parse_loss_expression("abs(sum_other(q) - sum_other(q^2))"))
    assert not resolved.has(sp.Abs)
    g = {P: sp.Rational(1, 2)}
    assert sp.expand(resolved.subs(g) - (parse_loss_expression("sum_other(q) - sum_other(q^2)").subs(g))) == 0


def test_a_normalized_piece_whose_weight_may_be_0_is_still_one():
    """log(a) p/sum_all(q): the weight log(a) is 0 at a = 1 (the piece is then 0), finite everywhere, so the
    piece sums to log(a) for every K (it fell back to K = 2..8 with explicit coordinates)."""
    symmetry = analyse_expression("log(a)*p/sum_all(q)", seconds=None).symmetry
    assert (symmetry.verdict, symmetry.scope, symmetry.constant) == ("proved", "every K >= 2", sp.log(A))


@pytest.mark.parametrize("text, constant, listed", [
    ("p*sum_all(q**2) - sum_all(q**2)/K + 1/K", 1, None),   # sum_k of p F - F/K is 0 for any F
    ("p*sum_all(q**2) - sum_all(q**2)/K + (1-p)", sp.Tuple(*range(1, 8)), "K = 3: 2"),
])
def test_a_proof_for_each_k_in_2_to_8_gives_one_c_when_it_is_the_same_for_each(text, constant, listed):
    symmetry = analyse_expression(text, seconds=None).symmetry
    assert (symmetry.verdict, symmetry.scope) == ("proved", "each K in 2..8 (not for all K)")
    assert symmetry.constant == constant
    assert any(listed in step.text for step in symmetry.steps) if listed else len(symmetry.steps) == 1


@pytest.mark.parametrize("text", ["abs(p-a)/sum_all(abs(q-a))", "max(p,a)/sum_all(max(q,a))"])
def test_a_base_whose_range_sympy_cannot_solve_for_is_unknown_not_a_crash(text):
    """sympy's solveset raised NotImplementedError ('multivariate conditions') on |t - a| and max(t, a)."""
    for classes in (None, 3):
        assert analyse_expression(text, classes=classes, seconds=None).symmetry.verdict == "unknown"


@pytest.mark.parametrize("text", ["exp(-a*p)/sum_all(exp(-a*q))", "p**(-a)/sum_all(q**(-a))", "exp(-p)/sum_all(exp(-q))"])
def test_a_normalized_piece_with_a_negative_exponent_is_recognized(text):
    """sympy's fraction moves exp(-a p) to the denominator as 1/exp(a p); the piece was then not seen and the
    proof fell back to K = 2..8 (slow: seconds=5 keeps a regression from hanging)."""
    symmetry = analyse_expression(text, seconds=5).symmetry
    assert (symmetry.verdict, symmetry.scope, symmetry.constant) == ("proved", "every K >= 2", 1)


@pytest.mark.parametrize("classes, shown", [(None, "4*(K - 1)*log(10) + 1"), (10, "1 + 36*log(10)")])
def test_c_with_logs_of_numbers_is_written_short(classes, shown):
    """NCE + RCE written by hand: C was 'log(10**(4*K)/10000) + 1', at K = 10 'log(1000...0) + 1' (36 zeros)."""
    symmetry = analyse_expression("-log(p)/sum_all(-log(q)) - log(1/10000)*sum_other(q)", classes=classes).symmetry
    assert sp.sstr(symmetry.constant) == shown


def test_a_counterexample_found_with_explicit_coordinates_refutes_for_general_k():
    symmetry = analyse_expression("p*sum_other(q**2)").symmetry
    assert (symmetry.verdict, symmetry.scope) == ("refuted", "general K (counterexample at K = 2)")


def test_a_k_that_explicit_coordinates_leave_open_does_not_stop_the_search_for_a_counterexample():
    """sqrt(sum_other(q**2)) is symmetric at K = 2 (it is 1 - g_k there) but sympy does not reduce
    sqrt((1 - g_1)**2); it was 'unknown for K = 2', and K = 3 was never tried."""
    symmetry = analyse_expression("sqrt(sum_other(q**2))").symmetry
    assert (symmetry.verdict, symmetry.scope) == ("refuted", "general K (counterexample at K = 3)")


def test_a_bound_that_k_decides_is_decided():
    bounds = analyse_expression("(1-p)**(K-1)").bounds
    assert (bounds.lower, bounds.upper, bounds.lower_exact, bounds.upper_exact) == (0, 1, True, True)


@pytest.mark.parametrize("text, shown", [
    ("p/(K - a)", "1/(K - a)"),                                               # was -1/(-K + a)
    ("a*log(p)/sum_all(log(q)) + 4*b*(1-p)", "a + 4*b*(K - 1)"),             # was 4*K*b + a - 4*b
    ("2 - 2*p", "2*(K - 1)"),
])
def test_c_is_written_in_its_shortest_closed_form(text, shown):
    assert sp.sstr(analyse_expression(text).symmetry.constant) == shown



@pytest.mark.parametrize("text, constant", [
    ("p*sum_all(q)", 1),                                  # sum_all(q) = 1 on the simplex
    ("(1-p)/sum_all(q)", K - 1),
    ("(p-1/2)*(p + sum_other(q))**3", -(K - 2) / 2),
    ("(p-a)/(sum_all(q)-a)", (K * A - 1) / (A - 1)),
])
def test_a_sum_of_a_linear_body_is_folded_where_it_keeps_the_loss_from_being_affine(text, constant):
    """sum_{j != k} (c g_j + d) = c (1 - g_k) + d (K - 1): these were proved for K = 2..8 only, or not at all."""
    symmetry = analyse_expression(text).symmetry
    assert (symmetry.verdict, symmetry.scope.split(",")[0]) == ("proved", "every K >= 2")
    assert sp.simplify(symmetry.constant - constant) == 0
