"""A step of a proof: a sentence and, optionally, the expression it is about."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


@dataclass
class Step:
    """One line of a derivation, printable as text or LaTeX."""

    text: str
    expr: sp.Expr | None = None

    def as_dict(self, latex: bool = False) -> dict:
        """JSON-ready form of the step."""
        out = {"text": self.text}
        if self.expr is not None:
            out["expr"] = sp.latex(self.expr) if latex else sp.sstr(self.expr)
        return out
