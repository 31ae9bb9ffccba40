"""Alertmanager's label matchers, as ``amtool`` and silences write them.

``alertname=HighLatency``, ``severity!=info``, ``instance=~"web-.*"``, ``job!~'batch|cron'``;
a bare word is ``alertname=<word>`` (amtool's shorthand). A regex matches the whole value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from perflab.errors import InvalidValue
from perflab.metrics._re2 import translate

if TYPE_CHECKING:
    from perflab.metrics._contracts import MatchOp

_MATCHER = re.compile(r"""^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$""", re.DOTALL)
_OPS: dict[str, MatchOp] = {"=": "=", "!=": "!=", "=~": "=~", "!~": "!~"}


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    name: str
    op: MatchOp
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        hit = re.fullmatch(f"(?:{translate(self.value)})", got) is not None
        return hit if self.op == "=~" else not hit

    def to_list(self) -> list[str]:
        return [self.name, self.op, self.value]

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matcher(text: str) -> LabelMatcher:
    m = _MATCHER.match(text)
    if m is None:
        if re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text.strip()):
            return LabelMatcher("alertname", "=", text.strip())
        raise InvalidValue(f"invalid matcher {text[:100]!r}",
                           hint='write it as amtool does: name=value, name!=value, '
                                'name=~"regex", name!~"regex"')
    name, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if op in ("=~", "!~"):
        try:
            re.compile(translate(value))
        except re.error as exc:
            raise InvalidValue(f"invalid regular expression in {text!r}: {exc}") from None
    return LabelMatcher(name, _OPS[op], value)


def matcher_tuple(row: Sequence[str]) -> tuple[str, MatchOp, str]:
    """A stored matcher (``[name, op, value]``, as a silence keeps it) as the documents give
    it; an op that is not one of amtool's four is refused (ValueError)."""
    name, op, value = row
    if op not in _OPS:
        raise ValueError(f"not a matcher's operator: {op!r}")
    return name, _OPS[op], value


def from_lists(items: list[list[str]]) -> list[LabelMatcher]:
    # an operator that is none of amtool's (a damaged row) matches as it always did: as !~
    return [LabelMatcher(str(n), _OPS.get(str(o), "!~"), str(v)) for n, o, v in items]


def all_match(matchers: list[LabelMatcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
