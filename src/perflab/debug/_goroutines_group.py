"""Goroutines grouped as panicparse groups them, two dumps diffed as goleak reads them, and
goroutines blocked for longer than a threshold.

A group is the goroutines with the same state and the same stack (functions, files and lines;
arguments aside) and the same creator; it keeps the range of their waits. A diff matches groups
by stack and creator only (a goroutine's state moves between ``chan receive`` and ``runnable``),
and a group that gained goroutines that were not in the first dump, and are parked, is a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perflab.debug._contracts import (
        GoroutineBlockedOneDoc,
        GoroutineChangeDoc,
        GoroutineGroupDoc,
    )
    from perflab.debug._goroutines import Goroutine, GoroutineDump, Stack

# states of a goroutine that is not waiting on anything (a leak is a goroutine that waits)
_ACTIVE = frozenset({"running", "runnable", "syscall", "idle", "dead", "copystack", "preempted"})


@dataclass(slots=True)
class Group:
    state: str
    stack: Stack
    ids: list[int] = field(default_factory=list)
    min_wait: int = 0
    max_wait: int = 0
    locked_to_thread: int = 0

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def name(self) -> str:
        return self.stack.name

    def to_json(self) -> GoroutineGroupDoc:
        return {
            **self.stack.to_json(), "count": self.count, "state": self.state,
            "wait_minutes": {"min": self.min_wait, "max": self.max_wait},
            "blocked_on": blocked_on(self.state, self.stack),
            "ids": self.ids[:_MAX_IDS], "locked_to_thread": self.locked_to_thread,
        }


_MAX_IDS = 50  # ids listed per group in --json; the count is exact


def group_goroutines(dump: GoroutineDump) -> list[Group]:
    """Groups, the largest first (then by longest wait, then by name, for a stable order)."""
    groups: dict[tuple[str, str], Group] = {}
    for g in dump.goroutines:
        k = (g.state, g.key)
        group = groups.get(k)
        if group is None:
            group = groups[k] = Group(g.state, g.stack, min_wait=g.wait_minutes)
        group.ids.append(g.id)
        group.min_wait = min(group.min_wait, g.wait_minutes)
        group.max_wait = max(group.max_wait, g.wait_minutes)
        group.locked_to_thread += g.locked_to_thread
    return sorted(groups.values(), key=lambda gr: (-gr.count, -gr.max_wait, gr.name, gr.state))


def blocked_on(state: str, stack: Stack) -> str | None:
    """What a goroutine waits on: ``sync.Mutex``, ``sync.RWMutex``, ``channel``, ``sync.Cond``,
    ``sync.WaitGroup``; None when it is not blocked on a synchronisation primitive. Go 1.19 says
    ``semacquire`` for every sema wait, so the stack tells which primitive it is."""
    if state.startswith(("chan receive", "chan send", "select")):
        return "channel"
    if state.startswith(("semacquire", "sync.", "sync ")):
        for frame in stack.frames[:6]:
            fn = frame.function
            if fn.startswith("sync.(*RWMutex)."):
                return "sync.RWMutex"
            if fn.startswith("sync.(*Mutex)."):
                return "sync.Mutex"
            if fn.startswith("sync.(*Cond)."):
                return "sync.Cond"
            if fn.startswith("sync.(*WaitGroup)."):
                return "sync.WaitGroup"
        return state.split(".", 1)[0] if state.startswith("sync.") else "semaphore"
    return None


_FLAGGED = frozenset({"sync.Mutex", "sync.RWMutex", "channel"})


@dataclass(slots=True)
class Blocked:
    goroutine: Goroutine
    on: str

    def to_json(self) -> GoroutineBlockedOneDoc:
        culprit = self.goroutine.stack.culprit
        return {"id": self.goroutine.id, "state": self.goroutine.state, "blocked_on": self.on,
                "wait_minutes": self.goroutine.wait_minutes,
                "function": culprit.function if culprit else None,
                "location": culprit.where() if culprit else None}


def blocked_over(dump: GoroutineDump, minutes: float) -> list[Blocked]:
    """Goroutines blocked on a mutex, an RWMutex or a channel for at least ``minutes`` (Go
    reports whole minutes, and none under one), the longest first."""
    out = []
    for g in dump.goroutines:
        if g.wait_minutes < minutes or g.wait_minutes == 0:
            continue
        on = blocked_on(g.state, g.stack)
        if on in _FLAGGED:
            out.append(Blocked(g, on))
    out.sort(key=lambda b: (-b.goroutine.wait_minutes, b.goroutine.id))
    return out


@dataclass(slots=True)
class GroupChange:
    """One stack's goroutines in two dumps; ``new_ids``: those of the second not in the first."""

    stack: Stack
    states: list[str]
    before: int
    after: int
    new_ids: list[int]
    leak: bool

    @property
    def name(self) -> str:
        return self.stack.name

    def to_json(self) -> GoroutineChangeDoc:
        return {**self.stack.to_json(), "states": self.states, "before": self.before,
                "after": self.after, "growth": self.after - self.before,
                "new_ids": self.new_ids[:_MAX_IDS], "leak": self.leak}


def diff_dumps(before: GoroutineDump, after: GoroutineDump, *,
               min_growth: int = 1) -> list[GroupChange]:
    """Every stack whose count changed, the largest growth first. A change is a leak when the
    stack gained at least ``min_growth`` goroutines, all of them new (goleak's rule: not in the
    first dump) and parked (not running or runnable)."""
    old_ids = {g.id for g in before.goroutines}
    counts: dict[str, int] = {}
    for g in before.goroutines:
        counts[g.key] = counts.get(g.key, 0) + 1
    now: dict[str, list[Goroutine]] = {}
    for g in after.goroutines:
        now.setdefault(g.key, []).append(g)
    changes = []
    stacks_before = {g.key: g.stack for g in before.goroutines}
    for key in set(counts) | set(now):
        gs = now.get(key, [])
        n_before = counts.get(key, 0)
        if len(gs) == n_before:
            continue
        new = [g for g in gs if g.id not in old_ids]
        parked = [g for g in new if g.state not in _ACTIVE]
        growth = len(gs) - n_before
        stack = gs[0].stack if gs else stacks_before[key]
        changes.append(GroupChange(
            stack, sorted({g.state for g in gs}), n_before, len(gs), [g.id for g in new],
            leak=growth >= min_growth and len(parked) >= growth))
    changes.sort(key=lambda c: (-(c.after - c.before), c.name))
    return changes


def state_counts(dump: GoroutineDump) -> dict[str, int]:
    """Goroutines by state (the series ``record --watch-goroutines`` stores)."""
    out: dict[str, int] = {}
    for g in dump.goroutines:
        out[g.state] = out.get(g.state, 0) + 1
    return dict(sorted(out.items()))

