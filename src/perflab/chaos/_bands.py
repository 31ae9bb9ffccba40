"""Toxics on the timeline: each toxic the API adds becomes a ``chaos.fault`` band on a run, from
its addition to its removal (DELETE, ``/reset``, its ``duration``, or the proxy's end).

Called from the API's handlers and the expiry timer on the proxy's event loop, never per chunk:
the data path does not wait for the store. Each write opens the store briefly, so the recorder
works from whichever thread runs the loop (``perflab serve --chaos`` runs it beside the hub).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from perflab.errors import PerflabError
from perflab.store import CHAOS_FAULT_EVENT, Store, end_event

if TYPE_CHECKING:
    from pathlib import Path

    from perflab.chaos._toxics import Toxic

_log = logging.getLogger("perflab.chaos")


class FaultBands:
    """Where the bands go: ``run_id``, or a run of kind ``chaos`` made at the first toxic
    (``ensure_run`` makes it at once, as ``perflab chaos proxy`` does).

    ``follow_load``: each band also goes on every load run running in the store, so a load test
    started after the proxy (``perflab load``) shows the faults on its own timeline. A toxic
    present when such a run starts gets a band on it from the run's start: ``follow`` checks
    for new load runs every second in a thread of its own (the store is never read on the
    proxy's loop for it)."""

    def __init__(self, store_path: Path, run_id: int | None = None, *,
                 follow_load: bool = False) -> None:
        self.store_path = store_path
        self.run_id = run_id
        self.owns_run = False
        self.follow_load = follow_load
        # (proxy, toxic) -> the band's text and attrs, and its event ids (one per run)
        self._open: dict[tuple[str, str], tuple[str, dict[str, Any], list[int]]] = {}
        self._loads: set[int] = set()  # the load runs the open bands are on
        self._lock = threading.Lock()  # the follower thread and the API's handlers
        self._stopped = threading.Event()

    def ensure_run(self) -> int:
        """The run the bands go on; a new ``chaos`` run when none was given."""
        if self.run_id is None:
            with Store.open(self.store_path) as store:
                name = f"chaos-proxy-{time.strftime('%H%M%S')}"
                self.run_id = store.create_run("chaos", name, meta={"fault": "toxic"}).id
            self.owns_run = True
        return self.run_id

    def added(self, proxy: str, toxic: Toxic) -> None:
        run_id = self.ensure_run()
        attrs: dict[str, Any] = {"fault": "toxic", "proxy": proxy, "name": toxic.name,
                                 "type": toxic.type, "stream": toxic.stream,
                                 "toxicity": toxic.toxicity,
                                 "attributes": {**toxic.attributes, **toxic.texts}}
        if toxic.duration is not None:
            attrs["duration"] = toxic.duration
        text = f"toxic {toxic.type} {toxic.name} on {proxy}"
        with self._lock, Store.open(self.store_path) as store:
            if self.follow_load:
                self._new_loads(store)
            now = time.time_ns()
            self._open[proxy, toxic.name] = (text, attrs, [
                store.add_event(run, CHAOS_FAULT_EVENT, text, ts_ns=now, attrs=attrs)
                for run in [run_id, *sorted(self._loads)]])

    def removed(self, proxy: str, toxic: Toxic) -> None:
        with self._lock:
            band = self._open.pop((proxy, toxic.name), None)
            if band is not None:
                now = time.time_ns()
                with Store.open(self.store_path) as store:
                    for event_id in band[2]:
                        end_event(store, event_id, now)

    def changed(self, proxy: str, toxic: Toxic) -> None:
        """New parameters: the band with the old ones ends, one with the new ones starts."""
        self.removed(proxy, toxic)
        self.added(proxy, toxic)

    def _new_loads(self, store: Store) -> list[int]:
        """Follow the load runs running now; the open bands go on those new since the last
        look, from their start (the toxics were there when they began). Answers the new ones."""
        running = {r.id: r for r in store.runs(kind="load", since_ns=time.time_ns())
                   if r.status == "running"}
        new = sorted(set(running) - self._loads)
        for run_id in new:
            for text, attrs, event_ids in self._open.values():
                event_ids.append(store.add_event(run_id, CHAOS_FAULT_EVENT, text,
                                                 ts_ns=running[run_id].started_ns, attrs=attrs))
        self._loads = set(running)
        return new

    def poll(self) -> list[int]:
        """One look for new load runs (what ``follow``'s thread does every second)."""
        with self._lock, Store.open(self.store_path) as store:
            return self._new_loads(store)

    def follow(self, every_s: float = 1.0) -> None:
        """With ``follow_load``, look for new load runs every ``every_s`` until ``close``."""
        if not self.follow_load:
            return

        def loop() -> None:
            while not self._stopped.wait(every_s):
                try:
                    self.poll()
                except PerflabError as exc:  # a busy or damaged store: try again later
                    _log.warning("perflab chaos: following load runs: %s", exc.message)

        threading.Thread(target=loop, name="perflab-chaos-follow-load", daemon=True).start()

    def close(self) -> None:
        """The server stops: open bands end now; a run made here is finished."""
        self._stopped.set()
        now = time.time_ns()
        with self._lock:
            if not self._open and not self.owns_run:
                return
            with Store.open(self.store_path) as store:
                for _, _, event_ids in self._open.values():
                    for event_id in event_ids:
                        end_event(store, event_id, now)
                self._open.clear()
                if self.owns_run and self.run_id is not None:
                    store.finish_run(self.run_id, "ok", ended_ns=now)
