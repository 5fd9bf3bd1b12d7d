"""A whitelist parser for user-written losses: Python's ``ast`` reads the text, nothing is evaluated.

``sympy.sympify`` evaluates strings with ``eval``; this module never does. Only numbers, the names below,
the operators + - * / ** and ^ (read as **), and the functions in :data:`FUNCTIONS` are accepted; anything else (attribute
access, subscripts, lambdas, dunder names, keyword arguments, ...) is refused with :class:`BadInput`, as is
anything too large for sympy to work with (more than :data:`MAX_LENGTH` characters or :data:`MAX_DEPTH`
levels of nesting, an exponent above :data:`MAX_EXPONENT`, a number of more than MAX_DIGITS digits) and an
undefined constant (1/0, log(0)).

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
import math
import re
from typing import Mapping

import sympy as sp

from symtheory.errors import BadInput
from symtheory.exact_numbers import MAX_DIGITS, check_integer_size, exact_number
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
RESERVED_NAMES = {
    "q_j": "the bound variable of sum_other and sum_all (written q)",
    **{name: "a sympy constant" for name in ("I", "nan", "oo", "zoo")},
    "eta": "the noise rate of the risk relation R_eta = C eta/(K-1) + (1 - eta K/(K-1)) R",
    "C": "the constant sum_j L(g, j) of the risk relation",
    "R": "the clean risk R(h) of the risk relation",
    "L_y": "the loss at the clean label in the risk relation's derivation",
    "S_other": "the sum over the other labels in the risk relation's derivation",
}
"""Names a parameter may not have: the same name inside the prover or its printed derivation would stand for both."""
MAX_LENGTH = 2000
MAX_DEPTH = 60
MAX_EXPONENT = 1000
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def normalize_expression(text: str) -> str:
    """A user's expression with its whitespace made canonical: runs of spaces, tabs and line breaks become one
    space, none at the ends ('(1 -\\n p) ' -> '(1 - p)'), so one loss typed twice is one loss."""
    return " ".join(text.split())


def _where(text: str, offset: int | None) -> str:
    """Where a syntax error of the stripped, ``^``-to-``**`` source lies, as a 1-based column of ``text``
    itself; Python's offset 0 (or past the end) means the input ended too early."""
    stripped = text.strip()
    source_column = 0
    for column, char in enumerate(stripped, start=1):
        source_column += 2 if char == "^" else 1
        if offset is not None and source_column >= offset > 0:
            return f"at column {column + len(text) - len(text.lstrip())}"
    return "at the end: the expression is incomplete"


def parse_loss_expression(text: str) -> sp.Expr:
    """Parse a user's loss L(g, k) into the vocabulary of :mod:`symtheory.expr`, exactly (no floats).

    Decimal literals become exact rationals, read from the text as written (0.1 -> 1/10). Sizes are capped
    so that no input can stall the parser: nesting depth, exponents, and the digits of any number.
    """
    return parse_with_guards(text)[0]


def parse_with_guards(text: str) -> tuple[sp.Expr, tuple[sp.Expr, ...]]:
    """:func:`parse_loss_expression`, and the guards: each log, power and division as written, unevaluated
    (log(x), x**e, x**-1 for a divisor x). sympy evaluates as it builds, x/x -> 1, exp(log(x)) -> x,
    sqrt(x)**2 -> x, 0*log(x) -> 0, so a loss written undefined on part of the simplex ((p - 1/11)/(p - 1/11),
    exp(log(p - 2))) would lose the subexpression that says so; the domain check reads the guards too."""
    if not text or not text.strip():
        raise BadInput("empty loss expression")
    if len(text) > MAX_LENGTH:
        raise BadInput(f"loss expression longer than {MAX_LENGTH} characters")
    source = text.strip().replace("^", "**")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise BadInput(f"cannot parse loss expression: {exc.msg} {_where(text, exc.offset)}") from None
    if _depth(tree.body) > MAX_DEPTH:
        raise BadInput(f"loss expression nested more than {MAX_DEPTH} levels deep")
    builder = _Builder(source)
    expr = builder.build(tree.body, inside_sum=False)
    if not isinstance(expr, sp.Expr):
        raise BadInput("the loss expression does not denote a number")
    if Q in _symbols_outside_sums(expr):
        raise BadInput("'q' may only be used inside sum_other(...) or sum_all(...)")
    return check_finite(expr), tuple(dict.fromkeys(builder.guards))


def _symbols_outside_sums(expr: sp.Basic) -> set[sp.Symbol]:
    """The symbols of ``expr`` not inside a sum over classes (found without rebuilding it: max(S1/S2, p) with
    each sum set to 0 would be max(nan, p), which sympy refuses)."""
    if isinstance(expr, SumOther):
        return set()
    if isinstance(expr, sp.Symbol):
        return {expr}
    return set().union(*(_symbols_outside_sums(arg) for arg in expr.args))


def bind_parameters(expr: sp.Expr, values: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """``expr`` with parameter values substituted, bottom up, each power checked before it is evaluated
    (``p**a`` with a = 10**9 is refused, not computed)."""
    def bind(node: sp.Basic) -> sp.Basic:
        if node in values:
            return values[node]
        if not node.args:
            return node
        args = [bind(a) for a in node.args]
        if node.is_Pow:
            check_power(*args)
        return _construct(node.func, args) if isinstance(node, (sp.Min, sp.Max)) else node.func(*args)

    return check_finite(bind(expr))


def check_power(base: sp.Expr, exponent: sp.Expr) -> None:
    """BadInput unless base**exponent is of a size sympy can work with: |exponent| <= MAX_EXPONENT, and a
    number raised to a number has at most MAX_DIGITS digits."""
    check_finite(base)
    check_finite(exponent)
    if not exponent.is_Number:
        return
    if abs(exponent) > MAX_EXPONENT:
        written = sp.sstr(exponent)
        written = written if len(written) <= 40 else sp.sstr(sp.Float(exponent, 6))
        raise BadInput(f"exponent {written} is too large (at most {MAX_EXPONENT} in absolute value)")
    if base.is_Rational and base != 0:
        digits = math.log10(max(abs(base.p), base.q)) * float(abs(exponent))
        if digits > MAX_DIGITS:
            raise BadInput(f"{sp.sstr(base)}**{sp.sstr(exponent)} has about {digits:.0f} digits "
                           f"(at most {MAX_DIGITS})")


def check_finite(expr: sp.Expr) -> sp.Expr:
    """``expr`` itself, unless it contains an undefined or infinite constant (1/0, log(0)) or a number too
    long to work with."""
    for bad, meaning in ((sp.nan, "nan, an undefined value"), (sp.zoo, "zoo, complex infinity (1/0, log(0))"),
                         (sp.oo, "oo, an infinity"), (-sp.oo, "-oo, an infinity")):
        if expr.has(bad):
            raise BadInput(f"the loss is undefined: it contains {meaning}")
    for number in expr.atoms(sp.Rational):
        if max(abs(number.p), number.q) >= 10**MAX_DIGITS:
            raise BadInput(f"the loss contains a number with more than {MAX_DIGITS} digits")
    return expr


def _construct(function, args: list[sp.Expr]) -> sp.Expr:
    """function(*args), with min/max of values that cannot be compared (nan, 1/0, sqrt(-1)) refused."""
    for arg in args:
        check_finite(arg)
    try:
        return function(*args)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{function.__name__.lower()}(...) of {', '.join(sp.sstr(a) for a in args)}: {exc}") from None


def _depth(root: ast.AST) -> int:
    """Nesting depth of the tree; the left operand of + - * / continues its chain at the same depth."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth if _is_chain_link(node) and child is node.left and _is_chain_link(child)
                      else depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _is_chain_link(node: ast.AST) -> bool:
    return isinstance(node, ast.BinOp) and type(node.op) in _BINOPS and not isinstance(node.op, ast.Pow)


class _Builder:
    def __init__(self, source: str):
        self.source = source
        self.guards: list[sp.Expr] = []

    def _guard(self, node: sp.Expr) -> None:
        if node.free_symbols & {P, Q} or node.has(SumOther):
            self.guards.append(node)

    def build(self, node: ast.AST, inside_sum: bool) -> sp.Expr:
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            return self._name(node.id, inside_sum)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.build(node.operand, inside_sum)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            base, exponent = self.build(node.left, inside_sum), self.build(node.right, inside_sum)
            check_power(base, exponent)
            self._guard(sp.Pow(base, exponent, evaluate=False))
            return base**exponent
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self._chain(node, inside_sum)
        if isinstance(node, ast.Call):
            return self._call(node, inside_sum)
        raise BadInput(f"not allowed in a loss expression: {type(node).__name__.lower()}")

    def _chain(self, node: ast.BinOp, inside_sum: bool) -> sp.Expr:
        """a + b - c * d ... built left to right without recursing down the chain (a long sum is not deep)."""
        spine = []
        while _is_chain_link(node):
            spine.append(node)
            node = node.left
        value = self.build(node, inside_sum)
        for link in reversed(spine):
            right = self.build(link.right, inside_sum)
            if isinstance(link.op, ast.Div):
                self._guard(sp.Pow(right, -1, evaluate=False))
            value = _BINOPS[type(link.op)](value, right)
        return value

    def _number(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"not allowed in a loss expression: constant {value!r}")
        if isinstance(value, int):
            return sp.Integer(check_integer_size(value, "loss expression"))
        written = ast.get_source_segment(self.source, node).replace("_", "")
        return sp.Rational(exact_number(written, "loss expression"))

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
        if name in RESERVED_NAMES:
            raise BadInput(f"{name!r} cannot name a parameter: it is {RESERVED_NAMES[name]}; rename it")
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
        if name == "log":
            self._guard(sp.log(args[0], evaluate=False))
        elif name == "sqrt":
            self._guard(sp.Pow(args[0], sp.S.Half, evaluate=False))
        return _construct(FUNCTIONS[name], args)
