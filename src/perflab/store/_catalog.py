"""Small questions about the runs a store holds, asked by pages that list or cache them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from perflab.store._store import Store


def run_kinds(store: Store) -> list[str]:
    """Every kind of run the store holds, sorted (the choices of a kind filter)."""
    return [str(r[0]) for r in store.conn.execute("SELECT DISTINCT kind FROM runs ORDER BY kind")]


def runs_generation(store: Store, kind: str) -> tuple[int, int, int]:
    """(count, newest id, running) of the runs of one kind: changes whenever such a run is
    added, deleted or finished, so a cache of what they hold knows when to read again."""
    row = store.conn.execute(
        "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(status = 'running'), 0) FROM runs"
        " WHERE kind = ?", (kind,)).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def interrupt(store: Store) -> None:
    """Stop the query running on this store's connection now (from any thread): it raises
    ``sqlite3.OperationalError: interrupted`` in the thread that ran it."""
    store.conn.interrupt()


def set_query_deadline(store: Store, past_deadline: Callable[[], int], steps: int) -> None:
    """Every ``steps`` SQLite VM steps, call ``past_deadline``; a true answer stops the running
    query with ``sqlite3.OperationalError: interrupted`` (a per-request query deadline)."""
    store.conn.set_progress_handler(past_deadline, steps)


def query_interrupted(exc: BaseException) -> bool:
    """The error is a query this store stopped: past its deadline (``set_query_deadline``) or
    interrupted (``interrupt``, at shutdown). Callers answer "too slow" instead of failing."""
    import sqlite3  # noqa: PLC0415  # the store is what knows its driver's errors

    return isinstance(exc, sqlite3.OperationalError) and "interrupt" in str(exc)
