"""The torch losses against the registry's sympy forms: values and gradients, finiteness, parameter checks."""

from __future__ import annotations

import pytest
import torch

from symtheory.errors import BadInput
from symtheory.evaluate import compile_loss_matrix, torch_backend
from symtheory.registry import get_loss, loss_names

from symtheory.empirical.losses import TORCH_LOSSES, loss_fn

TOL = 1e-10
CLASS_COUNTS = (2, 3, 10)
OTHER_PARAMS: dict[str, list[dict[str, float]]] = {
    "rll": [{"alpha": 0.01}, {"alpha": 0.45}, {"alpha": 5.0}],
    "gce": [{"q": 0.3}, {"q": 1.0}],
    "sce": [{"alpha": 0.5, "beta": 2.0, "A": 6.0}],
    "rce": [{"A": 2.0}],
    "nfl": [{"gamma": 0.0}, {"gamma": 2.0}],
    "nce+rce": [{"alpha": 3.0, "beta": 0.5, "A": 2.0}],
    "nce+mae": [{"alpha": 0.5, "beta": 4.0}],
    "taylor-ce": [{"order": 1}, {"order": 5}],
}
CASES = [(name, params) for name in loss_names(differentiable_only=True) for params in [{}, *OTHER_PARAMS.get(name, [])]]


def _points(n_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    logits = 3.0 * torch.randn(12, n_classes, generator=gen, dtype=torch.float64)
    targets = torch.randint(0, n_classes, (12,), generator=gen)
    return logits, targets


def _value_and_grad(fn, logits: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = logits.clone().requires_grad_(True)
    value = fn(x)
    (grad,) = torch.autograd.grad((value * weights).sum(), x)
    return value.detach(), grad


def test_every_differentiable_loss_has_a_torch_form():
    missing = [n for n in loss_names(differentiable_only=True) if get_loss(n).torch_form() is None]
    assert missing == []
    assert sorted(TORCH_LOSSES) == sorted(loss_names(differentiable_only=True))


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}-{p}" if p else n for n, p in CASES])
def test_torch_loss_matches_sympy_form(name, params):
    spec = get_loss(name)
    torch_loss = spec.torch_form()
    assert torch_loss is not None, f"differentiable loss {name!r} has no torch form"
    form = spec.form(params, symbolic=False)
    for n_classes in CLASS_COUNTS:
        logits, targets = _points(n_classes, seed=n_classes)
        weights = torch.rand(len(targets), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        matrix = compile_loss_matrix(form, n_classes, torch_backend())

        def reference(x):
            m = matrix(torch.softmax(x, dim=-1))
            return m.gather(-1, targets.unsqueeze(-1)).squeeze(-1)

        value, grad = _value_and_grad(lambda x: torch_loss(x, targets, **params), logits, weights)
        ref_value, ref_grad = _value_and_grad(reference, logits, weights)
        assert value.dtype == torch.float64 and value.shape == targets.shape
        err_value = (value - ref_value).abs().max().item()
        err_grad = (grad - ref_grad).abs().max().item()
        assert err_value < TOL, f"{name} K={n_classes}: value differs by {err_value:.3g}"
        assert err_grad < TOL, f"{name} K={n_classes}: gradient differs by {err_grad:.3g}"


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}-{p}" if p else n for n, p in CASES])
def test_finite_at_extreme_logits(name, params):
    gen = torch.Generator().manual_seed(7)
    signs = torch.randint(0, 2, (16, 10), generator=gen).float() * 2 - 1
    signs[:, 0] = 1.0
    signs[:, 1] = -1.0
    logits = (1000.0 * signs).requires_grad_(True)
    targets = torch.tensor([0, 1] * 8)
    value = TORCH_LOSSES[name](logits, targets, **params)
    (grad,) = torch.autograd.grad(value.sum(), logits)
    assert torch.isfinite(value).all(), f"{name}: {value}"
    assert torch.isfinite(grad).all(), f"{name}: non-finite gradient"
    assert value.dtype == torch.float32


@pytest.mark.parametrize("name", loss_names(differentiable_only=True))
def test_fp32_under_bf16_autocast(name):
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(8, 10, generator=gen).bfloat16()
    targets = torch.randint(0, 10, (8,), generator=gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = TORCH_LOSSES[name](logits, targets)
    assert value.dtype == torch.float32
    expected = TORCH_LOSSES[name](logits.float(), targets)
    assert torch.equal(value, expected)


def test_loss_fn_binds_checked_parameters():
    logits, targets = _points(10, seed=0)
    bound = loss_fn("rll", alpha="0.45")(logits, targets)
    assert torch.equal(bound, TORCH_LOSSES["rll"](logits, targets, alpha=0.45))
    assert torch.equal(loss_fn("ce")(logits, targets), TORCH_LOSSES["cce"](logits, targets))
    assert torch.equal(loss_fn("taylor-ce", order=3)(logits, targets), TORCH_LOSSES["taylor-ce"](logits, targets, order=3))


@pytest.mark.parametrize(
    "name,params,message",
    [
        ("rll", {"alpha": 0}, "outside its domain"),
        ("rll", {"alpha": -0.1}, "outside its domain"),
        ("gce", {"q": 1.5}, "outside its domain"),
        ("taylor-ce", {"order": 1.5}, "must be an integer"),
        ("rll", {"beta": 1}, "has no parameter"),
        ("zero-one", {}, "no torch form"),
        ("hinge", {}, "unknown loss"),
    ],
)
def test_loss_fn_refuses_bad_input(name, params, message):
    with pytest.raises(BadInput, match=message):
        loss_fn(name, **params)


def test_direct_call_refuses_unknown_parameter():
    logits, targets = _points(3, seed=0)
    with pytest.raises(BadInput, match="has no parameter"):
        TORCH_LOSSES["cce"](logits, targets, alpha=0.1)


@pytest.mark.parametrize("text, params, name, registry_params", [
    ("log((a+1)/a) - log(a+p) + sum_other(log(a+q))/(K-1)", {"a": 0.1}, "rll", {"alpha": 0.1}),
    ("abs(1-p) + sum_other(abs(q))", {}, "mae", {}),
    ("-log(p)", {}, "cce", {}),
    ("log(p)/sum_all(log(q))", {}, "nce", {}),
])
def test_a_loss_expression_trains_as_the_registry_loss_it_writes(text, params, name, registry_params):
    from symtheory.empirical.losses import expression_loss

    fn = expression_loss(text, params)
    for n_classes in CLASS_COUNTS:
        logits, targets = _points(n_classes, seed=n_classes)
        weights = torch.rand(len(targets), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        value, grad = _value_and_grad(lambda x: fn(x, targets), logits, weights)
        ref_value, ref_grad = _value_and_grad(lambda x: TORCH_LOSSES[name](x, targets, **registry_params), logits,
                                              weights)
        assert value.dtype == torch.float64
        assert (value - ref_value).abs().max().item() < 1e-9 and (grad - ref_grad).abs().max().item() < 1e-9


def test_a_loss_expression_is_finite_at_extreme_logits_and_fp32_under_autocast():
    from symtheory.empirical.losses import expression_loss

    logits = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]], requires_grad=True)
    value = expression_loss("-log(p)", {})(logits, torch.tensor([1, 0]))
    (grad,) = torch.autograd.grad(value.sum(), logits)
    assert torch.isfinite(value).all() and torch.isfinite(grad).all() and value.dtype == torch.float32
    assert value[0].item() == pytest.approx(87.34, abs=0.01)
    for text in ("log(1-p)", "1/(1-p)", "sqrt(1-p)", "1/p", "min(p, 1/2)", "max(p, 1/3, 1/4)"):
        x = torch.tensor([[40.0, 0.0, 0.0], [0.0, 200.0, 0.0]], requires_grad=True)
        out = expression_loss(text, {})(x, torch.tensor([0, 0]))
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert torch.isfinite(out).all() and torch.isfinite(grad).all(), text
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert expression_loss("1 - p", {})(logits.detach().bfloat16(), torch.tensor([0, 1])).dtype == torch.float32
