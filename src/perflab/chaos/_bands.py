"""Toxics on the timeline: each toxic the API adds becomes a ``chaos.fault`` band on a run, from
its addition to its removal (DELETE, ``/reset``, its ``duration``, or the proxy's end).

The data path never waits for the store: the proxies' loop only notes the moment and hands the
write to one writer thread, which owns the one store connection of the bands (opened once: a
``Store.open`` checks the small tables, tens of milliseconds on a large store, which used to
stall every connection at each toxic change). The API waits for the writes of its own request
(``flushed``) on its own loop, so a client that reads the store after its answer finds the band.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from perflab.errors import PerflabError
from perflab.store import CHAOS_FAULT_EVENT, Store, end_event

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from perflab.chaos._toxics import Toxic

_log = logging.getLogger("perflab.chaos")
_T = TypeVar("_T")
_Job = tuple["Callable[[Store], Any]", "Future[Any]"]
_STOP = None  # the writer's last job


class FaultBands:
    """Where the bands go: ``run_id``, or a run of kind ``chaos`` made at the first toxic
    (``ensure_run`` makes it at once, as ``perflab chaos proxy`` does).

    ``follow_load``: each band also goes on every load run running in the store, so a load test
    started after the proxy (``perflab load``) shows the faults on its own timeline. A toxic
    present when such a run starts gets a band on it from the run's start: after ``follow``,
    the writer thread looks for new load runs every second (never the proxies' loop).

    ``added``, ``removed`` and ``changed`` return at once (the proxies' loop calls them);
    everything that touches the store runs in the writer thread, in the order asked."""

    def __init__(self, store_path: Path, run_id: int | None = None, *,
                 follow_load: bool = False) -> None:
        self.store_path = store_path
        self.run_id = run_id
        self.owns_run = False
        self.follow_load = follow_load
        # writer thread only: its store, (proxy, toxic) -> the band's text, attrs and event ids
        # (one per run), and the load runs the open bands are on
        self._store: Store | None = None
        self._open: dict[tuple[str, str], tuple[str, dict[str, Any], list[int]]] = {}
        self._loads: set[int] = set()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._follow_every: float | None = None

    # -- asked from any thread --------------------------------------------------------------------

    def ensure_run(self) -> int:
        """The run the bands go on; a new ``chaos`` run when none was given (waits for it)."""
        return self._submit(self._ensure_run).result()

    def added(self, proxy: str, toxic: Toxic) -> None:
        now = time.time_ns()
        attrs: dict[str, Any] = {"fault": "toxic", "proxy": proxy, "name": toxic.name,
                                 "type": toxic.type, "stream": toxic.stream,
                                 "toxicity": toxic.toxicity,
                                 "attributes": {**toxic.attributes, **toxic.texts}}
        if toxic.duration is not None:
            attrs["duration"] = toxic.duration
        text = f"toxic {toxic.type} {toxic.name} on {proxy}"
        self._later(lambda store: self._add(store, (proxy, toxic.name), text, attrs, now))

    def removed(self, proxy: str, toxic: Toxic) -> None:
        now = time.time_ns()
        self._later(lambda store: self._end(store, (proxy, toxic.name), now))

    def changed(self, proxy: str, toxic: Toxic) -> None:
        """New parameters: the band with the old ones ends, one with the new ones starts."""
        self.removed(proxy, toxic)
        self.added(proxy, toxic)

    def flushed(self) -> Future[None]:
        """Done when every write asked before it is done (the API awaits it)."""
        with self._thread_lock:
            if self._thread is None:  # nothing was asked
                done: Future[None] = Future()
                done.set_result(None)
                return done
        return self._submit(_nothing)

    def poll(self) -> list[int]:
        """One look for new load runs (what the writer does every second after ``follow``)."""
        return self._submit(self._new_loads).result()

    def follow(self, every_s: float = 1.0) -> None:
        """With ``follow_load``, look for new load runs every ``every_s`` until ``close``."""
        if self.follow_load:
            self._follow_every = every_s
            self._submit(_nothing)  # starts or wakes the writer, which now looks on time

    def close(self) -> None:
        """The server stops: open bands end now; a run made here is finished."""
        now = time.time_ns()
        with self._thread_lock:
            thread = self._thread
        if thread is None:
            return  # no toxic, no run: nothing to write
        self._submit(lambda store: self._close(store, now)).exception()
        self._jobs.put(_STOP)
        thread.join()
        with self._thread_lock:
            self._thread = None

    # -- the writer thread ------------------------------------------------------------------------

    def _submit(self, job: Callable[[Store], _T]) -> Future[_T]:
        done: Future[_T] = Future()
        with self._thread_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, daemon=True,
                                                name="perflab-chaos-bands")
                self._thread.start()
        self._jobs.put((job, done))
        return done

    def _later(self, job: Callable[[Store], object]) -> None:
        """A write nobody waits for: a failure is a log line (the proxy goes on)."""
        self._submit(job).add_done_callback(_log_failure)

    def _write(self) -> None:
        next_look = time.monotonic()
        try:
            while True:
                every = self._follow_every
                wait = None if every is None else max(0.0, next_look - time.monotonic())
                try:
                    item = self._jobs.get(timeout=wait)
                except queue.Empty:
                    item = (self._new_loads, Future())
                    item[1].add_done_callback(_log_failure)
                    next_look = time.monotonic() + (every or 1.0)
                if item is _STOP:
                    return
                job, done = item
                if done.set_running_or_notify_cancel():
                    try:
                        done.set_result(None if job is _nothing else job(self._connected()))
                    except Exception as exc:  # the asker gets it
                        done.set_exception(exc)
        finally:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _connected(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.store_path)
        return self._store

    def _ensure_run(self, store: Store) -> int:
        if self.run_id is None:
            name = f"chaos-proxy-{time.strftime('%H%M%S')}"
            self.run_id = store.create_run("chaos", name, meta={"fault": "toxic"}).id
            self.owns_run = True
        return self.run_id

    def _add(self, store: Store, key: tuple[str, str], text: str, attrs: dict[str, Any],
             now: int) -> None:
        run_id = self._ensure_run(store)
        if self.follow_load:
            self._new_loads(store)
        with store.transaction():
            self._open[key] = (text, attrs, [
                store.add_event(run, CHAOS_FAULT_EVENT, text, ts_ns=now, attrs=attrs)
                for run in [run_id, *sorted(self._loads)]])

    def _end(self, store: Store, key: tuple[str, str], now: int) -> None:
        band = self._open.pop(key, None)
        if band is not None:
            with store.transaction():
                for event_id in band[2]:
                    end_event(store, event_id, now)

    def _new_loads(self, store: Store) -> list[int]:
        """Follow the load runs running now; the open bands go on those new since the last
        look, from their start (the toxics were there when they began). Answers the new ones."""
        running = {r.id: r for r in store.runs(kind="load", since_ns=time.time_ns())
                   if r.status == "running"}
        new = sorted(set(running) - self._loads)
        with store.transaction():
            for run_id in new:
                for text, attrs, event_ids in self._open.values():
                    event_ids.append(store.add_event(run_id, CHAOS_FAULT_EVENT, text,
                                                     ts_ns=running[run_id].started_ns,
                                                     attrs=attrs))
        self._loads = set(running)
        return new

    def _close(self, store: Store, now: int) -> None:
        with store.transaction():
            for _, _, event_ids in self._open.values():
                for event_id in event_ids:
                    end_event(store, event_id, now)
            self._open.clear()
            if self.owns_run and self.run_id is not None:
                store.finish_run(self.run_id, "ok", ended_ns=now)


def _nothing(_store: Store) -> None:
    """The job of ``flushed``: it needs no store."""


def _log_failure(done: Future[Any]) -> None:
    exc = done.exception()
    if isinstance(exc, PerflabError):  # a busy, full or damaged store: the proxy goes on
        _log.warning("perflab chaos: a fault band was not recorded: %s", exc.message)
    elif exc is not None:
        _log.error("perflab chaos: a fault band was not recorded", exc_info=exc)
