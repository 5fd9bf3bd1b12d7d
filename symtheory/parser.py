"""A whitelist parser for user-written losses: Python's ``ast`` reads the text, nothing is evaluated.

``sympy.sympify`` evaluates strings with ``eval``; this module never does. Only numbers, the names below,
the operators + - * / ** and ^ (read as **), and the functions in :data:`FUNCTIONS` are accepted; anything else (attribute
access, subscripts, lambdas, dunder names, keyword arguments, ...) is refused with :class:`BadInput`.

Names in an expression:

* ``p`` (or ``g_k``): the probability of the labelled class k;
* ``q``: inside ``sum_other(...)`` / ``sum_all(...)``, the probability g_j of the class being summed over;
* ``K``: the number of classes;
* any other identifier: a named positive parameter (give its value with ``--param name=value``).

``sum_other(f(q))`` is sum_{j != k} f(g_j); ``sum_all(f(q))`` is sum_{j=1..K} f(g_j).
Example (the paper's RLL): ``log((a+1)/a) - log(a+p) + sum_other(log(a+q))/(K-1)``.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction

import sympy as sp

from symtheory.errors import BadInput
from symtheory.expr import K, P, Q, SumOther, param_symbol, sum_all

FUNCTIONS = {
    "log": sp.log,
    "exp": sp.exp,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "min": sp.Min,
    "max": sp.Max,
}
SUMS = {"sum_other", "sum_all"}
MAX_LENGTH = 2000
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def parse_loss_expression(text: str) -> sp.Expr:
    """Parse a user's loss L(g, k) into the vocabulary of :mod:`symtheory.expr`, exactly (no floats).

    Decimal literals become exact rationals (0.1 -> 1/10).
    """
    if not text or not text.strip():
        raise BadInput("empty loss expression")
    if len(text) > MAX_LENGTH:
        raise BadInput(f"loss expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise BadInput(f"cannot parse loss expression: {exc.msg} at column {exc.offset}") from None
    expr = _Builder().build(tree.body, inside_sum=False)
    if not isinstance(expr, sp.Expr):
        raise BadInput("the loss expression does not denote a number")
    if Q in expr.xreplace({n: sp.Integer(0) for n in expr.atoms(SumOther)}).free_symbols:
        raise BadInput("'q' may only be used inside sum_other(...) or sum_all(...)")
    return expr


class _Builder:
    def build(self, node: ast.AST, inside_sum: bool) -> sp.Expr:
        if isinstance(node, ast.Constant):
            return self._number(node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id, inside_sum)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.build(node.operand, inside_sum)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](self.build(node.left, inside_sum), self.build(node.right, inside_sum))
        if isinstance(node, ast.Call):
            return self._call(node, inside_sum)
        raise BadInput(f"not allowed in a loss expression: {type(node).__name__.lower()}")

    @staticmethod
    def _number(value) -> sp.Expr:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"not allowed in a loss expression: constant {value!r}")
        return sp.Rational(Fraction(repr(value))) if isinstance(value, float) else sp.Integer(value)

    @staticmethod
    def _name(name: str, inside_sum: bool) -> sp.Expr:
        if not _IDENT.match(name):
            raise BadInput(f"not allowed in a loss expression: name {name!r}")
        if name in ("p", "g_k"):
            return P
        if name == "q":
            if not inside_sum:
                raise BadInput("'q' may only be used inside sum_other(...) or sum_all(...)")
            return Q
        if name == "K":
            return K
        if name in ("pi", "E"):
            return sp.pi if name == "pi" else sp.E
        if name in FUNCTIONS or name in SUMS:
            raise BadInput(f"function {name!r} used without arguments")
        return param_symbol(name)

    def _call(self, node: ast.Call, inside_sum: bool) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise BadInput("not allowed in a loss expression: calling anything but a named function")
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise BadInput(f"{name}(...): keyword or starred arguments are not allowed")
        if name in SUMS:
            if inside_sum:
                raise BadInput(f"{name}(...) cannot be nested inside another sum")
            if len(node.args) != 1:
                raise BadInput(f"{name}(...) takes exactly one argument")
            body = self.build(node.args[0], inside_sum=True)
            if P in body.free_symbols:
                raise BadInput(f"{name}(...) sums over the classes j: write its body in q, not p")
            return SumOther(body) if name == "sum_other" else sum_all(body)
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS) + sorted(SUMS))
            raise BadInput(f"unknown function {name!r}; allowed: {known}")
        args = [self.build(a, inside_sum) for a in node.args]
        if name in ("min", "max"):
            if len(args) < 2:
                raise BadInput(f"{name}(...) takes at least two arguments")
        elif len(args) != 1:
            raise BadInput(f"{name}(...) takes exactly one argument")
        return FUNCTIONS[name](*args)
