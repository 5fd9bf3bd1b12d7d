"""R networks of one architecture evaluated as one: logits[r] = f(x_r; theta_r, beta_r) for r = 1..R.

The R parameter sets theta_r and buffer sets beta_r (BatchNorm running statistics) are stacked along a new
leading dimension and the unchanged architecture is applied to every slice with ``torch.func.vmap`` over
``functional_call``. vmap's batching rules turn a conv with stacked weights into one grouped conv
(groups = R x groups), a BatchNorm into one BatchNorm over R x C channels (so batch statistics and the
in-place running-statistics update are exactly per run), and cat / pad / flatten into their per-slice
forms, so nothing couples the runs. Parameter i of :meth:`StackedNetwork.parameters` is the stack of
parameter i of the single network, so optimizer states map one to one.

Two layouts compute the same logits from the same stacked state: ``vmap`` (one grouped kernel per layer)
and ``loop`` (the single network applied to slice r for r = 1..R, R kernels per layer; under
``torch.compile`` one graph holding all R). Which is faster depends on the device and the network, so
``benchmarks/grid_speed.py`` measures both.
"""

from __future__ import annotations

import copy
from typing import Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

LAYOUTS = ("vmap", "loop")


class StackedNetwork(nn.Module):
    """R copies of one network as stacked parameters and buffers; ``forward`` maps x to logits [R, B, K]."""

    def __init__(self, models: list[nn.Module], layout: str = "vmap"):
        super().__init__()
        if not models:
            raise ValueError("StackedNetwork needs at least one network")
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; choices: {', '.join(LAYOUTS)}")
        self.layout = layout
        params, buffers = stack_module_state(models)
        self.replicas = len(models)
        self.param_names = list(params)
        self.buffer_names = list(buffers)
        self.state_names = list(models[0].state_dict())
        self.stacked = nn.ParameterList([nn.Parameter(params[name].detach().clone()) for name in self.param_names])
        for index, name in enumerate(self.buffer_names):
            self.register_buffer(f"stacked_buffer_{index}", buffers[name].clone())
        object.__setattr__(self, "template", copy.deepcopy(models[0]).to("meta"))

    def stacked_buffers(self) -> list[Tensor]:
        return [getattr(self, f"stacked_buffer_{i}") for i in range(len(self.buffer_names))]

    def train(self, mode: bool = True) -> "StackedNetwork":
        super().train(mode)
        self.template.train(mode)
        return self

    def forward(self, x: Tensor, batched: bool = True) -> Tensor:
        """Logits [R, B, K]: x is [R, B, C, H, W] (one batch per run) or, with batched=False, one batch
        [B, C, H, W] that every run sees."""
        params = dict(zip(self.param_names, self.stacked))
        buffers = dict(zip(self.buffer_names, self.stacked_buffers()))

        def one(p: dict[str, Tensor], b: dict[str, Tensor], xs: Tensor) -> Tensor:
            return functional_call(self.template, (p, b), (xs,))

        if self.layout == "vmap":
            return vmap(one, in_dims=(0, 0, 0 if batched else None), randomness="error")(params, buffers, x)
        # unbind: the gradients of the R slices come back as one stack (indexing p[r] would scatter each into
        # a zero tensor of the whole stack, R times); buffers are indexed, as BatchNorm updates them in place
        slices = {n: p.unbind(0) for n, p in params.items()}
        return torch.stack([one({n: s[r] for n, s in slices.items()}, {n: b[r] for n, b in buffers.items()},
                                x[r] if batched else x) for r in range(self.replicas)])

    def stack_input(self, batches: Tensor, channels_last: bool = False) -> Tensor:
        """Per-run batches [R, B, C, H, W] laid out in memory for this layout (see :func:`stack_batches`)."""
        return stack_batches(batches, channels_last, self.layout)

    def run_state_dict(self, r: int) -> dict[str, Tensor]:
        """Run r's weights in the single network's ``state_dict`` layout (copies)."""
        slices = {n: p.detach()[r] for n, p in zip(self.param_names, self.stacked)}
        slices.update({n: b[r] for n, b in zip(self.buffer_names, self.stacked_buffers())})
        return {name: slices[name].clone() for name in self.state_names}

    @torch.no_grad()
    def load_run_state_dict(self, r: int, state: Mapping[str, Tensor]) -> None:
        """Overwrite run r's weights with a single network's ``state_dict``; KeyError if names differ."""
        missing = set(self.state_names) - set(state)
        extra = set(state) - set(self.state_names)
        if missing or extra:
            raise KeyError(f"state dict does not fit the network (missing {sorted(missing)}, extra {sorted(extra)})")
        for n, p in zip(self.param_names, self.stacked):
            p[r].copy_(state[n])
        for n, b in zip(self.buffer_names, self.stacked_buffers()):
            b[r].copy_(state[n])


def stack_batches(batches: Tensor, channels_last: bool = False, layout: str = "vmap") -> Tensor:
    """[R, B, C, H, W] as given, or with channels_last laid out so that no conv input needs a copy: for
    ``vmap`` [B, H, W, R, C] in memory (the [B, R*C, H, W] view vmap's conv rule takes is channels_last),
    for ``loop`` [R, B, H, W, C] (every slice r is a channels_last batch)."""
    if not channels_last or batches.dim() != 5:
        return batches
    if layout == "loop":
        return batches.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    return batches.permute(1, 3, 4, 0, 2).contiguous().permute(3, 0, 4, 1, 2)
