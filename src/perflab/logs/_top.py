"""A run's most frequent error lines, for its report: error-level lines grouped by their stream
and their text with the numbers and hex ids masked (``request 41 failed`` and ``request 7
failed`` are one line), counted, each with the LogQL query that finds its lines again."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.store import log_lines_at_levels, log_streams

if TYPE_CHECKING:
    from perflab.store import Store

ERROR_LEVELS = ("error", "critical")  # the levels ingest normalises the error ones to
SCAN_LIMIT = 100_000  # error lines read at most: a run that logs more is counted on these
NUMBER = "<n>"
ID = "<id>"
# 0x..., UUIDs, and runs of 8+ hex digits holding a digit (a trace id, a hash; not "deadbeef"
# alone, not a word like "accepted")
_ID = re.compile(r"\b(?:0x[0-9a-fA-F]+|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
                 r"|(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,})\b")
_NUMBER = re.compile(r"[0-9]+")
_MASKS = re.compile(f"({re.escape(NUMBER)}|{re.escape(ID)})")
_MASK_RE = {NUMBER: "[0-9]+", ID: "[0-9a-fA-Fx-]+"}
_RE_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


@dataclass(frozen=True, slots=True)
class ErrorLine:
    """Lines of one stream that read the same once masked: how many, the first one, and a
    LogQL query keeping exactly that shape of line."""

    template: str
    count: int
    example: str
    labels: dict[str, str]
    query: str


def mask_line(line: str) -> str:
    """The line with its hex ids as ``<id>`` and its other numbers as ``<n>``."""
    return _NUMBER.sub(NUMBER, _ID.sub(ID, line))


def _quote(text: str) -> str:
    """A LogQL double-quoted string of ``text`` (the escapes the parser reads back)."""
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + body.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def _template_regex(template: str) -> str:
    parts = _MASKS.split(template)
    return "".join(_MASK_RE[p] if p in _MASK_RE else _RE_SPECIAL.sub(r"\\\1", p)
                   for p in parts)


def line_query(labels: dict[str, str], template: str) -> str:
    """``{labels} |~ "regex"``: the stream's lines of this masked shape."""
    selector = ", ".join(f"{k}={_quote(v)}" for k, v in sorted(labels.items()))
    return "{" + selector + "} |~ " + _quote(_template_regex(template))


def top_error_lines(store: Store, run_id: int, start_ns: int, end_ns: int, *,
                    top: int = 10) -> tuple[list[ErrorLine], bool]:
    """The ``top`` most frequent error lines of the run in [start_ns, end_ns), most first
    (ties: the one seen first), and whether the run had more error lines than were read."""
    rows = log_lines_at_levels(store, ERROR_LEVELS, start_ns, end_ns, run_id=run_id,
                               limit=SCAN_LIMIT + 1)
    more = len(rows) > SCAN_LIMIT
    counts: dict[tuple[int, str], int] = {}
    first: dict[tuple[int, str], str] = {}
    for row in rows[:SCAN_LIMIT]:
        key = (row.stream_id, mask_line(row.line))
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, row.line)
    best = sorted(counts, key=lambda k: -counts[k])[:top]  # stable: ties keep arrival order
    streams = dict(log_streams(store)) if best else {}
    out = []
    for stream_id, template in best:
        labels = json.loads(streams.get(stream_id, "{}"))
        out.append(ErrorLine(template, counts[stream_id, template], first[stream_id, template],
                             labels, line_query(labels, template)))
    return out, more
