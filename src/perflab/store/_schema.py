"""The store's schema, its version and its forward migrations.

History of SCHEMA_VERSION (never renumber; only append):
    1  runs, series, samples, events, artifacts (2026-11, the foundation)
    2  samples_head: new samples land here, clustered by time, and move to ``samples`` in bulk
       (2026-11, issue 2). ``samples`` is clustered by series, so committing one tick of N
       series into it dirtied N pages (10 MB of WAL per tick at 2,400 series); a tick in the
       head is a few pages. Readers see the union of both tables.
    3  rollups: per-minute min/max/sum/count of each series of a finished run, filled lazily by
       readers (the dashboard, reports; 2026-11, issue 3) so that a day-long chart reads 1440
       rows, not 86400 samples. A cache: deleting its rows loses nothing.
    4  runs.pid_start and runs.boot_id: the owner's start time (clock ticks since boot, from
       /proc/PID/stat) and the boot it ran in, beside its PID, so that a reused PID is not
       taken for a live recorder (2026-12, issue 10). A run of an older store has neither and
       is judged by its PID alone.
    5  spans (trace_id + span_id unique, indexed by service, operation, start and duration),
       span_services, span_ops, span_processes (2026-12, issue 13). Services, operations and
       processes are keyed by a hash of what they are, so a receiver never reads to write and
       a batch rolled back leaves no id dangling. Spans are in the order they arrived (rowid),
       so retention by size deletes the oldest first in one range.
    6  metrics (2026-12, issue 14): an index on series (name), so PromQL finds a metric's
       series across every run without reading the whole table; metric_marks, the samples a
       REAL column cannot hold (SQLite stores NaN as NULL): Prometheus's staleness markers and
       NaN values, beside the samples of the same series; metric_meta, the TYPE/HELP/UNIT of
       each metric family (the API's /metadata); silences, the Alertmanager-style silences
       `perflab alerts silence` writes and the hub's notifier reads; metric_blocks, a cache
       of each series' samples per hour as packed arrays (times, values), built by PromQL's
       reads for hours that are over, so a day of 1 s data reads in milliseconds, not seconds;
       dropped when a late sample lands in its hour.
    7  logs (2026-12, issue 16): log lines in arrival order (rowid), each with its time, run,
       stream (log_streams: a label set keyed by a hash of its canonical JSON, so a receiver
       never reads to write), level, trace and span id, and the fields parsed from the line
       (JSON, NULL when none); indexed by time and by (stream, time); logs_fts, an FTS5 trigram
       index of the lines (external content: the text is stored once), which finds a line
       filter's substring without reading every line. Trigram and case-sensitive, because
       LogQL's ``|=`` is a case-sensitive substring match, not a word match.
    8  logs at speed (2026-12, issue 16; one self-contained block, _V8): logs_fts (trigram, 21
       us a line, most of the ingest) is replaced by logs_words, an FTS5 word index (the
       ``ascii`` tokenizer, ``detail=none``: which lines hold a word, 7 us a line) that a
       ``|=`` filter uses as a pre-filter (its whole words, and a prefix of its last), the
       substring checked exactly on the line; log_minutes, the lines and bytes of each stream
       and level per minute, written with the lines and decremented by retention, so counting
       a day of 10 M lines reads a few thousand rows. Both are filled from the v7 lines.
       Since 2026-12-04 logs_words is created with ``columnsize=0``: no row of token counts
       per line (logs_words_docsize), which only FTS5's ranking functions read and perflab
       never calls; a B-tree insert a line, 1.5-2 us of its ingest. A store made before keeps
       its docsize table, which changes nothing but that cost (no version: both read alike).
    9  incidents (2026-12, issue 16): an incident is a run of kind ``incident``; ``incidents``
       holds what a run does not (title, open/closed, suspects, the postmortem draft) and
       ``incident_items`` its timeline of evidence (a capture step: its status, time taken and
       the artifact holding its output), findings (ranked, naming their evidence), notes and
       actions; events_kind indexes events by kind and time, so deploy markers and alerts are
       found across every run without reading each run's events.
   10  ingest at speed (2026-12, issues 13 and 16): a log line's trace id is looked up through
       the word index, not a B-tree: ``logs_words`` indexes the line and, after it, the hex of
       its trace id (a word; usually one the line holds already), and logs_trace is dropped.
       Its random keys dirtied a page per line in every commit, a sixth of a line's ingest;
       the word index buffers a transaction's words and writes them sorted. The v9 lines'
       trace ids are added to the index (a second entry of the same rowid holding one word).
       Spans are keyed by (trace_seq, span_id), not (trace_id, span_id): span_traces numbers
       each trace id in the order it was first seen, so the spans of new traces land at the
       end of that index instead of at a random page each; the random key is paid once a
       trace (its span_traces row), not once a span (a third of a span's SQLite work). A
       query by trace id reads its number first. v9 spans are numbered by the migration.

A file whose version is newer than SCHEMA_VERSION is refused, never rewritten: an older perflab
must not damage what a newer one wrote.
"""

from __future__ import annotations

import sqlite3

from perflab.store._errors import rollback

SCHEMA_VERSION = 10
APPLICATION_ID = 0x7066_6C62  # "pflb": marks the file as a perflab store (PRAGMA application_id)

_V1 = """
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,             -- record, load, bench, profile, chaos, serve, demo
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL,             -- running, ok, aborted, failed
    started_ns  INTEGER NOT NULL,
    ended_ns    INTEGER,
    host        TEXT    NOT NULL,
    pid         INTEGER,                       -- the recorder's PID while it runs
    meta        TEXT    NOT NULL DEFAULT '{}'  -- JSON object
);
CREATE INDEX runs_started ON runs (started_ns);
CREATE INDEX runs_kind ON runs (kind, started_ns);

CREATE TABLE series (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    labels  TEXT    NOT NULL DEFAULT '{}',    -- canonical JSON: sorted keys, no spaces
    unit    TEXT    NOT NULL DEFAULT '',
    UNIQUE (run_id, name, labels)
);

CREATE TABLE samples (
    series_id INTEGER NOT NULL,
    ts_ns     INTEGER NOT NULL,
    value     REAL    NOT NULL,
    PRIMARY KEY (series_id, ts_ns)
) WITHOUT ROWID;

CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ts_ns   INTEGER NOT NULL,
    end_ns  INTEGER,                          -- NULL: an instant; set: a band (a fault window)
    kind    TEXT    NOT NULL,                 -- stage, fault, deploy, alert, note, profile ...
    text    TEXT    NOT NULL DEFAULT '',
    attrs   TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX events_run ON events (run_id, ts_ns);

CREATE TABLE artifacts (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    ts_ns        INTEGER NOT NULL,
    end_ns       INTEGER,
    kind         TEXT    NOT NULL,            -- profile, histogram, bench-results, report ...
    name         TEXT    NOT NULL DEFAULT '',
    content_type TEXT    NOT NULL DEFAULT 'application/octet-stream',
    data         BLOB    NOT NULL,
    attrs        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX artifacts_run ON artifacts (run_id, kind, ts_ns);
"""

_V2 = """
CREATE TABLE samples_head (
    ts_ns     INTEGER NOT NULL,
    series_id INTEGER NOT NULL,
    value     REAL    NOT NULL,
    PRIMARY KEY (ts_ns, series_id)           -- time first: a tick's rows are neighbours
) WITHOUT ROWID;
"""

_V3 = """
CREATE TABLE rollups (
    series_id INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    width_ns  INTEGER NOT NULL,               -- bucket width (60 s)
    bucket_ns INTEGER NOT NULL,               -- bucket start: a multiple of width_ns
    first_ns  INTEGER NOT NULL,               -- first and last sample time in the bucket
    last_ns   INTEGER NOT NULL,
    vmin      REAL    NOT NULL,
    vmax      REAL    NOT NULL,
    vsum      REAL    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (series_id, width_ns, bucket_ns)
) WITHOUT ROWID;
"""

_V4 = """
ALTER TABLE runs ADD COLUMN pid_start INTEGER;  -- the owner's start, in ticks since boot
ALTER TABLE runs ADD COLUMN boot_id TEXT;       -- /proc/sys/kernel/random/boot_id then
"""

_V5 = """
CREATE TABLE spans (
    id          INTEGER PRIMARY KEY,          -- arrival order
    trace_id    BLOB    NOT NULL,             -- 16 bytes
    span_id     BLOB    NOT NULL,             -- 8 bytes
    parent_id   BLOB,                         -- NULL: a root span
    service_id  INTEGER NOT NULL,             -- span_services.id
    op_id       INTEGER NOT NULL,             -- span_ops.op_id: (service, name)
    process_id  INTEGER NOT NULL,             -- span_processes.id
    kind        INTEGER NOT NULL,             -- OTLP SpanKind: 0..5
    start_ns    INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,             -- never negative
    status      INTEGER NOT NULL DEFAULT 0,   -- 0 unset, 1 ok, 2 error
    status_msg  TEXT,
    flags       INTEGER NOT NULL DEFAULT 0,   -- warnings: 1 end before start, 2 truncated
    attrs       TEXT,                         -- JSON object, NULL when empty
    events      TEXT,                         -- JSON array, NULL when empty
    links       TEXT                          -- JSON array, NULL when empty
);
CREATE UNIQUE INDEX spans_trace ON spans (trace_id, span_id);
CREATE INDEX spans_service ON spans (service_id, start_ns, duration_ns);
CREATE INDEX spans_op ON spans (op_id, start_ns, duration_ns);
CREATE INDEX spans_start ON spans (start_ns);

CREATE TABLE span_services (
    id    INTEGER PRIMARY KEY,
    name  TEXT    NOT NULL
);
CREATE TABLE span_ops (
    op_id      INTEGER NOT NULL,
    kind       INTEGER NOT NULL,
    service_id INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    PRIMARY KEY (op_id, kind)
) WITHOUT ROWID;
CREATE INDEX span_ops_service ON span_ops (service_id, name);
CREATE TABLE span_processes (
    id            INTEGER PRIMARY KEY,
    service       TEXT NOT NULL,
    attrs         TEXT NOT NULL DEFAULT '{}', -- the resource's attributes, JSON
    scope_name    TEXT NOT NULL DEFAULT '',
    scope_version TEXT NOT NULL DEFAULT ''
);
"""

_V6 = """
CREATE INDEX series_name ON series (name);

CREATE TABLE metric_marks (
    series_id INTEGER NOT NULL,
    ts_ns     INTEGER NOT NULL,
    kind      INTEGER NOT NULL,               -- 1: a staleness marker, 2: a NaN value
    PRIMARY KEY (series_id, ts_ns)
) WITHOUT ROWID;

CREATE TABLE metric_meta (
    name    TEXT PRIMARY KEY,                 -- the metric family's name
    type    TEXT NOT NULL DEFAULT 'unknown',  -- counter, gauge, histogram, summary ...
    help    TEXT NOT NULL DEFAULT '',
    unit    TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE metric_blocks (
    series_id INTEGER NOT NULL,
    start_ns  INTEGER NOT NULL,               -- the hour: a multiple of its width
    n         INTEGER NOT NULL,               -- samples in it
    ts        BLOB    NOT NULL,               -- int64 times (ns), little-endian
    vals      BLOB    NOT NULL,               -- float64 values (NaN payloads kept)
    PRIMARY KEY (series_id, start_ns)
) WITHOUT ROWID;

CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    matchers   TEXT    NOT NULL,              -- JSON: [[name, op, value], ...]
    starts_ns  INTEGER NOT NULL,
    ends_ns    INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    comment    TEXT    NOT NULL DEFAULT '',
    expired_ns INTEGER                        -- set when expired early
);
"""

_V7 = """
CREATE TABLE log_streams (
    id      INTEGER PRIMARY KEY,              -- name_id(labels)
    labels  TEXT    NOT NULL                  -- canonical JSON: sorted keys, no spaces
);

CREATE TABLE logs (
    id        INTEGER PRIMARY KEY,            -- arrival order
    ts_ns     INTEGER NOT NULL,
    run_id    INTEGER,                        -- the run it arrived in (NULL: none)
    stream_id INTEGER NOT NULL,               -- log_streams.id
    level     TEXT,                           -- normalised: debug, info, warn, error ...
    trace_id  BLOB,                           -- 16 bytes when the line names a trace
    span_id   BLOB,                           -- 8 bytes
    line      TEXT    NOT NULL,
    fields    TEXT                            -- JSON object of parsed fields, NULL when none
);
CREATE INDEX logs_time ON logs (ts_ns);
CREATE INDEX logs_stream ON logs (stream_id, ts_ns);
CREATE INDEX logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;

CREATE VIRTUAL TABLE logs_fts USING fts5(
    line, content='logs', content_rowid='id', tokenize='trigram case_sensitive 1'
);
"""

# schema 8 in one block (a merge renumbers it whole): the word index and the per-minute counts
_V8 = """
DROP TABLE logs_fts;
CREATE VIRTUAL TABLE logs_words USING fts5(
    line, content='logs', content_rowid='id', detail=none, tokenize='ascii', columnsize=0
);
INSERT INTO logs_words (logs_words) VALUES ('rebuild');

CREATE TABLE log_minutes (
    stream_id INTEGER NOT NULL,               -- log_streams.id
    minute    INTEGER NOT NULL,               -- m: lines with ts_ns in ((m - 1) min, m min]
    level     TEXT    NOT NULL,               -- logs.level, '' for none
    lines     INTEGER NOT NULL,
    bytes     INTEGER NOT NULL,               -- UTF-8 bytes of the lines
    PRIMARY KEY (stream_id, minute, level)
) WITHOUT ROWID;
INSERT INTO log_minutes (stream_id, minute, level, lines, bytes)
    SELECT stream_id,
           CASE WHEN ts_ns > 0 THEN (ts_ns - 1) / 60000000000 + 1
                ELSE -((-ts_ns) / 60000000000) END,
           COALESCE(level, ''), COUNT(*), SUM(length(CAST(line AS BLOB)))
    FROM logs GROUP BY 1, 2, 3;
"""

# schema 9: incidents, their timeline items, events by kind
_V9 = """
CREATE TABLE incidents (
    run_id     INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    status     TEXT    NOT NULL DEFAULT 'open',  -- open, closed
    opened_ns  INTEGER NOT NULL,
    closed_ns  INTEGER,
    suspects   TEXT    NOT NULL DEFAULT '{}',    -- JSON: {"services": [...], "pids": [...]}
    postmortem TEXT                              -- Markdown, written by close
);

CREATE TABLE incident_items (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (run_id) ON DELETE CASCADE,
    ts_ns       INTEGER NOT NULL,
    kind        TEXT    NOT NULL,                -- evidence, finding, note, action
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL DEFAULT '',
    score       REAL,                            -- findings: higher ranks first
    attrs       TEXT    NOT NULL DEFAULT '{}'    -- JSON object
);
CREATE INDEX incident_items_of ON incident_items (incident_id, kind, ts_ns);

CREATE INDEX events_kind ON events (kind, ts_ns);
"""

# schema 10: lines found by trace id through the word index (LOG_WORDS in _logs.py), spans
# keyed by their trace's number (TRACE_SEQ in _spans.py)
_V10 = """
INSERT INTO logs_words (rowid, line) SELECT id, hex(trace_id) FROM logs WHERE trace_id IS NOT NULL;
DROP INDEX logs_trace;

CREATE TABLE span_traces (
    seq      INTEGER PRIMARY KEY,             -- first seen order: spans.trace_seq
    trace_id BLOB    NOT NULL UNIQUE          -- 16 bytes
);
INSERT INTO span_traces (trace_id) SELECT trace_id FROM spans GROUP BY trace_id ORDER BY MIN(id);
ALTER TABLE spans ADD COLUMN trace_seq INTEGER NOT NULL DEFAULT 0;  -- span_traces.seq
UPDATE spans SET trace_seq = (SELECT seq FROM span_traces t WHERE t.trace_id = spans.trace_id);
DROP INDEX spans_trace;
CREATE UNIQUE INDEX spans_trace ON spans (trace_seq, span_id);
"""

# MIGRATIONS[v] takes a store at version v-1 to version v.
MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6, 7: _V7,
                           8: _V8, 9: _V9, 10: _V10}


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, from_version: int) -> None:
    """Apply every migration after ``from_version`` in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process (a reader, a second recorder) may have created or migrated the file
        # while this one waited for the write lock: start from what is there now.
        from_version = max(from_version, current_version(conn))
        for version in range(from_version + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit implicitly)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        stripped = line.split("--", 1)[0]
        buf += stripped
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
