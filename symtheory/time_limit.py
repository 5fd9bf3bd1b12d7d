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
MAX_TIME_LIMIT = 7 * 24 * 3600.0


class TimeLimitExceeded(BaseException):
    """A block ran past its time limit; ``limit`` is the one that ran out (an enclosing one, when it was
    shorter than the block's own)."""

    def __init__(self, message: str, limit: object | None = None):
        super().__init__(message)
        self.limit = limit



GIVE_UP = (TimeLimitExceeded, RecursionError, ArithmeticError, NotImplementedError)
"""What ends a proof attempt as 'unknown' rather than as an error: the time limit, sympy's recursion limit,
arithmetic that fails (exp(exp(exp(...))) overflowing when evaluated), and what sympy does not implement
(limits of some min/max expressions)."""

class Limit:
    """The handle ``with time_limit(s) as limit`` gives: ``limit.ran_out(exc)`` tells whether this limit,
    rather than an enclosing one, ended the block."""

    def ran_out(self, exc: TimeLimitExceeded) -> bool:
        return exc.limit is self


@contextmanager
def time_limit(seconds: float | None) -> Iterator[Limit]:
    """Raise TimeLimitExceeded inside the block once ``seconds`` have passed; None or 0 (or less): no limit.

    An enclosing limit keeps running: the block stops at whichever comes first, and the enclosing timer gets
    its remaining time back on exit. Longer than MAX_TIME_LIMIT is a ValueError.
    """
    limit = Limit()
    if not seconds or seconds < 0 or not _can_time():
        yield limit
        return
    if seconds > MAX_TIME_LIMIT:
        raise ValueError(f"a time limit of {seconds:g} s is more than {MAX_TIME_LIMIT:g} s")
    started = time.monotonic()
    outer_left = signal.getitimer(signal.ITIMER_REAL)[0]
    own = not outer_left or seconds <= outer_left

    def expire(signum, frame):
        raise TimeLimitExceeded(f"gave up after {seconds:g} s", limit if own else None)

    previous_handler = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds if own else outer_left)
        yield limit
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 1e-3))


def _can_time() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
