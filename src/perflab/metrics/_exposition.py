"""Prometheus's text exposition format (0.0.4) and OpenMetrics 1.0, parsed.

What a scrape, ``perflab metrics import`` and the fuzz tests read. ``parse`` turns a page into
samples ``(series text, value, timestamp ms or None)`` plus the families' metadata; the series
text (``name{a="b"}``, exactly as written) is turned into a name and labels by
``split_series`` only when it is new: a scrape loop caches that per text, as Prometheus caches
its series by their bytes, so the steady state costs one split per line.

Bad input raises ``ExpositionError`` (an ``InvalidValue``, exit 2) naming the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from perflab.errors import InvalidValue

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PAIR = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_ESCAPE = re.compile(r"\\.")
TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped", "unknown",
                   "gaugehistogram", "info", "stateset"})
MAX_LINE = 1 << 20  # a line longer than this is refused
_NUMBER_START = frozenset("0123456789-+.")


class ExpositionError(InvalidValue):
    """Text that is not Prometheus or OpenMetrics exposition (names the line)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{message}",
                         hint="expected Prometheus text exposition or OpenMetrics")
        self.line = line


@dataclass(slots=True)
class Family:
    type: str = "unknown"
    help: str = ""
    unit: str = ""


@dataclass(slots=True)
class Page:
    samples: list[tuple[str, float, int | None]] = field(default_factory=list)
    families: dict[str, Family] = field(default_factory=dict)


def is_openmetrics(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/openmetrics-text"


def parse_float(text: str) -> float:
    """Go's ``strconv.ParseFloat`` as Prometheus uses it (no ``_``, no hex floats)."""
    if text and text[-1].isdigit() and text[0] in _NUMBER_START and "_" not in text \
            and "x" not in text and "X" not in text:
        return float(text)  # the common case: a plain decimal
    if "_" in text or "p" in text or "P" in text or not text or text != text.strip():
        raise ValueError(text)
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if lowered == "nan":
        return math.nan
    if "inf" in lowered or "nan" in lowered:
        raise ValueError(text)
    return float(text)


def parse(data: str, *, openmetrics: bool = False, require_eof: bool = True) -> Page:
    """A page of exposition text (``require_eof``: OpenMetrics must end with ``# EOF``; off
    for the chunks of a long file read piece by piece)."""
    page = Page()
    samples = page.samples
    lines = data.split("\n")
    if openmetrics and require_eof:
        while lines and lines[-1] == "":
            lines.pop()
        if not lines or lines[-1].rstrip("\r") != "# EOF":
            raise ExpositionError("OpenMetrics text must end with '# EOF'")
        lines.pop()
    for number, raw in enumerate(lines, 1):
        # the common line, `name{labels} 12.5`, read here: what _sample's first split and
        # parse_float's plain-decimal case would make of it, without their calls
        head, _, text = raw.rpartition(" ")
        if (head and head[-1] == "}" and text and text[-1].isdigit()
                and text[0] in _NUMBER_START and raw[0] not in "# \t"
                and "_" not in text  # float() takes 1_0; it refuses 0x1 itself
                and len(raw) <= MAX_LINE and not (openmetrics and " # " in raw)):
            try:
                samples.append((head, float(text), None))
                continue
            except ValueError:
                pass  # the exact path says what is wrong
        line = raw.removesuffix("\r")
        if not line:
            continue
        if len(line) > MAX_LINE:
            raise ExpositionError(f"a line of {len(line):,} characters", number)
        if line[0] == "#":
            if not require_eof and line == "# EOF":
                continue
            _comment(page, line, number, openmetrics=openmetrics)
            continue
        if line[0] in " \t":
            line = line.lstrip(" \t")
            if not line:
                continue
        samples.append(_sample(line, number, openmetrics=openmetrics))
    return page


def _sample(line: str, number: int, *, openmetrics: bool) -> tuple[str, float, int | None]:
    """One sample line. The value and timestamp are the last tokens and hold no ``}``: split
    from the right, the series text is right whenever it ends with ``}`` (the last one of the
    line closes the labels) or is a bare name. Anything else takes the exact scan."""
    if not (openmetrics and " # " in line):
        parts = line.rsplit(None, 1)  # most pages have no timestamps: one split
        if len(parts) == 2 and _plausible(parts[0]):
            try:
                return parts[0], parse_float(parts[1]), None
            except ValueError:
                pass
        parts = line.rsplit(None, 2)
        if len(parts) == 3 and _plausible(parts[0]):
            try:
                return (parts[0], parse_float(parts[1]),
                        _timestamp(parts[2], openmetrics=openmetrics))
            except ValueError:
                pass
    return _sample_exact(line, number, openmetrics=openmetrics)


def _plausible(series: str) -> bool:
    return series[-1] == "}" or _NAME.fullmatch(series) is not None


def _timestamp(text: str, *, openmetrics: bool) -> int:
    if openmetrics:
        seconds = parse_float(text)
        if math.isnan(seconds) or math.isinf(seconds):
            raise ValueError(text)
        return int(seconds * 1000)  # truncated, as Prometheus does
    if not (text.isascii() and text.lstrip("-").isdigit()):
        raise ValueError(text)
    ts = int(text)
    if not -(2**63) <= ts < 2**63:
        raise ValueError(text)
    return ts


def _sample_exact(line: str, number: int, *,
                  openmetrics: bool) -> tuple[str, float, int | None]:
    m = _NAME.match(line)
    if m is None:
        raise ExpositionError(f"expected a metric name, got {line[:40]!r}", number)
    pos = m.end()
    if pos < len(line) and line[pos] == "{":
        pos = _labels_end(line, pos + 1, number)
    series = line[:pos]
    rest = line[pos:]
    if rest and rest[0] not in " \t":
        raise ExpositionError(f"expected a space after {series[:60]!r}", number)
    if openmetrics and " # " in rest:
        rest = rest.split(" # ", 1)[0]  # an exemplar: not stored
    tokens = rest.split()
    if not 1 <= len(tokens) <= 2:
        raise ExpositionError(f"expected a value and at most a timestamp after "
                              f"{series[:60]!r}", number)
    try:
        value = parse_float(tokens[0])
    except ValueError:
        raise ExpositionError(f"invalid value {tokens[0][:40]!r}", number) from None
    ts = None
    if len(tokens) == 2:
        try:
            ts = _timestamp(tokens[1], openmetrics=openmetrics)
        except ValueError:
            raise ExpositionError(f"invalid timestamp {tokens[1][:40]!r}", number) from None
    return series, value, ts


def _labels_end(line: str, pos: int, number: int | None) -> int:
    """Index after the ``}`` closing the labels that start at ``pos``."""
    while True:
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos < len(line) and line[pos] == "}":
            return pos + 1
        m = _PAIR.match(line, pos)
        if m is None:
            raise ExpositionError(f"invalid labels at {line[pos:pos + 40]!r}", number)
        pos = m.end()
        if pos < len(line) and line[pos] == ",":
            pos += 1
        elif pos < len(line) and line[pos] == "}":
            return pos + 1
        else:
            raise ExpositionError(f"expected ',' or '}}' at {line[pos:pos + 40]!r}", number)


def split_series(series: str) -> tuple[str, list[tuple[str, str]]]:
    """``name{a="b"}`` -> (name, [(a, b)]), label values unescaped, in written order."""
    m = _NAME.match(series)
    if m is None:
        raise ExpositionError(f"expected a metric name, got {series[:40]!r}")
    name = m.group(0)
    pos = m.end()
    pairs: list[tuple[str, str]] = []
    if pos == len(series):
        return name, pairs
    if series[pos] != "{" or _labels_end(series, pos + 1, None) != len(series):
        raise ExpositionError(f"invalid series {series[:80]!r}")
    pos += 1
    while True:
        while series[pos] in " \t":
            pos += 1
        if series[pos] == "}":
            return name, pairs
        pm = _PAIR.match(series, pos)
        assert pm is not None  # _labels_end checked the whole text
        value = pm.group(2)
        if "\\" in value:
            value = _ESCAPE.sub(lambda e: _ESCAPES.get(e.group(0), e.group(0)), value)
        pairs.append((pm.group(1), value))
        pos = pm.end()
        if series[pos] == ",":
            pos += 1


def _comment(page: Page, line: str, number: int, *, openmetrics: bool) -> None:
    parts = line.split(None, 3)
    if len(parts) < 3 or parts[1] not in ("HELP", "TYPE", "UNIT"):
        if openmetrics and line.startswith("# EOF"):
            raise ExpositionError("'# EOF' before the end", number)
        return  # an ordinary comment
    keyword, name = parts[1], parts[2]
    text = parts[3] if len(parts) > 3 else ""
    if not _NAME.fullmatch(name):
        raise ExpositionError(f"invalid metric name {name[:60]!r} in # {keyword}", number)
    family = page.families.setdefault(name, Family())
    if keyword == "TYPE":
        kind = text.strip().lower()
        if kind not in TYPES:
            raise ExpositionError(f"invalid metric type {text[:40]!r}", number)
        family.type = "unknown" if kind == "untyped" else kind
    elif keyword == "HELP":
        family.help = text.replace("\\n", "\n").replace("\\\\", "\\")
    else:
        family.unit = text.strip()
