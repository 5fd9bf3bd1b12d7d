"""J1 and J2 (Patel & Sastry 2021, Sec. 2) from predictions, as pure functions.

J1 = (1/l) sum_i 1[h(X_i) = y~_i] (accuracy on the given, noisy labels: the usual training accuracy) and
J2 = (1/l) sum_i 1[h(X_i) = y_i] (accuracy on the clean labels). Also reported: accuracy on the examples
whose label was kept and on those whose label was flipped (against the clean label), and the share of
flipped examples predicted as their noisy label (memorized). Counting runs on the device over the last
dimension, so a stack of R runs' predictions [R, N] gives R rows at once; :func:`accuracies` turns counts
read once per epoch into numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor

COUNT_FIELDS = ("n", "n_flipped", "hit_noisy", "hit_clean", "hit_kept", "hit_flipped_clean", "hit_flipped_noisy")


def label_counts(pred: Tensor, clean: Tensor, noisy: Tensor) -> Tensor:
    """Counts [..., 7] in the order of COUNT_FIELDS (int64, on the device; no host sync)."""
    flipped = noisy != clean
    hit_noisy = pred == noisy
    hit_clean = pred == clean
    parts = (
        torch.ones_like(flipped), flipped, hit_noisy, hit_clean, hit_clean & ~flipped, hit_clean & flipped,
        hit_noisy & flipped,
    )
    return torch.stack([p.sum(-1) for p in parts], dim=-1)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def accuracies(counts: list[int] | tuple[int, ...]) -> dict[str, float | None]:
    """j1, j2, acc_kept (clean part), acc_flipped (flipped part, vs clean labels), memorized (flipped part,
    vs noisy labels); None where the part is empty (e.g. the flipped part at eta = 0)."""
    c = dict(zip(COUNT_FIELDS, (int(v) for v in counts)))
    kept = c["n"] - c["n_flipped"]
    return {
        "j1": _ratio(c["hit_noisy"], c["n"]),
        "j2": _ratio(c["hit_clean"], c["n"]),
        "acc_kept": _ratio(c["hit_kept"], kept),
        "acc_flipped": _ratio(c["hit_flipped_clean"], c["n_flipped"]),
        "memorized": _ratio(c["hit_flipped_noisy"], c["n_flipped"]),
    }


def hit_count(pred: Tensor, labels: Tensor) -> Tensor:
    """Number of correct predictions over the last dimension (on the device)."""
    return (pred == labels).sum(-1)
