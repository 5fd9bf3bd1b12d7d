"""The per-run losses of a fused group: loss[r, b] = L_r(logits[r, b], y[r, b]), each run its own registry loss.

Runs sharing a loss and its parameters are evaluated in one call; the training objective is
sum_r mean_b loss[r, b], whose gradient with respect to run r's parameters is that of run r's own mean loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from symtheory.empirical.losses import config_loss, upcast


@dataclass(frozen=True)
class LossGroup:
    """The runs ``index`` (a device tensor) that share one bound loss."""

    fn: Callable[[Tensor, Tensor], Tensor]
    index: Tensor
    runs: tuple[int, ...]


class StackedLoss:
    """Per-run losses [R, B] from logits [R, B, K] and targets [R, B] (fp32, no host sync)."""

    def __init__(self, losses: Sequence[tuple], device: torch.device | str):
        """``losses[r]``: run r's (name, params) or (name, params, expression) -- see :func:`config_loss`."""
        keys: dict[tuple, list[int]] = {}
        for r, (name, params, *expression) in enumerate(losses):
            keys.setdefault((name, tuple(sorted(dict(params).items())), *expression[:1]), []).append(r)
        self.replicas = len(losses)
        self.groups = [
            LossGroup(config_loss(name, dict(params), *expression), torch.tensor(runs, device=device), tuple(runs))
            for (name, params, *expression), runs in keys.items()
        ]
        self.single = len(self.groups) == 1

    def __call__(self, logits: Tensor, targets: Tensor) -> Tensor:
        r, b, k = logits.shape
        if self.single:
            return self.groups[0].fn(logits.reshape(r * b, k), targets.reshape(r * b)).view(r, b)
        out = logits.new_empty((r, b), dtype=upcast(logits).dtype)
        for group in self.groups:
            g = len(group.runs)
            values = group.fn(logits.index_select(0, group.index).reshape(g * b, k),
                              targets.index_select(0, group.index).reshape(g * b))
            out = out.index_copy(0, group.index, values.view(g, b).to(out.dtype))
        return out
