"""Schema 10: a line's trace id is found through the word index (no B-tree on trace ids), for
lines written now and for the lines an older file holds; a line deleted by retention leaves
nothing of itself in the index, its trace id included."""

from __future__ import annotations

from tests.conftest import store_file_at_version

from perflab.logs import LogEntry, LogSink, Retention, apply_retention
from perflab.store import (
    SCHEMA_VERSION,
    Store,
    canonical_labels,
    log_lines_of_trace,
    log_stream_id,
)

S = 10**9
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
LABELS = canonical_labels({"job": "api"})


def _write(store: Store, entries: list[LogEntry]) -> None:
    with store.transaction():
        LogSink(clock=lambda: 0.0).write(store, entries)


def _indexed(store: Store, word: str) -> list[int]:
    """The rowids the word index holds for ``word``."""
    return [r[0] for r in store.conn.execute(
        "SELECT rowid FROM logs_words WHERE logs_words MATCH ?", (f'"{word}"',))]


def test_no_btree_indexes_trace_ids(store):
    indexes = [r[1] for r in store.conn.execute("PRAGMA index_list(logs)")]
    assert "logs_trace" not in indexes
    assert not [i for i in indexes
                if "trace_id" in [c[2] for c in store.conn.execute(f"PRAGMA index_info({i})")]]


def test_a_trace_id_from_metadata_finds_its_line_until_retention_deletes_it(store):
    """The id is not in the line's text (it came as structured metadata): the index holds it
    beside the line's words, and deleting the line takes both out."""
    _write(store, [LogEntry(LABELS, 1 * S, "checkout done", (("trace_id", TRACE),)),
                   LogEntry(LABELS, 2 * S, "no trace")])
    got = log_lines_of_trace(store, bytes.fromhex(TRACE), limit=10)
    assert [r.line for r in got] == ["checkout done"]
    apply_retention(store, Retention(max_age_ns=S), now_ns=3 * S)  # ts < 2 s goes
    assert log_lines_of_trace(store, bytes.fromhex(TRACE), limit=10) == []
    assert _indexed(store, TRACE) == []
    assert _indexed(store, "checkout") == []
    assert len(_indexed(store, "trace")) == 1  # the line kept is still indexed


def test_a_v9_store_finds_its_lines_by_trace_after_migrating(tmp_path):
    """A v9 file indexed the lines' text only: the migration adds each line's trace id, and
    retention later deletes such a line from the index whole."""
    path = tmp_path / "v9.db"
    conn = store_file_at_version(path, 9)
    sid = log_stream_id(LABELS)
    conn.execute("INSERT INTO log_streams (id, labels) VALUES (?, ?)", (sid, LABELS))
    for i, (line, tid) in enumerate([("payment failed", bytes.fromhex(TRACE)),
                                     (f"trace_id={TRACE} retried", bytes.fromhex(TRACE)),
                                     ("unrelated", None)], start=1):
        conn.execute("INSERT INTO logs (id, ts_ns, stream_id, trace_id, line) VALUES (?,?,?,?,?)",
                     (i, i * S, sid, tid, line))
        conn.execute("INSERT INTO logs_words (rowid, line) VALUES (?, ?)", (i, line))
    conn.execute("INSERT INTO log_minutes (stream_id, minute, level, lines, bytes)"
                 " SELECT stream_id, 1, '', COUNT(*), SUM(length(line)) FROM logs GROUP BY 1")
    conn.close()
    with Store.open(path) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 10
        got = log_lines_of_trace(st, bytes.fromhex(TRACE), limit=10)
        assert [r.line for r in got] == ["payment failed", f"trace_id={TRACE} retried"]
        apply_retention(st, Retention(max_age_ns=S), now_ns=4 * S)  # ts < 3 s goes
        assert _indexed(st, TRACE) == []
        assert _indexed(st, "payment") == []
        assert _indexed(st, "unrelated") == [3]


def test_what_a_line_lacks_is_stored_as_null(store):
    """The ingest path hands the store '' for a missing value (it binds faster than None):
    what lands in the row is NULL, as every query expects; ids stay blobs."""
    _write(store, [LogEntry(LABELS, 1 * S, "plain"),
                   LogEntry(LABELS, 2 * S, f"level=warn trace_id={TRACE} span_id=00f067aa0ba902b7",
                            (("user", "7"),))])
    rows = store.conn.execute(
        "SELECT typeof(run_id), typeof(level), typeof(trace_id), typeof(span_id),"
        " typeof(fields) FROM logs ORDER BY ts_ns").fetchall()
    assert rows == [("null", "null", "null", "null", "null"),
                    ("null", "text", "blob", "blob", "text")]
