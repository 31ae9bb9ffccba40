"""``perflab.debug.lockwatch()``: go-deadlock's runtime check for Python threads.

After ``lockwatch()``, every ``threading.Lock`` and ``threading.RLock`` created (and so every
``Condition``, ``Semaphore``, ``Event`` and ``queue.Queue`` built on them) is a watched lock that
records:

- **who holds it** (thread, the site that took it, since when) and who waits for it: the agent's
  ``/locks`` answers with both, so ``perflab stacks PID`` names a deadlock cycle with certainty;
- **the order locks are taken in**: the first time a thread takes B while holding A, the pair
  (A, B) is noted with that stack; when some thread later takes A while holding B, that is a
  **lock-order inversion**, reported at once with both stacks, before the two orders ever meet
  and deadlock (go-deadlock's rule; it fires even if the program never hangs);
- **locks held longer than** ``hold_threshold`` seconds (by the site that took them).

Locks created before ``lockwatch()`` stay plain: call it first thing, or start the program with
``PERFLAB_LOCKWATCH=1`` under ``perflab run --debug``.

Cost: a watched acquire/release pair is two Python calls and a few dict operations (about a
microsecond); a stack is taken only the first time an ordered pair of locks is seen. Standard
library only, and it never raises into the program: this runs inside the user's process.
"""

from __future__ import annotations

import _thread
import contextlib
import itertools
import sys
import threading
import time
import traceback
from typing import Any

from perflab.debug import _agent

ENV_LOCKWATCH = "PERFLAB_LOCKWATCH"
MAX_ORDERS = 10_000         # ordered pairs remembered (each with a stack of at most
                            # STACK_FRAMES): past it new pairs are not checked, /locks says so
STACK_FRAMES = 32
MAX_FINDINGS = 1000         # inversions and long holds kept for /locks

_real_lock = _thread.allocate_lock
_real_rlock = threading.RLock
_serial = itertools.count(1)
_monotonic = time.monotonic
_get_ident = _thread.get_ident
_getframe = sys._getframe  # noqa: SLF001  # the caller's site, without building a traceback

# per-thread state, keyed by thread ident: dict operations are atomic under the GIL, so no lock
# of ours is needed (and none could be: it would watch itself)
_held: dict[int, list[_Watched]] = {}
_waiting: dict[int, tuple[_Watched, float]] = {}
_orders: dict[tuple[int, int], dict[str, Any]] = {}
_inversions: list[dict[str, Any]] = []
_inverted_pairs: set[tuple[int, int]] = set()
_long_holds: dict[str, dict[str, Any]] = {}
_config: dict[str, Any] = {"on": False, "hold_threshold": 1.0, "report": None}


_SKIP_FILES = frozenset({__file__, threading.__file__})
_threshold = [1.0]  # hold_threshold, read on every release: a list item, not a dict lookup


def _where(frame: Any) -> tuple[Any, int] | None:
    """(code, line) of the program's frame: Condition's and Event's frames are skipped. Kept
    as is and formatted only when reported: a lock is taken far more often than reported."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename not in _SKIP_FILES:
            return (code, frame.f_lineno)
        frame = frame.f_back
    return None


def _fmt(site: tuple[Any, int] | None) -> str:
    if site is None:
        return "?"
    code, line = site
    return f"{code.co_name} ({code.co_filename}:{line})"


def _stack(frame: Any) -> list[str]:
    while frame is not None and frame.f_code.co_filename in _SKIP_FILES:
        frame = frame.f_back
    frames = traceback.extract_stack(frame, limit=STACK_FRAMES)
    return [f"{f.name} ({f.filename}:{f.lineno})" for f in frames][::-1]


class _Watched:
    """A lock that reports who holds it, who waits for it and the order it is taken in.

    ``__enter__``/``__exit__`` (``with lock:``, the common case) keep the books inline: every
    call saved is a measurable share of an uncontended acquire."""

    __slots__ = ("__weakref__", "_count", "_lock", "_owner", "_reentrant", "_since", "_site",
                 "created", "kind", "serial")

    def __init__(self, lock: Any, kind: str, created: tuple[Any, int] | None) -> None:
        self._lock = lock
        self.kind = kind
        self._reentrant = kind == "RLock"
        self.serial = next(_serial)
        self.created = created
        self._owner: int | None = None
        self._count = 0
        self._since = 0.0
        self._site: tuple[Any, int] | None = None

    # -- the lock API --------------------------------------------------------------------------

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:  # noqa: FBT002  # threading's signature
        me = _get_ident()
        if self._reentrant and self._owner == me:
            got = self._lock.acquire(blocking, timeout)
            if got:
                self._count += 1
            return bool(got)
        got = self._lock.acquire(False)  # noqa: FBT003  # the uncontended path: no wait to record
        if not got and blocking:
            _waiting[me] = (self, _monotonic())
            try:
                got = self._lock.acquire(True, timeout)  # noqa: FBT003
            finally:
                _waiting.pop(me, None)
        if got:
            # a try-lock cannot deadlock: only blocking acquisitions teach the order
            self._taken(me, _getframe(1), ordered=bool(blocking))
        return bool(got)

    def release(self) -> None:
        if self._count > 1:
            self._count -= 1
            self._lock.release()
            return
        self._given_back()
        self._lock.release()

    def __enter__(self) -> bool:
        me = _get_ident()
        lock = self._lock
        if self._reentrant and self._owner == me:
            lock.acquire()
            self._count += 1
            return True
        if not lock.acquire(False):  # noqa: FBT003
            _waiting[me] = (self, _monotonic())
            try:
                lock.acquire()
            finally:
                _waiting.pop(me, None)
        self._owner = me
        self._count = 1
        self._since = _monotonic()
        frame = _getframe(1)
        code = frame.f_code
        self._site = (code, frame.f_lineno) if code.co_filename not in _SKIP_FILES \
            else _where(frame)
        held = _held.get(me)
        if held is None:
            _held[me] = [self]
        else:
            if held:  # locks already held: an order to learn
                self._learn(held, frame)
            held.append(self)
        return True

    def __exit__(self, *exc: object) -> None:
        if self._count > 1:
            self._count -= 1
            self._lock.release()
            return
        held = _held.get(self._owner or 0)
        if held:
            if held[-1] is self:
                held.pop()
            elif self in held:
                held.remove(self)
        if _monotonic() - self._since >= _threshold[0]:
            self._long_hold()
        self._owner = None
        self._count = 0
        self._lock.release()

    def locked(self) -> bool:
        return self._owner is not None

    def _at_fork_reinit(self) -> None:
        """After a fork the child's locks start free (threading calls this on its own)."""
        self._lock._at_fork_reinit()  # noqa: SLF001  # the lock protocol threading uses
        self._owner = None
        self._count = 0

    def __repr__(self) -> str:
        return f"<watched {self.kind} #{self.serial} from {_fmt(self.created)}>"

    # -- the books -----------------------------------------------------------------------------

    def _learn(self, held: list[_Watched], frame: Any) -> None:
        try:
            for before in held:
                _note_order(before, self, frame)
        except Exception:  # noqa: S110  # the program's lock works whatever the books say
            pass

    def _long_hold(self) -> None:
        with contextlib.suppress(Exception):
            _note_long_hold(self, _monotonic() - self._since)

    def _taken(self, me: int, frame: Any, *, ordered: bool = True) -> None:
        self._owner = me
        self._count = 1
        self._since = _monotonic()
        self._site = _where(frame)
        held = _held.get(me)
        if held is None:
            _held[me] = [self]
            return
        if ordered and held:
            self._learn(held, frame)
        held.append(self)

    def _given_back(self) -> None:
        # a Lock may be released by another thread than its owner: the owner's books
        held = _held.get(self._owner or 0)
        if held and self in held:
            held.remove(self)
        if _monotonic() - self._since >= _threshold[0]:
            self._long_hold()
        self._owner = None
        self._count = 0


class _WatchedRLock(_Watched):
    """An RLock also speaks Condition's protocol (a Condition uses it when its lock has it)."""

    __slots__ = ()

    def _is_owned(self) -> bool:
        return self._owner == _get_ident()

    def _release_save(self) -> Any:
        count = self._count
        self._count = 1
        self._given_back()
        return (self._lock._release_save(), count)  # noqa: SLF001  # RLock's Condition protocol

    def _acquire_restore(self, state: Any) -> None:
        inner, count = state
        me = _get_ident()
        _waiting[me] = (self, _monotonic())
        try:
            self._lock._acquire_restore(inner)  # noqa: SLF001
        finally:
            _waiting.pop(me, None)
        self._taken(me, _getframe(1))
        self._count = count


def _note_order(first: _Watched, second: _Watched, frame: Any) -> None:
    if first is second:
        return
    key = (first.serial, second.serial)
    if key not in _orders:
        if len(_orders) >= MAX_ORDERS:
            return
        _orders[key] = {"first": repr(first), "first_site": _fmt(first._site),  # noqa: SLF001
                        "second": repr(second), "second_site": _fmt(second._site),  # noqa: SLF001
                        "thread": threading.current_thread().name, "stack": _stack(frame)}
    reverse = _orders.get((second.serial, first.serial))
    pair = (min(key), max(key))
    if reverse is None or pair in _inverted_pairs or len(_inversions) >= MAX_FINDINGS:
        return
    _inverted_pairs.add(pair)
    this = _orders[key]
    inversion = {
        "locks": [repr(first), repr(second)],
        "now": {"thread": this["thread"], "holds_site": this["first_site"],
                "takes_site": this["second_site"], "stack": this["stack"]},
        "before": {"thread": reverse["thread"], "holds_site": reverse["first_site"],
                   "takes_site": reverse["second_site"], "stack": reverse["stack"]},
        "functions": _functions(this["second_site"], reverse["second_site"]),
    }
    _inversions.append(inversion)
    report = _config["report"]
    with contextlib.suppress(Exception):
        report(inversion)


def _functions(*sites: str) -> list[str]:
    out = []
    for site in sites:
        name = site.split(" (", 1)[0]
        if name not in out:
            out.append(name)
    return out


def _note_long_hold(lock: _Watched, seconds: float) -> None:
    site = _fmt(lock._site)  # noqa: SLF001
    entry = _long_holds.get(site)
    if entry is None:
        if len(_long_holds) >= MAX_FINDINGS:
            return
        entry = _long_holds[site] = {"site": site, "lock": repr(lock), "count": 0, "max_s": 0.0}
    entry["count"] += 1
    entry["max_s"] = max(entry["max_s"], round(seconds, 6))


def _stderr_report(inversion: dict[str, Any]) -> None:
    now, before = inversion["now"], inversion["before"]
    sys.stderr.write(
        "perflab lockwatch: lock-order inversion (a deadlock waiting to happen):\n"
        f"  thread {now['thread']} holds a lock taken at {now['holds_site']}\n"
        f"    and takes another at {now['takes_site']}\n"
        f"  thread {before['thread']} took them the other way round: holding one from "
        f"{before['holds_site']}\n    it took the other at {before['takes_site']}\n")


def _new_lock() -> _Watched:
    return _Watched(_real_lock(), "Lock", _where(_getframe(1)))


def _new_rlock(*args: Any, **kwargs: Any) -> _Watched:
    return _WatchedRLock(_real_rlock(*args, **kwargs), "RLock", _where(_getframe(1)))


def lockwatch(*, hold_threshold: float = 1.0, report: Any = _stderr_report) -> None:
    """Watch every lock created from now on (idempotent). ``report(inversion)`` is called once
    per inverted pair of locks (default: a few lines on stderr); None to only keep them for
    the agent's ``/locks``."""
    _config.update(on=True, hold_threshold=hold_threshold, report=report)
    _threshold[0] = hold_threshold
    # the point: locks made from now on are watched (typeshed calls Lock a class, hence setattr)
    setattr(threading, "Lock", _new_lock)  # noqa: B010
    setattr(threading, "RLock", _new_rlock)  # noqa: B010
    install()


def unwatch() -> None:
    """New locks are plain again (locks already watched stay watched)."""
    setattr(threading, "Lock", _real_lock)  # noqa: B010  # typeshed calls Lock a class
    setattr(threading, "RLock", _real_rlock)  # noqa: B010
    _config["on"] = False


def locks(query: dict[str, str]) -> dict[str, Any]:  # noqa: ARG001  # the agent's handler API
    """``/locks``: held locks by thread, waiting threads, inversions, long holds."""
    now = _monotonic()
    names = {t.ident: t.name for t in threading.enumerate()}
    held: list[dict[str, Any]] = []
    for ident, watched in list(_held.items()):
        held.extend({"thread": ident, "thread_name": names.get(ident, "?"), "lock": repr(lk),
                     "serial": lk.serial, "site": _fmt(lk._site),  # noqa: SLF001
                     "held_s": round(now - lk._since, 6)}  # noqa: SLF001
                    for lk in list(watched))
    waiting = [{"thread": ident, "thread_name": names.get(ident, "?"), "lock": repr(lk),
                "serial": lk.serial, "owner": lk._owner,  # noqa: SLF001
                "waited_s": round(now - since, 6)}
               for ident, (lk, since) in list(_waiting.items())]
    return {"watching": _config["on"], "hold_threshold_s": _config["hold_threshold"],
            "orders": len(_orders), "orders_full": len(_orders) >= MAX_ORDERS,
            "held": held, "waiting": waiting, "inversions": list(_inversions),
            "long_holds": sorted(_long_holds.values(), key=lambda e: -e["max_s"])}


def threads(query: dict[str, str]) -> list[dict[str, Any]]:  # noqa: ARG001
    """``/threads``: every thread's stack, innermost frame first, with what it holds and waits
    for when lockwatch is on."""
    frames = sys._current_frames()  # noqa: SLF001  # the documented way to see other threads
    out = []
    for t in threading.enumerate():
        frame = frames.get(t.ident) if t.ident is not None else None
        stack = [{"function": f.name, "file": f.filename, "line": f.lineno}
                 for f in traceback.extract_stack(frame)][::-1] if frame is not None else []
        wait = _waiting.get(t.ident or 0)
        out.append({"thread": t.ident, "name": t.name, "daemon": t.daemon, "stack": stack,
                    "holds": [lk.serial for lk in _held.get(t.ident or 0, [])],
                    "waits_for": wait[0].serial if wait else None})
    return out


def install() -> None:
    """Register ``/threads`` and ``/locks`` with the agent."""
    _agent.register("/threads", threads)
    _agent.register("/locks", locks)


def enable_from_env() -> None:
    import os  # noqa: PLC0415

    if os.environ.get(ENV_LOCKWATCH, "").strip().lower() in {"1", "true", "yes", "on"}:
        lockwatch()
