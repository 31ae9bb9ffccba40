"""Prometheus's regular expressions (Go's RE2 syntax) as Python ``re`` patterns.

The two dialects agree on what label matchers use; the differences that matter are rewritten:

- flags set in the middle of a pattern, ``a(?i)b``, apply to the rest of the enclosing group
  in RE2 and are an error in Python: they become a scoped group, ``a(?i:b)``;
- ``\\z`` (end of text) is Python's ``\\Z``; ``\\Q...\\E`` quotes a literal;
- ``(?<name>...)`` is Python's ``(?P<name>...)``;
- POSIX classes ``[[:alpha:]]`` inside brackets become their ASCII ranges.

Anything Python still refuses is reported as an invalid regular expression.
"""

from __future__ import annotations

import re

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7F", "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_FLAGS_ONLY = re.compile(r"\(\?([imsU]+)\)")


def translate(pattern: str) -> str:
    out: list[str] = []
    # stack of open groups: the scoped flag groups opened inside each, to close at its end
    # and to reopen after each "|" (RE2's flags hold to the end of the group, past "|")
    opened: list[list[str]] = [[]]
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "z":
                out.append("\\Z")
                i += 2
                continue
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[":
            j, cls = _char_class(pattern, i)
            out.append(cls)
            i = j
            continue
        if c == "(":
            m = _FLAGS_ONLY.match(pattern, i)
            if m:
                flags = m.group(1).replace("U", "")
                if flags:
                    out.append(f"(?{flags}:")
                    opened[-1].append(flags)
                i = m.end()
                continue
            if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
                out.append("(?P<")
                i += 3
                opened.append([])
                continue
            opened.append([])
            out.append(c)
            i += 1
            continue
        if c == ")":
            if len(opened) > 1:
                out.append(")" * len(opened.pop()))
            out.append(c)
            i += 1
            continue
        if c == "|" and opened[-1]:
            out.append(")" * len(opened[-1]))
            out.append(c)
            out.extend(f"(?{flags}:" for flags in opened[-1])
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * sum(len(group) for group in opened))
    return "".join(out)


def _char_class(pattern: str, start: int) -> tuple[int, str]:
    """The bracket expression at ``start``: (index after it, its Python spelling)."""
    i = start + 1
    out = ["["]
    if i < len(pattern) and pattern[i] == "^":
        out.append("^")
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        out.append("\\]")
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        if pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end > 0:
                name = pattern[i + 2:end]
                negate = name.startswith("^")
                ranges = _POSIX.get(name.lstrip("^"))
                if ranges is not None and not negate:
                    out.append(ranges)
                    i = end + 2
                    continue
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if pattern[i] == "[":
            out.append("\\[")
            i += 1
            continue
        out.append(pattern[i])
        i += 1
    out.append("]")
    return i + 1, "".join(out)
