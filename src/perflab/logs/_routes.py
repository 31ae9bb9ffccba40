"""Everything logs add to the hub's app: the Loki push receiver, Loki's query API and the Logs
page (``ROUTES``, mounted by the hub), and ``LogsHub``, which the hub starts on its ingest
queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from perflab.logs._api import API_ROUTES
from perflab.logs._live import MAX_TAILS, TAIL_ROUTES
from perflab.logs._page_api import PAGE_API_ROUTES
from perflab.logs._pages import PAGE_ROUTES
from perflab.logs._push import loki_push
from perflab.logs._sink import LogSink, Retention
from perflab.serving import ConcurrencyLimiter

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.store import IngestQueue

ROUTES = [
    Route("/loki/api/v1/push", loki_push, methods=["POST"], name="loki_push"),
    *API_ROUTES,
    *TAIL_ROUTES,
    *PAGE_API_ROUTES,
    *PAGE_ROUTES,
]


class LogsHub:
    """The logs side of ``perflab serve``: the sink the receivers submit to, on the hub's one
    ingest queue; lines land in the hub's recording run (none with ``--no-record``)."""

    def __init__(self, *, retention: Retention | None = None) -> None:
        self.sink = LogSink(retention=retention)
        self.tails = ConcurrencyLimiter(MAX_TAILS, 0, what="live tails")  # /loki/api/v1/tail

    def start(self, queue: IngestQueue, record_run: Callable[[], int | None]) -> None:
        self.sink.run_id = record_run
        self.sink.register(queue)
