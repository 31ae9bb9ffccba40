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

import contextlib
import json
import math
import sqlite3
import struct
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.errors import StoreError
from perflab.store._store import INT64_MAX, INT64_MIN, clamp_ns

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import numpy as np

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

# A batch of samples with at least this many per series, on average, is written straight into
# ``samples`` (clustered by series): its pages are dirtied once either way, and going through
# the head would write every row twice (remote-write rounds hold ~100 samples per series).
CLUSTERED_PER_SERIES = 8

# The block cache: hours of a series packed as arrays, for hours that ended SEAL_NS ago (what
# lands later, an import, a late remote-write, drops the hours it touches: drop_blocks).
BLOCK_NS = 3600 * 10**9
SEAL_NS = 10 * 60 * 10**9


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
    out: dict[int, tuple[list[int], list[float]]] = {}
    for sid, (ts, values) in metric_arrays(store, series_ids, start_ns, end_ns).items():
        out[sid] = ([int(t) for t in ts], [float(v) for v in values])
    return out


def metric_arrays(store: Store, series_ids: Sequence[int], start_ns: int, end_ns: int, *,
                  now_ns: int | None = None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Like ``metric_samples``, as numpy arrays (int64 ns, float64), read through the hourly
    block cache (``metric_blocks``, schema v6): the hours of the window that ended more than
    ``SEAL_NS`` ago come from their packed blocks (built on first read when the store can be
    written), the rest from the sample tables."""
    import numpy as np  # noqa: PLC0415  # lazy: opening a store needs no numpy

    lo, hi = clamp_ns(start_ns), clamp_ns(end_ns)
    assert lo is not None
    assert hi is not None
    now = time.time_ns() if now_ns is None else now_ns
    sealed_until = ((now - SEAL_NS) // BLOCK_NS) * BLOCK_NS  # hours before this are over
    first_block = (lo // BLOCK_NS) * BLOCK_NS
    last_sealed = min(sealed_until, ((hi // BLOCK_NS) + 1) * BLOCK_NS)  # exclusive
    ids = list(series_ids)
    pieces: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {sid: [] for sid in ids}
    built: list[tuple[int, int, int, bytes, bytes]] = []
    with store._snapshot():  # noqa: SLF001  # one read transaction across the tables
        raw_lo = lo
        if first_block < last_sealed:
            blocks = _blocks(store, ids, first_block, last_sealed, built)
            raw_lo = max(lo, last_sealed)
            for sid in ids:
                for t, v in blocks.get(sid, ()):
                    pieces[sid].append((t, v))
        if raw_lo <= hi:
            for sid, (t, v) in _raw(store, ids, raw_lo, hi).items():
                pieces[sid].append((t, v))
    if built and not store.conn.in_transaction:  # written after the read, never inside it
        _store_blocks(store, built)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for sid, parts in pieces.items():
        if not parts:
            continue
        ts = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        vals = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
        a = int(np.searchsorted(ts, lo, "left"))
        b = int(np.searchsorted(ts, hi, "right"))
        if b > a:
            out[sid] = (ts[a:b], vals[a:b])
    return out




def _raw(store: Store, ids: list[int], lo: int, hi: int,
         ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Samples of [lo, hi] from the tables: samples, the head (newer wins), the marks. The
    clustered table is read straight into arrays; the head and the marks, which are small,
    are merged into the series that have rows there."""
    import numpy as np  # noqa: PLC0415  # lazy: opening a store needs no numpy

    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    stale = stale_nan()
    for i in range(0, len(ids), _ID_CHUNK):
        chunk = ids[i:i + _ID_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = np.fromiter(store.conn.execute(
            f"SELECT series_id, ts_ns, value FROM samples WHERE series_id IN ({marks})"
            " AND ts_ns BETWEEN ? AND ? ORDER BY series_id, ts_ns", [*chunk, lo, hi]),
            dtype=np.dtype([("sid", "<i8"), ("ts", "<i8"), ("v", "<f8")]))
        if len(rows):
            sids, starts = np.unique(rows["sid"], return_index=True)
            bounds = [*starts[1:], len(rows)]
            for sid, a, b in zip(sids, starts, bounds, strict=True):
                out[int(sid)] = (rows["ts"][a:b], rows["v"][a:b])
        extra: dict[int, dict[int, float]] = {}
        for sid, ts, value in store.conn.execute(
                f"SELECT series_id, ts_ns, value FROM samples_head WHERE ts_ns BETWEEN ? AND ?"
                f" AND series_id IN ({marks})", [lo, hi, *chunk]):
            extra.setdefault(sid, {})[ts] = value
        for sid, ts, kind in store.conn.execute(
                f"SELECT series_id, ts_ns, kind FROM metric_marks WHERE series_id IN ({marks})"
                " AND ts_ns BETWEEN ? AND ?", [*chunk, lo, hi]):
            extra.setdefault(sid, {})[ts] = stale if kind == MARK_STALE else math.nan
        for sid, points in extra.items():
            merged = dict(zip(out[sid][0].tolist(), out[sid][1].tolist(), strict=True)) \
                if sid in out else {}
            merged.update(points)  # the head's newer value of a time wins
            times = sorted(merged)
            out[sid] = (np.array(times, dtype=np.int64),
                        np.array([merged[t] for t in times], dtype=np.float64))
    return out


def _blocks(store: Store, ids: list[int], first: int, end: int,
            built: list[tuple[int, int, int, bytes, bytes]],
            ) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """The packed hours [first, end) of each series; missing ones built from the tables (and
    stored when this connection may write: the cache is shared by every reader)."""
    import numpy as np  # noqa: PLC0415  # lazy: opening a store needs no numpy

    got: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {sid: {} for sid in ids}
    for i in range(0, len(ids), _ID_CHUNK):
        chunk = ids[i:i + _ID_CHUNK]
        marks = ",".join("?" * len(chunk))
        for sid, start, _n, ts, vals in store.conn.execute(
                f"SELECT series_id, start_ns, n, ts, vals FROM metric_blocks WHERE series_id IN"
                f" ({marks}) AND start_ns >= ? AND start_ns < ?", [*chunk, first, end]):
            got[sid][start] = (np.frombuffer(ts, dtype="<i8"), np.frombuffer(vals, dtype="<f8"))
    hours = range(first, end, BLOCK_NS)
    missing = [(sid, h) for sid in ids for h in hours if h not in got[sid]]
    if missing:
        lo_h = min(h for _, h in missing)
        hi_h = max(h for _, h in missing) + BLOCK_NS - 1
        fresh = _raw(store, sorted({sid for sid, _ in missing}), lo_h, hi_h)
        for sid, h in missing:
            ts, vals = fresh.get(sid, (np.zeros(0, dtype=np.int64), np.zeros(0)))
            a = int(np.searchsorted(ts, h, "left"))
            b = int(np.searchsorted(ts, h + BLOCK_NS, "left"))
            t, v = ts[a:b], vals[a:b]
            got[sid][h] = (t, v)
            built.append((sid, h, len(t), t.astype("<i8").tobytes(), v.astype("<f8").tobytes()))
    return {sid: [got[sid][h] for h in hours if len(got[sid][h][0])] for sid in ids}


def _store_blocks(store: Store, built: list[tuple[int, int, int, bytes, bytes]]) -> None:
    """Keep built blocks for the next reader: best effort (a read-only store, a busy writer
    or a full disk leave the cache as it is; the answer does not depend on it)."""
    if store.readonly or store.damaged or not built:
        return
    with contextlib.suppress(sqlite3.Error, StoreError), store.transaction():
        store.conn.executemany(
            "INSERT OR REPLACE INTO metric_blocks (series_id, start_ns, n, ts, vals)"
            " VALUES (?, ?, ?, ?, ?)", built)


def drop_blocks(store: Store, spans: dict[int, tuple[int, int]]) -> None:
    """Forget the cached hours a late write touched: {series id: (first ns, last ns)}."""
    store.conn.executemany(
        "DELETE FROM metric_blocks WHERE series_id = ? AND start_ns BETWEEN ? AND ?",
        [(sid, (lo // BLOCK_NS) * BLOCK_NS, (hi // BLOCK_NS) * BLOCK_NS)
         for sid, (lo, hi) in spans.items()])


# -- writing (the ingest queue's writer thread) ------------------------------------------------

# (run_id, name, canonical labels) -> series id, per store connection: the writer thread sees
# the same few thousand series every round.
_SERIES_IDS: weakref.WeakKeyDictionary[Store, dict[tuple[int, str, str], int]] = (
    weakref.WeakKeyDictionary())


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """Samples of many series of one run, column-wise (the ingest kind ``"metric_columns"``):
    ``counts[i]`` samples of ``series[i]`` (name, canonical labels JSON), one after the other
    in ``ts_ns`` (int64) and ``values`` (float64). A receiver that decodes a whole request at
    once hands it on without a Python object per sample."""

    run_id: int
    series: list[tuple[str, str]]
    counts: np.ndarray
    ts_ns: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ns)


def write_metric_samples(store: Store, items: Sequence[tuple[int, str, str, int, float]]) -> None:
    """Store ``(run_id, name, labels_json, ts_ns, value)`` samples (the ingest kind
    ``"metric_samples"``); series are created on first use. NaNs and staleness markers go to
    ``metric_marks``. Runs inside the caller's transaction (the ingest queue's)."""
    import numpy as np  # noqa: PLC0415  # lazy: opening a store needs no numpy

    cache = _SERIES_IDS.setdefault(store, {})
    created: list[tuple[int, str, str]] = []
    sids: list[int] = []
    try:
        with store.transaction():
            for run_id, name, labels, _, _ in items:
                key = (run_id, name, labels)
                sid = cache.get(key)
                if sid is None:
                    sid = _series_id(store, run_id, name, labels)
                    cache[key] = sid
                    created.append(key)
                sids.append(sid)
            _write_columns(store, np.array(sids, dtype=np.int64),
                           np.array([i[3] for i in items], dtype=np.int64),
                           np.array([i[4] for i in items], dtype=np.float64))
    except BaseException:
        for key in created:  # rolled back: those ids do not exist
            cache.pop(key, None)
        raise


def write_metric_columns(store: Store, batches: Sequence[MetricColumns]) -> None:
    """Store ``MetricColumns`` (the ingest kind ``"metric_columns"``): what
    ``write_metric_samples`` does, with a dictionary lookup per series, not per sample."""
    import numpy as np  # noqa: PLC0415  # lazy: opening a store needs no numpy

    cache = _SERIES_IDS.setdefault(store, {})
    created: list[tuple[int, str, str]] = []
    try:
        with store.transaction():
            sid_parts = []
            for batch in batches:
                ids = []
                for name, labels in batch.series:
                    key = (batch.run_id, name, labels)
                    sid = cache.get(key)
                    if sid is None:
                        sid = _series_id(store, batch.run_id, name, labels)
                        cache[key] = sid
                        created.append(key)
                    ids.append(sid)
                sid_parts.append(np.repeat(np.array(ids, dtype=np.int64), batch.counts))
            if len(batches) == 1:
                _write_columns(store, sid_parts[0], batches[0].ts_ns, batches[0].values)
            elif batches:
                _write_columns(store, np.concatenate(sid_parts),
                               np.concatenate([b.ts_ns for b in batches]),
                               np.concatenate([b.values for b in batches]))
    except BaseException:
        for key in created:  # rolled back: those ids do not exist
            cache.pop(key, None)
        raise


def _write_columns(store: Store, sids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> None:
    """Samples (series ids, times, values as arrays) into the head, NaNs and staleness markers
    into ``metric_marks``; the packed hours a late sample falls in are dropped."""
    import numpy as np  # noqa: PLC0415  # lazy: opening a store needs no numpy

    if not len(ts):
        return
    nan = np.isnan(values)
    marks: list[tuple[int, int, int]] = []
    if nan.any():
        stale = values.view(np.uint64) == STALE_NAN_BITS
        marks = [(int(s), int(t), MARK_STALE if k else MARK_NAN)
                 for s, t, k in zip(sids[nan].tolist(), ts[nan].tolist(), stale[nan].tolist(),
                                    strict=True)]
        keep = ~nan
        sids, ts, values = sids[keep], ts[keep], values[keep]
    if len(ts):
        series = np.unique(sids)
        clustered = len(ts) >= CLUSTERED_PER_SERIES * len(series)
        if clustered:  # a stable sort: of two samples at one time, the later still wins
            order = np.lexsort((ts, sids))
            sids, ts, values = sids[order], ts[order], values[order]
            _unshadow(store, series.tolist(), int(ts.min()),
                      int(ts.max()))
        flat: list[Any] = [None] * (3 * len(ts))
        flat[0::3] = sids.tolist()
        flat[1::3] = ts.tolist()
        flat[2::3] = values.tolist()
        store.insert_flat_samples(flat, clustered=clustered)
    # a sample older than SEAL_NS (less a minute of margin) may fall in an hour a reader has
    # packed already: those hours are dropped; fresh samples never are
    horizon = time.time_ns() - SEAL_NS + 60 * 10**9
    late = [(s, t) for s, t, _ in marks if t < horizon]
    if len(ts) and int(ts.min()) < horizon:
        old = ts < horizon
        late.extend(zip(sids[old].tolist(), ts[old].tolist(), strict=True))
    if late:
        drop_blocks(store, _late_spans(late))
    if marks:
        store.conn.executemany(
            "INSERT OR REPLACE INTO metric_marks (series_id, ts_ns, kind)"
            " VALUES (?, ?, ?)", marks)


def _unshadow(store: Store, series_ids: list[int], lo: int, hi: int) -> None:
    """Delete the head's rows of these series in [lo, hi]: samples written straight into
    ``samples`` replace them (readers and the head's move let the head win)."""
    if store.conn.execute("SELECT 1 FROM samples_head WHERE ts_ns BETWEEN ? AND ? LIMIT 1",
                          (lo, hi)).fetchone() is None:
        return  # the usual case: nothing of that time waits in the head
    store.conn.execute(
        "DELETE FROM samples_head WHERE ts_ns BETWEEN ? AND ? AND series_id IN"
        " (SELECT value FROM json_each(?))", (lo, hi, json.dumps(series_ids)))


def _late_spans(late: list[tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Series written at hours that may be sealed already: {series id: (first, last ns)}."""
    spans: dict[int, tuple[int, int]] = {}
    for sid, ts in late:
        lo, hi = spans.get(sid, (ts, ts))
        spans[sid] = (min(lo, ts), max(hi, ts))
    return spans


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


# -- retention -----------------------------------------------------------------------------------

def series_of_run_kinds(store: Store, kinds: Sequence[str], *,
                        ended_after_ns: int | None = None) -> list[int]:
    """Ids of the series of runs of these kinds (the hub's: ``serve``, ``metrics``), only of
    runs still going or ended after ``ended_after_ns`` when it is given."""
    if not kinds:
        return []
    sql = (f"SELECT s.id FROM series s JOIN runs r ON r.id = s.run_id WHERE r.kind IN"
           f" ({','.join('?' * len(kinds))})")
    args: list[Any] = list(kinds)
    if ended_after_ns is not None:
        sql += " AND COALESCE(r.ended_ns, 9223372036854775807) >= ?"
        args.append(ended_after_ns)
    return [int(r[0]) for r in store.conn.execute(sql + " ORDER BY s.id", args)]


def pack_hours(store: Store, series_ids: Sequence[int], first_ns: int, end_ns: int) -> int:
    """Pack the hours [first_ns, end_ns) of these series into the block cache (hours already
    packed are left alone), as a PromQL read of them would; for a background task, so the
    first query meets them packed. Returns the hours packed (empty ones included)."""
    hours = (end_ns - first_ns) // BLOCK_NS
    if hours <= 0 or store.readonly:
        return 0
    ids = list(series_ids)
    todo: list[int] = []
    for i in range(0, len(ids), _ID_CHUNK):
        chunk = ids[i:i + _ID_CHUNK]
        have = dict(store.conn.execute(
            f"SELECT series_id, COUNT(*) FROM metric_blocks WHERE series_id IN"
            f" ({','.join('?' * len(chunk))}) AND start_ns >= ? AND start_ns < ?"
            " GROUP BY series_id", [*chunk, first_ns, end_ns]).fetchall())
        todo.extend(sid for sid in chunk if have.get(sid, 0) < hours)
    if not todo:
        return 0
    built: list[tuple[int, int, int, bytes, bytes]] = []
    with store._snapshot():  # noqa: SLF001  # one read transaction across the tables
        _blocks(store, todo, first_ns, end_ns, built)
    _store_blocks(store, built)
    return len(built)


def oldest_sample_ns(store: Store, series_ids: Sequence[int]) -> int | None:
    """The time of the oldest sample (or mark) of these series; None when they have none."""
    found: list[int] = []
    for i in range(0, len(series_ids), _ID_CHUNK):
        ids = json.dumps(list(series_ids[i:i + _ID_CHUNK]))
        # samples and marks: one index seek per series (MIN of a key prefix), not a scan;
        # the head is small and keyed by time: its first rows are the oldest
        row = store.conn.execute(
            "SELECT MIN((SELECT MIN(ts_ns) FROM samples WHERE series_id = j.value)),"
            " MIN((SELECT MIN(ts_ns) FROM metric_marks WHERE series_id = j.value)),"
            " (SELECT MIN(ts_ns) FROM samples_head WHERE series_id IN"
            "  (SELECT value FROM json_each(?1)))"
            " FROM json_each(?1) j", (ids,)).fetchone()
        found.extend(int(t) for t in row if t is not None)
    return min(found, default=None)


def delete_samples_before(store: Store, series_ids: Sequence[int], before_ns: int, *,
                          chunk: int = 200) -> int:
    """Delete the samples (head, marks, packed hours and rollups too) of these series older
    than ``before_ns``, ``chunk`` series per transaction so the ingest writer waits little.
    Returns the samples deleted."""
    deleted = 0
    first_hour = (before_ns // BLOCK_NS) * BLOCK_NS  # that hour is cut: its block goes too
    for i in range(0, len(series_ids), chunk):
        part = list(series_ids[i:i + chunk])
        marks = ",".join("?" * len(part))
        with store.transaction():
            for table in ("samples", "samples_head", "metric_marks"):
                deleted += store.conn.execute(
                    f"DELETE FROM {table} WHERE series_id IN ({marks}) AND ts_ns < ?",
                    [*part, before_ns]).rowcount
            store.conn.execute(f"DELETE FROM metric_blocks WHERE series_id IN ({marks})"
                               " AND start_ns <= ?", [*part, first_hour])
            store.conn.execute(f"DELETE FROM rollups WHERE series_id IN ({marks})"
                               " AND bucket_ns < ?", [*part, before_ns])
    return deleted


def store_used_bytes(store: Store) -> int:
    """Bytes of the file's pages in use (its size less the free pages SQLite reuses)."""
    pages = int(store.conn.execute("PRAGMA page_count").fetchone()[0])
    free = int(store.conn.execute("PRAGMA freelist_count").fetchone()[0])
    size = int(store.conn.execute("PRAGMA page_size").fetchone()[0])
    return (pages - free) * size


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


def end_event_at(store: Store, run_id: int, kind: str, ts_ns: int, end_ns: int) -> None:
    """End the instant of ``kind`` in ``run_id`` that started at ``ts_ns``, if it exists and
    is not ended: a band journaled before it was written, so known by its start, not its id."""
    with store.transaction():
        store.conn.execute("UPDATE events SET end_ns = ? WHERE run_id = ? AND kind = ? AND "
                           "ts_ns = ? AND end_ns IS NULL", (end_ns, run_id, kind, ts_ns))


def set_run_span(store: Store, run_id: int, started_ns: int, ended_ns: int) -> None:
    """Set when a run started and ended (an import whose samples span another time)."""
    with store.transaction():
        store.conn.execute("UPDATE runs SET started_ns = ?, ended_ns = ? WHERE id = ?",
                           (started_ns, ended_ns, run_id))
