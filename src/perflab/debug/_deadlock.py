"""Partial deadlocks the Go runtime does not detect ("all goroutines are asleep" fires only when
every goroutine is), found in a goroutine dump and, when given, the mutex and block profiles.

What the evidence shows, and what it does not:

- A goroutine parked in ``sync.(*Mutex).lockSlow(0x926d68)`` *wants* the mutex at that address
  (Go prints the receiver), at the call site below the sync frames.
- Nothing in a dump says who *holds* a mutex. A goroutine waiting at line 29 of a function that
  is seen (in other goroutines, or in the block profile) taking mutex Y at its line 26 has passed
  line 26, so it holds Y unless it unlocked it in between: the deferred-unlock pattern makes that
  the usual case, which is why such a finding is "likely", not "certain".
- The mutex profile lists the functions that released contended mutexes (the holders' side);
  the block profile the sites where goroutines waited to lock: both corroborate the functions.

A cycle G1 holds X wants Y, G2 holds Y wants X is reported with each goroutine's function, the
site where it took what it holds and the site where it waits. Confidence: "likely" when every
held mutex is known by address from the dump; "possible" when a held mutex is only inferred from
a lock site the block profile shows (address unknown). Go findings are never "certain": only an
owner-tracking agent (Python's, ``perflab stacks``) proves who holds a lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

from perflab.debug._goroutines import GoFrame
from perflab.debug._goroutines_group import blocked_on

if TYPE_CHECKING:
    from perflab.debug._contracts import DeadlockConfidence, DeadlockDoc, DeadlockMemberDoc
    from perflab.debug._goroutines import Goroutine, GoroutineDump
    from perflab.profile import Profile

_LOCK_FRAME = re.compile(
    r"^sync\.\(\*(RW)?Mutex\)\.(lockSlow|Lock|RLock|rUnlockSlow)\((0x[0-9a-f]+)(\?)?[,)]",
    re.MULTILINE)
_UNKNOWN = "?"


@dataclass(slots=True)
class Waiter:
    goroutine: Goroutine
    lock: str          # the mutex's address as Go printed it; "?" when the frame hid it
    kind: str          # sync.Mutex / sync.RWMutex
    site: GoFrame         # where it waits: the caller of Lock


@dataclass(slots=True)
class CycleMember:
    goroutine: int
    function: str
    holds: str
    held_since: GoFrame
    wants: str
    waits_at: GoFrame
    wait_minutes: int

    def to_json(self) -> DeadlockMemberDoc:
        return {"goroutine": self.goroutine, "function": self.function, "holds": self.holds,
                "held_since": self.held_since.to_json(), "wants": self.wants,
                "waits_at": self.waits_at.to_json(), "wait_minutes": self.wait_minutes}


@dataclass(slots=True)
class DeadlockFinding:
    members: list[CycleMember]
    confidence: DeadlockConfidence  # never "certain": see the module's docstring
    evidence: list[str] = field(default_factory=list)
    stuck_behind: int = 0                 # goroutines waiting on the cycle's mutexes besides it

    @property
    def functions(self) -> list[str]:
        return [m.function for m in self.members]

    def summary(self) -> str:
        parts = [f"goroutine {m.goroutine} in {m.function} holds {m.holds} and wants {m.wants}"
                 for m in self.members]
        return "; ".join(parts)

    def to_json(self) -> DeadlockDoc:
        return {"confidence": self.confidence, "members": [m.to_json() for m in self.members],
                "evidence": self.evidence, "stuck_behind": self.stuck_behind,
                "summary": self.summary()}


def find_deadlocks(dump: GoroutineDump, *, mutex: Profile | None = None,
                   block: Profile | None = None) -> list[DeadlockFinding]:
    """Wait-for cycles among goroutines parked on mutexes, the largest first."""
    waiters = [w for g in dump.goroutines if (w := _waiter(g)) is not None]
    if len(waiters) < 2:  # a cycle needs two goroutines
        return []
    # lock sites per function: line -> addresses wanted there (from the dump), and lines where
    # the block profile saw the function wait to lock (address unknown)
    sites: dict[str, dict[int, set[str]]] = {}
    for w in waiters:
        sites.setdefault(w.site.function, {}).setdefault(w.site.line, set()).add(w.lock)
    for fn, line in _profile_lock_sites(block):
        sites.setdefault(fn, {}).setdefault(line, set())
    holds: dict[int, list[tuple[str, GoFrame]]] = {}
    for w in waiters:
        held: list[tuple[str, GoFrame]] = []
        for line, locks in sorted(sites.get(w.site.function, {}).items()):
            if line >= w.site.line:
                break
            other = sorted(lk for lk in locks if lk not in {w.lock, _UNKNOWN})
            site = GoFrame(w.site.function, w.site.file, line)
            held.extend((lk, site) for lk in other or [_UNKNOWN])
        if held:
            holds[w.goroutine.id] = held
    by_id = {w.goroutine.id: w for w in waiters}
    holders: dict[str, list[int]] = {}
    for gid, held in holds.items():
        for lock, _site in held:
            holders.setdefault(lock, []).append(gid)
    cycles = _cycles(by_id, holds, holders)
    releasers = _releasing_functions(mutex)
    findings = []
    for cycle in cycles:
        members = []
        for gid, nxt in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            w = by_id[gid]
            lock, since = _held_for(holds[gid], by_id[nxt].lock)
            members.append(CycleMember(gid, w.site.function, lock, since, w.lock, w.site,
                                       w.goroutine.wait_minutes))
        findings.append(_finding(members, waiters, releasers))
    findings.sort(key=lambda f: (f.confidence != "likely", -f.stuck_behind, f.functions))
    return findings


def _waiter(g: Goroutine) -> Waiter | None:
    kind = blocked_on(g.state, g.stack)
    if kind not in {"sync.Mutex", "sync.RWMutex"}:
        return None
    m = _LOCK_FRAME.search(g.raw)
    lock = m.group(3) if m and not m.group(4) else _UNKNOWN
    caller = _caller_of_lock(g.stack.frames)
    if caller is None:
        return None
    return Waiter(g, lock, kind, GoFrame(caller.function, caller.file, caller.line))


def _caller_of_lock(frames: tuple[GoFrame, ...]) -> GoFrame | None:
    seen_sync = False
    for frame in frames:
        if frame.function.startswith(("sync.", "runtime.", "internal/")):
            seen_sync = True
            continue
        return frame if seen_sync else None
    return None


def _profile_lock_sites(block: Profile | None) -> list[tuple[str, int]]:
    """(function, line) where the block profile saw a caller wait in Mutex.Lock/RWMutex.Lock."""
    if block is None:
        return []
    out = set()
    for sample in block.samples:
        names = [block.frames[i] for i in sample.stack]
        for inner, outer in pairwise(names):
            if (inner.function.startswith(("sync.(*Mutex).Lock", "sync.(*RWMutex).Lock",
                                           "sync.(*RWMutex).RLock"))
                    and not outer.function.startswith(("sync.", "runtime."))):
                out.add((outer.function, outer.line))
    return sorted(out)


def _releasing_functions(mutex: Profile | None) -> set[str]:
    """Functions that released a contended mutex (the mutex profile's stacks end in Unlock)."""
    if mutex is None:
        return set()
    out = set()
    for sample in mutex.samples:
        for i in sample.stack:
            fn = mutex.frames[i].function
            if not fn.startswith(("sync.", "runtime.")):
                out.add(fn)
                break
    return out


def _held_for(held: list[tuple[str, GoFrame]], wanted: str) -> tuple[str, GoFrame]:
    for lock, site in held:
        if lock == wanted:
            return lock, site
    return held[0]


def _cycles(by_id: dict[int, Waiter], holds: dict[int, list[tuple[str, GoFrame]]],
            holders: dict[str, list[int]]) -> list[list[int]]:
    """Simple cycles of the wait-for graph (G -> a goroutine holding what G wants), each once,
    starting at its smallest id. A mutex whose holder is unknown ("?") may be held by any
    goroutine holding an unknown mutex."""
    def successors(gid: int) -> list[int]:
        lock = by_id[gid].lock
        out = holders.get(lock, []) if lock != _UNKNOWN else []
        if not out:
            out = [h for h in holders.get(_UNKNOWN, []) if lock not in
                   {lk for lk, _ in holds[h]}]
        return [h for h in out if h != gid]

    found: set[tuple[int, ...]] = set()
    for start in sorted(holds):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            if len(path) > 8:  # longer cycles are not worth the search
                continue
            for nxt in successors(node):
                if nxt == start and len(path) > 1:
                    found.add(tuple(path))
                elif nxt not in path and nxt > start and nxt in holds:
                    stack.append((nxt, [*path, nxt]))
    # one cycle per pair of (function, site) shapes: under load many goroutine pairs close the
    # same cycle only if they really are distinct deadlocks; keep them all but each once
    return [list(c) for c in sorted(found)]


def _finding(members: list[CycleMember], waiters: list[Waiter],
             releasers: set[str]) -> DeadlockFinding:
    locks = {m.wants for m in members}
    in_cycle = {m.goroutine for m in members}
    behind = sum(1 for w in waiters if w.lock in locks and w.goroutine.id not in in_cycle)
    known = all(m.holds != _UNKNOWN for m in members)
    evidence = []
    for m in members:
        how = (f"it waits at line {m.waits_at.line} of {m.function}, which takes {m.holds} at "
               f"line {m.held_since.line}" if m.holds != _UNKNOWN else
               f"the block profile shows {m.function} locking at line {m.held_since.line} "
               f"(address unknown) before line {m.waits_at.line}")
        evidence.append(f"goroutine {m.goroutine} wants {m.wants}: {how}")
    waited = [m.wait_minutes for m in members]
    if min(waited) > 0:
        evidence.append(f"every goroutine of the cycle has waited at least {min(waited)} min")
    corroborated = sorted(releasers & {m.function for m in members})
    if corroborated:
        evidence.append("the mutex profile shows " + ", ".join(corroborated)
                        + " releasing contended mutexes")
    if behind:
        evidence.append(f"{behind} more goroutines wait on the same mutexes")
    return DeadlockFinding(members, "likely" if known else "possible", evidence, behind)
