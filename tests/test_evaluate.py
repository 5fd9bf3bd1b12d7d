"""Vectorized loss evaluation (symtheory.evaluate) against exact sympy values, across backends and layouts."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symtheory.classifiers import FLOOR, make_family
from symtheory.distributions import make_distribution
from symtheory.evaluate import class_major_backend, compile_loss_matrix, exact_form_loss, fast_powers
from symtheory.expr import P, SumOther, Q
from symtheory.forms import LossForm
from symtheory.registry import LOSSES, get_loss


def _rational_points(classes: int, count: int, seed: int) -> list[list[sp.Rational]]:
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(count):
        weights = rng.integers(1, 50, classes)
        points.append([sp.Rational(int(w), int(weights.sum())) for w in weights])
    return points


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("classes", [2, 3, 10])
def test_vectorized_equals_exact_for_every_builtin_loss(name, classes):
    form = get_loss(name).form(symbolic=False)
    matrix = compile_loss_matrix(form, classes)
    points = _rational_points(classes, 6, seed=classes)
    g = np.array([[float(x) for x in point] for point in points])
    got = matrix(g)
    exact = np.array([[float(exact_form_loss(form, point, k).evalf(30)) for k in range(classes)] for point in points])
    assert np.max(np.abs(got - exact) / np.maximum(1.0, np.abs(exact))) < 1e-13


@pytest.mark.parametrize("name", list(LOSSES))
def test_class_major_layout_equals_classes_last(name):
    form = get_loss(name).form(symbolic=False)
    g = np.random.default_rng(3).dirichlet(np.full(10, 0.4), size=(4, 50))
    g[0, 0] = 0.1
    last = compile_loss_matrix(form, 10)(g)
    first = compile_loss_matrix(form, 10, class_major_backend())(np.ascontiguousarray(np.moveaxis(g, -1, 0)))
    assert np.max(np.abs(np.moveaxis(first, 0, -1) - last)) < 1e-13


def test_zero_one_ties_go_to_the_first_class_in_both_layouts():
    g = np.array([[0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [0.3, 0.2, 0.5]])
    form = get_loss("zero-one").form(symbolic=False)
    last = compile_loss_matrix(form, 3)(g)
    first = compile_loss_matrix(form, 3, class_major_backend())(np.ascontiguousarray(g.T)).T
    expected = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float)
    assert np.array_equal(last, expected) and np.array_equal(first, expected)


def test_fast_powers_rewrite_and_agree_with_numpy_power():
    expr = P ** sp.Rational(7, 10) + (1 - P) ** 3 + P ** -4 + P ** 2 + sp.sqrt(P) + SumOther(Q ** sp.Rational(3, 2))
    rewritten = fast_powers(expr)
    names = {str(f.func) for f in rewritten.atoms(sp.Function)}
    assert {"real_pow", "int_pow"} <= names
    assert rewritten.has(P ** 2) and rewritten.has(sp.sqrt(P))
    g = np.random.default_rng(1).dirichlet(np.ones(5), size=200)
    got = compile_loss_matrix(LossForm(separable=expr), 5)(g)
    p = g
    other = (g ** 1.5).sum(axis=-1, keepdims=True) - g ** 1.5
    expected = p ** 0.7 + (1 - p) ** 3 + p ** -4.0 + p ** 2 + np.sqrt(p) + other
    assert np.max(np.abs(got - expected) / np.abs(expected)) < 1e-13


def test_classifier_outputs_are_a_floored_softmax_of_the_logits_class_major():
    rng = np.random.default_rng(0)
    family = make_family(make_distribution(40, 6, rng), 130, rng)
    for block in range(len(family.blocks())):
        z = family.logits(block).astype(np.float64)
        soft = np.exp(z - z.max(axis=-1, keepdims=True))
        soft /= soft.sum(axis=-1, keepdims=True)
        expected = (soft + FLOOR) / (1 + 6 * FLOOR)
        g = family.outputs(block)
        assert g.shape == (6,) + z.shape[:2]
        assert np.max(np.abs(np.moveaxis(g, 0, -1) - expected)) < 1e-6
        assert np.max(np.abs(g.sum(axis=0) - 1.0)) < 1e-15


@pytest.mark.parametrize("text", ["max(p, 1-p, 1/3)", "min(p, 1/2, 1-p) + sum_other(max(q, 1/4, q**2))",
                                  "min(1, 2*p, 3*(1-p))"])
def test_a_min_or_max_of_three_or_more_arguments_is_evaluated_as_written(text):
    """numpy's maximum(a, b, c) takes c as its output array: max(p, 1-p, 1/3) came out as 1/3 at g_k = 1/4."""
    from symtheory.analysis import prepare_expression

    form = prepare_expression(text, classes=3).form
    points = _rational_points(3, 6, seed=3)
    got = compile_loss_matrix(form, 3)(np.array([[float(x) for x in point] for point in points]))
    exact = np.array([[float(exact_form_loss(form, point, k)) for k in range(3)] for point in points])
    assert np.max(np.abs(got - exact)) < 1e-12


def test_an_exact_loss_replaces_every_symbol_at_once_so_nothing_cancels_before_the_point_is_in():
    # the sum's value went in first and sympy cancelled (M - 3/4)/(M - 3/4 + 0) to 1, though M = 3/4 at the
    # point: the loss, 0/0 everywhere, passed the domain check and was "proved" with C = nan
    from symtheory.analysis import analyse_expression
    from symtheory.errors import BadInput
    from symtheory.evaluate import exact_loss

    body = sp.Max(sp.Rational(3, 4), P - sp.Rational(1, 2)) - sp.Rational(3, 4)
    expr = body / (body + SumOther(body.subs(P, Q)))
    assert exact_loss(expr, (sp.Rational(1, 3),) * 3, 0) is sp.nan
    with pytest.raises(BadInput, match=r"at g = \(1/3, 1/3, 1/3\), k = 1 \(K = 3\): it is nan"):
        analyse_expression("(max(3/4, p - 1/2) - 3/4)/sum_all(max(3/4, q - 1/2) - 3/4)")
