"""Loki's ``| pattern`` expressions (pkg/logql/log/pattern): ``<name>`` captures, ``<_>`` skips,
everything else literal text.

Matching, as Loki's ``Matcher.Matches``: leading literals must start the line; each capture takes
the text up to the next literal (the first place it occurs), or the rest of the line when the
pattern ends on the capture or the literal is not found (then matching stops); an empty line
matches nothing. A pattern needs a named capture, no two captures side by side, no name twice.

The ``|>``/``!>`` line filters take a pattern of literals and ``<_>`` only (Loki's
``ParseLineFilter``) and test a line with ``Matcher.Test``: each literal found in order after
the previous one, no capture empty, and the line used up unless the pattern ends on ``<_>``.
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


    def test(self, line: str) -> bool:
        """Whether the line matches the whole pattern (Loki's ``Matcher.Test``)."""
        if not line or not self.nodes:
            return not line and not self.nodes  # an empty line only matches an empty pattern
        off = 0
        for i, (cap, literal) in enumerate(self.nodes):
            if cap:
                continue
            j = line.find(literal, off)
            if j < 0:
                return False
            if i != 0 and j == off:  # a capture before this literal would be empty
                return False
            off = j + len(literal)
        ends_on_capture = self.nodes[-1][0]
        return ends_on_capture == (off != len(line))


def parse_line_pattern(text: str) -> Pattern:
    """The pattern of a ``|>`` or ``!>`` line filter: literals and ``<_>``, never two
    captures side by side; "" is the empty pattern (it keeps only empty lines)."""
    nodes = _nodes(text)
    for (cap, name), at in nodes:
        if cap and name != "_":
            raise PatternError(f"named captures are not allowed in a line filter: found "
                               f"'<{name}>' (use <_>)", at)
    return Pattern(tuple(node for node, _ in nodes))


def _nodes(text: str) -> list[tuple[tuple[bool, str], int]]:
    """The pattern's nodes with the offset each starts at; two captures side by side fail."""
    out: list[tuple[tuple[bool, str], int]] = []
    pos = 0
    for m in _CAPTURE.finditer(text):
        if m.start() > pos:
            out.append(((False, text[pos:m.start()]), pos))
        if out and out[-1][0][0]:
            raise PatternError(f"found consecutive capture '<{out[-1][0][1]}><{m.group(1)}>'",
                               m.start())
        out.append(((True, m.group(1)), m.start()))
        pos = m.end()
    if pos < len(text):
        out.append(((False, text[pos:]), pos))
    return out


def parse_pattern(text: str) -> Pattern:
    with_offsets = _nodes(text)
    nodes = [node for node, _ in with_offsets]
    starts = [at for _, at in with_offsets]
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
