"""A new store's word index keeps no token counts per line (FTS5 ``columnsize=0``: no
``logs_words_docsize`` row a line, which only ranking functions read), and the index still
answers words and trace ids, and forgets the lines retention deletes, FTS5's own integrity
check agreeing."""

from __future__ import annotations

from perflab.logs import LogEntry, LogSink, Retention, apply_retention
from perflab.store import Store, canonical_labels, log_lines_of_trace

S = 10**9
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
LABELS = canonical_labels({"job": "api"})


def _tables(store: Store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}


def _words(store: Store, word: str) -> list[int]:
    return [r[0] for r in store.conn.execute(
        "SELECT rowid FROM logs_words WHERE logs_words MATCH ?", (f'"{word}"',))]


def test_the_word_index_keeps_no_token_counts_and_still_answers(store):
    assert "logs_words" in _tables(store)
    assert "logs_words_docsize" not in _tables(store)
    with store.transaction():
        LogSink(clock=lambda: 0.0).write(store, [
            LogEntry(LABELS, 10 * S, f"level=info old trace_id={TRACE}"),
            LogEntry(LABELS, 1_000 * S, "level=error recent")])
    assert _words(store, "recent") == [2]
    assert [r.id for r in log_lines_of_trace(store, bytes.fromhex(TRACE), limit=10)] == [1]
    apply_retention(store, Retention(max_age_ns=500 * S), now_ns=1_000 * S)
    assert _words(store, "old") == []
    assert _words(store, TRACE) == []
    store.conn.execute("INSERT INTO logs_words (logs_words) VALUES ('integrity-check')")
