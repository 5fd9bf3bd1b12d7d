"""The whitelist parser: accepted grammar, exact numbers, and refusals (nothing is ever evaluated)."""

from __future__ import annotations

import pytest
import sympy as sp

from symtheory.errors import BadInput
from symtheory.expr import K, P, Q, SumOther, param_symbol
from symtheory.parser import parse_loss_expression


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
])
def test_refusals(text, fragment):
    with pytest.raises(BadInput) as info:
        parse_loss_expression(text)
    assert fragment in str(info.value)
