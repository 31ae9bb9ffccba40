"""``perflab chaos monkey``: Chaos Monkey's random termination, with guards, bounded, recorded.

Every ``every_s`` it lists the processes ``--match`` selects (record's rule), and terminates
``kill`` of them chosen at random, but only while at least ``min_healthy`` would remain: with
3 replicas, ``--kill 1 --min-healthy 2`` kills one and then waits for a replacement. Each
termination, and each round skipped by the guard, is an instant event on the monkey's run
(kind ``chaos``), so the Run page shows when each replica went. It stops at ``until_s``, on
Ctrl-C or SIGTERM. Nothing is rolled back: a terminated process is the fault; bringing it back
is the job of what supervises it.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from perflab.chaos.faults._process_faults import send
from perflab.chaos.faults._session import set_handler
from perflab.chaos.faults._targets import Target, resolve_targets
from perflab.errors import InvalidValue, NoSuchProcess, TargetError
from perflab.store import Store

if TYPE_CHECKING:
    from perflab.chaos.faults._contracts import MonkeyDoc, MonkeyKill

EVENT_KIND = "chaos.monkey"


@dataclass(frozen=True)
class MonkeySpec:
    matches: tuple[str, ...]
    every_s: float
    until_s: float
    kill: int = 1
    min_healthy: int = 1
    signal: str = "KILL"
    seed: int | None = None


def _targets(matches: tuple[str, ...]) -> list[Target]:
    try:
        return resolve_targets((), matches, required=False)
    except TargetError:  # none match now: replicas may be restarting
        return []


def monkey(spec: MonkeySpec, store_path: Path, *, say: Any = None) -> MonkeyDoc:
    """Run the schedule; returns the run's id and what happened."""
    if not spec.matches:
        raise InvalidValue("the monkey needs --match TEXT", hint="e.g. --match my-service")
    if spec.kill < 1 or spec.min_healthy < 0:
        raise InvalidValue("--kill must be at least 1 and --min-healthy at least 0",
                           hint="e.g. --kill 1 --min-healthy 2")
    if spec.every_s <= 0 or spec.until_s <= 0:
        raise InvalidValue("--every and --until must be longer than zero",
                           hint="e.g. --every 5m --until 1h")
    try:
        sig = signal.Signals[f"SIG{spec.signal.upper().removeprefix('SIG')}"]
    except KeyError:
        raise InvalidValue(f"unknown signal {spec.signal!r}", hint="e.g. KILL, TERM") from None
    rng = random.Random(spec.seed)  # noqa: S311  # a schedule, not a secret
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        stop.set()

    with Store.open(store_path) as store:
        run = store.create_run("chaos", f"chaos-monkey-{time.strftime('%H%M%S')}", meta={
            "fault": "monkey", "matches": list(spec.matches), "every_s": spec.every_s,
            "until_s": spec.until_s, "kill": spec.kill, "min_healthy": spec.min_healthy,
            "signal": sig.name})
    previous = {s: set_handler(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    killed: list[MonkeyKill] = []
    skipped = 0
    end = time.monotonic() + spec.until_s
    try:
        while not stop.is_set() and time.monotonic() < end:
            alive = _targets(spec.matches)
            with Store.open(store_path) as store:
                if len(alive) - spec.kill < spec.min_healthy:
                    skipped += 1
                    store.add_event(run.id, EVENT_KIND, f"skipped: {len(alive)} healthy",
                                    attrs={"healthy": len(alive), "action": "skip"})
                else:
                    for t in rng.sample(alive, spec.kill):
                        try:
                            send(t, sig)
                        except NoSuchProcess:
                            continue
                        killed.append({"pid": t.pid, "name": t.name, "ts_ns": time.time_ns()})
                        store.add_event(run.id, EVENT_KIND, f"{sig.name} {t.label}",
                                        attrs={"pid": t.pid, "name": t.name, "action": "kill",
                                               "signal": sig.name, "healthy": len(alive)})
                        if say is not None:
                            say(f"{sig.name} {t.label} ({len(alive)} were running)")
            stop.wait(min(spec.every_s, max(end - time.monotonic(), 0)))
    finally:
        for s, handler in previous.items():
            set_handler(s, handler)
        with Store.open(store_path) as store:
            store.finish_run(run.id, "aborted" if stop.is_set() else "ok",
                             meta_update={"killed": len(killed), "skipped": skipped})
    doc: MonkeyDoc = {"schema": "perflab.chaos-monkey/1", "run_id": run.id, "killed": killed,
                      "skipped": skipped, "status": "aborted" if stop.is_set() else "ok"}
    return doc
