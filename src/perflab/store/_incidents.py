"""Incidents in the store (schema v9): the incident row beside its run, its timeline items
(evidence, findings, notes, actions), and the cross-run questions an incident asks of the
store (events of a kind in a window: deploys, alerts, chaos faults).

An incident is a run of kind ``incident``; its evidence blobs are the run's artifacts, so the
report, the bundle and ``perflab show`` read them the usual way.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perflab.errors import NotFound
from perflab.store._models import Event, Run
from perflab.store._store import INT64_MAX, INT64_MIN, overlap_conditions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from perflab.store._store import Store

ITEM_KINDS = ("evidence", "finding", "note", "action")


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One incident: its run id (the incident's id), title, state, suspects, postmortem."""

    id: int
    title: str
    status: str
    opened_ns: int
    closed_ns: int | None
    suspects: dict[str, Any]
    postmortem: str | None


@dataclass(frozen=True, slots=True)
class IncidentItem:
    """One entry of an incident's timeline; ``attrs`` is decoded JSON."""

    id: int
    incident_id: int
    ts_ns: int
    kind: str
    title: str
    body: str
    score: float | None
    attrs: dict[str, Any]


def create_incident(store: Store, title: str, *, suspects: dict[str, Any],
                    opened_ns: int | None = None) -> Run:
    """A new incident: its run (kind ``incident``) and its row, in one transaction."""
    opened = time.time_ns() if opened_ns is None else opened_ns
    with store.transaction():
        run = store.create_run("incident", title, started_ns=opened,
                               meta={"suspects": suspects})
        store.conn.execute(
            "INSERT INTO incidents (run_id, title, status, opened_ns, suspects)"
            " VALUES (?, ?, 'open', ?, ?)",
            (run.id, title, opened, json.dumps(suspects, sort_keys=True)))
    return run


_COLS = "run_id, title, status, opened_ns, closed_ns, suspects, postmortem"


def _row(r: Sequence[Any]) -> IncidentRow:
    return IncidentRow(int(r[0]), r[1], r[2], int(r[3]), r[4], json.loads(r[5]), r[6])


def incident(store: Store, incident_id: int) -> IncidentRow:
    """The incident of that id; NotFound when there is none."""
    row = (store.conn.execute(f"SELECT {_COLS} FROM incidents WHERE run_id = ?",
                              (incident_id,)).fetchone()
           if INT64_MIN <= incident_id <= INT64_MAX else None)
    if row is None:
        raise NotFound(f"no incident {incident_id} in {store.path}",
                       hint="list them with `perflab incident ls`")
    return _row(row)


def incidents(store: Store, *, limit: int = 50) -> list[IncidentRow]:
    """Incidents, newest first."""
    return [_row(r) for r in store.conn.execute(
        f"SELECT {_COLS} FROM incidents ORDER BY opened_ns DESC, run_id DESC LIMIT ?",
        (max(1, min(limit, 10_000)),))]


def close_incident(store: Store, incident_id: int, postmortem: str, *,
                   closed_ns: int | None = None) -> None:
    """Mark an incident closed, keeping its postmortem draft."""
    with store.transaction():
        store.conn.execute(
            "UPDATE incidents SET status = 'closed', closed_ns = ?, postmortem = ?"
            " WHERE run_id = ?",
            (time.time_ns() if closed_ns is None else closed_ns, postmortem, incident_id))


def add_incident_item(store: Store, incident_id: int, kind: str, title: str, *,
                      body: str = "", score: float | None = None,
                      attrs: dict[str, Any] | None = None, ts_ns: int | None = None) -> int:
    """Append an item (``ITEM_KINDS``) to an incident's timeline; returns its id."""
    if kind not in ITEM_KINDS:
        msg = f"unknown incident item kind {kind!r}"
        raise ValueError(msg)
    with store.transaction():
        cur = store.conn.execute(
            "INSERT INTO incident_items (incident_id, ts_ns, kind, title, body, score, attrs)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (incident_id, time.time_ns() if ts_ns is None else ts_ns, kind, title, body, score,
             json.dumps(attrs or {}, sort_keys=True, default=str)))
    return int(cur.lastrowid or 0)


def replace_findings(store: Store, incident_id: int,
                     findings: Sequence[tuple[str, str, float, dict[str, Any]]]) -> None:
    """Replace an incident's findings by ``(title, body, score, attrs)`` rows (a re-triage)."""
    now = time.time_ns()
    with store.transaction():
        store.conn.execute("DELETE FROM incident_items WHERE incident_id = ? AND kind = 'finding'",
                           (incident_id,))
        store.conn.executemany(
            "INSERT INTO incident_items (incident_id, ts_ns, kind, title, body, score, attrs)"
            " VALUES (?, ?, 'finding', ?, ?, ?, ?)",
            [(incident_id, now, t, b, s, json.dumps(a, sort_keys=True, default=str))
             for t, b, s, a in findings])


def incident_items(store: Store, incident_id: int, kind: str | None = None) -> list[IncidentItem]:
    """An incident's items in time order (findings: best score first)."""
    sql = ("SELECT id, incident_id, ts_ns, kind, title, body, score, attrs FROM incident_items"
           " WHERE incident_id = ?")
    args: list[Any] = [incident_id]
    if kind is not None:
        sql += " AND kind = ?"
        args.append(kind)
    order = " ORDER BY score DESC, id" if kind == "finding" else " ORDER BY ts_ns, id"
    return [IncidentItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]))
            for r in store.conn.execute(sql + order, args)]


def events_of_kind(store: Store, kind: str, start_ns: int | None = None,
                   end_ns: int | None = None, *, limit: int = 1000) -> list[Event]:
    """Events of one kind across every run (deploys, alerts, faults) overlapping
    ``[start_ns, end_ns]``, in time order, at most ``limit`` (the latest kept)."""
    conditions, bounds = overlap_conditions(start_ns, end_ns,
                                            end_col="COALESCE(end_ns, ts_ns)")
    sql = ("SELECT id, run_id, ts_ns, end_ns, kind, text, attrs FROM events WHERE kind = ?"
           + "".join(f" AND {c}" for c in conditions) + " ORDER BY ts_ns DESC, id DESC LIMIT ?")
    rows = store.conn.execute(sql, [kind, *bounds, max(1, min(limit, 100_000))]).fetchall()
    return [Event(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in reversed(rows)]


def record_deploy(store: Store, service: str, version: str, *, ts_ns: int | None = None,
                  attrs: dict[str, Any] | None = None) -> Event:
    """A deploy of ``service`` at ``version``: an instant run of kind ``deploy`` holding one
    ``deploy`` event (events belong to a run; a deploy is a moment, not a recording). Every
    timeline that covers the moment shows it (``events_of_kind``)."""
    at = time.time_ns() if ts_ns is None else ts_ns
    every = {**(attrs or {}), "service": service, "version": version}
    text = f"deploy {service} {version}"
    with store.transaction():
        run = store.create_run("deploy", text, started_ns=at, meta=every)
        event_id = store.add_event(run.id, "deploy", text, ts_ns=at, attrs=every)
        store.finish_run(run.id, "ok", ended_ns=at, rollup=False)
    return Event(event_id, run.id, at, None, "deploy", text, every)


def span_outcomes(store: Store, start_ns: int, end_ns: int, *, limit: int = 200_000
                  ) -> list[tuple[str, str, int, int]]:
    """(service, operation, duration_ns, status) of the entry spans (server or consumer kind,
    or roots) that started in ``[start_ns, end_ns]``: what RED per service is computed from.
    At most ``limit``, the latest."""
    rows = store.conn.execute(
        "SELECT v.name, o.name, s.duration_ns, s.status FROM spans s INDEXED BY spans_start"
        " JOIN span_services v ON v.id = s.service_id"
        " JOIN span_ops o ON o.op_id = s.op_id AND o.kind = s.kind"
        " WHERE s.start_ns BETWEEN ? AND ? AND (s.kind IN (2, 5) OR s.parent_id IS NULL)"
        " ORDER BY s.start_ns DESC LIMIT ?", (start_ns, end_ns, limit)).fetchall()
    return [(str(a), str(b), int(c), int(d)) for a, b, c, d in rows]


def process_series_in(store: Store, names: Sequence[str], pid: int, start_ns: int,
                      end_ns: int) -> list[tuple[int, str, int]]:
    """(series id, name, run id) of the series named ``names`` recorded for process ``pid``
    (label ``pid``) by runs that overlap ``[start_ns, end_ns]``."""
    marks = ",".join("?" * len(names))
    conditions, bounds = overlap_conditions(start_ns, end_ns, start_col="r.started_ns",
                                            end_col="COALESCE(r.ended_ns, 9223372036854775807)")
    sql = (f"SELECT s.id, s.name, s.run_id FROM series s JOIN runs r ON r.id = s.run_id"
           f" WHERE s.name IN ({marks}) AND json_extract(s.labels, '$.pid') = ?"
           + "".join(f" AND {c}" for c in conditions) + " ORDER BY s.run_id, s.name")
    return [(int(a), str(b), int(c))
            for a, b, c in store.conn.execute(sql, [*names, str(pid), *bounds])]
