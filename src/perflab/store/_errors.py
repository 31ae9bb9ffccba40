"""SQLite's errors in perflab's words: which mean a damaged file, a full disk, a read-only one.

SQLite reports damage lazily: a file with a wrecked page opens fine and fails only when a query
reads that page ("database disk image is malformed"). So every place that runs queries for a
user (the store's own methods, ``Store``'s context manager, the CLI's ``main``) maps what it
catches with ``store_error``, and the user reads one line with a hint instead of a traceback.

The mapping goes by SQLite's primary result code (``sqlite_errorcode & 0xff``), not by message
text, which changes between SQLite versions.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from typing import TYPE_CHECKING, Any, TypeVar

from perflab.errors import StoreCorrupt, StoreError, StoreFull, StoreUnwritable

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

# SQLite's primary result codes (sqlite3.h)
SQLITE_PERM = 3
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

F = TypeVar("F", bound="Callable[..., Any]")


def primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_damage(exc: sqlite3.Error) -> bool:
    return primary_code(exc) in (SQLITE_CORRUPT, SQLITE_NOTADB)


def is_full(exc: sqlite3.Error) -> bool:
    return primary_code(exc) == SQLITE_FULL


def store_error(exc: sqlite3.Error, path: Path | str | None) -> StoreError | None:
    """The perflab error for an SQLite error that says something about the file, or None for
    the others (busy, interrupted, a bug in a query), which the caller handles or re-raises."""
    where = f"the store {path}" if path is not None else "the store"
    code = primary_code(exc)
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StoreCorrupt(
            f"{where} is damaged ({exc}); perflab will not write to it",
            hint=f"`perflab store check{_store_arg(path)}` tells what is wrong; move the file "
                 "away and start a new store, or pass another --store PATH",
        )
    if code == SQLITE_FULL:
        return StoreFull(
            f"disk full: {where} cannot grow ({exc}); everything committed so far is kept",
            hint="free some space (or pass --store PATH on another disk); the file is not "
                 "damaged",
        )
    if code in (SQLITE_READONLY, SQLITE_PERM):
        return StoreUnwritable(
            f"{where} is read-only ({exc})",
            hint="reading commands (runs, show, query, report) work on it; to record, pass "
                 "--store PATH (or set $PERFLAB_STORE) to a writable place",
        )
    if code == SQLITE_IOERR:
        return StoreError(
            f"{where} cannot be read or written: I/O error ({exc})",
            hint="check the disk (dmesg); `perflab store check` verifies the file",
        )
    return None


def writes(method: F) -> F:
    """Decorates a ``Store`` method that writes: damage, a full disk and the like leave it as
    perflab's errors (naming the instance's ``path``); other SQLite errors pass unchanged. Once
    damage was seen, nothing more is written to the file: a write is refused before it starts."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.damaged:
            raise StoreCorrupt(
                f"the store {self.path} is damaged; perflab will not write to it",
                hint=f"`perflab store check{_store_arg(self.path)}` tells what is wrong",
            )
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            mapped = store_error(exc, self.path)
            if mapped is None:
                raise
            if isinstance(mapped, StoreCorrupt):
                self.damaged = True
            raise mapped from exc

    return wrapper  # type: ignore[return-value]  # same signature as method


def rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already: after SQLITE_FULL (and some I/O
    errors) SQLite rolls back by itself, and a ROLLBACK then fails with "cannot rollback - no
    transaction is active", which would hide the error that matters."""
    if conn.in_transaction:
        # the first error is the one to report; this one would add nothing
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _store_arg(path: Path | str | None) -> str:
    return "" if path is None else f" --store {path}"
