"""Optimizer state of a fused group split into, and merged from, the R single runs' optimizer states.

SGD and Adam keep elementwise state per parameter (momentum buffer; exp_avg, exp_avg_sq) plus a step count
shared by all elements: state[i][key][r] is run r's state of parameter i, the step count is every run's.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor


def _per_run(value: Any, stacked_shape: torch.Size) -> bool:
    return isinstance(value, Tensor) and value.shape == stacked_shape


def split_optimizer_state(state: Mapping[str, Any], shapes: Sequence[torch.Size], r: int) -> dict[str, Any]:
    """Run r's optimizer ``state_dict`` from the fused one (``shapes``: the stacked parameters' shapes)."""
    per_param = {}
    for index, entry in state["state"].items():
        shape = shapes[int(index)]
        per_param[index] = {key: (value[r].clone() if _per_run(value, shape) else
                                  value.clone() if isinstance(value, Tensor) else value)
                            for key, value in entry.items()}
    return {"state": per_param, "param_groups": [dict(group) for group in state["param_groups"]]}


def merge_optimizer_states(states: Sequence[Mapping[str, Any]], shapes: Sequence[torch.Size]) -> dict[str, Any]:
    """The fused optimizer ``state_dict`` from the R runs' ones; ValueError unless they fit together
    (same parameters, same hyperparameters, same step counts)."""
    first = states[0]
    groups = first["param_groups"]
    for other in states[1:]:
        if other["param_groups"] != groups or set(other["state"]) != set(first["state"]):
            raise ValueError("the runs' optimizer states differ in hyperparameters or parameters")
    merged = {}
    for index, entry in first["state"].items():
        shape = shapes[int(index)]
        merged[index] = {}
        for key, value in entry.items():
            values = [s["state"][index][key] for s in states]
            if isinstance(value, Tensor) and torch.Size((len(states), *value.shape)) == shape:
                merged[index][key] = torch.stack(values)
            elif isinstance(value, Tensor):
                if any(not torch.equal(v, value) for v in values[1:]):
                    raise ValueError(f"the runs' optimizer states differ in {key!r} (not at the same step)")
                merged[index][key] = value.clone()
            else:
                if any(v != value for v in values[1:]):
                    raise ValueError(f"the runs' optimizer states differ in {key!r}")
                merged[index][key] = value
    return {"state": merged, "param_groups": [dict(group) for group in groups]}
