"""Immutable records the store hands out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


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

    def to_json(self) -> dict[str, Any]:
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
        if not self.labels:
            return ""
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return "{" + inner + "}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "labels": self.labels, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    run_id: int
    ts_ns: int
    end_ns: int | None
    kind: str
    text: str
    attrs: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
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
