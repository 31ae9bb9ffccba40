"""The store's reads for the log pages and the live tail: lines after a given one in arrival
order (a line pushed late with an old time is still new), and counts by level per bucket."""

from __future__ import annotations

import pytest

from perflab.logs import LogEntry, LogSink
from perflab.store import (
    Store,
    canonical_labels,
    last_log_id,
    log_level_counts,
    log_lines_after,
    log_stream_id,
)

S = 10**9


def _write(store: Store, lines: list[tuple[dict[str, str], int, str]],
           run_id: int | None = None) -> None:
    sink = LogSink(run_id=lambda: run_id, clock=lambda: 0.0)
    with store.transaction():
        sink.write(store, [LogEntry(canonical_labels(lab), ts, line) for lab, ts, line in lines])


def _sid(labels: dict[str, str]) -> int:
    return log_stream_id(canonical_labels(labels))


def test_lines_after_follow_arrival_order_not_time(store):
    assert last_log_id(store) == 0
    _write(store, [({"job": "a"}, 50 * S, "first"), ({"job": "b"}, 60 * S, "other stream")])
    mark = last_log_id(store)
    _write(store, [({"job": "a"}, 70 * S, "new"), ({"job": "a"}, 1 * S, "late, with an old time"),
                   ({"job": "b"}, 80 * S, "b again")])
    got = log_lines_after(store, [_sid({"job": "a"})], mark, limit=10)
    assert [r.line for r in got] == ["new", "late, with an old time"]
    assert [r.line for r in log_lines_after(store, [_sid({"job": "a"})], mark, limit=1)] == [
        "new"]
    assert log_lines_after(store, [_sid({"job": "a"})], last_log_id(store), limit=10) == []
    assert log_lines_after(store, [], 0, limit=10) == []


def test_level_counts_per_bucket_by_stream_text_and_run(store):
    rid = store.create_run("record", "r").id
    _write(store, [({"job": "a"}, 10 * S, "level=info x"), ({"job": "a"}, 11 * S, "level=error x"),
                   ({"job": "a"}, 25 * S, "level=error y"), ({"job": "b"}, 12 * S, "no level")])
    _write(store, [({"job": "a"}, 29 * S, "level=error in the run")], run_id=rid)
    assert log_level_counts(store, None, 10 * S, 30 * S, 10 * S) == [
        (0, None, 1), (0, "error", 1), (0, "info", 1), (1, "error", 2)]
    assert log_level_counts(store, [_sid({"job": "a"})], 10 * S, 30 * S, 10 * S,
                            contains=["x"]) == [(0, "error", 1), (0, "info", 1)]
    assert log_level_counts(store, None, 0, 100 * S, 100 * S, run_id=rid) == [(0, "error", 1)]
    assert log_level_counts(store, [], 0, 100 * S, S) == []
    with pytest.raises(ValueError, match="positive"):
        log_level_counts(store, None, 0, 1, 0)


def test_a_follower_reads_new_lines_in_batches_and_only_its_own(store):
    """``Follower.poll``: the query's new lines in arrival order, at most ``limit`` read a
    poll (the rest at the next), none twice, other streams and runs left out; a poll when
    nothing arrived gives nothing."""
    from perflab.logs import Follower, log_query  # noqa: PLC0415

    rid = store.create_run("record", "r").id
    follower = Follower(log_query('{job="a"} |= "keep"'), last_log_id(store), run_id=rid)
    assert follower.poll(store) == []
    _write(store, [({"job": "a"}, k, f"keep {k}") for k in range(5)], run_id=rid)
    _write(store, [({"job": "b"}, 9, "keep, other stream"), ({"job": "a"}, 9, "drop")],
           run_id=rid)
    _write(store, [({"job": "a"}, 10, "keep, no run")])
    assert [k[2] for k in follower.poll(store, limit=3)] == ["keep 0", "keep 1", "keep 2"]
    assert [k[2] for k in follower.poll(store, limit=3)] == ["keep 3", "keep 4"]
    assert follower.poll(store, limit=3) == []
    assert follower.poll(store) == []
    _write(store, [({"job": "a"}, 0, "keep, late")], run_id=rid)
    assert [k[2] for k in follower.poll(store)] == ["keep, late"]
