"""Log lines as the pages, their APIs and the live tail show them: each line with what ingest
read from it (level, fields, trace and span id), and the volume of lines by level over time.

A LogQL log query gives Loki's streams of (time, line); a page wants more of each line, so
``query_lines`` runs the same pipeline (``run_pipeline``) over the stored rows and keeps them.
``Follower`` is one live tail: the lines a query keeps among those that arrived after the last
one it saw (arrival order, so a line pushed late with an old time is still shown), used by
``/loki/api/v1/tail`` and ``perflab logs query --follow`` alike.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from perflab.logs._eval import QueryError, matching_streams
from perflab.logs._fields import line_fields
from perflab.logs._logql import LogQuery, parse
from perflab.logs._pipeline import run_pipeline
from perflab.logs._vecops import key_of
from perflab.store import (
    last_log_id,
    log_level_counts,
    log_lines,
    log_lines_after,
    log_streams,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from perflab.logs._contracts import (
        LineDetails,
        LogLineJson,
        LogVolumeDoc,
        LokiTailDoc,
        TailStream,
    )
    from perflab.store import Store, StoredLog

Labels = dict[str, str]
Kept = tuple["StoredLog", Labels, str]  # the stored row, its labels and line after the pipeline
# bucket widths of a volume histogram: the first at least (range / points) is used
_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
            43200, 86400)
UNKNOWN_LEVEL = "unknown"
FOLLOW_BATCH = 1000  # lines read per step of a tail: memory stays bounded behind a burst


def log_query(text: str) -> LogQuery:
    """A LogQL log query (lines to show or follow); a metric query is a ``QueryError``."""
    expr = parse(text)
    if not isinstance(expr, LogQuery):
        raise QueryError("a metric query has no lines to show or follow",
                         hint='give a log query, like {job="app"} |= "error"')
    return expr


def _fields(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    got = json.loads(text)
    return {str(k): str(v) for k, v in got.items()} if isinstance(got, dict) else {}


def line_json(row: StoredLog, labels: Labels, line: str) -> LogLineJson:
    return {"ts_ns": row.ts_ns, "labels": labels, "line": line, "run_id": row.run_id,
            **_details(row)}


def _kept(query: LogQuery, rows: Iterator[StoredLog] | list[StoredLog],
          streams: dict[int, Labels]) -> Iterator[Kept]:
    for row in rows:
        got = run_pipeline(query, streams[row.stream_id], row.line, row.ts_ns)
        if got is not None:
            yield row, got[0], got[1]


def query_lines(store: Store, query: LogQuery, start_ns: int, end_ns: int, *, limit: int,
                run_id: int | None = None, backward: bool = True,
                ) -> tuple[list[Kept], bool]:
    """The first ``limit`` lines in [start_ns, end_ns) the query keeps (newest first when
    ``backward``), and whether there were more."""
    streams = matching_streams(store, query.matchers)
    rows = log_lines(store, sorted(streams), start_ns, end_ns, contains=query.line_substrings(),
                     run_id=run_id, backward=backward)
    out: list[Kept] = []
    for kept in _kept(query, rows, streams):
        if len(out) == limit:
            return out, True
        out.append(kept)
    return out, False


def run_lines(store: Store, run_id: int, start_ns: int, end_ns: int, *, limit: int,
              ) -> tuple[list[Kept], bool]:
    """Every line of a run in [start_ns, end_ns), oldest first, at most ``limit``."""
    streams = {sid: json.loads(text) for sid, text in log_streams(store)}
    out: list[Kept] = []
    for row in log_lines(store, sorted(streams), start_ns, end_ns, run_id=run_id,
                         backward=False):
        if len(out) == limit:
            return out, True
        out.append((row, streams[row.stream_id], row.line))
    return out, False


def _details(row: StoredLog) -> LineDetails:
    # the store keeps only a line's structured metadata: its JSON or logfmt fields are read
    # from the line when shown (as LogQL's parsers read them), which keeps ingest cheap
    return {"level": row.level, "fields": {**line_fields(row.line), **_fields(row.fields)},
            "trace_id": row.trace_id.hex() if row.trace_id else None,
            "span_id": row.span_id.hex() if row.span_id else None}


def tail_message(kept: list[Kept], *, details: bool = False) -> LokiTailDoc:
    """Lines as one message of Loki's live tail (grouped by their labels, in the order given;
    perflab drops none); ``details``: each entry's third value says what ingest read."""
    by_key: dict[tuple[tuple[str, str], ...], TailStream] = {}
    for row, labels, line in kept:
        key = key_of(labels)
        if key not in by_key:
            by_key[key] = {"stream": labels, "values": []}
        value: list[str | LineDetails] = [str(row.ts_ns), line]
        if details:
            value.append(_details(row))
        by_key[key]["values"].append(value)
    return {"streams": list(by_key.values()), "dropped_entries": []}


def volume_step_ns(start_ns: int, end_ns: int, points: int) -> int:
    """The bucket width of a histogram of [start, end) in about ``points`` bars: a round one."""
    want = (end_ns - start_ns) / max(1, points) / 1e9
    return next((s for s in _STEPS_S if s >= want), _STEPS_S[-1]) * 10**9


def volume(store: Store, query: LogQuery | None, start_ns: int, end_ns: int, *,
           points: int = 120, run_id: int | None = None) -> LogVolumeDoc:
    """Lines per bucket by level over [start, end) (buckets aligned to their width): of the
    query's streams and its leading ``|=`` filters (counted by SQLite; ``filtered`` says the
    query has more stages, which the counts do not apply), or of every stream (no query)."""
    step = volume_step_ns(start_ns, end_ns, points)
    first = start_ns - start_ns % step
    count = max(1, -(-(end_ns - first) // step))
    streams: list[int] | None = None
    contains: list[str] = []
    filtered = False
    if query is not None:
        streams = sorted(matching_streams(store, query.matchers))
        contains = query.line_substrings()
        filtered = len(contains) != len(query.stages)
    levels: dict[str, list[int]] = {}
    for bucket, level, n in log_level_counts(store, streams, first, first + count * step, step,
                                             contains=contains, run_id=run_id):
        levels.setdefault(level or UNKNOWN_LEVEL, [0] * count)[bucket] += n
    return {"schema": "perflab.api.log_volume/1", "start_ns": first,
            "end_ns": first + count * step, "step_ns": step, "levels": levels,
            "filtered": filtered}


class Follower:
    """One live tail of a log query: each ``poll`` gives the lines it keeps among those that
    arrived since the last poll, in arrival order."""

    def __init__(self, query: LogQuery, after_id: int, *, run_id: int | None = None) -> None:
        self.query = query
        self.after_id = after_id
        self.run_id = run_id  # only this run's lines (None: every line)
        self._seen = -1  # the newest line id of the store at the last poll that read it all

    def poll(self, store: Store, *, limit: int = FOLLOW_BATCH) -> list[Kept]:
        """The next lines (at most ``limit`` read; the rest wait for the next poll). A poll
        when no line arrived costs one look at the newest id (ids only grow as lines commit:
        the one writer assigns them in its transaction)."""
        newest = last_log_id(store)
        if newest == self._seen:
            return []
        streams = matching_streams(store, self.query.matchers)
        rows = log_lines_after(store, sorted(streams), self.after_id, limit=limit)
        if len(rows) < limit:  # every line of these streams up to `newest` is read
            self.after_id = max(self.after_id, newest, rows[-1].id if rows else 0)
            self._seen = newest
        else:
            self.after_id = rows[-1].id
        if self.run_id is not None:
            rows = [r for r in rows if r.run_id == self.run_id]
        return list(_kept(self.query, rows, streams))


def start_tail(store: Store, query: LogQuery, start_ns: int, end_ns: int, *, limit: int,
               run_id: int | None = None) -> tuple[Follower, list[Kept]]:
    """The newest ``limit`` lines in [start_ns, end_ns) the query keeps, oldest first, and the
    follower of the lines that arrive after them: no line is given twice."""
    mark = last_log_id(store)
    kept, _ = query_lines(store, query, start_ns, end_ns, limit=limit, run_id=run_id)
    return Follower(query, mark, run_id=run_id), [k for k in reversed(kept) if k[0].id <= mark]
