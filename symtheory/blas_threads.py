"""Keep numpy's OpenBLAS to one thread inside our own worker threads (no nested thread pools).

The block loop of :mod:`symtheory.finite_risk` runs on its own threads; a multi-threaded BLAS inside each
of them oversubscribes the cores, which on a busy 2-core machine made one pass 10x slower. OpenBLAS
(>= 0.3.27, bundled with numpy's wheels) has a per-thread setting, ``openblas_set_num_threads_local``;
where it cannot be found (another BLAS), this is a no-op.
"""

from __future__ import annotations

import ctypes
import glob
import os
from contextlib import contextmanager
from functools import lru_cache
from typing import Callable, Iterator

import numpy as np


@lru_cache(maxsize=1)
def _local_setter() -> Callable[[int], int] | None:
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


@contextmanager
def single_threaded_blas() -> Iterator[bool]:
    """Within the block, BLAS calls made by this thread use one thread; yields whether that was possible."""
    setter = _local_setter()
    if setter is None:
        yield False
        return
    previous = setter(1)
    try:
        yield True
    finally:
        setter(previous)
