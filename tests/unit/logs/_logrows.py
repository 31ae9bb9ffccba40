"""What the store holds of received log lines, read back for the receivers' tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import wait_for

from perflab.logs import LogEntry, LogSink
from perflab.store import Store, log_lines, log_stats, log_streams


def stored(path: Path) -> list[dict[str, Any]]:
    """Every line, oldest first: labels, line, level, hex ids, fields, time, run."""
    with Store.open(path) as store:
        streams = dict(log_streams(store))
        rows = list(log_lines(store, list(streams), 0, 2**63 - 1, backward=False))
    return [{"labels": json.loads(streams[r.stream_id]), "line": r.line, "level": r.level,
             "trace_id": r.trace_id.hex() if r.trace_id else None,
             "span_id": r.span_id.hex() if r.span_id else None,
             "fields": json.loads(r.fields) if r.fields else {}, "ts_ns": r.ts_ns,
             "run_id": r.run_id} for r in rows]


def count(path: Path) -> int:
    with Store.open(path) as store:
        return log_stats(store)[0]


def wait_stored(path: Path, n: int) -> list[dict[str, Any]]:
    """The lines once ``n`` are stored (the ingest queue writes in rounds)."""
    wait_for(lambda: count(path) >= n, timeout_s=30, what=f"{n} lines stored")
    return stored(path)


def store_of(tmp_path_factory: Any, name: str, entries: list[LogEntry]) -> Iterator[Store]:
    """A module's store holding ``entries`` (written through the LogSink as a receiver
    writes them), reopened for reading; closed after the module (a fixture's body)."""
    path = tmp_path_factory.mktemp(name) / "s.db"
    sink = LogSink(run_id=lambda: None, clock=lambda: 0.0)
    with Store.open(path) as st, st.transaction():
        sink.write(st, entries)
    st = Store.open(path)
    yield st
    st.close()
