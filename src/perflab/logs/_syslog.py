"""syslog in: RFC 5424 and RFC 3164 messages, over UDP (one message a datagram) and TCP
(RFC 6587: octet counting, ``LEN SP MSG``, or newline framing), as ``LogEntry`` lines.

    RFC 5424  <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v"...]... MSG
    RFC 3164  <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG

Labels: ``job="syslog"``, ``host`` (HOSTNAME), ``app`` (APP-NAME or TAG), ``facility`` (its
name); structured metadata: ``level`` (the severity's name, which the level detection reads),
``pid``, ``msgid`` and each structured-data parameter as ``SDID_name`` (sanitised as field
names are: ``exampleSDID@32473`` is ``exampleSDID_32473``). A 5424 time with its
offset is taken as written; a 3164 time has no year nor zone: this year, local time (a time
more than a day ahead is last year's, as rsyslog reads it). A message that is neither is kept
whole as the line, at the time it arrived, with what its ``<PRI>`` says when it has one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from perflab.logs._fields import sanitize_key
from perflab.logs._push import MAX_LINE, _labels_json
from perflab.logs._records import clamp_ns
from perflab.logs._sink import LogEntry

MAX_FRAME = MAX_LINE + 4096  # a line of MAX_LINE bytes and its header
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
              "local3", "local4", "local5", "local6", "local7")
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_PRI = re.compile(rb"<(\d{1,3})>")
_5424 = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+) ?(.*)", re.DOTALL)
_3164 = re.compile(r"([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (?:(\S+) )?"
                   r"([^:\[\s]+)(?:\[([^\]]*)\])?: ?(.*)", re.DOTALL)
_SD_ELEMENT = re.compile(r'\[([^\s\]=]+)((?:\s+[^\s=\]]+="(?:[^"\\]|\\.)*")*)\s*\]')
_SD_PARAM = re.compile(r'([^\s=\]]+)="((?:[^"\\]|\\.)*)"')
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"), 1)}
_BOM = "\ufeff"


def parse(raw: bytes, now_ns: int) -> LogEntry:
    """One syslog message (its frame, without framing) as a line."""
    raw = raw.rstrip(b"\r\n\x00")
    labels = {"job": "syslog"}
    meta: list[tuple[str, str]] = []
    m = _PRI.match(raw)
    if m is None or int(m.group(1)) > 191:  # 23 facilities x 8 severities
        return LogEntry(_labels_json(labels), now_ns, _text(raw))
    pri = int(m.group(1))
    labels["facility"] = FACILITIES[pri >> 3]
    meta.append(("level", SEVERITIES[pri & 7]))
    rest = _text(raw[m.end():])
    ts = now_ns
    line = rest
    if (m5 := _5424.fullmatch(rest)) is not None:
        stamp, host, app, procid, msgid, tail = m5.groups()
        ts = _iso_ns(stamp) or now_ns
        sd, line = _structured_data(tail)
        _put(labels, "host", host)
        _put(labels, "app", app)
        if procid != "-":
            meta.append(("pid", procid))
        if msgid != "-":
            meta.append(("msgid", msgid))
        meta.extend(sd)
        line = line.removeprefix(_BOM)
    elif (m3 := _3164.fullmatch(rest)) is not None:
        mon, day, hh, mi, ss, host, tag, pid, line = m3.groups()
        ts = _bsd_ns(mon, int(day), (int(hh), int(mi), int(ss)), now_ns) or now_ns
        if host:
            _put(labels, "host", host)
        _put(labels, "app", tag)
        if pid:
            meta.append(("pid", pid))
    return LogEntry(_labels_json(labels), ts, line, tuple(meta))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _put(labels: dict[str, str], name: str, value: str) -> None:
    if value != "-" and value:
        labels[name] = value[:255]


def _structured_data(tail: str) -> tuple[list[tuple[str, str]], str]:
    """(the SD parameters as metadata, the message after them)."""
    if tail.startswith("- ") or tail == "-":
        return [], tail[2:]
    out: list[tuple[str, str]] = []
    pos = 0
    while (m := _SD_ELEMENT.match(tail, pos)) is not None:
        sd_id = m.group(1)
        for name, value in _SD_PARAM.findall(m.group(2)):
            out.append((sanitize_key(f"{sd_id}_{name}"), _SD_UNESCAPE.sub(r"\1", value)))
        pos = m.end()
    if pos == 0:  # no structured data and no "-": the rest is the message
        return [], tail
    return out, tail[pos:].removeprefix(" ")


def _iso_ns(stamp: str) -> int | None:
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as a 3164 time
    return clamp_ns(int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000)


def _bsd_ns(mon: str, day: int, clock: tuple[int, int, int], now_ns: int) -> int | None:
    hh, mi, ss = clock
    month = _MONTHS.get(mon)
    if month is None:
        return None
    now = dt.datetime.fromtimestamp(now_ns / 1e9).astimezone()
    try:
        when = now.replace(month=month, day=day, hour=hh, minute=mi, second=ss, microsecond=0)
        if when - now > dt.timedelta(days=1):
            when = when.replace(year=now.year - 1)
    except ValueError:  # Feb 29 in another year, a day 31 in a short month
        return None
    return int(when.timestamp()) * 1_000_000_000


@dataclass
class Framer:
    """RFC 6587's two TCP framings, told apart per message by its first byte (a digit:
    octet counting). A frame over ``MAX_FRAME`` bytes is skipped whole and counted in
    ``oversize``; the connection goes on with the next one."""

    max_frame: int = MAX_FRAME
    oversize: int = 0
    _buf: bytearray = field(default_factory=bytearray)
    _skip: int = 0          # bytes of an oversize counted frame still to drop
    _skip_line: bool = False  # dropping an oversize newline frame up to its newline

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while self._next(out):
            pass
        return out

    def _next(self, out: list[bytes]) -> bool:  # one return per framing case
        buf = self._buf
        if self._skip:
            n = min(self._skip, len(buf))
            del buf[:n]
            self._skip -= n
            return bool(buf) and not self._skip
        if self._skip_line:
            nl = buf.find(b"\n")
            if nl < 0:
                buf.clear()
                return False
            del buf[:nl + 1]
            self._skip_line = False
            return True
        while buf and buf[0] in b"\n\r \x00":
            del buf[:1]
        if not buf:
            return False
        if buf[:1].isdigit():
            sp = buf.find(b" ", 0, 12)
            if sp < 0:
                if len(buf) >= 12 or not buf.isdigit():
                    return self._newline(out)  # not a count after all
                return False
            if not buf[:sp].isdigit():
                return self._newline(out)
            size = int(buf[:sp])
            if size > self.max_frame:
                self.oversize += 1
                del buf[:sp + 1]
                self._skip = size
                return True
            if len(buf) < sp + 1 + size:
                return False
            out.append(bytes(buf[sp + 1:sp + 1 + size]))
            del buf[:sp + 1 + size]
            return True
        return self._newline(out)

    def _newline(self, out: list[bytes]) -> bool:
        buf = self._buf
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > self.max_frame:
                self.oversize += 1
                buf.clear()
                self._skip_line = True
            return False
        if nl > self.max_frame:
            self.oversize += 1
        else:
            out.append(bytes(buf[:nl]))
        del buf[:nl + 1]
        return True

    def rest(self) -> bytes | None:
        """What is left when the peer closes: a last newline-framed message without its
        newline, or None."""
        if self._skip or self._skip_line or not self._buf.strip():
            return None
        return bytes(self._buf)
