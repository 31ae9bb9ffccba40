"""Schema 10: spans are keyed by their trace's number (span_traces, in first-seen order), not by
the random trace id; a question by trace id gets the same answer, a span sent twice is still
stored once, a v9 file's spans are numbered by the migration, and retention forgets the
numbers of traces no span is left of."""

from __future__ import annotations

from tests.conftest import store_file_at_version
from tests.unit.trace._spandata import T0, demo_trace, sid, span, tid, write

from perflab.store import (
    SCHEMA_VERSION,
    Store,
    delete_oldest_spans,
    name_id,
    prune_span_catalog,
    service_edges,
    span_stats,
    trace_spans,
    trace_summaries,
)


def _numbers(store: Store) -> list[int]:
    return [r[0] for r in store.conn.execute("SELECT seq FROM span_traces ORDER BY seq")]


def test_spans_are_keyed_by_their_trace_number(store):
    key = [r[2] for r in store.conn.execute("PRAGMA index_info(spans_trace)")]
    assert key == ["trace_seq", "span_id"]
    write(store, demo_trace(2) + demo_trace(1))
    assert store.conn.execute("SELECT trace_id FROM span_traces ORDER BY seq").fetchall() == [
        (tid(2),), (tid(1),)]  # numbered as first seen
    write(store, demo_trace(1))  # sent again: nothing new
    assert span_stats(store)[0] == 14
    assert _numbers(store) == [1, 2]
    spans, total = trace_spans(store, tid(1), limit=100)
    assert total == 7
    assert {s.trace_id for s in spans} == {tid(1)}
    assert trace_spans(store, tid(3), limit=100) == ([], 0)


def test_a_v9_store_numbers_its_spans_and_keeps_answering_by_trace(tmp_path):
    path = tmp_path / "v9.db"
    conn = store_file_at_version(path, 9)
    svc, op = name_id("api"), name_id("api", "GET /items")
    conn.execute("INSERT INTO span_services (id, name) VALUES (?, 'api')", (svc,))
    conn.execute("INSERT INTO span_ops (op_id, kind, service_id, name)"
                 " VALUES (?, 2, ?, 'GET /items')", (op, svc))
    for trace, span_id, parent in ((7, 1, None), (7, 2, 1), (8, 1, None)):
        conn.execute(
            "INSERT INTO spans (trace_id, span_id, parent_id, service_id, op_id, process_id,"
            " kind, start_ns, duration_ns) VALUES (?, ?, ?, ?, ?, 1, 2, ?, 1000)",
            (tid(trace), sid(span_id), None if parent is None else sid(parent), svc, op,
             T0 + span_id))
    conn.close()
    with Store.open(path) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 10
        assert _numbers(st) == [1, 2]
        spans, total = trace_spans(st, tid(7), limit=10)
        assert total == 2
        assert [s.span_id for s in spans] == [sid(1), sid(2)]
        # a v9 span sent again is not stored twice; a new span of a v9 trace joins it
        write(st, [span(7, 2, 1, "api", "GET /items", 0, 1),
                   span(7, 3, 2, "db", "SELECT", 0, 1)])
        assert span_stats(st)[0] == 4
        (summary,) = trace_summaries(st, [tid(7)])
        assert (summary.spans, summary.missing_parents) == (3, 0)
        assert service_edges(st, 0, 2**62) == [("api", "db", 1, 0)]


def test_retention_forgets_the_numbers_of_traces_with_no_span_left(store):
    write(store, demo_trace(1) + demo_trace(2) + demo_trace(3))
    assert delete_oldest_spans(store, keep=7) == 14
    prune_span_catalog(store)
    assert _numbers(store) == [3]
    write(store, demo_trace(1))  # trace 1 again, after its spans went: a new number
    assert _numbers(store) == [3, 4]
    assert trace_spans(store, tid(1), limit=100)[1] == 7
    delete_oldest_spans(store, keep=0)
    prune_span_catalog(store)
    assert _numbers(store) == []
