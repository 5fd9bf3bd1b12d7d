"""The symbolic vocabulary every loss is written in.

A loss L(g, k) for K classes is an expression in

* ``P``  -- g_k, the probability the network gives to the labelled class k;
* ``SumOther(f(Q))`` -- sum_{j != k} f(g_j), a sum over the other K-1 classes, with ``Q`` the bound
  variable standing for one of those probabilities;
* ``K`` -- the number of classes, and named positive parameters (alpha, q, ...).

This is the form used in the paper's definitions (Patel & Sastry 2021, Sec. 2) and is what makes a proof
for symbolic K possible: sum_k L(g, k) = sum_i phi(g_i) whenever L is affine in the sums.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterable, Iterator

import sympy as sp

_PARAMETER_NAMES: ContextVar[frozenset[str]] = ContextVar("parameter_names", default=frozenset())


class ProofVariable(sp.Symbol):
    """A variable of the proofs (t of phi(t), n of g_k = 1/n, ...). Sympy tells symbols apart by class too, so it
    is never the user's parameter of the same name; inside :func:`parameters_named` with that name it prints
    primed (t'), so a derivation never shows one name for both."""

    def shown_name(self) -> str:
        """The name, primed while a parameter has it."""
        return self.name + "'" if self.name in _PARAMETER_NAMES.get() else self.name

    def _sympystr(self, printer) -> str:
        return self.shown_name()

    def _latex(self, printer) -> str:
        plain = printer._print_Symbol(self)
        return plain + "'" if self.name in _PARAMETER_NAMES.get() else plain


@contextmanager
def parameters_named(names: Iterable[str]) -> Iterator[None]:
    """Within the block, a proof variable that shares its name with one of ``names`` (a loss's parameters)
    prints primed; wrap both the analysis (its step texts) and the printing of its expressions."""
    token = _PARAMETER_NAMES.set(frozenset(names))
    try:
        yield
    finally:
        _PARAMETER_NAMES.reset(token)


P = sp.Symbol("p", positive=True)
Q = sp.Symbol("q_j", positive=True)
T = ProofVariable("t", positive=True)
K = sp.Symbol("K", integer=True, positive=True)
K_MINUS_2 = ProofVariable("k2", integer=True, nonnegative=True)
"""K - 2: facts for every K >= 2 are asked of expressions with K = K_MINUS_2 + 2."""
U = ProofVariable("u", positive=True)
"""A probability t in (0, 1) is written 1/(1 + U) to ask sympy for facts on the open interval."""


class SumOther(sp.Function):
    """sum_{j != k} f(g_j): the argument is f written in the bound variable ``Q``."""

    nargs = 1

    @classmethod
    def eval(cls, body):
        """A body without q is the same for each of the K - 1 other classes: (K - 1) f."""
        if Q not in sp.sympify(body).free_symbols:
            return (K - 1) * body
        return None

    def _latex(self, printer):
        return r"\sum_{j \neq k} \left(%s\right)" % printer._print(self.args[0])

    def _sympystr(self, printer):
        return "sum_other(%s)" % printer._print(self.args[0])


_REAL_STAND_IN = sp.Dummy("x", real=True)


def derivative(expr: sp.Expr, var: sp.Symbol, order: int = 1) -> sp.Expr:
    """d^order expr / d var^order, taken in a real stand-in for the positive ``var``: the same derivative (an
    expression is simplified for var > 0 when it is built), without sympy re-deriving facts of var > 0 for each
    power on the way (with :func:`symtheory.bounds.polynomial_sign`, taylor-ce at order 30 went from 5.5 s to
    0.4 s: benchmarks/results/theory_speed.txt)."""
    expr = sp.sympify(expr)
    if var not in expr.free_symbols:
        return sp.S.Zero
    return sp.diff(expr.xreplace({var: _REAL_STAND_IN}), _REAL_STAND_IN, order).xreplace({_REAL_STAND_IN: var})


def sum_all(body: sp.Expr) -> sp.Expr:
    """sum_{j=1..K} f(g_j) = f(g_k) + sum_{j != k} f(g_j)."""
    return body.subs(Q, P) + SumOther(body)


def param_symbol(name: str) -> sp.Symbol:
    """The positive real symbol used for a loss parameter."""
    return sp.Symbol(name, positive=True)


def sum_other_nodes(expr: sp.Expr) -> list[SumOther]:
    """The distinct SumOther nodes of an expression, in a stable order."""
    return sorted(expr.atoms(SumOther), key=sp.default_sort_key)
