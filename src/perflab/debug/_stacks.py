"""``perflab stacks PID``: every Python thread's stack, the threads waiting on locks, the wait-for
graph and a deadlock cycle when there is one.

Two sources, the better one first:

- **the debug agent** with lockwatch on (``/threads`` and ``/locks``): it knows which thread holds
  which lock and which lock each thread waits for, so a cycle in the wait-for graph is a deadlock
  for certain, reported with every member's stack; and it reports lock-order inversions;
- **py-spy dump** (any Python process, no agent): stacks (and locals with ``--locals``); a thread
  that is idle on a line that takes a lock (``with lock:``, ``.acquire(``) is marked as waiting,
  but who holds the lock is unknown, so the graph has no edges and no cycle is claimed.
"""

from __future__ import annotations

import json
import linecache
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.errors import AccessDenied, NoSuchProcess, TargetError, ToolMissing

if TYPE_CHECKING:
    from perflab.debug._contracts import (
        LockInversionDoc,
        LongHoldDoc,
        PyFrameDoc,
        PyThreadDoc,
        StacksBody,
        StacksSource,
    )

_INTERNAL = ("/perflab/debug/_lockwatch.py", "/threading.py")
_LOCK_CALLS = ("acquire", "__enter__", "_acquire_restore")


@dataclass(slots=True)
class PyFrame:
    function: str
    file: str
    line: int
    locals: dict[str, str] | None = None

    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def to_json(self) -> PyFrameDoc:
        out: PyFrameDoc = {"function": self.function, "file": self.file, "line": self.line}
        if self.locals is not None:
            out["locals"] = self.locals
        return out


@dataclass(slots=True)
class PyThread:
    ident: int
    name: str
    frames: list[PyFrame]             # innermost first, the agent's and threading's frames left out
    active: bool | None = None        # py-spy: on CPU or not; None from the agent
    waits_for: str | None = None      # a lock (agent: its name) or "a lock (from the source)"
    holds: list[str] = field(default_factory=list)

    @property
    def function(self) -> str:
        return self.frames[0].function if self.frames else "?"

    def to_json(self) -> PyThreadDoc:
        return {"thread": self.ident, "name": self.name, "active": self.active,
                "waits_for": self.waits_for, "holds": self.holds,
                "function": self.function, "frames": [f.to_json() for f in self.frames]}


@dataclass(slots=True)
class StacksReport:
    pid: int
    source: StacksSource
    threads: list[PyThread]
    edges: list[tuple[int, int, str]] = field(default_factory=list)  # waiter, holder, lock
    cycles: list[list[int]] = field(default_factory=list)
    inversions: list[LockInversionDoc] = field(default_factory=list)  # lockwatch's, as is
    long_holds: list[LongHoldDoc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.cycles or self.inversions)

    def to_json(self) -> StacksBody:
        by_id = {t.ident: t for t in self.threads}
        return {
            "pid": self.pid, "source": self.source,
            "threads": [t.to_json() for t in self.threads],
            "wait_for": [{"waiter": w, "holder": h, "lock": lk} for w, h, lk in self.edges],
            "deadlocks": [{"confidence": "certain", "threads": cycle,
                           "functions": [by_id[t].function for t in cycle]}
                          for cycle in self.cycles],
            "inversions": self.inversions, "long_holds": self.long_holds,
            "notes": self.notes, "found": self.found,
        }


def python_stacks(pid: int, *, with_locals: bool = False) -> StacksReport:
    """The threads of Python process ``pid``: from its agent when it has one (and --locals is
    not asked for), else from py-spy."""
    from perflab.debug._agent_client import agent_get, has_agent  # noqa: PLC0415

    if not Path(f"/proc/{pid}").exists():
        raise NoSuchProcess(pid)
    if has_agent(pid) and not with_locals:
        try:
            threads = agent_get(pid, "/threads")
            locks = agent_get(pid, "/locks")
        except TargetError as err:
            report = _from_py_spy(pid, with_locals=with_locals)
            report.notes.append(f"the agent did not answer ({err}); stacks from py-spy")
            return report
        return python_stacks_from_agent(pid, threads, locks)
    report = _from_py_spy(pid, with_locals=with_locals)
    report.notes.append("who holds each lock is unknown without the agent: start the program "
                        "with PERFLAB_DEBUG=1 PERFLAB_LOCKWATCH=1 (or perflab.debug.lockwatch())")
    return report


def python_stacks_from_agent(pid: int, threads: list[dict[str, Any]],
                             locks: dict[str, Any]) -> StacksReport:
    """The report from the agent's ``/threads`` and ``/locks`` answers."""
    names = {h["serial"]: h["lock"] for h in locks.get("held", [])}
    for w in locks.get("waiting", []):
        names.setdefault(w["serial"], w["lock"])
    owner = {h["serial"]: h["thread"] for h in locks.get("held", [])}
    out = []
    for t in threads:
        frames = [PyFrame(f["function"], f["file"], f["line"]) for f in t["stack"]
                  if not f["file"].endswith(_INTERNAL)]
        waits = t.get("waits_for")
        out.append(PyThread(t["thread"], t["name"], frames, None,
                            names.get(waits, f"lock #{waits}") if waits is not None else None,
                            [names.get(s, f"lock #{s}") for s in t.get("holds", [])]))
    edges = []
    for t in threads:
        waits = t.get("waits_for")
        if waits is not None and waits in owner:
            edges.append((t["thread"], owner[waits], names.get(waits, f"lock #{waits}")))
    report = StacksReport(pid, "agent", out, edges, _cycles(edges),
                          list(locks.get("inversions", [])), list(locks.get("long_holds", [])))
    if not locks.get("watching"):
        report.notes.append("lockwatch is off in the process: no holders, no inversions "
                            "(perflab.debug.lockwatch() or PERFLAB_LOCKWATCH=1)")
    if locks.get("orders_full"):
        report.notes.append(f"lockwatch remembers {locks.get('orders')} ordered pairs of locks, "
                            "its limit: pairs first seen since then were not checked")
    return report


def _cycles(edges: list[tuple[int, int, str]]) -> list[list[int]]:
    """Each thread waits for one lock, so the graph has out-degree one: follow each chain."""
    nxt = {w: h for w, h, _ in edges}
    seen: set[int] = set()
    cycles = []
    for start in sorted(nxt):
        path: list[int] = []
        node: int | None = start
        while node is not None and node not in seen and node not in path:
            path.append(node)
            node = nxt.get(node)
        if node is not None and node in path:
            cycle = path[path.index(node):]
            low = cycle.index(min(cycle))
            cycles.append(cycle[low:] + cycle[:low])
        seen.update(path)
    return cycles


def _from_py_spy(pid: int, *, with_locals: bool) -> StacksReport:
    from perflab.profile import find_tool  # noqa: PLC0415

    tool = find_tool("py-spy")
    if tool is None:
        raise ToolMissing("py-spy", install="pip install py-spy")
    args = [tool, "dump", "--pid", str(pid), "--json", *(["--locals"] if with_locals else [])]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603  # our own tool
    except subprocess.TimeoutExpired as exc:
        raise TargetError(f"py-spy dump of PID {pid} did not finish within 60 s") from exc
    if done.returncode != 0:
        raise _py_spy_error(pid, done.stderr.strip() or done.stdout.strip())
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise TargetError(f"py-spy dump of PID {pid} printed no JSON") from exc
    return StacksReport(pid, "py-spy", [_spy_thread(t) for t in data])


def _py_spy_error(pid: int, message: str) -> TargetError:
    low = message.lower()
    first = message.splitlines()[0] if message else "py-spy failed"
    if "no such process" in low or ("failed to open process" in low and "permission" not in low):
        return NoSuchProcess(pid)
    if "permission" in low or "operation not permitted" in low:
        return AccessDenied(f"no permission to read PID {pid}'s memory ({first})",
                            hint="run as root or the process's user, with ptrace allowed "
                                 "(kernel.yama.ptrace_scope=0 or CAP_SYS_PTRACE)")
    return TargetError(f"PID {pid} is not a Python process py-spy can read ({first})",
                       hint="perflab stacks reads Python processes; for Go use perflab "
                            "goroutines URL")


def _spy_thread(t: dict[str, Any]) -> PyThread:
    frames = []
    for f in t.get("frames", []):
        loc = f.get("locals")
        frames.append(PyFrame(f.get("name", "?"), f.get("filename", "?"), int(f.get("line", 0)),
                              {v["name"]: str(v.get("repr")) for v in loc} if loc else None))
    thread = PyThread(int(t.get("thread_id", 0)), t.get("thread_name") or "?",
                      [f for f in frames if not f.file.endswith(_INTERNAL)],
                      bool(t.get("active")))
    if not thread.active and _takes_lock(frames):
        thread.waits_for = "a lock (from the source line)"
    return thread


def _takes_lock(frames: list[PyFrame]) -> bool:
    """An idle thread whose innermost frame is a lock's acquire, or a program line that takes
    one (``with lock:``, ``.acquire(``): waiting on a lock, as far as py-spy can tell (an idle
    thread on a ``with`` line is blocked in ``__enter__``, which for a lock is the acquire)."""
    if not frames:
        return False
    f = frames[0]
    if f.function.rsplit(".", 1)[-1] in _LOCK_CALLS:
        return True
    text = linecache.getline(f.file, f.line).strip()
    return text.startswith("with ") or ".acquire(" in text
