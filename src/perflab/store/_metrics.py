"""What PromQL, the metric receivers and the Prometheus HTTP API ask of the store (schema v6).

Metrics are ordinary series and samples: a scraped ``up{job="api"}`` is a series of the run it
was collected in, beside the recorder's ``system.cpu.pct``. PromQL sees the series of every run
at once, so these functions look series up by name across runs (the ``series_name`` index) and
read the samples of many series in one window.

Two kinds of sample a REAL column cannot hold live in ``metric_marks``: Prometheus's staleness
markers (a NaN with the payload ``0x7ff0000000000002``) and plain NaN values. Readers of charts
never see them; ``metric_marks`` gives them to PromQL.

Receivers write through ``IngestQueue`` with the kinds ``"metric_samples"``
(``write_metric_samples``: items ``(run_id, name, labels_json, ts_ns, value)``, the labels in
``canonical_labels`` spelling) and ``"metric_meta"`` (``write_metric_meta``: items
``(name, type, help, unit)``).
"""

from __future__ import annotations

import json
import math
import struct
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.store._store import INT64_MAX, INT64_MIN, clamp_ns

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from perflab.store._store import Store

MARK_STALE = 1
MARK_NAN = 2
STALE_NAN_BITS = 0x7FF0000000000002  # Prometheus's staleness marker (value.StaleNaN)
_STALE_BYTES = struct.pack("<Q", STALE_NAN_BITS)

# SQLite binds at most 32766 parameters per statement; a chunk of ids stays well below.
_ID_CHUNK = 900

# A run's samples may lie a little outside its start and end (a remote-write client sends what
# it buffered, a scrape lands after the run's end is taken): series of runs that end this much
# before a window, or start this much after it, are not read at all.
RUN_SLACK_NS = 3600 * 10**9


def is_stale_nan(value: float) -> bool:
    """Whether ``value`` is Prometheus's staleness marker (not any NaN)."""
    return math.isnan(value) and struct.pack("<d", value) == _STALE_BYTES


def stale_nan() -> float:
    """The staleness marker as a float (a NaN with Prometheus's payload)."""
    return float(struct.unpack("<d", _STALE_BYTES)[0])


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One series as PromQL finds it: which run, its stored name, labels and unit."""

    id: int
    run_id: int
    name: str
    labels: dict[str, str]
    unit: str


def metrics_generation(store: Store) -> tuple[int, int, int]:
    """Changes whenever a series or a run is added or a run deleted: (newest series id,
    newest run id, runs). Caches of names and label values read again when it moves."""
    row = store.conn.execute(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM series), (SELECT COALESCE(MAX(id), 0) FROM"
        " runs), (SELECT COUNT(*) FROM runs)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def metric_names(store: Store) -> list[tuple[str, str]]:
    """Every stored series name with its unit (the unit of its first series)."""
    return [(str(n), str(u)) for n, u in store.conn.execute(
        "SELECT name, unit FROM series WHERE id IN (SELECT MIN(id) FROM series GROUP BY name)"
        " ORDER BY name")]


def metric_series(store: Store, names: Sequence[str] | None, *,
                  start_ns: int | None = None, end_ns: int | None = None,
                  run_ids: Sequence[int] | None = None) -> list[MetricSeries]:
    """The series named ``names`` (every series when None) of the runs that overlap
    [start_ns, end_ns] (give or take ``RUN_SLACK_NS``), optionally only of ``run_ids``."""
    where: list[str] = []
    args: list[Any] = []
    if start_ns is not None:
        where.append("COALESCE(r.ended_ns, 9223372036854775807) >= ?")
        args.append(max(clamp_ns(start_ns) or 0, INT64_MIN + RUN_SLACK_NS) - RUN_SLACK_NS)
    if end_ns is not None:
        where.append("r.started_ns <= ?")
        args.append(min(clamp_ns(end_ns) or 0, INT64_MAX - RUN_SLACK_NS) + RUN_SLACK_NS)
    if run_ids is not None:
        if not run_ids:
            return []
        where.append(f"s.run_id IN ({','.join('?' * len(run_ids))})")
        args.extend(run_ids)
    sql = ("SELECT s.id, s.run_id, s.name, s.labels, s.unit FROM series s"
           " JOIN runs r ON r.id = s.run_id")
    out: list[MetricSeries] = []
    if names is None:
        rows: Iterable[Any] = store.conn.execute(
            sql + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY s.id", args)
        out.extend(MetricSeries(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows)
        return out
    unique = sorted(set(names))
    for i in range(0, len(unique), _ID_CHUNK):
        chunk = unique[i:i + _ID_CHUNK]
        cond = [f"s.name IN ({','.join('?' * len(chunk))})", *where]
        rows = store.conn.execute(sql + " WHERE " + " AND ".join(cond) + " ORDER BY s.id",
                                  [*chunk, *args])
        out.extend(MetricSeries(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows)
    return out


def metric_samples(store: Store, series_ids: Sequence[int], start_ns: int,
                   end_ns: int) -> dict[int, tuple[list[int], list[float]]]:
    """(times in ns, values) of each series within [start_ns, end_ns], in time order; NaN
    values and staleness markers (``metric_marks``) included, as NaNs (the marker's payload
    kept). A series without samples there is absent from the answer."""
    lo, hi = clamp_ns(start_ns), clamp_ns(end_ns)
    merged: dict[int, dict[int, float]] = {}
    stale = stale_nan()
    with store._snapshot():  # noqa: SLF001  # one read transaction across the tables
        for i in range(0, len(series_ids), _ID_CHUNK):
            chunk = list(series_ids[i:i + _ID_CHUNK])
            marks = ",".join("?" * len(chunk))
            main = store.conn.execute(
                f"SELECT series_id, ts_ns, value FROM samples WHERE series_id IN ({marks})"
                " AND ts_ns BETWEEN ? AND ? ORDER BY series_id, ts_ns", [*chunk, lo, hi])
            for sid, ts, value in main:
                merged.setdefault(sid, {})[ts] = value
            # the head is clustered by time: one range scan, filtered by series
            head = store.conn.execute(
                f"SELECT series_id, ts_ns, value FROM samples_head WHERE ts_ns BETWEEN ? AND ?"
                f" AND series_id IN ({marks})", [lo, hi, *chunk])
            for sid, ts, value in head:
                merged.setdefault(sid, {})[ts] = value
            for sid, ts, kind in store.conn.execute(
                    f"SELECT series_id, ts_ns, kind FROM metric_marks WHERE series_id IN"
                    f" ({marks}) AND ts_ns BETWEEN ? AND ?", [*chunk, lo, hi]):
                merged.setdefault(sid, {})[ts] = stale if kind == MARK_STALE else float("nan")
    out: dict[int, tuple[list[int], list[float]]] = {}
    for sid, points in merged.items():
        times = sorted(points)
        out[sid] = (times, [points[t] for t in times])
    return out


# -- writing (the ingest queue's writer thread) ------------------------------------------------

# (run_id, name, canonical labels) -> series id, per store connection: the writer thread sees
# the same few thousand series every round.
_SERIES_IDS: weakref.WeakKeyDictionary[Store, dict[tuple[int, str, str], int]] = (
    weakref.WeakKeyDictionary())


def write_metric_samples(store: Store, items: Sequence[tuple[int, str, str, int, float]]) -> None:
    """Store ``(run_id, name, labels_json, ts_ns, value)`` samples (the ingest kind
    ``"metric_samples"``); series are created on first use. NaNs and staleness markers go to
    ``metric_marks``. Runs inside the caller's transaction (the ingest queue's)."""
    cache = _SERIES_IDS.setdefault(store, {})
    created: list[tuple[int, str, str]] = []
    rows: list[tuple[int, int, float]] = []
    marks: list[tuple[int, int, int]] = []
    try:
        with store.transaction():
            for run_id, name, labels, ts, value in items:
                key = (run_id, name, labels)
                sid = cache.get(key)
                if sid is None:
                    sid = _series_id(store, run_id, name, labels)
                    cache[key] = sid
                    created.append(key)
                if not math.isnan(value):
                    rows.append((sid, ts, value))
                else:
                    marks.append((sid, ts, MARK_STALE if is_stale_nan(value) else MARK_NAN))
            if rows:
                store.insert_samples(rows)
            if marks:
                store.conn.executemany(
                    "INSERT OR REPLACE INTO metric_marks (series_id, ts_ns, kind)"
                    " VALUES (?, ?, ?)", marks)
    except BaseException:
        for key in created:  # rolled back: those ids do not exist
            cache.pop(key, None)
        raise


def _series_id(store: Store, run_id: int, name: str, labels: str) -> int:
    row = store.conn.execute(
        "SELECT id FROM series WHERE run_id = ? AND name = ? AND labels = ?",
        (run_id, name, labels)).fetchone()
    if row is not None:
        return int(row[0])
    cur = store.conn.execute(
        "INSERT INTO series (run_id, name, labels, unit) VALUES (?, ?, ?, '')",
        (run_id, name, labels))
    return int(cur.lastrowid or 0)


def write_metric_meta(store: Store, items: Sequence[tuple[str, str, str, str]]) -> None:
    """Store ``(name, type, help, unit)`` of metric families (the ingest kind
    ``"metric_meta"``); the newest word wins."""
    with store.transaction():
        store.conn.executemany(
            "INSERT OR REPLACE INTO metric_meta (name, type, help, unit) VALUES (?, ?, ?, ?)",
            list(items))


def metric_meta(store: Store, name: str | None = None,
                limit: int | None = None) -> list[tuple[str, str, str, str]]:
    """(name, type, help, unit) of metric families, by name."""
    sql = "SELECT name, type, help, unit FROM metric_meta"
    args: list[Any] = []
    if name is not None:
        sql += " WHERE name = ?"
        args.append(name)
    sql += " ORDER BY name"
    if limit is not None:
        sql += f" LIMIT {max(0, min(int(limit), INT64_MAX))}"
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in store.conn.execute(sql, args)]


# -- silences ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SilenceRow:
    id: int
    matchers: list[list[str]]  # [name, op, value]
    starts_ns: int
    ends_ns: int
    created_by: str
    comment: str
    expired_ns: int | None


def add_silence(store: Store, matchers: list[list[str]], starts_ns: int, ends_ns: int, *,
                created_by: str = "", comment: str = "") -> int:
    with store.transaction():
        cur = store.conn.execute(
            "INSERT INTO silences (matchers, starts_ns, ends_ns, created_by, comment)"
            " VALUES (?, ?, ?, ?, ?)",
            (json.dumps(matchers), starts_ns, ends_ns, created_by, comment))
    return int(cur.lastrowid or 0)


def expire_silence(store: Store, silence_id: int, now_ns: int) -> bool:
    """End a silence now; False when there is no such silence still active."""
    if not INT64_MIN <= silence_id <= INT64_MAX:
        return False
    with store.transaction():
        cur = store.conn.execute(
            "UPDATE silences SET expired_ns = ? WHERE id = ? AND expired_ns IS NULL"
            " AND ends_ns > ?", (now_ns, silence_id, now_ns))
    return cur.rowcount > 0


def silences(store: Store) -> list[SilenceRow]:
    return [SilenceRow(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5], r[6])
            for r in store.conn.execute(
                "SELECT id, matchers, starts_ns, ends_ns, created_by, comment, expired_ns"
                " FROM silences ORDER BY id")]


def end_event(store: Store, event_id: int, end_ns: int) -> None:
    """Turn an instant event into a band ending at ``end_ns`` (an alert that resolved)."""
    with store.transaction():
        store.conn.execute("UPDATE events SET end_ns = ? WHERE id = ?", (end_ns, event_id))


def set_run_span(store: Store, run_id: int, started_ns: int, ended_ns: int) -> None:
    """Set when a run started and ended (an import whose samples span another time)."""
    with store.transaction():
        store.conn.execute("UPDATE runs SET started_ns = ?, ended_ns = ? WHERE id = ?",
                           (started_ns, ended_ns, run_id))
