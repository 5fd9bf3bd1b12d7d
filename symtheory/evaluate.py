"""Evaluate a LossForm: exactly at rational points (sympy), or vectorized over many points (numpy / torch).

The vectorized path computes the whole loss matrix M[..., j] = L(g, j) for every label j at once, using
sum_{i != j} f(g_i) = sum_i f(g_i) - f(g_j), so it costs O(K) per point whatever the loss. The class axis is
the backend's: the last one (numpy, torch), or the first (:func:`class_major_backend`, the fast layout for
many points with few classes).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import sympy as sp

from symtheory.expr import K, P, Q, sum_other_nodes
from symtheory.forms import LossForm


def exact_loss(expr: sp.Expr, g: Sequence[sp.Expr], k: int, q: sp.Expr | None = None) -> sp.Expr:
    """L(g, k) of a separable expression at a concrete point g (0-based label k), exactly. Each sum over the
    other classes is taken over their distinct values with counts, so a point with many equal coordinates
    costs O(distinct values), not O(K). Every symbol is replaced at once (a sum's value first, then p, sympy
    cancelled (M - 3/4)/(M - 3/4 + 0) to 1 before the point made it 0/0); nan where a min or max gets an
    undefined argument (1/0 in it). ``q``: the value of a q outside the sums (a sum body's own quantity)."""
    others = Counter(g) - Counter({g[k]: 1})
    point = {P: sp.sympify(g[k]), K: sp.Integer(len(g))} | ({} if q is None else {Q: sp.sympify(q)})
    try:
        mapping = {node: sp.Add(*[count * node.args[0].xreplace({**point, Q: sp.sympify(value)})
                                  for value, count in others.items()])
                   for node in sum_other_nodes(expr)}
        return sp.sympify(expr).xreplace({**mapping, **point})
    except (ValueError, TypeError):
        return sp.nan  # sympy refuses min(10, zoo): an argument that is undefined there


def losses_by_value(expr: sp.Expr, g: Sequence[sp.Expr]):
    """(k, L(g, k)) at a concrete point g for one label k per distinct coordinate value: labels of equal g_k
    have equal losses (:func:`exact_loss` of a separable expression)."""
    for value in dict.fromkeys(g):
        k = list(g).index(value)
        yield k, exact_loss(expr, g, k)


def is_finite_real(value: sp.Expr) -> bool:
    """Not nan, zoo or an infinity, and not known to be non-real: what an exact loss value must be."""
    return not (value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or value.is_extended_real is False)


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
    """The array operations the vectorized evaluation needs, for numpy or torch.

    ``funcs`` also maps ``real_pow(x, a)`` (x^a for a non-integer exponent) and ``int_pow(x, n)`` (x^n for
    an integer n other than 0, 1, 2), the forms :func:`fast_powers` rewrites powers into.
    """

    funcs: dict[str, Callable]
    sum_classes: Callable[[Any], Any]
    zero_one: Callable[[Any], Any]
    broadcast: Callable[[Any, Any], Any]


REAL_POW = sp.Function("real_pow")
INT_POW = sp.Function("int_pow")


def _int_pow(x, n: int):
    """x^n by repeated squaring (n a non-zero integer): a few multiplications instead of a libm pow."""
    if n < 0:
        return 1.0 / _int_pow(x, -n)
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if n:
            base = base * base
    return result


def _numpy_funcs() -> dict[str, Callable]:
    import numpy as np

    def real_pow(x, a):
        with np.errstate(divide="ignore"):
            return np.exp(a * np.log(x))

    def minimum(*args):
        return functools.reduce(np.minimum, args)

    def maximum(*args):
        return functools.reduce(np.maximum, args)

    return {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "Abs": np.abs, "Min": minimum, "Max": maximum,
            "real_pow": real_pow, "int_pow": lambda x, n: _int_pow(x, int(n))}


def _broadcast_numpy(x, like):
    import numpy as np

    return x if getattr(x, "shape", None) == like.shape else np.broadcast_to(x, like.shape)


def numpy_backend() -> Backend:
    """The operations in numpy, classes on the last axis (numpy is imported on first use: the proofs do not
    need it)."""
    import numpy as np

    def zero_one(g):
        out = np.ones_like(g)
        np.put_along_axis(out, g.argmax(-1)[..., None], 0.0, axis=-1)
        return out

    return Backend(funcs=_numpy_funcs(), sum_classes=lambda x: x.sum(axis=-1, keepdims=True),
                   zero_one=zero_one, broadcast=_broadcast_numpy)


def class_major_backend() -> Backend:
    """The operations in numpy with the classes on the first axis, g[k, ...]: every reduction over the K
    classes is then K - 1 operations on long contiguous rows instead of many reductions of length K."""
    import numpy as np

    def zero_one(g):
        best, winner = g[0].copy(), np.zeros(g.shape[1:], dtype=np.intp)
        for j in range(1, g.shape[0]):
            ahead = g[j] > best
            winner[ahead] = j
            np.maximum(best, g[j], out=best)
        return (np.arange(g.shape[0]).reshape((-1,) + (1,) * (g.ndim - 1)) != winner).astype(g.dtype)

    return Backend(funcs=_numpy_funcs(), sum_classes=lambda x: x.sum(axis=0, keepdims=True),
                   zero_one=zero_one, broadcast=_broadcast_numpy)


def torch_backend() -> Backend:
    """The same operations in torch (imported only when asked for)."""
    import torch

    def zero_one(g):
        return 1.0 - torch.nn.functional.one_hot(g.argmax(-1), g.shape[-1]).to(g.dtype)

    def tensors(args):
        like = next(a for a in args if isinstance(a, torch.Tensor))
        return [a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=like.dtype, device=like.device)
                for a in args]

    def minimum(*args):
        return functools.reduce(torch.minimum, tensors(args))

    def maximum(*args):
        return functools.reduce(torch.maximum, tensors(args))

    return Backend(
        funcs={"log": torch.log, "exp": torch.exp, "sqrt": torch.sqrt, "Abs": torch.abs,
               "Min": minimum, "Max": maximum, "real_pow": torch.pow,
               "int_pow": lambda x, n: torch.pow(x, int(n))},
        sum_classes=lambda x: x.sum(-1, keepdim=True),
        zero_one=zero_one,
        broadcast=lambda x, like: x if getattr(x, "shape", None) == like.shape else torch.as_tensor(
            x, dtype=like.dtype, device=like.device).expand_as(like),
    )


def fast_powers(expr: sp.Expr) -> sp.Expr:
    """Powers x^a with a numeric exponent rewritten for speed: a non-integer a (not +-1/2, which print as
    sqrt) as real_pow(x, a) = exp(a log x), an integer |a| >= 3 as int_pow(x, a) (repeated squaring)."""
    def rewrite(e):
        a = e.exp
        if a.is_Integer:
            return INT_POW(e.base, a)
        return REAL_POW(e.base, a)

    def wanted(e):
        if not (e.is_Pow and e.exp.is_Number):
            return False
        if e.exp.is_Integer:
            return abs(int(e.exp)) >= 3
        return e.exp not in (sp.S.Half, -sp.S.Half)

    return expr.replace(wanted, rewrite)


_BEYOND_FLOAT64 = sp.Float("1e400")
"""Put for a number beyond float64's range: the compiled code reads it as inf, where the number itself (as
exp(exp(exp(10))), 10**9568 and more) would be too long to write."""


def _numeric(expr: sp.Expr) -> sp.Expr:
    value = fast_powers(sp.sympify(expr)).evalf(30)
    return value.replace(lambda x: x.is_Float and abs(x) > _BEYOND_FLOAT64,
                         lambda x: _BEYOND_FLOAT64 if x > 0 else -_BEYOND_FLOAT64)


def _compile_separable(expr: sp.Expr, n_classes: int, backend: Backend) -> Callable:
    """M[..., k] = L(g, k) for a separable expression, computing each summand f_i once per class:

    with F_i = f_i(g) elementwise, sum_{j != k} f_i(g_j) = sum_j F_i[j] - F_i[k], and an occurrence of
    f_i(g_k) in the outer expression is read from F_i[k] rather than computed again (e.g. rll's log(alpha + p)).
    """
    expr = sp.sympify(expr).subs(K, n_classes)
    nodes = sum_other_nodes(expr)
    summands = [node.args[0].xreplace({Q: P}) for node in nodes]
    own = [sp.Symbol(f"_f{i}") for i in range(len(nodes))]
    others = [sp.Symbol(f"_s{i}") for i in range(len(nodes))]
    outer = expr.xreplace(dict(zip(nodes, others)))
    outer = outer.xreplace({f: F for f, F in zip(summands, own) if not f.is_Atom})
    outer_fn = sp.lambdify([P, *own, *others], _numeric(outer), modules=[backend.funcs], cse=True)
    if not nodes:
        return lambda g: backend.broadcast(outer_fn(g), g)
    inner_fn = sp.lambdify([P], [_numeric(f) for f in summands], modules=[backend.funcs], cse=True)

    def matrix(g):
        values = [backend.broadcast(v, g) for v in inner_fn(g)]
        sums = [backend.sum_classes(v) - v for v in values]
        return backend.broadcast(outer_fn(g, *values, *sums), g)

    return matrix


def compile_loss_matrix(form: LossForm, n_classes: int, backend: Backend | None = None) -> Callable:
    """A function g -> M with M[..., j] = L(g, j) along the backend's class axis (numpy, classes last,
    unless another backend is given); the form's parameters must be numbers."""
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
        out = separable(g) if separable else None
        for weight, base in normalized:
            values = base(g)
            values = (weight / backend.sum_classes(values)) * values
            out = values if out is None else out + values
        if zero_one_weight:
            values = zero_one_weight * backend.zero_one(g)
            out = values if out is None else out + values
        return 0 * g if out is None else out

    return matrix
