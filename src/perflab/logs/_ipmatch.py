"""LogQL's ``ip("...")`` matcher, as Loki's pkg/logql/log/ip.go: a pattern that is one
address, a range ``a-b`` or a CIDR prefix (IPv4 or IPv6), searched for in a line or a label.

Loki does not match the whole text: it scans it for address-shaped runs (an IPv4 run starts
at a digit with a dot within the next three characters; an IPv6 run at ``::h``, or up to four
hex digits and a colon) and keeps the text when one run parses as an address the pattern
holds. A run that does not parse is skipped whole, so ``1.2.3.4.5`` matches nothing.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_V4_CHARS = frozenset("0123456789.")
_V6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_PREFIX = re.compile(r"([^/]+)/(\d{1,3})")


class IPPatternError(ValueError):
    """A pattern that is neither an address, a range nor a CIDR prefix."""


def _addr(text: str) -> IPAddress:
    if "%" in text or not text:  # Go's netip takes zones; Loki's scanner never reads one
        raise ValueError(text)
    return ipaddress.ip_address(text)


@dataclass(frozen=True, slots=True)
class IPMatcher:
    pattern: str
    low: IPAddress
    high: IPAddress

    def holds(self, addr: IPAddress) -> bool:
        return addr.version == self.low.version and self.low <= addr <= self.high  # type: ignore[operator]

    def search(self, text: str) -> bool:
        """Whether an address the pattern holds appears in ``text`` (Loki's ipFilter.filter)."""
        n = len(text)
        i = 0
        while i < n:
            chars = None
            if i + 3 < n and text[i] in _DIGITS and "." in text[i + 1:i + 4]:
                chars = _V4_CHARS
            elif _ipv6_hint(text, i):
                chars = _V6_CHARS
            if chars is None:
                i += 1
                continue
            j = i
            while j < n and text[j] in chars:
                j += 1
            try:
                if self.holds(_addr(text[i:j])):
                    return True
            except ValueError:
                pass
            i = j + 1  # the run is skipped whole, and the character after it (Loki's i++)
        return False


def _ipv6_hint(text: str, i: int) -> bool:
    window = text[i:i + 5].ljust(5, "\0")
    if window[0] == ":" and window[1] == ":" and window[2] in _HEX:
        return True
    # or 1 to 4 hex digits, then ':'
    return any(all(c in _HEX for c in window[:k]) and window[k] == ":" for k in range(1, 5))


def parse_ip_pattern(pattern: str) -> IPMatcher:
    """An address, ``low-high`` (same family, low <= high) or ``address/bits``, as Go's
    netip.ParseAddr, netipx.ParseIPRange and netip.ParsePrefix read them."""
    try:
        one = _addr(pattern)
    except ValueError:
        pass
    else:
        return IPMatcher(pattern, one, one)
    m = _PREFIX.fullmatch(pattern)
    if m:
        try:
            net = ipaddress.ip_network(f"{_addr(m.group(1))}/{int(m.group(2))}", strict=False)
        except ValueError:
            pass
        else:
            return IPMatcher(pattern, net.network_address, net.broadcast_address)
    low_text, dash, high_text = pattern.partition("-")
    if dash:
        try:
            low, high = _addr(low_text), _addr(high_text)
        except ValueError:
            pass
        else:
            if low.version == high.version and low <= high:  # type: ignore[operator]
                return IPMatcher(pattern, low, high)
    raise IPPatternError(f"ip: invalid pattern {pattern!r}: give an address (192.168.0.1, ::1), "
                         "a range (192.168.0.1-192.168.0.20) or a CIDR (192.168.0.0/16)")
