"""``perflab incident bundle``: everything about an incident in one tar.gz to share: the
document, the postmortem (or its draft so far), the timeline, every evidence output and
profile as raw files, and the HTML pages the caller renders (the report, the incident page)."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from perflab.incident._document import incident_document
from perflab.incident._postmortem import postmortem
from perflab.incident._timeline import timeline
from perflab.store import incident

if TYPE_CHECKING:
    from collections.abc import Mapping

    from perflab.store import Store

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _file_name(name: str, art_id: int, suffix: str) -> str:
    """A member name from a step name: no path separators, no control characters."""
    return f"{art_id:06d}-{_UNSAFE.sub('_', name)[:80]}{suffix}"


def bundle_members(store: Store, incident_id: int) -> dict[str, bytes]:
    doc = incident_document(store, incident_id)
    row = incident(store, incident_id)
    members = {"incident.json": json.dumps(doc, indent=2).encode(),
               "postmortem.md": (row.postmortem or postmortem(
                   store, incident_id, closed_ns=time.time_ns())).encode(),
               "timeline.json": json.dumps([
                   {"ts_ns": m.ts_ns, "end_ns": m.end_ns, "kind": m.kind, "text": m.text,
                    "link": m.link} for m in timeline(store, incident_id)], indent=2).encode()}
    for kind, suffix in (("evidence", ".json"), ("evidence.file", ""), ("runbook", ".txt")):
        for art in store.artifacts(incident_id, kind):
            members[f"evidence/{_file_name(art.name, art.id, suffix)}"] = \
                store.artifact_data(art.id)
    return members


def write_bundle(path: Path, members: Mapping[str, bytes]) -> int:
    """Write the tar.gz atomically (a reader never sees half a file); returns its size."""
    tmp = path.with_name(f".perflab-bundle-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            now = time.time()
            for name, data in members.items():
                info = tarfile.TarInfo(f"incident/{name}")
                info.size, info.mtime, info.mode = len(data), now, 0o644
                tar.addfile(info, io.BytesIO(data))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.stat().st_size
