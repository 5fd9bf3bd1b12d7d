"""Holding Ctrl-C while a run records an epoch, so that no write is cut in half.

torch.save interrupted half-way turns the KeyboardInterrupt into a RuntimeError from its zip writer, a
metrics line cut short is lost, and an epoch whose metrics are written but whose checkpoint is not would be
named in the summary yet dropped on resume. With SIGINT held while an epoch's metrics and checkpoints are
written (milliseconds), Ctrl-C arrives just after, as a plain KeyboardInterrupt that the trainers turn into
an ``interrupted`` summary.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Run the block with SIGINT held; a SIGINT received meanwhile raises KeyboardInterrupt once the block has
    finished. Nothing is held off the main thread or where SIGINT has a handler other than Python's default
    (ignored, or installed by someone else), and nested blocks leave holding to the outermost one. If the block
    raises, its exception goes on and a held SIGINT is dropped."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt
