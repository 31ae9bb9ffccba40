"""Opening a store file safely: created whole, refused when foreign or damaged, read-only when
it must be.

- **Creation is atomic.** A new store is built beside its path (schema, WAL mode, the
  ``application_id`` marker) and linked into place, so a file perflab creates is never empty and
  always starts with its marker. An existing empty file is therefore not one of ours (a typo'd
  ``--store``, a placeholder): it is refused, not silently made into a store.
- **Damage is looked for cheaply at open.** SQLite checks the header; perflab reads the schema
  and runs ``PRAGMA quick_check`` on the small tables every writer touches (runs, series,
  events, samples_head). A command that writes checks the whole file when it is at most
  FULL_CHECK_BEFORE_WRITING_BYTES. A full check reads every page (about 1 s per 100 MB on a
  busy machine, see docs/store.md), too slow for each open of a big store, so damage there
  (in ``samples``, ``rollups`` or ``artifacts``) is found when a query reads it, mapped to the
  same one-line error (``_errors.py``), or on demand by ``perflab store check``.
- **A read-only file opens read-only** for reading commands: ``mode=ro``, or, on a read-only
  medium where SQLite cannot create the WAL index, ``immutable=1`` (nothing can write there).

The file is only ever opened through SQLite: closing any other descriptor of it would drop this
process's POSIX locks on it, SQLite's included (see test_store_same_process.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from perflab.errors import NotFound, StoreCorrupt, StoreError, StoreTooNew, StoreUnwritable
from perflab.store._errors import SQLITE_CANTOPEN, is_damage, primary_code, store_error
from perflab.store._schema import APPLICATION_ID, SCHEMA_VERSION, current_version, migrate

BUSY_TIMEOUT_S = 10.0

# The tables checked at every open: small, and written by every recorder. The big ones
# (samples, rollups, artifacts) are checked by `perflab store check`...
QUICK_CHECKED_TABLES = ("runs", "series", "events", "samples_head")
# ... and, before a command writes to it, the whole file when it is no larger than this: a
# full quick_check reads every page, about 0.2 s for 32 MiB on a busy 2-core machine and
# 0.55 s for 62 MiB (benchmarks/bench_store_check.py). Past this a writer's start would wait
# too long for something `perflab store check` does on demand.
FULL_CHECK_BEFORE_WRITING_BYTES = 32 * 2**20

_CREATE_HINT = "pass --store PATH (or set $PERFLAB_STORE) to a writable place"


def connect(p: Path, *, create: bool, readonly: bool | None) -> tuple[sqlite3.Connection, bool]:
    """An SQLite connection to the store at ``p``, checked and migrated; and whether it is
    read-only. ``readonly=None``: a reader's open, read-only when the file cannot be written;
    False: a writer's, which checks a small file whole before it writes anything."""
    writer = readonly is False
    if p.exists():
        if p.is_dir():
            raise StoreUnwritable(f"{p} is a directory", hint="give the path of a file")
        if p.stat().st_size == 0:
            raise StoreCorrupt(
                f"{p} is an empty file, not a perflab store (a store perflab creates is never "
                "empty); it was left untouched",
                hint=f"delete it and perflab creates a store there (rm {p}), or pass another "
                     "--store PATH",
            )
    elif not create:
        raise NotFound(
            f"no store at {p}",
            hint="record something first (`perflab record`), or pass --store PATH",
        )
    else:
        _create(p)
    writable = _writable(p)
    if readonly is None:
        readonly = not writable
    elif not readonly and not writable:
        raise StoreUnwritable(
            f"the store {p} is read-only, and this command writes to it",
            hint="reading commands (runs, show, query, report) work on it; to record, "
                 + _CREATE_HINT,
        )
    conn = _connect_ro(p) if readonly else _connect_rw(p)
    try:
        _prepare(conn, p, readonly=readonly, writer=writer)
    except BaseException:
        conn.close()
        raise
    return conn, readonly


def _writable(p: Path) -> bool:
    """Whether this process may write the file and the WAL beside it (EROFS counts too): the
    WAL and its index are created in the directory, unless they are there already."""
    if not os.access(p, os.W_OK):
        return False
    if os.access(p.parent, os.W_OK | os.X_OK):
        return True
    beside = (Path(f"{p}-wal"), Path(f"{p}-shm"))
    return all(f.exists() and os.access(f, os.W_OK) for f in beside)


def _connect_rw(p: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(p, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.OperationalError as exc:
        raise StoreUnwritable(f"cannot open the store {p}: {exc}", hint=_CREATE_HINT) from exc


def _connect_ro(p: Path) -> sqlite3.Connection:
    base = "file:" + quote(str(p.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(base, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.OperationalError as exc:
        raise StoreUnwritable(f"cannot read the store {p}: {exc}",
                              hint="check the file's permissions") from exc
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        if primary_code(exc) != SQLITE_CANTOPEN:
            return conn  # not a database, damaged...: _prepare says which
        # WAL mode needs its index (PATH-shm), which a read-only directory or medium cannot
        # hold: read the file as it is, which is what it is there (nothing can write it)
        conn.close()
        conn = sqlite3.connect(base + "&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S,
                               isolation_level=None, check_same_thread=False)
    return conn


def _create(p: Path) -> None:
    """Build a new store beside ``p`` and link it into place; a racing process's store wins."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnwritable(
            f"cannot create the store directory {p.parent}: {exc.strerror}", hint=_CREATE_HINT,
        ) from exc
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(6)}.new")
    try:
        # os.open, not mkstemp: the store's mode follows the umask like any other output
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # recorded in the header: it stays WAL
            migrate(conn, 0)
        finally:
            conn.close()
        try:
            os.link(tmp, p)
        except FileExistsError:
            pass  # another process created it meanwhile: use that one
        except OSError:
            # no hard links here (some FUSE and FAT mounts): a rename, which could replace a
            # store another process created in the same instant (both new and empty of runs)
            if not p.exists():
                tmp.rename(p)
    except sqlite3.Error as exc:
        raise store_error(exc, p) or StoreUnwritable(
            f"cannot create the store {p}: {exc}", hint=_CREATE_HINT) from exc
    except OSError as exc:
        raise StoreUnwritable(f"cannot create the store {p}: {exc.strerror}",
                              hint=_CREATE_HINT) from exc
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _prepare(conn: sqlite3.Connection, p: Path, *, readonly: bool, writer: bool) -> None:
    full = writer and p.stat().st_size <= FULL_CHECK_BEFORE_WRITING_BYTES
    version = _check(conn, p, full=full)
    if readonly:
        if version < SCHEMA_VERSION:
            raise StoreUnwritable(
                f"the store {p} was written by an older perflab (schema {version}) and is "
                "read-only here, so it cannot be upgraded",
                hint="open it once where it is writable (any perflab command upgrades it), or "
                     "copy it somewhere writable",
            )
        return
    try:
        _enable_wal(conn)
        # NORMAL in WAL mode: a crash of the process loses nothing committed; only a power
        # loss can lose the last transactions. That is the bargain every TSDB makes.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if version < SCHEMA_VERSION:
            migrate(conn, version)
    except sqlite3.Error as exc:
        mapped = store_error(exc, p)
        if mapped is not None:
            raise mapped from exc
        if "unable to open" in str(exc):
            raise StoreUnwritable(f"the store {p} is not writable: {exc}",
                                  hint=_CREATE_HINT) from exc
        raise StoreCorrupt(f"the store {p} cannot be used: {exc}") from exc


def _check(conn: sqlite3.Connection, p: Path, *, full: bool) -> int:
    """Read the version, the marker and the schema in one read transaction (a consistent view
    even while another process creates the file), then quick-check the small tables (``full``:
    every table)."""
    try:
        conn.execute("BEGIN")
        try:
            version = current_version(conn)
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            problems = [] if app_id != APPLICATION_ID else _quick_check(conn, tables, full=full)
        finally:
            if conn.in_transaction:  # keep the first error, not "no transaction is active"
                with contextlib.suppress(sqlite3.Error):
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
    if problems:
        raise StoreCorrupt(
            f"the store {p} is damaged ({one_line(problems[0])}); perflab will not write to it",
            hint=f"`perflab store check --store {p}` lists what is wrong; move the file away "
                 "and start a new store, or pass another --store PATH",
        )
    return version


def one_line(problem: str) -> str:
    """The first problem SQLite reports in ``problem`` (one row may hold several lines), on one
    line, without its "*** in database main ***" heading."""
    lines = [ln for ln in problem.splitlines() if ln.strip() and "*** in database" not in ln]
    text = " ".join((lines[0] if lines else problem).split())
    return text if len(text) <= 200 else text[:200] + "..."


def _quick_check(conn: sqlite3.Connection, tables: set[str], *, full: bool) -> list[str]:
    if full:
        return [one_line(str(r[0])) for r in conn.execute("PRAGMA quick_check(10)")
                if r[0] != "ok"]
    out: list[str] = []
    for table in QUICK_CHECKED_TABLES:
        if table in tables:
            out += [str(r[0]) for r in conn.execute(f"PRAGMA quick_check({table})")
                    if r[0] != "ok"]
    return out


def _first_read_error(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """What the first read of a file tells."""
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
    if is_damage(exc):
        return StoreCorrupt(
            f"the store {path} is damaged ({text}); it was left untouched",
            hint=f"`perflab store check --store {path}` lists what is wrong; move the file away "
                 "and start a new store, or pass another --store PATH",
        )
    return store_error(exc, path) or StoreCorrupt(
        f"the store {path} cannot be read ({text}); it was left untouched",
        hint="move it away and start a new store, or pass another --store PATH",
    )


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. SQLite answers "locked" at once, without the busy handler, while another
    process is switching the same new file, so wait for that here (up to the busy timeout)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def integrity_problems(conn: sqlite3.Connection, *, limit: int = 100) -> list[str]:
    """``PRAGMA integrity_check``: every page, every index against its table. [] when sound."""
    try:
        rows = conn.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [line for r in rows if r[0] != "ok"
            for line in str(r[0]).splitlines() if line and "*** in database" not in line]


@dataclasses.dataclass(frozen=True, slots=True)
class CheckResult:
    """What ``check_file`` found: ``problems`` is [] for a sound perflab store."""

    path: Path
    size_bytes: int
    schema_version: int | None
    problems: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


def check_file(p: Path, *, limit: int = 100) -> CheckResult:
    """The full integrity check of a store file, read-only, without refusing a damaged file
    (that is what it is for): every page, every index against its table.

    Raises NotFound for a missing file and StoreCorrupt for one that is not an SQLite file or
    not a perflab store; damage is in ``problems``."""
    if not p.exists():
        raise NotFound(f"no store at {p}", hint="pass --store PATH (or set $PERFLAB_STORE)")
    if p.is_dir():
        raise StoreUnwritable(f"{p} is a directory", hint="give the path of a file")
    size = p.stat().st_size
    if size == 0:
        raise StoreCorrupt(f"{p} is an empty file, not a perflab store",
                           hint="a store perflab creates is never empty")
    started = time.monotonic()
    conn = _connect_ro(p)
    try:
        try:
            version = current_version(conn)
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise _first_read_error(p, exc) from exc
            # the header or the schema page itself is damaged: that is the finding
            return CheckResult(p, size, None, [str(exc)], time.monotonic() - started)
        if app_id != APPLICATION_ID:
            raise StoreCorrupt(f"{p} is an SQLite file but not a perflab store",
                               hint="pass another --store PATH")
        problems = integrity_problems(conn, limit=limit)
    finally:
        conn.close()
    return CheckResult(p, size, version, problems, time.monotonic() - started)
