"""Log lines in the store (schema v7): a v6 file migrates, lines and streams are written and
indexed once, the full-text index finds what ``|=`` asks for, retention removes the oldest
lines with their index entries and streams."""

from __future__ import annotations

from tests.conftest import store_file_at_version

from perflab.logs import LogEntry, LogSink, Retention, apply_retention
from perflab.store import (
    SCHEMA_VERSION,
    Store,
    _logs,
    canonical_labels,
    log_counts,
    log_lines,
    log_lines_of_trace,
    log_stats,
    log_streams,
)
from perflab.store._logs import substring_glob

S = 10**9


def _write(store: Store, lines: list[tuple[dict[str, str], int, str]]) -> None:
    sink = LogSink(clock=lambda: 0.0)
    with store.transaction():
        sink.write(store, [LogEntry(canonical_labels(lab), ts, line) for lab, ts, line in lines])


def test_a_v6_store_is_migrated_and_keeps_its_runs(tmp_path):
    """Schema v7 adds logs, log_streams and the FTS index: a v6 file gains them (and what
    later versions add) and keeps its runs."""
    path = tmp_path / "v6.db"
    conn = store_file_at_version(path, 6)
    conn.execute("INSERT INTO runs (kind, name, status, started_ns, host)"
                 " VALUES ('record', 'old', 'ok', 1, 'h')")
    conn.close()
    with Store.open(path) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert st.run("old").name == "old"
        _write(st, [({"job": "a"}, 5, "migrated line")])
        rows = list(log_lines(st, [s for s, _ in log_streams(st)], 0, 10,
                              contains=["migrated"]))
    assert [r.line for r in rows] == ["migrated line"]


def test_lines_keep_their_level_ids_metadata_and_run(store):
    """Level and ids are read from the line's fields at ingest; the fields themselves are read
    again by a query's parser, only the structured metadata is kept beside the line."""
    rid = store.create_run("record", "r").id
    sink = LogSink(run_id=lambda: rid, clock=lambda: 0.0)
    with store.transaction():
        sink.write(store, [LogEntry(canonical_labels({"job": "a"}), 7,
                                    '{"lvl":"WARNING","traceID":"4bf92f3577b34da6a3ce929d0e0e4736",'
                                    '"span_id":"00f067aa0ba902b7","n":1}', (("k", "v"),))])
    (row,) = log_lines(store, [s for s, _ in log_streams(store)], 0, 10)
    assert row.trace_id is not None
    assert row.span_id is not None
    assert (row.level, row.trace_id.hex(), row.span_id.hex(), row.run_id) == (
        "warn", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", rid)
    assert row.fields == '{"k":"v"}'


def test_a_stream_is_stored_once_and_the_index_is_case_sensitive(store):
    _write(store, [({"job": "a"}, i, f"Request {i} done") for i in range(5)])
    _write(store, [({"job": "a"}, 9, "request nine")])
    assert len(log_streams(store)) == 1
    ids = [s for s, _ in log_streams(store)]
    assert [r.line for r in log_lines(store, ids, 0, 100, contains=["Request"])] == [
        f"Request {i} done" for i in (4, 3, 2, 1, 0)]
    assert [r.line for r in log_lines(store, ids, 0, 100, contains=["request"])] == [
        "request nine"]
    assert [r.ts_ns for r in log_lines(store, ids, 0, 100, contains=["3", "done"],
                                       backward=False)] == [3]


def test_a_substring_is_matched_as_written_whatever_glob_makes_of_it(store):
    """The substring check is a GLOB: its wildcards in the text are literal characters."""
    lines = ["a*b c", "axxb c", "x?y", "xzy", "[ab] 1", "a 1", "b] ]", "100%_off", "1000off",
             "Grüße", "GRÜSSE", "tab\there", "back\\slash"]
    _write(store, [({"job": "g"}, i, line) for i, line in enumerate(lines)])
    ids = [s for s, _ in log_streams(store)]

    def found(text: str) -> list[str]:
        return [r.line for r in log_lines(store, ids, 0, 100, contains=[text], backward=False)]

    assert found("*b") == ["a*b c"]
    assert found("?") == ["x?y"]
    assert found("[ab]") == ["[ab] 1"]
    assert found("]") == ["[ab] 1", "b] ]"]
    assert found("0%_") == ["100%_off"]
    assert found("üß") == ["Grüße"]
    assert found("\t") == ["tab\there"]
    assert found("\\") == ["back\\slash"]
    assert found("") == lines
    assert substring_glob("a*[?]") == "*a[*][[][?]]*"


def test_common_words_and_prefixes_give_the_same_lines_as_the_index(store, monkeypatch):
    """A word in more lines than the window holds, and a prefix over a small window, are not
    looked up (the window's lines are checked instead): the same lines come back."""
    monkeypatch.setattr(_logs, "_FEW", 5)  # what counts as many matches
    _write(store, [({"job": "w"}, i * 60 * S, f"GET request {i} handled") for i in range(40)])
    ids = [s for s, _ in log_streams(store)]
    window = (30 * 60 * S, 33 * 60 * S)  # 3 of the 40 lines

    def found(text: str, *, check_all: int) -> list[int]:
        monkeypatch.setattr(_logs, "_CHECK_ALL", check_all)
        return [r.ts_ns // (60 * S) for r in log_lines(store, ids, *window, contains=[text],
                                                       backward=False)]

    for check_all in (0, 10**6):  # the prefix looked up, or not
        assert found("T request 3", check_all=check_all) == [30, 31, 32]  # "request": 40 lines
        assert found("ET requ", check_all=check_all) == [30, 31, 32]
        assert found("quest 31 hand", check_all=check_all) == [31]
        assert found("quest 31 handl", check_all=check_all) == [31]  # a long prefix: looked up
    # the whole day: "request" is in no more lines than the window holds, the index narrows
    assert [r.ts_ns // (60 * S) for r in log_lines(store, ids, 0, 40 * 60 * S,
                                                   contains=["T request 3"], backward=False)] \
        == [3, *range(30, 40)]
    counts = log_counts(store, ids, window[0] - 1, window[1] - 1, 60 * S,
                        contains=["T request"])
    assert sorted(n for _, _, n, _ in counts) == [1, 1, 1]


def test_retention_by_age_deletes_old_lines_their_index_and_empty_streams(store):
    _write(store, [({"job": "old"}, 1 * S, "old line"), ({"job": "new"}, 100 * S, "new line")])
    deleted = apply_retention(store, Retention(max_age_ns=50 * S), now_ns=110 * S)
    assert deleted == 1
    assert [lab for _, lab in log_streams(store)] == ['{"job":"new"}']
    assert store.conn.execute("SELECT COUNT(*) FROM logs_words WHERE logs_words MATCH"
                              " '\"line\"'").fetchone()[0] == 1
    store.conn.execute("INSERT INTO logs_words (logs_words) VALUES ('integrity-check')")  # raises
    # the old line's minute is gone with it, the new line's stays
    assert store.conn.execute("SELECT minute, lines, bytes FROM log_minutes").fetchall() == [
        (2, 1, 8)]


def test_retention_by_size_keeps_the_newest(store):
    _write(store, [({"job": "a"}, i, "x" * 100) for i in range(100)])
    apply_retention(store, Retention(max_age_ns=None, max_bytes=10_000), now_ns=0)
    count, oldest, newest = log_stats(store)
    assert 0 < count < 100
    assert newest == 99
    assert oldest == 100 - count


def test_a_selector_over_thousands_of_streams_is_answered(store):
    """More stream ids than SQLite takes as variables (32,766) go in as one JSON array."""
    _write(store, [({"job": "many", "n": str(i)}, i, f"line {i}") for i in range(40_000)])
    ids = [s for s, _ in log_streams(store)]
    assert len(ids) == 40_000
    assert sum(1 for _ in log_lines(store, ids, 0, 10**9, contains=["line 3999"])) == 11
    assert sum(n for _, _, n, _ in log_counts(store, ids, -1, 10**9, 10**9)) == 40_000


def test_the_lines_of_a_trace_come_oldest_first_and_bounded(store):
    """``log_lines_of_trace``: the lines whose trace id is the one asked for, by time, at
    most ``limit``; a line of another trace, or of none, is not one of them."""
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    other = "00000000000000000000000000000abc"
    _write(store, [({"job": "api"}, 3 * S, f"trace_id={trace} span_id=00f067aa0ba902b7 late"),
                   ({"job": "db"}, 1 * S, f"trace_id={trace} early"),
                   ({"job": "api"}, 2 * S, f"trace_id={other} other"),
                   ({"job": "api"}, 2 * S, "no trace at all")])
    got = log_lines_of_trace(store, bytes.fromhex(trace), limit=10)
    assert [r.line.rsplit(" ", 1)[1] for r in got] == ["early", "late"]
    assert got[1].span_id == bytes.fromhex("00f067aa0ba902b7")
    assert got[0].span_id is None
    assert [r.line for r in log_lines_of_trace(store, bytes.fromhex(trace), limit=1)] == [
        f"trace_id={trace} early"]
    assert log_lines_of_trace(store, bytes(16), limit=10) == []
