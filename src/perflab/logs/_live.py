"""``GET /loki/api/v1/tail``: Loki's live tail, a websocket (Loki's docs, "Stream logs").

Parameters as Loki reads them: ``query`` (a LogQL log query), ``delay_for`` (seconds, 0 to 5:
as Loki, a line is held until its time is that far in the past, and what is due is sent in
time order, so a slow logger's lines take their place; a line stamped in the future is held
at most ``MAX_HOLD_S`` after it arrived), ``limit`` (the lines sent first, default 100) and
``start`` (from when those first lines are taken; default an hour ago). perflab's own
``fields=1`` adds to each entry a third value, ``{"level", "fields", "trace_id", "span_id"}``
(what ingest read from the line; the Logs page colours and expands lines with it), as Loki's
entries may carry an object third. The first message holds the newest ``limit`` lines since
``start``, oldest first; then each message holds what arrived since the last one, as
``{"streams": [{"stream": {labels}, "values": [["<ns>", "<line>"]]}], "dropped_entries": []}``.
perflab drops nothing: a client that reads slowly gets the lines later, read from the store
in arrival order (``dropped_entries`` is always empty).

A tail sleeps until the hub's ingest commits log lines (``NewLines``: the writer thread wakes
every open tail's event loop), so a pushed line is sent as soon as it is in the store; it also
looks every ``FALLBACK_POLL_S`` for lines another process wrote into the store (``perflab logs
tail``, a second hub), and every ``POLL_S`` while it holds lines for ``delay_for``.

The hub's rules hold as for every request: ``HostGuard`` and the token (a header or the
session cookie) are checked before the socket is accepted. A bad parameter or query closes
the socket with code 1008 and the message as its reason (Loki answers a 400 before the
upgrade, which a browser cannot read); a hub with ``MAX_TAILS`` tails open closes the next
with 1013 (try again later); a query past the hub's deadline closes it with 1011.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from perflab.errors import PerflabError
from perflab.logs._api import BadParam, _limit, parse_loki_time
from perflab.logs._lines import (
    FOLLOW_BATCH,
    Follower,
    Kept,
    log_query,
    start_tail,
    tail_message,
)
from perflab.serving import ConcurrencyLimiter, TooManyRequests
from perflab.store import query_interrupted

if TYPE_CHECKING:
    from collections.abc import Iterator

    from perflab.logs._api import StoreSource
    from perflab.logs._logql import LogQuery

POLL_S = 0.25       # how often a tail holding lines for delay_for looks whether they are due
FALLBACK_POLL_S = 2.0  # how often a tail looks for lines not written by this hub's ingest
MAX_DELAY_S = 5     # Loki's bound on delay_for
MAX_HOLD_S = 10     # a line stamped in the future waits no longer than this
MAX_TAILS = 16      # tails open at once on one hub
_HOUR_NS = 3600 * 10**9
POLICY, TRY_LATER, SERVER_ERROR = 1008, 1013, 1011  # websocket close codes (RFC 6455, IANA)


def _reason(text: str) -> str:
    """A close reason: at most 123 bytes of UTF-8 (RFC 6455), cut on a character."""
    return text.encode()[:123].decode(errors="ignore")


def tail_params(params: dict[str, str]) -> tuple[LogQuery, int, int, int]:
    """(query, delay in s, limit, start ns) of a tail request; ``BadParam`` or a LogQL error
    for what Loki would refuse. (``fields`` is read by the caller.)"""
    text = params.get("query", "")
    if not text:
        raise BadParam("parameter 'query' is required")
    expr = log_query(text)
    delay = params.get("delay_for", "0")
    if not delay.isascii() or not delay.isdigit() or int(delay) > MAX_DELAY_S:
        raise BadParam(f"invalid delay_for {delay[:20]!r}: whole seconds from 0 to "
                       f"{MAX_DELAY_S}")
    start = (parse_loki_time(params["start"], "start") if params.get("start")
             else time.time_ns() - _HOUR_NS)
    return expr, int(delay), _limit(params), start


async def _disconnected(ws: WebSocket) -> None:
    while (await ws.receive())["type"] != "websocket.disconnect":
        pass  # a client's own messages mean nothing to a tail


class NewLines:
    """Wakes the open tails when log lines are committed (``notify``, from the ingest writer
    thread); each tail ``listen``s with an ``asyncio.Event`` of its own event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    @contextlib.contextmanager
    def listen(self) -> Iterator[asyncio.Event]:
        """An event set after each commit of lines while the block runs (clear it to wait)."""
        key = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(key)
        try:
            yield key[1]
        finally:
            with self._lock:
                self._waiters.discard(key)


class _Tail:
    """One open tail: the lines held for ``delay_for`` and the follower that finds new ones."""

    def __init__(self, source: StoreSource, query: LogQuery, delay_s: int, *,
                 details: bool) -> None:
        self.source = source
        self.details = details
        self.query = query
        self.delay_s = delay_s
        self.follower = Follower(query, 0)  # until first() places it
        self.held: list[tuple[float, Kept]] = []  # (when it arrived, monotonic s; the line)

    def first(self, start_ns: int, limit: int) -> list[Kept]:
        """The newest ``limit`` lines since ``start_ns``, oldest first; the follower goes on
        from there."""
        with self.source.in_use():
            self.follower, kept = start_tail(self.source.get(), self.query, start_ns,
                                             time.time_ns() + 1, limit=limit)
        return kept

    def step(self) -> list[Kept]:
        """What is due now, by time: the lines whose time is ``delay_for`` in the past (all of
        them without a delay), and those held ``MAX_HOLD_S``."""
        with self.source.in_use():
            new = self.follower.poll(self.source.get())
        now = time.monotonic()
        self.held += [(now, k) for k in new]
        cut = time.time_ns() - self.delay_s * 10**9

        def is_due(arrived: float, kept: Kept) -> bool:
            return not self.delay_s or kept[0].ts_ns <= cut or now - arrived >= MAX_HOLD_S

        due = [k for arrived, k in self.held if is_due(arrived, k)]
        self.held = [(a, k) for a, k in self.held if not is_due(a, k)]
        due.sort(key=lambda k: (k[0].ts_ns, k[0].id))
        return due


async def _send(ws: WebSocket, tail: _Tail, kept: list[Kept]) -> None:
    for i in range(0, len(kept), FOLLOW_BATCH):
        await ws.send_json(tail_message(kept[i:i + FOLLOW_BATCH], details=tail.details))


async def _follow(ws: WebSocket, tail: _Tail, start_ns: int, limit: int,
                  new_lines: NewLines) -> None:
    with new_lines.listen() as woken:  # listening before the first read: no commit is missed
        await _send(ws, tail, await run_in_threadpool(tail.first, start_ns, limit))
        closed = asyncio.create_task(_disconnected(ws))
        try:
            while True:
                wake = asyncio.create_task(woken.wait())
                done, _ = await asyncio.wait({closed, wake}, return_when=asyncio.FIRST_COMPLETED,
                                             timeout=POLL_S if tail.held else FALLBACK_POLL_S)
                wake.cancel()
                if closed in done:
                    return
                woken.clear()  # before the read: a commit during it wakes the next wait
                due = await run_in_threadpool(tail.step)
                if due:
                    await _send(ws, tail, due)
        finally:
            closed.cancel()


async def loki_tail(ws: WebSocket) -> None:
    source: StoreSource = ws.app.state.perflab.stores
    try:
        query, delay_s, limit, start_ns = tail_params(dict(ws.query_params))
    except PerflabError as exc:
        await ws.accept()
        await ws.close(POLICY, _reason(exc.message))
        return
    limiter: ConcurrencyLimiter = ws.app.state.logs.tails
    try:
        async with limiter.slot():
            await ws.accept()
            try:
                tail = _Tail(source, query, delay_s, details=ws.query_params.get("fields") == "1")
                await _follow(ws, tail, start_ns, limit, ws.app.state.logs.new_lines)
            except (WebSocketDisconnect, OSError):
                return  # the client went away mid-send
            # (a return from _follow: the client closed the socket, nothing to close)
            except Exception as exc:
                if not query_interrupted(exc):
                    raise
                await ws.close(SERVER_ERROR, "the query took too long and was stopped: "
                                             "narrow it")
                return
    except TooManyRequests as exc:
        await ws.accept()
        await ws.close(TRY_LATER, _reason(exc.message))


TAIL_ROUTES = [WebSocketRoute("/loki/api/v1/tail", loki_tail, name="loki_tail")]
