"""What a load worker sends its parent, and how: raw nanosecond arrays made into exact
histograms by the parent, through a socket the worker writes without blocking its loop."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from array import array
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, cast

import numpy as np
import uvloop
from hypothesis import given
from hypothesis import strategies as st

from perflab.load._config import LoadConfig, RequestSpec, parse_target
from perflab.load._hdr import HIGHEST_US, Histogram
from perflab.load._messages import Failed, Tick, WorkerEnd, count_codes, ns_array
from perflab.load._runner import LoadRunner
from perflab.load._totals import Totals
from perflab.load._worker import Uplink, recv_blocking, send_blocking


@given(st.lists(st.integers(min_value=-(10**6), max_value=(HIGHEST_US + 10**6) * 1000),
                max_size=300))
def test_nanoseconds_become_the_microseconds_the_engine_used_to_record(values_ns):
    """The parent's histogram of raw ns values is the histogram of ``value // 1000`` (what the
    worker recorded itself before): every count, min, max and sum the same."""
    from_ns = Histogram()
    from_ns.record_ns(array("q", values_ns))
    from_us = Histogram()
    from_us.record_many([v // 1000 for v in values_ns])
    assert from_ns.total == from_us.total == len(values_ns)
    assert np.array_equal(from_ns.counts, from_us.counts)
    assert from_ns.to_dict() == from_us.to_dict()  # total, sum, min, max and every count


def test_blocking_frames_are_multiprocessing_connection_frames():
    """The worker's first messages (before its loop runs) are read by the parent's Connection,
    and the parent's are read by the worker."""
    ours, theirs = socket.socketpair()
    parent = Connection(ours.detach())
    try:
        parent.send(("start", 123, 1.5))
        assert recv_blocking(theirs) == ("start", 123, 1.5)
        send_blocking(theirs, ("ready",))
        assert parent.recv() == ("ready",)
    finally:
        parent.close()
        theirs.close()


def test_a_second_larger_than_the_socket_buffer_reaches_the_parent_whole():
    """A tick of 2 M responses (48 MB of raw values, far beyond a socket's buffer) is written
    by the loop as the parent reads; nothing is lost or reordered, and the parent's stop
    reaches the worker as data on the same socket."""
    ours, theirs = socket.socketpair()
    parent = Connection(ours.detach())
    big = array("q", range(2_000_000))
    tick = Tick(big, None, big, {200: 2_000_000}, {"reset": 2}, 0, 50)
    got_stop = []

    async def worker_side() -> None:
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()

        def on_message(msg: object) -> None:
            got_stop.append(msg)
            stopped.set()

        _, uplink = await loop.connect_accepted_socket(lambda: Uplink(on_message), theirs)
        uplink.send(("tick", 1, tick))
        uplink.send(("done", "end"))
        await stopped.wait()  # the parent reads everything, then says stop
        await uplink.flush_and_close()

    def parent_side() -> list[object]:
        msgs = [parent.recv(), parent.recv()]
        parent.send(("stop",))
        return msgs

    def run_both() -> list[object]:
        loop = uvloop.new_event_loop()
        try:
            reader = loop.run_in_executor(None, parent_side)
            loop.run_until_complete(worker_side())
            return loop.run_until_complete(reader)
        finally:
            loop.close()

    # a thread of its own: under xdist this worker process ran other modules first, and a loop
    # one of them left marked as running on the main thread made this loop refuse to start
    with ThreadPoolExecutor(1) as pool:
        try:
            first, second = cast("tuple[Any, Any]", pool.submit(run_both).result(timeout=120))
        finally:
            parent.close()
            theirs.close()
    assert first[0:2] == ("tick", 1)
    assert first[2].latency_ns == big
    assert first[2].errors == {"reset": 2}
    assert second == ("done", "end")
    assert got_stop == [("stop",)]


def test_an_empty_tick_is_small():
    tick = Tick(ns_array(), None, ns_array(), {}, {}, 0, 0)
    assert tick.connect_ns == ns_array()
    assert tick.lateness_ns is None


def _modules_loaded_by(imports: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of ``prefixes`` that a fresh interpreter has loaded after
    running ``imports``."""
    code = (f"import sys, json\n{imports}\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def test_a_worker_imports_the_engine_only():
    """A worker process imports neither numpy (a third of its start-up, and a thread pool)
    nor the store, the collectors or the scenarios: the parent makes the histograms."""
    assert _modules_loaded_by("import perflab.load._worker", (
        "numpy", "perflab.store", "perflab.collect", "perflab.load._scenario",
        "perflab.load._run", "perflab.load._hdr")) == []


def test_a_worker_has_what_its_configuration_needs_before_it_comes():
    """Unpickling the test's configuration imports nothing more: the worker imported it while
    it waited (started early), not after the parent was ready."""
    loaded = _modules_loaded_by("import perflab.load._worker", ("perflab.load._config",))
    assert loaded == ["perflab.load._config"]


def test_the_parent_starts_a_test_before_importing_numpy():
    """`perflab load` imports numpy (a tenth of a second) once its workers run, not before:
    what it needs to check the input, store the run and start the workers does not use it.
    Nor xml.etree, which only --junit needs."""
    assert _modules_loaded_by(
        "import perflab.cli.load, perflab.load._run, perflab.load._runner\n"
        "from perflab.load import RunOptions, execute, LoadRecorder, LoadRunner",
        ("numpy", "xml.etree")) == []


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=300))
def test_packing_a_seconds_values_keeps_each_value(values):
    """``ns_array`` packs through ``struct`` (a third of ``array``'s cost per value): the same
    signed 64-bit values in the same order, whatever they are."""
    assert ns_array(values) == array("q", values)
    assert ns_array(values).tolist() == values


@given(st.lists(st.sampled_from([200, 200, 200, 204, 301, 404, 500, 503]), max_size=300))
def test_statuses_are_counted_as_a_counter_counts_them(codes):
    """One status in the second (the usual case) takes the short way; any mix is counted
    exactly as ``Counter`` counts it."""
    assert count_codes(codes) == dict(Counter(codes))


def test_a_second_of_one_status_is_one_count():
    assert count_codes([200] * 1000) == {200: 1000}
    assert count_codes([]) == {}


def test_the_parent_reads_each_message_by_its_type():
    """Worker to parent: a numbered ``Tick``, ``Failed`` (a scenario raised) and
    ``WorkerEnd`` are dataclasses the runner tells apart by type, not tuples by position."""

    class Pipe:
        def __init__(self, messages: list[object]) -> None:
            self.messages = messages

        def recv(self) -> object:
            return self.messages.pop(0)

    cfg = LoadConfig(target=parse_target("http://127.0.0.1:8080/"),
                     request=RequestSpec("GET", (), b""), connections=1, duration_s=1)
    runner, acc = LoadRunner(cfg), Totals(cfg, 0, 1)
    tick = Tick(ns_array([1000]), None, ns_array([500]), {200: 1}, {}, 0, 1, second=3)
    pipe: Any = Pipe([tick, Failed("boom"), WorkerEnd(5)])
    assert not runner._receive(0, pipe, acc)
    assert acc.pending == {3: [tick]}
    assert not runner._receive(0, pipe, acc)
    assert (runner.failure, runner.status) == ("boom", "failed")
    assert runner._receive(0, pipe, acc)  # its end: this worker is done
    assert acc.ends == [5]
