"""Toxics on the timeline: each toxic the API adds becomes a ``chaos.fault`` band on a run, from
its addition to its removal (DELETE, ``/reset``, its ``duration``, or the proxy's end).

Called from the API's handlers and the expiry timer on the proxy's event loop, never per chunk:
the data path does not wait for the store. Each write opens the store briefly, so the recorder
works from whichever thread runs the loop (``perflab serve --chaos`` runs it beside the hub).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from perflab.store import CHAOS_FAULT_EVENT, Store, end_event

if TYPE_CHECKING:
    from pathlib import Path

    from perflab.chaos._toxics import Toxic


class FaultBands:
    """Where the bands go: ``run_id``, or a run of kind ``chaos`` made at the first toxic
    (``ensure_run`` makes it at once, as ``perflab chaos proxy`` does)."""

    def __init__(self, store_path: Path, run_id: int | None = None) -> None:
        self.store_path = store_path
        self.run_id = run_id
        self.owns_run = False
        self._open: dict[tuple[str, str], int] = {}  # (proxy, toxic) -> the band's event id

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
        with Store.open(self.store_path) as store:
            self._open[proxy, toxic.name] = store.add_event(
                run_id, CHAOS_FAULT_EVENT, f"toxic {toxic.type} {toxic.name} on {proxy}",
                attrs=attrs)

    def removed(self, proxy: str, toxic: Toxic) -> None:
        event_id = self._open.pop((proxy, toxic.name), None)
        if event_id is not None:
            with Store.open(self.store_path) as store:
                end_event(store, event_id, time.time_ns())

    def changed(self, proxy: str, toxic: Toxic) -> None:
        """New parameters: the band with the old ones ends, one with the new ones starts."""
        self.removed(proxy, toxic)
        self.added(proxy, toxic)

    def close(self) -> None:
        """The server stops: open bands end now; a run made here is finished."""
        now = time.time_ns()
        if not self._open and not self.owns_run:
            return
        with Store.open(self.store_path) as store:
            for event_id in self._open.values():
                end_event(store, event_id, now)
            self._open.clear()
            if self.owns_run and self.run_id is not None:
                store.finish_run(self.run_id, "ok", ended_ns=now)
