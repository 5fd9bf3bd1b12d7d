"""torch's intra-op CPU threads for this process (``--threads`` of train, grid, reproduce and paper-check).

torch runs each CPU op on one thread per core. When other processes hold those cores, the threads of one op
wait on each other at every barrier: on a 2-core machine with both cores busy, the MLP's train step ran 26
times slower on 2 threads than on 1, ResNet-18's 4 times (idle, 2 threads were 1.6 to 1.7 times faster;
``benchmarks/results/cpu_threads.txt``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from symtheory.errors import BadInput

THREADS_HELP = ("CPU threads of torch's ops (default: torch's, one per core); 1 is far faster while other work "
                "holds the cores (benchmarks/cpu_threads.py).")


def check_threads(threads: int | None) -> int | None:
    """``threads`` when it is None (torch's default, one per core) or at least 1; BadInput otherwise."""
    if threads is not None and threads < 1:
        raise BadInput(f"--threads must be at least 1, got {threads}")
    return threads


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count is ``threads`` (checked by :func:`check_threads`) within the block, and
    what it was after it; None leaves torch's as it is."""
    if check_threads(threads) is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
