"""The time limit on sympy work: it interrupts a busy block, nests, and is absent off the main thread."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from symtheory.time_limit import TimeLimitExceeded, time_limit


def _busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_busy_block_is_interrupted_even_if_it_catches_exception():
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match="gave up after 0.2 s"):
        with time_limit(0.2):
            try:
                _busy(10)
            except Exception:  # sympy catches Exception in places; the limit must get through
                pass
    assert time.monotonic() - started < 2
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_no_limit_and_quick_blocks_leave_no_timer():
    with time_limit(None):
        _busy(0.05)
    with time_limit(0):
        _busy(0.05)
    with time_limit(5):
        _busy(0.05)
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_nested_limits_restore_the_outer_one():
    handler = signal.getsignal(signal.SIGALRM)
    with time_limit(5):
        with pytest.raises(TimeLimitExceeded):
            with time_limit(0.1):
                _busy(10)
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 3 < left <= 5
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert signal.getsignal(signal.SIGALRM) is handler


def test_an_outer_limit_shorter_than_the_inner_one_still_holds():
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.2):
            with time_limit(30):
                _busy(10)
    assert time.monotonic() - started < 2


def test_off_the_main_thread_there_is_no_limit():
    outcome = []

    def work():
        with time_limit(0.05):
            _busy(0.3)
        outcome.append("finished")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert outcome == ["finished"]


def test_a_limit_knows_whether_it_ran_out_or_an_enclosing_one_did():
    with pytest.raises(TimeLimitExceeded) as outer_info:
        with time_limit(0.2) as outer:
            try:
                with time_limit(30) as inner:
                    _busy(10)
            except TimeLimitExceeded as exc:
                assert not inner.ran_out(exc)
                raise
    assert outer.ran_out(outer_info.value) or outer_info.value.limit is None
    with time_limit(30):
        try:
            with time_limit(0.1) as inner:
                _busy(10)
        except TimeLimitExceeded as exc:
            assert inner.ran_out(exc)


def test_a_limit_beyond_a_week_is_refused_and_leaves_no_handler():
    handler = signal.getsignal(signal.SIGALRM)
    with pytest.raises(ValueError, match="more than 604800 s"):
        with time_limit(1e10):
            pass
    assert signal.getsignal(signal.SIGALRM) is handler and signal.getitimer(signal.ITIMER_REAL)[0] == 0
