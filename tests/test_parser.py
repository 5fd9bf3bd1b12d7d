"""The whitelist parser: accepted grammar, exact numbers, and refusals (nothing is ever evaluated)."""

from __future__ import annotations

from fractions import Fraction

import re

import pytest
import sympy as sp

from symtheory.errors import BadInput
from symtheory.exact_numbers import exact_number
from symtheory.expr import K, P, Q, SumOther, param_symbol
from symtheory.parser import bind_parameters, parse_loss_expression


def test_decimal_literals_become_exact_rationals():
    expr = parse_loss_expression("0.1*p + 2.5")
    assert expr == sp.Rational(1, 10) * P + sp.Rational(5, 2)


def test_sums_and_caret_power():
    expr = parse_loss_expression("(1-p)^2 + sum_other(q**2)")
    assert expr == (1 - P) ** 2 + SumOther(Q**2)
    assert parse_loss_expression("sum_all(q)") == P + SumOther(Q)


def test_parameters_and_k():
    expr = parse_loss_expression("log(alpha + p)/(K-1)")
    assert expr == sp.log(param_symbol("alpha") + P) / (K - 1)


@pytest.mark.parametrize("text, fragment", [
    ("__import__('os').system('touch /tmp/x')", "calling anything"),
    ("p.real", "attribute"),
    ("foo(p)", "unknown function 'foo'"),
    ("p +", "cannot parse"),
    ("lambda: 1", "not allowed"),
    ("q + p", "'q' may only be used"),
    ("sum_other(p)", "write its body in q"),
    ("sum_other(sum_other(q))", "cannot be nested"),
    ("log(p, 2)", "exactly one argument"),
    ("_x + p", "not allowed"),
    ("'abc'", "constant"),
    ("[p]", "not allowed"),
    ("", "empty"),
    ("log(x=p)", "keyword"),
    # inputs that would stall sympy, or are undefined
    ("9**9**9**9", "exponent 387420489 is too large"),
    ("p**(10**10)", "exponent 10000000000 is too large"),
    ("2**-99999", "exponent -99999 is too large"),
    ("p**-5000", "exponent -5000 is too large"),
    ("11**999 + p", "11**999 has about 1040 digits"),
    ("1e1400*p", "'1e1400' has more than 1000 digits"),
    ("1e-1001 + p", "more than 1000 digits"),
    ("1" + "0" * 1001 + "*p", "more than 1000 digits"),
    ("*".join(["1e99"] * 30), "more than 1000 digits"),
    ("-" * 1500 + "p", "nested more than 60 levels"),
    ("**".join(["p"] * 300), "nested more than 60 levels"),
    ("log(0)", "undefined: it contains zoo"),
    ("p**(0/0)", "undefined: it contains nan"),
    ("min(p, 0/0)", "undefined: it contains nan"),
    ("max(1/0, p)", "undefined: it contains zoo"),
    ("min(p, sqrt(-1))", "min(...) of p, I: "),
    ("1/(p-p) + p", "undefined: it contains zoo"),
    # 'p +' was 'at column 0'; columns counted '^' as the '**' it becomes and skipped leading spaces
    ("p +", "cannot parse loss expression: invalid syntax at the end: the expression is incomplete"),
    ("p^ )", "cannot parse loss expression: unmatched ')' at column 4"),
    ("  p = 1", "cannot parse loss expression: invalid syntax at column 5"),
    ("1 -* p", "cannot parse loss expression: invalid syntax at column 4"),
])
def test_refusals(text, fragment):
    with pytest.raises(BadInput) as info:
        parse_loss_expression(text)
    assert fragment in str(info.value)


def test_decimals_are_read_as_written_not_through_a_float():
    # the float 0.1000000000000000000001 is 0.1; the text is not
    assert parse_loss_expression("0.1000000000000000000001*p") == sp.Rational(10**21 + 1, 10**22) * P
    assert parse_loss_expression("1_000.5 + p") == sp.Rational(2001, 2) + P


def test_a_long_flat_sum_is_not_deep():
    assert parse_loss_expression("+".join(["p"] * 900)) == 900 * P
    assert parse_loss_expression("-".join(["p"] * 500)) == -498 * P


def test_a_literal_is_exact_to_the_digits_written():
    assert parse_loss_expression("1/(p + 1e-100)") == 1 / (P + sp.Rational(1, 10**100))


def test_bind_parameters_checks_each_power_before_evaluating_it():
    a = param_symbol("a")
    expr = parse_loss_expression("log(a + p) + 2**a")
    assert bind_parameters(expr, {a: sp.Integer(3)}) == sp.log(3 + P) + 8
    with pytest.raises(BadInput, match="exponent 1000000000 is too large"):
        bind_parameters(parse_loss_expression("2**(a**a) + p**a"), {a: sp.Integer(10**9)})
    with pytest.raises(BadInput, match="has about 2000 digits"):
        bind_parameters(parse_loss_expression("a**1000"), {a: sp.Integer(100)})
    with pytest.raises(BadInput, match="zoo"):
        bind_parameters(parse_loss_expression("1/(a - 1) + p"), {a: sp.Integer(1)})
    with pytest.raises(BadInput, match="undefined: it contains nan"):
        bind_parameters(parse_loss_expression("p**(log(a-1)*log(b-1))"), {a: sp.Integer(1), param_symbol("b"): 2})
    with pytest.raises(BadInput, match="zoo"):
        bind_parameters(parse_loss_expression("min(p, log(a - 1))"), {a: sp.Integer(1)})


@pytest.mark.parametrize("text, value", [
    ("0.1", Fraction(1, 10)), ("1/3", Fraction(1, 3)), ("2.5e-3", Fraction(1, 400)), (" -4 ", Fraction(-4)),
    ("1e99", Fraction(10**99)), (Fraction(2, 7), Fraction(2, 7)), (3, Fraction(3)), ("1e-300", Fraction(1, 10**300)),
    ("0e999999999", Fraction(0)), ("1e+0000000000001", Fraction(10)), ("1." + "0" * 3000, Fraction(1)), ("1.5/2.5", Fraction(3, 5)), ("+.5", Fraction(1, 2)), ("007.50", Fraction(15, 2)),
])
def test_exact_number(text, value):
    assert exact_number(text, "x") == value


@pytest.mark.parametrize("text, fragment", [
    ("nan", "'nan' is not a number"), ("inf", "is not a number"), ("abc", "is not a number"),
    ("1/2/3", "is not a number"), ("1/0", "divides by zero"), ("1e999999999", "more than 1000 digits"),
    ("1e-1001", "more than 1000 digits"), ("1/1e1000", "more than 1000 digits"), ("1/-3", "is not a number"),
    ("_1", "is not a number"), ("\u0661\u0662", "is not a number"), (".", "is not a number"), ("", "is not a number"),
    ("9" * 5000, "'" + "9" * 40 + "...' has more than 1000 digits"),
])
def test_exact_number_refusals(text, fragment):
    with pytest.raises(BadInput) as info:
        exact_number(text, "x")
    assert str(info.value).startswith("x: ") and fragment in str(info.value)


@pytest.mark.parametrize("name, why", [("q_j", "the bound variable of sum_other and sum_all"),
                                       ("I", "a sympy constant"), ("eta", "the noise rate of the risk relation"),
                                       ("C", "the constant sum_j L(g, j) of the risk relation"),
                                       ("R", "the clean risk R(h)"), ("L_y", "the loss at the clean label"),
                                       ("S_other", "the sum over the other labels")])
def test_a_parameter_may_not_take_a_name_the_printed_derivations_use(name, why):
    with pytest.raises(BadInput, match=re.escape(f"{name!r} cannot name a parameter: it is {why}")):
        parse_loss_expression(f"p**2/{name}")


def test_a_max_of_a_ratio_of_sums_is_parsed():
    # checking for a stray q used to set each sum to 0 and build max(0/0, p), which sympy refuses
    expr = parse_loss_expression("max(sum_other(q^2)/sum_other(q), p)")
    assert isinstance(expr, sp.Max) and len(expr.atoms(SumOther)) == 2
    with pytest.raises(BadInput, match="'q' may only be used inside sum_other"):
        parse_loss_expression("max(sum_other(q^2)/sum_other(q), q)")


def test_a_huge_exponent_is_named_short_in_its_error():
    from symtheory.parser import bind_parameters
    from symtheory.expr import param_symbol

    with pytest.raises(BadInput) as refused:
        bind_parameters(parse_loss_expression("(1-p**a)/a"), {param_symbol("a"): sp.Integer(10) ** 400})
    assert str(refused.value) == "exponent 1.00000e+400 is too large (at most 1000 in absolute value)"

