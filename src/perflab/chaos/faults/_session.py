"""One fault from the controller's side: journal, watchdog, event band, and the rollback.

    with FaultSession.begin(store_path, kind, text, params, run_id=None) as fault:
        fault.journal.add({...undo step...})   # before each change
        ... make the change ...
        fault.hold(duration_s)                 # until expiry, Ctrl-C or SIGTERM

Leaving the block rolls back whatever happened: expiry (status ``ok``), Ctrl-C or SIGTERM
(``aborted``; the caller exits 130), an error (``failed``). When the controller is killed
(``kill -9``) the watchdog, armed before the first change, does the same.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

from perflab.chaos.faults._journal import Journal, UndoStep, journal_dir, new_fault_id
from perflab.chaos.faults._undo import GROUP_GRACE_S, start_ticks, undo_all
from perflab.chaos.faults._watchdog import start_watchdog
from perflab.store import CHAOS_FAULT_EVENT, Store

EVENT_KIND = CHAOS_FAULT_EVENT


@dataclass
class FaultSession:
    """A fault in progress. ``interrupted``: Ctrl-C or SIGTERM ended it before its time."""

    journal: Journal
    store_path: Path
    run_id: int
    event_id: int
    started_ns: int
    watchdog_pid: int
    interrupted: bool = False
    problems: list[str] = field(default_factory=list)
    ended_ns: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _previous_term: Any = None
    _previous_int: Any = None

    @classmethod
    def begin(cls, store_path: Path, kind: str, text: str, params: dict[str, Any], *,
              run_id: int | None = None, fault_id: str | None = None) -> FaultSession:
        """Open the fault's band on ``run_id`` (or on a new run of kind ``chaos``), write its
        journal and arm its watchdog. Nothing is changed on the system yet."""
        fid = fault_id or new_fault_id()
        started = time.time_ns()
        with Store.open(store_path) as store:
            owned = run_id is None
            if run_id is None:
                run_id = store.create_run("chaos", f"chaos-{kind}-{time.strftime('%H%M%S')}",
                                          meta={"fault": kind, "fault_id": fid, **params}).id
            else:
                store.run(run_id)  # NotFound for a wrong --run, before anything changes
            # the band spans the planned time from the start, so a live Run page shows it;
            # the rollback sets its real end (early on Ctrl-C, or by the watchdog)
            duration_s = float(params.get("duration_s") or 0)
            planned = started + round(duration_s * 1e9) if duration_s > 0 else None
            event_id = store.add_event(run_id, EVENT_KIND, text, ts_ns=started, end_ns=planned,
                                       attrs={"fault": kind, "fault_id": fid, **params})
        journal, watchdog = _watched_band(store_path, fid, kind, run_id, event_id,
                                          run_owned=owned)
        return cls(journal, store_path, run_id, event_id, started, watchdog)

    def hold(self, duration_s: float) -> None:
        """Keep the fault until ``duration_s`` passed, or Ctrl-C / SIGTERM (``interrupted``)."""
        try:
            self._stop.wait(duration_s)
        except KeyboardInterrupt:
            self.interrupted = True

    def end(self) -> None:
        """End ``hold`` early (another thread: a hog that died, a monkey's schedule)."""
        self._stop.set()

    def __enter__(self) -> Self:
        # SIGTERM as Ctrl-C from now on, while the fault is being applied too; SIGINT too,
        # explicitly: a controller started in the background by a shell script inherits
        # SIGINT ignored, and a `kill -INT` must still end the fault, not leave it in place
        self._previous_term = set_handler(signal.SIGTERM, _raise_interrupt)
        self._previous_int = set_handler(signal.SIGINT, _raise_interrupt)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        set_handler(signal.SIGTERM, self._previous_term)
        set_handler(signal.SIGINT, self._previous_int)
        if isinstance(exc, KeyboardInterrupt):
            self.interrupted = True
        status = "failed" if exc is not None and not self.interrupted else (
            "aborted" if self.interrupted else "ok")
        # a second Ctrl-C must not cut the rollback short: SIGINT waits until it is done
        previous = set_handler(signal.SIGINT, signal.SIG_IGN)
        try:
            self.problems = undo_all(self.journal, status=status)
        finally:
            set_handler(signal.SIGINT, previous)
        self.ended_ns = time.time_ns()
        # an interruption is an outcome, reported by the caller (exit 130), not an error
        return isinstance(exc, KeyboardInterrupt)


def _watched_band(store_path: Path, fault_id: str, kind: str, run_id: int, event_id: int, *,
                  run_owned: bool) -> tuple[Journal, int]:
    """The journal of a fault whose first undo step ends its band, and its armed watchdog."""
    journal = _journal(store_path, fault_id, kind)
    journal.add(_end_band(store_path, run_id, run_owned=run_owned, event_id=event_id))
    return journal, start_watchdog(journal.path)


def _journal(store_path: Path, fault_id: str, kind: str) -> Journal:
    me = os.getpid()
    return Journal(journal_dir(store_path) / f"{fault_id}.json", fault_id, kind,
                   {"pid": me, "start_ticks": start_ticks(me)})


def _end_band(store_path: Path, run_id: int, *, run_owned: bool, **band: int | str) -> UndoStep:
    """The step that ends a band: ``event_id=``, or ``kind=`` and ``ts_ns=`` for one journaled
    before it was written."""
    return {"op": "end_event", "store": str(store_path), "run_id": run_id, **band,
            "run_owned": run_owned}


@dataclass
class BandWatch:
    """The band of a fault that lives in a program this process started (``perflab run
    --clock-skew``: the skew lives and dies with the child), watched: when this process dies
    without ending it (``kill -9``, a crash), the watchdog ends the program's process group
    (the fault ends with its controller, as a Chaos Toolkit rollback would end it) and the
    band, at the moment it saw the death.

    ``arm`` before the store is opened (the watchdog is a fork, and a fork must not copy an
    open SQLite connection), ``process_group`` once the program runs, ``band`` before it is
    written, ``disarm`` after ending it."""

    journal: Journal
    store_path: Path
    watchdog_pid: int

    @classmethod
    def arm(cls, store_path: Path, kind: str) -> BandWatch:
        journal = _journal(store_path, new_fault_id(), kind)
        journal.write()
        return cls(journal, store_path, start_watchdog(journal.path))

    def process_group(self, pid: int) -> None:
        """The program's process group (``pid`` leads it), ended should this process die."""
        self.journal.add({"op": "end_group", "pid": pid, "start_ticks": start_ticks(pid),
                          "grace_s": GROUP_GRACE_S})

    def band(self, run_id: int, kind: str, ts_ns: int) -> None:
        """The band of ``kind`` that starts at ``ts_ns`` in ``run_id``, journaled before it is
        written: a death between the two leaves nothing open (ending a band not yet written
        does nothing)."""
        # first in the journal, so undone last (as a FaultSession's): the band ends once the
        # program has
        self.journal.undo.insert(0, _end_band(self.store_path, run_id, run_owned=False,
                                              kind=kind, ts_ns=ts_ns))
        self.journal.write()

    def disarm(self) -> None:
        self.journal.remove()


def set_handler(sig: signal.Signals, handler: Any) -> Any:
    """``signal.signal`` in the main thread; elsewhere (a fault injected by an experiment's
    background activity) signals are the main thread's business: nothing, None returned."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(sig, handler)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    raise KeyboardInterrupt
