"""A worker process: one uvloop, one ``Engine``, figures sent to the parent once a second.

Messages to the parent: ``("ready",)``, ``("tick", second, Tick)``, ``("done", WorkerEnd)``,
``("failed", text)`` (a scenario could not be loaded or raised). From the parent:
``("start", start_ns, duration_s)`` then, at any time, ``("stop",)``. Workers ignore SIGINT:
the parent catches Ctrl-C and stops them, so what they measured still reaches the summary.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

import uvloop

from perflab.load._engine import Engine

if TYPE_CHECKING:
    from perflab.load._config import LoadConfig


def worker_main(pipe: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cfg, index, nworkers = pipe.recv()
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve(pipe, cfg, index, nworkers))
    finally:
        loop.close()
        pipe.close()


def make_engine(cfg: LoadConfig, index: int, nworkers: int) -> Engine:
    if cfg.scenario_file:
        from perflab.load._scenario_engine import ScenarioEngine  # noqa: PLC0415  # optional

        return ScenarioEngine(cfg, index, nworkers)
    return Engine(cfg, index, nworkers)


async def _serve(pipe: Connection, cfg: LoadConfig, index: int, nworkers: int) -> None:
    loop = asyncio.get_running_loop()
    try:
        engine = make_engine(cfg, index, nworkers)
    except Exception as exc:  # a scenario that fails to load: the parent shows its traceback
        pipe.send(("failed", getattr(exc, "user_traceback", None) or repr(exc)))
        return
    pipe.send(("ready",))
    msg = pipe.recv()
    if msg[0] != "start":
        return
    _, start_ns, duration_s = msg

    def on_parent() -> None:
        try:
            m = pipe.recv()
        except EOFError:  # the parent died: stop, nobody is listening
            m = ("stop",)
        if m[0] == "stop":
            loop.remove_reader(pipe.fileno())
            engine.stop()

    loop.add_reader(pipe.fileno(), on_parent)
    second = 1

    def tick() -> None:
        nonlocal second
        pipe.send(("tick", second, engine.take()))
        second += 1
        handle_holder[0] = loop.call_later(
            max(0.0, (start_ns + second * 1_000_000_000 - time.monotonic_ns()) / 1e9), tick)

    handle_holder = [loop.call_later(max(0.0, (start_ns + 1_000_000_000 - time.monotonic_ns())
                                         / 1e9), tick)]
    try:
        await engine.run(start_ns, duration_s)
    finally:
        handle_holder[0].cancel()
        # nothing may be left pending when the loop closes (asyncio would warn the user)
        await engine.cancel_tasks()
        failure = getattr(engine, "failure", None)
        pipe.send(("tick", second, engine.take()))
        if failure:
            pipe.send(("failed", failure))
        end = engine.end()
        # ru_maxrss is in KiB on Linux: the peak memory of this worker (bounded, by design)
        end.max_rss_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        pipe.send(("done", end))

if __name__ == "__main__":
    import sys

    worker_main(Connection(int(sys.argv[1])))
