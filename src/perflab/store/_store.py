"""Opening a store file safely, and reading from it.

One ``Store`` wraps one SQLite connection in WAL mode: any number of readers (``perflab show``,
the dashboard) proceed while one recorder writes. A file that is not a perflab store, is damaged,
or was written by a newer perflab is refused with a message and never modified.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from perflab.errors import NotFound, StoreCorrupt, StoreError, StoreTooNew, StoreUnwritable
from perflab.store._models import Artifact, Event, Run, Series, canonical_labels
from perflab.store._rollups import build_run_rollups, build_series_rollup, rollup_exists
from perflab.store._schema import APPLICATION_ID, SCHEMA_VERSION, current_version, migrate

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

_BUSY_TIMEOUT_S = 10.0
# Samples wait in samples_head (cheap to append to) for at most this long, or this many rows,
# before moving to samples (clustered by series) in one sorted batch. See _schema.py, v2.
COMPACT_INTERVAL_S = 30.0
COMPACT_MAX_ROWS = 200_000


def default_store_path() -> Path:
    """``$PERFLAB_STORE``, else ``$XDG_DATA_HOME/perflab/perflab.db`` (``~/.local/share``)."""
    env = os.environ.get("PERFLAB_STORE")
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "perflab" / "perflab.db"


def _first_read_error(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """What the first read of a file tells. The file is never opened outside SQLite: closing
    any other descriptor of it drops this process's POSIX locks on it, SQLite's included, and
    another process's last connection would then delete the WAL under our feet."""
    text = str(exc)
    if "not a database" in text:
        return StoreCorrupt(
            f"{path} is not a perflab store (not an SQLite file); it was left untouched",
            hint="point --store at another file, or move this one away",
        )
    if "unable to open" in text:
        return StoreUnwritable(
            f"cannot read the store {path}: {text}",
            hint="use a store you own with --store PATH or $PERFLAB_STORE",
        )
    return StoreCorrupt(
        f"the store {path} is damaged ({text}); it was left untouched",
        hint="move it away and start a new store, or pass another --store PATH",
    )


class Store:
    """A perflab store file. Use ``Store.open(path)``; close it, or use it as a context manager."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self._head_rows = 0  # rows this connection put in samples_head since its last compaction
        self._compacted_at = time.monotonic()

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | None = None, *, create: bool = True) -> Store:
        p = Path(path).expanduser() if path is not None else default_store_path()
        if p.exists():
            if p.is_dir():
                raise StoreUnwritable(f"{p} is a directory", hint="give the path of a file")
        elif not create:
            raise NotFound(
                f"no store at {p}",
                hint="record something first (`perflab record`), or pass --store PATH",
            )
        else:
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnwritable(
                    f"cannot create the store directory {p.parent}: {exc.strerror}",
                    hint="pass --store PATH (or set $PERFLAB_STORE) to a writable place",
                ) from exc
        try:
            conn = sqlite3.connect(p, timeout=_BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.OperationalError as exc:
            raise StoreUnwritable(
                f"cannot open the store {p}: {exc}",
                hint="pass --store PATH (or set $PERFLAB_STORE) to a writable place",
            ) from exc
        try:
            cls._prepare(conn, p)
        except BaseException:
            conn.close()
            raise
        return cls(p, conn)

    @staticmethod
    def _prepare(conn: sqlite3.Connection, p: Path) -> None:
        try:
            # one read transaction: a consistent view even while another process creates the file
            conn.execute("BEGIN")
            try:
                version = current_version(conn)
                app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            except sqlite3.DatabaseError:
                if conn.in_transaction:  # keep the first error, not "no transaction is active"
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise _first_read_error(p, exc) from exc
        if version > SCHEMA_VERSION:
            raise StoreTooNew(
                f"the store {p} has schema version {version}, newer than this perflab "
                f"understands ({SCHEMA_VERSION}); it was left untouched",
                hint="upgrade perflab, or pass another --store PATH",
            )
        if tables and app_id != APPLICATION_ID:
            raise StoreCorrupt(
                f"{p} is an SQLite file but not a perflab store; it was left untouched",
                hint="pass another --store PATH",
            )
        try:
            _enable_wal(conn)
            # NORMAL in WAL mode: a crash of the process loses nothing committed; only a power
            # loss can lose the last transactions. That is the bargain every TSDB makes.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            if version < SCHEMA_VERSION:
                migrate(conn, version)
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise StoreUnwritable(
                    f"the store {p} is not writable: {exc}",
                    hint="pass --store PATH (or set $PERFLAB_STORE) to a writable place",
                ) from exc
            raise StoreCorrupt(f"the store {p} cannot be used: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(
                f"the store {p} is damaged ({exc}); it was left untouched",
                hint="move it away and start a new store, or pass another --store PATH",
            ) from exc

    def close(self) -> None:
        if self._head_rows:
            # best effort: rows left in the head are still read (and compacted by the next
            # writer), so a busy or read-only file must not turn closing into an error
            with contextlib.suppress(sqlite3.Error):
                self.compact_samples()
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------------

    def create_run(self, kind: str, name: str, *, meta: dict[str, Any] | None = None,
                   started_ns: int | None = None) -> Run:
        started = time.time_ns() if started_ns is None else started_ns
        host = socket.gethostname()
        meta_json = json.dumps(meta or {}, sort_keys=True)
        cur = self.conn.execute(
            "INSERT INTO runs (kind, name, status, started_ns, host, pid, meta)"
            " VALUES (?, ?, 'running', ?, ?, ?, ?)",
            (kind, name, started, host, os.getpid(), meta_json),
        )
        run_id = int(cur.lastrowid or 0)
        return Run(run_id, kind, name, "running", started, None, host, os.getpid(), meta or {})

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
        # A cache: if the store is busy for longer than the busy timeout, a reader builds it.
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
        """A run by id, by name (the newest of that name), or ``last``/``latest``."""
        row: tuple[Any, ...] | None
        sql = f"SELECT {_RUN_COLS} FROM runs"
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            row = self.conn.execute(sql + " WHERE id = ?", (int(ref),)).fetchone()
        elif ref in ("last", "latest"):
            row = self.conn.execute(sql + " ORDER BY started_ns DESC, id DESC LIMIT 1").fetchone()
        else:
            row = self.conn.execute(
                sql + " WHERE name = ? ORDER BY started_ns DESC, id DESC LIMIT 1", (ref,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no run {ref!r} in {self.path}",
                           hint="list the runs with `perflab runs`")
        return _run_from_row(row)

    def runs(self, *, kind: str | None = None, name: str | None = None,
             since_ns: int | None = None, until_ns: int | None = None,
             limit: int | None = None) -> list[Run]:
        where: list[str] = []
        args: list[Any] = []
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if name:
            where.append("name LIKE ?")
            args.append(f"%{name}%")
        if since_ns is not None:
            where.append("COALESCE(ended_ns, 9223372036854775807) >= ?")
            args.append(since_ns)
        if until_ns is not None:
            where.append("started_ns <= ?")
            args.append(until_ns)
        sql = f"SELECT {_RUN_COLS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_ns DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_run_from_row(r) for r in self.conn.execute(sql, args)]

    def delete_run(self, run_id: int) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for table in ("samples", "samples_head"):
                self.conn.execute(
                    f"DELETE FROM {table} WHERE series_id IN"
                    " (SELECT id FROM series WHERE run_id = ?)",
                    (run_id,),
                )
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
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
        row = self.conn.execute("SELECT id, run_id, name, labels, unit FROM series WHERE id = ?",
                                (series_id,)).fetchone()
        if row is None:
            raise NotFound(f"no series {series_id}")
        return Series(row[0], row[1], row[2], json.loads(row[3]), row[4])

    def samples(self, series_id: int, start_ns: int | None = None,
                end_ns: int | None = None) -> list[tuple[int, float]]:
        """(ts_ns, value) pairs in time order, optionally within [start_ns, end_ns]."""
        window = ""
        args: list[Any] = [series_id]
        if start_ns is not None:
            window += " AND ts_ns >= ?"
            args.append(start_ns)
        if end_ns is not None:
            window += " AND ts_ns <= ?"
            args.append(end_ns)
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
        args: list[Any] = [run_id]
        if start_ns is not None:
            sql += " AND COALESCE(end_ns, ts_ns) >= ?"
            args.append(start_ns)
        if end_ns is not None:
            sql += " AND ts_ns <= ?"
            args.append(end_ns)
        sql += " ORDER BY ts_ns, id"
        return [Event(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
                for r in self.conn.execute(sql, args)]

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

    def insert_samples(self, rows: Iterable[tuple[int, int, float]] | Sequence[Any]) -> None:
        """Insert (series_id, ts_ns, value) rows in one transaction (into the head, see v2)."""
        batch = rows if isinstance(rows, list) else list(rows)
        self.conn.execute("BEGIN")
        try:
            self.conn.executemany(
                "INSERT OR REPLACE INTO samples_head (series_id, ts_ns, value) VALUES (?, ?, ?)",
                batch,
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._head_rows += len(batch)
        if (self._head_rows >= COMPACT_MAX_ROWS
                or time.monotonic() - self._compacted_at >= COMPACT_INTERVAL_S):
            self.compact_samples()

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
            self.conn.execute("ROLLBACK")
            raise
        self._head_rows = 0
        self._compacted_at = time.monotonic()
        return int(moved)

    def recorder_alive(self, run: Run) -> bool:
        """Whether the process recording a 'running' run on this host still exists."""
        if run.pid is None or run.host != socket.gethostname():
            return True
        try:
            os.kill(run.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. SQLite answers "locked" at once, without the busy handler, while another
    process is switching the same new file, so wait for that here (up to the busy timeout)."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


_RUN_COLS = "id, kind, name, status, started_ns, ended_ns, host, pid, meta"


def _run_from_row(r: tuple[Any, ...]) -> Run:
    return Run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
