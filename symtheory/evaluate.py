"""Evaluate a LossForm: exactly at rational points (sympy), or vectorized over many points (numpy / torch).

The vectorized path computes the whole loss matrix M[..., j] = L(g, j) for every label j at once, using
sum_{i != j} f(g_i) = sum_i f(g_i) - f(g_j), so it costs O(K) per point whatever the loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import sympy as sp

from symtheory.expr import K, P, Q, SumOther, sum_other_nodes
from symtheory.forms import LossForm


def exact_loss(expr: sp.Expr, g: Sequence[sp.Expr], k: int) -> sp.Expr:
    """L(g, k) of a separable expression at a concrete point g (0-based label k), exactly."""
    mapping = {}
    for node in sum_other_nodes(expr):
        mapping[node] = sp.Add(*[node.args[0].subs(Q, gi) for i, gi in enumerate(g) if i != k])
    return expr.xreplace(mapping).subs({P: g[k], K: len(g)})


def exact_form_loss(form: LossForm, g: Sequence[sp.Expr], k: int) -> sp.Expr:
    """L(g, k) of a whole LossForm at a concrete point g (0-based label k), exactly."""
    value = exact_loss(form.separable, g, k)
    for weight, base in form.normalized:
        values = [exact_loss(base, g, s) for s in range(len(g))]
        value += weight.subs(K, len(g)) * values[k] / sp.Add(*values)
    if form.zero_one != 0:
        winner = max(range(len(g)), key=lambda i: (g[i], -i))
        value += form.zero_one.subs(K, len(g)) * (0 if winner == k else 1)
    return value


def exact_label_sum(form: LossForm, g: Sequence[sp.Expr]) -> sp.Expr:
    """sum_{j=1..K} L(g, j) at a concrete point, exactly."""
    return sp.Add(*[exact_form_loss(form, g, j) for j in range(len(g))])


@dataclass(frozen=True)
class Backend:
    """The array operations the vectorized evaluation needs, for numpy or torch."""

    funcs: dict[str, Callable]
    sum_last: Callable[[Any], Any]
    zero_one: Callable[[Any], Any]
    broadcast: Callable[[Any, Any], Any]


def numpy_backend() -> Backend:
    """The operations in numpy (imported on first use: the proofs do not need it)."""
    import numpy as np

    def zero_one(g):
        out = np.ones_like(g)
        np.put_along_axis(out, g.argmax(-1)[..., None], 0.0, axis=-1)
        return out

    return Backend(
        funcs={"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "Abs": np.abs, "Min": np.minimum, "Max": np.maximum},
        sum_last=lambda x: x.sum(axis=-1, keepdims=True),
        zero_one=zero_one,
        broadcast=lambda x, like: x if getattr(x, "shape", None) == like.shape else np.broadcast_to(x, like.shape),
    )


def torch_backend() -> Backend:
    """The same operations in torch (imported only when asked for)."""
    import torch

    def zero_one(g):
        return 1.0 - torch.nn.functional.one_hot(g.argmax(-1), g.shape[-1]).to(g.dtype)

    return Backend(
        funcs={"log": torch.log, "exp": torch.exp, "sqrt": torch.sqrt, "Abs": torch.abs,
               "Min": torch.minimum, "Max": torch.maximum},
        sum_last=lambda x: x.sum(-1, keepdim=True),
        zero_one=zero_one,
        broadcast=lambda x, like: x if getattr(x, "shape", None) == like.shape else torch.as_tensor(
            x, dtype=like.dtype, device=like.device).expand_as(like),
    )


def _compile_separable(expr: sp.Expr, n_classes: int, backend: Backend) -> Callable:
    expr = sp.sympify(expr).subs(K, n_classes)
    nodes = sum_other_nodes(expr)
    slots = [sp.Symbol(f"_s{i}") for i in range(len(nodes))]
    outer = expr.xreplace(dict(zip(nodes, slots))).evalf(30)
    outer_fn = sp.lambdify([P, *slots], outer, modules=[backend.funcs], cse=True)
    inner_fns = [sp.lambdify([Q], node.args[0].evalf(30), modules=[backend.funcs], cse=True) for node in nodes]

    def matrix(g):
        sums = []
        for fn in inner_fns:
            per_class = backend.broadcast(fn(g), g)
            sums.append(backend.sum_last(per_class) - per_class)
        return backend.broadcast(outer_fn(g, *sums), g)

    return matrix


def compile_loss_matrix(form: LossForm, n_classes: int, backend: Backend | None = None) -> Callable:
    """A function g[..., K] -> M[..., K] with M[..., j] = L(g, j) (numpy unless another backend is given);
the form's parameters must be numbers."""
    backend = backend or numpy_backend()
    if form.free_parameters():
        names = ", ".join(sorted(str(s) for s in form.free_parameters()))
        raise ValueError(f"give values to the parameters ({names}) before evaluating numerically")
    separable = None if form.separable == 0 else _compile_separable(form.separable, n_classes, backend)
    normalized = [
        (float(sp.sympify(w).subs(K, n_classes)), _compile_separable(base, n_classes, backend))
        for w, base in form.normalized
    ]
    zero_one_weight = float(sp.sympify(form.zero_one).subs(K, n_classes))

    def matrix(g):
        out = separable(g) if separable else 0 * g
        for weight, base in normalized:
            values = base(g)
            out = out + weight * values / backend.sum_last(values)
        if zero_one_weight:
            out = out + zero_one_weight * backend.zero_one(g)
        return out

    return matrix
