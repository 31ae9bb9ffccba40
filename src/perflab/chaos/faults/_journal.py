"""The journal of one fault: what to undo, written before each change is made.

A fault's controller (``perflab chaos inject`` / ``chaos net``) and its watchdog share one JSON
file under the store's directory (``<store dir>/chaos/faults/<id>.json``). Each undo step is
added to it *before* the change it undoes is made, so whoever finds the file (the controller at
the end, the watchdog when the controller died, ``perflab chaos rollback`` after a crash of
both) can put the system back. Steps are idempotent: undoing twice, or undoing a change that was
never made, is harmless. The file is replaced atomically (write beside it, rename), so a reader
never sees half of it.

    {"schema": "perflab.chaos-journal/1", "id": "3f9c0a1b", "kind": "stop",
     "controller": {"pid": 4242, "start_ticks": 912345},
     "undo": [{"op": "end_event", ...}, {"op": "cont", "pid": 77, "start_ticks": 1234}]}
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL_SCHEMA = "perflab.chaos-journal/1"
UndoStep = dict[str, Any]


def journal_dir(store_path: Path) -> Path:
    """Where the journals of faults recorded in this store live."""
    return store_path.parent / "chaos" / "faults"


def new_fault_id() -> str:
    """8 hex digits: short enough for an nftables table or interface name."""
    return secrets.token_hex(4)


@dataclass
class Journal:
    """One fault's journal file; ``undo`` is in the order the changes were made."""

    path: Path
    fault_id: str
    kind: str
    controller: dict[str, int | None]
    undo: list[UndoStep] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"schema": JOURNAL_SCHEMA, "id": self.fault_id, "kind": self.kind,
                "controller": self.controller, "undo": self.undo}

    def write(self) -> None:
        # private: a restart command line may hold a secret
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.to_json(), fh)
            fh.flush()
            os.fsync(fh.fileno())  # the watchdog reads it after a crash of the controller
        tmp.replace(self.path)

    def add(self, step: UndoStep) -> None:
        """Note an undo step; call before making the change it undoes."""
        self.undo.append(step)
        self.write()

    def drop(self, step: UndoStep) -> None:
        """Forget a step whose change is over (a restart command that has run)."""
        self.undo.remove(step)
        self.write()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @classmethod
    def read(cls, path: Path) -> Journal | None:
        """The journal at ``path``, or None when it is gone or not one (a torn temp file)."""
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("schema") != JOURNAL_SCHEMA:
            return None
        return cls(path, str(doc["id"]), str(doc["kind"]), dict(doc["controller"]),
                   list(doc["undo"]))


def journals(directory: Path) -> list[Journal]:
    """Every journal in ``directory`` (faults not yet rolled back)."""
    if not directory.is_dir():
        return []
    found = (Journal.read(p) for p in sorted(directory.glob("*.json")))
    return [j for j in found if j is not None]
