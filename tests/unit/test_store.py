"""The store: schema, runs, samples, refusal of foreign, damaged and newer files."""

from __future__ import annotations

import sqlite3

import pytest

from perflab.errors import NotFound, StoreCorrupt, StoreTooNew
from perflab.store import SCHEMA_VERSION, BatchWriter, Store


def test_a_new_store_is_wal_with_the_current_schema(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_runs_series_samples_round_trip(store):
    run = store.create_run("record", "first", meta={"interval_s": 1})
    w = BatchWriter(store, run.id)
    sid = w.series("cpu.user_pct", {"cpu": "0"}, unit="%")
    assert w.series("cpu.user_pct", {"cpu": "0"}) == sid  # same labels, same series
    for i in range(10):
        w.add(sid, 1_000 + i, float(i))
    w.flush()
    store.finish_run(run.id, "ok")
    assert store.samples(sid) == [(1_000 + i, float(i)) for i in range(10)]
    assert store.samples(sid, 1_003, 1_005) == [(1_003, 3.0), (1_004, 4.0), (1_005, 5.0)]
    got = store.run("first")
    assert got.status == "ok"
    assert got.meta == {"interval_s": 1}
    assert store.run("last").id == run.id
    assert [s.labels for s in store.series(run.id)] == [{"cpu": "0"}]


def test_unknown_run_is_not_found_with_hint(store):
    with pytest.raises(NotFound) as info:
        store.run(42)
    assert "perflab runs" in (info.value.hint or "")


def _write_sql(path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def _not_sqlite(path) -> None:
    path.write_bytes(b"hello, this is not a database\n" * 10)


def _another_programs_sqlite(path) -> None:
    _write_sql(path, "CREATE TABLE t (x)")


def _newer_schema(path) -> None:
    Store.open(path).close()
    _write_sql(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


@pytest.mark.parametrize(("make", "error", "says"), [
    (_not_sqlite, StoreCorrupt, "not an SQLite file"),
    (_another_programs_sqlite, StoreCorrupt, "not a perflab store"),
    (_newer_schema, StoreTooNew, "newer"),
])
def test_a_file_this_perflab_cannot_own_is_refused_and_left_untouched(tmp_path, make, error,
                                                                      says):
    path = tmp_path / "other.db"
    make(path)
    before = path.read_bytes()
    with pytest.raises(error, match=says):
        Store.open(path)
    assert path.read_bytes() == before


def test_a_damaged_file_is_refused(store_path):
    s = Store.open(store_path)
    s.create_run("record", "x")
    s.close()
    data = bytearray(store_path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page
    store_path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt):
        Store.open(store_path)


def test_readers_see_committed_batches_while_a_writer_holds_its_connection(store_path):
    writer_store = Store.open(store_path)
    run = writer_store.create_run("record", "live")
    w = BatchWriter(writer_store, run.id)
    sid = w.series("x")
    w.add(sid, 1, 1.0)
    w.flush()
    w.add(sid, 2, 2.0)  # open batch, not committed
    with Store.open(store_path) as reader:
        assert reader.samples(sid) == [(1, 1.0)]
    writer_store.close()
