"""Loki's ``| pattern`` expressions (pkg/logql/log/pattern): ``<name>`` captures, ``<_>`` skips,
everything else literal text.

Matching, as Loki's ``Matcher.Matches``: leading literals must start the line; each capture takes
the text up to the next literal (the first place it occurs), or the rest of the line when the
pattern ends on the capture or the literal is not found (then matching stops); an empty line
matches nothing. A pattern needs a named capture, no two captures side by side, no name twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CAPTURE = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


class PatternError(ValueError):
    """A pattern Loki would refuse; ``offset`` is 0-based in the pattern's text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Pattern:
    nodes: tuple[tuple[bool, str], ...]      # (is a capture, name or literal text)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t for cap, t in self.nodes if cap and t != "_")

    def matches(self, line: str) -> list[tuple[str, str]]:
        """The (name, value) of each named capture the line fills, in order."""
        if not line or not self.nodes:
            return []
        nodes = list(self.nodes)
        rest = line
        if not nodes[0][0]:
            if not rest.startswith(nodes[0][1]):
                return []
            rest = rest[len(nodes[0][1]):]
            nodes = nodes[1:]
        out: list[tuple[str, str]] = []
        while nodes:
            name = nodes[0][1]
            if len(nodes) == 1:                  # ends on a capture: the rest of the line
                if name != "_":
                    out.append((name, rest))
                return out
            literal = nodes[1][1]
            nodes = nodes[2:]
            i = rest.find(literal)
            if i < 0:                            # the literal is missing: the rest, then stop
                if name != "_":
                    out.append((name, rest))
                return out
            if name != "_":
                out.append((name, rest[:i]))
            rest = rest[i + len(literal):]
        return out


def parse_pattern(text: str) -> Pattern:
    nodes: list[tuple[bool, str]] = []
    starts: list[int] = []
    pos = 0
    for m in _CAPTURE.finditer(text):
        if m.start() > pos:
            nodes.append((False, text[pos:m.start()]))
            starts.append(pos)
        if nodes and nodes[-1][0]:
            raise PatternError(f"found consecutive capture '<{nodes[-1][1]}><{m.group(1)}>'",
                               m.start())
        nodes.append((True, m.group(1)))
        starts.append(m.start())
        pos = m.end()
    if pos < len(text):
        nodes.append((False, text[pos:]))
    got = Pattern(tuple(nodes))
    if not got.names:
        raise PatternError("at least one named capture is required", 0)
    seen: set[str] = set()
    for (cap, name), at in zip(nodes, starts, strict=False):
        if cap and name != "_":
            if name in seen:
                raise PatternError(f"duplicate capture name ({name})", at)
            seen.add(name)
    return got
