"""LossForm: how a loss L(g, k) is put together from the three kinds of pieces the proofs understand."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symtheory.expr import P, sum_other_nodes


@dataclass(frozen=True)
class LossForm:
    """L(g, k) = separable + sum_w w * base_w(g, k) / sum_s base_w(g, s) + zero_one * 1[argmax g != k].

    ``separable`` and each ``base`` are expressions in P = g_k and SumOther(f(Q)) nodes (see
    :mod:`symtheory.expr`). Normalized pieces are the paper's normalization (Sec. 3): each sums to exactly
    its weight over the K labels, so the loss is symmetric iff its separable piece is.
    """

    separable: sp.Expr = sp.Integer(0)
    normalized: tuple[tuple[sp.Expr, sp.Expr], ...] = ()
    zero_one: sp.Expr = sp.Integer(0)

    def free_parameters(self) -> set[sp.Symbol]:
        """Parameter symbols still symbolic in the form (not P, the bound variable or K)."""
        from symtheory.expr import K, Q

        exprs = [self.separable, self.zero_one] + [x for pair in self.normalized for x in pair]
        syms: set[sp.Symbol] = set()
        for e in exprs:
            for node in sum_other_nodes(e):
                syms |= node.args[0].free_symbols
            syms |= e.free_symbols
        return {s for s in syms if s not in (P, Q, K)}

    def subs(self, mapping: dict) -> "LossForm":
        """The form with symbols replaced (parameters or K)."""
        return LossForm(
            separable=sp.sympify(self.separable).subs(mapping),
            normalized=tuple((sp.sympify(w).subs(mapping), sp.sympify(b).subs(mapping)) for w, b in self.normalized),
            zero_one=sp.sympify(self.zero_one).subs(mapping),
        )

    def display(self) -> sp.Expr:
        """One sympy expression for printing (normalizations shown as a quotient by an unevaluated sum)."""
        s = sp.Symbol("s")
        parts = [self.separable]
        for w, base in self.normalized:
            denom = sp.Sum(sp.Function("L_base")(sp.Symbol("g"), s), (s, 1, sp.Symbol("K")))
            parts.append(w * base / denom)
        if self.zero_one != 0:
            parts.append(self.zero_one * sp.Function("1_argmax_ne_k")())
        return sp.Add(*parts)
