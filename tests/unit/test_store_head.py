"""Schema v2: samples land in a time-clustered head and move to `samples` in sorted batches.

Readers must not be able to tell: every sample is seen once, before and after compaction.
"""

import sqlite3

from perflab.store import SCHEMA_VERSION, BatchWriter, Store
from perflab.store._schema import _V1, APPLICATION_ID, _statements


def _fill(store, ticks=5, series=3):
    run = store.create_run("record", "head")
    w = BatchWriter(store, run.id)
    ids = [w.series("x", {"i": str(i)}) for i in range(series)]
    for t in range(ticks):
        for sid in ids:
            w.add(sid, 1000 + t, float(t * 10 + sid))
        w.flush()
    return run.id, ids


def _head_rows(store) -> int:
    return store.conn.execute("SELECT COUNT(*) FROM samples_head").fetchone()[0]


def test_samples_read_the_same_before_and_after_compaction(store):
    run_id, ids = _fill(store)
    before = {sid: store.samples(sid) for sid in ids}
    counts_before = store.sample_counts(run_id)
    assert _head_rows(store) == 15
    assert store.compact_samples() == 15
    assert _head_rows(store) == 0
    assert {sid: store.samples(sid) for sid in ids} == before
    assert store.sample_counts(run_id) == counts_before == dict.fromkeys(ids, 5)
    assert before[ids[0]] == [(1000 + t, float(t * 10 + ids[0])) for t in range(5)]


def test_windows_cover_both_tables(store):
    _, ids = _fill(store)
    store.compact_samples()
    w = BatchWriter(store, store.run("head").id)
    w.add(ids[0], 1005, 99.0)
    w.flush()
    assert store.samples(ids[0], 1003, 1005) == [(1003, 30.0 + ids[0]), (1004, 40.0 + ids[0]),
                                                (1005, 99.0)]


def test_a_rewritten_timestamp_reads_as_its_newest_value(store):
    run_id, ids = _fill(store)
    store.compact_samples()
    store.insert_samples([(ids[0], 1002, -1.0)])
    assert store.samples(ids[0])[2] == (1002, -1.0)
    assert len(store.samples(ids[0])) == 5
    assert store.run_values(run_id)[2] == (ids[0], -1.0)
    store.compact_samples()
    assert store.samples(ids[0])[2] == (1002, -1.0)
    assert len(store.samples(ids[0])) == 5


def test_run_values_is_every_series_in_one_pass(store):
    run_id, ids = _fill(store, ticks=4)
    store.compact_samples()
    w = BatchWriter(store, run_id)
    w.add(ids[1], 2000, 7.0)
    w.flush()
    expected = [(sid, v) for sid in ids for _, v in store.samples(sid)]
    assert store.run_values(run_id) == expected
    assert expected[8] == (ids[1], 7.0)  # the last of the second series


def test_delete_run_removes_samples_from_both_tables(store):
    run_id, _ = _fill(store)
    store.compact_samples()
    _fill(store)
    store.delete_run(run_id)
    remaining = store.conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    assert (remaining, _head_rows(store)) == (0, 15)


def test_closing_a_writer_compacts_its_head(store_path):
    st = Store.open(store_path)
    _fill(st)
    st.close()
    with Store.open(store_path) as again:
        assert _head_rows(again) == 0
        assert again.conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 15


def test_a_store_compacts_by_itself_when_the_head_is_old(store, monkeypatch):
    run_id, ids = _fill(store, ticks=1)
    monkeypatch.setattr(store, "_compacted_at", store._compacted_at - 31.0)
    store.insert_samples([(ids[0], 5000, 1.0)])
    assert _head_rows(store) == 0
    assert sum(store.sample_counts(run_id).values()) == 4


def test_a_version_1_store_is_migrated_with_its_samples(store_path):
    conn = sqlite3.connect(store_path, isolation_level=None)
    for statement in _statements(_V1):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("INSERT INTO runs (kind, name, status, started_ns, host) VALUES"
                 " ('record', 'old', 'ok', 1, 'h')")
    conn.execute("INSERT INTO series (run_id, name) VALUES (1, 'x')")
    conn.execute("INSERT INTO samples VALUES (1, 10, 1.5)")
    conn.close()
    with Store.open(store_path) as st:
        assert st.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert st.samples(1) == [(10, 1.5)]
