"""A wall-clock limit on a block of sympy work, so that a hard expression gives up instead of hanging.

The limit is a SIGALRM timer, so it holds only on the main thread of a Unix process; elsewhere the block runs
without one. :class:`TimeLimitExceeded` derives from BaseException so that library code catching
``Exception`` (as parts of sympy do) cannot swallow it.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

DEFAULT_TIME_LIMIT = 30.0


class TimeLimitExceeded(BaseException):
    """The block ran past its time limit."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitExceeded inside the block once ``seconds`` have passed; None or 0 (or less): no limit.

    An enclosing limit keeps running: the block stops at whichever comes first, and the enclosing timer gets
    its remaining time back on exit.
    """
    if not seconds or seconds < 0 or not _can_time():
        yield
        return

    def expire(signum, frame):
        raise TimeLimitExceeded(f"gave up after {seconds:g} s")

    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, expire)
    outer_left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    if outer_left and outer_left < seconds:
        signal.setitimer(signal.ITIMER_REAL, outer_left)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 1e-3))


def _can_time() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
