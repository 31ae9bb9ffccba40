"""``perflab.debug.lockwatch()``: go-deadlock's runtime check for Python threads.

After ``lockwatch()``, every ``threading.Lock`` and ``threading.RLock`` the program creates (and
so every ``Condition`` it makes without a lock of its own) is a watched lock that records:

- **who holds it** (thread, the site that took it, since when) and who waits for it: the agent's
  ``/locks`` answers with both, so ``perflab stacks PID`` names a deadlock cycle with certainty;
- **the order locks are taken in**: the first time a thread takes B while holding A, the pair
  (A, B) is noted with that stack; when some thread later takes A while holding B, that is a
  **lock-order inversion**, reported at once with both stacks, before the two orders ever meet
  and deadlock (go-deadlock's rule; it fires even if the program never hangs);
- **locks held longer than** ``hold_threshold`` seconds (by the site that took them).

**Which locks.** A lock is watched when the code that creates it is not the standard library's
(decided once, when the lock is made, from the creating frame's file, cached by file name): the
locks inside a ``Thread``, an ``Event``, a ``Semaphore``, a ``Barrier``, a ``queue.Queue``,
``logging``'s handlers or ``concurrent.futures`` stay plain. The standard library takes them in
its own short methods, which do not take the program's locks meanwhile, so they add nothing to
the program's lock order; and watching them cost more than the program's own locks (a
``queue.Queue``'s ``put`` and ``get`` made two watched acquisitions and two watched ownership
probes). What is not seen: a cycle through such a lock, as when a ``logging.Handler`` subclass's
``emit`` (called under the handler's lock) takes a lock of the program's. A ``Condition``
created without a lock gets its ``RLock`` from threading's ``Condition.__init__``: that lock
belongs to whoever made the ``Condition``, so a program's ``Condition`` is watched and an
``Event``'s is not. Locks created before ``lockwatch()`` stay plain: call it first thing, or
start the program with ``PERFLAB_LOCKWATCH=1`` under ``perflab run --debug``.

**Cost.** An uncontended ``with lock:`` on a watched lock runs no Python code: its
``__enter__`` and ``__exit__`` are C (``_lockwatch_books.c``, built on first use by ``_cbuild``
for the interpreter that runs; Python's own books, the same ones kept inline, where it cannot be
built). The lock is tried without blocking first (a wait is recorded, with the time, only when
that fails), the owner and the taking site (code object and instruction offset: the line is
looked up only when reported) are stored, the thread's held list gets one append and one pop.
There is no clock call: hold times are read from a clock that a daemon thread
(``perflab-lockwatch-clock``) refreshes every tenth of ``hold_threshold``, at most 50 ms and at
least 1 ms apart, so a hold is measured to that resolution and a release compares one float. An
ordered pair of locks seen before is one set lookup; a stack is taken only the first time a pair
is seen. Standard library only (and a C compiler, when there is one), and it never raises into
the program: this runs inside the user's process.
"""

from __future__ import annotations

import _thread
import collections
import contextlib
import itertools
import math
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.debug import _agent, _cbuild

ENV_LOCKWATCH = "PERFLAB_LOCKWATCH"
ENV_ENGINE = "PERFLAB_LOCKWATCH_ENGINE"  # "python": the Python books even where C's can be built
MAX_ORDERS = 10_000         # ordered pairs remembered (each with a stack of at most
                            # STACK_FRAMES): past it new pairs are not checked, /locks says so
STACK_FRAMES = 32
MAX_FINDINGS = 1000         # inversions and long holds kept for /locks
CLOCK_TICKS = (0.001, 0.05)  # the hold clock's period: hold_threshold / 10 within these bounds

_real_lock = _thread.allocate_lock
_real_rlock = threading.RLock
_serial = itertools.count(1)
_monotonic = time.monotonic
_get_ident = _thread.get_ident
_getframe = sys._getframe  # noqa: SLF001  # the caller's site, without building a traceback

# per-thread state, keyed by thread ident: dict and list operations are atomic under the GIL,
# and each thread only changes its own entries, so no lock of ours is needed (and none could
# be: it would watch itself)
_held: collections.defaultdict[int, list[_Watched]] = collections.defaultdict(list)
_waiting: dict[int, tuple[_Watched, float]] = {}
_orders: dict[tuple[int, int], dict[str, Any]] = {}
_inversions: list[dict[str, Any]] = []
_inverted_pairs: set[tuple[int, int]] = set()
_long_holds: dict[str, dict[str, Any]] = {}
_config: dict[str, Any] = {"on": False, "hold_threshold": 1.0, "report": None,
                           "tick": CLOCK_TICKS[1], "clock_pid": 0}

# Read on every acquire and release, so module globals (the fastest lookup): the hold clock
# (monotonic seconds, refreshed by _run_clock), and the horizon, the clock hold_threshold ago: a
# hold that began at or before it is long (one comparison on release, no arithmetic). With a
# threshold of 0 the horizon is infinite: every hold counts.
_now = _monotonic()
_horizon = _now - 1.0

_SKIP_FILES = frozenset({__file__, threading.__file__})
_CONDITION_INIT = threading.Condition.__init__.__code__
_CONDITION_ENTER = threading.Condition.__enter__.__code__  # the one stdlib caller of __enter__
# the standard library's directory: threading's own (sysconfig would say the same, at the cost of
# importing it in every process the agent starts in); its site-packages is not the stdlib's
_STDLIB_DIRS = (str(Path(threading.__file__).parent) + os.sep,)
_NOT_STDLIB = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
_stdlib_files: dict[str, bool] = {}


def _in_stdlib(filename: str) -> bool:
    known = _stdlib_files.get(filename)
    if known is None:
        known = filename.startswith("<frozen ") or (
            filename.startswith(_STDLIB_DIRS) and not any(p in filename for p in _NOT_STDLIB))
        _stdlib_files[filename] = known
    return known


def _made_by_program(frame: Any) -> bool:
    """Whether the lock the code of ``frame`` creates is the program's (see the module's doc)."""
    if frame.f_code is _CONDITION_INIT:  # a Condition's own RLock: its maker's
        frame = frame.f_back
        if frame is None:
            return True
    return not _in_stdlib(frame.f_code.co_filename)


def _program_frame(frame: Any) -> Any:
    """The program's frame: a Condition's and this module's own frames are skipped."""
    while frame is not None and frame.f_code.co_filename in _SKIP_FILES:
        frame = frame.f_back
    return frame


def _where(frame: Any) -> tuple[Any, int] | None:
    """(code, line) of the program's frame, formatted only when reported."""
    frame = _program_frame(frame)
    return None if frame is None else (frame.f_code, frame.f_lineno)


def _fmt(site: tuple[Any, int] | None) -> str:
    if site is None:
        return "?"
    code, line = site
    return f"{code.co_name} ({code.co_filename}:{line})"


def _line(code: Any, lasti: int) -> int:
    """The line of the instruction at byte offset ``lasti`` (what ``f_lineno`` says, looked up
    only when a site is reported: ``f_lineno`` scans the line table on every read)."""
    for start, end, line in code.co_lines():
        if start <= lasti < end and line is not None:
            return int(line)
    return int(code.co_firstlineno)


def _stack(frame: Any) -> list[str]:
    frame = _program_frame(frame)
    frames = traceback.extract_stack(frame, limit=STACK_FRAMES)
    return [f"{f.name} ({f.filename}:{f.lineno})" for f in frames][::-1]


class _Watched:
    """What a watched lock does besides its hot path: the lock API and the books' rarer pages.

    A mixin: the hot path (``__enter__``/``__exit__``, ``with lock:``, the common case) and the
    fields it keeps come from the books the concrete classes stand on, C's (``_lockwatch_books.c``)
    or Python's (``_PyBooks``), which call back here for a wait, a first ordered pair and a
    long hold."""

    # a mixin has no fields of its own; mypy is told the concrete classes' (it would refuse
    # every assignment to a name a mixin's empty __slots__ does not list)
    if TYPE_CHECKING:
        __slots__ = ("_code", "_count", "_depth", "_is_owned", "_lasti", "_lock", "_owner",
                     "_preds", "_release", "_since", "_try", "created", "kind", "serial")
    else:
        __slots__ = ()

    # the books' fields: the C Books' members, or the Python books' slots
    _try: Any            # the lock's acquire and release, bound once: a bound method per
    _release: Any        # acquire adds up
    _owner: int | None
    _count: int
    _since: float
    _code: Any           # the taking site: code object and instruction offset
    _lasti: int
    _preds: set[int] | None  # serials of locks seen held before this one
    _depth: int
    serial: int
    # the concrete classes' own slots
    _lock: Any
    kind: str
    created: tuple[Any, int] | None

    def __init__(self, lock: Any, kind: str, created: tuple[Any, int] | None,
                 depth: int = 1) -> None:
        self._lock = lock
        # how far up __enter__'s caller is: 2 for a Condition's own lock, entered only by
        # Condition.__enter__ (asking for that frame's caller would build both frame objects)
        self._depth = depth
        self._try = lock.acquire
        self._release = lock.release
        self.kind = kind
        self.serial = next(_serial)
        self.created = created
        self._owner = None
        self._count = 0
        self._since = 0.0
        self._code = None
        self._lasti = 0
        self._preds = None

    # -- the lock API --------------------------------------------------------------------------

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:  # noqa: FBT002  # threading's signature
        if not self._try(False) and (not blocking or not self._wait(timeout)):  # noqa: FBT003
            return False
        me = _get_ident()
        if self._owner == me:  # an RLock taken again by its owner
            self._count += 1
            return True
        # a try-lock cannot deadlock: only blocking acquisitions teach the order
        self._taken(me, _getframe(1), ordered=bool(blocking))
        return True

    def locked(self) -> bool:
        return self._owner is not None

    def _at_fork_reinit(self) -> None:
        """After a fork the child's locks start free (threading calls this on its own)."""
        self._lock._at_fork_reinit()  # noqa: SLF001  # the lock protocol threading uses
        self._owner = None
        self._count = 0

    def __repr__(self) -> str:
        return f"<watched {self.kind} #{self.serial} from {_fmt(self.created)}>"

    def site(self) -> str:
        """Where the holder took it."""
        code = self._code
        return "?" if code is None else \
            f"{code.co_name} ({code.co_filename}:{_line(code, self._lasti)})"

    # -- the books (off the uncontended path) ---------------------------------------------------

    def _wait(self, timeout: float = -1) -> bool:
        """Block until the lock is ours (or ``timeout``), as a recorded wait."""
        me = _get_ident()
        _waiting[me] = (self, _monotonic())
        try:
            return bool(self._try(True, timeout))  # noqa: FBT003
        finally:
            _waiting.pop(me, None)

    def _at(self, frame: Any) -> Any:
        """Note the program's frame as the taking site; returns it."""
        frame = _program_frame(frame)
        if frame is None:
            self._code = None
        else:
            self._code = frame.f_code
            self._lasti = frame.f_lasti
        return frame

    def _learn_all(self, held: list[_Watched], frame: Any) -> None:
        """Note each lock in ``held`` as taken before this one, unless already noted."""
        with contextlib.suppress(Exception):  # the program's lock works whatever the books say
            for before in held:
                if (self._preds is None or before.serial not in self._preds) \
                        and _note_order(before, self, frame):
                    if self._preds is None:
                        self._preds = set()
                    self._preds.add(before.serial)

    def _long_hold(self) -> None:
        with contextlib.suppress(Exception):
            _note_long_hold(self, _now - self._since)

    def _taken(self, me: int, frame: Any, *, ordered: bool = True) -> None:
        self._owner = me
        self._count = 1
        self._since = _now
        frame = self._at(frame)
        held = _held[me]
        if ordered and held:
            self._learn_all(held, frame)
        held.append(self)

    def _given_back(self) -> None:
        # a Lock may be released by another thread than its owner: the owner's books
        held = _held.get(self._owner or 0)
        if held and self in held:
            held.remove(self)
        if self._since <= _horizon:
            self._long_hold()
        self._owner = None
        self._count = 0


class _LockMethods(_Watched):
    __slots__ = ()

    def release(self) -> None:
        if self._owner is not None:  # any thread may release a Lock: its owner's books
            self._given_back()
        self._release()  # an unlocked Lock raises RuntimeError here, as a plain one does


class _RLockMethods(_Watched):
    """An RLock also speaks Condition's protocol (a Condition uses it when its lock has it)."""

    __slots__ = ()
    _is_owned: Any

    def __init__(self, lock: Any, kind: str, created: tuple[Any, int] | None,
                 depth: int = 1) -> None:
        super().__init__(lock, kind, created, depth)
        self._is_owned = lock._is_owned  # noqa: SLF001  # the C RLock's own answer, no Python call

    def release(self) -> None:
        if self._owner == _get_ident():  # only the owner: another thread's release raises
            if self._count > 1:
                self._count -= 1
            else:
                self._given_back()
        self._release()

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


class _PyBooks(_Watched):
    """The hot path in Python, for when the C books cannot be built (no compiler, no headers):
    the same books, kept inline, since every call saved is a measurable share of an
    uncontended acquire."""

    __slots__ = ()

    def __enter__(self) -> bool:
        if not self._try(False):  # noqa: FBT003  # uncontended (or an RLock ours already)
            self._wait()
        me = _get_ident()
        if self._owner == me:  # an RLock re-entered (never true of a Lock: one compare)
            self._count += 1
            return True
        self._owner = me
        self._count = 1
        self._since = _now
        try:
            frame = _getframe(self._depth)
        except ValueError:  # no caller that far up
            frame = _getframe(1)
        code = frame.f_code
        if code is _CONDITION_ENTER and frame.f_back is not None:  # `with condition:`
            frame = frame.f_back
            code = frame.f_code
        self._code = code
        self._lasti = frame.f_lasti
        held = _held[me]
        if held:  # locks already held: an order to learn, unless this one was seen before
            preds = self._preds
            if preds is None or len(held) > 1 or held[0].serial not in preds:
                self._learn_all(held, frame)
        held.append(self)
        return True

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        if self._count > 1:
            self._count -= 1
            self._release()
            return
        owner = self._owner
        if owner is not None:
            held = _held[owner]
            if held and held[-1] is self:
                held.pop()
            elif self in held:
                held.remove(self)
            if self._since <= _horizon:
                self._long_hold()
            self._owner = None
        self._release()


# the books' fields: slots of the Python books' concrete classes (the C books have them as
# members); and what every concrete watched lock adds to its books' fields
_PY_BOOKS = ("_code", "_count", "_depth", "_lasti", "_owner", "_preds", "_release", "_since",
             "_try", "serial")
_OWN_SLOTS = ("__weakref__", "_is_owned", "_lock", "created", "kind")


class _PyWatchedLock(_PyBooks, _LockMethods):
    __slots__ = _PY_BOOKS + _OWN_SLOTS


class _PyWatchedRLock(_PyBooks, _RLockMethods):
    __slots__ = _PY_BOOKS + _OWN_SLOTS


_PyWatchedLock.__name__ = "_WatchedLock"
_PyWatchedRLock.__name__ = "_WatchedRLock"

# the concrete classes new locks are made of, and the books they keep: lockwatch() picks them
_engine: dict[str, Any] = {"name": "", "detail": "", "lock": _PyWatchedLock,
                           "rlock": _PyWatchedRLock, "set_clock": None}


def _choose_engine() -> None:
    """The C books when they can be had (built on first use, _cbuild), else Python's; once per
    process. ``PERFLAB_LOCKWATCH_ENGINE=python`` asks for Python's."""
    if _engine["name"]:
        return
    if os.environ.get(ENV_ENGINE, "").strip().lower() == "python":
        _engine.update(name="python", detail=f"{ENV_ENGINE}=python")
        return
    module, detail = _cbuild.load("perflab.debug._lockwatch_books",
                                  Path(__file__).with_name("_lockwatch_books.c"))
    if module is None:
        _engine.update(name="python", detail=f"the C books were {detail}")
        return
    module.setup(_held, _CONDITION_ENTER)
    books = module.Books
    lock = type("_WatchedLock", (_LockMethods, books), {"__slots__": _OWN_SLOTS})
    rlock = type("_WatchedRLock", (_RLockMethods, books), {"__slots__": _OWN_SLOTS})
    _engine.update(name="c", detail=detail, lock=lock, rlock=rlock,
                   set_clock=module.set_clock)


def _note_order(first: _Watched, second: _Watched, frame: Any) -> bool:
    """Note that ``first`` was held when ``second`` was taken (once per pair), and report an
    inversion when the reverse order was noted before. False when the pair is not kept."""
    if first is second:
        return False
    key = (first.serial, second.serial)
    if key not in _orders:
        if len(_orders) >= MAX_ORDERS:
            return False
        _orders[key] = {"first": repr(first), "first_site": first.site(),
                        "second": repr(second), "second_site": second.site(),
                        "thread": threading.current_thread().name, "stack": _stack(frame)}
    reverse = _orders.get((second.serial, first.serial))
    pair = (min(key), max(key))
    if reverse is None or pair in _inverted_pairs or len(_inversions) >= MAX_FINDINGS:
        return True
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
    return True


def _functions(*sites: str) -> list[str]:
    out = []
    for site in sites:
        name = site.split(" (", 1)[0]
        if name not in out:
            out.append(name)
    return out


def _note_long_hold(lock: _Watched, seconds: float) -> None:
    site = lock.site()
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


# -- the hold clock --------------------------------------------------------------------------------

def _run_clock() -> None:
    sleep = time.sleep
    while True:
        sleep(_config["tick"])
        _tick()


def _tick() -> None:
    global _now, _horizon  # noqa: PLW0603  # the hold clock's one writer (and lockwatch())
    _now = now = _monotonic()
    threshold = _config["hold_threshold"]
    _horizon = now - threshold if threshold > 0 else math.inf
    set_clock = _engine["set_clock"]
    if set_clock is not None:  # the C books read their own copy
        set_clock(_now, _horizon)


def _start_clock() -> None:
    """The hold clock's thread, once per process (a forked child starts its own)."""
    if _config["clock_pid"] == os.getpid():
        return
    _config["clock_pid"] = os.getpid()
    _tick()
    threading.Thread(target=_run_clock, name="perflab-lockwatch-clock", daemon=True).start()


def _after_fork_in_child() -> None:
    # the parent's other threads are gone: their holds and waits with them
    me = _get_ident()
    for ident in [i for i in _held if i != me]:
        del _held[ident]
    _waiting.clear()
    if _config["clock_pid"]:
        with contextlib.suppress(Exception):
            _start_clock()


# -- the API ------------------------------------------------------------------------------------

def _new_lock() -> Any:
    frame = _getframe(1)
    if not _made_by_program(frame):
        return _real_lock()
    return _engine["lock"](_real_lock(), "Lock", _where(frame))


def _new_rlock(*args: Any, **kwargs: Any) -> Any:
    frame = _getframe(1)
    if not _made_by_program(frame):
        return _real_rlock(*args, **kwargs)
    return _engine["rlock"](_real_rlock(*args, **kwargs), "RLock", _where(frame),
                            2 if frame.f_code is _CONDITION_INIT else 1)


def lockwatch(*, hold_threshold: float = 1.0, report: Any = _stderr_report) -> None:
    """Watch every lock the program creates from now on (idempotent). ``report(inversion)`` is
    called once per inverted pair of locks (default: a few lines on stderr); None to only keep
    them for the agent's ``/locks``."""
    tick = min(CLOCK_TICKS[1], max(CLOCK_TICKS[0], hold_threshold / 10)) \
        if hold_threshold > 0 else CLOCK_TICKS[1]  # at 0 every hold counts: only max_s reads it
    _config.update(on=True, hold_threshold=hold_threshold, report=report, tick=tick)
    _choose_engine()
    _tick()
    _start_clock()
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
                     "serial": lk.serial, "site": lk.site(),
                     "held_s": round(max(0.0, now - lk._since), 6)}  # noqa: SLF001
                    for lk in list(watched))
    waiting = [{"thread": ident, "thread_name": names.get(ident, "?"), "lock": repr(lk),
                "serial": lk.serial, "owner": lk._owner,  # noqa: SLF001
                "waited_s": round(now - since, 6)}
               for ident, (lk, since) in list(_waiting.items())]
    return {"watching": _config["on"], "hold_threshold_s": _config["hold_threshold"],
            "books": {"engine": _engine["name"] or None, "detail": _engine["detail"]},
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
    if os.environ.get(ENV_LOCKWATCH, "").strip().lower() in {"1", "true", "yes", "on"}:
        lockwatch()


os.register_at_fork(after_in_child=_after_fork_in_child)
