"""Where the hub that serves a store listens: a small JSON file beside the store.

``perflab serve`` writes ``<store>-hub.json`` once it listens and removes it when it stops, so
another command on the same store (``perflab logs query --follow``) can reach it instead of
polling the file. The record holds the hub's URL, a *reference* to its token (never the token:
``{"file": PATH}`` for ``--token-file``, ``{"env": "PERFLAB_TOKEN"}`` for a token given by the
environment or ``--token``, which the reader takes from its own environment; null without a
token) and its owner as a run records one (host, PID, start tick, boot id). A record whose
owner no longer lives (``kill -9`` left it behind, or the PID was reused) is ignored; whether
the URL answers is for the reader to find out. Written to a temporary file and renamed, so a
reader never sees half a record; mode 0600, as the store itself.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from perflab.store._owner import Owner, owner_alive, this_process

RECORD_SUFFIX = "-hub.json"
_FORMAT = 1  # history: 1 (2026-12): url, token, host, pid, start_ticks, boot_id


@dataclass(frozen=True, slots=True)
class HubRecord:
    """A running hub of a store: its URL and how to find its token (see the module)."""

    url: str
    token_ref: dict[str, str] | None
    owner: Owner


def hub_record_path(store_path: str | os.PathLike[str]) -> Path:
    return Path(os.fspath(store_path) + RECORD_SUFFIX)


def publish_hub(store_path: str | os.PathLike[str], url: str,
                token_ref: dict[str, str] | None) -> Path:
    """Record this process as the hub of the store at ``url``; the record's path."""
    me = this_process()
    doc = {"format": _FORMAT, "url": url, "token": token_ref, "host": me.host, "pid": me.pid,
           "start_ticks": me.start_ticks, "boot_id": me.boot_id}
    path = hub_record_path(store_path)
    tmp = path.with_name(f"{path.name}.{me.pid}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    tmp.replace(path)
    return path


def withdraw_hub(store_path: str | os.PathLike[str]) -> None:
    """Remove the record if it is this process's (a second hub that took over keeps its own)."""
    path = hub_record_path(store_path)
    found = _read(path)
    if found is not None and found.owner.pid == os.getpid():
        with contextlib.suppress(OSError):  # gone already, or a directory turned read-only
            path.unlink()


def running_hub(store_path: str | os.PathLike[str]) -> HubRecord | None:
    """The hub recorded for the store when its owner still lives; None otherwise (no record,
    a malformed one, or one left by a process that is gone)."""
    found = _read(hub_record_path(store_path))
    if found is None:
        return None
    o = found.owner
    return found if owner_alive(o.host, o.pid, o.start_ticks, o.boot_id) else None


def _read(path: Path) -> HubRecord | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        ref = doc["token"]
        record = HubRecord(
            url=str(doc["url"]),
            token_ref={str(k): str(v) for k, v in ref.items()} if ref else None,
            owner=Owner(str(doc["host"]), int(doc["pid"]),
                        None if doc["start_ticks"] is None else int(doc["start_ticks"]),
                        None if doc["boot_id"] is None else str(doc["boot_id"])))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent, or not a record this version wrote: as if no hub ran
    return record if record.url.startswith(("http://", "https://")) else None
