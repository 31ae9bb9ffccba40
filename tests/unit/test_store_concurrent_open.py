"""Several processes opening one new store at once (a recorder and `perflab runs`, say)."""

import multiprocessing as mp

from perflab.store import SCHEMA_VERSION, Store


def _open(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        with Store.open(path) as st:
            st.runs()
        results.put("ok")
    except Exception as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_racing_to_create_a_store_all_succeed(tmp_path):
    ctx = mp.get_context("fork")
    for attempt in range(5):
        path = str(tmp_path / f"race{attempt}.db")
        barrier = ctx.Barrier(4)
        results = ctx.Queue()
        procs = [ctx.Process(target=_open, args=(path, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(30)
        assert outcomes == ["ok"] * 4
        with Store.open(path) as st:
            assert st.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
