"""The demo's slow-call finding from the traced chain: the operation behind most of the
slowest checkouts, which one checkout stalled by a busy machine does not outvote."""

from __future__ import annotations

from perflab.demo._tracing import slow_call_finding
from perflab.store import Store
from perflab.trace import Process, Span, SpanSink

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
SERVER, CLIENT = 2, 3


def checkout(n: int, *, miss_ms: float = 0.0, stall_ms: float = 0.0) -> list[Span]:
    """frontend GET /checkout -> api GET /query -> store SELECT prices. ``miss_ms``: the
    planted price-cache miss, in SELECT prices; ``stall_ms``: a stall in the api's call
    before the store answers (a connection, a thread start on a busy machine)."""
    trace = n.to_bytes(16, "big")
    start = T0 + n * 100 * MS
    jitter = (n % 7) * 0.1  # checkouts differ a little: a median exists

    def span(  # noqa: PLR0917  # a span reads best as one positional row
            k: int, parent: int | None, service: str, name: str, at_ms: float, dur_ms: float,
            kind: int) -> Span:
        proc = Process(service, {"service.name": service}, "tests", "1")
        return Span(trace, (n * 10 + k).to_bytes(8, "big"),
                    None if parent is None else (n * 10 + parent).to_bytes(8, "big"), name,
                    kind, start + int(at_ms * MS), int(dur_ms * MS), proc, 0, "", {}, ())

    extra = miss_ms + stall_ms + jitter
    return [
        span(1, None, "frontend", "GET /checkout", 0, 20 + extra, SERVER),
        span(2, 1, "api", "GET /query", 2, 16 + extra, CLIENT),
        span(3, 2, "store", "SELECT prices", 3 + stall_ms, 10 + miss_ms + jitter, CLIENT),
    ]


def test_the_planted_call_is_named_though_one_stalled_checkout_outweighs_it(tmp_path):
    # 60 checkouts, one in 20 a miss: the slowest 5 % are 3, of which a busy machine
    # stalled one elsewhere, adding more than both misses together
    spans = [s for n in range(57) for s in checkout(n)]
    spans += checkout(57, miss_ms=120) + checkout(58, miss_ms=120)
    spans += checkout(59, stall_ms=1000)
    with Store.open(tmp_path / "s.db") as store:
        with store.transaction():
            SpanSink().write(store, spans)
        found = slow_call_finding(store, T0, T0 + 60 * 100 * MS)
    assert len(found.details.get("slow_traces") or []) == 3
    assert found.details["operation"] == "store: SELECT prices", found.summary
    assert found.detected, found.summary
    assert (found.details.get("share") or 0) > 0.9  # all of a typical slow checkout's extra
