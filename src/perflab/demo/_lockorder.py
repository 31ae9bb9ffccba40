"""lockwatch inside the demo: the service runs with ``PERFLAB_LOCKWATCH=1``, so its locks record
the order they are taken in; after the lock phase the service's agent answers ``/threads`` and
``/locks``, and the planted inversion (``_report_miss`` takes the report lock under the cache's,
``note_report`` the other way round) is stored on the demo's run as a ``stacks`` capture and a
``debug.lock-inversion`` event: found before it ever deadlocks."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from perflab.debug import agent_get, python_stacks_from_agent
from perflab.errors import PerflabError
from perflab.store import Store

if TYPE_CHECKING:
    from pathlib import Path


def check_lock_order(store_path: Path, run_id: int, pid: int, agent_dir: Path) -> str:
    """Ask the service's agent; store what it found on the run; one line for the summary."""
    try:
        threads = agent_get(pid, "/threads", directory=agent_dir, timeout=10)
        locks = agent_get(pid, "/locks", directory=agent_dir, timeout=10)
    except PerflabError as exc:
        return f"lockwatch: the service's agent did not answer ({exc})"
    report = python_stacks_from_agent(pid, threads, locks)
    doc = {"schema": "perflab.stacks/1", "run": run_id, **report.to_json()}
    now = time.time_ns()
    with Store.open(store_path) as store, store.transaction():
        store.add_artifact(run_id, "stacks", json.dumps(doc).encode(), name="stacks.json",
                           content_type="application/json", ts_ns=now)
        for inv in report.inversions:
            store.add_event(run_id, "debug.lock-inversion",
                            "lock-order inversion: " + " / ".join(inv["functions"]), ts_ns=now,
                            attrs=dict(inv))
    if not locks.get("watching"):
        return "lockwatch was off in the service: no lock order to check"
    if not report.inversions:
        return "lockwatch: no lock-order inversion in the service"
    inv = report.inversions[0]
    return (f"lockwatch: lock-order inversion between {' and '.join(inv['functions'])} "
            "(found before it ever deadlocked); see the Debug section")
