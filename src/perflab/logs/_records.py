"""A structured record (a Fluentd event, an Elasticsearch document) as a line and its
metadata: one rule for the receivers that get objects rather than text.

The line is the record's ``message``, ``log`` or ``msg`` string (what Filebeat, Logstash,
Fluentd's inputs, Docker's fluentd driver and the loggers put the text under); the other
fields are its structured metadata, flattened as Loki's ``| json`` flattens (``_`` between
nested keys, names sanitised, arrays left out). A record without such a string is its JSON,
and its fields are left for the line's own parsing. Values are cut at ``MAX_VALUE``
characters; at most ``MAX_FIELDS`` pairs are kept.
"""

from __future__ import annotations

import json

from perflab.logs._fields import flatten_fields

MAX_NS = 2**63 - 1  # the store's times are signed 64-bit: a later one would fail its batch
MAX_FIELDS = 128
MAX_VALUE = 16_384
LINE_KEYS = ("message", "log", "msg")


def clamp_ns(ns: float) -> int:
    """A sender's time as the store can hold it: 0 up to ``MAX_NS`` (the year 2262)."""
    if ns != ns:  # NaN  # noqa: PLR0124
        return 0
    return int(max(0, min(ns, MAX_NS)))


def _json(v: object) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False, default=repr)


def split_record(record: dict[str, object]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(the line, its metadata) of one record."""
    for key in LINE_KEYS:
        value = record.get(key)
        if isinstance(value, str):
            rest = {k: v for k, v in record.items() if k != key}
            fields = flatten_fields(rest)
            meta = tuple((k, v[:MAX_VALUE]) for k, v in list(fields.items())[:MAX_FIELDS])
            return value, meta
    return _json(record), ()
