"""Seed streams of a run: every random choice of a run draws from its own stream of the run seed."""

from __future__ import annotations

import numpy as np

EPOCH_STREAM = 3
INIT_STREAM = 4


def stream_seed(seed: int, *stream: int) -> int:
    """A 63-bit seed for the sub-stream ``stream`` of ``seed`` (numpy SeedSequence mixing)."""
    words = np.random.SeedSequence([seed, *stream]).generate_state(2, np.uint32)
    return (int(words[0]) << 31 ^ int(words[1])) & (2**63 - 1)
