"""Durations, sizes, rates, percentages and times: parsed and formatted in one place.

Durations accept Go's syntax (``1h30m``, ``250ms``, ``1.5s``, ``100us``/``100µs``, ``20ns``) and
a bare number, read as seconds. Sizes accept SI and IEC suffixes (``10MB``, ``512KiB``, ``1g``);
a bare suffix letter is binary, as in ``free -g`` and ``ulimit``.

Formatting comes in two widths: ``format_*`` for text and tables (three significant digits and
the unit: ``1.50KiB``, ``2.35ms``, ``12.5%``), and ``compact_*`` for the narrow columns of live
views such as ``perflab top`` (at most 5 characters, htop's style: ``1.5K``, ``123M``). The web
dashboard's JavaScript (``P.fmt`` in _ui/static/perflab.js) follows ``format_value`` rule for rule
(a browser test compares the two on a table of values).

ISO times without a zone are local on the command line and UTC in the HTTP API
(``parse_time_ns``). Names from the system (command lines, thread and file names) go through
``printable`` before a terminal shows them, and command lines through ``redact_args`` before
anything shows them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time

from perflab.errors import InvalidValue

NS_PER_S = 1_000_000_000

_DURATION_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_RATE = re.compile(
    r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([km]?)\s*(?:/\s*(s|sec|m|min|h))?\s*$", re.IGNORECASE
)


def parse_duration_ns(text: str) -> int:
    """Parse a duration to integer nanoseconds. Raises InvalidValue with a hint."""
    s = text.strip()
    if not s:
        raise InvalidValue("empty duration", hint="write it like 250ms, 10s, 1m30s or 2h")
    try:
        seconds = float(s)
    except ValueError:
        pass
    else:
        if seconds < 0 or not math.isfinite(seconds):
            raise InvalidValue(f"invalid duration {text!r}: must be a positive number")
        return round(seconds * NS_PER_S)
    pos = 0
    total = 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS_NS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise InvalidValue(
            f"invalid duration {text!r}",
            hint="write it like 250ms, 10s, 1m30s or 2h (units: ns us ms s m h d)",
        )
    return round(total)


def parse_duration(text: str) -> float:
    """Parse a duration to float seconds."""
    return parse_duration_ns(text) / NS_PER_S


def parse_size(text: str) -> int:
    """Parse a size to bytes: ``10MB`` (SI), ``10MiB`` and ``10M`` (binary)."""
    m = _SIZE.match(text)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise InvalidValue(
            f"invalid size {text!r}", hint="write it like 512, 64KiB, 10MB or 2G (binary)"
        )
    return round(float(m.group(1)) * _SIZE_UNITS[unit])


def parse_rate(text: str) -> float:
    """Parse a rate to events per second: ``1000``, ``2k``, ``500/s``, ``60/m``."""
    m = _RATE.match(text)
    if not m:
        raise InvalidValue(
            f"invalid rate {text!r}", hint="write it like 1000, 2k, 500/s or 60/min"
        )
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    per = (m.group(3) or "s").lower()
    return value / {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[per]


def parse_percent(text: str) -> float:
    """Parse ``5%`` or ``0.05`` to a fraction (0.05)."""
    s = text.strip()
    try:
        if s.endswith("%"):
            return float(s[:-1]) / 100
        return float(s)
    except ValueError:
        raise InvalidValue(
            f"invalid percentage {text!r}", hint="write it like 5% or 0.05"
        ) from None


def format_duration_ns(ns: float, digits: int = 3) -> str:
    """Human duration with a unit chosen for the magnitude: ``1.23ms``, ``45.6µs``, ``2m05s``;
    zero is ``0s``, as Go writes it."""
    if math.isnan(ns):
        return "-"
    if ns == 0:
        return "0s"
    a = abs(ns)
    if a >= 60 * NS_PER_S:
        total_s = round(ns / NS_PER_S)
        h, rem = divmod(abs(total_s), 3600)
        m, s = divmod(rem, 60)
        sign = "-" if ns < 0 else ""
        return f"{sign}{h}h{m:02d}m{s:02d}s" if h else f"{sign}{m}m{s:02d}s"
    for unit, scale in (("s", NS_PER_S), ("ms", 1e6), ("µs", 1e3)):
        if a >= scale:
            return f"{_sig(ns / scale, digits)}{unit}"
    return f"{_sig(ns, digits)}ns"


def format_duration(seconds: float, digits: int = 3) -> str:
    return format_duration_ns(seconds * NS_PER_S, digits)


def format_size(n: float, digits: int = 3) -> str:
    """Binary size as ``ps``/``htop`` users read it: ``512B``, ``1.50KiB``, ``3.20GiB``."""
    a = abs(n)
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if a >= scale:
            return f"{_sig(n / scale, digits)}{unit}"
    return f"{int(n)}B"


def format_byte_rate(bytes_per_s: float, digits: int = 3) -> str:
    """Bytes per second, binary like sizes: ``512B/s``, ``1.50MiB/s``."""
    return f"{format_size(bytes_per_s, digits)}/s"


def format_rate(per_s: float, unit: str = "/s", digits: int = 3) -> str:
    """A count per second (or of ``unit``) with an SI prefix: ``12.5/s``, ``3.40k/s``."""
    a = abs(per_s)
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= scale:
            return f"{_sig(per_s / scale, digits)}{suffix}{unit}"
    return f"{_sig(per_s, digits)}{unit}"


def format_percent(pct: float) -> str:
    """A percentage (of 100) to one decimal: ``12.5%``."""
    return f"{pct:.1f}%"


# control characters (C0, DEL, C1) -> "?", as ps shows them: a command line or a file name may
# hold a newline or an escape sequence, and printed raw it would break a table row or the terminal
_CONTROL = dict.fromkeys((*range(32), *range(127, 160)), "?")


def printable(text: str) -> str:
    """Text from the system (a command line, a thread name, a path) made safe to print on one
    line of a terminal: every control character becomes ``?``, as ``ps`` shows them."""
    return text.translate(_CONTROL) if not text.isprintable() else text


REDACTED = "***"
# words that name a secret, as parts of an option or variable name (split on - _ . and case):
# --token, --api-key, --apikey, AWS_SECRET_ACCESS_KEY, --db-password, MYSQL_PWD, Authorization
_SECRET_PARTS = frozenset({
    "token", "password", "passwd", "pwd", "pass", "secret", "key", "apikey", "auth",
    "authorization", "credential", "credentials", "passphrase", "bearer", "cookie",
})
_NAME_PARTS = re.compile(r"[a-z0-9]+")
_ENV_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")
_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*\S")
_URL_PASSWORD = re.compile(r"(\w[\w+.-]*://[^/\s:@]*:)[^/\s@]+@")


def _secret_name(name: str) -> bool:
    """An option, variable or header name that says it holds a secret (``--api-key``,
    ``DB_PASSWORD``, ``Authorization``), by its parts: ``--monkey`` and ``--author`` do not."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()  # apiKey -> api key
    return any(part in _SECRET_PARTS for part in _NAME_PARTS.findall(spaced))


def redact_args(args: list[str]) -> list[str]:
    """A command line with its secrets as ``***``, as ps tools increasingly show them.

    The values of options named like a secret (``--token s3cret``, ``--token=s3cret``,
    ``-api-key=x``), of variables (``PASSWORD=x``), of headers (``Authorization: Bearer x``)
    and the password of a URL (``https://user:***@host``) are replaced; everything else, and
    the number of arguments, stay as they were. Options are recognised by name only: a short
    ``-p x`` is not redacted, as nothing says it is a password.
    """
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next and not arg.startswith("--"):
            out.append(REDACTED)
            hide_next = False
            continue
        shown, hide_next = _redact_one(arg)
        out.append(shown)
    return out


def _redact_one(arg: str) -> tuple[str, bool]:
    """One argument with its secret hidden, and whether the next one is an option's value."""
    if arg.startswith("-") and len(arg) > 1:
        name, eq, _ = arg.lstrip("-").partition("=")
        if _secret_name(name):
            if not eq:
                return arg, True
            return arg[: arg.index("=") + 1] + REDACTED, False
    elif (m := _ENV_ASSIGN.match(arg)) and _secret_name(m.group(1)):
        return m.group(0) + REDACTED, False
    elif (m := _HEADER.match(arg)) and _secret_name(m.group(1)):
        return f"{m.group(1)}: {REDACTED}", False
    return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", arg), False


def format_value(value: float | None, unit: str) -> str:
    """A value in the unit of its series (the store's ``unit`` column), as people read it:
    ``12.5%``, ``1.20GiB``, ``3.40MiB/s``, ``120/s``, ``2.35ms``; None or NaN as ``-``."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):  # a rate over no time, a ratio to zero: no scale step applies
        return ("∞" if value > 0 else "-∞") + (f" {unit}" if unit else "")
    if unit == "%":
        return format_percent(value)
    if unit == "bytes":
        return format_size(value)
    if unit == "bytes/s":
        return format_byte_rate(value)
    if unit == "/s":
        return format_rate(value, "/s")
    if unit == "s":
        return format_duration(value)
    if unit == "ms":
        return format_duration(value / 1e3)
    per, sep, what = unit.partition("/")  # benchmark units: sec/op, B/op, allocs/op
    if sep and per in ("sec", "s"):
        return f"{format_duration(value)}/{what}"
    if sep and per == "B":
        return f"{format_size(value)}/{what}"
    suffix = f" {unit}" if unit else ""
    if value == int(value) and abs(value) < 1e6:  # a count: 1023 rather than 1.02k
        return f"{int(value)}{suffix}"
    return format_rate(value, suffix)


def parse_time_ns(text: str, *, naive_utc: bool = False) -> int:
    """An ISO 8601 date/time (``2026-11-27``, ``2026-11-27T16:30``, ``...Z``, ``...+01:00``) to
    ns since the epoch. Without a zone it is local time, as the command line prints times and as
    people type them; ``naive_utc`` reads it as UTC instead (the HTTP API, whose callers are
    programs on other machines). Raises ValueError for anything else."""
    when = dt.datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC) if naive_utc else when.astimezone()
    return int(when.timestamp() * NS_PER_S)


def format_timestamp(ts_ns: int) -> str:
    """An epoch-ns timestamp in UTC, to the (started) second: ``2023-11-14 22:13:20 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts_ns // NS_PER_S))


def format_clock(ts_ns: int) -> str:
    """The local time of day of an epoch-ns timestamp: ``22:13:20``."""
    return time.strftime("%H:%M:%S", time.localtime(ts_ns // NS_PER_S))


# --- compact forms: at most 5 characters, for the columns of live views ------------------------

def _compact_scaled(v: float, base: float, units: str, decimal_below: float) -> str:
    """``v`` divided by ``base`` until it is under 1000, with the unit it then has (the last
    unit takes whatever is left): one decimal below ``decimal_below``, none above."""
    for unit in units:
        v /= base
        if v < 999.5 or unit == units[-1]:
            return f"{v:.{1 if v < decimal_below else 0}f}{unit}"
    return f"{v:.0f}"  # no units given


def compact_size(n: float | None) -> str:
    """Bytes, 1024-based like htop: ``512``, ``1.5K``, ``12K``, ``123M``; None -> ``-``."""
    if n is None:
        return "-"
    if n < 1000:
        return f"{n:.0f}"
    return _compact_scaled(float(n), 1024, "KMGTPE", 9.95)


def compact_count(x: float) -> str:
    """A per-second count: ``0.0``, ``12.5``, ``1234``, ``12.3k``, ``4.5M``."""
    if x < 99.95:
        return f"{x:.1f}"
    if x < 9999.5:
        return f"{x:.0f}"
    return _compact_scaled(x, 1000, "kMGT", 99.95)


def compact_percent(pct: float) -> str:
    """A percentage without its sign, one decimal while it fits: ``12.5``, ``1600``."""
    return f"{pct:.1f}" if pct < 999.95 else f"{pct:.0f}"


def compact_uptime(seconds: float) -> str:
    """``3d 04:05`` or ``04:05`` (hours:minutes), as uptime(1) abbreviates it."""
    minutes = int(seconds // 60)
    days, rem = divmod(minutes, 1440)
    hours, mins = divmod(rem, 60)
    return f"{days}d {hours:02d}:{mins:02d}" if days else f"{hours:02d}:{mins:02d}"


def _sig(x: float, digits: int) -> str:
    """Format with ``digits`` significant digits, without scientific notation."""
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    return f"{x:.{decimals}f}"
