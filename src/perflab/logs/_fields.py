"""What a log line says about itself: its fields (JSON or logfmt), level, trace and span id.

The parsers follow Loki's ``| json`` and ``| logfmt`` (pkg/logql/log/parser.go): nested JSON
objects are flattened with ``_`` between the keys, arrays are left out, numbers keep the text
they were written with, booleans are ``true``/``false``; a key's characters outside
``[A-Za-z0-9_]`` become ``_``. logfmt takes ``key=value``, ``key="quoted value"`` (Go escapes)
and a bare ``key`` (empty value).

Levels and ids are looked for under the names OTel, Zap, Logrus and structlog use.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

_KEY_BAD = re.compile(r"[^A-Za-z0-9_]")
_LEVEL_RAW: tuple[str, ...] = ("level", "lvl", "severity", "loglevel", "log_level",
                                 "levelname", "severity_text", "@l")
_TRACE_RAW: tuple[str, ...] = ("trace_id", "traceid", "traceID", "traceId", "trace.id",
                                 "otelTraceID", "dd.trace_id")
_SPAN_RAW: tuple[str, ...] = ("span_id", "spanid", "spanID", "spanId", "span.id", "otelSpanID",
                                "dd.span_id")
_LEVELS = {
    "trace": "trace", "debug": "debug", "dbug": "debug", "info": "info", "information": "info",
    "informational": "info", "notice": "info", "warn": "warn", "warning": "warn",
    "wrn": "warn", "error": "error", "err": "error", "eror": "error", "fatal": "critical",
    "critical": "critical", "crit": "critical", "panic": "critical", "emerg": "critical",
    "alert": "critical", "dpanic": "critical",
}
_LEVEL_WORD = re.compile(r"\b(TRACE|DEBUG|INFO|WARN(?:ING)?|ERROR|FATAL|CRITICAL|PANIC)\b",
                         re.IGNORECASE)
_ZERO = {16: bytes(16), 8: bytes(8)}  # an id of zeros is no id (OTel: invalid)


class ParseFailed(ValueError):
    """A line is not what the parser reads (Loki's JSONParserErr / LogfmtParserErr)."""


@functools.lru_cache(maxsize=8192)
def sanitize_key(key: str) -> str:
    """A field name as a label name (Loki's rule); cached: lines repeat their keys."""
    key = _KEY_BAD.sub("_", key)
    return "_" + key if key[:1].isdigit() else key


# the names fields are looked up by, as sanitised fields carry them
_LEVEL_KEYS = tuple(dict.fromkeys(sanitize_key(k) for k in _LEVEL_RAW))
_TRACE_KEYS = tuple(dict.fromkeys(sanitize_key(k) for k in _TRACE_RAW))
_SPAN_KEYS = tuple(dict.fromkeys(sanitize_key(k) for k in _SPAN_RAW))


def _flatten(obj: dict[str, object], prefix: str, out: dict[str, str]) -> None:
    for k, v in obj.items():
        key = prefix + sanitize_key(k)
        if isinstance(v, dict):
            _flatten(v, key + "_", out)
        elif isinstance(v, list):
            continue
        elif isinstance(v, bool):
            out[key] = "true" if v else "false"
        elif v is None:
            out[key] = ""
        else:
            out[key] = str(v)


def flatten_fields(obj: dict[str, object]) -> dict[str, str]:
    """A decoded object's fields as ``| json`` names them (a receiver's structured record)."""
    out: dict[str, str] = {}
    _flatten(obj, "", out)
    return out


def _raw(text: str) -> str:
    """A JSON number kept as written (Loki's ``| json`` gives ``1.50`` and ``1e3`` as is)."""
    return text


def parse_json(line: str) -> dict[str, str]:
    """The flattened fields of a JSON object line; ``ParseFailed`` when it is not one."""
    try:
        obj = json.loads(line, parse_int=_raw, parse_float=_raw, parse_constant=_raw)
    except (ValueError, RecursionError) as exc:
        raise ParseFailed(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ParseFailed("not a JSON object")
    out: dict[str, str] = {}
    _flatten(obj, "", out)
    return out


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
# one key=value pair: a bare key, key=value, key="quoted \"value\"" (a value never starts with
# a quote it does not close, so an unclosed quote matches nothing and is an error)
_PAIR = re.compile(r'[ \t]*([^ \t="]+)(?:=(?:"((?:[^"\\]|\\.)*)"|([^ \t"][^ \t]*)?))?')
_UNESCAPE = re.compile(r"\\(.)")


def _unescape(m: re.Match[str]) -> str:
    return _ESCAPES.get(m.group(1), m.group(1))


def parse_logfmt(line: str) -> dict[str, str]:
    """The fields of a logfmt line; ``ParseFailed`` on an unclosed quote, a quote in a key or
    a key-less ``=``."""
    out: dict[str, str] = {}
    pos, n = 0, len(line)
    while pos < n:
        m = _PAIR.match(line, pos)
        if m is None or m.end() == pos:
            if not line[pos:].strip(" \t"):
                break
            raise ParseFailed(f"logfmt syntax error at position {pos + 1}")
        key, quoted, bare = m.groups()
        if quoted is not None:
            value = _UNESCAPE.sub(_unescape, quoted) if "\\" in quoted else quoted
        else:
            value = bare or ""
        out[sanitize_key(key)] = value
        pos = m.end()
    return out


def line_fields(line: str) -> dict[str, str]:
    """The fields a line carries: its JSON object's, else its logfmt pairs when it has any
    ``key=value``, else none."""
    stripped = line.lstrip()
    if stripped.startswith("{"):
        try:
            return parse_json(line)
        except ParseFailed:
            return {}
    if "=" in line:
        try:
            fields = parse_logfmt(line)
        except ParseFailed:
            return {}
        if any(v for v in fields.values()):
            return fields
    return {}


def _pick(fields: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = fields.get(k)
        if v:
            return v
    return None


def detect_level(line: str, fields: dict[str, str]) -> str | None:
    """The line's level as Loki's ``detected_level`` names them (trace, debug, info, warn,
    error, critical), from a level field or else the first level word in the line."""
    raw = _pick(fields, _LEVEL_KEYS)
    if raw is None:
        m = _LEVEL_WORD.search(line[:512])
        if m is None:
            return None
        raw = m.group(1)
    return _LEVELS.get(raw.strip().lower())


def _hex_id(text: str | None, size: int) -> bytes | None:
    # isalnum, then fromhex refusing what is not hex: the checks of a hex regexp, cheaper
    if text is None or len(text) > size * 2 or not text.isalnum():
        return None
    try:
        raw = bytes.fromhex(text.rjust(size * 2, "0"))
    except ValueError:
        return None
    return None if raw == _ZERO[size] else raw


def detect_ids(fields: dict[str, str]) -> tuple[bytes | None, bytes | None]:
    """(trace id: 16 bytes, span id: 8 bytes) named by the fields, when they are hex ids."""
    return _hex_id(_pick(fields, _TRACE_KEYS), 16), _hex_id(_pick(fields, _SPAN_KEYS), 8)



# the pairs line_facts reads from a logfmt line: a level, trace id or span id key (as written in
# the lists above, or sanitised) and its value. One small regexp a kind, each run only when the
# line holds a word all its keys share: one regexp of all the keys costs 3 us a line, these 1
_KEY_VALUE = r'=(?:"((?:[^"\\]|\\.)*)"|([^ \t"][^ \t]*))?'
_FACTS = tuple(
    (guard, re.compile("(" + "|".join(map(re.escape, sorted({*raw, *keys}, key=len,
                                                              reverse=True))) + ")" + _KEY_VALUE))
    for guard, raw, keys in (("", _LEVEL_RAW, _LEVEL_KEYS), ("race", _TRACE_RAW, _TRACE_KEYS),
                             ("pan", _SPAN_RAW, _SPAN_KEYS)))


def _logfmt_facts_exact(line: str) -> dict[str, str]:
    """The level and id pairs of a logfmt line, as ``parse_logfmt`` gives them for a
    well-formed line (the last of a repeated key), without reading every pair (that was a
    third of the ingest's time). A key must start the line or follow a blank, and a pair
    inside a quoted value is not one; unlike ``parse_logfmt``, a malformed pair elsewhere in
    the line does not hide these."""
    out: dict[str, str] = {}
    for guard, pattern in _FACTS:
        if guard not in line:
            continue
        for m in pattern.finditer(line):
            start = m.start()
            if start and line[start - 1] not in " \t":
                continue  # the end of a longer key
            if (line.count('"', 0, start) - line.count('\\"', 0, start)) % 2:
                continue  # inside a quoted value
            key, quoted, bare = m.groups()
            value = _UNESCAPE.sub(_unescape, quoted) if quoted and "\\" in quoted \
                else quoted or bare or ""
            out[sanitize_key(key)] = value
    return out


def _trie(words: list[str]) -> str:
    """A regexp alternation of ``words`` factored by their prefixes (``l(?:evel|vl)``): the
    engine tries each branch in turn, so one branch a first character is what makes it fast.
    Each word matches as itself; which one matched is the caller's to read."""
    root: dict[str, dict[str, Any]] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def alternation(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + alternation(node[ch]) for ch in sorted(node) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return alternation(root)


# every level and id key after one space: a literal first character lets the regexp engine
# skip to the blanks of a line instead of trying each key at every character (one pass of
# this: 1.3-2 us a line, the three guarded ones above: 5). In a line with quotes, a quoted
# string is consumed whole, so a key inside one is not seen, as the quote count above decides
_FACT_KEYS = _trie(sorted({*_LEVEL_RAW, *_LEVEL_KEYS, *_TRACE_RAW, *_TRACE_KEYS, *_SPAN_RAW,
                           *_SPAN_KEYS}))
_FACT_PAIR = " (" + _FACT_KEYS + r')=(?:"([^"]*)"|([^ \t"][^ \t]*))?'
_FACTS_ONE_PASS = re.compile(_FACT_PAIR)
_FACTS_ONE_PASS_QUOTED = re.compile('"[^"]*"|' + _FACT_PAIR)


def _logfmt_facts(line: str) -> dict[str, str]:
    """What ``_logfmt_facts_exact`` gives, in one pass of one regexp for the lines where both
    must agree: no tab (keys follow a space), no backslash (no escaped quote) and quotes in
    pairs, so consuming each quoted string pairs the quotes as counting them does; a bare
    value of a fact that holds a quote would shift that pairing: the exact reader then."""
    if "\t" in line or "\\" in line:
        return _logfmt_facts_exact(line)
    quotes = line.count('"')
    if quotes % 2:
        return _logfmt_facts_exact(line)
    out: dict[str, str] = {}
    pattern = _FACTS_ONE_PASS_QUOTED if quotes else _FACTS_ONE_PASS
    for key, quoted, bare in pattern.findall(" " + line):
        if key:
            if '"' in bare:
                return _logfmt_facts_exact(line)
            out[sanitize_key(key)] = quoted or bare
    return out


def line_facts(line: str, metadata: tuple[tuple[str, str], ...] = ()
               ) -> tuple[str | None, bytes | None, bytes | None]:
    """(level, trace id, span id) of a line at ingest: what ``detect_level`` and ``detect_ids``
    read from its fields and structured metadata, without keeping the fields (LogQL's parsers
    read them again from the line when a query asks). JSON lines are parsed whole; logfmt
    lines give only the pairs these need (``_logfmt_facts``)."""
    if line.lstrip().startswith("{"):
        fields = line_fields(line)
    else:
        fields = _logfmt_facts(line) if "=" in line else {}
    if metadata:
        fields.update(metadata)
    trace_id, span_id = detect_ids(fields)
    return detect_level(line, fields), trace_id, span_id
