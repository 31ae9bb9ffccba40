"""The ingest queue: whole batches accepted or refused, one writer, nothing accepted is lost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from perflab.errors import StoreFull
from perflab.store import IngestQueue, Store


def _write_events(store: Store, items: list[tuple[int, str]]) -> None:
    for run_id, text in items:
        store.add_event(run_id, "ingest", text, ts_ns=1)


def _run(path: Path) -> int:
    with Store.open(path) as st:
        return st.create_run("serve", "hub").id


def _texts(path: Path, run_id: int) -> list[str]:
    with Store.open(path) as st:
        return sorted(e.text for e in st.events(run_id))


def test_accepted_batches_are_all_written_by_stop(store_path):
    run_id = _run(store_path)
    q = IngestQueue(store_path, linger_s=0)
    q.register("events", _write_events)
    q.start()
    for i in range(20):
        assert q.submit("events", [(run_id, f"{i}-{j}") for j in range(5)])
    stats = q.stop()
    assert (stats.accepted, stats.written, stats.pending, stats.refused) == (100, 100, 0, 0)
    assert len(_texts(store_path, run_id)) == 100


def test_a_full_queue_refuses_a_whole_batch_and_keeps_what_it_holds(store_path):
    run_id = _run(store_path)
    q = IngestQueue(store_path, max_items=10, linger_s=0)
    q.register("events", _write_events)  # not started: nothing drains
    assert q.submit("events", [(run_id, "a")] * 6)
    assert not q.submit("events", [(run_id, "b")] * 5)  # 11 > 10: refused whole
    assert q.submit("events", [(run_id, "c")] * 4)
    stats = q.stats()
    assert (stats.accepted, stats.refused, stats.pending) == (10, 5, 10)
    q.start()
    q.stop()
    assert _texts(store_path, run_id) == ["a"] * 6 + ["c"] * 4


def test_a_batch_counts_its_size_against_the_bound_and_the_stats(store_path):
    """One item holding many (a request's samples column-wise) counts as many: the bound
    holds in samples, and accepted, pending and written say samples too."""
    run_id = _run(store_path)
    q = IngestQueue(store_path, max_items=10, linger_s=0)
    q.register("events", _write_events)
    assert q.submit("events", [(run_id, "a")], size=7)
    assert not q.submit("events", [(run_id, "b")], size=4)  # 11 > 10
    assert q.submit("events", [(run_id, "c")], size=3)
    stats = q.stats()
    assert (stats.accepted, stats.refused, stats.pending) == (10, 4, 10)
    q.start()
    stats = q.stop()
    assert (stats.written, stats.pending) == (10, 0)
    assert _texts(store_path, run_id) == ["a", "c"]


def test_after_stop_nothing_is_accepted(store_path):
    q = IngestQueue(store_path, linger_s=0)
    q.register("events", _write_events)
    q.start()
    q.stop()
    assert not q.submit("events", [(1, "late")])
    assert q.stats().refused == 1


def test_a_failing_write_is_retried_and_its_batch_kept(store_path):
    run_id = _run(store_path)
    failures = {"left": 2}
    lock = threading.Lock()

    def flaky(store: Store, items: list[tuple[int, str]]) -> None:
        with lock:
            if failures["left"]:
                failures["left"] -= 1
                raise StoreFull("disk full", hint="free space")
        _write_events(store, items)

    q = IngestQueue(store_path, linger_s=0, retry_s=0.01)
    q.register("events", flaky)
    q.start()
    assert q.submit("events", [(run_id, "kept")])
    stats = q.stop()
    assert stats.failures == 2
    assert "disk full" in (stats.last_error or "")
    assert _texts(store_path, run_id) == ["kept"]


def test_one_round_is_one_transaction(store_path):
    """A write that fails half-way leaves nothing of its round behind (then succeeds whole)."""
    run_id = _run(store_path)
    calls = {"n": 0}

    def half(store: Store, items: list[tuple[int, str]]) -> None:
        calls["n"] += 1
        _write_events(store, items[:1])
        if calls["n"] == 1:
            raise RuntimeError("boom")
        _write_events(store, items[1:])

    q = IngestQueue(store_path, linger_s=0, retry_s=0.01)
    q.register("events", half)
    q.submit("events", [(run_id, "x"), (run_id, "y")])
    q.start()
    q.stop()
    assert _texts(store_path, run_id) == ["x", "y"]


def test_unknown_kinds_and_double_registration_are_programming_errors(store_path):
    q = IngestQueue(store_path)
    q.register("events", _write_events)
    with pytest.raises(ValueError, match="registered already"):
        q.register("events", _write_events)
    with pytest.raises(ValueError, match="no writer"):
        q.submit("spans", [1])
    assert q.submit("events", [])  # an empty batch is trivially accepted


def test_samples_join_an_outer_transaction(store_path):
    with Store.open(store_path) as st:
        run = st.create_run("record", "r")
        sid = st.series_id(run.id, "x", None, "")
        with st.transaction():
            st.insert_samples([(sid, 1, 1.0)])
            st.insert_samples([(sid, 2, 2.0)])
        assert [v for _, v in st.samples(sid)] == [1.0, 2.0]
