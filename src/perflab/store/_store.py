"""Opening a store file safely, and reading from it.

One ``Store`` wraps one SQLite connection in WAL mode: any number of readers (``perflab show``,
the dashboard) proceed while one recorder writes. A file that is not a perflab store, is damaged,
or was written by a newer perflab is refused with a message and never modified.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import sqlite3
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from perflab.errors import InvalidValue, NotFound, StoreError
from perflab.store._errors import is_damage, rollback, store_error, writes
from perflab.store._models import Artifact, Event, Run, Series, canonical_labels
from perflab.store._open import connect, integrity_problems
from perflab.store._owner import owner_alive, this_process
from perflab.store._rollups import build_run_rollups, build_series_rollup, rollup_exists

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

# Samples wait in samples_head (cheap to append to) for at most this long, or this many rows,
# before moving to samples (clustered by series) in one sorted batch. See _schema.py, v2.
COMPACT_INTERVAL_S = 30.0
COMPACT_MAX_ROWS = 200_000

# Rows per multi-row INSERT of samples (3 parameters each; SQLite allows 32,766 per statement)
_INSERT_CHUNK = 512


@cache
def _samples_insert(table: str, rows: int) -> str:
    return (f"INSERT OR REPLACE INTO {table} (series_id, ts_ns, value) VALUES "
            + ",".join(["(?,?,?)"] * rows))


# SQLite's integers are signed 64-bit: a time or id outside is clamped (a time) or absent (an id)
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# A --name / ?name= filter longer than this is refused: SQLite refuses LIKE patterns over
# 50,000 bytes with an error, and no one types a name of even a thousand characters.
MAX_NAME_FILTER = 1000


def default_store_path() -> Path:
    """``$PERFLAB_STORE``, else ``$XDG_DATA_HOME/perflab/perflab.db`` (``~/.local/share``)."""
    env = os.environ.get("PERFLAB_STORE")
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "perflab" / "perflab.db"


def clamp_ns(ts_ns: int | None) -> int | None:
    """A time bound as SQLite can hold it: beyond the int64 range means "no bound"."""
    if ts_ns is None:
        return None
    return min(max(ts_ns, INT64_MIN), INT64_MAX)


def overlap_conditions(start_ns: int | None, end_ns: int | None, *, start_col: str = "ts_ns",
                       end_col: str = "ts_ns") -> tuple[list[str], list[int]]:
    """SQL conditions (and their arguments) for the rows that overlap ``[start_ns, end_ns]``:
    rows whose ``end_col`` is at or after ``start_ns`` and whose ``start_col`` is at or before
    ``end_ns``. A bound of None is no bound; the others are clamped to what SQLite holds."""
    conditions: list[str] = []
    args: list[int] = []
    start_ns, end_ns = clamp_ns(start_ns), clamp_ns(end_ns)
    if start_ns is not None:
        conditions.append(f"{end_col} >= ?")
        args.append(start_ns)
    if end_ns is not None:
        conditions.append(f"{start_col} <= ?")
        args.append(end_ns)
    return conditions, args


def like_contains(text: str) -> str:
    """A LIKE pattern matching names that contain ``text`` literally (``%`` and ``_`` are
    characters here, not wildcards); used with ``ESCAPE '\\'``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Store:
    """A perflab store file. Use ``Store.open(path)``; close it, or use it as a context manager.

    Used as a context manager it is also the boundary where SQLite's errors about the file (a
    damaged page met by a query, a full disk) become perflab's one-line errors.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, *, readonly: bool = False) -> None:
        self.path = path
        self.conn = conn
        self.readonly = readonly
        # set when a query met a damaged page: from then on nothing is written (close included)
        self.damaged = False
        self._head_rows = 0  # rows this connection put in samples_head since its last compaction
        self._compacted_at = time.monotonic()

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True,
             readonly: bool | None = None) -> Store:
        """Open (or, with ``create``, create) the store at ``path``.

        ``readonly``: None (the default) opens read-write, or read-only when the file cannot be
        written and the caller only reads (``create=False``); False demands write access (a
        clear error on a read-only file); True opens read-only whatever the file allows.
        """
        p = Path(path).expanduser() if path is not None else default_store_path()
        if readonly is None and create:
            readonly = False  # a command that may create a store writes to it
        conn, ro = connect(p, create=create, readonly=readonly)
        return cls(p, conn, readonly=ro)

    def close(self) -> None:
        if self._head_rows and not self.damaged and not self.readonly:
            # best effort: rows left in the head are still read (and compacted by the next
            # writer), so a busy, full or read-only file must not turn closing into an error
            with contextlib.suppress(sqlite3.Error, StoreError):
                self.compact_samples()
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, sqlite3.Error) and is_damage(exc):
            self.damaged = True  # so that closing does not compact into a damaged file
        self.close()
        if isinstance(exc, sqlite3.Error):
            mapped = store_error(exc, self.path)
            if mapped is not None:
                raise mapped from exc

    def check_integrity(self, *, limit: int = 100) -> list[str]:
        """The full ``PRAGMA integrity_check`` (reads every page: about 1 s per 100 MB); []
        when the file is sound. What ``perflab store check`` runs."""
        return integrity_problems(self.conn, limit=limit)

    # -- runs ----------------------------------------------------------------------------------

    @writes
    def create_run(self, kind: str, name: str, *, meta: dict[str, Any] | None = None,
                   started_ns: int | None = None) -> Run:
        """A new ``running`` run owned by this process (its PID, start time and boot are
        recorded: when it dies without finishing the run, readers see ``interrupted``)."""
        started = time.time_ns() if started_ns is None else started_ns
        owner = this_process()
        meta_json = json.dumps(meta or {}, sort_keys=True)
        cur = self.conn.execute(
            "INSERT INTO runs (kind, name, status, started_ns, host, pid, pid_start, boot_id,"
            " meta) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
            (kind, name, started, owner.host, owner.pid, owner.start_ticks, owner.boot_id,
             meta_json),
        )
        run_id = int(cur.lastrowid or 0)
        return Run(run_id, kind, name, "running", started, None, owner.host, owner.pid,
                   meta or {}, owner.start_ticks, owner.boot_id)

    @writes
    def finish_run(self, run_id: int, status: str = "ok", *, ended_ns: int | None = None,
                   meta_update: dict[str, Any] | None = None, rollup: bool = True) -> None:
        """End a run. ``rollup``: build its per-minute rollups now (about 0.3 s of CPU per
        million samples); a caller that must stop at once (a server shutting down after days
        of recording) leaves them to the hub's background rollups or the first reader."""
        ended = time.time_ns() if ended_ns is None else ended_ns
        if meta_update:
            run = self.run(run_id)
            merged = {**run.meta, **meta_update}
            self.conn.execute("UPDATE runs SET meta = ? WHERE id = ?",
                              (json.dumps(merged, sort_keys=True), run_id))
        self.conn.execute("UPDATE runs SET status = ?, ended_ns = ?, pid = NULL WHERE id = ?",
                          (status, ended, run_id))
        # The run no longer changes: roll it up now, so its first view is as fast as the next.
        # A cache: if the store is busy (or the disk full), a reader builds it later.
        if rollup:
            with contextlib.suppress(sqlite3.OperationalError):
                build_run_rollups(self.conn, run_id)

    def build_rollups(self, run_id: int) -> int:
        """Build the per-minute rollup of every series of a finished run that lacks one."""
        return build_run_rollups(self.conn, run_id)

    def has_rollup(self, series_id: int) -> bool:
        return rollup_exists(self.conn, series_id)

    def build_series_rollup(self, series_id: int) -> bool:
        """Roll one series of a finished run up; False when there was nothing to write.
        Raises sqlite3.OperationalError when the store may not be written."""
        return build_series_rollup(self.conn, series_id)

    def run(self, ref: int | str) -> Run:
        """A run by id, by name (the newest of that name), or ``last``/``latest``.

        A ``running`` run whose owner is gone comes back ``interrupted``, ending at its last
        sample (see ``runs``); so does every view built on this."""
        row: tuple[Any, ...] | None
        sql = f"SELECT {_RUN_COLS} FROM runs"
        run_id = _run_id(ref)
        if run_id is not None:
            row = (self.conn.execute(sql + " WHERE id = ?", (run_id,)).fetchone()
                   if INT64_MIN <= run_id <= INT64_MAX else None)
        elif ref in ("last", "latest"):
            row = self.conn.execute(sql + " ORDER BY started_ns DESC, id DESC LIMIT 1").fetchone()
        else:
            row = self.conn.execute(
                sql + " WHERE name = ? ORDER BY started_ns DESC, id DESC LIMIT 1", (ref,)
            ).fetchone()
        if row is None:
            shown = ref if isinstance(ref, int) or len(ref) <= 80 else ref[:80] + "..."
            raise NotFound(f"no run {shown!r} in {self.path}",
                           hint="list the runs with `perflab runs`")
        return self._effective(_run_from_row(row))

    def runs(self, *, kind: str | None = None, name: str | None = None,
             since_ns: int | None = None, until_ns: int | None = None,
             limit: int | None = None) -> list[Run]:
        """Runs, newest first. ``name``: the name contains this text, literally (``%`` and
        ``_`` are no wildcards); at most MAX_NAME_FILTER characters (InvalidValue beyond)."""
        where: list[str] = []
        args: list[Any] = []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if name:
            if len(name) > MAX_NAME_FILTER:
                raise InvalidValue(
                    f"the name filter is {len(name):,} characters long; at most "
                    f"{MAX_NAME_FILTER:,} are allowed",
                    hint="give a shorter part of the name: it matches names that contain it",
                )
            where.append("name LIKE ? ESCAPE '\\'")
            args.append(like_contains(name))
        conditions, bounds = overlap_conditions(
            since_ns, until_ns, start_col="started_ns",
            end_col="COALESCE(ended_ns, 9223372036854775807)")
        where += conditions
        args += bounds
        sql = f"SELECT {_RUN_COLS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_ns DESC, id DESC"
        if limit:
            sql += f" LIMIT {min(int(limit), INT64_MAX)}"
        return [self._effective(_run_from_row(r)) for r in self.conn.execute(sql, args)]

    def _effective(self, run: Run) -> Run:
        """The run as every view shows it: one still marked ``running`` whose owner process
        is gone (``kill -9``, OOM, power) is ``interrupted`` and ends at its last sample. The
        file is not changed: readers may not write, and the owner check is cheap."""
        if run.status != "running" or self.recorder_alive(run):
            return run
        return dataclasses.replace(run, status="interrupted", ended_ns=self.last_sample_ns(run))

    def last_sample_ns(self, run: Run) -> int:
        """The time of the run's last sample (its start when it has none)."""
        with self._snapshot():
            row = self.conn.execute(
                "SELECT MAX(t) FROM ("
                " SELECT (SELECT MAX(ts_ns) FROM samples WHERE series_id = s.id) AS t"
                " FROM series s WHERE s.run_id = ?"
                " UNION ALL SELECT MAX(h.ts_ns) FROM samples_head h"
                " WHERE h.series_id IN (SELECT id FROM series WHERE run_id = ?))",
                (run.id, run.id)).fetchone()
        last = None if row is None else row[0]
        return run.started_ns if last is None else max(int(last), run.started_ns)

    @writes
    def delete_run(self, run_id: int) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("samples", "samples_head", "metric_marks", "metric_blocks"):
                self.conn.execute(
                    f"DELETE FROM {table} WHERE series_id IN"
                    " (SELECT id FROM series WHERE run_id = ?)",
                    (run_id,),
                )
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            self.conn.execute("COMMIT")
        except BaseException:
            rollback(self.conn)
            raise

    # -- series and samples --------------------------------------------------------------------

    def series(self, run_id: int, *, name: str | None = None,
               labels: dict[str, str] | None = None) -> list[Series]:
        sql = "SELECT id, run_id, name, labels, unit FROM series WHERE run_id = ?"
        args: list[Any] = [run_id]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        sql += " ORDER BY name, labels"
        out = []
        for sid, rid, sname, slabels, unit in self.conn.execute(sql, args):
            lab = json.loads(slabels)
            if labels and any(lab.get(k) != v for k, v in labels.items()):
                continue
            out.append(Series(sid, rid, sname, lab, unit))
        return out

    def series_by_id(self, series_id: int) -> Series:
        if not INT64_MIN <= series_id <= INT64_MAX:
            raise NotFound(f"no series {series_id}")
        row = self.conn.execute("SELECT id, run_id, name, labels, unit FROM series WHERE id = ?",
                                (series_id,)).fetchone()
        if row is None:
            raise NotFound(f"no series {series_id}")
        return Series(row[0], row[1], row[2], json.loads(row[3]), row[4])

    def samples(self, series_id: int, start_ns: int | None = None,
                end_ns: int | None = None) -> list[tuple[int, float]]:
        """(ts_ns, value) pairs in time order, optionally within [start_ns, end_ns]."""
        conditions, bounds = overlap_conditions(start_ns, end_ns)
        window = "".join(f" AND {c}" for c in conditions)
        args: list[Any] = [series_id, *bounds]
        with self._snapshot():  # a compaction between the two reads must not hide a sample
            head = self.conn.execute(
                f"SELECT ts_ns, value FROM samples_head WHERE series_id = ?{window}", args
            ).fetchall()
            main = self.conn.execute(
                f"SELECT ts_ns, value FROM samples WHERE series_id = ?{window} ORDER BY ts_ns",
                args,
            ).fetchall()
        if not head:
            return main
        # the head wins over an older value of the same timestamp (INSERT OR REPLACE semantics)
        merged = dict(main)
        merged.update(head)
        return sorted(merged.items())

    def run_values(self, run_id: int) -> list[tuple[int, float]]:
        """(series_id, value) of every sample of a run, by series then time: one query, for
        summaries over runs of millions of samples (``perflab show``)."""
        return self.conn.execute(
            "WITH ids AS (SELECT id FROM series WHERE run_id = ?)"
            " SELECT series_id, value FROM ("
            "  SELECT series_id, ts_ns, value FROM samples m WHERE series_id IN ids"
            "  AND NOT EXISTS (SELECT 1 FROM samples_head h"  # a newer value of the same ts
            "                  WHERE h.ts_ns = m.ts_ns AND h.series_id = m.series_id)"
            "  UNION ALL"
            "  SELECT series_id, ts_ns, value FROM samples_head WHERE series_id IN ids)"
            " ORDER BY series_id, ts_ns", (run_id,)
        ).fetchall()

    def sample_counts(self, run_id: int) -> dict[int, int]:
        """Samples per series of a run (a value rewritten after compaction counts twice)."""
        with self._snapshot():
            counts = {int(a): int(b) for a, b in self.conn.execute(
                "SELECT s.id, (SELECT COUNT(*) FROM samples WHERE series_id = s.id)"
                " FROM series s WHERE s.run_id = ?", (run_id,)
            )}
            for sid, n in self.conn.execute(
                "SELECT series_id, COUNT(*) FROM samples_head WHERE series_id IN"
                " (SELECT id FROM series WHERE run_id = ?) GROUP BY series_id", (run_id,)
            ):
                counts[int(sid)] = counts.get(int(sid), 0) + int(n)
        return counts

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Several reads in one read transaction (WAL: one consistent view of the file)."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    # -- events and artifacts ------------------------------------------------------------------

    @writes
    def add_event(self, run_id: int, kind: str, text: str = "", *, ts_ns: int | None = None,
                  end_ns: int | None = None, attrs: dict[str, Any] | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO events (run_id, ts_ns, end_ns, kind, text, attrs) VALUES (?,?,?,?,?,?)",
            (run_id, time.time_ns() if ts_ns is None else ts_ns, end_ns, kind, text,
             json.dumps(attrs or {}, sort_keys=True)),
        )
        return int(cur.lastrowid or 0)

    def events(self, run_id: int, *, start_ns: int | None = None,
               end_ns: int | None = None) -> list[Event]:
        sql = "SELECT id, run_id, ts_ns, end_ns, kind, text, attrs FROM events WHERE run_id = ?"
        conditions, bounds = overlap_conditions(start_ns, end_ns,
                                                end_col="COALESCE(end_ns, ts_ns)")
        sql += "".join(f" AND {c}" for c in conditions) + " ORDER BY ts_ns, id"
        args: list[Any] = [run_id, *bounds]
        return [Event(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
                for r in self.conn.execute(sql, args)]

    @writes
    def add_artifact(self, run_id: int, kind: str, data: bytes, *, name: str = "",
                     content_type: str = "application/octet-stream", ts_ns: int | None = None,
                     end_ns: int | None = None, attrs: dict[str, Any] | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO artifacts (run_id, ts_ns, end_ns, kind, name, content_type, data, attrs)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (run_id, time.time_ns() if ts_ns is None else ts_ns, end_ns, kind, name,
             content_type, sqlite3.Binary(data), json.dumps(attrs or {}, sort_keys=True)),
        )
        return int(cur.lastrowid or 0)

    def artifacts(self, run_id: int, kind: str | None = None) -> list[Artifact]:
        sql = ("SELECT id, run_id, ts_ns, end_ns, kind, name, content_type, attrs FROM artifacts"
               " WHERE run_id = ?")
        args: list[Any] = [run_id]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        sql += " ORDER BY ts_ns, id"
        return [Artifact(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]))
                for r in self.conn.execute(sql, args)]

    def artifact_data(self, artifact_id: int) -> bytes:
        row = self.conn.execute("SELECT data FROM artifacts WHERE id = ?",
                                (artifact_id,)).fetchone()
        if row is None:
            raise NotFound(f"no artifact {artifact_id}")
        return bytes(row[0])

    # -- writing -------------------------------------------------------------------------------

    @writes
    def series_id(self, run_id: int, name: str, labels: dict[str, str] | None = None,
                  unit: str = "") -> int:
        """The id of a series, created on first use."""
        lab = canonical_labels(labels)
        row = self.conn.execute(
            "SELECT id FROM series WHERE run_id = ? AND name = ? AND labels = ?",
            (run_id, name, lab),
        ).fetchone()
        if row is not None:
            return int(row[0])
        cur = self.conn.execute(
            "INSERT INTO series (run_id, name, labels, unit) VALUES (?, ?, ?, ?)",
            (run_id, name, lab, unit),
        )
        return int(cur.lastrowid or 0)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction around the block; inside another one, it joins it (so store
        functions can be combined into one commit, as the ingest queue does)."""
        if self.conn.in_transaction:
            yield
            return
        self._begin_write()
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            rollback(self.conn)  # SQLite may have rolled back already (disk full)
            raise

    @writes
    def _begin_write(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    @writes
    def insert_samples(self, rows: Iterable[tuple[int, int, float]] | Sequence[Any]) -> None:
        """Insert (series_id, ts_ns, value) rows in one transaction (into the head, see v2)."""
        self.insert_flat_samples(list(itertools.chain.from_iterable(rows)))

    @writes
    def insert_flat_samples(self, flat: list[Any], *, clustered: bool = False) -> None:
        """``insert_samples`` of the rows laid end to end: [sid, ts, value, sid, ts, ...].

        Rows go in statements of many ``VALUES`` rows each (sizes that are powers of two, so
        a handful of prepared statements serve every batch): half the CPU of ``executemany``,
        which steps and re-binds one statement per row. A later row of the same (series,
        time) replaces an earlier one, as it did row by row.

        ``clustered``: straight into ``samples``, not the head: for a batch with many samples
        per series (a page per series is dirtied either way, and the head's move costs as much
        again), sorted by series and time, that no head row shadows (the caller's to see to)."""
        n = len(flat) // 3
        table = "samples" if clustered else "samples_head"
        joined = self.conn.in_transaction
        with self.transaction():
            at = 0
            while at < n:
                rows = min(_INSERT_CHUNK, 1 << ((n - at).bit_length() - 1))
                self.conn.execute(_samples_insert(table, rows), flat[3 * at:3 * (at + rows)])
                at += rows
        if clustered:
            return
        self._head_rows += n
        if joined:
            return  # compaction takes its own transaction, after the outer one
        self.compact_if_due()

    def compact_if_due(self) -> None:
        """Compact the head when this connection put enough rows in it, or long enough ago.
        Outside a transaction only: the ingest queue calls it after each committed round."""
        if self._head_rows and not self.conn.in_transaction and (
                self._head_rows >= COMPACT_MAX_ROWS
                or time.monotonic() - self._compacted_at >= COMPACT_INTERVAL_S):
            self.compact_samples()

    @writes
    def compact_samples(self) -> int:
        """Move every row of samples_head into samples, sorted by series. Returns rows moved.

        One transaction: readers see each sample exactly once before, during and after.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            moved = self.conn.execute(
                "INSERT OR REPLACE INTO samples (series_id, ts_ns, value)"
                " SELECT series_id, ts_ns, value FROM samples_head ORDER BY series_id, ts_ns"
            ).rowcount
            self.conn.execute("DELETE FROM samples_head")
            self.conn.execute("COMMIT")
        except BaseException:
            rollback(self.conn)  # SQLite may have rolled back already (disk full)
            raise
        self._head_rows = 0
        self._compacted_at = time.monotonic()
        return int(moved)

    def recorder_alive(self, run: Run) -> bool:
        """Whether the process that owns a 'running' run still exists (same PID, same start
        time, same boot; see _owner.py). Another host's run is taken as alive: it cannot be
        checked from here."""
        return owner_alive(run.host, run.pid, run.pid_start, run.boot_id)


_RUN_COLS = "id, kind, name, status, started_ns, ended_ns, host, pid, meta, pid_start, boot_id"


def _run_from_row(r: tuple[Any, ...]) -> Run:
    return Run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), r[9], r[10])


def _run_id(ref: int | str) -> int | None:
    """The id in a run reference, or None when it names a run instead. ASCII digits only: an
    Arabic-Indic digit one (U+0661) is a name, not run 1."""
    if isinstance(ref, int):
        return ref
    if ref.isascii() and ref.isdigit():
        return int(ref)
    return None
