"""nginx and Apache access logs, in the Common Log Format and its ``combined`` extension.

    common:   host ident user [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326
    combined: common + "referer" "user-agent"

(Apache's mod_log_config ``%h %l %u %t \\"%r\\" %>s %b`` and nginx's predefined ``combined``.)
Neither records the request's body size: the mix has the responses' sizes, and requests
with a body are imported without one (said in the output). A line that is not in the format
stops the import with its number and what in it is wrong; a line in the format whose request
is not HTTP (a TLS handshake sent to the plain port, which nginx logs as a 400 with the bytes
it got) is listed as unmapped.
"""

from __future__ import annotations

import functools
import gzip
import re
import zlib
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from perflab.errors import InvalidFile, InvalidValue
from perflab.load._import_model import Observed, Traffic, Unmapped

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LogFormat = Literal["combined", "common", "auto"]

_QUOTED = r'"(?:[^"\\]|\\.)*"'  # a quoted field; \" inside it is Apache's escaped quote


def _quoted(name: str) -> str:
    return rf'"(?P<{name}>(?:[^"\\]|\\.)*)"'


_COMMON = (r"(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
           + _quoted("request") + r" (?P<status>\d{3}) (?P<bytes>\d+|-)")
_COMBINED = _COMMON + " " + _quoted("referer") + " " + _quoted("agent")
# a line is common when nothing follows; combined lines may carry more fields after the
# user agent (nginx formats that extend combined, e.g. with $request_time): ignored
_PATTERNS = {
    "common": re.compile(_COMMON + r"\s*"),
    "combined": re.compile(_COMBINED + r"(?: .*)?\s*"),
}
_REQUEST = re.compile(r"(?P<method>[A-Z][A-Z_-]{0,19}) (?P<target>\S+)(?: HTTP/\d(?:\.\d)?)?")
_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
MAX_LINE = 64 * 1024  # characters of one line looked at
MAX_LISTED = 100  # lines with no HTTP request listed one by one; beyond, counted


def read_access_log(path: Path, fmt: LogFormat = "auto") -> Traffic:
    """The requests of an access log, in order. Raises ``InvalidFile`` naming the first line
    that is not in the format (with ``auto``: the format of the first line decides)."""
    chosen: Literal["combined", "common"] | None = None if fmt == "auto" else fmt
    traffic = Traffic("access-log", str(path), chosen or "combined")
    more = 0
    try:
        for number, line in _lines(path):
            if not line.strip():
                continue
            if chosen is None:
                chosen = detect(line, str(path), number)
                traffic.format = chosen
            m = _PATTERNS[chosen].fullmatch(line)
            if m is None:
                raise InvalidFile(f"not an access log line in the {chosen} format: "
                                  f"{why_not(line, chosen)}", path=str(path), line=number,
                                  hint=_hint(chosen))
            observed = _observed(m, line_no=number, path=str(path))
            if not isinstance(observed, Unmapped):
                traffic.requests.append(observed)
            elif len(traffic.unmapped) < MAX_LISTED:
                traffic.unmapped.append(observed)
            else:
                more += 1
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a damaged .gz
        raise InvalidFile(f"cannot read: {getattr(exc, 'strerror', None) or exc}",
                          path=str(path)) from None
    if more:
        traffic.unmapped.append(Unmapped("more lines", "request", f"{more} more lines with "
                                         "no HTTP request"))
    if chosen is None:
        raise InvalidFile("the log has no lines", path=str(path),
                          hint="give an nginx or Apache access log (common or combined)")
    return traffic


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(number, text) of each line, a gzip-compressed log (a rotated ``access.log.2.gz``)
    read as it is; a line longer than ``MAX_LINE`` is refused (nginx's own request line is at
    most 8 KiB), rather than read whole into memory."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if gzipped else path.open("rb")  # noqa: SIM115  # closed below
    with raw:
        number = 0
        while chunk := raw.readline(MAX_LINE + 1):
            number += 1
            if len(chunk) > MAX_LINE and not chunk.endswith(b"\n"):
                raise InvalidFile(f"the line is longer than {MAX_LINE // 1024} KiB: not an "
                                  "access log line", path=str(path), line=number,
                                  hint=_hint("auto"))
            yield number, chunk.decode("utf-8", "surrogateescape").rstrip("\r\n")


def detect(line: str, path: str, number: int) -> Literal["combined", "common"]:
    """The format of a log, from one of its lines."""
    for name in ("combined", "common"):
        if _PATTERNS[name].fullmatch(line):
            return name
    raise InvalidFile(f"neither the combined nor the common log format: {why_not(line, 'common')}",
                      path=path, line=number, hint=_hint("auto"))


def _hint(fmt: str) -> str:
    what = {"common": 'host ident user [time] "request" status bytes',
            "combined": 'host ident user [time] "request" status bytes "referer" "agent"'}
    return (f"perflab reads {what[fmt]}" if fmt in what else
            "perflab reads nginx's and Apache's common and combined formats (--format)")


def why_not(line: str, fmt: str) -> str:
    """What in a line departs from the format, said as a person would: the first field that
    is missing or malformed."""
    checks: list[tuple[str, str]] = [
        (r"\S+ \S+ \S+ ", "it does not start with host, ident and user"),
        (r"\S+ \S+ \S+ \[[^\]]+\] ", "no [time] after host, ident and user"),
        (r"\S+ \S+ \S+ \[[^\]]+\] " + _QUOTED + " ", 'no quoted "request" after the time'),
        (r"\S+ \S+ \S+ \[[^\]]+\] " + _QUOTED + r" \d{3} ", "the status is not 3 digits"),
        (r"\S+ \S+ \S+ \[[^\]]+\] " + _QUOTED + r" \d{3} (\d+|-)(\s|$)",
         "the size is neither a number nor -"),
    ]
    for pattern, why in checks:
        if not re.match(pattern, line):
            return why
    if fmt == "common":
        return "more fields follow the size (a combined log? try --format combined)"
    return ('no quoted "referer" and "user-agent" after the size (a common log? try --format '
            "common)")


def _observed(m: re.Match[str], *, line_no: int, path: str) -> Observed | Unmapped:
    request = _unescape(m["request"])
    req = _REQUEST.fullmatch(request)
    if req is None or not (req["target"].startswith("/") or "://" in req["target"]):
        return Unmapped(f"line {line_no}", "request", f"not an HTTP request line: "
                                                       f"{request[:80]!r}")
    try:
        at = _timestamp(m["time"])
    except ValueError:
        raise InvalidFile(f"the time [{m['time'][:40]}] is not like [10/Oct/2000:13:55:36 "
                          "-0700]", path=path, line=line_no,
                          hint="nginx's $time_local and Apache's %t write it so") from None
    target = req["target"]
    if "://" in target:  # a proxy's absolute form: keep the path
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    size = m["bytes"]
    return Observed(method=req["method"], path=target, at_s=at,
                    response_bytes=0 if size == "-" else int(size), status=int(m["status"]))


@functools.lru_cache(maxsize=4096)  # a busy log repeats each second's time many times
def _timestamp(text: str) -> float:
    return datetime.strptime(text, _TIME_FORMAT).timestamp()  # noqa: DTZ007  # %z is in it


def _unescape(text: str) -> str:
    # nginx writes a quote in a field as \x22, Apache as \"
    return text.replace('\\"', '"').replace("\\x22", '"')


def parse_format(value: str) -> LogFormat:
    if value not in ("combined", "common", "auto"):
        raise InvalidValue(f"unknown log format {value!r}", hint="--format combined, common or "
                                                                 "auto")
    return value  # type: ignore[return-value]  # checked just above
