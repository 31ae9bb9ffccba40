"""``perflab record --watch-goroutines URL --watch-threads PID``: goroutine counts by state and
thread counts by state as series on the recording's run, so a goroutine leak or a pile-up of
blocked threads shows on the timeline next to load and latency.

Series (one per state, created on first sight):

- ``go_goroutines{target=URL, state=...}``: from ``/debug/pprof/goroutine?debug=2`` (states as
  Go prints them: ``chan receive``, ``semacquire``, ``IO wait``, ...);
- ``process_threads{pid=PID, state=...}``: from ``/proc/PID/task/*/stat`` (``running``,
  ``sleeping``, ``disk``, ...), plus ``lock-wait`` from the debug agent's ``/locks`` when the
  process has the agent with lockwatch on.

A target that stops answering is a note (once per cause), not an end of the recording.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.errors import PerflabError

if TYPE_CHECKING:
    from perflab.store import Store

_STATES = {"R": "running", "S": "sleeping", "D": "disk", "T": "stopped", "t": "stopped",
           "Z": "zombie", "X": "dead", "I": "idle"}


def thread_states(pid: int, proc_root: str = "/proc") -> dict[str, int]:
    """Threads of ``pid`` by kernel state; ``NoSuchProcess`` when it is gone."""
    from perflab.errors import NoSuchProcess  # noqa: PLC0415

    task = Path(proc_root) / str(pid) / "task"
    try:
        tids = list(task.iterdir())
    except FileNotFoundError as exc:
        raise NoSuchProcess(pid) from exc
    out: dict[str, int] = {}
    for tid in tids:
        try:
            stat = (tid / "stat").read_bytes()
        except OSError:
            continue  # the thread ended between listdir and read
        state = stat[stat.rfind(b")") + 2:][:1].decode("ascii", "replace")
        name = _STATES.get(state, state or "?")
        out[name] = out.get(name, 0) + 1
    return out


@dataclass
class Watch:
    """Polls its targets every ``interval`` s in a thread with its own store connection."""

    store_path: str
    run_id: int
    goroutine_urls: tuple[str, ...] = ()
    thread_pids: tuple[int, ...] = ()
    interval: float = 5.0
    proc_root: str = "/proc"
    clock: Callable[[], int] = time.time_ns
    notes: list[str] = field(default_factory=list)
    polls: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def counts(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """One poll: (series name, labels) -> count."""
        out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for url in self.goroutine_urls:
            try:
                from perflab.debug._goroutines_group import state_counts  # noqa: PLC0415
                from perflab.debug._goroutines_report import load_goroutine_dump  # noqa: PLC0415

                states = state_counts(load_goroutine_dump(url, timeout=max(self.interval, 5)))
            except PerflabError as err:
                self._note(f"{url}: {err}")
                continue
            for state, n in states.items():
                out["go_goroutines", (("state", state), ("target", url))] = n
        for pid in self.thread_pids:
            try:
                states = thread_states(pid, self.proc_root)
            except PerflabError as err:
                self._note(str(err))
                continue
            waiting = self._lock_waits(pid)
            if waiting is not None:
                states["lock-wait"] = waiting
            for state, n in states.items():
                out["process_threads", (("pid", str(pid)), ("state", state))] = n
        return out

    def _lock_waits(self, pid: int) -> int | None:
        from perflab.debug._agent_client import agent_get, has_agent  # noqa: PLC0415

        if not has_agent(pid):
            return None
        try:
            locks = agent_get(pid, "/locks", timeout=max(self.interval, 5))
        except PerflabError as err:
            self._note(f"PID {pid}'s agent: {err}")
            return None
        return len(locks.get("waiting", [])) if locks.get("watching") else None

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def poll_once(self, store: Store) -> int:
        """Write one poll's counts on the run; the number of samples written."""
        now = self.clock()
        rows = []
        counts = self.counts()
        with store.transaction():
            for (name, labels), value in counts.items():
                sid = store.series_id(self.run_id, name, dict(labels), unit="")
                rows.append((sid, now, value))
            if rows:
                store.insert_samples(rows)
        self.polls += 1
        return len(rows)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="perflab-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.interval, 5) + 30)

    def _loop(self) -> None:
        from perflab.store import Store as StoreClass  # noqa: PLC0415

        try:
            store = StoreClass.open(self.store_path)
        except PerflabError as err:
            self._note(f"cannot open the store: {err}")
            return
        try:
            while True:
                try:
                    self.poll_once(store)
                except PerflabError as err:  # a full disk: the recorder reports it too
                    self._note(str(err))
                    return
                if self._stop.wait(self.interval):
                    return
        finally:
            store.close()
