"""Schema 8: the word index answers ``|=`` exactly (a pre-filter, the line checked), the
per-minute counts are the lines' counts (written with them, taken out with them), and a v7
file gains both from the lines it holds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import store_file_at_version

from perflab.logs import LogEntry, LogSink, Retention, apply_retention
from perflab.store import (
    SCHEMA_VERSION,
    Store,
    canonical_labels,
    log_counts,
    log_lines,
    log_streams,
)

M = 60 * 10**9
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _write(store: Store, lines: list[tuple[dict[str, str], int, str]]) -> None:
    with store.transaction():
        LogSink(clock=lambda: 0.0).write(
            store, [LogEntry(canonical_labels(lab), ts, line) for lab, ts, line in lines])


def _reset(store: Store) -> None:
    with store.transaction():
        store.conn.execute("DELETE FROM logs")
        store.conn.execute("INSERT INTO logs_words (logs_words) VALUES ('delete-all')")
        store.conn.execute("DELETE FROM log_minutes")
        store.conn.execute("DELETE FROM log_streams")


# words, case, non-ASCII letters and separators: substrings cut words anywhere
LINE = st.text(alphabet='ab AB-é_1"=.', max_size=24)


@SETTINGS
@given(st.lists(LINE, min_size=1, max_size=12), st.data())
def test_a_line_filter_finds_exactly_the_lines_holding_the_substring(store, lines, data):
    _reset(store)
    _write(store, [({"job": "w"}, i, line) for i, line in enumerate(lines)])
    source = data.draw(st.sampled_from(lines))
    start = data.draw(st.integers(0, len(source)))
    needle = source[start:data.draw(st.integers(start, len(source)))] or "a"
    ids = [s for s, _ in log_streams(store)]
    got = sorted(r.ts_ns for r in log_lines(store, ids, 0, 100, contains=[needle]))
    assert got == [i for i, line in enumerate(lines) if needle in line], needle
    counted = sum(n for _, _, n, _ in log_counts(store, ids, -1, 100, 101, contains=[needle]))
    assert counted == len(got)


TIMES = st.integers(-3 * M, 10 * M)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from("abc"), TIMES, st.sampled_from(["x", "é!", "yy"]),
                          st.sampled_from(["", "level=error ", "level=info "])), max_size=30),
       st.integers(-4 * M, 9 * M), st.integers(1, 5 * M), st.integers(1, 4))
def test_counts_from_minutes_are_the_lines_counts(store, lines, origin, width, buckets):
    """Aligned buckets come from the minutes, one unaligned window from its whole minutes and
    its two ends; either way each bucket holds what the lines say, bytes too."""
    _reset(store)
    _write(store, [({"job": job}, ts, level + text) for job, ts, text, level in lines])
    ids = [s for s, _ in log_streams(store)]
    by_label = dict(log_streams(store))
    for o, w, k in ((origin, width, 1), (origin // M * M, max(1, width // M) * M, buckets)):
        end = o + k * w
        want: dict[tuple[str, int], list[int]] = {}
        for job, ts, text, level in lines:
            if o < ts <= end:
                got = want.setdefault((f'{{"job":"{job}"}}', (ts - o + w - 1) // w), [0, 0])
                got[0] += 1
                got[1] += len((level + text).encode())
        rows = log_counts(store, ids, o, end, w, with_bytes=True)
        assert {(by_label[s], b): [n, size] for s, b, n, size in rows} == want


def test_retention_takes_lines_out_of_their_minutes(store):
    _write(store, [({"job": "a"}, ts, "l") for ts in (1, 2, M + 1, 5 * M)])
    apply_retention(store, Retention(max_age_ns=M), now_ns=M + 2)  # ts < 2 goes
    assert store.conn.execute("SELECT minute, lines, bytes FROM log_minutes ORDER BY 1"
                              ).fetchall() == [(1, 1, 1), (2, 1, 1), (5, 1, 1)]
    apply_retention(store, Retention(max_age_ns=M), now_ns=4 * M)
    assert store.conn.execute("SELECT minute, lines FROM log_minutes").fetchall() == [(5, 1)]


def test_a_v7_store_gains_the_word_index_and_the_minutes(tmp_path):
    path = tmp_path / "v7.db"
    conn = store_file_at_version(path, 7)
    conn.execute("INSERT INTO log_streams VALUES (1, '{\"job\":\"old\"}')")
    conn.executemany("INSERT INTO logs (ts_ns, stream_id, level, line) VALUES (?, 1, ?, ?)",
                     [(5, "error", "Disk Full"), (M + 5, None, "ok é"), (-M - 1, None, "old")])
    conn.execute("INSERT INTO logs_fts (logs_fts) VALUES ('rebuild')")
    conn.close()
    with Store.open(path) as st_:
        assert st_.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [r.line for r in log_lines(st_, [1], -10 * M, 10 * M, contains=[" Full"])] == [
            "Disk Full"]
        assert st_.conn.execute("SELECT minute, level, lines, bytes FROM log_minutes"
                                " ORDER BY minute").fetchall() == [
            (-1, "", 1, 3), (1, "error", 1, 9), (2, "", 1, 5)]
        assert not st_.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'logs_fts'"
                                    ).fetchall()


def test_a_common_word_narrows_the_window_instead_of_being_read_first(store, monkeypatch):
    """Past ``_FEW`` lines the index's lines narrow the window's (not read by rowid): the same
    answer either way."""
    import perflab.store._logs as logs_store  # noqa: PLC0415

    _write(store, [({"job": "a"}, i, f"GET /item/{i} took {i % 3}ms") for i in range(30)])
    ids = [s for s, _ in log_streams(store)]
    want = [i for i in range(10, 20) if f" took {1}m" in f"GET /item/{i} took {i % 3}ms"]
    for few in (1000, 2):
        monkeypatch.setattr(logs_store, "_FEW", few)
        got = [r.ts_ns for r in log_lines(store, ids, 10, 20, contains=[" took 1m"],
                                          backward=False)]
        assert got == want
        counted = log_counts(store, ids, 9, 19, 10, contains=[" took 1m"])
        assert [n for _, _, n, _ in counted] == [len(want)]
