"""Torch forms of the registry's differentiable losses, computed from the logits.

Each ``TORCH_LOSSES[name](logits [N, K], targets [N], **params) -> [N]`` is the per-sample loss L(g, k) of
:mod:`symtheory.registry` at g = softmax(logits), k = targets (the trainer takes the mean). Missing
parameters take the registry entry's defaults. Everything is written in log space from
log_softmax(logits): log g_k, and log(1 - g_k) = logsumexp_{j != k} z_j - logsumexp_j z_j, so values and
gradients stay finite at logits of +-1000. The computation runs in (at least) fp32 with autocast off,
whatever the autocast region around it. ``tests/test_torch_losses.py`` checks every entry against its
sympy form, values and gradients.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Mapping

import torch
from torch import Tensor

from symtheory.errors import BadInput
from symtheory.registry import get_loss

LossFn = Callable[..., Tensor]
TORCH_LOSSES: dict[str, LossFn] = {}


def upcast(logits: Tensor) -> Tensor:
    """Half-precision logits as fp32 (losses are computed and returned in fp32 under bf16 autocast)."""
    return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits


def _register(name: str) -> Callable[[LossFn], LossFn]:
    """Attach a loss to the registry entry ``name``: defaults filled in, unknown parameters refused, fp32."""
    spec = get_loss(name)
    values = spec.defaults()
    defaults = {p.name: (int(values[p.name]) if p.integer else float(values[p.name])) for p in spec.params}

    def wrap(raw: LossFn) -> LossFn:
        @functools.wraps(raw)
        def loss(logits: Tensor, targets: Tensor, **params: float) -> Tensor:
            for key in params:
                spec.param(key)
            with torch.autocast(device_type=logits.device.type, enabled=False):
                return raw(upcast(logits), targets, **{**defaults, **params})

        TORCH_LOSSES[spec.name] = loss
        return loss

    return wrap


def _pick(values: Tensor, targets: Tensor) -> Tensor:
    """values[n, targets[n]] for each n."""
    return values.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)


def _target_mask(values: Tensor, targets: Tensor) -> Tensor:
    """mask[n, j] = (j == targets[n]), built without a host sync."""
    return targets.unsqueeze(-1) == torch.arange(values.shape[-1], device=values.device)


def _sum_other(values: Tensor, targets: Tensor) -> Tensor:
    """sum_{j != targets[n]} values[n, j] for each n."""
    return values.masked_fill(_target_mask(values, targets), 0.0).sum(-1)


def log_one_minus_softmax(logits: Tensor) -> Tensor:
    """log(1 - g_s) for every class s: logsumexp over the other logits minus logsumexp over all. [N, K]."""
    k = logits.shape[-1]
    eye = torch.eye(k, dtype=torch.bool, device=logits.device)
    others = logits.unsqueeze(-2).expand(*logits.shape[:-1], k, k).masked_fill(eye, float("-inf"))
    return torch.logsumexp(others, dim=-1) - torch.logsumexp(logits, dim=-1, keepdim=True)


def _log_one_minus_target(logits: Tensor, targets: Tensor) -> Tensor:
    """log(1 - g_k) = logsumexp_{j != k} z_j - logsumexp_j z_j, for the target class only. [N]."""
    others = logits.masked_fill(_target_mask(logits, targets), float("-inf"))
    return torch.logsumexp(others, dim=-1) - torch.logsumexp(logits, dim=-1)


def _one_minus_target(logits: Tensor, targets: Tensor) -> Tensor:
    """1 - g_k, without the cancellation of 1 - softmax when g_k is close to 1."""
    return _log_one_minus_target(logits, targets).exp()


def _mse(logits: Tensor, targets: Tensor) -> Tensor:
    return _one_minus_target(logits, targets) ** 2 + _sum_other(torch.softmax(logits, dim=-1) ** 2, targets)


def _nce(logits: Tensor, targets: Tensor) -> Tensor:
    log_g = torch.log_softmax(logits, dim=-1)
    return _pick(log_g, targets) / log_g.sum(-1)


@_register("cce")
def cce(logits: Tensor, targets: Tensor) -> Tensor:
    """L = -log g_k (Patel & Sastry 2021, Sec. 2)."""
    return -_pick(torch.log_softmax(logits, dim=-1), targets)


@_register("mse")
def mse(logits: Tensor, targets: Tensor) -> Tensor:
    """L = sum_i (g_i - e^k_i)^2 = (1 - g_k)^2 + sum_{j != k} g_j^2 (Patel & Sastry 2021, Sec. 2)."""
    return _mse(logits, targets)


@_register("mae")
def mae(logits: Tensor, targets: Tensor) -> Tensor:
    """L = sum_i |g_i - e^k_i| = 2(1 - g_k) (Ghosh, Kumar & Sastry 2017)."""
    return 2 * _one_minus_target(logits, targets)


@_register("rll")
def rll(logits: Tensor, targets: Tensor, alpha: float) -> Tensor:
    """L = log((alpha+1)/alpha) - log(alpha + g_k) + sum_{j != k} log(alpha + g_j)/(K-1)
    (Kumar & Sastry 2018; Patel & Sastry 2021, Sec. 2)."""
    log_shifted = torch.log(alpha + torch.softmax(logits, dim=-1))
    others = _sum_other(log_shifted, targets) / (logits.shape[-1] - 1)
    return math.log((alpha + 1) / alpha) - _pick(log_shifted, targets) + others


@_register("nmse")
def nmse(logits: Tensor, targets: Tensor) -> Tensor:
    """L = MSE(g, k) / sum_s MSE(g, s) = MSE(g, k) / (K sum_i g_i^2 + K - 2) (Patel & Sastry 2021, Sec. 3)."""
    k = logits.shape[-1]
    square_sum = (torch.softmax(logits, dim=-1) ** 2).sum(-1)
    return _mse(logits, targets) / (k * square_sum + k - 2)


@_register("gce")
def gce(logits: Tensor, targets: Tensor, q: float) -> Tensor:
    """L = (1 - g_k^q)/q = -expm1(q log g_k)/q (Zhang & Sabuncu 2018)."""
    return -torch.expm1(q * _pick(torch.log_softmax(logits, dim=-1), targets)) / q


@_register("rce")
def rce(logits: Tensor, targets: Tensor, A: float) -> Tensor:
    """L = -sum_i g_i log e^k_i with log 0 := -A, i.e. A(1 - g_k) (Wang et al. 2019)."""
    return A * _one_minus_target(logits, targets)


@_register("sce")
def sce(logits: Tensor, targets: Tensor, alpha: float, beta: float, A: float) -> Tensor:
    """L = alpha CE + beta RCE = -alpha log g_k + beta A (1 - g_k) (Wang et al. 2019)."""
    log_g_k = _pick(torch.log_softmax(logits, dim=-1), targets)
    return -alpha * log_g_k + beta * A * _one_minus_target(logits, targets)


@_register("nce")
def nce(logits: Tensor, targets: Tensor) -> Tensor:
    """L = log g_k / sum_s log g_s (Ma et al. 2020)."""
    return _nce(logits, targets)


@_register("nfl")
def nfl(logits: Tensor, targets: Tensor, gamma: float) -> Tensor:
    """L = FL(g, k) / sum_s FL(g, s), FL(g, s) = -(1 - g_s)^gamma log g_s (Ma et al. 2020; Lin et al. 2017);
    (1 - g_s)^gamma = exp(gamma log(1 - g_s)) keeps the gradient finite as g_s -> 1 when gamma < 1."""
    focal = -torch.exp(gamma * log_one_minus_softmax(logits)) * torch.log_softmax(logits, dim=-1)
    return _pick(focal, targets) / focal.sum(-1)


@_register("nce+rce")
def nce_rce(logits: Tensor, targets: Tensor, alpha: float, beta: float, A: float) -> Tensor:
    """L = alpha NCE + beta RCE (Ma et al. 2020, active-passive losses)."""
    return alpha * _nce(logits, targets) + beta * A * _one_minus_target(logits, targets)


@_register("nce+mae")
def nce_mae(logits: Tensor, targets: Tensor, alpha: float, beta: float) -> Tensor:
    """L = alpha NCE + beta MAE = alpha NCE + 2 beta (1 - g_k) (Ma et al. 2020, active-passive losses)."""
    return alpha * _nce(logits, targets) + 2 * beta * _one_minus_target(logits, targets)


@_register("taylor-ce")
def taylor_ce(logits: Tensor, targets: Tensor, order: int) -> Tensor:
    """L = sum_{i=1..order} (1 - g_k)^i / i, the Taylor series of -log g_k around g_k = 1 (Feng et al. 2020)."""
    rest = _one_minus_target(logits, targets)
    return sum(rest**i / i for i in range(1, int(order) + 1))


def loss_fn(name: str, **params: object) -> Callable[[Tensor, Tensor], Tensor]:
    """The torch loss ``name`` with parameters checked against the registry's domains and bound.

    Values may be numbers or strings ("0.1", "1/10"); BadInput for an unknown loss, a loss with no torch
    form (e.g. zero-one), an unknown parameter or a value outside its domain (e.g. rll alpha <= 0).
    """
    spec = get_loss(name)
    if spec.name not in TORCH_LOSSES:
        differentiable = ", ".join(TORCH_LOSSES)
        raise BadInput(f"loss {spec.name!r} has no torch form (not differentiable); trainable: {differentiable}")
    bound: dict[str, float | int] = {}
    for key, raw in params.items():
        param = spec.param(key)
        value = param.value(raw)
        bound[key] = int(value) if param.integer else float(value)
    return functools.partial(TORCH_LOSSES[spec.name], **bound)


def expression_loss(text: str, params: Mapping[str, float]) -> Callable[[Tensor, Tensor], Tensor]:
    """A user's loss (``check-loss --expr`` grammar, every parameter in ``params``) as a torch loss: its sympy
    form compiled for the torch backend (:func:`symtheory.evaluate.compile_loss_matrix`) -- the symbolic
    and the trained loss are one definition -- evaluated at g = softmax(logits) in float64, with g clamped
    to [smallest normal float32, largest float64 below 1] so that log(p), 1/p, log(1 - p), 1/(1 - p) and
    sqrt(1 - p) stay finite (with zero gradient where the clamp holds, as a saturated loss has)."""
    from symtheory.evaluate import compile_loss_matrix, torch_backend
    from symtheory.user_loss import UserLoss

    from symtheory.empirical.config import TrainConfig

    user = TrainConfig(loss=UserLoss.name, loss_expr=text, loss_params=dict(params)).user_loss()
    compiled: dict[int, Callable[[Tensor], Tensor]] = {}

    def loss(logits: Tensor, targets: Tensor) -> Tensor:
        """L(softmax(logits), targets) per example."""
        k = logits.shape[-1]
        if k not in compiled:
            compiled[k] = compile_loss_matrix(user.form(k), k, torch_backend())
        with torch.autocast(device_type=logits.device.type, enabled=False):
            g = torch.softmax(logits.double(), dim=-1).clamp(torch.finfo(torch.float32).tiny, 1 - 2.0**-53)
            return _pick(compiled[k](g), targets).to(upcast(logits).dtype)

    return loss


def config_loss(loss: str, params: Mapping[str, float], expression: str | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """The torch loss of a run: the registry's ``loss`` with ``params``, or the user's ``expression``."""
    if expression is not None:
        return expression_loss(expression, params)
    return loss_fn(loss, **params)

