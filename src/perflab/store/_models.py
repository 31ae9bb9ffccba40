"""Immutable records the store hands out."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from perflab.store._contracts import EventJson, RunJson, SeriesJson


def format_labels(labels: Mapping[str, str] | None, *, leave_out: Collection[str] = ()) -> str:
    """Labels as Prometheus writes them, ``{a="1",b="2"}``, sorted by name, values escaped as in
    its text format (backslash, double quote, newline); empty when there are none. The one
    label renderer: ``show``, ``query``, the report, the dashboard's keys and load groups."""
    parts = [f'{k}="{_escape_label_value(v)}"' for k, v in sorted((labels or {}).items())
             if k not in leave_out]
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def canonical_labels(labels: dict[str, str] | None) -> str:
    """The one spelling of a label set: sorted keys, no spaces. Two equal sets, one string."""
    if not labels:
        return "{}"
    return json.dumps({str(k): str(v) for k, v in labels.items()}, sort_keys=True,
                      separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    kind: str
    name: str
    status: str
    started_ns: int
    ended_ns: int | None
    host: str
    pid: int | None
    meta: dict[str, Any] = field(default_factory=dict)
    pid_start: int | None = None   # the owner's start (ticks since boot) and boot: see _owner.py
    boot_id: str | None = None

    @property
    def duration_ns(self) -> int | None:
        return None if self.ended_ns is None else self.ended_ns - self.started_ns

    def to_json(self) -> RunJson:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "started_ns": self.started_ns,
            "ended_ns": self.ended_ns,
            "duration_s": None if self.duration_ns is None else self.duration_ns / 1e9,
            "host": self.host,
            "meta": self.meta,
        }


@dataclass(frozen=True, slots=True)
class Series:
    id: int
    run_id: int
    name: str
    labels: dict[str, str]
    unit: str

    def label_text(self) -> str:
        """Prometheus-style ``{a="1",b="2"}``, empty when there are no labels."""
        return format_labels(self.labels)

    def to_json(self) -> SeriesJson:
        return {"id": self.id, "name": self.name, "labels": self.labels, "unit": self.unit}


# event kinds that one capability writes and others read (the timeline, incident triage)
CHAOS_FAULT_EVENT = "chaos.fault"  # a fault's band: chaos inject, net, a toxic


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    run_id: int
    ts_ns: int
    end_ns: int | None
    kind: str
    text: str
    attrs: dict[str, Any]

    def to_json(self) -> EventJson:
        return {"id": self.id, "ts_ns": self.ts_ns, "end_ns": self.end_ns, "kind": self.kind,
                "text": self.text, "attrs": self.attrs}


@dataclass(frozen=True, slots=True)
class Artifact:
    id: int
    run_id: int
    ts_ns: int
    end_ns: int | None
    kind: str
    name: str
    content_type: str
    attrs: dict[str, Any]
