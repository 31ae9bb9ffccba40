"""``| logfmt`` as Loki reads a line at query time: its decoder (pkg/logql/log/logfmt/decode.go,
adapted from go-logfmt) pair by pair.

By default (not ``--strict``) a pair that does not decode is skipped and the rest of the line
still read, and a key without a value (``flag``, ``k=``) is left out unless ``--keep-empty``;
with ``--strict`` the first bad pair stops the line and marks it ``LogfmtParserErr``. A key
with a quote, a key-less ``=``, a ``=`` or quote inside a bare value, or an unterminated
quoted value is a bad pair.
"""

from __future__ import annotations

import json
import re

# key, then a quoted value without escapes or a bare value that ends at a space; anything
# else (escapes, a stray quote or '=', U+FFFD in a key) goes through the state machine
_PAIR = re.compile(r'([^\x00-\x20="\ufffd]+)(?:="([^"\\]*)"'
                   r'|=([^\x00-\x20="]*)(?=[\x00-\x20]|\Z)|(?=[\x00-\x20]|\Z))')


class _Decoder:
    def __init__(self, line: str) -> None:
        self.line = line
        self.pos = 0
        self.key: str | None = None
        self.value: str | None = None
        self.failed = False

    def eol(self) -> bool:
        return self.pos >= len(self.line)

    def _skip_value(self) -> bool:
        self.failed = True
        line = self.line
        while self.pos < len(line) and line[self.pos] > " ":
            self.pos += 1
        return False

    def scan(self) -> bool:  # noqa: C901 -- the decoder's state machine
        """The next pair into key/value; False when none (the end, or a bad pair)."""
        self.key = self.value = None
        line, n = self.line, len(self.line)
        while self.pos < n and line[self.pos] <= " ":          # garbage
            self.pos += 1
        if self.pos >= n:
            return False
        m = _PAIR.match(line, self.pos)
        if m is not None:  # a well-formed pair, the common case, in one regexp step
            self.key, quoted, bare = m.groups()
            self.pos = m.end()
            self.value = quoted or bare or None
            return True
        start = self.pos
        while self.pos < n:                                      # key
            c = line[self.pos]
            if c == "=":
                if self.pos == start or "\ufffd" in line[start:self.pos]:
                    return self._skip_value()
                self.key = line[start:self.pos]
                break
            if c == '"':
                return self._skip_value()
            if c <= " ":
                self.key = line[start:self.pos]
                if "\ufffd" in self.key:
                    self.failed = True
                    return False
                return True
            self.pos += 1
        else:
            self.key = line[start:]
            if "\ufffd" in self.key:
                self.failed = True
                return False
            return True
        self.pos += 1                                            # '='
        if self.pos >= n or line[self.pos] <= " ":
            return True
        if line[self.pos] == '"':
            return self._quoted()
        start = self.pos
        while self.pos < n:                                      # bare value
            c = line[self.pos]
            if c in '="':
                return self._skip_value()
            if c <= " ":
                break
            self.pos += 1
        if self.pos > start:
            self.value = line[start:self.pos]
        return True

    def _quoted(self) -> bool:
        line, n = self.line, len(self.line)
        start = self.pos
        i = start + 1
        has_esc = esc = False
        while i < n:
            c = line[i]
            if esc:
                esc = False
            elif c == "\\":
                has_esc = esc = True
            elif c == '"':
                self.pos = i + 1
                body = line[start + 1:i]
                if not has_esc:
                    self.value = body or None
                    return True
                try:
                    self.value = json.loads(line[start:self.pos], strict=False)
                except ValueError:
                    self.failed = True
                    return False
                return True
            i += 1
        self.pos = n
        self.failed = True
        return False


def decode_logfmt(line: str, *, strict: bool = False, keep_empty: bool = False,
                  ) -> tuple[list[tuple[str, str]], bool]:
    """The (key, value) pairs Loki's ``| logfmt`` takes from a line, in order (a key may
    repeat: the first is used), and whether a strict decode failed."""
    dec = _Decoder(line)
    out: list[tuple[str, str]] = []
    while not dec.eol():
        if not dec.scan():
            if strict and dec.failed:
                return out, True
            continue
        key = dec.key or ""
        value = (dec.value or "").replace("\ufffd", " ")  # as Loki's removeInvalidUtf
        if value or keep_empty:
            out.append((key, value))
    return out, False
