"""Ctrl-C held back while the demo writes a phase's event (it was rolled back half-written)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from perflab.demo._interrupts import interrupts_held


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_inside_the_block_waits_for_its_end_and_reaches_its_own_handler(sig):
    def as_interrupt(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, as_interrupt)  # as perflab demo takes SIGTERM
    written = []

    def write() -> None:
        with interrupts_held():
            os.kill(os.getpid(), sig)
            written.append("the whole event")  # runs: the signal is only noted

    try:
        with pytest.raises(KeyboardInterrupt):
            write()
        assert written == ["the whole event"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is as_interrupt
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_without_a_signal_nothing_is_raised_and_handlers_are_put_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with interrupts_held():
        pass
    assert {s: signal.getsignal(s) for s in before} == before


def test_outside_the_main_thread_the_block_just_runs():
    done = []

    def body():
        with interrupts_held():
            done.append(True)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert done == [True]
